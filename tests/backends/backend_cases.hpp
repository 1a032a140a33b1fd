// The test cases running the shared bodies of backend_checks.hpp, written once for the CPU suite
// (backends_cpu.cpp) and the CUDA suite (cuda.cu). No include guard: a suite includes it once,
// after defining
//   PREFOPT_CASES_BACKENDS   the backend list of TEMPLATE_TEST_CASE
//   PREFOPT_CASES_NAME(s)    the case name (the CUDA suite prefixes "cuda: ")
//   PREFOPT_CASES_TAG        the suite tag ("[backends]" or "[cuda]")
//   PREFOPT_CASES_PRELUDE    a statement every case runs first (the CUDA suite's device skip)
// and it undefines them again.
#include "backend_checks.hpp"
#include "logps_fixture_checks.hpp"

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("element-wise primitives match long-double references"),
                   PREFOPT_CASES_TAG, PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_elementwise<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("reductions, row reductions and gather on strided views"),
                   PREFOPT_CASES_TAG, PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_reductions<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("matvec, matvec_transposed and for_each"), PREFOPT_CASES_TAG,
                   PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_linear_and_for_each<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("matrix upload and one-element read-back"),
                   PREFOPT_CASES_TAG, PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_matrix_upload_and_element_read<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("fused sequence_logps forward matches the reference"),
                   PREFOPT_CASES_TAG "[logps]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  // vocab 3001 spans two online-softmax chunks; shift on/off; with and without a mask;
  // int32 labels take the same path.
  prefopt::testing::check_sequence_logps_forward<TestType>(false, true, 3001);
  prefopt::testing::check_sequence_logps_forward<TestType>(true, true, 3001);
  prefopt::testing::check_sequence_logps_forward<TestType>(true, false, 17);
  prefopt::testing::check_sequence_logps_forward<TestType, std::int32_t>(true, true, 517);
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("fused sequence_logps backward matches the analytic gradient"),
                   PREFOPT_CASES_TAG "[logps]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_sequence_logps_backward<TestType>(true, true, 2100);
  prefopt::testing::check_sequence_logps_backward<TestType>(false, false, 33);
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("sequence_logps matches the PyTorch autograd fixtures"),
                   PREFOPT_CASES_TAG "[logps][fixtures]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_logps_fixtures<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("sequence_logps is bit-identical for any thread count or launch"),
                   PREFOPT_CASES_TAG "[logps]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_sequence_logps_deterministic<TestType>();
}

TEMPLATE_TEST_CASE(
    PREFOPT_CASES_NAME("sequence_logps rejects bad labels, non-finite rows and empty sequences"),
    PREFOPT_CASES_TAG "[logps]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_sequence_logps_errors<TestType>();
}

TEMPLATE_TEST_CASE(PREFOPT_CASES_NAME("the generic path agrees with the fused operations"),
                   PREFOPT_CASES_TAG "[logps]", PREFOPT_CASES_BACKENDS) {
  PREFOPT_CASES_PRELUDE;
  prefopt::testing::check_generic_path_matches_fused<TestType>();
}

#undef PREFOPT_CASES_BACKENDS
#undef PREFOPT_CASES_NAME
#undef PREFOPT_CASES_TAG
#undef PREFOPT_CASES_PRELUDE
