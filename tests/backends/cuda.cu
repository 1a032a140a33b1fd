// The backend-generic checks of backend_checks.hpp on prefopt::cuda::backend<float / double>:
// the same cases the CPU backends pass (backend_cases.hpp), with inputs uploaded to device memory.
//
// Always compiled when nvcc is found. Without a usable CUDA device each test prints the skip
// marker with the reason (tests/support/device_skip.hpp), which ctest reports as "Skipped"
// rather than as passed or failed.
#include "backend_checks.hpp"
#include "cuda_support.hpp"

#include <string>
#include <vector>

using namespace prefopt::testing;

#define PREFOPT_CASES_BACKENDS PREFOPT_CUDA_BACKENDS
#define PREFOPT_CASES_NAME(s) "cuda: " s
#define PREFOPT_CASES_TAG "[cuda]"
#define PREFOPT_CASES_PRELUDE skip_without_device()
#include "backend_cases.hpp"

TEST_CASE("cuda: sequence_logps backward agrees with finite differences (double)",
          "[cuda][logps]") {
  skip_without_device();
  check_sequence_logps_finite_differences<prefopt::cuda::backend<double>>();
}

TEST_CASE("cuda: device buffers copy deeply and CUDA errors name the failing call", "[cuda]") {
  skip_without_device();
  const std::vector<float> h{1, 2, 3};
  auto a = prefopt::cuda::upload(h);
  auto b = a;  // deep copy
  float one = 7;
  a.copy_from_host(&one, 1);
  CHECK(prefopt::cuda::download(b.data(), 3) == h);
  CHECK(prefopt::cuda::download(a.data(), 1)[0] == 7.0f);
  auto moved = std::move(b);
  CHECK(b.size() == 0);
  CHECK(moved.size() == 3);
  try {
    prefopt::cuda::device_buffer<float> huge(prefopt::index_t{1} << 50);  // 4 PiB
    FAIL("allocation of 4 PiB succeeded");
  } catch (const prefopt::cuda::cuda_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("cudaMalloc") &&
                                          Catch::Contains("cudaErrorMemoryAllocation"));
  }
  // The caught failure must not resurface as the launch error of the next kernel.
  using B = prefopt::cuda::backend<float>;
  CHECK_NOTHROW(B::to_host(B::exp(B::zeros(4))));
}
