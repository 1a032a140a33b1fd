#!/usr/bin/env bash
# CI stage: the whole CPU suite (tests and the example programs' ctest cases; no benchmarks, no
# CUDA) built and run under AddressSanitizer + UndefinedBehaviorSanitizer, every finding fatal
# (-fno-sanitize-recover=all). The configuration is the `sanitize` preset of CMakePresets.json
# (build-sanitize/), so a developer reproduces a CI finding with
#   cmake --preset sanitize && cmake --build --preset sanitize && ctest --preset sanitize
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
start=$(date +%s)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j "${JOBS:-2}"
echo "ci: sanitizer build took $(( $(date +%s) - start )) s"
ctest --preset sanitize 2>&1 | tee build-sanitize/ctest.log
bash scripts/ci/check_skips.sh build-sanitize build-sanitize/ctest.log
echo "ci: sanitizer stage took $(( $(date +%s) - start )) s"
