// Compiled by the ctest entries prefopt_memory_space_*, each of which expects compilation to FAIL
// with one readable static_assert (the case is chosen with -DPREFOPT_CASE=n):
//   1  a host view handed to a device-memory backend          (sequence_logps)
//   2  a device backend whose fused operations do not match    (the generic path is host-only)
//   3  host preference_logits handed to a device backend       (preference_loss_from_logits)
// The backend below follows the CUDA adapter's shape (memory_space = device_space, fused
// operations on device views) with declarations only; nothing runs.
#include <prefopt/logps/sequence_logps.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/from_logits.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace {

using prefopt::device_space;
using prefopt::index_t;

struct device_vector {
  double* p = nullptr;
  index_t n = 0;
};
struct device_matrix {
  device_vector buffer;
  index_t rows = 0, cols = 0;
};

template <bool WithFused>
struct device_backend {
  using scalar_type = double;
  using vector_type = device_vector;
  using matrix_type = device_matrix;
  using memory_space = device_space;
  using view = prefopt::matrix_view<const double, device_space>;
  static void require_accessible(const char*, const void*);
  static vector_type zeros(index_t n);
  static matrix_type zeros(index_t r, index_t c);
  static index_t size(const vector_type&);
  static index_t rows(const matrix_type&);
  static index_t cols(const matrix_type&);
  static double* data(vector_type&);
  static double* data(matrix_type&);
  static const double* data(const vector_type&);
  static const double* data(const matrix_type&);
  static vector_type from_host(std::span<const double>);
  static matrix_type from_host(index_t r, index_t c, std::span<const double>);
  static std::vector<double> to_host(const vector_type&);
  static double to_host_element(const vector_type&, index_t);
  template <class F>
  static void for_each(index_t n, F f) {  // defined: it is called with the algorithms' lambdas
    for (index_t i = 0; i < n; ++i) f(i);
  }
  static vector_type log(const vector_type&);
  static vector_type axpby(double, const vector_type&, double, const vector_type&);
  static double sum(const vector_type&);
  static double dot(const vector_type&, const vector_type&);
  static vector_type row_max(view);
  static vector_type row_logsumexp(view);
  static vector_type gather_cols(view, const std::int64_t*);
  static vector_type matvec(const matrix_type&, const vector_type&);
  static vector_type matvec_transposed(const matrix_type&, const vector_type&);

  // The fused forward with a signature that does not match (host views where device views are
  // required) unless WithFused: what a misspelt extension point looks like.
  template <class L, class M>
  static prefopt::sequence_logps_result<device_backend> token_logps_forward(
      prefopt::logits_view<const double, std::conditional_t<WithFused, device_space,
                                                            prefopt::host_space>>,
      prefopt::matrix_view<const L, device_space>, prefopt::matrix_view<const M, device_space>,
      const prefopt::sequence_logps_options&);
  template <class L, class M>
  static void token_logps_backward(prefopt::logits_view<const double, device_space>,
                                   prefopt::matrix_view<const L, device_space>,
                                   prefopt::matrix_view<const M, device_space>,
                                   const matrix_type&, const vector_type&,
                                   prefopt::logits_view<double, device_space>,
                                   const prefopt::sequence_logps_options&);
};

static_assert(prefopt::Backend<device_backend<true>>);
static_assert(prefopt::fused_logps_backend<device_backend<true>>);
static_assert(!prefopt::fused_logps_backend<device_backend<false>>);
static_assert(!prefopt::host_accessible<device_backend<true>>);

}  // namespace

void instantiate(const double* logits, const std::int64_t* labels) {
#if PREFOPT_CASE == 1
  // Host views (the default space) for a device backend.
  prefopt::sequence_logps<device_backend<true>>(
      prefopt::logits_view<const double>::contiguous(logits, 1, 2, 3),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels, 1, 2));
#elif PREFOPT_CASE == 2
  // Device views, but the backend's fused forward does not match the required signature.
  prefopt::sequence_logps<device_backend<false>>(
      prefopt::logits_view<const double, device_space>::contiguous(logits, 1, 2, 3),
      prefopt::matrix_view<const std::int64_t, device_space>::contiguous(labels, 1, 2));
#elif PREFOPT_CASE == 3
  prefopt::losses::preference_logits<double, std::int64_t, std::uint8_t> in;
  in.chosen_logits = prefopt::logits_view<const double>::contiguous(logits, 1, 2, 3);
  prefopt::losses::preference_loss_from_logits<device_backend<true>>(
      prefopt::losses::sigmoid<double>{0.1}, in);
#else
  // Case 0: the same call with device views compiles (checked by prefopt_memory_space_ok).
  prefopt::sequence_logps<device_backend<true>>(
      prefopt::logits_view<const double, device_space>::contiguous(logits, 1, 2, 3),
      prefopt::matrix_view<const std::int64_t, device_space>::contiguous(labels, 1, 2));
#endif
}
