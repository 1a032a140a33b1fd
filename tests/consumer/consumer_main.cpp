// A downstream program: computes sequence log-probs of a tiny batch through the installed (or
// vendored) prefopt and checks the result against the closed form.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <prefopt/prefopt.hpp>
#include <vector>
// The xtensor variant is the pkg-config consumer of that backend (tests/consumer/CMakeLists.txt).
#if defined(PREFOPT_CONSUMER_XTENSOR)
#include <prefopt/backends/xtensor.hpp>
using backend = prefopt::xtensor::backend<double>;
#else
#include <prefopt/backends/eigen.hpp>
using backend = prefopt::eigen::backend<double>;
#endif

int main() {
  // One sequence, 3 positions, vocabulary 2; uniform logits => every token has log-prob -ln 2.
  std::vector<double> logits(6, 0.0);
  std::vector<std::int64_t> labels{1, 0, 1};
  auto r = prefopt::sequence_logps<backend>(
      prefopt::logits_view<const double>::contiguous(logits.data(), 1, 3, 2),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 3));
  const double want = -2.0 * std::log(2.0);
  std::printf("prefopt %s: sum = %.17g (want %.17g)\n", PREFOPT_VERSION_STRING, r.sum[0], want);
  return std::fabs(r.sum[0] - want) < 1e-15 ? 0 : 1;
}
