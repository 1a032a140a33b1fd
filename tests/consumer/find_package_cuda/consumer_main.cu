// A downstream CUDA program: includes the umbrella header and the CUDA backend from the installed
// package, computes the sequence log-probs of a tiny batch on the device and checks them against
// the closed form. Without a usable device it prints the skip line ctest recognises and exits 0.
#include <prefopt/prefopt.hpp>
#include <prefopt/backends/cuda.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

int main() {
  std::string reason;
  if (!prefopt::cuda::device_available(&reason)) {
    std::printf("PREFOPT_SKIP_NO_DEVICE: %s\n", reason.c_str());
    return 0;
  }
  using backend = prefopt::cuda::backend<double>;
  // Two sequences, 3 positions, vocabulary 2. Sequence 0: uniform logits, so each of its two
  // predictions has log-prob -ln 2. Sequence 1: logits (0, 1) at every position and labels 1, 0,
  // 1, so its predictions (labels 0 then 1) have log-probs -ln(1 + e) and 1 - ln(1 + e).
  const std::vector<double> logits{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1};
  const std::vector<std::int64_t> labels{1, 0, 1, 1, 0, 1};
  const auto logits_d = prefopt::cuda::upload(logits);
  const auto labels_d = prefopt::cuda::upload(labels);
  const auto r = prefopt::sequence_logps<backend>(
      prefopt::cuda::device_logits_view<const double>::contiguous(logits_d.data(), 2, 3, 2),
      prefopt::cuda::device_matrix_view<const std::int64_t>::contiguous(labels_d.data(), 2, 3));
  const std::vector<double> sum = backend::to_host(r.sum);
  const double want[2] = {-2.0 * std::log(2.0), 1.0 - 2.0 * std::log1p(std::exp(1.0))};
  bool ok = true;
  for (int b = 0; b < 2; ++b) {
    std::printf("prefopt %s (CUDA): sum[%d] = %.17g (want %.17g)\n", PREFOPT_VERSION_STRING, b,
                sum[b], want[b]);
    ok = ok && std::fabs(sum[b] - want[b]) <= 1e-14;
  }
  if (ok) std::printf("consumer_cuda: device results match the closed form\n");
  return ok ? 0 : 1;
}
