#!/usr/bin/python3
"""Independent PyTorch (autograd, float64) reference for prefopt's preference losses.

Writes the fixtures the C++ tests and the loss_table CLI tests compare against:

  fixtures/<dataset>.csv            inputs, in loss_table's input format
  fixtures/<case>.expected.csv      loss,grad_chosen,grad_rejected per row (17 significant digits):
                                    the per-pair loss (AOT: per sorted position) and the gradient of
                                    the *reduced* loss w.r.t. chosen_logps / rejected_logps
  fixtures/cases.csv                one row per case: dataset, loss name, hyper-parameters,
                                    reduction, reference-free flag, reduced loss, TRL metrics
  fixtures/<case>.grad_nll.csv      grad_nll per row: d(reduced loss)/d(chosen_nll), for the cases
                                    whose dataset passes chosen_nll to a loss that reads it
  fixtures/kto_unpaired*.csv        unpaired KTO (TRL KTOTrainer on M desirable / undesirable
                                    examples): inputs (kto_unpaired.csv, kto_unpaired_kl.csv), one
                                    row per case in kto_unpaired_cases.csv (reduced loss, z0 and
                                    the per-group reward metrics) and <case>.expected.csv (weighted
                                    per-example loss, d(reduced loss)/d(policy_logps))

Regenerate (Debian's interpreter, which has python3-torch):

    /usr/bin/python3 tests/reference/losses_reference.py

The formulas follow HF TRL (DPOTrainer.dpo_loss, KTOTrainer.kto_loss, ORPOTrainer.odds_ratio_loss,
CPOTrainer.cpo_loss) and uclaml/SPPO; gradients come from torch.autograd, not from the analytic
derivatives in the C++ headers. Two deliberate deviations from TRL's literal code, both for
numerical stability only (same mathematics): sigmoid(x) is written exp(logsigmoid(x)) so that its
autograd derivative keeps full relative precision in the tails, 1 - sigmoid(x) is written
sigmoid(-x) (KTO, APO), and DiscoPOP's m * exp(-z) is written exp(logsigmoid(z / tau) - z) (TRL's
form gives inf * 0 = NaN for z << 0).
"""

import csv
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")

COLUMNS = ["chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps",
           "chosen_tokens", "rejected_tokens", "chosen_win_rate", "rejected_win_rate"]


def sig(x):
    return torch.exp(F.logsigmoid(x))


