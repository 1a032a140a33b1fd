#!/usr/bin/python3
"""prefopt's Nash solvers vs SciPy's HiGHS LP on the same random preference games.

Usage: /usr/bin/python3 bench/compare/game_scipy.py BUILD_DIR [--sizes 100 300 1000]
                                                    [--iters 1000] [--eta 2]

For each n, draws P with P(i, j) ~ U(0, 1) above the diagonal (seeded), writes it as CSV, solves
  * SciPy: scipy.optimize.linprog(method="highs") on  max v  s.t. (P − ½)ᵀ x ≥ v, Σx = 1, x ≥ 0
    (the textbook form; ratios are relative to it) and on the shifted form prefopt uses,
  * prefopt: the dense simplex LP and hedge / optimistic MWU / extragradient
    (build/bench/game/prefopt_game_compare_driver),
and prints time and achieved exploitability max_i ((P − ½) x)_i of each, with ratios to HiGHS.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
from scipy.optimize import linprog


def random_preferences(n, seed):
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=(n, n))
    p = np.triu(u, 1)
    p = p + np.tril(1.0 - p.T, -1)
    np.fill_diagonal(p, 0.5)
    return p


def highs_nash(a):
    """Row player's maximin strategy of the zero-sum game a (row maximises)."""
    n = a.shape[0]
    c = np.zeros(n + 1)
    c[-1] = -1.0  # maximise v
    a_ub = np.hstack([-a.T, np.ones((n, 1))])  # v − (aᵀx)_j ≤ 0
    b_ub = np.zeros(n)
    a_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    bounds = [(0, None)] * n + [(None, None)]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(res.message)
    x = np.maximum(res.x[:n], 0.0)
    return x / x.sum(), res.x[-1]


def highs_nash_shifted(a):
    """The LP prefopt solves: max 1ᵀw s.t. (a + K) w ≤ 1, w ≥ 0 (K = 1 − min a); y = w / Σw."""
    n = a.shape[0]
    shifted = a + (1.0 - a.min())
    res = linprog(-np.ones(n), A_ub=shifted, b_ub=np.ones(n), bounds=[(0, None)] * n, method="highs")
    if res.status != 0:
        raise RuntimeError(res.message)
    w = np.maximum(res.x, 0.0)
    return w / w.sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--eta", type=float, default=2.0)
    args = ap.parse_args()
    driver = os.path.join(args.build_dir, "bench", "game", "prefopt_game_compare_driver")
    if not os.path.exists(driver):
        sys.exit(f"missing {driver}: build the target prefopt_game_compare_driver first")
    print(f"scipy {scipy.__version__}, numpy {np.__version__}; iterative: {args.iters} iterations, eta = {args.eta}")
    print(f"{'n':>5} {'solver':<22} {'seconds':>9} {'exploitability':>15} {'time/HiGHS':>11} {'expl/HiGHS':>11}")
    for n in args.sizes:
        p = random_preferences(n, seed=n)
        a = p - 0.5
        t0 = time.perf_counter()
        x, v = highs_nash(a)
        t_highs = time.perf_counter() - t0
        e_highs = max(float(np.max(a @ x)), 0.0)
        print(f"{n:>5} {'scipy highs':<22} {t_highs:>9.4f} {e_highs:>15.3e} {1.0:>11.3f} {1.0:>11.3f}")
        t0 = time.perf_counter()
        y = highs_nash_shifted(a)
        t_shift = time.perf_counter() - t0
        e_shift = max(float(np.max(a @ y)), 0.0)
        print(f"{n:>5} {'scipy highs (shifted)':<22} {t_shift:>9.4f} {e_shift:>15.3e} "
              f"{t_shift / t_highs:>11.3f} {e_shift / e_highs if e_highs > 0 else float('inf'):>11.3g}")
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            np.savetxt(f, p, delimiter=",", fmt="%.17g")
            path = f.name
        try:
            out = subprocess.run([driver, path, str(args.iters), str(args.eta)], check=True,
                                 capture_output=True, text=True).stdout
        finally:
            os.unlink(path)
        for row in map(json.loads, out.strip().splitlines()):
            ratio_e = row["exploitability"] / e_highs if e_highs > 0 else float("inf")
            print(f"{n:>5} {row['solver']:<22} {row['seconds']:>9.4f} {row['exploitability']:>15.3e} "
                  f"{row['seconds'] / t_highs:>11.3f} {ratio_e:>11.3g}")


if __name__ == "__main__":
    main()
