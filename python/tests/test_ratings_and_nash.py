"""prefopt.bradley_terry against the arena_ratings CLI on the same battles (run here), against the
FastChat reference ratings (tests/reference/prefmodel/fastchat_reference.csv, an independent
L-BFGS fit), and prefopt.nash against SciPy's linprog."""

import csv
import json
import math
import subprocess

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

import prefopt

from conftest import REPO, find_cli, uniform

BATTLES = REPO / "examples" / "arena_ratings" / "data" / "battles.csv"
ANCHOR = "mixtral-8x7b-instruct-v0.1"
Z95 = 1.959963984540054


def read_battles(path=BATTLES):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["model_a"] for r in rows], [r["model_b"] for r in rows], [r["winner"] for r in rows]


def run_cli(tmp_path, *args):
    out = tmp_path / "board.json"
    subprocess.run([find_cli("arena_ratings"), str(BATTLES), "--quiet", "--json", str(out), *args],
                   check=True, capture_output=True)
    return {row["model"]: row for row in json.loads(out.read_text())}


@pytest.mark.parametrize("cli_args, kwargs", [
    (["--bootstrap", "0"], {}),
    (["--bootstrap", "0", "--anchor", f"{ANCHOR}=1114"], dict(anchor=(ANCHOR, 1114.0))),
    (["--bootstrap", "40", "--seed", "3", "--anchor", f"{ANCHOR}=1114"],
     dict(bootstrap=40, seed=3, anchor=(ANCHOR, 1114.0))),
    (["--bootstrap", "30", "--seed", "5", "--ties", "davidson", "--ci", "0.9"],
     dict(bootstrap=30, seed=5, ties="davidson", ci=0.9)),
    (["--bootstrap", "0", "--prior", "150"], dict(prior=150.0)),
])
def test_same_answer_as_arena_ratings_cli(tmp_path, cli_args, kwargs):
    cli = run_cli(tmp_path, *cli_args)
    board = prefopt.bradley_terry(*read_battles(), **kwargs)
    assert set(board) == set(cli)
    for model, row in board.items():
        # Same fit, same bootstrap draws; the JSON carries 17 significant digits.
        for key in ("rating", "ci_low", "ci_high"):
            assert row[key] == pytest.approx(cli[model][key], rel=1e-12, abs=1e-9), (model, key)
        if "--bootstrap" in cli_args and cli_args[cli_args.index("--bootstrap") + 1] == "0" \
                and "--ci" not in cli_args:
            # The normal interval is rating +- z se: the CLI's interval gives the standard error.
            se = (cli[model]["ci_high"] - cli[model]["ci_low"]) / (2 * Z95)
            assert row["se"] == pytest.approx(se, rel=1e-9)


def test_matches_fastchat_reference():
    board = prefopt.bradley_terry(*read_battles(), anchor=(ANCHOR, 1114.0))
    with open(REPO / "tests" / "reference" / "prefmodel" / "fastchat_reference.csv") as f:
        reference = list(csv.DictReader(f))
    assert len(reference) == len(board)
    for row in reference:
        # FastChat's L-BFGS stops at gtol 1e-6, a few thousandths of a rating point short of the
        # optimum that Newton reaches (the C++ test allows the same 1e-2).
        assert board[row["model"]]["rating"] == pytest.approx(float(row["rating_lbfgs"]), abs=1e-2)


