// The backend-generic checks of backend_checks.hpp on every host backend (PREFOPT_TEST_BACKENDS:
// Eigen, and xtensor when available). The CUDA suite (cuda.cu) runs the same bodies on a GPU.
#include "algorithm_checks.hpp"
#include "backend_checks.hpp"

#include <support/backends.hpp>

using namespace prefopt::testing;

TEMPLATE_TEST_CASE("element-wise primitives match long-double references", "[backends]",
                   PREFOPT_TEST_BACKENDS) {
  check_elementwise<TestType>();
}

TEMPLATE_TEST_CASE("reductions, row reductions and gather on strided views", "[backends]",
                   PREFOPT_TEST_BACKENDS) {
  check_reductions<TestType>();
}

TEMPLATE_TEST_CASE("matvec, matvec_transposed and for_each", "[backends]", PREFOPT_TEST_BACKENDS) {
  check_linear_and_for_each<TestType>();
}

TEMPLATE_TEST_CASE("fused sequence_logps forward matches the reference", "[backends][logps]",
                   PREFOPT_TEST_BACKENDS) {
  // vocab 3001 spans two online-softmax chunks; shift on/off; with and without a mask;
  // int32 labels take the same path.
  check_sequence_logps_forward<TestType>(false, true, 3001);
  check_sequence_logps_forward<TestType>(true, true, 3001);
  check_sequence_logps_forward<TestType>(true, false, 17);
  check_sequence_logps_forward<TestType, std::int32_t>(true, true, 517);
}

TEMPLATE_TEST_CASE("fused sequence_logps backward matches the analytic gradient",
                   "[backends][logps]", PREFOPT_TEST_BACKENDS) {
  check_sequence_logps_backward<TestType>(true, true, 2100);
  check_sequence_logps_backward<TestType>(false, false, 33);
}

TEMPLATE_TEST_CASE("sequence_logps is bit-identical for any thread count", "[backends][logps]",
                   PREFOPT_TEST_BACKENDS) {
  check_sequence_logps_deterministic<TestType>();
}

TEMPLATE_TEST_CASE("sequence_logps rejects bad labels, non-finite rows and empty sequences",
                   "[backends][logps]", PREFOPT_TEST_BACKENDS) {
  check_sequence_logps_errors<TestType>();
}

TEMPLATE_TEST_CASE("the generic required-primitives path agrees with the fused operations",
                   "[backends][logps]", PREFOPT_TEST_BACKENDS) {
  check_generic_path_matches_fused<TestType>();
}

TEST_CASE("sequence_logps backward agrees with finite differences (double)", "[backends][logps]") {
  check_sequence_logps_finite_differences<prefopt::eigen::backend<double>>();
#ifdef PREFOPT_HAVE_XTENSOR
  check_sequence_logps_finite_differences<prefopt::xtensor::backend<double>>();
#endif
}

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

#define PREFOPT_DEVICE_PATH_BACKENDS device_path_backend<float>, device_path_backend<double>

TEMPLATE_TEST_CASE("the device code paths of the algorithms match Eigen", "[backends][losses][game]",
                   PREFOPT_DEVICE_PATH_BACKENDS) {
  static_assert(!prefopt::losses::detail::host_accessible<TestType>);
  check_preference_losses_match_eigen<TestType>();
  check_preference_loss_validation<TestType>();
  check_kto_unpaired_matches_eigen<TestType>();
  check_from_logits_matches_eigen<TestType>();
  check_loss_list_matches_eigen<TestType>();
  check_solve_matches_eigen<TestType>();
  check_solve_batch_matches_eigen<TestType>();
}

// ---- algorithms against the Eigen backend (algorithm_checks.hpp) ----------------------------
// Eigen against itself checks run-to-run bit identity; xtensor is held to the documented
// tolerances. The CUDA suite (cuda_algorithms.cu) runs the same bodies on device memory.

TEMPLATE_TEST_CASE("preference_loss matches Eigen for every batch coupling", "[backends][losses]",
                   PREFOPT_TEST_BACKENDS) {
  check_preference_losses_match_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss validates backend inputs on the host", "[backends][losses]",
                   PREFOPT_TEST_BACKENDS) {
  check_preference_loss_validation<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches Eigen", "[backends][losses]", PREFOPT_TEST_BACKENDS) {
  check_kto_unpaired_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss_from_logits matches Eigen end to end",
                   "[backends][losses][logps]", PREFOPT_TEST_BACKENDS) {
  check_from_logits_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve with hedge, optimistic_mwu and extragradient matches Eigen",
                   "[backends][game]", PREFOPT_TEST_BACKENDS) {
  check_solve_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve_batch matches Eigen", "[backends][game]", PREFOPT_TEST_BACKENDS) {
  check_solve_batch_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("a runtime loss list from the registry matches Eigen", "[backends][losses]",
                   PREFOPT_TEST_BACKENDS) {
  check_loss_list_matches_eigen<TestType>();
}
