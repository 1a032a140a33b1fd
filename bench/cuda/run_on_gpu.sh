#!/usr/bin/env bash
# GPU check: builds the CUDA backend's tests (the backend suite, the token KL suite and the
# execution-rules suite) and bandwidth benchmark, runs the tests (which must run, not skip, here),
# then the device cases that need a process of their own (a fault poisons the CUDA context: the
# asynchronous error reporting, immediate and debug mode) or a large GPU (offsets beyond 2^31
# elements, ~26 GB), and the sequence log-probs bandwidth benchmark (N=8192 tokens, V=128256,
# float logits; ~8.4 GB of device memory), printing GB/s and the fraction of peak bandwidth.
#
# Requirements: an NVIDIA driver of the R580 branch or newer (CUDA 13.x toolkits need >= 580;
# NVIDIA's CUDA Compatibility guide, Table 1); the script prints the driver and runtime versions.
#
#   bench/cuda/run_on_gpu.sh [build-dir]        (default: build-gpu next to the sources)
# Environment: PREFOPT_CUDA_ARCHITECTURES (default 80-real;90), JOBS (default nproc),
# PREFOPT_SKIP_LARGE=1 skips the > 2^31-element case (GPUs with less than ~32 GB).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-gpu}
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
command -v nvidia-smi >/dev/null && nvidia-smi | grep -m1 "CUDA Version" || true  # driver's CUDA
nvcc --version | tail -n 2 || true

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPREFOPT_BUILD_EXAMPLES=OFF \
  -DPREFOPT_CUDA_ARCHITECTURES="${PREFOPT_CUDA_ARCHITECTURES:-80-real;90}"
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target prefopt_tests_cuda prefopt_tests_cuda_kl \
  prefopt_tests_cuda_runtime prefopt_bench_cuda_logps

# run_suite NAME [catch arguments]: runs a test executable, failing if it fails or skips.
run_suite() {
  local exe=$1 log
  shift
  log="$build/$(basename "$exe")$(echo "$*" | tr -c 'a-zA-Z0-9_\n' '_').log"
  set +e
  "$exe" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  if grep -q "PREFOPT_SKIP_NO_DEVICE:" "$log"; then
    echo "error: $exe $* skipped (no usable device) on a machine meant to have one" >&2
    exit 1
  fi
  [ "$rc" -eq 0 ] || { echo "error: $exe $* failed (exit $rc)" >&2; exit 1; }
}

echo "== CUDA tests"
run_suite "$build/tests/backends/prefopt_tests_cuda"
echo "== CUDA token KL tests (against the host kl::token_kl)"
run_suite "$build/tests/backends/prefopt_tests_cuda_kl"
echo "== CUDA execution rules: streams, pointer checks, label flags, error checking modes"
run_suite "$build/tests/backends/prefopt_tests_cuda_runtime"
echo "== asynchronous error reporting (one process per case: a fault poisons the context)"
run_suite "$build/tests/backends/prefopt_tests_cuda_runtime" "[cuda_fault]"
run_suite "$build/tests/backends/prefopt_tests_cuda_runtime" "[cuda_fault_debug]"
if [ "${PREFOPT_SKIP_LARGE:-0}" != 1 ]; then
  echo "== offsets beyond 2^31 elements (B * T * V > 2^31, ~26 GB)"
  run_suite "$build/tests/backends/prefopt_tests_cuda_runtime" "[cuda_large]"
fi
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
