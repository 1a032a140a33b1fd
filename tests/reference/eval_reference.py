#!/usr/bin/env python3
"""AlpacaEval's own win rates versus prefopt's examples/winrate, and the reference fixtures.

alpaca_eval (PyPI `alpaca-eval`, 0.6.6) is the oracle. It needs pandas, patsy and scikit-learn,
so run it from a virtual environment:

    python3 -m venv --system-site-packages /tmp/venv-alpaca && /tmp/venv-alpaca/bin/pip install alpaca-eval
    # 1. (re)generate the annotation files and alpaca_eval's numbers (committed fixtures)
    /tmp/venv-alpaca/bin/python tests/reference/eval_reference.py generate
    # 2. run examples/winrate on the same files and print the comparison table
    /tmp/venv-alpaca/bin/python tests/reference/eval_reference.py compare --winrate build/examples/winrate/winrate

`generate` writes into tests/reference/eval/:
  df_gamed.csv        two gamed baselines (one prompted to be verbose, one concise) on K
                      instructions: alpaca_eval's df_gamed columns, preference in [0, 1]
  <case>.json         annotation files in alpaca_eval's format (one JSONL file too)
  alpaca_eval.csv     case,glm,generator,<leaderboard metrics>,<GLM weights> from alpaca_eval
alpaca_eval downloads df_gamed.csv from the HF hub at run time (glm_winrate._get_featurized_data
calls hf_hub_download); here hf_hub_download is replaced by a function returning the local file,
so the rest of alpaca_eval's code runs unchanged. The annotation data are synthetic: each
model has a latent quality; the judge prefers the better output and, with a strength that
differs per case, the longer one. "verbose_gamer" is a model that games length: same quality as
the baseline, outputs three times as long.

`compare` reruns alpaca_eval (timed; its numbers must equal the committed fixture) and winrate on
every case, prints the table and the timings, and exits 1 when any length-controlled or raw win
rate differs by more than 0.1 point.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from unittest import mock

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "eval")
K = 160  # instructions
GLMS = ["length_controlled_v1", "length_controlled_noreg", "length_controlled_minimal"]
METRICS = ["win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total",
           "discrete_win_rate", "length_controlled_winrate", "lc_standard_error"]
# a few multi-byte characters: lengths are counted in code points, as Python's str.len does
ALPHABET = list("abcdefghij klmnop qrstuvwxyz") + ["é", "ß", "日", "本", "€"]


def text(rng, n):
    return "".join(rng.choice(ALPHABET, size=int(n)))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def make_gamed(rng, difficulty):
    rows = []
    for model, scale, bias in (("gpt4_1106_preview_verbose", 2.0, 0.6), ("gpt4_1106_preview_concise", 0.5, -0.4)):
        base_len = rng.integers(30, 140, size=K)
        gamed_len = (base_len * scale * rng.uniform(0.7, 1.3, size=K)).astype(int) + 5
        delta = base_len - gamed_len
        std_delta = delta / delta.std(ddof=1)
        logit = bias - difficulty + 1.2 * np.tanh(-std_delta)
        pref = sigmoid(logit + rng.normal(0, 0.3, size=K))
        for i in range(K):
            rows.append(dict(model=model, index=i, instruction_difficulty=difficulty[i],
                             preference=float(pref[i]), std_delta_len=float(std_delta[i]),
                             not_gamed_baseline=False))
    df = pd.DataFrame(rows)
    df.loc[7, "preference"] = np.nan  # one missing gamed annotation
    return df


def make_case(rng, difficulty, model, quality, length_scale, length_bias, n, soft=False, ties=0.1):
    """Annotations of `model` against the baseline on the first n instructions."""
    idx = rng.permutation(K)[:n]
    records = []
    for i in idx:
        len_1 = int(rng.integers(20, 140))
        len_2 = max(1, int(len_1 * length_scale * rng.uniform(0.6, 1.4)))
        logit = quality - difficulty[i] * 0.5 + length_bias * math.tanh((len_2 - len_1) / 50)
        p = float(sigmoid(logit + rng.normal(0, 0.5)))
        if soft:
            pref = 1 + p
        else:
            u = rng.uniform()
            pref = 1.5 if u < ties else (2.0 if rng.uniform() < p else 1.0)
        records.append(dict(instruction=f"instruction {i}", output_1=text(rng, len_1),
                            output_2=text(rng, len_2), generator_1="gpt4_1106_preview",
                            generator_2=model, preference=pref, index=int(i)))
    return records


def cases(rng, difficulty):
    out = {}
    out["balanced"] = make_case(rng, difficulty, "balanced_model", 0.3, 1.0, 0.8, 120)
    out["verbose_gamer"] = make_case(rng, difficulty, "verbose_gamer", 0.0, 3.0, 1.5, 140)
    out["concise"] = make_case(rng, difficulty, "concise_model", 0.8, 0.45, 1.0, 100)
    soft = make_case(rng, difficulty, "soft_judge", -0.4, 1.3, 1.2, 110, soft=True)
    soft[3]["preference"] = 0      # legacy tie
    soft[5]["preference"] = None   # failed annotation: NaN in alpaca_eval
    soft[8]["preference"] = 1.5
    out["soft"] = soft
    # two generators in one file: the CLI prints one row per generator_2
    out["two_models"] = (make_case(rng, difficulty, "model_a", 0.5, 1.6, 0.9, 80)
                         + make_case(rng, difficulty, "model_b", -0.6, 0.8, 0.9, 90))
    return out


def run_alpaca(records, df_gamed_path):
    import alpaca_eval.metrics.glm_winrate as g
    rows = []
    df = pd.DataFrame.from_records(records)
    with mock.patch.object(g, "hf_hub_download", lambda **kw: df_gamed_path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gen, sub in df.groupby("generator_2", sort=True):
            sub = sub.reset_index(drop=True)
            for glm in GLMS:
                captured = {}
                real_fit = g.fit_LogisticRegressionCV

                def fit(*a, **kw):
                    model = real_fit(*a, **kw)
                    captured["C"] = float(model.C_[0]) if np.ndim(model.C_) else float(model.C_)
                    captured["coef"] = list(model.coef_[0])
                    return model

                with mock.patch.object(g, "fit_LogisticRegressionCV", fit):
                    m = g.get_length_controlled_winrate(sub.copy(), glm_name=glm, save_weights_dir=None)
                row = dict(generator=gen, glm=glm)
                row.update({k: float(m[k]) for k in METRICS})
                row["best_C"] = captured.get("C", float("nan"))
                coef = captured.get("coef", [])
                row["w_tanh_std_delta_len"] = coef[0] if coef else float("nan")
                row["w_instruction_difficulty"] = coef[1] if len(coef) == 3 else float("nan")
                row["w_not_gamed_baseline"] = coef[-1] if coef else float("nan")
                rows.append(row)
    return rows


def generate():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20260402)
    difficulty = rng.normal(0, 1, size=K)
    gamed = make_gamed(rng, difficulty)
    gamed_path = os.path.join(OUT, "df_gamed.csv")
    gamed.to_csv(gamed_path, index=False, float_format="%.17g")
    all_rows = []
    for name, records in cases(rng, difficulty).items():
        path = os.path.join(OUT, name + (".jsonl" if name == "concise" else ".json"))
        with open(path, "w", encoding="utf-8") as f:
            if path.endswith(".jsonl"):
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            else:
                json.dump(records, f, ensure_ascii=False, indent=1)
        for row in run_alpaca(records, gamed_path):
            row["case"] = name
            all_rows.append(row)
    cols = ["case", "glm", "generator"] + METRICS + ["best_C", "w_tanh_std_delta_len",
                                                     "w_instruction_difficulty", "w_not_gamed_baseline"]
    pd.DataFrame(all_rows)[cols].to_csv(os.path.join(OUT, "alpaca_eval.csv"), index=False, float_format="%.17g")
    print(f"wrote {len(all_rows)} reference rows to {OUT}")


def compare(winrate):
    """Runs alpaca_eval again (timed, and checked against the committed fixture) and winrate."""
    ref = pd.read_csv(os.path.join(OUT, "alpaca_eval.csv"))
    gamed_path = os.path.join(OUT, "df_gamed.csv")
    flag = {"length_controlled_v1": "v1", "length_controlled_noreg": "noreg", "length_controlled_minimal": "minimal"}
    worst = 0.0
    drift = 0.0
    t_alpaca = t_ours = 0.0
    lines = []
    header = (f"{'case':<14} {'glm':<8} {'generator':<14} {'LC alpaca':>10} {'LC prefopt':>10} {'diff':>9}"
              f" {'SE diff':>9} {'WR diff':>9} {'C alpaca':>9} {'C ours':>9}")
    import alpaca_eval.metrics.glm_winrate as g
    for (case, glm), sub in ref.groupby(["case", "glm"], sort=False):
        path = os.path.join(OUT, case + (".jsonl" if case == "concise" else ".json"))
        records = pd.read_json(path, lines=path.endswith(".jsonl")).to_dict("records")
        df = pd.DataFrame.from_records(records)
        fresh = {}
        with mock.patch.object(g, "hf_hub_download", lambda **kw: gamed_path), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            for gen, part in df.groupby("generator_2", sort=True):
                fresh[gen] = g.get_length_controlled_winrate(part.reset_index(drop=True), glm_name=glm,
                                                             save_weights_dir=None)
            t_alpaca += time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.json")
            cmd = [winrate, path, "--glm", flag[glm], "--gamed", gamed_path, "--json", out]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            t_ours += time.perf_counter() - start
            ours = json.load(open(out))
        for _, r in sub.iterrows():
            o = ours[r["generator"]]
            drift = max(drift, abs(fresh[r["generator"]]["length_controlled_winrate"] - r["length_controlled_winrate"]))
            d_lc = o["length_controlled_winrate"] - r["length_controlled_winrate"]
            d_se = o["lc_standard_error"] - r["lc_standard_error"]
            d_wr = o["win_rate"] - r["win_rate"]
            worst = max(worst, abs(d_lc), abs(d_wr))
            lines.append(f"{case:<14} {flag[glm]:<8} {r['generator']:<14} {r['length_controlled_winrate']:>10.4f}"
                         f" {o['length_controlled_winrate']:>10.4f} {d_lc:>+9.1e} {d_se:>+9.1e} {d_wr:>+9.1e}"
                         f" {r['best_C']:>9.3g} {o.get('best_C', float('nan')):>9.3g}")
    print(header)
    print("\n".join(lines))
    print(f"alpaca_eval rerun vs committed fixture: largest LC change {drift:.1e} points")
    print(f"time: alpaca_eval get_length_controlled_winrate {t_alpaca:.2f} s in-process; "
          f"prefopt winrate {t_ours:.2f} s including process start and file parsing "
          f"({t_alpaca / t_ours:.1f}x)")
    print(f"largest |difference| in a win rate: {worst:.2e} percentage points (tolerance 0.1)")
    return 0 if worst <= 0.1 and drift <= 1e-9 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["generate", "compare"])
    ap.add_argument("--winrate", help="path to the built examples/winrate binary (compare)")
    a = ap.parse_args()
    if a.mode == "generate":
        generate()
    else:
        if not a.winrate:
            ap.error("compare needs --winrate")
        sys.exit(compare(a.winrate))
