#!/usr/bin/env bash
# After `ctest --test-dir BUILD ... | tee LOG`: print how many tests were skipped and why, and fail
# if any test that does not need a device (ctest label "device") was skipped or did not run.
#   scripts/ci/check_skips.sh BUILD LOG
# A device test may skip only through the marker line of tests/support/device_skip.hpp; the
# reasons printed here are those lines, read from ctest's LastTest.log.
set -euo pipefail
build=$1
log=$2

# "The following tests did not run:" lists "  <n> - <name> (Skipped|Disabled|Not Run|...)".
# Read the reasons first: any later ctest call (even -N) rewrites LastTest.log.
reasons=$(grep -h '^PREFOPT_SKIP_NO_DEVICE: ' "$build/Testing/Temporary/LastTest.log" | sort | uniq -c || true)
mapfile -t not_run < <(sed -n '/^The following tests did not run:/,/^[^ \t]/p' "$log" |
                       sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \(([^)]*)\)[[:space:]]*$/\2\t\1/p')
mapfile -t device_tests < <(ctest --test-dir "$build" -N -L '^device$' |
                            sed -nE 's/^[[:space:]]*Test[[:space:]]+#[0-9]+: (.*)$/\1/p')
declare -A is_device=()
for t in "${device_tests[@]}"; do is_device["$t"]=1; done

bad=0
skipped=0
for entry in "${not_run[@]}"; do
  status=${entry%%$'\t'*}
  name=${entry#*$'\t'}
  skipped=$((skipped + 1))
  if [[ $status != Skipped || -z ${is_device[$name]:-} ]]; then
    echo "ci: a test that needs no device did not run ($status): $name" >&2
    bad=1
  fi
done
echo "ci: $skipped test(s) skipped (${#device_tests[@]} test(s) need a device)"
if (( skipped > 0 )); then
  echo "ci: skip reasons:"
  echo "${reasons:-  (no marker line found in $build/Testing/Temporary/LastTest.log)}"
fi
exit "$bad"
