#pragma once
// What the CUDA test translation units share: device buffers as the placement of the inputs of
// prefopt::cuda::backend<T> in the backend-generic test bodies, the backend list, and the skip
// rule (without a usable CUDA device a test prints the skip marker of
// tests/support/device_skip.hpp and exits 0; ctest reports it as "Skipped" through the
// SKIP_REGULAR_EXPRESSION that prefopt_add_test_suite(... NEEDS_DEVICE) sets).
#include <prefopt/backends/cuda.hpp>

#include "backend_checks.hpp"
#include "support/device_skip.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace prefopt::testing {

template <class T>
struct placement<prefopt::cuda::backend<T>> {
  template <class U>
  static prefopt::cuda::device_buffer<U> upload(const std::vector<U>& v) {
    return prefopt::cuda::upload(v);
  }
  template <class U>
  static std::vector<U> download(const U* p, index_t n) {
    return prefopt::cuda::download(p, n);
  }
};

inline void skip_without_device() {
  std::string reason;
  if (!prefopt::cuda::device_available(&reason))
    skip_for_missing_device("no usable CUDA device (" + reason + ")");
}

}  // namespace prefopt::testing

#define PREFOPT_CUDA_BACKENDS prefopt::cuda::backend<float>, prefopt::cuda::backend<double>
