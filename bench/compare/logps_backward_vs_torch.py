#!/usr/bin/python3
"""Sequence log-probs forward + backward (dL/dlogits written): prefopt (Eigen backend, fused
kernels, dL/dsum = 1; as two calls, sequence_logps + sequence_logps_backward, and as the one-pass
sequence_logps_with_grad) versus torch autograd of log_softmax + gather summed per sequence, same
logits, same threads, one run. Defaults: 4 x 513 positions (N = 2048 predicted tokens),
V = 32000, float32. max_abs_diff is over every 64th gradient row. Prints the bandwidth probe and
case,prefopt_s,peer_s,ratio,max_abs_diff (compare_common.py).

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/logps_backward_vs_torch.py [--threads 2] [--portable]
"""

import torch

import compare_common as cc


def main():
    args, logits, labels, gbs = cc.logps_problem(__doc__)
    B, T, V = logits.shape
    x = logits.clone().requires_grad_(True)

    def peer():
        x.grad = None
        lp = torch.log_softmax(x[:, :-1], dim=-1).gather(-1, labels[:, 1:, None]).squeeze(-1)
        lp.sum(-1).sum().backward()
        return x.grad

    peer_s = cc.best_of(args.repeats, peer)
    want = peer().reshape(B * T, V)[::64].numpy().reshape(-1)
    # Two calls (sequence_logps, then sequence_logps_backward): forward read + backward read +
    # gradient write. One pass (sequence_logps_with_grad, dL/dsum known before the forward):
    # one read and one write a logit, the limit.
    cc.logps_report("logps_forward_backward", args, logits, labels, "logps_bwd", "out_grad_rows.f32", want,
                    peer_s, gbs, passes=3)
    cc.logps_report("logps_with_grad", args, logits, labels, "logps_fused", "out_grad_rows.f32", want,
                    peer_s, gbs, passes=2)


if __name__ == "__main__":
    main()
