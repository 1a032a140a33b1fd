#!/usr/bin/env bash
# CI stage for the Python module: a virtual environment on Debian's python3 that reuses
# python3-torch, numpy, scipy and pytest (--system-site-packages), `pip install .` (nanobind and
# scikit-build-core from PyPI), the pytest suite, then both torch.distributed examples with 2
# processes. Run after scripts/bootstrap.sh: the tests run build/examples/arena_ratings.
#   bash scripts/ci/python.sh
# Environment: VENV (default /tmp/prefopt-venv), BUILD_DIR (default build), PREFOPT_SKIP_APT=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
start=$(date +%s)
VENV=${VENV:-/tmp/prefopt-venv}
BUILD_DIR=${BUILD_DIR:-build}

if [[ "${PREFOPT_SKIP_APT:-0}" != 1 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get install -y --no-install-recommends \
    python3-dev python3-venv python3-numpy python3-scipy python3-pytest python3-torch
fi

rm -rf "$VENV"
/usr/bin/python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "scikit-build-core>=0.10" "nanobind>=2.0"
# The build requirements are in the venv already; no second download into an isolated one.
# With the Makefile generator (a fresh Debian has no ninja) scikit-build-core's `cmake --build` is serial unless
# CMAKE_BUILD_PARALLEL_LEVEL is set: build the module's sources on JOBS cores.
CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2} "$VENV/bin/python" -m pip install --no-build-isolation .
echo "ci/python: venv + pip install . took $(( $(date +%s) - start )) s"

# Run from outside the source tree so `import prefopt` is the installed package.
export PREFOPT_BUILD_DIR=$PWD/$BUILD_DIR
repo=$PWD
(cd /tmp && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$repo/python/tests")

# The side-by-side scripts of docs/performance.md, on tiny inputs: they run from this clone and
# prefopt agrees with PyTorch on every row (timings at these sizes mean nothing).
"$VENV/bin/python" bench/compare/smoke.py --python "$VENV/bin/python"

# torch 1.13 (Debian 12) on Python 3.11 cannot parse torchrun's default --redirects 0.
torchrun=("$VENV/bin/python" -m torch.distributed.run --standalone --nproc_per_node 2
          --redirects 1 --tee 1)
out=$(mktemp -d)
"${torchrun[@]}" examples/python/ddp_dpo.py --steps 20 --pairs 8 --out "$out/params.pt"
"${torchrun[@]}" examples/python/sharded_ratings.py examples/arena_ratings/data/battles.csv \
  --bootstrap 20 --json "$out/ratings.json"
test -s "$out/params.pt" && test -s "$out/ratings.json"
rm -rf "$out"
echo "ci/python: total $(( $(date +%s) - start )) s"
