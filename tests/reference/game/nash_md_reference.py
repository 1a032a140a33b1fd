#!/usr/bin/python3
"""Independent numpy/scipy reference for the KL-regularised equilibria prefopt's nash_md targets.

The zero-sum game of prefopt (row player maximises x^T A y) regularised towards references
mu_x, mu_y with weight lam > 0:

    f(x, y) = x^T A y - lam KL(x || mu_x) + lam KL(y || mu_y).

f is strictly concave in x and strictly convex in y, so the saddle point is unique. Setting the
gradients of the Lagrangian to zero gives the regularised best responses

    x = softmax(log mu_x + A y / lam),      y = softmax(log mu_y - A^T x / lam),

on the supports of mu_x and mu_y (an entry with mu = 0 is 0). This script solves these
fixed-point equations with scipy.optimize.root (MINPACK's hybrd, from the uniform profile), then
polishes with Newton steps on an analytic Jacobian, and certifies the result: the residual times
the condition number of the Jacobian bounds the distance to the true root to first order, and the
regularised duality gap

    gap(x, y) = max_x' f(x', y) - min_y' f(x, y')
              = lam log sum_i mu_x,i exp((A y)_i / lam) + lam KL(x || mu_x)
              + lam log sum_j mu_y,j exp(-(A^T x)_j / lam) + lam KL(y || mu_y)

(>= 0, zero only at the saddle point) is checked to vanish to rounding. Symmetric preference games
(A = P - 1/2, skew-symmetric) with mu_x = mu_y have a symmetric saddle point, checked here.
No prefopt code is used.

Writes fixtures/nash_md_equilibria.csv, one game per line:

    name,symmetric,m,n,lambda,M_0..M_{mn-1},mu_x_0..mu_x_{m-1},mu_y_0..mu_y_{n-1},x_0..,y_0..

M is the preference matrix P when symmetric = 1 (the C++ test builds A = P - 1/2 with
matrix_game::from_preferences) and the payoff A otherwise. Regenerate with Debian's interpreter:

    /usr/bin/python3 tests/reference/game/nash_md_reference.py
"""

import os

import numpy as np
from scipy.optimize import root
from scipy.special import logsumexp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "nash_md_equilibria.csv")


def softmax_on_support(logits, mu):
    """softmax(log mu + logits) with exact zeros where mu = 0."""
    out = np.zeros_like(logits)
    s = mu > 0
    z = np.log(mu[s]) + logits[s]
    z -= z.max()
    out[s] = np.exp(z) / np.exp(z).sum()
    return out


def residual(z, A, mux, muy, lam):
    m, _ = A.shape
    x, y = z[:m], z[m:]
    return np.concatenate([x - softmax_on_support(A @ y / lam, mux),
                           y - softmax_on_support(-A.T @ x / lam, muy)])


def jacobian(z, A, mux, muy, lam):
    """d residual / d z: I - [[0, J_x A / lam], [-J_y A^T / lam, 0]], J = diag(p) - p p^T."""
    m, n = A.shape
    x, y = z[:m], z[m:]
    bx = softmax_on_support(A @ y / lam, mux)
    by = softmax_on_support(-A.T @ x / lam, muy)
    jx = np.diag(bx) - np.outer(bx, bx)
    jy = np.diag(by) - np.outer(by, by)
    J = np.eye(m + n)
    J[:m, m:] -= jx @ A / lam
    J[m:, :m] += jy @ A.T / lam
    return J


def regularised_gap(x, y, A, mux, muy, lam):
    """max_x' f(x', y) - min_y' f(x, y') written term by term from the definition of f."""
    def kl(p, q):
        s = p > 0
        return float(np.sum(p[s] * (np.log(p[s]) - np.log(q[s]))))

    def best(g, mu):  # max_p <p, g> - lam KL(p || mu) = lam log sum mu exp(g / lam)
        s = mu > 0
        return lam * logsumexp(g[s] / lam + np.log(mu[s]))
    return best(A @ y, mux) + lam * kl(y, muy) + best(-A.T @ x, muy) + lam * kl(x, mux)


