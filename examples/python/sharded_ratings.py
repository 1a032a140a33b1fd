"""Arena Bradley-Terry ratings from a battle log sharded over torch.distributed ranks:

    python3 -m torch.distributed.run --standalone --nproc_per_node 2 \\
        examples/python/sharded_ratings.py examples/arena_ratings/data/battles.csv --json out.json

Rank r keeps the battles on lines r, r + W, r + 2W, ... of the log (W ranks). The Bradley-Terry
likelihood depends on the battles only through the pair counts -- wins[i, j] (i beat j) and
ties[i, j] -- so these sufficient statistics are summed over the ranks with all_reduce and rank 0
fits them. Integer counts in float64 add exactly in any order, so the ratings are bit for bit
those of a single process on the whole log (python/tests/test_examples.py checks ==). The model
list is the sorted union of every shard's names (all_gather_object). Without torchrun it runs as
one process. CSV with header model_a,model_b,winner. Exit status 2 on bad input.
"""

import csv
import json
import os
import sys

import torch
import torch.distributed as dist

import prefopt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli  # noqa: E402
import ranks  # noqa: E402


def read_shard(path, rank, world):
    """(model_a, model_b, winner) of this rank's lines; exits 2 naming the line on bad rows."""
    a, b, w = [], [], []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"model_a", "model_b", "winner"} - set(reader.fieldnames or [])
            if missing:
                fail(f"{path}:1: missing column(s) {', '.join(sorted(missing))}")
            for k, row in enumerate(reader):
                if k % world != rank:
                    continue
                line = reader.line_num
                if row["winner"] not in ("model_a", "model_b", "tie", "tie (bothbad)"):
                    fail(f"{path}:{line}: unknown winner label '{row['winner']}'")
                if not row["model_a"] or not row["model_b"] or row["model_a"] == row["model_b"]:
                    fail(f"{path}:{line}: model_a and model_b must be two different names")
                a.append(row["model_a"])
                b.append(row["model_b"])
                w.append(row["winner"])
    except OSError as e:
        fail(f"cannot open {path}: {e.strerror}")
    return a, b, w


def fail(message):
    cli.fail("sharded_ratings", message)


def main():
    parser = cli.OneLineParser(prog="sharded_ratings", description=__doc__.split("\n\n")[0])
    parser.add_argument("battles")
    parser.add_argument("--bootstrap", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ties", choices=["half", "davidson"], default="half")
    parser.add_argument("--json", help="write {model: {rating, se, ci_low, ci_high}} here (rank 0)")
    args = parser.parse_args()

    distributed, rank, world = ranks.init()

    a, b, w = read_shard(args.battles, rank, world)
    names = set(a) | set(b)
    if distributed:
        gathered = [None] * world
        dist.all_gather_object(gathered, sorted(names))
        names = set().union(*gathered)
    models = sorted(names)
    index = {m: i for i, m in enumerate(models)}

    # Sufficient statistics of this shard, then summed over the ranks: one scatter-add per
    # outcome (a tie counts for both orders of the pair).
    n = len(models)
    wins = torch.zeros(n, n, dtype=torch.float64)
    ties = torch.zeros(n, n, dtype=torch.float64)
    ia = torch.tensor([index[x] for x in a], dtype=torch.long)
    ib = torch.tensor([index[y] for y in b], dtype=torch.long)
    won_a = torch.tensor([r == "model_a" for r in w], dtype=torch.bool)
    won_b = torch.tensor([r == "model_b" for r in w], dtype=torch.bool)
    tied = ~(won_a | won_b)
    one = torch.ones(len(a), dtype=torch.float64)
    wins.index_put_((ia[won_a], ib[won_a]), one[won_a], accumulate=True)
    wins.index_put_((ib[won_b], ia[won_b]), one[won_b], accumulate=True)
    ties.index_put_((ia[tied], ib[tied]), one[tied], accumulate=True)
    ties.index_put_((ib[tied], ia[tied]), one[tied], accumulate=True)
    if distributed:
        dist.all_reduce(wins)
        dist.all_reduce(ties)

    if rank == 0:
        try:
            board = prefopt.bradley_terry_counts(models, wins, ties, ties=args.ties,
                                                 bootstrap=args.bootstrap, seed=args.seed)
        except ValueError as e:
            fail(str(e))
        battles = int(wins.sum().item() + ties.sum().item() / 2)
        print(f"Bradley-Terry ratings ({battles} battles over {world} rank(s), {n} models)")
        for model, row in sorted(board.items(), key=lambda kv: -kv[1]["rating"]):
            print(f"  {model:40s} {row['rating']:8.1f}  [{row['ci_low']:.1f}, {row['ci_high']:.1f}]")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(board, f, indent=1, sort_keys=True)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
