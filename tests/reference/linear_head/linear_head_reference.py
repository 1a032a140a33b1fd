#!/usr/bin/python3
"""Independent PyTorch (float64, autograd) reference for prefopt's fused linear head.

Writes fixtures/head.txt (whitespace-separated numbers, one block after another):

    N H V
    hidden      N rows of H     (float32-representable, so a float run reads the same inputs)
    weight      V rows of H     (as torch's nn.Linear(H, V).weight)
    labels      N               (already aligned with the hidden rows; -100 = ignored)
    grad_logp   N               (dL/dlogp)
    logp        N               log_softmax(hidden @ weight.T).gather(labels), 0 where ignored
    grad_hidden N rows of H     autograd of sum_n grad_logp[n] * logp[n]
    grad_weight V rows of H

The rows are large-norm on purpose for one token (logits of a few hundred), and two labels are
ignored. Regenerate with Debian's interpreter (python3-torch):

    /usr/bin/python3 tests/reference/linear_head/linear_head_reference.py
"""

import os

import torch

N, H, V = 7, 5, 13


def main():
    g = torch.Generator().manual_seed(15)
    hidden = torch.randn(N, H, generator=g, dtype=torch.float32)
    hidden[3] *= 60.0  # logits of a few hundred: the max shift matters
    weight = (torch.randn(V, H, generator=g, dtype=torch.float32) / H ** 0.5).to(torch.float32)
    labels = torch.randint(0, V, (N,), generator=g)
    labels[1] = -100
    labels[5] = -100
    grad_logp = torch.linspace(-1.5, 2.0, N, dtype=torch.float64)

    h = hidden.double().requires_grad_(True)
    w = weight.double().requires_grad_(True)
    keep = labels != -100
    lp = torch.log_softmax(h @ w.t(), dim=-1).gather(-1, labels.clamp(min=0)[:, None]).squeeze(-1)
    lp = torch.where(keep, lp, torch.zeros_like(lp))
    (lp * grad_logp).sum().backward()

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "head.txt")
    with open(out, "w") as f:
        f.write(f"{N} {H} {V}\n")

        def rows(t):
            for r in t.reshape(-1, t.shape[-1]).tolist():
                f.write(" ".join(repr(float(x)) for x in r) + "\n")

        rows(hidden.double())
        rows(weight.double())
        f.write(" ".join(str(int(y)) for y in labels.tolist()) + "\n")
        rows(grad_logp[None])
        rows(lp.detach()[None])
        rows(h.grad)
        rows(w.grad)


if __name__ == "__main__":
    main()