def solve(A, mux, muy, lam):
    m, n = A.shape
    z0 = np.concatenate([np.full(m, 1.0 / m), np.full(n, 1.0 / n)])
    sol = root(residual, z0, args=(A, mux, muy, lam), jac=jacobian, method="hybr",
               options={"xtol": 1e-15})
    # hybrd reports "xtol too small" when it stops at machine precision; the certificate below
    # (residual x condition number, duality gap) decides whether the root is good.
    assert sol.success or "xtol" in sol.message, sol.message
    z = sol.x
    for _ in range(3):  # Newton polish
        z = z - np.linalg.solve(jacobian(z, A, mux, muy, lam), residual(z, A, mux, muy, lam))
    r = np.abs(residual(z, A, mux, muy, lam)).max()
    cond = np.linalg.cond(jacobian(z, A, mux, muy, lam))
    x, y = z[:m], z[m:]
    gap = regularised_gap(x, y, A, mux, muy, lam)
    # First-order error bound ||z - z*|| <= cond * ||F(z)||; the fixture is used at 1e-8.
    assert r * cond < 1e-12, (r, cond)
    assert abs(gap) < 1e-13, gap
    assert np.all(x >= 0) and np.all(y >= 0)
    assert abs(x.sum() - 1) < 1e-14 and abs(y.sum() - 1) < 1e-14
    assert np.all(x[mux == 0] == 0) and np.all(y[muy == 0] == 0)
    return x, y, r, cond, gap


def weighted_rps(a, b, c):
    """The same weighted rock-paper-scissors as tests/game/oracles.hpp."""
    p = np.full((3, 3), 0.5)
    for i, j, w in ((0, 2, a), (1, 0, b), (2, 1, c)):
        p[i, j], p[j, i] = 0.5 + w / 2, 0.5 - w / 2
    return p


def random_preferences(n, rng):
    p = np.full((n, n), 0.5)
    for i in range(n):
        for j in range(i + 1, n):
            v = rng.uniform()
            p[i, j], p[j, i] = v, 1.0 - v
    return p


def cases():
    rng = np.random.default_rng(20261202)
    # Symmetric preference games: (name, P, mu, lambda).
    yield "rps_weighted", True, weighted_rps(0.2, 0.5, 1.0), np.array([0.5, 0.3, 0.2]), None, 0.1
    yield ("random5_mu_zero", True, random_preferences(5, rng),
           np.array([0.3, 0.25, 0.2, 0.25, 0.0]), None, 0.05)
    theta = np.array([0.0, 0.7, 1.5, -0.4])  # Bradley-Terry: transitive, pure unregularised NE
    bt = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    yield "bradley_terry4", True, bt, np.array([0.1, 0.2, 0.3, 0.4]), None, 0.2
    # General zero-sum games with separate references.
    yield ("general_3x4", False, rng.uniform(-1, 1, size=(3, 4)), np.array([0.2, 0.5, 0.3]),
           np.array([0.1, 0.2, 0.3, 0.4]), 0.3)
    yield ("general_2x5_strong", False, rng.uniform(-1, 1, size=(2, 5)), np.array([0.5, 0.5]),
           np.array([0.3, 0.1, 0.0, 0.2, 0.4]), 1.0)


def main():
    lines = ["# written by tests/reference/game/nash_md_reference.py; see its docstring"]
    for name, symmetric, M, mux, muy, lam in cases():
        A = M - 0.5 if symmetric else M
        if muy is None:
            muy = mux
        x, y, r, cond, gap = solve(A, mux, muy, lam)
        if symmetric:
            assert np.abs(x - y).max() < 1e-14
        m, n = A.shape
        print(f"{name}: residual {r:.1e}, cond {cond:.1f}, gap {gap:.1e}, x {np.round(x, 6)}")
        cells = [name, str(int(symmetric)), str(m), str(n), repr(lam)]
        cells += [repr(float(v)) for v in np.concatenate([M.ravel(), mux, muy, x, y])]
        lines.append(",".join(cells))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
