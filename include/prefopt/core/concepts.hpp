#pragma once
// The backend concept. Algorithms are written once against this small set of primitives and run
// on any type B that provides them as static members (Eigen, xtensor, CUDA adapters, or yours).
//
// Required (all static; "vector"/"matrix" are B's owning, *evaluated* containers; pointers and
// views point into B's memory space, e.g. device memory for CUDA):
//   types      B::scalar_type (float or double), B::vector_type, B::matrix_type (row-major)
//   create     B::zeros(n) -> vector, B::zeros(rows, cols) -> matrix
//   shape      B::size(v), B::rows(m), B::cols(m)
//   raw access B::data(v), B::data(m) -> scalar_type* (const overloads too)
//   transfer   B::from_host(std::span<const scalar_type>) -> vector,
//              B::to_host(const vector&) -> std::vector<scalar_type>
//   launch     B::for_each(n, f): calls f(i) for i in [0, n); f is a PREFOPT_HD callable
//   element    B::exp, B::log, B::log_sigmoid, B::softplus (vector -> vector),
//              B::axpby(a, x, b, y) -> a*x + b*y
//   reduce     B::sum(v) -> scalar (accumulated in double), B::dot(x, y) -> scalar,
//              B::row_sum / B::row_max / B::row_logsumexp (matrix_view<const scalar>) -> vector
//   gather     B::gather_cols(matrix_view<const scalar> m, const std::int64_t* cols) -> vector,
//              out[r] = m(r, cols[r]), 0 where cols[r] is outside [0, m.cols)
//   linear     B::matvec(m, x) -> m x, B::matvec_transposed(m, x) -> m^T x
//
// Optional traits: `static constexpr bool host_memory = true` tells algorithms that the host can
// read B's memory directly (CPU backends), so host-side validation reads inputs in place instead
// of copying them through to_host.
//
// Optional fused operations are detected with `if constexpr (requires { ... })` (see
// prefopt/logps/sequence_logps.hpp): B::token_logps_forward / B::token_logps_backward.
//
// Algorithms never name Eigen, xtensor or CUDA; they call PREFOPT_ASSERT_BACKEND(B) first, which
// reports each missing primitive with its own readable static_assert message.

#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt {

namespace backend_primitives {

template <class B>
concept has_types = requires {
  typename B::scalar_type;
  typename B::vector_type;
  typename B::matrix_type;
} && std::floating_point<typename B::scalar_type>;

template <class B>
concept has_zeros = has_types<B> && requires(index_t n) {
  { B::zeros(n) } -> std::same_as<typename B::vector_type>;
  { B::zeros(n, n) } -> std::same_as<typename B::matrix_type>;
};

template <class B>
concept has_shape = has_types<B> && requires(const typename B::vector_type& v,
                                             const typename B::matrix_type& m) {
  { B::size(v) } -> std::convertible_to<index_t>;
  { B::rows(m) } -> std::convertible_to<index_t>;
  { B::cols(m) } -> std::convertible_to<index_t>;
};

template <class B>
concept has_data = has_types<B> && requires(typename B::vector_type& v,
                                            typename B::matrix_type& m,
                                            const typename B::vector_type& cv,
                                            const typename B::matrix_type& cm) {
  { B::data(v) } -> std::same_as<typename B::scalar_type*>;
  { B::data(m) } -> std::same_as<typename B::scalar_type*>;
  { B::data(cv) } -> std::same_as<const typename B::scalar_type*>;
  { B::data(cm) } -> std::same_as<const typename B::scalar_type*>;
};

template <class B>
concept has_transfer = has_types<B> && requires(std::span<const typename B::scalar_type> s,
                                                const typename B::vector_type& v) {
  { B::from_host(s) } -> std::same_as<typename B::vector_type>;
  { B::to_host(v) } -> std::same_as<std::vector<typename B::scalar_type>>;
};

// A probe functor for for_each: any PREFOPT_HD callable taking an index.
struct index_probe {
  PREFOPT_HD void operator()(index_t) const {}
};

template <class B>
concept has_for_each = requires(index_t n) { B::for_each(n, index_probe{}); };

// One concept per primitive, so a missing one is reported by name.
#define PREFOPT_DETAIL_UNARY_PRIMITIVE(fn)                                                  \
  template <class B>                                                                        \
  concept has_##fn = has_types<B> && requires(const typename B::vector_type& v) {           \
    { B::fn(v) } -> std::same_as<typename B::vector_type>;                                  \
  };
PREFOPT_DETAIL_UNARY_PRIMITIVE(exp)
PREFOPT_DETAIL_UNARY_PRIMITIVE(log)
PREFOPT_DETAIL_UNARY_PRIMITIVE(log_sigmoid)
PREFOPT_DETAIL_UNARY_PRIMITIVE(softplus)
#undef PREFOPT_DETAIL_UNARY_PRIMITIVE

