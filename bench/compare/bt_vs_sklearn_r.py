#!/usr/bin/python3
"""Bradley-Terry fit: prefopt versus scikit-learn (FastChat's compute_mle_elo) and R BradleyTerry2.

  cmake --build build --target bt_compare_driver
  /usr/bin/python3 bench/compare/bt_vs_sklearn_r.py --driver build/bench/prefmodel/bt_compare_driver

Two synthetic data sets, generated here with a fixed seed (strengths theta ~ N(0, 1), ties 10%):
  A. M = 100 models, 200,000 battles between uniformly drawn pairs (Arena-like);
  B. n = 200 models, every pair compared 200 times (3.98M battles).
Each tool fits the same aggregated counts (ties as half a win each):
  * prefopt   fit_bradley_terry (Newton), timed inside the driver, fastest of repeats;
  * sklearn   LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6) on FastChat's
              compute_mle_elo design (lm-sys/FastChat fastchat/serve/monitor/elo_analysis.py: one
              +-ln(10) row per ordered model pair for each label, sample_weight = win counts with a
              tie counted as one win each and decisive battles doubled);
  * scipy     FastChat's newer compute_elo_mle_with_tie: L-BFGS-B on unique outcomes (gtol 1e-6);
  * R         BradleyTerry2::BTm (glm IRLS).
Only the fit is timed (no file I/O or design-matrix construction). Ratings are compared on the
Elo scale (400 / ln 10 points per unit of theta), each normalised to mean 1000.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
ELO = 400.0 / math.log(10.0)


def arena_like(rng, m, battles, tie_rate=0.1):
    theta = rng.normal(size=m)
    a = rng.integers(0, m, size=battles)
    b = (a + rng.integers(1, m, size=battles)) % m  # uniform over b != a
    u = rng.random(battles)
    tie = u < tie_rate
    a_wins = ~tie & (rng.random(battles) < expit(theta[a] - theta[b]))
    i, j = np.minimum(a, b), np.maximum(a, b)
    i_wins = a_wins & (a == i) | (~a_wins & ~tie & (b == i))
    j_wins = ~tie & ~i_wins
    key = i * m + j
    counts = {}
    for name, mask in (("wi", i_wins), ("wj", j_wins), ("t", tie)):
        counts[name] = np.bincount(key[mask], minlength=m * m)
    return aggregate(m, counts)


def all_pairs(rng, n, per_pair, tie_rate=0.1):
    theta = rng.normal(size=n)
    i, j = np.triu_indices(n, 1)
    t = rng.binomial(per_pair, tie_rate, size=i.size)
    wi = rng.binomial(per_pair - t, expit(theta[i] - theta[j]))
    return np.stack([i, j, wi, per_pair - t - wi, t], axis=1)


def aggregate(m, counts):
    rows = []
    for key in np.nonzero(counts["wi"] + counts["wj"] + counts["t"])[0]:
        rows.append((key // m, key % m, counts["wi"][key], counts["wj"][key], counts["t"][key]))
    return np.array(rows, dtype=np.int64)


def best_time(fn, budget=1.0):
    best, spent, out = float("inf"), 0.0, None
    while spent < budget or out is None:
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return best, out


def sklearn_fastchat(n, pairs):
    w = np.zeros((n, n))  # w[a, b]: weight of "a beat b", ties one each, decisive doubled
    i, j, wi, wj, t = pairs.T
    np.add.at(w, (i, j), 2 * wi + t)
    np.add.at(w, (j, i), 2 * wj + t)
    a, b = np.nonzero(~np.eye(n, dtype=bool))
    rows = a.size
    x = np.zeros((2 * rows, n))
    x[np.arange(rows), a] = math.log(10)
    x[np.arange(rows), b] = -math.log(10)
    x[rows:] = x[:rows]
    y = np.concatenate([np.ones(rows), np.zeros(rows)])
    sw = np.concatenate([w[a, b], w[b, a]])

    def fit():
        lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6)
        lr.fit(x, y, sample_weight=sw)
        return lr.coef_[0] * math.log(10)  # natural scale

    return best_time(fit)


def scipy_lbfgs_fastchat(n, pairs):
    i, j, wi, wj, t = pairs.T
    # unique (a, b, outcome) rows as FastChat builds them: outcome 1, 0.5, 0
    a = np.concatenate([i, i, i])
    b = np.concatenate([j, j, j])
    y = np.concatenate([np.ones_like(wi), np.zeros_like(wj), np.full_like(t, 0.5, dtype=float)])
    wt = np.concatenate([wi, wj, t]).astype(float)
    keep = wt > 0
    a, b, y, wt = a[keep], b[keep], y[keep].astype(float), wt[keep]
    alpha = math.log(10)

    def loss(r):
        p = expit(alpha * (r[a] - r[b]))
        f = -np.sum(wt * (y * np.log(p) + (1 - y) * np.log(1 - p)))
        gz = -alpha * wt * (y - p)
        g = np.zeros_like(r)
        np.add.at(g, a, gz)
        np.add.at(g, b, -gz)
        return f, g

    def fit():
        res = minimize(loss, np.zeros(n), jac=True, method="L-BFGS-B", options={"maxiter": 100, "gtol": 1e-6})
        return res.x * alpha

    return best_time(fit)


def run_r(n, path, tmp):
    out = os.path.join(tmp, "r.csv")
    p = subprocess.run(["Rscript", os.path.join(HERE, "bt_vs_sklearn_r.R"), path, str(n), out],
                       capture_output=True, text=True, check=True)
    secs = float(p.stdout.split("time_fit_s=")[1].split()[0])
    return secs, np.loadtxt(out, delimiter=",", skiprows=1)


def run_prefopt(driver, n, path):
    p = subprocess.run([driver, str(n), path], capture_output=True, text=True, check=True)
    secs = float(p.stderr.split("time_fit_s=")[1].split()[0])
    ratings = np.loadtxt(p.stdout.splitlines()[1:])
    return secs, (ratings - 1000.0) / ELO, p.stderr.strip()


def elo(theta):
    theta = np.asarray(theta, dtype=float)
    return ELO * (theta - theta.mean()) + 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default=os.path.join(HERE, "..", "..", "build", "bench", "prefmodel", "bt_compare_driver"))
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = [("A: M=100, 200k battles", 100, arena_like(rng, 100, 200_000)),
             ("B: n=200 all pairs x 200", 200, all_pairs(rng, 200, 200))]
    print(f"numpy {np.__version__}, sklearn {__import__('sklearn').__version__}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, pairs in cases:
            path = os.path.join(tmp, "pairs.csv")
            np.savetxt(path, pairs, fmt="%d", delimiter=",", header="i,j,wins_i,wins_j,ties", comments="")
            battles = int(pairs[:, 2:].sum())
            t_pre, th_pre, info = run_prefopt(args.driver, n, path)
            ref = elo(th_pre)
            print(f"\n{name}: {battles} battles, {len(pairs)} compared pairs")
            print(f"  prefopt Newton      {t_pre * 1e3:10.2f} ms   ({info})")
            peers = [("sklearn (FastChat)", sklearn_fastchat(n, pairs)),
                     ("scipy L-BFGS (FastChat)", scipy_lbfgs_fastchat(n, pairs))]
            if not args.skip_r:
                peers.append(("R BradleyTerry2", run_r(n, path, tmp)))
            for label, (secs, theta) in peers:
                diff = np.max(np.abs(elo(theta) - ref))
                print(f"  {label:24s}{secs * 1e3:10.2f} ms   speed ratio {secs / t_pre:8.1f}x   "
                      f"max |rating diff| {diff:.2e} Elo")


if __name__ == "__main__":
    main()
