#!/usr/bin/python3
"""Bradley-Terry at dataset scale: prefopt's arena_ratings versus evalica, choix and SciPy.

Setup (from a fresh clone; evalica and choix from PyPI in a virtual environment that sees
Debian's NumPy / SciPy / pandas):

  python3 -m venv --system-site-packages /tmp/venv-bt && /tmp/venv-bt/bin/pip install evalica choix
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target arena_ratings
  /tmp/venv-bt/bin/python bench/compare/bt_sparse_scale.py --arena build/examples/arena_ratings/arena_ratings
  # add --cases 2k,10k,1m for the 10^6-item case (writes a ~200 MB CSV to the work directory)

Data (generated here, NumPy seed --seed): n items with strengths theta ~ N(0, 1); one tie
between every item and the next on a ring (n battles, so that the maximum-likelihood estimate
exists for every item however few battles it has), then random battles between uniformly drawn
pairs (10% ties, otherwise a wins with probability sigma(theta_a - theta_b)) up to the battle
count. Cases:  2k: 2,000 items / 400k battles;  10k: 10^4 / 10^6;  1m: 10^6 / 10^7.

Each tool runs in its own process under /usr/bin/time -v (wall time, CPU time = user + system,
and peak RSS of the whole process) on the same data, ties as half a win each:
  * prefopt   arena_ratings BATTLES.csv --bootstrap 0 --quiet --timing --json: the whole CLI run,
              CSV parsing, estimability check, fit and normal-approximation intervals included;
  * evalica   evalica.bradley_terry (Rust, Newman's 2023 iteration, tolerance 1e-6 default) on
              integer-coded arrays loaded from .npy; "fit" is the call alone;
  * choix     choix.ilsr_pairwise (alpha 0, tol 1e-8) on (winner, loser) tuples, a tie entered as
              one win each way and every decisive battle twice (the same likelihood); 2k only
              unless --choix-all;
  * scipy     an independent Newton solve written here: the negative Hessian is the sparse graph
              Laplacian (scipy.sparse), each step a Jacobi-preconditioned scipy.sparse.linalg.cg
              solve (relative residual 1e-4, then 1e-10 once max|g| < 1e-3, absolute floor
              1e-11 |diag|), with step halving, until the step is below 1e-11.
Ratings are compared on the Elo scale (400 / ln 10 per unit of theta), each centred at 1000;
"max diff" is the largest absolute difference to the SciPy solve. Timings on a shared machine
are noisy: compare the ratios within one run, and when other processes compete for the cores,
the CPU-time ratio (prefopt's CPU time sums both of its threads) rather than the wall ratio.
"""
import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ELO = 400.0 / math.log(10.0)
CASES = {"2k": (2000, 400_000), "10k": (10_000, 1_000_000), "1m": (1_000_000, 10_000_000)}


# ----------------------------------------------------------------------------------- peers
def load(data):
    z = np.load(data)
    return int(z["n"]), z["a"], z["b"], z["outcome"]  # outcome 0: a wins, 1: b wins, 2: tie


def peer_evalica(data, out):
    import evalica
    import pandas as pd
    n, a, b, o = load(data)
    codes = [evalica.Winner.X, evalica.Winner.Y, evalica.Winner.Draw]
    winners = [codes[k] for k in o.tolist()]  # a list: evalica rejects an object ndarray
    t0 = time.perf_counter()
    res = evalica.bradley_terry(a, b, winners, index=pd.Index(np.arange(n)))
    fit = time.perf_counter() - t0
    scores = res.scores.reindex(np.arange(n)).to_numpy()
    np.save(out, np.log(scores))
    print(f"fit_s={fit:.4f} iterations={res.iterations}")


def peer_choix(data, out):
    import choix
    n, a, b, o = load(data)
    pairs = []
    for x, y, r in zip(a.tolist(), b.tolist(), o.tolist()):
        if r == 0:
            pairs += [(x, y), (x, y)]
        elif r == 1:
            pairs += [(y, x), (y, x)]
        else:
            pairs += [(x, y), (y, x)]
    t0 = time.perf_counter()
    theta = choix.ilsr_pairwise(n, pairs, alpha=0.0, max_iter=1000, tol=1e-8)
    fit = time.perf_counter() - t0
    np.save(out, theta)
    print(f"fit_s={fit:.4f}")