def test_counts_give_the_same_fit_as_battles():
    a, b, w = read_battles()
    models = sorted(set(a) | set(b))
    index = {m: i for i, m in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    ties = np.zeros_like(wins)
    for x, y, r in zip(a, b, w):
        i, j = index[x], index[y]
        if r == "model_a":
            wins[i, j] += 1
        elif r == "model_b":
            wins[j, i] += 1
        else:
            ties[i, j] += 1
            ties[j, i] += 1
    from_counts = prefopt.bradley_terry_counts(models, torch.from_numpy(wins), ties)
    from_battles = prefopt.bradley_terry(a, b, w)
    for m in models:
        for key in ("rating", "se", "ci_low", "ci_high"):
            # Same likelihood, items and pairs in another order: agreement to solver precision.
            assert from_counts[m][key] == pytest.approx(from_battles[m][key], rel=1e-9)


def test_bradley_terry_bad_inputs():
    a, b, w = read_battles()
    with pytest.raises(ValueError, match=r"^winner\[2\]: unknown winner label 'draw'"):
        prefopt.bradley_terry(a[:3], b[:3], w[:2] + ["draw"])
    with pytest.raises(ValueError, match=r"^model_b\[1\]: self-battle"):
        prefopt.bradley_terry(["x", "y"], ["y", "y"], ["model_a", "model_b"])
    with pytest.raises(ValueError, match=r"^winner: has 2 entries, model_a has 3"):
        prefopt.bradley_terry(a[:3], b[:3], w[:2])
    with pytest.raises(ValueError, match=r"^ties: must be \"half\" or \"davidson\""):
        prefopt.bradley_terry(a, b, w, ties="rao")
    with pytest.raises(ValueError, match=r"^bootstrap: must be 0 .* or at least 2"):
        prefopt.bradley_terry(a, b, w, bootstrap=1)
    with pytest.raises(ValueError, match=r"^anchor: model 'nope' does not occur"):
        prefopt.bradley_terry(a, b, w, anchor=("nope", 1000.0))
    # x beat y and z: y and z never won (reported first by the O(pairs) estimability check).
    with pytest.raises(ValueError, match=r"items \{'y', 'z'\} never won or tied"):
        prefopt.bradley_terry(["x", "x"], ["y", "z"], ["model_a", "model_a"])
    with pytest.raises(ValueError, match=r"^model_a: no battles"):
        prefopt.bradley_terry([], [], [])
    with pytest.raises(ValueError, match=r"^wins: shape \(2, 2\) must be \(len\(models\), len\(models\)\)"):
        prefopt.bradley_terry_counts(["x", "y", "z"], np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"^wins: expected dtype float64, got int64"):
        prefopt.bradley_terry_counts(["x", "y"], np.ones((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"^models\[1\]: 'x' repeats models\[0\]"):
        prefopt.bradley_terry_counts(["x", "x"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^tie_counts\b|^ties = 1: the tie matrix must be symmetric"):
        prefopt.bradley_terry_counts(["x", "y"], np.array([[0.0, 1.0], [1.0, 0.0]]),
                                     np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"wins = 0.5: counts must be whole numbers"):
        prefopt.bradley_terry_counts(["x", "y"], np.array([[0.0, 0.5], [1.0, 0.0]]))


def lp_value_and_strategy(a):
    """Row player's maximin strategy of payoff a by SciPy's HiGHS: max v s.t. a^T x >= v."""
    m, n = a.shape
    c = np.zeros(m + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=np.hstack([-a.T, np.ones((n, 1))]), b_ub=np.zeros(n),
                  A_eq=np.hstack([np.ones((1, m)), np.zeros((1, 1))]), b_eq=[1.0],
                  bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert res.status == 0
    return res.x[-1], res.x[:m]


def test_nash_payoff_matches_scipy_linprog():
    a = uniform(3, (5, 5), -1, 1)
    strategy, value, exploitability = prefopt.nash(a, kind="payoff")
    v, x = lp_value_and_strategy(a)
    assert value == pytest.approx(v, abs=1e-9)
    np.testing.assert_allclose(strategy, x, atol=1e-8)
    assert 0 <= exploitability < 1e-9


def test_nash_preference_matrix():
    upper = uniform(4, (6, 6))
    p = np.triu(upper, 1) + np.tril(1 - upper.T, -1) + 0.5 * np.eye(6)
    strategy, value, exploitability = prefopt.nash(p)
    v, x = lp_value_and_strategy(p - 0.5)
    assert value == pytest.approx(0.5 + v, abs=1e-12) and value == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(strategy, x, atol=1e-8)
    assert exploitability < 1e-9
    # The iterative solvers approach the same equilibrium.
    s2, _, e2 = prefopt.nash(p, "optimistic", iters=20000, eta=0.5)
    assert e2 < 1e-3
    np.testing.assert_allclose(s2, x, atol=2e-2)


def test_nash_bad_inputs():
    with pytest.raises(ValueError, match=r"^P: must be a non-empty square matrix"):
        prefopt.nash(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"P\(0, 1\) \+ P\(1, 0\) = 1.2: must equal 1"):
        prefopt.nash(np.array([[0.5, 0.6], [0.6, 0.5]]))
    with pytest.raises(ValueError, match=r"^method: must be lp, hedge"):
        prefopt.nash(np.full((2, 2), 0.5), "simplex")
    with pytest.raises(ValueError, match=r"^P: expected dtype float64, got float32"):
        prefopt.nash(np.full((2, 2), 0.5, dtype=np.float32))
