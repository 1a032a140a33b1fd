"""Shared plumbing of the *_vs_torch.py scripts: the C++ driver (prefopt_compare_driver, built by
CMake from compare_driver.cpp), the bandwidth probe, best-of timing and the output format.

Every script prints, in one run on the same data and the same thread count:

    bandwidth,read_GBps,<streaming read GB/s of this machine now, same threads>
    case,prefopt_s,peer_s,ratio,max_abs_diff
    <case>,<prefopt seconds>,<torch seconds>,<peer_s / prefopt_s: prefopt's speed-up>,<max |diff|>

Times are the best of --repeats runs after one warm-up, on both sides.
"""

import argparse
import os
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DRIVER = os.path.join(HERE, "..", "..", "build", "bench", "compare", "prefopt_compare_driver")


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--driver", default=DEFAULT_DRIVER, help="prefopt_compare_driver (default build)")
    p.add_argument("--native-driver", default=None,
                   help="optional prefopt_compare_driver_native (-march=native) for an extra row")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--portable", action="store_true",
                   help="also run the default build with PREFOPT_ISA=portable (no dispatch)")
    return p


def workdir():
    return tempfile.TemporaryDirectory(prefix="prefopt_compare_")


def run_driver(driver, args, isa=None):
    env = dict(os.environ)
    if isa is not None:
        env["PREFOPT_ISA"] = isa
    out = subprocess.run([driver] + [str(a) for a in args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{driver} {' '.join(map(str, args))} failed:\n{out.stderr}")
    fields = dict(kv.split("=", 1) for kv in out.stdout.split())
    return fields


def bandwidth(driver, threads, nbytes=1 << 29, repeats=5):
    print(f"# load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    gbs = float(run_driver(driver, ["probe", nbytes, threads, repeats])["read_gbs"])
    print(f"bandwidth,read_GBps,{gbs:.3f}", flush=True)
    return gbs


def best_of(repeats, fn):
    fn()
    best = float("inf")
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - s)
    return best


def header():
    print("case,prefopt_s,peer_s,ratio,max_abs_diff", flush=True)


def row(case, prefopt_s, peer_s, diff):
    print(f"{case},{prefopt_s:.6g},{peer_s:.6g},{peer_s / prefopt_s:.3f},{diff:.3g}", flush=True)


def variants(args):
    """(case suffix, driver, PREFOPT_ISA) for each prefopt build to time."""
    out = [("default", args.driver, None)]
    if args.portable:
        out.append(("default_portable", args.driver, "portable"))
    if args.native_driver:
        out.append(("march_native", args.native_driver, None))
    return out


def logps_problem(description):
    """The shared setup of the sequence log-prob scripts: options --batch/--time/--vocab, torch's
    thread count, the logits (2 * N(0, 1), float32) and labels of seed 1, then the bandwidth probe
    and the header line. Returns (args, logits [B, T, V], labels [B, T], read GB/s)."""
    import torch  # only the torch scripts need it

    p = parser(description)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--time", type=int, default=513)
    p.add_argument("--vocab", type=int, default=32000)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    logits = 2 * torch.randn(args.batch, args.time, args.vocab, generator=g)
    labels = torch.randint(0, args.vocab, (args.batch, args.time), generator=g)
    gbs = bandwidth(args.driver, args.threads)
    header()
    return args, logits, labels, gbs


def logps_cases(args, logits, labels, mode, output_file, want):
    """Runs the driver's `mode` (logps_fwd, logps_bwd or logps_fused) on the logits and labels for every variant;
    yields (variant name, driver fields, seconds, max |output - want|)."""
    import numpy as np

    B, T, V = logits.shape
    with workdir() as d:
        logits.numpy().tofile(os.path.join(d, "logits.f32"))
        labels.numpy().astype(np.int64).tofile(os.path.join(d, "labels.i64"))
        for name, driver, isa in variants(args):
            r = run_driver(driver, [mode, d, B, T, V, args.threads, args.repeats], isa)
            got = np.fromfile(os.path.join(d, output_file), dtype=np.float32)
            yield name, r, float(r["prefopt_s"]), float(np.max(np.abs(got - want)))


def logps_report(case, args, logits, labels, mode, output_file, want, peer_s, gbs, passes):
    """Runs logps_cases and prints, for every variant, the row `case`_NAME and a '#' line: G logits/s
    (B * (T - 1) * V logits a run), the fraction of the read bandwidth `gbs` that `passes` passes of
    4 bytes a logit take, and torch's G logits/s (`peer_s` a run)."""
    B, T, V = logits.shape
    n_logits = B * (T - 1) * V
    for name, r, s, diff in logps_cases(args, logits, labels, mode, output_file, want):
        row(f"{case}_{name}", s, peer_s, diff)
        print(f"# {case}_{name}: isa={r['isa']} {n_logits / s / 1e9:.2f} G logits/s; "
              f"{passes * n_logits * 4 / s / 1e9 / gbs:.0%} of the read bandwidth "
              f"({passes} x 4 bytes a logit); torch {n_logits / peer_s / 1e9:.2f} G logits/s", flush=True)
