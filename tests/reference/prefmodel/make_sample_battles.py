#!/usr/bin/python3
"""Writes the committed sample battle logs used by the arena_ratings CLI tests and the
BradleyTerry2 / FastChat reference fits. Deterministic (numpy seed 20241126).

Usage: /usr/bin/python3 tests/reference/prefmodel/make_sample_battles.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "examples", "arena_ratings", "data")

MODELS = ["gpt-4", "claude-2", "mixtral-8x7b-instruct-v0.1", "llama-2-70b-chat",
          "vicuna-33b", "wizardlm-13b", "alpaca-13b", "dolly-v2-12b"]
# True strengths on the natural (log-odds) scale.
STRENGTH = np.array([1.6, 1.2, 0.7, 0.4, 0.2, -0.1, -1.1, -1.8])


def main():
    rng = np.random.default_rng(20241126)
    rows = []
    for _ in range(2000):
        a, b = rng.choice(len(MODELS), size=2, replace=False)
        d = STRENGTH[a] - STRENGTH[b]
        # Davidson-style outcome probabilities with nu = 0.6.
        nu = 0.6
        pa, pb, pt = np.exp(d / 2), np.exp(-d / 2), nu
        s = pa + pb + pt
        u = rng.random() * s
        if u < pa:
            winner = "model_a"
        elif u < pa + pb:
            winner = "model_b"
        else:
            winner = "tie" if rng.random() < 0.7 else "tie (bothbad)"
        rows.append((MODELS[a], MODELS[b], winner))
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, "battles.csv"), "w") as f:
        f.write("model_a,model_b,winner\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    with open(os.path.join(DATA, "battles.jsonl"), "w") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"question_id": i, "model_a": r[0], "model_b": r[1],
                                "winner": r[2]}) + "\n")
    # A small weighted file (weights e.g. from de-duplication or judge confidence).
    with open(os.path.join(DATA, "weighted.csv"), "w") as f:
        f.write("model_a,model_b,winner,weight\n")
        for i, r in enumerate(rows[:300]):
            f.write(",".join(r) + ",%g\n" % (0.5 + (i % 4) * 0.25))


if __name__ == "__main__":
    main()
