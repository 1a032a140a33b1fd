#pragma once
// The backend lists every backend-generic test is instantiated over. Test files write
//   TEMPLATE_TEST_CASE("...", "[tag]", PREFOPT_TEST_BACKENDS) { using B = TestType; ... }
// so a new backend joins the whole suite by being added here.
#include <prefopt/backends/eigen.hpp>

#define PREFOPT_TEST_BACKENDS prefopt::eigen::backend<float>, prefopt::eigen::backend<double>
