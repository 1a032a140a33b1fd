// The algorithms on prefopt::cuda::backend<float / double>, compared with the Eigen backend on
// the same inputs (algorithm_checks.hpp; the Eigen side is algorithm_reference.cpp): every input
// span, logits view and payoff lives in device memory. Tolerances are documented in
// algorithm_checks.hpp. Without a usable CUDA device each test prints the skip marker with the
// reason (tests/support/device_skip.hpp; ctest: "Skipped").
#include <prefopt/backends/cuda.hpp>

#include "algorithm_checks.hpp"
#include "cuda_support.hpp"

using namespace prefopt::testing;

TEMPLATE_TEST_CASE("cuda: preference_loss matches Eigen for every batch coupling",
                   "[cuda][losses]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_preference_losses_match_eigen<TestType>();
}

TEMPLATE_TEST_CASE("cuda: preference_loss into a kept result equals the allocating form and Eigen",
                   "[cuda][losses]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_reused_result_matches_allocating<TestType>();
}

TEMPLATE_TEST_CASE("cuda: preference_loss validates device inputs on the host", "[cuda][losses]",
                   PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_preference_loss_validation<TestType>();
}

TEMPLATE_TEST_CASE("cuda: unpaired kto_loss matches Eigen", "[cuda][losses]",
                   PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_kto_unpaired_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("cuda: preference_loss_from_logits matches Eigen end to end",
                   "[cuda][losses][logps]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_from_logits_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("cuda: solve with hedge, optimistic_mwu and extragradient matches Eigen",
                   "[cuda][game]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_solve_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("cuda: solve_batch matches Eigen", "[cuda][game]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_solve_batch_matches_eigen<TestType>();
}
