#!/usr/bin/python3
"""FastChat-style Arena ratings of examples/arena_ratings/data/battles.csv, for the C++ tests.

Re-implements the two maximum-likelihood Elo methods of lm-sys/FastChat
fastchat/serve/monitor/elo_analysis.py (independently written, same model and settings):
  * lbfgs:   compute_elo_mle_with_tie -- unique (model_a, model_b, outcome) rows weighted by their
             counts, outcome 1 / 0.5 / 0, logits ln(10) * (r_a - r_b), scipy L-BFGS-B from zero
             (gtol 1e-6, maxiter 100), rating = 400 r + 1000, then mixtral-8x7b-instruct-v0.1 shifted
             to 1114;
  * sklearn: the earlier compute_mle_elo -- LogisticRegression(fit_intercept=False, penalty=None,
             tol=1e-6) on +-ln(10) design rows, a tie counting as one win for each side and every
             decisive battle doubled, same scale and anchor.
  * bootstrap: get_bootstrap_result_elo_mle_with_tie -- 1000 rounds of multinomial counts over the
             unique outcome rows (np.random seed 42), L-BFGS per round, 2.5% / 97.5% quantiles;
             here without re-anchoring (mean rating 1000), so every model has a real interval.
Writes fastchat_reference.csv (model, rating_lbfgs, rating_sklearn, boot_q025, boot_q975).

Usage: /usr/bin/python3 tests/reference/prefmodel/fastchat_reference.py
"""
import csv
import math
import os

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "examples", "arena_ratings", "data", "battles.csv")
ANCHOR, ANCHOR_RATING, SCALE, INIT = "mixtral-8x7b-instruct-v0.1", 1114.0, 400.0, 1000.0


def read():
    with open(DATA) as f:
        return [(r["model_a"], r["model_b"], r["winner"]) for r in csv.DictReader(f)]


def unique_outcomes(rows, models):
    idx = {m: k for k, m in enumerate(models)}
    code = {"model_a": 2, "model_b": 0}
    sched = np.array([(idx[a], idx[b], code.get(w, 1)) for a, b, w in rows], dtype=np.int64)
    uniq, counts = np.unique(sched, axis=0, return_counts=True)
    return uniq[:, :2], uniq[:, 2] / 2.0, counts.astype(float)


def lbfgs_fit(pairs, y, w, n):
    alpha = math.log(10.0)

    def loss(r):
        z = alpha * (r[pairs[:, 0]] - r[pairs[:, 1]])
        p = expit(z)
        f = -np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p)))
        g = np.zeros_like(r)
        gz = -alpha * w * (y - p)
        np.add.at(g, pairs[:, 0], gz)
        np.add.at(g, pairs[:, 1], -gz)
        return f, g

    res = minimize(loss, np.zeros(n), jac=True, method="L-BFGS-B",
                   options={"maxiter": 100, "gtol": 1e-6})
    return SCALE * res.x + INIT


def lbfgs_ratings(rows, models):
    pairs, y, w = unique_outcomes(rows, models)
    return lbfgs_fit(pairs, y, w, len(models))


def bootstrap_quantiles(rows, models, rounds=1000):
    pairs, y, w = unique_outcomes(rows, models)
    np.random.seed(42)
    draws = np.random.multinomial(int(w.sum()), w / w.sum(), size=rounds).astype(float)
    boot = np.array([lbfgs_fit(pairs, y, d, len(models)) for d in draws])
    boot -= boot.mean(axis=1, keepdims=True) - INIT  # mean rating 1000 in every round
    return np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)


def sklearn_ratings(rows, models):
    idx = {m: k for k, m in enumerate(models)}
    n, alpha = len(models), math.log(10.0)
    wins = np.zeros((n, n))  # wins[a, b]: weight of "a beat b" rows
    for a, b, w in rows:
        i, j = idx[a], idx[b]
        if w == "model_a":
            wins[i, j] += 2
        elif w == "model_b":
            wins[j, i] += 2
        else:
            wins[i, j] += 1
            wins[j, i] += 1
    X, Y, W = [], [], []
    for i in range(n):
        for j in range(n):
            if i != j and wins[i, j] > 0:
                x = np.zeros(n)
                x[i], x[j] = alpha, -alpha
                X.append(x); Y.append(1.0); W.append(wins[i, j])
                X.append(-x); Y.append(0.0); W.append(wins[i, j])
    lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6)
    lr.fit(np.array(X), np.array(Y), sample_weight=np.array(W))
    return SCALE * lr.coef_[0] + INIT


def main():
    rows = read()
    models = sorted({m for a, b, _ in rows for m in (a, b)})
    k = models.index(ANCHOR)
    lb = lbfgs_ratings(rows, models)
    sk = sklearn_ratings(rows, models)
    lb += ANCHOR_RATING - lb[k]
    sk += ANCHOR_RATING - sk[k]
    q025, q975 = bootstrap_quantiles(rows, models)
    with open(os.path.join(HERE, "fastchat_reference.csv"), "w") as f:
        f.write("model,rating_lbfgs,rating_sklearn,boot_q025,boot_q975\n")
        for m, a, b, lo, hi in sorted(zip(models, lb, sk, q025, q975), key=lambda t: -t[1]):
            f.write("%s,%.10f,%.10f,%.6f,%.6f\n" % (m, a, b, lo, hi))
            print("%-28s %10.4f %10.4f   [%8.2f, %8.2f]" % (m, a, b, lo, hi))


if __name__ == "__main__":
    main()
