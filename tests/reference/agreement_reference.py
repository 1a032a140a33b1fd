#!/usr/bin/env python3
"""scikit-learn / SciPy reference for prefopt's scorer-agreement metrics (EvalYaks style).

    /tmp/venv-alpaca/bin/python tests/reference/agreement_reference.py   # the venv of eval_reference.py (pandas)

Writes tests/reference/eval/scores.csv (id,criterion,expert,predicted: 60 synthetic transcripts
scored on four CEFR-like criteria in bands 1..9, the prediction off by 0, 1 or more bands) and
tests/reference/eval/scores_expected.csv, one row per criterion and one "overall" row with
  exact_accuracy, within_tolerance, degree_of_variation  (NumPy, from the definitions)
  qwk        sklearn.metrics.cohen_kappa_score(weights="quadratic", labels=range(min, max + 1))
  pearson    scipy.stats.pearsonr
  spearman   scipy.stats.spearmanr (average ranks for ties)
for tolerance 1, and the transcript bins (accurate, partly_accurate, acceptable, inaccurate,
acceptable_accuracy) computed with pandas from the bin definitions in docs/evaluation.md.
"""
import csv
import os

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import cohen_kappa_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "eval")
TOL = 1


def metrics(e, p):
    e = np.asarray(e, float)
    p = np.asarray(p, float)
    d = np.abs(p - e)
    lo, hi = int(min(e.min(), p.min())), int(max(e.max(), p.max()))
    return dict(n=len(e), exact_accuracy=np.mean(d == 0), within_tolerance=np.mean(d <= TOL),
                degree_of_variation=d.mean(),
                qwk=cohen_kappa_score(e.astype(int), p.astype(int), weights="quadratic", labels=list(range(lo, hi + 1))),
                pearson=pearsonr(e, p)[0], spearman=spearmanr(e, p)[0])


def main():
    rng = np.random.default_rng(7)
    rows = []
    criteria = ["fluency", "grammar", "pronunciation", "vocabulary"]
    for t in range(60):
        level = rng.integers(2, 9)
        for c in criteria:
            if c == "pronunciation" and t % 7 == 3:
                continue  # some transcripts lack a criterion
            e = int(np.clip(level + rng.integers(-1, 2), 1, 9))
            off = rng.choice([0, 0, 0, 1, -1, 2, -2], p=[0.5, 0.1, 0.05, 0.15, 0.12, 0.05, 0.03])
            p = int(np.clip(e + off, 1, 9))
            rows.append(dict(id=f"t{t:03d}", criterion=c, expert=e, predicted=p))
    df = pd.DataFrame(rows)
    df.to_csv(os.path.join(OUT, "scores.csv"), index=False)
    out = []
    for c, sub in df.groupby("criterion", sort=True):
        out.append(dict(level=c, **metrics(sub.expert, sub.predicted)))
    overall = dict(level="overall", **metrics(df.expert, df.predicted))
    d = (df.predicted - df.expert).abs()
    g = pd.DataFrame(dict(id=df.id, exact=d == 0, beyond=d > TOL)).groupby("id")
    agg = g.agg(n=("exact", "size"), exact=("exact", "sum"), beyond=("beyond", "sum"))
    inaccurate = agg.beyond > 0
    accurate = ~inaccurate & (agg.exact == agg.n)
    partly = ~inaccurate & (agg.exact > 0) & (agg.exact < agg.n)
    acceptable = ~inaccurate & (agg.exact == 0)
    overall.update(accurate=accurate.mean(), partly_accurate=partly.mean(), acceptable=acceptable.mean(),
                   inaccurate=inaccurate.mean(), acceptable_accuracy=1 - inaccurate.mean())
    out.append(overall)
    pd.DataFrame(out).to_csv(os.path.join(OUT, "scores_expected.csv"), index=False, float_format="%.17g")
    print(pd.DataFrame(out).to_string())


if __name__ == "__main__":
    main()
