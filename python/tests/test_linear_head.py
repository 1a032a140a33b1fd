"""prefopt.linear_head_logps / linear_head_logps_backward (the chunked fused LM head) against
PyTorch autograd of the unfused definition: logits = hidden @ weight.T, log_softmax, gather at
the labels (already aligned with the rows; -100 ignored), gradients of sum_n g_n logp_n with
respect to hidden and weight."""

import numpy as np
import pytest
import torch

import prefopt

from conftest import integers, uniform

TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=2e-5, atol=2e-5)}


def make(seed, n=9, h=6, v=23, dtype=torch.float64, label_dtype=torch.int64):
    hidden = torch.from_numpy(uniform(seed, (n, h), -2, 2)).to(dtype)
    weight = torch.from_numpy(uniform(seed + 1, (v, h), -1, 1)).to(dtype)
    labels = torch.from_numpy(integers(seed + 2, (n,), v)).to(label_dtype)
    labels[2] = -100
    grad = torch.from_numpy(uniform(seed + 3, (n,), -1.5, 1.5)).to(dtype)
    return hidden, weight, labels, grad


def torch_reference(hidden, weight, labels, grad):
    h = hidden.double().clone().requires_grad_(True)
    w = weight.double().clone().requires_grad_(True)
    keep = labels != -100
    lp = torch.log_softmax(h @ w.t(), dim=-1).gather(-1, labels.long().clamp(min=0)[:, None]).squeeze(-1)
    lp = torch.where(keep, lp, torch.zeros_like(lp))
    (lp * grad.double()).sum().backward()
    return lp.detach(), h.grad, w.grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("label_dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("vocab_chunk", [1, 5, 23, 2048])
def test_against_autograd(dtype, label_dtype, vocab_chunk):
    hidden, weight, labels, grad = make(7, dtype=dtype, label_dtype=label_dtype)
    want_lp, want_gh, want_gw = torch_reference(hidden, weight, labels, grad)
    lp, lse = prefopt.linear_head_logps(hidden, weight, labels, vocab_chunk=vocab_chunk, token_chunk=4)
    assert lp.dtype == np.dtype(str(dtype).split(".")[1]) and lp.shape == (9,)
    torch.testing.assert_close(torch.from_numpy(lp).double(), want_lp, **TOL[dtype])
    gh = torch.full_like(hidden, float("nan"))
    gw = torch.full_like(weight, float("nan"))
    prefopt.linear_head_logps_backward(hidden, weight, labels, lse, grad, gh, gw,
                                       vocab_chunk=vocab_chunk, token_chunk=4, threads=2)
    torch.testing.assert_close(gh.double(), want_gh, **TOL[dtype])
    torch.testing.assert_close(gw.double(), want_gw, **TOL[dtype])


def test_numpy_inputs_and_errors():
    hidden, weight, labels, grad = make(11)
    lp, _ = prefopt.linear_head_logps(hidden.numpy(), weight.numpy(), labels.numpy())
    want_lp, _, _ = torch_reference(hidden, weight, labels, grad)
    np.testing.assert_allclose(lp, want_lp.numpy(), rtol=1e-12, atol=1e-12)
    bad = labels.clone()
    bad[4] = 23
    with pytest.raises(ValueError, match=r"labels\[4\] = 23: must be in \[0, weight.rows = 23\)"):
        prefopt.linear_head_logps(hidden, weight, bad)
    with pytest.raises(ValueError, match=r"weight.cols = 5: must equal hidden.cols = 6"):
        prefopt.linear_head_logps(hidden, weight[:, :5].contiguous(), labels)
    with pytest.raises(ValueError, match=r"options.vocab_chunk = 0"):
        prefopt.linear_head_logps(hidden, weight, labels, vocab_chunk=0)
    with pytest.raises(ValueError, match=r"weight: expected dtype float64"):
        prefopt.linear_head_logps(hidden, weight.float(), labels)
    lp, lse = prefopt.linear_head_logps(hidden, weight, labels)
    gh = torch.empty_like(hidden)
    with pytest.raises(ValueError, match=r"grad_weight.rows = 9: must equal weight.rows = 23"):
        prefopt.linear_head_logps_backward(hidden, weight, labels, lse, grad, gh, torch.empty_like(hidden))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_autograd_function(dtype):
    import prefopt.torch as pt

    hidden, weight, labels, grad = make(13, dtype=dtype)
    want_lp, want_gh, want_gw = torch_reference(hidden, weight, labels, grad)
    h = hidden.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    lp = pt.linear_head_logps(h, w, labels, vocab_chunk=7)
    torch.testing.assert_close(lp.double(), want_lp, **TOL[dtype])
    (lp * grad).sum().backward()
    torch.testing.assert_close(h.grad.double(), want_gh, **TOL[dtype])
    torch.testing.assert_close(w.grad.double(), want_gw, **TOL[dtype])
