// The backend-generic checks of backend_checks.hpp on every host backend (PREFOPT_TEST_BACKENDS:
// Eigen, and xtensor when available). The CUDA suite (cuda.cu) runs the same bodies on a GPU.
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
