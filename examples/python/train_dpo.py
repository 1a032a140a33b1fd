"""A minimal DPO training loop with prefopt.torch on a tiny model (single process, CPU):

    python3 examples/python/train_dpo.py [--steps 60] [--loss-type sigmoid]

Token logits -> prefopt.torch.sequence_logps (fused backward) -> prefopt.torch.preference_loss
(analytic gradient) -> torch autograd -> Adam. Prints the loss and TRL's metrics; the chosen
completions follow a learnable pattern, so rewards/accuracies climbs towards 1.
"""

import argparse
import os
import sys

import torch

import prefopt.torch as pt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_lm import TinyLM, preference_pairs  # noqa: E402

class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr, exit status 2."""

    def error(self, message):
        print(f"train_dpo: {message}", file=sys.stderr)
        sys.exit(2)

parser = _Parser()
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--pairs", type=int, default=16)
parser.add_argument("--loss-type", default="sigmoid")
parser.add_argument("--beta", type=float, default=0.1)
args = parser.parse_args()

policy = TinyLM(seed=1)
reference = TinyLM(seed=1).requires_grad_(False)
opt = torch.optim.Adam(policy.parameters(), lr=0.05)

for step in range(args.steps):
    ids, labels = preference_pairs(step, args.pairs, seed=1)
    n = args.pairs
    logps = pt.sequence_logps(policy(ids), labels)
    with torch.no_grad():
        ref = pt.sequence_logps(reference(ids), labels)
    tokens = (labels[:, 1:] != -100).sum(1).double()  # completion lengths (ipo, simpo, ...)
    loss, metrics = pt.preference_loss(logps[:n], logps[n:], ref[:n], ref[n:],
                                       loss_type=args.loss_type, beta=args.beta,
                                       chosen_tokens=tokens[:n], rejected_tokens=tokens[n:])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 10 == 0 or step == args.steps - 1:
        print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {metrics['rewards/accuracies']:.2f}"
              f"  margin {metrics['rewards/margins']:+.3f}")
