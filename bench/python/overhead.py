#!/usr/bin/env python3
"""Overhead of a call through the Python module versus the C++ call on the same batch.

For each batch, times in the same process on the same buffers:
  C++     the library call itself, looped inside the extension (prefopt._prefopt._cpp_seconds):
          preference_loss<B>(make_loss(name), batch) / sequence_logps<B> + sequence_logps_backward<B>
  module  prefopt.preference_loss(...) / prefopt.sequence_logps_forward + _backward from Python on
          NumPy arrays: argument parsing, DLPack import, output arrays, metrics dict
  torch   prefopt.torch.preference_loss / prefopt.torch.sequence_logps, forward + backward through
          torch.autograd (the cost a training loop pays)
and prints microseconds per call and the overhead (module - C++). Times are process CPU time
(time.process_time / CLOCK_PROCESS_CPUTIME_ID), best of 3, so a loaded shared machine does not
count the time the process waits for a core; everything runs on one thread (threads=1,
torch.set_num_threads(1)), so CPU time is the time of the call.

    pip install .  (or PYTHONPATH with a built module)
    python3 bench/python/overhead.py [--repeats 2000]
"""

import argparse
import time

import numpy as np
import torch

import prefopt
import prefopt.torch as pt
from prefopt import _prefopt


def per_call(f, repeats):
    f()
    t0 = time.process_time()
    for _ in range(repeats):
        f()
    return (time.process_time() - t0) / repeats


def best_of(k, f, repeats):
    return min(per_call(f, repeats) for _ in range(k))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.Generator(np.random.PCG64(1))
    print(f"{'call':44s} {'C++ us':>9s} {'module us':>10s} {'overhead us':>12s} {'torch fwd+bwd us':>17s}")

    for n in [8, 64, 1024, 65536]:
        reps = max(20, args.repeats * 64 // max(n, 64))
        cw = (-rng.random(n) * 50).astype(np.float32)
        cl = (-rng.random(n) * 50).astype(np.float32)
        rw, rl = cw + 0.1, cl - 0.1
        cpp = min(_prefopt._cpp_seconds_preference_loss(cw, cl, rw, rl, "sigmoid", reps)
                  for _ in range(3))
        mod = best_of(3, lambda: prefopt.preference_loss(cw, cl, rw, rl), reps)
        tw = torch.from_numpy(cw).requires_grad_(True)
        tl = torch.from_numpy(cl).requires_grad_(True)
        trw, trl = torch.from_numpy(rw), torch.from_numpy(rl)
        tor = best_of(3, lambda: pt.preference_loss(tw, tl, trw, trl)[0].backward(), reps)
        print(f"{'preference_loss sigmoid float32 N=' + str(n):44s} {cpp * 1e6:9.2f} "
              f"{mod * 1e6:10.2f} {(mod - cpp) * 1e6:12.2f} {tor * 1e6:17.2f}")

    for b, t, v in [(2, 16, 64), (8, 128, 1024), (8, 512, 8192)]:
        reps = max(5, args.repeats * 16 * 64 // (b * t * v))
        logits = rng.standard_normal((b, t, v), dtype=np.float32)
        labels = rng.integers(0, v, (b, t))
        labels[:, : t // 4] = -100
        out = np.empty_like(logits)
        gs = np.ones(b, np.float32)
        cpp = min(_prefopt._cpp_seconds_sequence_logps(logits, labels, out, reps) for _ in range(3))

        def module_call():
            _, _, _, state = prefopt.sequence_logps_forward(logits, labels, None, compute_mean=False,
                                                            threads=1)
            prefopt.sequence_logps_backward(logits, labels, None, state, gs, None, out, threads=1)

        mod = best_of(3, module_call, reps)
        tlog = torch.from_numpy(logits).requires_grad_(True)
        tlab = torch.from_numpy(labels)
        tor = best_of(3, lambda: pt.sequence_logps(tlog, tlab, threads=1).sum().backward(), reps)
        name = f"sequence_logps fwd+bwd float32 [{b},{t},{v}]"
        print(f"{name:44s} {cpp * 1e6:9.2f} {mod * 1e6:10.2f} {(mod - cpp) * 1e6:12.2f} "
              f"{tor * 1e6:17.2f}")


if __name__ == "__main__":
    main()
