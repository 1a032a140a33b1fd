#!/usr/bin/python3
"""Runs every side-by-side script of issue 15's table (log-probs forward and forward + backward,
batch DPO loss, token KL, fused linear head) on tiny inputs, so that CI proves they run from a
fresh clone, and checks each printed row: prefopt and PyTorch agree (max_abs_diff below the
script's float tolerance) and the timings are positive. Timings at these sizes mean nothing.

    /usr/bin/python3 bench/compare/smoke.py [--python PYTHON]   (after building the driver)
"""
import argparse
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS = ["--batch", "2", "--time", "9", "--vocab", "1031"]
RUNS = [
    ("logps_forward_vs_torch.py", TOKENS, 1e-5),
    ("logps_backward_vs_torch.py", TOKENS, 1e-6),
    ("batch_losses_vs_torch.py", ["--pairs", "1003"], 1e-6),
    ("token_kl_vs_torch.py", TOKENS, 1e-5),
    ("linear_head_vs_torch.py", ["--tokens", "64", "--hidden", "32", "--vocab", "1031",
                                 "--vocab-chunk", "256", "--token-chunk", "32"], 1e-4),
]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args()
    failures = 0
    for script, extra, tol in RUNS:
        cmd = [args.python, os.path.join(HERE, script), "--threads", "2", "--repeats", "1", *extra]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        rows = [line.split(",") for line in r.stdout.splitlines()
                if "," in line and not line.startswith(("#", "case,", "bandwidth,"))]
        bad = [row for row in rows if len(row) != 5 or not float(row[1]) > 0 or
               not float(row[2]) > 0 or not math.isfinite(float(row[4])) or float(row[4]) > tol]
        ok = r.returncode == 0 and rows and not bad
        print(f"{'ok  ' if ok else 'FAIL'} {script}: {len(rows)} rows" +
              ("" if ok else f", exit {r.returncode}, bad rows {bad}\n{r.stdout}"), flush=True)
        failures += not ok
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
