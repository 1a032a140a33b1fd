// The runtime loss registry (std::visit over every policy of the catalogue, so every loss's
// per-pair kernel is instantiated for the device) on prefopt::cuda::backend<float / double>,
// compared with the Eigen backend. Its own translation unit: it is the largest instantiation of
// the CUDA suite, and nvcc builds it in parallel with the others.
#include <prefopt/backends/cuda.hpp>

#include "algorithm_checks.hpp"
#include "loss_fixture_checks.hpp"
#include "cuda_support.hpp"

using namespace prefopt::testing;

TEMPLATE_TEST_CASE("cuda: a runtime loss list from the registry matches Eigen", "[cuda][losses]",
                   PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_loss_list_matches_eigen<TestType>();
}

// The absolute reference: every loss of the registry and unpaired KTO against the PyTorch
// autograd fixtures (loss_fixture_checks.hpp), inputs in device memory.
TEMPLATE_TEST_CASE("cuda: every loss matches the PyTorch autograd fixtures",
                   "[cuda][losses][fixtures]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_loss_fixtures<TestType>();
}

TEMPLATE_TEST_CASE("cuda: unpaired kto_loss matches the PyTorch fixtures",
                   "[cuda][losses][fixtures]", PREFOPT_CUDA_BACKENDS) {
  skip_without_device();
  check_kto_unpaired_fixtures<TestType>();
}
