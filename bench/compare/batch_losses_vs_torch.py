#!/usr/bin/python3
"""Batch DPO (sigmoid) loss over 2^20 pairs in float32: prefopt's preference_loss (Eigen
backend: validation, per-pair values, gradients w.r.t. both policy log-prob vectors, mean, TRL
metrics) versus the same in PyTorch (TRL's formula, forward + autograd backward, the same
metrics), same data, same threads, one run. max_abs_diff is over the chosen gradients and the
loss. Prints the bandwidth probe and case,prefopt_s,peer_s,ratio,max_abs_diff
(compare_common.py).

Two prefopt rows per build: dpo_sigmoid_float_<build> calls the reusing preference_loss (one
result kept across calls, as a training loop does), dpo_sigmoid_float_alloc_<build> the
allocating form (fresh outputs, hence fresh pages to fault in, every call). The '#' lines give
the minor page faults per call of each (getrusage in the driver).

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/batch_losses_vs_torch.py [--threads 2] [--portable]
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

import compare_common as cc


def main():
    p = cc.parser(__doc__)
    p.add_argument("--pairs", type=int, default=1 << 20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    N, beta = args.pairs, 0.1
    g = torch.Generator().manual_seed(1)
    nw = torch.floor(1 + 200 * torch.rand(N, generator=g, dtype=torch.float64))
    cw = (-nw * (0.2 + 2 * torch.rand(N, generator=g, dtype=torch.float64))).float()
    cl = (-nw * (0.2 + 2 * torch.rand(N, generator=g, dtype=torch.float64))).float()
    rw = cw + 4 * (torch.rand(N, generator=g) - 0.5)
    rl = cl + 4 * (torch.rand(N, generator=g) - 0.5)
    cc.bandwidth(args.driver, args.threads)
    cc.header()

    def peer():
        a = cw.clone().requires_grad_(True)
        b = cl.clone().requires_grad_(True)
        losses = -F.logsigmoid(beta * ((a - b) - (rw - rl)))
        chosen, rejected = beta * (a - rw).detach(), beta * (b - rl).detach()
        metrics = [chosen.mean(), rejected.mean(), (chosen - rejected).mean(),
                   (chosen > rejected).float().mean(), a.detach().mean(), b.detach().mean()]
        loss = losses.mean()
        loss.backward()
        return loss.item(), [m.item() for m in metrics], a.grad

    peer_s = cc.best_of(args.repeats, peer)
    want_loss, _, want_grad = peer()
    with cc.workdir() as d:
        for name, t in (("cw", cw), ("cl", cl), ("rw", rw), ("rl", rl)):
            t.numpy().tofile(os.path.join(d, f"{name}.f32"))
        for name, driver, isa in cc.variants(args):
            for mode, case in (("dpo", f"dpo_sigmoid_float_{name}"),
                               ("dpo_alloc", f"dpo_sigmoid_float_alloc_{name}")):
                r = cc.run_driver(driver, [mode, d, N, args.threads, args.repeats], isa)
                got = np.fromfile(os.path.join(d, "out_grad_chosen.f32"), dtype=np.float32)
                loss = float(np.fromfile(os.path.join(d, "out_loss.f32"), dtype=np.float32)[0])
                diff = max(float(np.max(np.abs(got - want_grad.numpy()))), abs(loss - want_loss))
                s = float(r["prefopt_s"])
                cc.row(case, s, peer_s, diff)
                print(f"# {case}: isa={r['isa']} {N / s:.3g} pairs/s; torch {N / peer_s:.3g} pairs/s; "
                      f"{float(r.get('minflt_per_call', 'nan')):.0f} minor page faults a call", flush=True)


if __name__ == "__main__":
    main()
