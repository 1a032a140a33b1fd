"""prefopt as PyTorch autograd functions (CPU tensors).

``sequence_logps`` returns per-sequence summed log-probs whose gradient with respect to the logits
is prefopt's fused backward (one streaming pass over the logits, no softmax kept, written straight
into the gradient tensor); ``preference_loss`` returns a differentiable loss whose gradient with
respect to the policy log-probs is prefopt's analytic one. Neither records an autograd graph of
its own internals. See docs/python.md.
"""

import torch as _torch

from . import _prefopt
from . import IGNORE_INDEX, TRL_BETA, _mask_bytes, preference_loss as _preference_loss

__all__ = ["sequence_logps", "linear_head_logps", "preference_loss"]


def _detached(t):
    """A tensor handed to the C++ module: DLPack refuses tensors that require grad."""
    return t.detach() if isinstance(t, _torch.Tensor) else t


class _SequenceLogps(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels, mask, ignore_index, shift_labels, threads):
        total, _, _, state = _prefopt.sequence_logps_forward(
            _detached(logits), _detached(labels), _detached(mask), ignore_index=ignore_index,
            shift_labels=shift_labels, compute_mean=False, threads=threads)
        ctx.state = state
        ctx.threads = threads
        ctx.save_for_backward(logits, labels, mask)
        return _torch.from_numpy(total)

    @staticmethod
    def backward(ctx, grad_sum):
        logits, labels, mask = ctx.saved_tensors
        grad = _torch.empty(logits.shape, dtype=logits.dtype)
        # grad_sum of a .sum() is an expanded (stride-0) view; the C++ side wants a plain vector.
        _prefopt.sequence_logps_backward(
            logits.detach(), labels, mask, ctx.state, grad_sum.contiguous(), None, grad,
            threads=ctx.threads)
        return grad, None, None, None, None, None


def sequence_logps(logits, labels, mask=None, *, ignore_index=IGNORE_INDEX, shift_labels=True,
                   threads=0):
    """Per-sequence sums of the label log-probs [batch], differentiable w.r.t. ``logits``.

    Same conventions as :func:`prefopt.sequence_logps` (label shift, ignore_index = -100,
    optional completion mask). Sequences without a counted token sum to 0.
    """
    return _SequenceLogps.apply(logits, labels, _mask_bytes(mask), ignore_index, shift_labels, threads)


class _LinearHeadLogps(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, labels, options):
        h, w, y = _detached(hidden).contiguous(), _detached(weight).contiguous(), _detached(labels)
        logp, lse = _prefopt.linear_head_logps(h, w, y, **options)
        ctx.options = options
        ctx.save_for_backward(h, w, y, _torch.from_numpy(lse))
        return _torch.from_numpy(logp)

    @staticmethod
    def backward(ctx, grad_logp):
        h, w, y, lse = ctx.saved_tensors
        grad_hidden = _torch.empty_like(h)
        grad_weight = _torch.empty_like(w)
        _prefopt.linear_head_logps_backward(h, w, y, lse, grad_logp.contiguous(), grad_hidden,
                                            grad_weight, **ctx.options)
        return grad_hidden, grad_weight, None, None


def linear_head_logps(hidden, weight, labels, *, ignore_index=IGNORE_INDEX, vocab_chunk=2048,
                      token_chunk=1024, threads=0):
    """Per-token log-probs [N] through the LM head (``hidden [N, H] @ weight [V, H].T``,
    log-softmax, gather at ``labels [N]``, 0 where a label is ``ignore_index``), differentiable
    w.r.t. ``hidden`` and ``weight``, without the [N, V] logits (prefopt's chunked fused head).

    ``labels`` are already aligned with the rows: shift them yourself for a causal LM.
    """
    options = dict(ignore_index=ignore_index, vocab_chunk=vocab_chunk, token_chunk=token_chunk,
                   threads=threads)
    return _LinearHeadLogps.apply(hidden, weight, labels, options)


class _PreferenceLoss(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, chosen, rejected, call, metrics_out):
        loss, grad_chosen, grad_rejected, metrics = call(chosen.detach(), rejected.detach())
        metrics_out.update(metrics)
        ctx.save_for_backward(_torch.from_numpy(grad_chosen), _torch.from_numpy(grad_rejected))
        return _torch.tensor(loss, dtype=chosen.dtype)

    @staticmethod
    def backward(ctx, grad_loss):
        grad_chosen, grad_rejected = ctx.saved_tensors
        return grad_chosen * grad_loss, grad_rejected * grad_loss, None, None


def preference_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps=None,
                    ref_rejected_logps=None, loss_type="sigmoid", beta=TRL_BETA, reduction="mean",
                    **hyperparameters):
    """``(loss, metrics)``: the loss as a 0-d tensor differentiable w.r.t. the two policy log-prob
    tensors, and TRL's metrics as a dict of floats.

    Arguments as :func:`prefopt.preference_loss`; every other tensor (reference log-probs, win
    rates, token counts, KL log-probs) is a constant.
    """
    constants = {k: _detached(v) for k, v in hyperparameters.items()}
    ref_chosen, ref_rejected = _detached(ref_chosen_logps), _detached(ref_rejected_logps)

    def call(chosen, rejected):
        return _preference_loss(chosen, rejected, ref_chosen, ref_rejected, loss_type=loss_type,
                                beta=beta, reduction=reduction, **constants)

    metrics = {}
    loss = _PreferenceLoss.apply(policy_chosen_logps, policy_rejected_logps, call, metrics)
    return loss, metrics
