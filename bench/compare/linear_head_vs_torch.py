#!/usr/bin/python3
"""Chunked fused LM head, forward + backward: prefopt (prefopt/backends/eigen/linear_head.hpp,
Eigen GEMM inside, dL/dlogp = 1) versus torch's unfused path (hidden @ W.T, log_softmax, gather,
backward to hidden and W), same data, same thread count, one invocation. Defaults: N = 2048
tokens, H = 1024, V = 32000, float32, 10% of the labels ignore_index (-100); --small: N = 256,
H = 256, V = 4096.

Note: Debian's torch 1.13 (BLAS_INFO=generic) runs its matmuls on the reference netlib libblas
unless another libblas.so.3 alternative is installed, so on such a machine torch's time measures
unoptimised GEMMs and the ratio says little; the fraction of Eigen's sgemm rate is the figure to
read.

Prints the bandwidth probe, `case,prefopt_s,peer_s,ratio,max_abs_diff` (compare_common.py;
max_abs_diff over logp, grad_hidden and every 64th row of grad_weight) and '#' lines with:
  - Eigen's sgemm rate on the same shapes and threads, measured in this run right before and right
    after prefopt's (C [N, V] = A B^T, rows split over the threads), and the fraction of the
    faster of the two that the fused head reaches, counting
    8 N V H flops (forward GEMM, recomputed logits, G W, G^T hidden; torch's path is 6 N V H);
  - peak RSS of each side, each measured in its own process (VmHWM of /proc/self/status in the
    driver and in a child Python process; getrusage's ru_maxrss would keep the high-water mark
    of the parent that forked them), before the timed work (inputs and outputs
    allocated) and at the end, and the difference: the extra memory of the computation.

    cmake --build build --target prefopt_compare_driver
    /usr/bin/python3 bench/compare/linear_head_vs_torch.py [--threads 2] [--small]
"""

import os
import subprocess
import sys

import numpy as np

import compare_common as cc


