// The algorithms (preference losses, unpaired KTO, the loss from logits, the runtime registry,
// the iterative Nash solvers and their batched form) on every host backend, compared with the
// Eigen backend through the shared bodies of algorithm_checks.hpp; the CUDA suite
// (cuda_algorithms.cu, cuda_registry.cu) runs the same bodies on device memory. A separate
// translation unit from backends_cpu.cpp so the two compile in parallel.
#include "algorithm_checks.hpp"
#include "loss_fixture_checks.hpp"

#include <support/backends.hpp>

using namespace prefopt::testing;

namespace {

/// A memory space of the test's own: Eigen memory that the algorithms must treat as not
/// readable by the host.
struct emulated_device_space {};

/// Eigen seen as a device backend: its memory space is not host_space, so the algorithms take
/// the code paths the CUDA backend takes (inputs copied through B::for_each + B::to_host for
/// validation, flags converted on the backend, the fused log-probs with views in the backend's
/// space), and those paths are exercised on machines without a GPU. Its primitives and fused
/// operations forward to Eigen's on the same memory.
template <class T>
struct device_path_backend : prefopt::eigen::backend<T> {
  using base = prefopt::eigen::backend<T>;
  using memory_space = emulated_device_space;
  using vector_type = typename base::vector_type;
  using matrix_type = typename base::matrix_type;
  template <class U>
  using view = prefopt::matrix_view<U, emulated_device_space>;
  template <class U>
  using logits = prefopt::logits_view<U, emulated_device_space>;

  template <class U>
  static prefopt::matrix_view<U> on_host(view<U> v) {
    return {v.data, v.rows, v.cols, v.row_stride};
  }
  template <class U>
  static prefopt::logits_view<U> on_host(logits<U> v) {
    return {v.data, v.batch, v.time, v.vocab, v.batch_stride, v.time_stride};
  }

  static vector_type row_max(view<const T> m) { return base::row_max(on_host(m)); }
  static vector_type row_logsumexp(view<const T> m) { return base::row_logsumexp(on_host(m)); }

  template <class L, class M>
  static prefopt::sequence_logps_result<device_path_backend> token_logps_forward(
      logits<const T> x, view<const L> labels, view<const M> mask,
      const prefopt::sequence_logps_options& options) {
    auto r = base::token_logps_forward(on_host(x), on_host(labels), on_host(mask), options);
    return {std::move(r.token_logps), std::move(r.token_lse), std::move(r.sum),
            std::move(r.count), std::move(r.mean)};
  }
  template <class L, class M>
  static void token_logps_backward(logits<const T> x, view<const L> labels, view<const M> mask,
                                   const matrix_type& token_lse, const vector_type& coeff,
                                   logits<T> grad, const prefopt::sequence_logps_options& options) {
    base::token_logps_backward(on_host(x), on_host(labels), on_host(mask), token_lse, coeff,
                               on_host(grad), options);
  }
};

}  // namespace

static_assert(prefopt::Backend<device_path_backend<float>>);
static_assert(!prefopt::host_accessible<device_path_backend<float>>);
static_assert(prefopt::fused_logps_backend<device_path_backend<double>>);

// Eigen itself is the reference, so it is not listed: the backends compared with it are xtensor
// (when found) and Eigen through the device code paths.
#ifdef PREFOPT_HAVE_XTENSOR
#define PREFOPT_ALGORITHM_BACKENDS                                                   \
  device_path_backend<float>, device_path_backend<double>,                            \
      prefopt::xtensor::backend<float>, prefopt::xtensor::backend<double>
#else
#define PREFOPT_ALGORITHM_BACKENDS device_path_backend<float>, device_path_backend<double>
#endif

TEMPLATE_TEST_CASE("preference_loss matches Eigen for every batch coupling", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_losses_match_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss validates backend inputs on the host", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_loss_validation<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches Eigen", "[backends][losses]", PREFOPT_ALGORITHM_BACKENDS) {
  check_kto_unpaired_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss_from_logits matches Eigen end to end",
                   "[backends][losses][logps]", PREFOPT_ALGORITHM_BACKENDS) {
  check_from_logits_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve with hedge, optimistic_mwu and extragradient matches Eigen",
                   "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve_batch matches Eigen", "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_batch_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("a runtime loss list from the registry matches Eigen", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_loss_list_matches_eigen<TestType>();
}

// The absolute reference: the PyTorch autograd fixtures, on Eigen too (the reference of the
// comparisons above) and through the device code paths.
#define PREFOPT_FIXTURE_BACKENDS \
  prefopt::eigen::backend<float>, prefopt::eigen::backend<double>, PREFOPT_ALGORITHM_BACKENDS

TEMPLATE_TEST_CASE("every loss matches the PyTorch autograd fixtures", "[backends][losses][fixtures]",
                   PREFOPT_FIXTURE_BACKENDS) {
  check_loss_fixtures<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches the PyTorch fixtures", "[backends][losses][fixtures]",
                   PREFOPT_FIXTURE_BACKENDS) {
  check_kto_unpaired_fixtures<TestType>();
}
