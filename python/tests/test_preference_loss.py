"""prefopt.preference_loss / prefopt.torch.preference_loss against PyTorch autograd of the
textbook per-pair formulas (docs/losses.md, TRL's DPOTrainer / CPOTrainer / KTOTrainer), written
here from the definitions, in float64 and float32."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import prefopt
import prefopt.torch as pt

from conftest import uniform

N = 6
logsig = F.logsigmoid


def make_pairs(seed, dtype=torch.float64):
    u = lambda k, lo, hi: torch.from_numpy(uniform(seed + k, (N,), lo, hi)).to(dtype)
    nw = torch.floor(u(0, 2, 40)).to(dtype)
    nl = torch.floor(u(1, 2, 40)).to(dtype)
    cw = -nw * u(2, 0.2, 2.0)
    cl = -nl * u(3, 0.2, 2.0)
    return dict(cw=cw, cl=cl, rw=cw + u(4, -3, 3), rl=cl + u(5, -3, 3), nw=nw, nl=nl,
                pw=u(6, 0, 1), pl=u(7, 0, 1), kp=u(8, -40, -10), kr=u(9, -40, -10))


# Textbook per-pair losses: f(l_w, l_l, d) -> [N] with d the constant inputs (float64 tensors).
def sigmoid(eps):
    def f(cw, cl, d, beta=0.1):
        z = beta * ((cw - d["rw"]) - (cl - d["rl"]))
        return -(1 - eps) * logsig(z) - eps * logsig(-z)
    return f


def robust(eps):
    def f(cw, cl, d, beta=0.1):
        z = beta * ((cw - d["rw"]) - (cl - d["rl"]))
        return (-(1 - eps) * logsig(z) + eps * logsig(-z)) / (1 - 2 * eps)
    return f


def hinge(cw, cl, d, beta=0.1):
    return torch.relu(1 - beta * ((cw - d["rw"]) - (cl - d["rl"])))


def ipo(cw, cl, d, beta=0.1):
    h = (cw - d["rw"]) / d["nw"] - (cl - d["rl"]) / d["nl"]
    return (h - 1 / (2 * beta)) ** 2


def exo_pair(cw, cl, d, beta=0.1, eps=1e-3):
    z = beta * ((cw - d["rw"]) - (cl - d["rl"]))
    s, t = torch.sigmoid(z), torch.sigmoid(-z)
    return s * (logsig(z) - math.log(1 - eps)) + t * (logsig(-z) - math.log(eps))


def nca_pair(cw, cl, d, beta=0.1):
    aw, al = beta * (cw - d["rw"]), beta * (cl - d["rl"])
    return -logsig(aw) - 0.5 * logsig(-aw) - 0.5 * logsig(-al)


def bco_pair(cw, cl, d, beta=0.1):
    aw, al = beta * (cw - d["rw"]), beta * (cl - d["rl"])
    delta = torch.cat([aw, al]).mean().detach()  # a fresh running mean: this batch's mean reward
    return -logsig(aw - delta) - logsig(-(al - delta))


def sppo_hard(cw, cl, d, beta=0.1):
    return (cw - d["rw"] - 1 / (2 * beta)) ** 2 + (cl - d["rl"] + 1 / (2 * beta)) ** 2


def sppo(cw, cl, d, beta=0.001):
    return 0.5 * ((cw - d["rw"] - (d["pw"] - 0.5) / beta) ** 2 +
                  (cl - d["rl"] - (d["pl"] - 0.5) / beta) ** 2)


def aot(cw, cl, d, beta=0.1):
    delta = torch.sort(cw - cl).values - torch.sort(d["rw"] - d["rl"]).values
    return -logsig(beta * delta)


def aot_pair(cw, cl, d, beta=0.1):
    delta = torch.sort(cw - d["rw"]).values - torch.sort(cl - d["rl"]).values
    return -logsig(beta * delta)


def apo_zero(cw, cl, d, beta=0.1):
    return 1 - torch.sigmoid(beta * (cw - d["rw"])) + torch.sigmoid(beta * (cl - d["rl"]))


def apo_down(cw, cl, d, beta=0.1):
    aw, al = beta * (cw - d["rw"]), beta * (cl - d["rl"])
    return torch.sigmoid(aw) + 1 - torch.sigmoid(aw - al)


def discopop(cw, cl, d, beta=0.1, tau=0.05):
    z = beta * ((cw - d["rw"]) - (cl - d["rl"]))
    m = torch.sigmoid(z / tau)
    return (1 - m) * (-logsig(z)) + m * torch.exp(-z)


def kto(cw, cl, d, beta=0.1):
    z0 = torch.clamp((d["kp"] - d["kr"]).mean(), min=0).detach()
    return 0.5 * ((1 - torch.sigmoid(beta * (cw - d["rw"] - z0))) +
                  (1 - torch.sigmoid(beta * (z0 - (cl - d["rl"])))))


def orpo(cw, cl, d, lam=0.1):
    mw, ml = cw / d["nw"], cl / d["nl"]
    log_odds = (mw - torch.log1p(-torch.exp(mw))) - (ml - torch.log1p(-torch.exp(ml)))
    return -mw - lam * logsig(log_odds)


def simpo(cw, cl, d, beta=2.0, gamma=0.5):
    return -logsig(beta * (cw / d["nw"] - cl / d["nl"]) - gamma)


def cpo(cw, cl, d, beta=0.1, alpha=1.0):
    return -logsig(beta * (cw - cl)) + alpha * (-cw / d["nw"])


def rpo(cw, cl, d, beta=0.1, alpha=1.0):
    return sigmoid(0.0)(cw, cl, d, beta) + alpha * (-cw / d["nw"])


def longpo(cw, cl, d, beta=0.01, lam=0.01):
    return -cw / d["nw"] + lam * sigmoid(0.0)(cw, cl, d, beta)


def sft(cw, cl, d):
    return -cw / d["nw"]


# (loss_type, keyword arguments, textbook formula)
CASES = [
    ("sigmoid", {}, sigmoid(0.0)),
    ("sigmoid", dict(beta=0.3, label_smoothing=0.2), lambda *a: sigmoid(0.2)(*a, beta=0.3)),
    ("dpo", dict(beta=0.3, label_smoothing=0.2), lambda *a: sigmoid(0.2)(*a, beta=0.3)),  # alias
    ("robust", dict(label_smoothing=0.1), robust(0.1)),
    ("hinge", {}, hinge),
    ("ipo", dict(beta=0.5), lambda *a: ipo(*a, beta=0.5)),
    ("exo_pair", {}, exo_pair),
    ("nca_pair", {}, nca_pair),
    ("bco_pair", {}, bco_pair),
    ("sppo_hard", {}, sppo_hard),
    ("sppo", {}, lambda *a: sppo(*a, beta=0.1)),          # TRL's default beta = 0.1
    ("sppo", dict(beta=None), sppo),                        # prefopt's own default 0.001
    ("aot", {}, aot),
    ("aot_pair", {}, aot_pair),
    ("apo_zero", {}, apo_zero),
    ("apo_down", {}, apo_down),
    ("discopop", {}, discopop),
    ("kto", {}, kto),
    ("orpo", {}, orpo),
    ("orpo", {"lambda": 0.4}, lambda *a: orpo(*a, lam=0.4)),
    ("simpo", dict(gamma=1.0), lambda *a: simpo(*a, beta=0.1, gamma=1.0)),
    ("simpo", dict(beta=None), simpo),                      # the SimPO paper's beta = 2
    ("cpo", dict(alpha=0.5), lambda *a: cpo(*a, alpha=0.5)),
    ("rpo", {}, rpo),
    ("longpo", {}, lambda *a: longpo(*a, beta=0.1)),
    ("longpo", dict(beta=None, **{"lambda": 0.2}), lambda *a: longpo(*a, lam=0.2)),
    ("sft", {}, sft),
]


def inputs_for(loss_type, d):
    """The per-pair inputs each loss reads, as keyword arguments."""
    kw = dict(chosen_tokens=d["nw"], rejected_tokens=d["nl"])
    if loss_type == "sppo":
        kw.update(chosen_win_rates=d["pw"], rejected_win_rates=d["pl"])
    if loss_type == "kto":
        kw.update(kl_policy_logps=d["kp"], kl_ref_logps=d["kr"])
    return kw


TOL = {torch.float64: dict(rtol=1e-11, atol=1e-12), torch.float32: dict(rtol=3e-5, atol=3e-6)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_type, kwargs, formula", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_value_and_gradients_match_autograd(loss_type, kwargs, formula, reduction, dtype):
    d = make_pairs(7, dtype)
    cw = d["cw"].clone().requires_grad_(True)
    cl = d["cl"].clone().requires_grad_(True)
    loss, metrics = pt.preference_loss(cw, cl, d["rw"], d["rl"], loss_type=loss_type,
                                       reduction=reduction, **kwargs, **inputs_for(loss_type, d))
    loss.backward()

    d64 = {k: v.double() for k, v in d.items()}
    xw = d64["cw"].clone().requires_grad_(True)
    xl = d64["cl"].clone().requires_grad_(True)
    per_pair = formula(xw, xl, d64)
    ref = per_pair.mean() if reduction == "mean" else per_pair.sum()
    ref.backward()

    assert loss.dtype == dtype and loss.dim() == 0
    np.testing.assert_allclose(loss.item(), ref.item(), **TOL[dtype])
    np.testing.assert_allclose(cw.grad.double(), xw.grad, **TOL[dtype])
    ref_grad_rejected = xl.grad if xl.grad is not None else torch.zeros(N, dtype=torch.float64)
    np.testing.assert_allclose(cl.grad.double(), ref_grad_rejected, **TOL[dtype])
    assert set(metrics) == {"rewards/chosen", "rewards/rejected", "rewards/margins",
                            "rewards/accuracies", "logps/chosen", "logps/rejected"}


def test_metrics_have_trl_meaning():
    d = make_pairs(17)
    _, _, _, m = prefopt.preference_loss(d["cw"], d["cl"], d["rw"], d["rl"], beta=0.2)
    rw, rl = d["cw"] - d["rw"], d["cl"] - d["rl"]
    np.testing.assert_allclose(m["rewards/chosen"], (0.2 * rw).mean().item(), rtol=1e-12)
    np.testing.assert_allclose(m["rewards/rejected"], (0.2 * rl).mean().item(), rtol=1e-12)
    np.testing.assert_allclose(m["rewards/margins"], (0.2 * (rw - rl)).mean().item(), rtol=1e-12)
    np.testing.assert_allclose(m["rewards/accuracies"], (rw > rl).double().mean().item(), rtol=1e-15)
    np.testing.assert_allclose(m["logps/chosen"], d["cw"].mean().item(), rtol=1e-12)
    np.testing.assert_allclose(m["logps/rejected"], d["cl"].mean().item(), rtol=1e-12)


def test_numpy_in_numpy_out_and_loss_list():
    d = {k: v.numpy() for k, v in make_pairs(27).items()}
    loss, gc, gr, _ = prefopt.preference_loss(d["cw"], d["cl"], d["rw"], d["rl"],
                                              loss_type="sigmoid,sft", loss_weights=[1.0, 0.5],
                                              chosen_tokens=d["nw"])
    t = {k: torch.from_numpy(v) for k, v in d.items()}
    xw = t["cw"].clone().requires_grad_(True)
    ref = (sigmoid(0.0)(xw, t["cl"], t) + 0.5 * sft(xw, t["cl"], t)).mean()
    ref.backward()
    assert isinstance(gc, np.ndarray) and gc.dtype == np.float64
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    np.testing.assert_allclose(gc, xw.grad.numpy(), rtol=1e-12)


def test_reference_free_and_kl_baseline():
    d = make_pairs(37)
    loss, _, _, _ = prefopt.preference_loss(d["cw"], d["cl"], reference_free=True)
    zero = {"rw": torch.zeros(N), "rl": torch.zeros(N)}
    np.testing.assert_allclose(loss, sigmoid(0.0)(d["cw"], d["cl"], zero).mean().item(), rtol=1e-12)
    loss, _, _, _ = prefopt.preference_loss(d["cw"], d["cl"], d["rw"], d["rl"], loss_type="kto",
                                            kl_baseline=0.7)
    dd = dict(d, kp=torch.full((N,), 0.7), kr=torch.zeros(N))
    np.testing.assert_allclose(loss, kto(d["cw"], d["cl"], dd).mean().item(), rtol=1e-12)


def test_gradcheck_finite_differences():
    d = make_pairs(47)
    for loss_type in ["sigmoid", "ipo", "sppo", "kto", "simpo"]:
        kw = inputs_for(loss_type, d)
        f = lambda a, b: pt.preference_loss(a, b, d["rw"], d["rl"], loss_type=loss_type, **kw)[0]
        assert torch.autograd.gradcheck(f, (d["cw"].clone().requires_grad_(True),
                                            d["cl"].clone().requires_grad_(True)), eps=1e-6,
                                        atol=1e-8), loss_type


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss_type="nope"), ValueError, r'^loss = "nope": unknown loss; valid names: sigmoid, dpo, robust'),
    (dict(beta=0.0), ValueError, r"^beta = 0: must be finite and > 0"),
    (dict(loss_type="sft", beta=0.5), ValueError, r'^beta = 0.5: not a hyper-parameter of loss "sft"'),
    (dict(loss_type="orpo", beta=0.25, **{"lambda": 0.3}), ValueError, r"^beta = 0.25: orpo: give lambda or beta"),
    (dict(gamma=1.0), ValueError, r'^gamma = 1: not a hyper-parameter of loss "sigmoid"'),
    (dict(reduction="none"), ValueError, r'^reduction: must be "mean" or "sum"'),
    (dict(label_smoothing=0.5), ValueError, r"^label_smoothing = 0.5: must be in \[0, 0.5\)"),
    (dict(loss_type="sppo"), ValueError, r"^chosen_win_rates = \"empty\": required: sppo"),
    (dict(loss_type="sppo", chosen_win_rates=torch.full((N,), 1.5, dtype=torch.float64), rejected_win_rates=torch.zeros(N, dtype=torch.float64)),
     ValueError, r"^chosen_win_rates\[0\] = 1.5: win rates must be in \[0, 1\]"),
    (dict(loss_type="ipo", chosen_tokens=torch.zeros(N, dtype=torch.float64), rejected_tokens=torch.ones(N, dtype=torch.float64)),
     ValueError, r"^chosen_tokens\[0\] = 0: token counts must be finite and > 0"),
    (dict(loss_type="ipo", chosen_tokens=torch.ones(N, dtype=torch.float32)), ValueError,
     r"^chosen_tokens: expected dtype float64 \(like the other inputs\), got float32"),
    (dict(chosen_win_rates=torch.ones(N)[::2]), ValueError, r"^chosen_win_rates: .*size|^chosen_win_rates"),
    (dict(bogus=1), TypeError, r"unexpected keyword argument 'bogus'"),
])
def test_bad_inputs(kwargs, error, match):
    d = make_pairs(57)
    with pytest.raises(error, match=match):
        prefopt.preference_loss(d["cw"], d["cl"], d["rw"], d["rl"], **kwargs)


def test_bad_arrays_name_the_argument():
    d = make_pairs(67)
    with pytest.raises(ValueError, match=r"^policy_rejected_logps: expected dtype float64"):
        prefopt.preference_loss(d["cw"], d["cl"].float(), d["rw"], d["rl"])
    with pytest.raises(ValueError, match=r"^policy_chosen_logps: expected dtype float32 or float64, got int64"):
        prefopt.preference_loss(d["cw"].long(), d["cl"], d["rw"], d["rl"])
    with pytest.raises(ValueError, match=r"^ref_chosen_logps: expected 1 dimension"):
        prefopt.preference_loss(d["cw"], d["cl"], d["rw"].reshape(2, 3), d["rl"])
    with pytest.raises(ValueError, match=r"^rejected_logps.size\(\) = 5: must equal chosen_logps.size\(\) = 6"):
        prefopt.preference_loss(d["cw"], d["cl"][:5], d["rw"], d["rl"])
    with pytest.raises(ValueError, match=r"^ref_rejected_logps: the last axis must be contiguous"):
        prefopt.preference_loss(d["cw"], d["cl"], d["rw"], torch.zeros(2 * N, dtype=torch.float64)[::2])
    bad = d["cw"].clone()
    bad[2] = float("inf")
    with pytest.raises(ValueError, match=r"^chosen_logps\[2\] = inf: must be finite"):
        prefopt.preference_loss(bad, d["cl"], d["rw"], d["rl"])