def log1mexp(a):
    # log(1 - exp(a)), a < 0 (Maechler 2012); torch.where only routes the gradient of the taken branch.
    return torch.where(a > -math.log(2.0), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


def smoothed(z, eps):
    return -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps


def losses_for(name, hp, d, cw, cl):
    """Per-pair losses (a tensor of N, or of 2N for KTO before pairing) as functions of cw, cl."""
    beta = hp.get("beta", 0.1)
    eps = hp.get("label_smoothing", 0.0)
    rw, rl = d["ref_chosen_logps"], d["ref_rejected_logps"]
    nw, nl = d["chosen_tokens"], d["rejected_tokens"]
    a, b = cw - rw, cl - rl  # chosen / rejected log-ratios
    logits = (cw - cl) - (rw - rl)
    nll = d["chosen_nll"] if "chosen_nll" in d else -cw / nw
    if name == "sigmoid":
        return smoothed(beta * logits, eps)
    if name == "robust":
        return (-F.logsigmoid(beta * logits) * (1 - eps) + F.logsigmoid(-beta * logits) * eps) / (1 - 2 * eps)
    if name == "hinge":
        return torch.relu(1 - beta * logits)
    if name == "ipo":
        return (a / nw - b / nl - 1 / (2 * beta)) ** 2
    if name == "exo_pair":
        eps = hp.get("label_smoothing", 1e-3)
        z = beta * logits
        return sig(z) * (F.logsigmoid(z) - math.log(1 - eps)) + sig(-z) * (F.logsigmoid(-z) - math.log(eps))
    if name == "nca_pair":
        return -F.logsigmoid(beta * a) - 0.5 * F.logsigmoid(-beta * a) - 0.5 * F.logsigmoid(-beta * b)
    if name == "bco_pair":
        # TRL: delta = RunningMoments mean of the batch-mean reward; a fresh state after one update
        # holds that batch mean (TRL starts count at 1e-24, i.e. identical in float64).
        delta = torch.cat((beta * a, beta * b)).mean().detach()
        return -F.logsigmoid(beta * a - delta) - F.logsigmoid(-(beta * b - delta))
    if name == "sppo_hard":
        return (a - 0.5 / beta) ** 2 + (b + 0.5 / beta) ** 2
    if name == "sppo":
        beta = hp.get("beta", 0.001)
        pw, pl = d["chosen_win_rate"], d["rejected_win_rate"]
        return ((a - (pw - 0.5) / beta) ** 2 + (b - (pl - 0.5) / beta) ** 2) / 2
    if name == "sppo_single":  # uclaml/SPPO trainer.py: both ratios regressed onto chosen_probs
        beta = hp.get("beta", 0.001)
        p = d["chosen_win_rate"]
        return ((a - (p - 0.5) / beta) ** 2 + (b + (p - 0.5) / beta) ** 2) / 2
    if name == "aot":  # TRL "aot"
        u, _ = torch.sort(cw - cl, stable=True)
        v, _ = torch.sort(rw - rl, stable=True)
        return smoothed(beta * (u - v), eps)
    if name == "aot_unpaired":  # TRL "aot_pair"
        u, _ = torch.sort(a, stable=True)
        v, _ = torch.sort(b, stable=True)
        return smoothed(beta * (u - v), eps)
    if name == "apo_zero":
        return sig(-beta * a) + sig(beta * b)  # TRL: (1 - sigmoid(beta a)) + sigmoid(beta b)
    if name == "apo_down":
        return sig(beta * a) + sig(-beta * (a - b))  # TRL: ... + (1 - sigmoid(beta (a - b)))
    if name == "discopop":
        tau = hp.get("tau", 0.05)
        z = beta * logits
        m = sig(z / tau)
        return -F.logsigmoid(z) * (1 - m) + torch.exp(F.logsigmoid(z / tau) - z)
    if name == "kto":
        kl = (d["kl_policy_logps"] - d["kl_ref_logps"]).mean().clamp(min=0).detach()
        wd, wu = hp.get("desirable_weight", 1.0), hp.get("undesirable_weight", 1.0)
        chosen = sig(-beta * (a - kl))  # TRL: 1 - sigmoid(...), the same value without cancellation
        rejected = sig(-beta * (kl - b))
        return torch.cat((wd * chosen, wu * rejected))  # TRL's concatenation, 2N examples
    if name == "orpo":
        lam = hp.get("lambda", 0.1)
        mw, ml = cw / nw, cl / nl
        log_odds = (mw - ml) - (log1mexp(mw) - log1mexp(ml))
        return nll - lam * F.logsigmoid(log_odds)
    if name == "simpo":
        beta, gamma = hp.get("beta", 2.0), hp.get("gamma", 0.5)
        pi = cw / nw - cl / nl
        return smoothed(beta * (pi - gamma / beta), eps)  # TRL CPOTrainer: logits = pi - gamma / beta
    if name == "cpo":
        return smoothed(beta * (cw - cl), eps) + hp.get("alpha", 1.0) * nll
    if name == "longpo":
        beta, lam = hp.get("beta", 0.01), hp.get("lambda", 0.01)
        return nll - lam * F.logsigmoid(beta * logits)
    if name == "rpo":
        return smoothed(beta * logits, eps) + hp.get("alpha", 1.0) * nll
    if name == "sft":
        return nll
    raise ValueError(name)


def reward_beta(name, hp):
    if name in ("sppo", "sppo_single"):
        return hp.get("beta", 0.001)
    if name == "simpo":
        return hp.get("beta", 2.0)
    if name == "orpo":
        return hp.get("lambda", 0.1)
    if name == "longpo":
        return hp.get("beta", 0.01)
    if name == "sft":
        return 1.0
    return hp.get("beta", 0.1)


REFERENCE_FREE_BY_DESIGN = {"orpo", "simpo", "cpo", "sft"}
NLL_LOSSES = {"orpo", "cpo", "longpo", "rpo", "sft"}  # the losses that read chosen_nll


def evaluate(name, hp, data, reduction, reference_free):
    d = {k: torch.tensor(v) for k, v in data.items()}
    if reference_free or name in REFERENCE_FREE_BY_DESIGN:
        d["ref_chosen_logps"] = torch.zeros_like(d["chosen_logps"])
        d["ref_rejected_logps"] = torch.zeros_like(d["chosen_logps"])
    cw = d["chosen_logps"].clone().requires_grad_(True)
    cl = d["rejected_logps"].clone().requires_grad_(True)
    has_nll = "chosen_nll" in d
    if has_nll:
        d["chosen_nll"] = d["chosen_nll"].clone().requires_grad_(True)
    per = losses_for(name, hp, d, cw, cl)
    n = cw.shape[0]
    if name == "kto":
        reduced = per.mean() if reduction == "mean" else per.sum() / 2
        per = (per[:n] + per[n:]) / 2  # prefopt's per-pair value
    else:
        reduced = per.mean() if reduction == "mean" else per.sum()
    wrt = (cw, cl, d["chosen_nll"]) if has_nll else (cw, cl)
    grads = torch.autograd.grad(reduced, wrt, allow_unused=True)
    gc, gr = grads[0], grads[1]
    gc = torch.zeros(n) if gc is None else gc
    gr = torch.zeros(n) if gr is None else gr
    gn = None
    if has_nll:
        gn = torch.zeros(n) if grads[2] is None else grads[2]
    beta = reward_beta(name, hp)
    with torch.no_grad():
        a = d["chosen_logps"] - d["ref_chosen_logps"]
        b = d["rejected_logps"] - d["ref_rejected_logps"]
        metrics = [(beta * a).mean(), (beta * b).mean(), (beta * (a - b)).mean(),
                   (a > b).double().mean(), d["chosen_logps"].mean(), d["rejected_logps"].mean()]
    return per.detach(), gc, gr, reduced.detach(), [m.item() for m in metrics], gn


def random_dataset(n, seed, with_nll=False, with_kl=True):
    g = torch.Generator().manual_seed(seed)
    u = lambda lo, hi: (lo + (hi - lo) * torch.rand(n, generator=g)).tolist()
    nw = torch.randint(1, 64, (n,), generator=g).double()
    nl = torch.randint(1, 64, (n,), generator=g).double()
    cw = (-nw * (0.2 + 2.0 * torch.rand(n, generator=g))).tolist()
    cl = (-nl * (0.2 + 2.0 * torch.rand(n, generator=g))).tolist()
    data = {
        "chosen_logps": cw, "rejected_logps": cl,
        "ref_chosen_logps": [x + 3.0 * e for x, e in zip(cw, u(-1, 1))],
        "ref_rejected_logps": [x + 3.0 * e for x, e in zip(cl, u(-1, 1))],
        "chosen_tokens": nw.tolist(), "rejected_tokens": nl.tolist(),
        "chosen_win_rate": u(0, 1), "rejected_win_rate": u(0, 1),
    }
    if with_nll:
        data["chosen_nll"] = u(0.1, 3.0)
    if with_kl:
        data["kl_policy_logps"] = u(-80, -5)
        data["kl_ref_logps"] = [x + e for x, e in zip(data["kl_policy_logps"], u(-1, 3))]
    return data


def extreme_dataset():
    # |log-probs| up to 1e4, margins of both signs up to 1e4, exact ties, tiny |log-probs|.
    rows = [
        (-1e4, -1.0, -1.0, -1e4, 500, 3, 1.0, 0.0),
        (-1.0, -1e4, -1e4, -1.0, 3, 500, 0.0, 1.0),
        (-5e3, -5e3, -5e3, -5e3, 100, 100, 0.5, 0.5),
        (-1e-3, -2e-3, -1.5e-3, -1e-3, 1, 1, 0.9, 0.1),
        (-9999.5, -9999.0, -1.0, -2.0, 4096, 4096, 0.25, 0.75),
        (-2.0, -7.5e3, -3.0, -3.0, 2, 1000, 1.0, 1.0),
        (-7.5e3, -2.0, -3.0, -3.0, 1000, 2, 0.0, 0.0),
        (-300.0, -310.0, -305.0, -305.0, 60, 60, 0.6, 0.4),
        (-20.0, -20.0, -20.0, -20.0, 10, 10, 0.5, 0.5),
        (-1e4, -1e4, -1.0, -1.0, 1, 1, 0.3, 0.3),
    ]
    data = {c: [float(r[i]) for r in rows] for i, c in enumerate(COLUMNS)}
    data["kl_policy_logps"] = [-1e4, -1.0, -50.0, -3e3, -2.0, -7.0, -8.0, -9.0, -10.0, -11.0]
    data["kl_ref_logps"] = [-9e3, -2.0, -60.0, -3e3, -1.0, -5.0, -8.5, -9.5, -1.0, -12.0]
    return data


CASES = [
    # (case, dataset, loss, hyper-parameters, reduction, reference_free)
    ("sigmoid", "random", "sigmoid", {}, "mean", False),
    ("sigmoid_smoothed", "random", "sigmoid", {"beta": 0.5, "label_smoothing": 0.2}, "mean", False),
    ("sigmoid_sum", "random", "sigmoid", {"beta": 0.2}, "sum", False),
    ("sigmoid_reference_free", "random", "sigmoid", {}, "mean", True),
    ("robust", "random", "robust", {"beta": 0.3, "label_smoothing": 0.1}, "mean", False),
    ("hinge", "random", "hinge", {"beta": 0.5}, "mean", False),
    ("ipo", "random", "ipo", {"beta": 0.5}, "mean", False),
    ("ipo_reference_free", "random", "ipo", {}, "mean", True),
    ("exo_pair", "random", "exo_pair", {"beta": 0.3, "label_smoothing": 0.05}, "mean", False),
    ("nca_pair", "random", "nca_pair", {"beta": 0.2}, "mean", False),
    ("bco_pair", "random", "bco_pair", {"beta": 0.2}, "mean", False),
    ("sppo_hard", "random", "sppo_hard", {"beta": 0.5}, "mean", False),
    ("sppo", "random", "sppo", {}, "mean", False),
    ("sppo_single", "random", "sppo_single", {"beta": 0.5}, "mean", False),
    ("aot", "random", "aot", {"beta": 0.3, "label_smoothing": 0.1}, "mean", False),
    ("aot_unpaired", "random", "aot_unpaired", {"beta": 0.3}, "mean", False),
    ("apo_zero", "random", "apo_zero", {"beta": 0.3}, "mean", False),
    ("apo_down", "random", "apo_down", {"beta": 0.3}, "mean", False),
    ("discopop", "random", "discopop", {"beta": 0.2}, "mean", False),
    ("kto", "random", "kto", {"beta": 0.2}, "mean", False),
    ("kto_weighted_sum", "random", "kto", {"beta": 0.2, "desirable_weight": 1.5,
                                           "undesirable_weight": 0.75}, "sum", False),
    ("orpo", "random", "orpo", {"lambda": 0.5}, "mean", False),
    ("simpo", "random", "simpo", {}, "mean", False),
    ("cpo", "random", "cpo", {"beta": 0.1, "alpha": 0.5}, "mean", False),
    ("cpo_given_nll", "random_nll", "cpo", {"beta": 0.1, "alpha": 0.5}, "mean", False),
    ("longpo", "random", "longpo", {}, "mean", False),
    ("rpo", "random", "rpo", {"beta": 0.1, "alpha": 0.7}, "mean", False),
    ("sft", "random", "sft", {}, "mean", False),
    # d/d chosen_nll of every loss that reads a given NLL.
    ("rpo_given_nll", "random_nll", "rpo", {"beta": 0.1, "alpha": 0.7}, "mean", False),
    ("orpo_given_nll", "random_nll", "orpo", {"lambda": 0.5}, "mean", False),
    ("longpo_given_nll", "random_nll", "longpo", {}, "mean", False),
    ("sft_given_nll", "random_nll", "sft", {}, "sum", False),
]
# Sum reductions (gradients N times the mean's) of losses of every shape: margin-only, per-side,
# length-normalised, batch-coupled (bco_pair's running mean, aot's sorting) and NLL-carrying.
SUM_CASES = ["robust", "hinge", "ipo", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "sppo",
             "sppo_single", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "orpo",
             "simpo", "cpo", "longpo", "rpo", "sft"]
CASES += [(f"{n}_sum", "random", n, {"label_smoothing": 0.1} if n == "robust" else {}, "sum", False)
          for n in SUM_CASES]
EXTREME = ["sigmoid", "robust", "hinge", "ipo", "exo_pair", "nca_pair", "bco_pair", "sppo_hard",
           "sppo", "sppo_single", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "kto", "orpo",
           "simpo", "cpo", "longpo", "rpo", "sft"]
CASES += [(f"{n}_extreme", "extreme", n, {"label_smoothing": 0.1} if n == "robust" else {},
           "mean", False) for n in EXTREME]

HP_COLUMNS = ["beta", "label_smoothing", "gamma", "alpha", "lambda", "tau", "desirable_weight",
              "undesirable_weight"]
METRICS = ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
           "logps/chosen", "logps/rejected"]


