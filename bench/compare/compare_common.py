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
