#!/usr/bin/python3
"""Sequence log-probs forward: prefopt (Eigen backend, fused kernel) versus torch log_softmax +
gather, same logits, same threads, one run. Defaults: 4 sequences x 513 positions (N = 2048
predicted tokens), V = 32000, float32. Prints the bandwidth probe and
case,prefopt_s,peer_s,ratio,max_abs_diff (compare_common.py); '#' lines give G logits/s and the
fraction of the measured read bandwidth.

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/logps_forward_vs_torch.py [--threads 2] [--portable]
"""

import torch

import compare_common as cc


def main():
    args, logits, labels, gbs = cc.logps_problem(__doc__)

    def peer():
        return torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, labels[:, 1:, None]).squeeze(-1)

    want = peer()
    peer_s = cc.best_of(args.repeats, lambda: peer().sum(-1))
    cc.logps_report("logps_forward", args, logits, labels, "logps_fwd", "out_token_logps.f32",
                    want.numpy().reshape(-1), peer_s, gbs, passes=1)


if __name__ == "__main__":
    main()