def torch_child(d, n, h, v, threads, repeats):
    """Runs in its own process: torch's unfused forward + backward; prints its fields."""
    import torch

    def vmhwm_kb():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

    torch.set_num_threads(threads)
    hidden = torch.from_numpy(np.fromfile(os.path.join(d, "hidden.f32"), dtype=np.float32).reshape(n, h))
    weight = torch.from_numpy(np.fromfile(os.path.join(d, "weight.f32"), dtype=np.float32).reshape(v, h))
    labels = torch.from_numpy(np.fromfile(os.path.join(d, "labels.i64"), dtype=np.int64))
    x = hidden.clone().requires_grad_(True)
    w = weight.clone().requires_grad_(True)
    keep = labels != -100
    safe = labels.clamp(min=0)
    # Output-sized buffers exist on both sides before the baseline (prefopt's driver allocates its
    # gradients up front), so the difference is the computation's own memory.
    out_h = torch.zeros_like(x)
    out_w = torch.zeros_like(w)
    rss_inputs = vmhwm_kb()
    result = {}

    def run():
        x.grad = None
        w.grad = None
        lp = torch.log_softmax(x @ w.t(), dim=-1).gather(-1, safe[:, None]).squeeze(-1)
        lp = torch.where(keep, lp, torch.zeros_like(lp))
        lp.sum().backward()
        result["logp"] = lp.detach()
        out_h.copy_(x.grad)
        out_w.copy_(w.grad)

    s = cc.best_of(repeats, run)
    peak = vmhwm_kb()
    result["logp"].numpy().tofile(os.path.join(d, "torch_logp.f32"))
    out_h.numpy().tofile(os.path.join(d, "torch_grad_hidden.f32"))
    out_w[::64].numpy().tofile(os.path.join(d, "torch_grad_weight_rows.f32"))
    print(f"peer_s={s:.6g} rss_inputs_kb={rss_inputs} peak_rss_kb={peak}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-child":
        d, n, h, v, threads, repeats = sys.argv[2], *map(int, sys.argv[3:8])
        torch_child(d, n, h, v, threads, repeats)
        return
    import torch

    p = cc.parser(__doc__)
    p.add_argument("--small", action="store_true", help="N = 256, H = 256, V = 4096")
    p.add_argument("--tokens", type=int, default=None)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--vocab", type=int, default=None)
    p.add_argument("--vocab-chunk", type=int, default=2048)
    p.add_argument("--token-chunk", type=int, default=1024)
    p.add_argument("--skip-peer", action="store_true",
                   help="do not run torch (peer_s and max_abs_diff print as nan): prefopt vs sgemm only")
    args = p.parse_args()
    n, h, v = (256, 256, 4096) if args.small else (2048, 1024, 32000)
    n, h, v = args.tokens or n, args.hidden or h, args.vocab or v

    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(n, h, generator=g)
    weight = torch.randn(v, h, generator=g) * (2.0 / h ** 0.5)  # logits ~ N(0, 4)
    labels = torch.randint(0, v, (n,), generator=g)
    labels[torch.rand(n, generator=g) < 0.1] = -100

    cc.bandwidth(args.driver, args.threads)

    def sgemm(when):
        gemm = cc.run_driver(args.driver, ["sgemm", n, h, v, args.threads, args.repeats])
        print(f"# eigen sgemm [{n} x {h}] x [{h} x {v}], {args.threads} threads, {when}: "
              f"{float(gemm['gflops']):.1f} GFLOP/s ({float(gemm['seconds']):.4g} s); load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        return float(gemm["gflops"])

    cc.header()
    with cc.workdir() as d:
        hidden.numpy().tofile(os.path.join(d, "hidden.f32"))
        weight.numpy().tofile(os.path.join(d, "weight.f32"))
        labels.numpy().astype(np.int64).tofile(os.path.join(d, "labels.i64"))
        if args.skip_peer:
            peer = {"peer_s": "nan", "rss_inputs_kb": "0", "peak_rss_kb": "0"}
            want_lp = want_gh = want_gw = None
        else:
            child = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-child", d, str(n), str(h),
                                    str(v), str(args.threads), str(args.repeats)], capture_output=True, text=True)
            if child.returncode != 0:
                raise SystemExit(f"torch child failed:\n{child.stderr}")
            peer = dict(kv.split("=", 1) for kv in child.stdout.split())
            want_lp = np.fromfile(os.path.join(d, "torch_logp.f32"), dtype=np.float32)
            want_gh = np.fromfile(os.path.join(d, "torch_grad_hidden.f32"), dtype=np.float32)
            want_gw = np.fromfile(os.path.join(d, "torch_grad_weight_rows.f32"), dtype=np.float32)
        peer_s = float(peer["peer_s"])
        for name, driver, isa in cc.variants(args):
            # sgemm right before and right after the fused head (the machine's load drifts); the
            # fraction is taken against the faster of the two.
            before = sgemm("before prefopt")
            r = cc.run_driver(driver, ["head", d, n, h, v, args.threads, args.repeats, args.vocab_chunk,
                                       args.token_chunk], isa)
            sgemm_gflops = max(before, sgemm("after prefopt"))
            s = float(r["prefopt_s"])
            got_lp = np.fromfile(os.path.join(d, "out_logp.f32"), dtype=np.float32)
            got_gh = np.fromfile(os.path.join(d, "out_grad_hidden.f32"), dtype=np.float32)
            got_gw = np.fromfile(os.path.join(d, "out_grad_weight_rows.f32"), dtype=np.float32)
            diffs = [float(np.max(np.abs(a - b))) if b is not None else float("nan") for a, b in
                     ((got_lp, want_lp), (got_gh, want_gh), (got_gw, want_gw))]
            case = f"linear_head_fwd_bwd_{name}"
            cc.row(case, s, peer_s, max(diffs))
            flops = 8.0 * n * v * h
            print(f"# {case}: isa={r['isa']} N={n} H={h} V={v} vocab_chunk={args.vocab_chunk} "
                  f"token_chunk={args.token_chunk} threads={args.threads}; max|diff| logp {diffs[0]:.3g}, "
                  f"grad_hidden {diffs[1]:.3g}, grad_weight rows {diffs[2]:.3g}", flush=True)
            print(f"# {case}: {flops / s / 1e9:.1f} GFLOP/s (8NVH) = {flops / s / 1e9 / sgemm_gflops:.0%} of "
                  f"eigen sgemm; torch {6.0 * n * v * h / peer_s / 1e9:.1f} GFLOP/s (6NVH)", flush=True)
            tile_mib = min(args.token_chunk, n) * min(args.vocab_chunk, v) * 4 / 2 ** 20
            print(f"# {case}: peak RSS prefopt {int(r['peak_rss_kb']) / 1024:.1f} MiB (inputs + outputs "
                  f"{int(r['rss_inputs_kb']) / 1024:.1f} MiB, extra "
                  f"{(int(r['peak_rss_kb']) - int(r['rss_inputs_kb'])) / 1024:.1f} MiB; one logit tile "
                  f"{tile_mib:.1f} MiB); torch {int(peer['peak_rss_kb']) / 1024:.1f} MiB (inputs + outputs "
                  f"{int(peer['rss_inputs_kb']) / 1024:.1f} MiB, extra "
                  f"{(int(peer['peak_rss_kb']) - int(peer['rss_inputs_kb'])) / 1024:.1f} MiB; [N, V] logits "
                  f"{n * v * 4 / 2 ** 20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
