// The algorithms (preference losses, unpaired KTO, the loss from logits, the runtime registry,
// the iterative Nash solvers and their batched form) on every host backend, compared with the
// Eigen backend through the shared bodies of algorithm_checks.hpp; the CUDA suite
// (cuda_algorithms.cu, cuda_registry.cu) runs the same bodies on device memory. A separate
// translation unit from backends_cpu.cpp so the two compile in parallel.
#include "algorithm_checks.hpp"

#include <support/backends.hpp>

using namespace prefopt::testing;

namespace {

/// Eigen seen as a backend whose memory the host may not read: no `host_memory` and no fused
/// sequence log-probs. The algorithms then take the code paths the CUDA backend takes (inputs
/// copied through B::for_each + B::to_host for validation, flags converted on the backend, the
/// generic sequence_logps), so those paths are exercised on machines without a GPU.
template <class T>
struct device_path_backend : prefopt::eigen::backend<T> {
  static constexpr bool host_memory = false;
  static void token_logps_forward() = delete;   // hides the fused operations
  static void token_logps_backward() = delete;
};

}  // namespace

static_assert(!prefopt::losses::detail::host_accessible<device_path_backend<float>>);

// Eigen itself is the reference, so it is not listed: the backends compared with it are xtensor
// (when found) and Eigen through the device code paths.
#ifdef PREFOPT_HAVE_XTENSOR
#define PREFOPT_ALGORITHM_BACKENDS                                                   \
  device_path_backend<float>, device_path_backend<double>,                            \
      prefopt::xtensor::backend<float>, prefopt::xtensor::backend<double>
#else
#define PREFOPT_ALGORITHM_BACKENDS device_path_backend<float>, device_path_backend<double>
#endif

TEMPLATE_TEST_CASE("preference_loss matches Eigen for every batch coupling", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_losses_match_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss validates backend inputs on the host", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_loss_validation<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches Eigen", "[backends][losses]", PREFOPT_ALGORITHM_BACKENDS) {
  check_kto_unpaired_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss_from_logits matches Eigen end to end",
                   "[backends][losses][logps]", PREFOPT_ALGORITHM_BACKENDS) {
  check_from_logits_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve with hedge, optimistic_mwu and extragradient matches Eigen",
                   "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve_batch matches Eigen", "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_batch_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("a runtime loss list from the registry matches Eigen", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_loss_list_matches_eigen<TestType>();
}