def kto_unpaired_dataset(m, k, seed):
    g = torch.Generator().manual_seed(seed)
    u = lambda n, lo, hi: (lo + (hi - lo) * torch.rand(n, generator=g)).tolist()
    policy = u(m, -120, -5)
    data = {"policy_logps": policy,
            "ref_logps": [x + e for x, e in zip(policy, u(m, -4, 4))],
            "desirable": [int(x < 0.4) for x in torch.rand(m, generator=g).tolist()]}
    kl = {"kl_policy_logps": u(k, -80, -5)}
    kl["kl_ref_logps"] = [x + e for x, e in zip(kl["kl_policy_logps"], u(k, -3, 1))]  # z0 > 0
    return data, kl


KTO_UNPAIRED_CASES = [
    # (case, beta, desirable_weight, undesirable_weight, reduction)
    ("kto_unpaired", 0.2, 1.0, 1.0, "mean"),
    ("kto_unpaired_weighted_sum", 0.1, 1.5, 0.75, "sum"),
]


def kto_unpaired(data, kl, beta, wd, wu, reduction):
    """TRL KTOTrainer.kto_loss on M examples: z0 = clamp(mean(kl_pol - kl_ref), 0), detached;
    desirable: wd (1 - sigmoid(beta (r - z0))), undesirable: wu (1 - sigmoid(beta (z0 - r)));
    loss = mean (or sum) over the concatenation; rewards = beta r, averaged per group."""
    pol = torch.tensor(data["policy_logps"]).requires_grad_(True)
    ref = torch.tensor(data["ref_logps"])
    des = torch.tensor(data["desirable"]).bool()
    z0 = (torch.tensor(kl["kl_policy_logps"]) - torch.tensor(kl["kl_ref_logps"])).mean().clamp(min=0)
    r = pol - ref
    per = torch.where(des, wd * sig(-beta * (r - z0)), wu * sig(-beta * (z0 - r)))
    reduced = per.mean() if reduction == "mean" else per.sum()
    (grad,) = torch.autograd.grad(reduced, (pol,))
    with torch.no_grad():
        rc = (beta * r[des]).mean().item() if des.any() else 0.0
        rr = (beta * r[~des]).mean().item() if (~des).any() else 0.0
    return per.detach(), grad, reduced.item(), z0.item(), rc, rr, int(des.sum().item())


