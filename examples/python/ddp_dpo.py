"""DPO with prefopt under DistributedDataParallel (gloo, CPU), e.g. 2 processes on one machine:

    python3 -m torch.distributed.run --standalone --nproc_per_node 2 \\
        examples/python/ddp_dpo.py --steps 20 --pairs 8 --out params.pt

Each rank takes its contiguous shard of every global batch of --pairs preference pairs, computes
sequence log-probs with prefopt.torch.sequence_logps (prefopt's fused backward) and the DPO loss
with prefopt.torch.preference_loss (reduction "mean" over its shard). DDP averages the gradients
over the ranks, so with equal shards the update is the one of the mean loss over the global batch:
2 ranks reach the same parameters as 1 rank up to floating-point summation order
(python/tests/test_examples.py checks 1e-10 in float64). Rank 0 prints the loss and metrics and
saves the final parameters with torch.save. Exit status 2 on bad arguments.
"""

import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import prefopt
import prefopt.torch as pt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli  # noqa: E402
import ranks  # noqa: E402
from tiny_lm import TinyLM, preference_pairs  # noqa: E402


def main():
    parser = cli.OneLineParser(prog="ddp_dpo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=8, help="global batch size (pairs)")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--loss-type", default="sigmoid")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="torch.save the final parameters here (rank 0)")
    args = parser.parse_args()

    distributed, rank, world = ranks.init()
    if args.steps < 1 or args.pairs < 1 or args.pairs % world != 0:
        if rank == 0:
            print(f"ddp_dpo: --pairs {args.pairs} must be a positive multiple of the world size "
                  f"{world}, --steps >= 1", file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)

    policy = TinyLM(seed=args.seed, dtype=dtype)
    reference = TinyLM(seed=args.seed, dtype=dtype).requires_grad_(False)
    model = DistributedDataParallel(policy) if distributed else policy
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    shard = args.pairs // world
    lo, hi = rank * shard, (rank + 1) * shard

    for step in range(args.steps):
        ids, labels = preference_pairs(step, args.pairs, seed=args.seed)
        n = args.pairs
        # This rank's pairs: chosen rows lo..hi, rejected rows n+lo..n+hi, one forward for both.
        mine = torch.cat([torch.arange(lo, hi), torch.arange(n + lo, n + hi)])
        ids, labels = ids[mine], labels[mine]
        logps = pt.sequence_logps(model(ids), labels, threads=1)
        with torch.no_grad():
            ref, _, _ = prefopt.sequence_logps(reference(ids), labels, threads=1)
        ref = torch.from_numpy(ref)
        loss, metrics = pt.preference_loss(logps[:shard], logps[shard:], ref[:shard], ref[shard:],
                                           loss_type=args.loss_type, beta=args.beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if distributed:  # for the log only: the global mean loss
            loss = loss.detach().clone()
            dist.all_reduce(loss)
            loss /= world
        if rank == 0 and (step % 5 == 0 or step == args.steps - 1):
            print(f"step {step:3d}  loss {loss.item():.6f}  "
                  f"rewards/margins {metrics['rewards/margins']:+.5f} (rank 0 shard)", flush=True)

    if rank == 0 and args.out:
        torch.save({k: v.detach() for k, v in policy.state_dict().items()}, args.out)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