def aggregate(n, a, b, o):
    i, j = np.minimum(a, b), np.maximum(a, b)
    key = i.astype(np.int64) * n + j
    uniq, inv = np.unique(key, return_inverse=True)
    i_won = ((o == 0) & (a == i)) | ((o == 1) & (b == i))
    j_won = (o != 2) & ~i_won
    wi = np.bincount(inv, i_won.astype(float), uniq.size)
    wj = np.bincount(inv, j_won.astype(float), uniq.size)
    t = np.bincount(inv, (o == 2).astype(float), uniq.size)
    return uniq // n, uniq % n, wi + t / 2, wj + t / 2


def peer_scipy(data, out):
    import scipy.sparse as sp
    from scipy.sparse.linalg import cg
    from scipy.special import expit, log_expit
    n, a, b, o = load(data)
    t0 = time.perf_counter()
    i, j, wa, wb = aggregate(n, a, b, o)

    def loglik(x):
        d = x[i] - x[j]
        return np.sum(wa * log_expit(d) + wb * log_expit(-d))

    x = np.zeros(n)
    f = loglik(x)
    cg_iters = 0
    for it in range(100):
        d = x[i] - x[j]
        p = expit(d)
        gp = wa - (wa + wb) * p
        h = (wa + wb) * p * (1 - p)
        g = np.bincount(i, gp, n) - np.bincount(j, gp, n)
        deg = np.bincount(i, h, n) + np.bincount(j, h, n)
        off = sp.coo_matrix((-h, (i, j)), shape=(n, n)).tocsr()
        lap = (off + off.T + sp.diags(deg)).tocsr()
        count = [0]

        def cb(_):
            count[0] += 1
        # Loose far out, tight at the end; the absolute floor stops CG at rounding level instead
        # of running to maxiter on the last step (‖g‖ is then already ~1e-9).
        kw = dict(M=sp.diags(1.0 / deg), maxiter=2000, callback=cb, atol=1e-11 * np.sqrt(deg @ deg))
        rtol = 1e-4 if np.max(np.abs(g)) > 1e-3 else 1e-10
        try:
            step, _ = cg(lap, g, rtol=rtol, **kw)
        except TypeError:  # SciPy < 1.12 calls it tol
            step, _ = cg(lap, g, tol=rtol, **kw)
        cg_iters += count[0]
        step -= step.mean()
        t = 1.0
        while t > 1e-10:
            f_new = loglik(x + t * step)
            if f_new >= f - 1e-12 * abs(f):
                break
            t /= 2
        x = x + t * step
        f = f_new
        if np.max(np.abs(t * step)) < 1e-11 * (1 + np.max(np.abs(x))):
            break
    fit = time.perf_counter() - t0
    np.save(out, x - x.mean())
    print(f"fit_s={fit:.4f} newton={it + 1} cg={cg_iters}")


# ----------------------------------------------------------------------------------- driver
def generate(rng, n, battles, tie_rate=0.1):
    theta = rng.normal(size=n)
    ring_a = np.arange(n)
    ring_b = (ring_a + 1) % n
    m = battles - n
    a = rng.integers(0, n, size=m)
    b = (a + rng.integers(1, n, size=m)) % n
    tie = rng.random(m) < tie_rate
    a_wins = rng.random(m) < 1.0 / (1.0 + np.exp(theta[b] - theta[a]))
    o = np.where(tie, 2, np.where(a_wins, 0, 1))
    return (np.concatenate([ring_a, a]), np.concatenate([ring_b, b]),
            np.concatenate([np.full(n, 2), o]).astype(np.int8))


def write_csv(path, a, b, o):
    label = np.array(["model_a", "model_b", "tie"])
    with open(path, "w") as f:
        f.write("model_a,model_b,winner\n")
        step = 1_000_000
        for s in range(0, a.size, step):
            lines = [f"m{x},m{y},{w}" for x, y, w in zip(a[s:s + step].tolist(), b[s:s + step].tolist(),
                                                         label[o[s:s + step]].tolist())]
            f.write("\n".join(lines))
            f.write("\n")


def timed(cmd, timeout):
    """Runs cmd under /usr/bin/time -v; returns (stdout, stderr, wall_s, peak_rss_mib, cpu_s) or None."""
    # Own process group, so that a timeout ends the tool itself, not only /usr/bin/time.
    proc = subprocess.Popen(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if p.returncode != 0:  # e.g. evalica at 10^6 items: "memory allocation of 8000000000000 bytes failed"
        lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith(("\t", " "))]
        return f"failed (exit {p.returncode}): {lines[0] if lines else ''}"
    wall = p.stderr.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split()[0]
    parts = [float(v) for v in wall.split(":")]
    secs = sum(v * 60 ** k for k, v in enumerate(reversed(parts)))
    rss = int(p.stderr.split("Maximum resident set size (kbytes): ")[1].split()[0]) / 1024
    cpu = sum(float(p.stderr.split(f"{kind} time (seconds): ")[1].split()[0]) for kind in ("User", "System"))
    return p.stdout, p.stderr, secs, rss, cpu


