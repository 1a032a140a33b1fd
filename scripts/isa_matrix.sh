#!/usr/bin/env bash
# Instruction-set matrix: builds and runs the CPU test suite (tests + examples, no CUDA, no
# benchmarks) once per instruction set and reports, per build, the test result and whether the
# numbers the example programs print differ from the default build's.
#
#   scripts/isa_matrix.sh [OUT_DIR]        (default build-isa/; JOBS, default 2)
#   ISAS="default native" scripts/isa_matrix.sh   (a subset; the default build is the reference)
#
# Builds: default flags (x86-64 baseline: SSE2), -march=x86-64-v2 (SSE4.2), -march=x86-64-v3
# (AVX2, FMA) and -march=native. A build whose instruction set the CPU lacks is reported as not
# runnable instead of crashing. The example outputs compared are the loss_table rows of every
# PyTorch fixture case (written by its ctest cases, 17 significant digits, so a last-bit change
# shows), nash on a committed game and quickstart.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/build-isa}
jobs=${JOBS:-2}
mkdir -p "$out"
read -r -a isas <<<"${ISAS:-default x86-64-v2 x86-64-v3 native}"

supported() {  # does this CPU run code built with -march=$1 ?
  case $1 in
    default|native) return 0 ;;
    *) echo 'int main(){}' | g++ -x c++ -march="$1" - -o "$out/probe-$1" 2>/dev/null &&
       "$out/probe-$1" 2>/dev/null ;;
  esac
}

declare -A result=()
for isa in "${isas[@]}"; do
  dir=$out/$isa
  flags=""
  [[ $isa != default ]] && flags="-march=$isa"
  echo "== $isa (${flags:-default flags})"
  if ! cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$flags" \
       -DPREFOPT_BUILD_BENCH=OFF -DPREFOPT_ENABLE_CUDA=OFF -DPREFOPT_BUILD_HEADER_CHECKS=OFF >"$dir.configure.log" 2>&1 ||
     ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    result[$isa]="BUILD FAILED (see $dir.build.log)"
    continue
  fi
  if ! supported "$isa"; then result[$isa]="not runnable on this CPU"; continue; fi
  ctest --test-dir "$dir" -j"$jobs" >"$dir.ctest.log" 2>&1
  summary=$(grep -E 'tests passed|tests failed' "$dir.ctest.log" | tail -1)
  failed=$(sed -n '/The following tests FAILED/,$p' "$dir.ctest.log" | grep -E '^\s+[0-9]+ - ' | sed 's/^ *//' | tr '\n' ';')
  skipped=$(grep -c '(Skipped)' "$dir.ctest.log")
  result[$isa]="$summary; skipped: $skipped${failed:+; FAILED: $failed}"
  # Example outputs, for the cross-build difference report.
  {
    for f in "$dir"/examples/loss_table/*.out.csv; do  # written by the loss_table ctest cases
      echo "## loss_table $(basename "$f")"
      cat "$f"
    done
    echo "## nash"
    for m in lp optimistic; do "$dir/examples/nash/nash" "$root/examples/nash/data/weighted_rps.csv" --method "$m" 2>&1 || true; done
    echo "## quickstart"
    "$dir/examples/quickstart/quickstart" 2>&1 || true
  } >"$dir.outputs.txt"
done

echo
echo "| build | flags | ctest | example outputs vs default |"
echo "|---|---|---|---|"
for isa in "${isas[@]}"; do
  flags="-march=$isa"; [[ $isa == default ]] && flags="(none)"
  diffs="-"
  if [[ $isa != default && -f $out/$isa.outputs.txt && -f $out/default.outputs.txt ]]; then
    n=$(diff "$out/default.outputs.txt" "$out/$isa.outputs.txt" | grep -c '^>' || true)
    if [[ $n == 0 ]]; then diffs="identical"; else diffs="$n line(s) differ (diff $out/default.outputs.txt $out/$isa.outputs.txt)"; fi
  fi
  echo "| $isa | $flags | ${result[$isa]} | $diffs |"
done
! grep -q -E 'FAILED' <(printf '%s\n' "${result[@]}")
