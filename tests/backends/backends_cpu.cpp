// The backend-generic checks of backend_checks.hpp on every host backend (PREFOPT_TEST_BACKENDS:
// Eigen, and xtensor when available). The CUDA suite (cuda.cu) runs the same cases on a GPU.
#include <support/backends.hpp>

#define PREFOPT_CASES_BACKENDS PREFOPT_TEST_BACKENDS
#define PREFOPT_CASES_NAME(s) s
#define PREFOPT_CASES_TAG "[backends]"
#define PREFOPT_CASES_PRELUDE static_cast<void>(0)
#include "backend_cases.hpp"

TEST_CASE("sequence_logps backward agrees with finite differences (double)", "[backends][logps]") {
  prefopt::testing::check_sequence_logps_finite_differences<prefopt::eigen::backend<double>>();
#ifdef PREFOPT_HAVE_XTENSOR
  prefopt::testing::check_sequence_logps_finite_differences<prefopt::xtensor::backend<double>>();
#endif
}
