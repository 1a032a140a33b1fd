#!/usr/bin/python3
"""Token KL(policy || ref) over the full vocabulary, forward and forward + backward (dL/dlogits of
the policy written): prefopt (kl::token_kl, token_kl_backward, dL/dsum = 1; and the fused
kl::token_kl_with_grad, one call) versus torch (F.kl_div(log_softmax(ref), log_softmax(policy),
log_target=True) summed over the vocabulary, autograd for the backward), same logits, same
threads, one run. Defaults: 4 x 513 positions (N = 2048 predicted tokens), V = 32000, float32;
every position counts. max_abs_diff is over the per-token values (forward) or every 64th
policy-gradient row (forward + backward, both prefopt forms against torch's forward + autograd
backward). Prints the bandwidth probe and case,prefopt_s,peer_s,ratio,max_abs_diff
(compare_common.py), and '#' lines with G logits/s and the fraction of the measured read
bandwidth, the bytes a logit counted explicitly:
  forward: the two logit tensors read once (8 bytes a logit);
  forward + backward (two calls): the forward's 8 bytes, the backward's 8 (it recomputes the row
  statistics from the logits, then reads them again for the gradient from cache) and the
  gradient written (4 bytes; the read-for-ownership of the gradient's lines is not counted):
  20 bytes a logit;
  fused forward + backward: the two tensors read once (the gradient pass reads the row pair from
  cache) and the gradient written once: 12 bytes a logit, the least any implementation moves, so
  its fraction is that of the memory-bandwidth limit.

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/token_kl_vs_torch.py [--threads 2] [--portable]
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

import compare_common as cc


def main():
    p = cc.parser(__doc__)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--time", type=int, default=513)
    p.add_argument("--vocab", type=int, default=32000)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    B, T, V = args.batch, args.time, args.vocab
    policy = 2 * torch.randn(B, T, V, generator=g)
    ref = policy + 0.5 * torch.randn(B, T, V, generator=g)  # related, as a policy and its reference
    labels = torch.randint(0, V, (B, T), generator=g)
    gbs = cc.bandwidth(args.driver, args.threads)
    cc.header()

    def token_kl(x):
        # F.kl_div(input = log q, target = log p, log_target=True) = p (log p - log q), elementwise.
        lp = torch.log_softmax(x[:, :-1], dim=-1)
        lq = torch.log_softmax(ref[:, :-1], dim=-1)
        return F.kl_div(lq, lp, log_target=True, reduction="none").sum(-1)

    def peer_fwd():
        with torch.no_grad():
            return token_kl(policy)

    x = policy.clone().requires_grad_(True)

    def peer_bwd():
        x.grad = None
        tok = token_kl(x)
        tok.sum().backward()
        return tok, x.grad

    fwd_s = cc.best_of(args.repeats, peer_fwd)
    want_tok = peer_fwd().numpy().reshape(-1)
    bwd_s = cc.best_of(args.repeats, peer_bwd)
    want_grad = peer_bwd()[1].reshape(B * T, V)[::64].numpy().reshape(-1)

    n_logits = B * (T - 1) * V
    with cc.workdir() as d:
        policy.numpy().tofile(os.path.join(d, "policy.f32"))
        ref.numpy().tofile(os.path.join(d, "ref.f32"))
        labels.numpy().astype(np.int64).tofile(os.path.join(d, "labels.i64"))
        for case, mode, peer_s, out, want, nbytes in (
                ("token_kl_forward", "kl_fwd", fwd_s, "out_token_kl.f32", want_tok, 8),
                ("token_kl_forward_backward", "kl_bwd", bwd_s, "out_grad_rows.f32", want_grad, 20),
                ("token_kl_fused", "kl_fused", bwd_s, "out_grad_rows.f32", want_grad, 12)):
            for name, driver, isa in cc.variants(args):
                r = cc.run_driver(driver, [mode, d, B, T, V, args.threads, args.repeats], isa)
                got = np.fromfile(os.path.join(d, out), dtype=np.float32)
                s = float(r["prefopt_s"])
                cc.row(f"{case}_{name}", s, peer_s, float(np.max(np.abs(got - want))))
                # The least a pass must move: the two tensors read once (8 bytes a logit), and
                # with the backward the gradient written once (4 more).
                least = 8 if mode == "kl_fwd" else 12
                print(f"# {case}_{name}: isa={r['isa']} {n_logits / s / 1e9:.2f} G logits/s "
                      f"(a logit = one position's policy and ref entry); "
                      f"{nbytes * n_logits / s / 1e9 / gbs:.0%} of the read bandwidth ({nbytes} bytes a logit moved), "
                      f"{least * n_logits / s / 1e9 / gbs:.0%} of the bandwidth limit ({least} bytes a logit: "
                      f"{'both tensors read once' if least == 8 else 'both tensors read once, the gradient written once'}); "
                      f"torch {n_logits / peer_s / 1e9:.2f} G logits/s", flush=True)


if __name__ == "__main__":
    main()
