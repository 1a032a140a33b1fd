#!/usr/bin/python3
"""SciPy reference for the sparse Bradley-Terry path (tests/prefmodel/sparse_bt.cpp).

Generates a sparse comparison graph (n = 300 items, 2500 distinct random pairs, 1-6 battles per
pair, 10% ties, battle weights 0.5 / 1 / 2) and solves the half-win-tie Bradley-Terry MLE and MAP
by a plain Newton iteration written from the definition with scipy.sparse: the negative Hessian is
the Laplacian L_h with h = (a + b) p (1 - p), and each step is spsolve() on it (without a prior the
last item is pinned, which the singular direction (1, ..., 1) allows; the result is then centred).
Standard errors come from the dense Moore-Penrose pseudo-inverse (numpy.linalg.pinv) of the
information at the optimum (MLE), or its inverse (MAP).

Writes
  sparse_bt_pairs.csv      i,j,wins_i,wins_j,ties   (weighted totals, %.17g)
  sparse_bt_reference.csv  variant,item,theta,std_error   variants: mle (sum to zero), map (sigma 0.7)

Usage: /usr/bin/python3 tests/reference/prefmodel/sparse_bt_reference.py
"""
import os

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.special import expit, log_expit

HERE = os.path.dirname(os.path.abspath(__file__))
N, PAIRS, SIGMA = 300, 2500, 0.7


def generate(rng):
    theta = rng.uniform(-2.0, 2.0, size=N)
    keys = set()
    while len(keys) < PAIRS:
        i, j = rng.integers(0, N, size=2)
        if i != j:
            keys.add((min(i, j), max(i, j)))
    rows = []
    for i, j in sorted(keys):
        wi = wj = t = 0.0
        for _ in range(rng.integers(1, 7)):
            w = rng.choice([0.5, 1.0, 2.0])
            u = rng.random()
            if u < 0.1:
                t += w
            elif rng.random() < expit(theta[i] - theta[j]):
                wi += w
            else:
                wj += w
        rows.append((i, j, wi, wj, t))
    return np.array(rows)


def newton(pairs, lam):
    i, j = pairs[:, 0].astype(int), pairs[:, 1].astype(int)
    a = pairs[:, 2] + 0.5 * pairs[:, 4]
    b = pairs[:, 3] + 0.5 * pairs[:, 4]
    x = np.zeros(N)

    def parts(x):
        d = x[i] - x[j]
        p = expit(d)
        gp = a - (a + b) * p
        h = (a + b) * p * (1 - p)
        g = np.bincount(i, gp, N) - np.bincount(j, gp, N) - lam * x
        off = sp.coo_matrix((-h, (i, j)), shape=(N, N))
        deg = np.bincount(i, h, N) + np.bincount(j, h, N) + lam
        info = (off + off.T + sp.diags(deg)).tocsc()
        ll = np.sum(a * log_expit(d) + b * log_expit(-d))
        return ll, g, info

    for _ in range(100):
        _, g, info = parts(x)
        if lam == 0:
            step = np.zeros(N)
            step[:-1] = spsolve(info[:-1, :-1], g[:-1])
        else:
            step = spsolve(info, g)
        x = x + step
        if np.max(np.abs(step)) < 1e-14 * (1 + np.max(np.abs(x))):
            break
    if lam == 0:
        x -= x.mean()
    _, g, info = parts(x)
    assert np.max(np.abs(g)) < 1e-9, np.max(np.abs(g))
    dense = info.toarray()
    cov = np.linalg.pinv(dense) if lam == 0 else np.linalg.inv(dense)
    return x, np.sqrt(np.diag(cov))


def main():
    rng = np.random.default_rng(20261202)
    pairs = generate(rng)
    # every item must have won and lost something for the MLE to exist
    won = np.bincount(pairs[:, 0].astype(int), pairs[:, 2] + pairs[:, 4], N) + \
        np.bincount(pairs[:, 1].astype(int), pairs[:, 3] + pairs[:, 4], N)
    lost = np.bincount(pairs[:, 0].astype(int), pairs[:, 3] + pairs[:, 4], N) + \
        np.bincount(pairs[:, 1].astype(int), pairs[:, 2] + pairs[:, 4], N)
    assert won.min() > 0 and lost.min() > 0
    with open(os.path.join(HERE, "sparse_bt_pairs.csv"), "w") as f:
        f.write("i,j,wins_i,wins_j,ties\n")
        for i, j, wi, wj, t in pairs:
            f.write(f"{int(i)},{int(j)},{wi:.17g},{wj:.17g},{t:.17g}\n")
    with open(os.path.join(HERE, "sparse_bt_reference.csv"), "w") as f:
        f.write("variant,item,theta,std_error\n")
        for name, lam in (("mle", 0.0), ("map", 1.0 / SIGMA**2)):
            x, se = newton(pairs, lam)
            for k in range(N):
                f.write(f"{name},{k},{x[k]:.17g},{se[k]:.17g}\n")


if __name__ == "__main__":
    main()
