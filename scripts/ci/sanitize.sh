#!/usr/bin/env bash
# CI stage: the whole CPU suite (tests and the example programs' ctest cases; no benchmarks, no
# CUDA; the libFuzzer targets are built too, for scripts/ci/fuzz.sh to run) built with Debian's
# clang++ 14 and libstdc++, warnings as errors, and run under
# AddressSanitizer + UndefinedBehaviorSanitizer with every finding fatal (-fno-sanitize-recover=all).
# One build serves both purposes: the second compiler (g++ builds everything in scripts/bootstrap.sh)
# and the sanitizers, which keeps CI inside its time budget. Built at -O1, not -O0: -O0 compiles
# the heavy template TUs 2.4x faster (loss_table: 20 s against 48 s of CPU), but un-inlined Eigen
# and xtensor made the suite run for 733 s instead of minutes, more than the build saved.
# Tests labelled build_check (consumer projects, nvcc compile checks: they build and run programs
# with their own flags) and same_path (a demo's other seeds and determinism reruns, ~50 s each
# under ASan) are left to the g++ stage. The configuration is the `sanitize` preset of
# CMakePresets.json (build-sanitize/), so a developer reproduces a CI finding with
#   cmake --preset sanitize && cmake --build --preset sanitize && ctest --preset sanitize
# Environment: JOBS (default 2), PREFOPT_SKIP_APT=1 to skip installing clang-14.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
start=$(date +%s)

if ! command -v clang++-14 >/dev/null 2>&1 && [[ "${PREFOPT_SKIP_APT:-0}" != 1 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
  # libclang-rt-14-dev (the sanitizer runtimes) is only a recommendation of clang-14.
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends \
    clang-14 libclang-rt-14-dev
fi

# A build dir configured with another compiler (an older g++ sanitize build) cannot be switched in
# place: CMake would wipe its cache and drop the preset's options. Start it afresh.
if [[ -f build-sanitize/CMakeCache.txt ]] &&
   ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14$' build-sanitize/CMakeCache.txt; then
  rm -rf build-sanitize
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j "${JOBS:-2}"
echo "ci: sanitizer build (clang++ 14, -Werror) took $(( $(date +%s) - start )) s"
ctest --preset sanitize 2>&1 | tee build-sanitize/ctest.log
bash scripts/ci/check_skips.sh build-sanitize build-sanitize/ctest.log
echo "ci: sanitizer stage took $(( $(date +%s) - start )) s"
