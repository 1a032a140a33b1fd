// Compiled (never run) by the ctest entry prefopt_cuda_host_view_is_a_compile_error, which
// expects nvcc to FAIL with the memory-space message: host views handed to the CUDA backend.
// Before views carried their memory space this compiled, and the kernel faulted on the host
// pointers with a sticky cudaErrorIllegalAddress that left the CUDA context unusable.
#include <prefopt/backends/cuda.hpp>
#include <prefopt/logps/sequence_logps.hpp>

#include <cstdint>
#include <vector>

int main() {
  const std::vector<float> logits(2 * 3 * 5, 0.0f);
  const std::vector<std::int64_t> labels(2 * 3, 1);
  const auto r = prefopt::sequence_logps<prefopt::cuda::backend<float>>(
      prefopt::logits_view<const float>::contiguous(logits.data(), 2, 3, 5),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 3));
  return static_cast<int>(r.sum.size());
}
