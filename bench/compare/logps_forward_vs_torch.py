#!/usr/bin/python3
"""Sequence log-probs forward: prefopt (Eigen backend, fused kernel) versus torch log_softmax +
gather, same logits, same threads, one run. Defaults: 4 sequences x 513 positions (N = 2048
predicted tokens), V = 32000, float32. Prints the bandwidth probe and
case,prefopt_s,peer_s,ratio,max_abs_diff (compare_common.py); '#' lines give G logits/s and the
fraction of the measured read bandwidth.

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/logps_forward_vs_torch.py [--threads 2] [--portable]
"""

import os

import numpy as np
import torch

import compare_common as cc


def main():
    p = cc.parser(__doc__)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--time", type=int, default=513)
    p.add_argument("--vocab", type=int, default=32000)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    B, T, V = args.batch, args.time, args.vocab
    g = torch.Generator().manual_seed(1)
    logits = 2 * torch.randn(B, T, V, generator=g)
    labels = torch.randint(0, V, (B, T), generator=g)
    gbs = cc.bandwidth(args.driver, args.threads)
    cc.header()

    def peer():
        return torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, labels[:, 1:, None]).squeeze(-1)

    want = peer()
    peer_s = cc.best_of(args.repeats, lambda: peer().sum(-1))
    n_logits = B * (T - 1) * V
    with cc.workdir() as d:
        logits.numpy().tofile(os.path.join(d, "logits.f32"))
        labels.numpy().astype(np.int64).tofile(os.path.join(d, "labels.i64"))
        for name, driver, isa in cc.variants(args):
            r = cc.run_driver(driver, ["logps_fwd", d, B, T, V, args.threads, args.repeats], isa)
            got = np.fromfile(os.path.join(d, "out_token_logps.f32"), dtype=np.float32)
            diff = float(np.max(np.abs(got - want.numpy().reshape(-1))))
            s = float(r["prefopt_s"])
            cc.row(f"logps_forward_{name}", s, peer_s, diff)
            print(f"# logps_forward_{name}: isa={r['isa']} {n_logits / s / 1e9:.2f} G logits/s, "
                  f"{n_logits * 4 / s / 1e9 / gbs:.0%} of the read bandwidth; torch "
                  f"{n_logits / peer_s / 1e9:.2f} G logits/s", flush=True)


if __name__ == "__main__":
    main()