def elo(theta):
    theta = np.asarray(theta, dtype=float)
    return ELO * (theta - theta.mean()) + 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arena", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                     "build", "examples", "arena_ratings", "arena_ratings"))
    ap.add_argument("--cases", default="2k,10k")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--workdir", default=None, help="where the generated data go (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per tool and case")
    ap.add_argument("--choix-all", action="store_true", help="run choix on every case, not only 2k")
    ap.add_argument("--peer", choices=["evalica", "choix", "scipy"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        {"evalica": peer_evalica, "choix": peer_choix, "scipy": peer_scipy}[args.peer](args.data, args.out)
        return
    import evalica
    import choix
    import scipy
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"evalica {evalica.__version__}, choix {getattr(choix, '__version__', '?')}, nproc {os.cpu_count()}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for case in args.cases.split(","):
            n, battles = CASES[case]
            rng = np.random.default_rng(args.seed)
            t0 = time.perf_counter()
            a, b, o = generate(rng, n, battles)
            csv = os.path.join(tmp, f"{case}.csv")
            npz = os.path.join(tmp, f"{case}.npz")
            write_csv(csv, a, b, o)
            np.savez(npz, n=n, a=a, b=b, outcome=o)
            print(f"\ncase {case}: {n} items, {battles} battles ({os.path.getsize(csv) / 2**20:.0f} MiB CSV, "
                  f"generated in {time.perf_counter() - t0:.1f} s)")
            results = {}
            js = os.path.join(tmp, f"{case}.json")
            r = timed([args.arena, csv, "--bootstrap", "0", "--quiet", "--timing", "--top", "3", "--json", js],
                      args.timeout)
            if isinstance(r, str):
                results["prefopt arena_ratings"] = r
            elif r:
                with open(js) as f:
                    rows = json.load(f)
                rating = np.empty(n)
                for row in rows:
                    rating[int(row["model"][1:])] = row["rating"]
                info = " ".join(line.split(": ", 1)[1] for line in r[1].splitlines() if line.startswith("arena_ratings:"))
                results["prefopt arena_ratings"] = (r[2], r[4], None, r[3], rating, info)
                del rows
            peers = ["scipy", "evalica"] + (["choix"] if case == "2k" or args.choix_all else [])
            for peer in peers:
                out = os.path.join(tmp, f"{case}-{peer}.npy")
                r = timed([sys.executable, os.path.abspath(__file__), "--peer", peer, "--data", npz, "--out", out],
                          args.timeout)
                if r is None or isinstance(r, str):
                    results[peer] = r
                    continue
                fit = float(re.search(r"fit_s=([0-9.]+)", r[0]).group(1))
                results[peer] = (r[2], r[4], fit, r[3], elo(np.load(out)), r[0].strip())
            ref = results.get("scipy")
            ref = ref if isinstance(ref, tuple) else None
            base = results.get("prefopt arena_ratings")
            base = base if isinstance(base, tuple) else None
            print(f"  {'tool':22s} {'wall s':>8s} {'cpu s':>8s} {'fit s':>8s} {'peak MiB':>9s} {'wall ratio':>11s} "
                  f"{'cpu ratio':>10s} {'max diff vs scipy (Elo)':>24s}")
            for name, res in results.items():
                if res is None or isinstance(res, str):
                    print(f"  {name:22s}  {res or f'timed out after {args.timeout:.0f} s'}", flush=True)
                    continue
                wall, cpu, fit, rss, rating, info = res
                diff = np.max(np.abs(rating - ref[4])) if ref else float("nan")
                ratio = wall / base[0] if base else float("nan")
                cpu_ratio = cpu / base[1] if base else float("nan")
                fit_s = f"{fit:8.2f}" if fit is not None else f"{'':8s}"
                print(f"  {name:22s} {wall:8.2f} {cpu:8.2f} {fit_s} {rss:9.0f} {ratio:10.1f}x {cpu_ratio:9.1f}x "
                      f"{diff:24.2e}   {info}", flush=True)


if __name__ == "__main__":
    main()