#define PREFOPT_DETAIL_ROW_PRIMITIVE(fn)                                                     \
  template <class B>                                                                        \
  concept has_##fn = has_types<B> && requires(matrix_view<const typename B::scalar_type> m) { \
    { B::fn(m) } -> std::same_as<typename B::vector_type>;                                  \
  };
PREFOPT_DETAIL_ROW_PRIMITIVE(row_sum)
PREFOPT_DETAIL_ROW_PRIMITIVE(row_max)
PREFOPT_DETAIL_ROW_PRIMITIVE(row_logsumexp)
#undef PREFOPT_DETAIL_ROW_PRIMITIVE

template <class B>
concept has_axpby = has_types<B> && requires(const typename B::vector_type& v,
                                             typename B::scalar_type a) {
  { B::axpby(a, v, a, v) } -> std::same_as<typename B::vector_type>;
};

template <class B>
concept has_sum = has_types<B> && requires(const typename B::vector_type& v) {
  { B::sum(v) } -> std::same_as<typename B::scalar_type>;
};

template <class B>
concept has_dot = has_types<B> && requires(const typename B::vector_type& v) {
  { B::dot(v, v) } -> std::same_as<typename B::scalar_type>;
};

template <class B>
concept has_elementwise =
    has_exp<B> && has_log<B> && has_log_sigmoid<B> && has_softplus<B> && has_axpby<B>;

template <class B>
concept has_reductions =
    has_sum<B> && has_dot<B> && has_row_sum<B> && has_row_max<B> && has_row_logsumexp<B>;

template <class B>
concept has_gather = has_types<B> && requires(matrix_view<const typename B::scalar_type> m,
                                              const std::int64_t* cols) {
  { B::gather_cols(m, cols) } -> std::same_as<typename B::vector_type>;
};

template <class B>
concept has_linear = has_types<B> && requires(const typename B::matrix_type& m,
                                              const typename B::vector_type& x) {
  { B::matvec(m, x) } -> std::same_as<typename B::vector_type>;
  { B::matvec_transposed(m, x) } -> std::same_as<typename B::vector_type>;
};

}  // namespace backend_primitives

/// A type providing every required primitive listed at the top of this header.
template <class B>
concept Backend = backend_primitives::has_types<B> && backend_primitives::has_zeros<B> &&
                  backend_primitives::has_shape<B> && backend_primitives::has_data<B> &&
                  backend_primitives::has_transfer<B> && backend_primitives::has_for_each<B> &&
                  backend_primitives::has_elementwise<B> &&
                  backend_primitives::has_reductions<B> && backend_primitives::has_gather<B> &&
                  backend_primitives::has_linear<B>;

namespace detail {
/// Evaluates to true, or stops compilation with one message per missing primitive group.
template <class B>
consteval bool assert_backend() {
  using namespace backend_primitives;
  static_assert(has_types<B>,
                "prefopt::Backend: missing B::scalar_type (float/double), B::vector_type or "
                "B::matrix_type");
  static_assert(has_zeros<B>, "prefopt::Backend: missing primitive B::zeros(n) / B::zeros(r, c)");
  static_assert(has_shape<B>, "prefopt::Backend: missing primitive B::size / B::rows / B::cols");
  static_assert(has_data<B>, "prefopt::Backend: missing primitive B::data(vector/matrix)");
  static_assert(has_transfer<B>,
                "prefopt::Backend: missing primitive B::from_host(span) / B::to_host(vector)");
  static_assert(has_for_each<B>, "prefopt::Backend: missing primitive B::for_each(n, f)");
  static_assert(has_exp<B>, "prefopt::Backend: missing primitive B::exp(vector)");
  static_assert(has_log<B>, "prefopt::Backend: missing primitive B::log(vector)");
  static_assert(has_log_sigmoid<B>, "prefopt::Backend: missing primitive B::log_sigmoid(vector)");
  static_assert(has_softplus<B>, "prefopt::Backend: missing primitive B::softplus(vector)");
  static_assert(has_axpby<B>, "prefopt::Backend: missing primitive B::axpby(a, x, b, y)");
  static_assert(has_sum<B>, "prefopt::Backend: missing primitive B::sum(vector)");
  static_assert(has_dot<B>, "prefopt::Backend: missing primitive B::dot(x, y)");
  static_assert(has_row_sum<B>, "prefopt::Backend: missing primitive B::row_sum(matrix_view)");
  static_assert(has_row_max<B>, "prefopt::Backend: missing primitive B::row_max(matrix_view)");
  static_assert(has_row_logsumexp<B>,
                "prefopt::Backend: missing primitive B::row_logsumexp(matrix_view)");
  static_assert(has_gather<B>, "prefopt::Backend: missing primitive B::gather_cols(view, cols)");
  static_assert(has_linear<B>,
                "prefopt::Backend: missing primitive B::matvec / B::matvec_transposed");
  return Backend<B>;
}
}  // namespace detail

}  // namespace prefopt

/// First statement of every algorithm templated on a backend.
#define PREFOPT_ASSERT_BACKEND(B) static_assert(::prefopt::detail::assert_backend<B>())
