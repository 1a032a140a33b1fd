#pragma once
// The backend lists every backend-generic test is instantiated over. Test files write
//   TEMPLATE_TEST_CASE("...", "[tag]", PREFOPT_TEST_BACKENDS) { using B = TestType; ... }
// so a new backend joins the whole suite by being added here.
//
// The xtensor backend joins when the test target defines PREFOPT_HAVE_XTENSOR, which linking the
// INTERFACE target prefopt_test_backends (tests/backends/CMakeLists.txt) does together with
// prefopt::eigen and prefopt::xtensor. The CUDA backend works on device memory, so it has its own
// suite (tests/backends/cuda.cu) running the shared bodies of tests/backends/backend_checks.hpp.
#include <prefopt/backends/eigen.hpp>

#ifdef PREFOPT_HAVE_XTENSOR
#include <prefopt/backends/xtensor.hpp>
#define PREFOPT_TEST_BACKENDS                                                        \
  prefopt::eigen::backend<float>, prefopt::eigen::backend<double>,                   \
      prefopt::xtensor::backend<float>, prefopt::xtensor::backend<double>
#else
#define PREFOPT_TEST_BACKENDS prefopt::eigen::backend<float>, prefopt::eigen::backend<double>
#endif
