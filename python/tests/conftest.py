"""Shared helpers of the prefopt Python tests.

Random inputs come from raw MT19937 bits turned into doubles by the reference res53 formula
(genrand_res53 of Matsumoto and Nishimura's mt19937ar.c), not from NumPy's or PyTorch's
distribution code, so they are the same on every platform and library version.
"""

import os
import pathlib
import shutil

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def uniform(seed, shape, low=0.0, high=1.0):
    """Doubles in [low, high) from raw 32-bit MT19937 outputs (two per number)."""
    n = int(np.prod(shape))
    raw = np.random.MT19937(seed).random_raw(2 * n).astype(np.uint64)
    a, b = raw[0::2] >> np.uint64(5), raw[1::2] >> np.uint64(6)
    u = (a.astype(np.float64) * 67108864.0 + b.astype(np.float64)) / 9007199254740992.0
    return (low + (high - low) * u).reshape(shape)


def integers(seed, shape, high):
    """Integers in [0, high) (floor of a uniform; the tiny bias does not matter for test data)."""
    return np.floor(uniform(seed, shape) * high).astype(np.int64)


def find_cli(name):
    """Path of a built example CLI: $PREFOPT_BUILD_DIR/examples/<name>/<name> (CI sets it), else
    build/examples/..., else on PATH. A test needing it fails when PREFOPT_BUILD_DIR is set but the
    binary is missing, and is skipped only when no build was configured at all."""
    build = os.environ.get("PREFOPT_BUILD_DIR")
    candidates = [pathlib.Path(build)] if build else [REPO / "build"]
    for root in candidates:
        path = root / "examples" / name / name
        if path.is_file():
            return str(path)
    if build:
        pytest.fail(f"PREFOPT_BUILD_DIR={build} has no examples/{name}/{name}")
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} CLI not built (cmake --build build --target {name})")
    return found
