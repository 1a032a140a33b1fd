#!/usr/bin/python3
"""prefopt's batch preference losses versus PyTorch on the same machine, same run, same sizes.

For 2^20 pairs, times (a) prefopt_bench_losses' batch_sigmoid_* / batch_kto_* (full call: validation,
per-pair values, gradients w.r.t. the policy log-probs, reduction, metrics) and (b) the equivalent
PyTorch float32/float64 CPU code (TRL's formulas, forward + autograd backward w.r.t. the two
log-prob tensors), then prints pairs/s and the ratio prefopt / torch.

    cmake --build build --target prefopt_bench_losses
    /usr/bin/python3 bench/compare/losses_vs_torch.py [--bench build/bench/losses/prefopt_bench_losses]
"""

import argparse
import json
import os
import subprocess
import time

import torch
import torch.nn.functional as F

N = 1 << 20


def torch_rate(loss_type, dtype, threads, repeats=10):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    nw = torch.floor(1 + 200 * torch.rand(N, generator=g, dtype=torch.float64))
    cw = (-nw * (0.2 + 2 * torch.rand(N, generator=g, dtype=torch.float64))).to(dtype)
    cl = (-nw * (0.2 + 2 * torch.rand(N, generator=g, dtype=torch.float64))).to(dtype)
    rw = cw + 4 * (torch.rand(N, generator=g, dtype=dtype) - 0.5)
    rl = cl + 4 * (torch.rand(N, generator=g, dtype=dtype) - 0.5)
    kp = -50 * torch.rand(N, generator=g, dtype=dtype)
    kr = kp - torch.rand(N, generator=g, dtype=dtype)
    beta = 0.1

    def step():
        a = cw.clone().requires_grad_(True)
        b = cl.clone().requires_grad_(True)
        if loss_type == "sigmoid":
            losses = -F.logsigmoid(beta * ((a - b) - (rw - rl)))
            chosen_rewards, rejected_rewards = beta * (a - rw).detach(), beta * (b - rl).detach()
            metrics = [chosen_rewards.mean(), rejected_rewards.mean(),
                       (chosen_rewards > rejected_rewards).float().mean(), a.detach().mean()]
        else:  # kto, paired: chosen desirable, rejected undesirable
            kl = (kp - kr).mean().clamp(min=0).detach()
            losses = torch.cat((1 - torch.sigmoid(beta * ((a - rw) - kl)),
                                1 - torch.sigmoid(beta * (kl - (b - rl)))))
            metrics = [(beta * (a - rw)).detach().mean()]
        loss = losses.mean()
        loss.backward()
        return loss.item(), [m.item() for m in metrics], a.grad, b.grad

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return N * repeats / (time.perf_counter() - start)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", default=os.path.join(here, "..", "..", "build", "bench", "losses",
                                                        "prefopt_bench_losses"))
    args = parser.parse_args()
    out = subprocess.run([args.bench, "--benchmark_filter=batch_(sigmoid|kto)",
                          "--benchmark_format=json"], capture_output=True, text=True, check=True)
    ours = {b["name"].split("/")[0]: b["items_per_second"] for b in json.loads(out.stdout)["benchmarks"]}
    print(f"{'loss':8s} {'dtype':8s} {'prefopt pairs/s':>16s} {'torch 1 thr':>14s} {'torch all thr':>14s}"
          f" {'ratio(1 thr)':>13s}")
    for loss in ("sigmoid", "kto"):
        for name, dtype in (("float", torch.float32), ("double", torch.float64)):
            p = ours[f"batch_{loss}_{name}"]
            t1 = torch_rate(loss, dtype, 1)
            tn = torch_rate(loss, dtype, os.cpu_count() or 1)
            print(f"{loss:8s} {name:8s} {p:16.3e} {t1:14.3e} {tn:14.3e} {p / t1:13.2f}")


if __name__ == "__main__":
    main()
