#!/usr/bin/env python3
"""Independent re-implementation of SPPO's data step, used to produce the committed fixtures that
examples/sppo_targets is checked against (tests: example_sppo_targets_fixture).

It follows the reference code line by line, with numpy:
  * llm_blender gpt_eval/utils.py get_scores_from_cmps(cmp_results, policy="max_logits"):
        scores[i] = (cmp_results[i] - cmp_results[i].T).mean(axis=-1)
    (llm_blender stores the scores as float32; here they stay float64, as the C++ code does).
  * uclaml/SPPO scripts/compute_prob.py from_ranks:
        prb[i][j] = 1 / (1 + np.exp(score[j] - score[i]))   for every i, j
  * uclaml/SPPO scripts/compute_prob.py prepare_score:
        maxmin = [x.argmax(), x.argmin()]                      (first index on ties)
        chosen_probs      = probability[argmax][argmin]
        chosen_probs_win  = probability.sum(axis=1)[argmax] / K
        chosen_probs_lose = probability.sum(axis=1)[argmin] / K

Usage:  compute_prob_reference.py make-inputs INPUT.jsonl      (seeded random fixture inputs)
        compute_prob_reference.py targets INPUT.jsonl OUT.jsonl
"""
import json
import sys

import numpy as np


def scores_from_cmps(cmp):
    cmp = np.asarray(cmp, dtype=np.float64)
    return (cmp - cmp.T).mean(axis=-1)


def targets(score):
    score = np.asarray(score, dtype=np.float64)
    k = len(score)
    prb = np.zeros((k, k))
    with np.errstate(over="ignore"):  # exp(> 709) = inf gives exactly 0, as in the original
        for i in range(k):
            for j in range(k):
                prb[i][j] = 1 / (1 + np.exp(score[j] - score[i]))
    w, l = int(score.argmax()), int(score.argmin())
    sums = prb.sum(axis=1)
    return {
        "chosen": w,
        "rejected": l,
        "chosen_probs": float(prb[w][l]),
        "chosen_probs_win": float(sums[w] / k),
        "chosen_probs_lose": float(sums[l] / k),
        "probability": prb.tolist(),
    }


def make_inputs(path):
    rng = np.random.default_rng(20240501)
    rows = []
    for n, k in enumerate([5, 5, 5, 7, 3, 2, 1, 5, 9, 5]):
        responses = [f"response {n}.{i}" for i in range(k)]
        rec = {"prompt": f"prompt {n}", "responses": responses}
        if n % 2 == 0:  # PairRM-style, not antisymmetric, diagonal not zero
            rec["pairrm_logits"] = (rng.normal(size=(k, k)) * 3).tolist()
        else:
            rec["scores"] = (rng.normal(size=k) * 2).tolist()
        rows.append(rec)
    # Ties: first index wins for both argmax and argmin.
    rows.append({"prompt": "ties", "responses": ["a", "b", "c", "d", "e"],
                 "scores": [1.5, -0.25, 1.5, -0.25, 0.0]})
    # All equal: chosen = rejected = 0, P = 1/2 everywhere.
    rows.append({"prompt": "flat", "responses": ["a", "b", "c"], "scores": [0.3, 0.3, 0.3]})
    # Gaps beyond exp's range: probabilities exactly 0 and 1.
    rows.append({"prompt": "extreme \u00e9\u00e8 \"quoted\"", "responses": ["x", "y", "z", "w"],
                 "scores": [800.0, -800.0, 0.0, 35.0], "extra": {"kept": [1, 2]}})
    # PairRM logits with an exact tie between two aggregated scores.
    rows.append({"prompt": "logit ties", "responses": ["a", "b", "c"],
                 "pairrm_logits": [[0, 1, -1], [-1, 0, 1], [1, -1, 0]]})
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def run_targets(src, dst):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            score = rec["scores"] if "scores" in rec else scores_from_cmps(rec["pairrm_logits"])
            rec.update(targets(score))
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make-inputs":
        make_inputs(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "targets":
        run_targets(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