def write_columns(path, data):
    cols = list(data.keys())
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for i in range(len(data[cols[0]])):
            w.writerow([fmt(data[c][i]) if isinstance(data[c][i], float) else data[c][i] for c in cols])


def fmt(x):
    return repr(float(x)) if math.isfinite(x) else str(x)


def g17(x):
    return "%.17g" % x


def main():
    os.makedirs(OUT, exist_ok=True)
    datasets = {"random": random_dataset(16, 20241126),
                "random_nll": random_dataset(16, 7, with_nll=True),
                "extreme": extreme_dataset()}
    for name, data in datasets.items():
        cols = list(data.keys())
        with open(os.path.join(OUT, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for i in range(len(data[cols[0]])):
                w.writerow([fmt(data[c][i]) for c in cols])
    with open(os.path.join(OUT, "cases.csv"), "w", newline="") as index:
        iw = csv.writer(index, lineterminator="\n")
        iw.writerow(["case", "dataset", "loss"] + HP_COLUMNS +
                    ["reduction", "reference_free", "loss_reduced"] + METRICS)
        for case, dataset, loss, hp, reduction, ref_free in CASES:
            per, gc, gr, reduced, metrics, gn = evaluate(loss, hp, datasets[dataset], reduction, ref_free)
            for t in (per, gc, gr):
                assert torch.isfinite(t).all(), (case, t)
            if gn is not None and loss in NLL_LOSSES:
                with open(os.path.join(OUT, f"{case}.grad_nll.csv"), "w", newline="") as f:
                    w = csv.writer(f, lineterminator="\n")
                    w.writerow(["grad_nll"])
                    for i in range(gn.shape[0]):
                        w.writerow([g17(gn[i].item())])
            with open(os.path.join(OUT, f"{case}.expected.csv"), "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["loss", "grad_chosen", "grad_rejected"])
                for i in range(per.shape[0]):
                    w.writerow([g17(per[i].item()), g17(gc[i].item()), g17(gr[i].item())])
            iw.writerow([case, dataset, loss] + [g17(hp[c]) if c in hp else "" for c in HP_COLUMNS] +
                        [reduction, int(ref_free), g17(reduced.item())] + [g17(m) for m in metrics])
    data, kl = kto_unpaired_dataset(20, 7, 99)
    write_columns(os.path.join(OUT, "kto_unpaired.csv"), data)
    write_columns(os.path.join(OUT, "kto_unpaired_kl.csv"), kl)
    with open(os.path.join(OUT, "kto_unpaired_cases.csv"), "w", newline="") as index:
        iw = csv.writer(index, lineterminator="\n")
        iw.writerow(["case", "beta", "desirable_weight", "undesirable_weight", "reduction",
                     "loss_reduced", "kl_baseline", "rewards_chosen", "rewards_rejected",
                     "desirable_count"])
        for case, beta, wd, wu, reduction in KTO_UNPAIRED_CASES:
            per, grad, reduced, z0, rc, rr, nd = kto_unpaired(data, kl, beta, wd, wu, reduction)
            with open(os.path.join(OUT, f"{case}.expected.csv"), "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["loss", "grad"])
                for i in range(per.shape[0]):
                    w.writerow([g17(per[i].item()), g17(grad[i].item())])
            iw.writerow([case, g17(beta), g17(wd), g17(wu), reduction, g17(reduced), g17(z0),
                         g17(rc), g17(rr), nd])
    print(f"wrote {len(CASES)} cases and {len(KTO_UNPAIRED_CASES)} unpaired KTO cases to {OUT}")


if __name__ == "__main__":
    main()
