"""The Python examples, run as a user runs them: train_dpo.py, and the two torch.distributed
examples with 2 processes (torchrun over gloo) against 1 process on the full data."""

import json
import os
import re
import subprocess
import sys

import pytest
import torch

import prefopt

from conftest import REPO

EXAMPLES = REPO / "examples" / "python"
BATTLES = REPO / "examples" / "arena_ratings" / "data" / "battles.csv"
# Debian 12's torch 1.13 on Python 3.11 cannot parse torchrun's default "--redirects 0" (3.11's
# IntFlag no longer lists the zero member); "1" (stdout, teed to the console) works everywhere.
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--redirects", "1",
            "--tee", "1"]


def run(args, expect_rc=0):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == expect_rc, p.stdout + p.stderr
    return p


def test_train_dpo_learns_the_preference():
    out = run([sys.executable, str(EXAMPLES / "train_dpo.py"), "--steps", "40"]).stdout
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", out)]
    accuracy = [float(x) for x in re.findall(r"accuracy (\d+\.\d+)", out)]
    assert losses[0] == pytest.approx(0.6931, abs=1e-4)   # policy = reference: log 2 = 0.693147
    assert losses[-1] < 0.1 and accuracy[-1] == 1.0


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-5)])
def test_ddp_two_ranks_match_one_rank_on_the_full_batch(tmp_path, dtype, tolerance):
    common = [str(EXAMPLES / "ddp_dpo.py"), "--steps", "12", "--pairs", "8", "--dtype", dtype]
    run([sys.executable, *common, "--out", str(tmp_path / "one.pt")])
    two = run([*TORCHRUN, "--nproc_per_node", "2", *common, "--out", str(tmp_path / "two.pt")])
    assert "step  11" in two.stdout
    a, b = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert set(a) == {"embed", "mix", "out"}
    for k in a:
        # DDP averages two half-batch mean gradients; 1 rank takes the full-batch mean: equal up
        # to summation order (float64: ~1e-16 per step).
        assert (a[k] - b[k]).abs().max().item() <= tolerance, k
    # The comparison is not vacuous: 12 steps moved the weights far beyond the tolerance.
    run([sys.executable, *common, "--steps", "1", "--out", str(tmp_path / "step1.pt")])
    assert (torch.load(tmp_path / "step1.pt")["out"] - a["out"]).abs().max().item() > 1e-3


def test_ddp_rejects_a_batch_that_does_not_split(tmp_path):
    p = run([*TORCHRUN, "--nproc_per_node", "2", str(EXAMPLES / "ddp_dpo.py"), "--pairs", "7"],
            expect_rc=1)  # torchrun reports its workers' exit status 2 as a failure
    assert "--pairs 7 must be a positive multiple of the world size 2" in p.stdout + p.stderr


def test_sharded_ratings_equal_the_single_process_fit_exactly(tmp_path):
    script = str(EXAMPLES / "sharded_ratings.py")
    run([sys.executable, script, str(BATTLES), "--json", str(tmp_path / "one.json")])
    two = run([*TORCHRUN, "--nproc_per_node", "2", script, str(BATTLES), "--json",
               str(tmp_path / "two.json")])
    assert "2000 battles over 2 rank(s)" in two.stdout
    one = json.loads((tmp_path / "one.json").read_text())
    sharded = json.loads((tmp_path / "two.json").read_text())
    # Integer counts add exactly in any order, so the fit sees identical input: == on purpose.
    assert one == sharded
    # And it is the Bradley-Terry fit of the raw battles (another item and pair order).
    import csv
    with open(BATTLES, newline="") as f:
        rows = list(csv.DictReader(f))
    direct = prefopt.bradley_terry([r["model_a"] for r in rows], [r["model_b"] for r in rows],
                                   [r["winner"] for r in rows])
    for model, row in direct.items():
        assert one[model]["rating"] == pytest.approx(row["rating"], rel=1e-9)
        assert one[model]["se"] == pytest.approx(row["se"], rel=1e-9)


def test_sharded_ratings_bad_input_exits_2_naming_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\na,b,model_a\nb,c,model_c\n")
    p = run([sys.executable, str(EXAMPLES / "sharded_ratings.py"), str(bad)], expect_rc=2)
    assert p.stderr.strip() == f"sharded_ratings: {bad}:3: unknown winner label 'model_c'"
    p = run([sys.executable, str(EXAMPLES / "sharded_ratings.py"), str(tmp_path / "none.csv")],
            expect_rc=2)
    assert "cannot open" in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("script, args, message", [
    ("sharded_ratings.py", ["--bootstrap", "x"], "sharded_ratings: argument --bootstrap: invalid int value: 'x'"),
    ("ddp_dpo.py", ["--dtype", "float16"], "ddp_dpo: argument --dtype: invalid choice: 'float16'"),
    ("train_dpo.py", ["--steps"], "train_dpo: argument --steps: expected one argument"),
])
def test_bad_arguments_exit_2_with_one_line(script, args, message):
    p = run([sys.executable, str(EXAMPLES / script), *args], expect_rc=2)
    assert p.stderr.startswith(message) and p.stderr.count("\n") == 1, p.stderr
