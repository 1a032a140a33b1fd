#!/usr/bin/python3
"""Regenerates docs/img/games_exploitability.png: exploitability vs iteration of every iterative
solver (last and averaged iterate) as printed by the nash CLI (--trace-every).

Usage: /usr/bin/python3 docs/games_plots.py [PATH/TO/nash]   (default build/examples/nash/nash)
"""
import json
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NASH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "examples", "nash", "nash")
ITERS, EVERY = 10000, 25
METHODS = [("hedge", "tab:red"), ("optimistic", "tab:blue"), ("extragradient", "tab:green")]


def random_preferences(n, seed):
    rng = np.random.default_rng(seed)
    p = np.triu(rng.uniform(size=(n, n)), 1)
    p = p + np.tril(1.0 - p.T, -1)
    np.fill_diagonal(p, 0.5)
    return p


def run(csv, method, eta):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        args = [NASH, csv, "--method", method, "--iters", str(ITERS), "--eta", str(eta),
                "--trace-every", str(EVERY), "--json", out]
        subprocess.run(args, check=True, capture_output=True)
        with open(out) as f:
            return json.load(f)


def panel(ax, csv, eta, title):
    floor = 1e-17
    for method, color in METHODS:
        r = run(csv, method, eta)
        it = np.maximum(np.array(r["trace_iteration"]), 1)
        wide = 3.0 if method == "optimistic" else 1.2  # OMWU and mirror prox nearly coincide
        ax.loglog(it, np.maximum(r["trace_last"], floor), color=color, lw=wide, alpha=0.8,
                  label=f"{method} (last)")
        ax.loglog(it, np.maximum(r["trace_average"], floor), color=color, lw=wide, ls="--", alpha=0.8,
                  label=f"{method} (average)")
    lp = subprocess.run([NASH, csv, "--json", os.devnull], check=True, capture_output=True, text=True).stdout
    e_lp = float(lp.split("exploitability: ")[1].split()[0])
    ax.axhline(max(e_lp, floor), color="k", lw=0.8, ls=":", label=f"LP (simplex): {e_lp:.1e}")
    ax.set_title(title)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("exploitability  max_y P(y ≻ π) − ½")
    ax.grid(True, which="both", alpha=0.3)


def main():
    if not os.path.exists(NASH):
        sys.exit(f"missing {NASH}: build the nash example first")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    panel(axes[0], os.path.join(ROOT, "examples", "nash", "data", "weighted_rps.csv"), 0.5,
          "weighted rock-paper-scissors (n = 3), η = 0.5")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        np.savetxt(f, random_preferences(100, 100), delimiter=",", fmt="%.17g")
        path = f.name
    try:
        panel(axes[1], path, 2.0, "random preference game (n = 100, seed 100), η = 2")
    finally:
        os.unlink(path)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    out = os.path.join(ROOT, "docs", "img", "games_exploitability.png")
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main()
