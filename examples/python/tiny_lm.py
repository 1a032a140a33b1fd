"""A tiny causal language model and synthetic preference pairs for the Python examples.

The model is deliberately small (a token embedding, a one-token context mix and a vocabulary
projection) so the examples run in seconds on a CPU; what they show is the plumbing: logits ->
prefopt.torch.sequence_logps -> prefopt.torch.preference_loss -> autograd -> optimiser.
"""

import torch

IGNORE_INDEX = -100


class TinyLM(torch.nn.Module):
    def __init__(self, vocab=32, hidden=16, seed=0, dtype=torch.float64):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.embed = torch.nn.Parameter(0.5 * torch.randn(vocab, hidden, generator=g, dtype=dtype))
        self.mix = torch.nn.Parameter(0.5 * torch.randn(hidden, hidden, generator=g, dtype=dtype))
        self.out = torch.nn.Parameter(0.5 * torch.randn(hidden, vocab, generator=g, dtype=dtype))

    def forward(self, ids):
        """logits [batch, time, vocab]: position t sees tokens t and t - 1."""
        e = self.embed[ids]
        prev = torch.cat([torch.zeros_like(e[:, :1]), e[:, :-1]], dim=1)
        return torch.tanh(e + prev @ self.mix) @ self.out


def preference_pairs(step, pairs, prompt=4, completion=6, vocab=32, seed=0):
    """The global batch of step `step`: (ids, labels) for chosen then rejected, [2 * pairs, T].

    Chosen completions count upwards from the last prompt token (a pattern the model can learn);
    rejected ones are random. Prompt positions are labelled -100. Every rank builds the same
    global batch from the same seed and keeps its own shard.
    """
    g = torch.Generator().manual_seed(seed * 100003 + step)
    p = torch.randint(0, vocab, (pairs, prompt), generator=g)
    up = (p[:, -1:] + torch.arange(1, completion + 1)) % vocab
    rand = torch.randint(0, vocab, (pairs, completion), generator=g)
    ids = torch.cat([torch.cat([p, up], 1), torch.cat([p, rand], 1)], 0)
    labels = ids.clone()
    labels[:, :prompt] = IGNORE_INDEX
    return ids, labels
