#!/usr/bin/env bash
# CI stage: the test suite and the examples built with Debian's clang++ (14) and libstdc++, warnings
# as errors, into build-clang/, then every CPU test run. Benchmarks are left to the g++ build
# (PREFOPT_BUILD_BENCH=OFF) and so is CUDA (nvcc's host compiler is g++; the g++ stage builds the
# CUDA targets), which keeps this stage's cost to a C++ rebuild of the tests and examples.
#   bash scripts/ci/clang.sh         (after scripts/bootstrap.sh has installed the other packages)
# Environment: BUILD_DIR (default build-clang), JOBS (default 2), PREFOPT_SKIP_APT=1 to skip apt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
start=$(date +%s)

BUILD_DIR=${BUILD_DIR:-build-clang}
JOBS=${JOBS:-2}
CLANGXX=${CLANGXX:-clang++-14}

if ! command -v "$CLANGXX" >/dev/null 2>&1 && [[ "${PREFOPT_SKIP_APT:-0}" != 1 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends clang-14
fi

# PREFOPT_ENABLE_CUDA=OFF: no prefopt::cuda here, so no nvcc targets are rebuilt.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CLANGXX" \
  -DPREFOPT_BUILD_BENCH=OFF -DPREFOPT_WARNINGS_AS_ERRORS=ON -DPREFOPT_ENABLE_CUDA=OFF
cmake --build "$BUILD_DIR" -j "$JOBS"
built=$(date +%s)
echo "ci(clang): configure + build took $(( built - start )) s"

ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" 2>&1 | tee "$BUILD_DIR/ctest.log"
bash scripts/ci/check_skips.sh "$BUILD_DIR" "$BUILD_DIR/ctest.log"
echo "ci(clang): tests took $(( $(date +%s) - built )) s, stage total $(( $(date +%s) - start )) s"
