"""prefopt from Python: preference losses, sequence log-probs, Bradley-Terry ratings, Nash.

Arrays are NumPy arrays or PyTorch CPU tensors (anything speaking DLPack); they are read in place,
never copied. Results are NumPy arrays. ``prefopt.torch`` adds autograd functions on top.
See docs/python.md.
"""

from . import _prefopt
from ._prefopt import (
    SequenceLogpsState,
    bradley_terry,
    bradley_terry_counts,
    hyper_parameter_names,
    linear_head_logps,
    linear_head_logps_backward,
    loss_names,
    nash,
)

__all__ = [
    "sequence_logps",
    "sequence_logps_forward",
    "sequence_logps_backward",
    "sequence_logps_with_grad",
    "SequenceLogpsState",
    "linear_head_logps",
    "linear_head_logps_backward",
    "preference_loss",
    "loss_names",
    "hyper_parameter_names",
    "bradley_terry",
    "bradley_terry_counts",
    "nash",
]

IGNORE_INDEX = -100

# Keyword arguments of preference_loss, by where they go.
_HYPER_PARAMETERS = {
    "label_smoothing", "gamma", "alpha", "lambda", "lambda_", "tau",
    "desirable_weight", "undesirable_weight",
}
_INPUTS = {
    "chosen_tokens", "rejected_tokens", "chosen_win_rates", "rejected_win_rates",
    "kl_policy_logps", "kl_ref_logps",
}


def _mask_bytes(mask):
    """A torch.bool mask as uint8 (same bytes, no copy): PyTorch before 2.0 cannot export bool
    tensors through DLPack."""
    if type(mask).__module__.startswith("torch") and str(getattr(mask, "dtype", "")) == "torch.bool":
        return mask.view(dtype=__import__("torch").uint8)
    return mask


def sequence_logps_forward(logits, labels, mask=None, **options):
    """``(sum, mean or None, count, state)``; ``state`` feeds sequence_logps_backward. Options:
    ignore_index, shift_labels, compute_mean (False allows sequences without counted tokens),
    threads (0 = all cores; results do not depend on it)."""
    return _prefopt.sequence_logps_forward(logits, labels, _mask_bytes(mask), **options)


def sequence_logps_backward(logits, labels, mask, state, grad_sum, grad_mean, out, threads=0):
    """Writes dL/dlogits into ``out`` (logits' shape and dtype, vocabulary axis contiguous) from
    dL/dsum [batch] and optionally dL/dmean [batch], with prefopt's fused backward."""
    _prefopt.sequence_logps_backward(logits, labels, _mask_bytes(mask), state, grad_sum,
                                     grad_mean, out, threads=threads)


def sequence_logps_with_grad(logits, labels, mask, grad_sum, grad_mean, out, *,
                             ignore_index=IGNORE_INDEX, shift_labels=True, compute_mean=True,
                             threads=0):
    """``(sum, mean or None, count)`` and dL/dlogits written into ``out`` in one pass over the
    logits, for upstream gradients known before the forward (an SFT / NLL term, fixed weights):
    dL/dsum = ``grad_sum`` [batch], dL/dmean = ``grad_mean`` [batch] or None. Reads each logit once
    instead of twice (sequence_logps_forward + sequence_logps_backward)."""
    return _prefopt.sequence_logps_with_grad(
        logits, labels, _mask_bytes(mask), grad_sum, grad_mean, out, ignore_index=ignore_index,
        shift_labels=shift_labels, compute_mean=compute_mean, threads=threads)


def sequence_logps(logits, labels, mask=None, *, ignore_index=IGNORE_INDEX, shift_labels=True,
                   threads=0):
    """Per-sequence log-probabilities of ``labels`` under ``logits``: ``(sum, mean, count)``.

    logits [batch, time, vocab] float32/float64 (vocabulary axis contiguous), labels [batch, time]
    int64/int32, mask [batch, time] optional (bool/uint8/int8/int32/int64, non-zero = counted).
    As in C++ (and TRL): the logit at t predicts the label at t + 1 (``shift_labels``), labels
    equal to ``ignore_index`` (-100) and mask zeros are not counted. ``mean`` = sum / count needs
    every sequence to count at least one token.
    """
    total, mean, count, _ = _prefopt.sequence_logps_forward(
        logits, labels, _mask_bytes(mask), ignore_index=ignore_index, shift_labels=shift_labels,
        compute_mean=True, threads=threads)
    return total, mean, count


class _DefaultBeta(float):
    """TRL's default beta (DPOConfig.beta = 0.1), told apart from a beta the caller passed."""

    def __repr__(self):
        return "0.1"


TRL_BETA = _DefaultBeta(0.1)


def _beta_for(loss_type, beta, hyper):
    """The beta to hand to the registry: an explicit one as given (the registry rejects it for a
    loss without beta); the default only where some loss of the list takes a beta (not sft, and
    not orpo when its lambda is given: ORPO calls lambda beta)."""
    if beta is None:
        return None
    if not isinstance(beta, _DefaultBeta):
        return float(beta)
    for name in loss_type.split(","):
        if name == "orpo" and "lambda" in hyper:
            continue
        if "beta" in hyper_parameter_names(name).split():
            return float(beta)
    return None


def preference_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps=None,
                    ref_rejected_logps=None, loss_type="sigmoid", beta=TRL_BETA, reduction="mean",
                    **hyperparameters):
    """Any preference loss by its TRL ``loss_type`` name: ``(loss, grad_chosen, grad_rejected, metrics)``.

    The log-probs are 1-D float32/float64 arrays of per-sequence sums (all of one dtype).
    ``grad_chosen`` / ``grad_rejected`` are d loss / d policy log-probs; ``metrics`` holds TRL's
    names (``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``, ``rewards/accuracies``,
    ``logps/chosen``, ``logps/rejected``).

    ``beta`` defaults to 0.1 (TRL's ``DPOConfig.beta``) for every loss that has a beta and is
    not passed to those that have none (sft); ``beta=None`` takes prefopt's own per-loss default
    instead (0.1, but sppo 0.001, simpo 2.0, longpo 0.01). Keyword arguments:

    * hyper-parameters: label_smoothing, gamma, alpha, lambda (or lambda_), tau,
      desirable_weight, undesirable_weight -- each must belong to the chosen loss;
    * per-pair inputs: chosen_win_rates, rejected_win_rates (sppo), chosen_tokens,
      rejected_tokens (ipo, orpo, simpo, ...), kl_policy_logps, kl_ref_logps (kto);
    * loss_weights: with a comma-separated loss_type ("sigmoid,sft"), one weight per loss;
    * reference_free: treat the reference log-probs as 0; kl_baseline: KTO's z0.
    """
    loss_weights = [float(w) for w in hyperparameters.pop("loss_weights", None) or []]
    reference_free = bool(hyperparameters.pop("reference_free", False))
    kl_baseline = hyperparameters.pop("kl_baseline", None)
    hyper, inputs = {}, {}
    for name, value in hyperparameters.items():
        if name in _HYPER_PARAMETERS:
            if value is not None:
                hyper["lambda" if name == "lambda_" else name] = float(value)
        elif name in _INPUTS:
            if value is not None:
                inputs[name] = value
        else:
            raise TypeError(f"preference_loss() got an unexpected keyword argument '{name}'")
    if not isinstance(loss_type, str):
        loss_type = ",".join(loss_type)
    beta = _beta_for(loss_type, beta, hyper)
    if beta is not None:
        hyper["beta"] = beta
    return _prefopt._preference_loss(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
        loss_type, loss_weights, hyper, inputs, reduction, reference_free,
        None if kl_baseline is None else float(kl_baseline))
