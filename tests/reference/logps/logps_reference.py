#!/usr/bin/python3
"""Independent PyTorch (float64, autograd) reference for prefopt's sequence log-probs.

For each case writes, under fixtures/:

    cases.csv             case,batch,time,vocab,shift,mask,ignore_index
    <case>.tokens.csv     one row per (b, t), row b * time + t:
                          label,mask,logp,x_0..x_{V-1}
                          x: the logits (float32-representable values, so a float backend reads
                          exactly the reference's inputs; some -inf on tokens that are never a
                          label), label (-100 = ignored), mask (1 if the mask is not used), logp:
                          the token log-prob of the position (0 where not counted, and for the
                          last position under the shift, which predicts nothing)
    <case>.sequences.csv  one row per sequence: sum,count,mean,w_sum,w_mean
    <case>.grad.csv       one row per (b, t): g_0..g_{V-1}, the autograd gradient of
                          sum_b (w_sum_b * sum_b + w_mean_b * mean_b) with respect to the logits

The log-probs follow HF TRL's DPOTrainer.get_batch_logps: under the causal-LM shift
labels[:, 1:] and logits[:, :-1]; loss_mask = (labels != ignore_index) & completion mask;
log_softmax, gather at the label (ignored labels set to 0 first), times the mask, summed over
time; the mean divides by the number of counted tokens.

Regenerate with Debian's interpreter (python3-torch):

    /usr/bin/python3 tests/reference/logps/logps_reference.py
"""

import os

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
IGNORE = -100

# name, batch, time, vocab, shift, mask, seed
CASES = [
    ("shift_mask", 3, 6, 13, True, True, 1),
    ("shift_nomask", 2, 5, 70, True, False, 2),
    ("noshift_mask", 2, 4, 29, False, True, 3),
]


def fmt(v):
    v = float(v)
    if v == float("-inf"):
        return "-inf"
    return repr(v)


def make_case(batch, time, vocab, shift, use_mask, seed):
    gen = torch.Generator().manual_seed(seed)
    # float32-representable logits
    x = (4.0 * torch.randn(batch, time, vocab, generator=gen)).float().double()
    labels = torch.randint(0, vocab, (batch, time), generator=gen)
    ignored = torch.rand(batch, time, generator=gen) < 0.2
    labels[ignored] = IGNORE
    mask = (torch.rand(batch, time, generator=gen) < 0.7).long() if use_mask else torch.ones(batch, time, dtype=torch.long)
    # every sequence keeps its last predicted label counted
    for b in range(batch):
        labels[b, time - 1] = (7 * b + 3) % vocab
        mask[b, time - 1] = 1
    # -inf on tokens that are never a label of that sequence
    for b in range(batch):
        used = set(int(v) for v in labels[b] if v != IGNORE)
        for t in range(time):
            for k in range(0, vocab, 5):
                if k not in used and (k + t + b) % 2 == 0:
                    x[b, t, k] = float("-inf")
    w_sum = (torch.rand(batch, generator=gen) * 2 - 1).float().double()
    w_mean = (torch.rand(batch, generator=gen) * 2 - 1).float().double()
    return x, labels, mask, w_sum, w_mean


def batch_logps(x, labels, mask, shift):
    """TRL get_batch_logps, with the completion mask and the mean."""
    if shift:
        labels = labels[:, 1:].clone()
        mask = mask[:, 1:]
        logits = x[:, :-1, :]
    else:
        labels = labels.clone()
        logits = x
    loss_mask = (labels != IGNORE) & (mask != 0)
    labels[labels == IGNORE] = 0
    per_token = torch.gather(logits.log_softmax(-1), dim=2, index=labels.unsqueeze(2)).squeeze(2)
    per_token = torch.where(loss_mask, per_token, torch.zeros_like(per_token))
    total = per_token.sum(-1)
    count = loss_mask.sum(-1).double()
    return per_token, total, count, total / count


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = ["case,batch,time,vocab,shift,mask,ignore_index"]
    for name, batch, time, vocab, shift, use_mask, seed in CASES:
        x, labels, mask, w_sum, w_mean = make_case(batch, time, vocab, shift, use_mask, seed)
        xg = x.clone().requires_grad_(True)
        per_token, total, count, mean = batch_logps(xg, labels, mask, shift)
        objective = (w_sum * total + w_mean * mean).sum()
        (grad,) = torch.autograd.grad(objective, xg)
        assert torch.isfinite(grad).all() and torch.isfinite(total).all()
        lines.append(f"{name},{batch},{time},{vocab},{int(shift)},{int(use_mask)},{IGNORE}")
        tok = ["label,mask,logp," + ",".join(f"x_{k}" for k in range(vocab))]
        grd = [",".join(f"g_{k}" for k in range(vocab))]
        for b in range(batch):
            for t in range(time):
                p = t if (not shift or t < time - 1) else None
                logp = 0.0 if p is None else per_token[b, p].item()
                tok.append(f"{int(labels[b, t])},{int(mask[b, t])},{fmt(logp)}," +
                           ",".join(fmt(v) for v in x[b, t]))
                grd.append(",".join(fmt(v) for v in grad[b, t]))
        seq = ["sum,count,mean,w_sum,w_mean"]
        for b in range(batch):
            seq.append(",".join(fmt(v) for v in (total[b], count[b], mean[b], w_sum[b], w_mean[b])))
        for suffix, rows in (("tokens", tok), ("sequences", seq), ("grad", grd)):
            with open(os.path.join(OUT, f"{name}.{suffix}.csv"), "w") as f:
                f.write("\n".join(rows) + "\n")
    with open(os.path.join(OUT, "cases.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
