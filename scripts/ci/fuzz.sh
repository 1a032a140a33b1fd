#!/usr/bin/env bash
# CI stage: bounded libFuzzer smoke run of every text reader (fuzz/CMakeLists.txt lists them).
# Builds the fuzz targets with clang (ASan + UBSan + libFuzzer) in build-fuzz/ (or reuses the
# sanitizer build, see FUZZ_BUILD_DIR), then runs each for
# FUZZ_SECONDS (default 30) from its committed seed corpus fuzz/corpus/<target>/; new inputs go to
# build-fuzz/corpus/<target>/, never into the repository. Any crash, sanitizer report, leak,
# timeout (> 10 s on one input) or failed check fails the stage; the input is kept in
# build-fuzz/artifacts/ and its reproduction command printed.
#   bash scripts/ci/fuzz.sh                      (as root, or with sudo available)
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_CXX (default clang++), FUZZ_BUILD_DIR
#              (default build-fuzz; a build dir configured with PREFOPT_BUILD_FUZZERS=ON is reused),
#              JOBS (default 2), PREFOPT_SKIP_APT=1 to skip the package installation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

seconds=${FUZZ_SECONDS:-30}
jobs=${JOBS:-2}
cxx=${FUZZ_CXX:-clang++}
build=${FUZZ_BUILD_DIR:-build-fuzz}

# A build dir configured with PREFOPT_BUILD_FUZZERS=ON already (CI passes build-sanitize, whose
# clang ASan + UBSan build includes the fuzz targets) is only brought up to date, not reconfigured.
prebuilt=0
if [[ -n ${FUZZ_BUILD_DIR:-} && -f $build/CMakeCache.txt ]] &&
   grep -qx 'PREFOPT_BUILD_FUZZERS:BOOL=ON' "$build/CMakeCache.txt"; then
  prebuilt=1
fi

if [[ "${PREFOPT_SKIP_APT:-0}" != 1 && $prebuilt == 0 ]]; then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update
  # libclang-rt-*-dev (the libFuzzer and sanitizer runtimes) is only a recommendation of clang.
  "${as_root[@]}" apt-get install -y --no-install-recommends clang libclang-rt-dev
fi

start=$(date +%s)
if (( prebuilt )); then
  mapfile -t targets < <(basename -a fuzz/corpus/*/)
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
else
  # Changing the compiler of an existing build dir makes CMake wipe its cache and configure again
  # WITHOUT the -D options below (tests, examples, benchmarks on); start that build dir afresh.
  if [[ -f $build/CMakeCache.txt ]] &&
     ! grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$(command -v "$cxx")" "$build/CMakeCache.txt"; then
    rm -rf "$build"
  fi
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPREFOPT_BUILD_FUZZERS=ON -DPREFOPT_BUILD_TESTS=OFF -DPREFOPT_BUILD_EXAMPLES=OFF \
    -DPREFOPT_BUILD_BENCH=OFF
  cmake --build "$build" -j "$jobs"
fi
echo "fuzz: build took $(( $(date +%s) - start )) s"

# One reader per core at a time (each libFuzzer process is single-threaded): the smoke run takes
# ceil(readers / JOBS) * FUZZ_SECONDS instead of readers * FUZZ_SECONDS.
fuzz_one() {  # fuzz_one <target>: runs it, prints one line, exit status 0 or 1
  local target=$1 exe=$build/fuzz/$1 work=$build/corpus/$1 log=$build/$1.log rc=0 runs
  mkdir -p "$work" "$build/artifacts"
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$target-" "$work" "fuzz/corpus/$target/" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz: $target: ${runs:-?} executions in ${seconds} s, exit status $rc"
  if [[ $rc -ne 0 ]]; then
    grep -E "ERROR|SUMMARY|fuzz check failed|Test unit written" "$log" | head -n 20 >&2 || true
    echo "fuzz: reproduce with: $exe $build/artifacts/$target-<file> (full log: $log)" >&2
    return 1
  fi
}

mapfile -t all_targets < <(basename -a fuzz/corpus/*/)
for target in "${all_targets[@]}"; do
  [[ -x $build/fuzz/$target ]] || { echo "fuzz: $build/fuzz/$target was not built" >&2; exit 1; }
done
failed=()
for ((first = 0; first < ${#all_targets[@]}; first += jobs)); do
  batch=("${all_targets[@]:first:jobs}")
  pids=()
  for target in "${batch[@]}"; do fuzz_one "$target" & pids+=($!); done
  for i in "${!pids[@]}"; do wait "${pids[i]}" || failed+=("${batch[i]}"); done
done

echo "fuzz: total $(( $(date +%s) - start )) s"
if (( ${#failed[@]} )); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
