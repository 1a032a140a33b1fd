"""prefopt.sequence_logps and prefopt.torch.sequence_logps against PyTorch autograd of the
textbook definition: logp[b, t] = log_softmax(logits[b, t])[labels[b, t + 1]], summed over the
positions whose label is not -100 and whose mask is non-zero."""

import numpy as np
import pytest
import torch

import prefopt
import prefopt.torch as pt

from conftest import integers, uniform

TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=2e-5, atol=2e-5)}


def make_batch(seed, batch=3, time=7, vocab=11, dtype=torch.float64):
    logits = torch.from_numpy(uniform(seed, (batch, time, vocab), -4, 4)).to(dtype)
    labels = torch.from_numpy(integers(seed + 1, (batch, time), vocab))
    labels[0, 0] = -100          # prompt token: never read (the first label is never predicted)
    labels[0, 3] = -100          # ignored inside the completion
    labels[1, 5:] = -100         # right padding
    mask = torch.from_numpy(uniform(seed + 2, (batch, time)) > 0.25)
    mask[:, 1] = True            # every sequence keeps at least one counted token
    labels[:, 1].clamp_(min=0)
    return logits, labels, mask


def textbook_sum(logits, labels, mask=None, ignore_index=-100):
    """The definition, in float64 PyTorch (differentiable w.r.t. logits)."""
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    target = labels[:, 1:]
    keep = target != ignore_index
    if mask is not None:
        keep = keep & (mask[:, 1:] != 0)
    picked = lp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * keep).sum(-1), keep.sum(-1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mask_kind", [None, "bool", "int64", "uint8", "int32"])
def test_forward_matches_textbook(dtype, mask_kind):
    logits, labels, mask = make_batch(11, dtype=dtype)
    m = None if mask_kind is None else mask.to(getattr(torch, mask_kind))
    total, mean, count = prefopt.sequence_logps(logits, labels, m)
    ref, n = textbook_sum(logits, labels, None if m is None else mask)
    assert total.dtype == (np.float64 if dtype == torch.float64 else np.float32)
    np.testing.assert_allclose(total, ref.numpy(), **TOL[dtype])
    np.testing.assert_array_equal(count, n.numpy())
    np.testing.assert_allclose(mean, (ref / n).numpy(), **TOL[dtype])


def test_numpy_int32_labels_and_unshifted_layout():
    logits, labels, _ = make_batch(5)
    lab = labels.numpy().astype(np.int32)
    total, _, _ = prefopt.sequence_logps(logits.numpy(), lab)
    ref, _ = textbook_sum(logits, labels)
    np.testing.assert_allclose(total, ref.numpy(), rtol=1e-12)
    # shift_labels=False: logit t predicts label t (labels already aligned by the caller).
    aligned = torch.cat([labels[:, 1:], torch.full((labels.shape[0], 1), -100)], dim=1)
    total2, _, _ = prefopt.sequence_logps(logits, aligned, shift_labels=False)
    lp = torch.log_softmax(logits, -1)
    keep = aligned != -100
    ref2 = (lp.gather(-1, aligned.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep).sum(-1)
    np.testing.assert_allclose(total2, ref2.numpy(), rtol=1e-12)


def test_strided_logits_are_read_in_place():
    # A time slice of a larger tensor: batch stride 9 * V, not contiguous, vocabulary axis is.
    big, labels, mask = make_batch(21, time=9)
    logits = big[:, 1:8]
    assert not logits.is_contiguous()
    lab = labels[:, 1:8]
    total, _, _ = prefopt.sequence_logps(logits, lab, mask[:, 1:8])
    ref, _ = textbook_sum(logits, lab, mask[:, 1:8])
    np.testing.assert_allclose(total, ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("with_mask", [False, True])
def test_torch_gradient_matches_autograd(dtype, with_mask):
    logits, labels, mask = make_batch(31, batch=4, time=6, vocab=9, dtype=dtype)
    m = mask if with_mask else None
    weights = torch.from_numpy(uniform(99, (4,), -2, 2)).to(dtype)

    x = logits.clone().requires_grad_(True)
    out = pt.sequence_logps(x, labels, m)
    (out * weights).sum().backward()

    y = logits.double().clone().requires_grad_(True)
    ref, _ = textbook_sum(y, labels, m)
    (ref * weights.double()).sum().backward()

    assert out.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(out.detach().double(), ref.detach(), **TOL[dtype])
    np.testing.assert_allclose(x.grad.double(), y.grad, **TOL[dtype])
    # Positions that predict nothing (the last one, ignored labels) get exactly zero gradient.
    assert torch.all(x.grad[:, -1] == 0)


def test_torch_gradient_through_sum_and_gradcheck():
    logits, labels, mask = make_batch(41, batch=2, time=5, vocab=6)
    x = logits.clone().requires_grad_(True)
    pt.sequence_logps(x, labels, mask).sum().backward()   # upstream gradient is a stride-0 view
    y = logits.clone().requires_grad_(True)
    textbook_sum(y, labels, mask)[0].sum().backward()
    np.testing.assert_allclose(x.grad, y.grad, rtol=1e-12, atol=1e-14)
    # Finite differences (central, float64) of prefopt's own forward against its fused backward.
    assert torch.autograd.gradcheck(lambda t: pt.sequence_logps(t, labels, mask),
                                    (logits.clone().requires_grad_(True),), eps=1e-6, atol=1e-7)


def test_backward_into_caller_buffer_and_mean_gradient():
    logits, labels, mask = make_batch(51)
    total, mean, count, state = prefopt.sequence_logps_forward(logits, labels, mask)
    gs = uniform(3, (3,), -1, 1)
    gm = uniform(4, (3,), -1, 1)
    out = np.full(logits.shape, np.nan)
    prefopt.sequence_logps_backward(logits, labels, mask, state, gs, gm, out)
    y = logits.clone().requires_grad_(True)
    s, n = textbook_sum(y, labels, mask)
    (s * torch.from_numpy(gs) + (s / n) * torch.from_numpy(gm)).sum().backward()
    np.testing.assert_allclose(out, y.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert state.shape == tuple(logits.shape)


def test_empty_sequence_sum_is_zero_but_mean_is_rejected():
    logits, labels, _ = make_batch(61)
    labels[2] = -100
    x = logits.clone().requires_grad_(True)
    out = pt.sequence_logps(x, labels)
    assert out[2].item() == 0.0
    out.sum().backward()
    assert torch.all(x.grad[2] == 0)
    with pytest.raises(ValueError, match="sequence 2"):
        prefopt.sequence_logps(logits, labels)


@pytest.mark.parametrize("call, match", [
    (lambda l, y, m: prefopt.sequence_logps(l.int(), y), r"^logits: expected dtype float32, float64, bfloat16 or float16, got int32"),
    (lambda l, y, m: prefopt.sequence_logps(l[0], y), r"^logits: expected 3 dimensions"),
    (lambda l, y, m: prefopt.sequence_logps(l[:, :, ::2], y), r"^logits: the last axis must be contiguous"),
    (lambda l, y, m: prefopt.sequence_logps(l.numpy()[::-1], y), r"^logits: axis 0 has a negative stride"),
    (lambda l, y, m: prefopt.sequence_logps(l, y.double()), r"^labels: expected dtype int64 or int32, got float64"),
    (lambda l, y, m: prefopt.sequence_logps(l, y[:, :-1]), r"labels.cols = 6: must equal logits.time = 7"),
    (lambda l, y, m: prefopt.sequence_logps(l, y, m.double()), r"^mask: expected dtype bool"),
    (lambda l, y, m: prefopt.sequence_logps(l, y, m[:2]), r"mask.rows = 2: must equal logits.batch = 3"),
    (lambda l, y, m: prefopt.sequence_logps(l, y + 100), r"labels\[0, 1\] = 1\d\d: must be in \[0, vocab = 11\)"),
    (lambda l, y, m: prefopt.sequence_logps(l, y, threads=-1), r"^threads: must be >= 0"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, match):
    logits, labels, mask = make_batch(71)
    with pytest.raises(ValueError, match=match):
        call(logits, labels, mask)


def test_non_finite_logits_are_rejected():
    logits, labels, _ = make_batch(81)
    logits[1, 2, 4] = float("nan")
    with pytest.raises(ValueError, match=r"logits\[1, 2, :\]"):
        prefopt.sequence_logps(logits, labels)


def test_backward_rejects_mismatched_buffers_and_state():
    logits, labels, mask = make_batch(91)
    _, _, _, state = prefopt.sequence_logps_forward(logits, labels, mask)
    gs = np.ones(3)
    with pytest.raises(ValueError, match=r"^out: expected dtype float64"):
        prefopt.sequence_logps_backward(logits, labels, mask, state, gs, None,
                                        np.zeros(logits.shape, np.float32))
    with pytest.raises(ValueError, match=r"^out: shape must equal"):
        prefopt.sequence_logps_backward(logits, labels, mask, state, gs, None, np.zeros((3, 7, 10)))
    with pytest.raises(ValueError, match=r"^state: was computed for other logits"):
        prefopt.sequence_logps_backward(logits.float(), labels, mask, state, gs.astype(np.float32),
                                        None, np.zeros(logits.shape, np.float32))
    with pytest.raises(ValueError, match=r"grad_sum.size\(\) = 2"):
        prefopt.sequence_logps_backward(logits, labels, mask, state, np.ones(2), None,
                                        np.zeros(logits.shape))


def test_cuda_tensors_are_rejected_cleanly():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the CPU-only guard is exercised on GPU machines")
    logits, labels, _ = make_batch(3)
    with pytest.raises(ValueError, match=r"^logits: is a CUDA tensor"):
        prefopt.sequence_logps(logits.cuda(), labels.cuda())


def test_torch_gradient_of_a_strided_view_and_read_only_numpy_inputs():
    # logits[:, 1:8] of a longer buffer: read in place forward and backward, gradient lands in
    # the right positions of the base tensor.
    big, labels, mask = make_batch(101, time=9)
    base = big.clone().requires_grad_(True)
    pt.sequence_logps(base[:, 1:8], labels[:, 1:8], mask[:, 1:8]).sum().backward()
    ref = big.clone().requires_grad_(True)
    textbook_sum(ref[:, 1:8], labels[:, 1:8], mask[:, 1:8])[0].sum().backward()
    np.testing.assert_allclose(base.grad, ref.grad, rtol=1e-12, atol=1e-14)
    assert torch.all(base.grad[:, 0] == 0) and torch.all(base.grad[:, 8] == 0)
    # Read-only NumPy arrays are accepted as they are (no conversion, no copy).
    lg, lb = big.numpy().copy(), labels.numpy().copy()
    lg.setflags(write=False)
    lb.setflags(write=False)
    total, _, _ = prefopt.sequence_logps(lg, lb)
    np.testing.assert_allclose(total, textbook_sum(big, labels)[0].numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dpo_from_logits_end_to_end_matches_autograd(dtype):
    # logits -> pt.sequence_logps -> pt.preference_loss (DPO) -> dL/dlogits, against one autograd
    # graph of the textbook formulas.
    logits, labels, mask = make_batch(111, batch=4, time=6, vocab=9, dtype=dtype)
    ref = torch.from_numpy(uniform(112, (4,), -12, -4)).to(dtype)
    x = logits.clone().requires_grad_(True)
    lp = pt.sequence_logps(x, labels, mask)
    loss, _ = pt.preference_loss(lp[:2], lp[2:], ref[:2], ref[2:], beta=0.3)
    loss.backward()
    y = logits.double().clone().requires_grad_(True)
    s, _ = textbook_sum(y, labels, mask)
    r = ref.double()
    z = 0.3 * ((s[:2] - r[:2]) - (s[2:] - r[2:]))
    expected = -torch.nn.functional.logsigmoid(z).mean()
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), **TOL[dtype])
    np.testing.assert_allclose(x.grad.double(), y.grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_16bit_logits_are_read_in_place_and_computed_in_float(dtype):
    """bfloat16 / float16 logits (docs/half_precision.md): float sums of the rounded values, and the
    gradient in the logits' dtype, the float gradient rounded once."""
    logits, labels, mask = make_batch(61, batch=4, time=6, vocab=300, dtype=torch.float32)
    low = (logits * 2).to(dtype)  # the rounded values are the inputs
    weights = torch.from_numpy(uniform(98, (4,), -2, 2)).float()

    x = low.clone().requires_grad_(True)
    out = pt.sequence_logps(x, labels, mask)
    (out * weights).sum().backward()

    y = low.double().clone().requires_grad_(True)
    ref, _ = textbook_sum(y, labels, mask)
    (ref * weights.double()).sum().backward()

    assert out.dtype == torch.float32 and x.grad.dtype == dtype
    np.testing.assert_allclose(out.detach().double(), ref.detach(), rtol=2e-5, atol=2e-5)
    unit_roundoff = 2.0 ** -8 if dtype == torch.bfloat16 else 2.0 ** -11
    err = (x.grad.double() - y.grad).abs()
    assert torch.all(err <= unit_roundoff * y.grad.abs() * 1.01 + 1e-5), float(err.max())
    assert torch.all(x.grad[:, -1] == 0)
    # The module-level API takes them too (floats out).
    total, _, count, _ = prefopt.sequence_logps_forward(low, labels, mask)
    assert total.dtype == np.float32
    np.testing.assert_allclose(total, ref.detach().numpy(), rtol=2e-5, atol=2e-5)


def test_16bit_logits_reject_mismatched_gradient_buffers_and_states():
    logits, labels, mask = make_batch(71, dtype=torch.float32)
    low = logits.to(torch.bfloat16)
    _, _, _, state = prefopt.sequence_logps_forward(low, labels, mask)
    gs = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"^out: expected dtype bfloat16"):
        prefopt.sequence_logps_backward(low, labels, mask, state, gs, None,
                                        torch.zeros(logits.shape, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"^state: was computed for other logits"):
        prefopt.sequence_logps_backward(logits, labels, mask, state, gs, None,
                                        torch.zeros(logits.shape, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"^state: was computed for other logits"):
        prefopt.sequence_logps_backward(low.to(torch.float16), labels, mask, state, gs, None,
                                        torch.zeros(logits.shape, dtype=torch.float16))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_with_grad_matches_autograd(dtype):
    """The one-pass forward + backward against autograd of L = sum_b gs_b sum_b + gm_b mean_b."""
    logits, labels, mask = make_batch(23, vocab=37, dtype=dtype)
    gs = torch.tensor([0.5, -1.25, 2.0], dtype=dtype)
    gm = torch.tensor([1.0, 0.25, -3.0], dtype=dtype)
    out = torch.full_like(logits, 99.0)
    total, mean, count = prefopt.sequence_logps_with_grad(logits, labels, mask, gs, gm, out)
    x = logits.detach().double().requires_grad_(True)
    ref, n = textbook_sum(x, labels, mask)
    (gs.double() @ ref + gm.double() @ (ref / n)).backward()
    np.testing.assert_allclose(total, ref.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(mean, (ref / n).detach().numpy(), **TOL[dtype])
    np.testing.assert_array_equal(count, n.numpy())
    np.testing.assert_allclose(out.double().numpy(), x.grad.numpy(), **TOL[dtype])
    # The same numbers as the two-call path's forward.
    total2, _, _, _ = prefopt.sequence_logps_forward(logits, labels, mask)
    np.testing.assert_array_equal(total, total2)


def test_with_grad_rejects_bad_input():
    logits, labels, mask = make_batch(3)
    out = torch.zeros_like(logits)
    with pytest.raises(ValueError, match="grad_sum"):
        prefopt.sequence_logps_with_grad(logits, labels, mask, torch.ones(2, dtype=torch.float64),
                                         None, out)
    with pytest.raises(ValueError, match="out"):
        prefopt.sequence_logps_with_grad(logits, labels, mask, torch.ones(3, dtype=torch.float64),
                                         None, torch.zeros(3, 7, 10, dtype=torch.float64))
