#!/usr/bin/env bash
# GPU check: builds the CUDA backend's tests (the backend suite and the token KL suite) and
# bandwidth benchmark, runs the tests (which must run, not skip, here) and the sequence log-probs
# bandwidth benchmark (N=8192 tokens, V=128256, float logits; ~8.4 GB of device memory), printing GB/s and the fraction of peak bandwidth.
#
#   bench/cuda/run_on_gpu.sh [build-dir]        (default: build-gpu next to the sources)
# Environment: PREFOPT_CUDA_ARCHITECTURES (default 80-real;90), JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-gpu}
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPREFOPT_BUILD_EXAMPLES=OFF \
  -DPREFOPT_CUDA_ARCHITECTURES="${PREFOPT_CUDA_ARCHITECTURES:-80-real;90}"
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target prefopt_tests_cuda prefopt_tests_cuda_kl \
  prefopt_bench_cuda_logps

echo "== CUDA tests"
set +e
"$build/tests/backends/prefopt_tests_cuda" 2>&1 | tee "$build/cuda_tests.log"
rc=${PIPESTATUS[0]}
set -e
if grep -q "PREFOPT_SKIP_NO_DEVICE:" "$build/cuda_tests.log"; then
  echo "error: the CUDA tests skipped (no usable device) on a machine meant to have one" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "error: CUDA tests failed (exit $rc)" >&2; exit 1; }

echo "== CUDA token KL tests (against the host kl::token_kl)"
set +e
"$build/tests/backends/prefopt_tests_cuda_kl" 2>&1 | tee "$build/cuda_kl_tests.log"
rc=${PIPESTATUS[0]}
set -e
if grep -q "PREFOPT_SKIP_NO_DEVICE:" "$build/cuda_kl_tests.log"; then
  echo "error: the CUDA token KL tests skipped (no usable device) on a machine meant to have one" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "error: CUDA token KL tests failed (exit $rc)" >&2; exit 1; }
ctest --test-dir "$build" -R prefopt_tests_cuda --output-on-failure

echo "== CUDA consumers (installed package via find_package and via pkg-config)"
consumers=$(ctest --test-dir "$build" -R 'prefopt_consumer_.*cuda' --output-on-failure) ||
  { echo "$consumers"; echo "error: a CUDA consumer failed" >&2; exit 1; }
echo "$consumers"
if grep -q "Skipped" <<<"$consumers"; then
  echo "error: a CUDA consumer skipped (no usable device) on a machine meant to have one" >&2
  exit 1
fi

echo "== sequence log-probs bandwidth"
"$build/bench/cuda/prefopt_bench_cuda_logps" --tokens 8192 --vocab 128256 --reps 20
