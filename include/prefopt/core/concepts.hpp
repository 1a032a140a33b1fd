#pragma once
// The backend concept. Algorithms are written once against this small set of primitives and run
// on any type B that provides them as static members (Eigen, xtensor, CUDA adapters, or yours).
// It requires what the algorithms call, and only that (docs/backends.md lists who calls what).
//
// Required (all static; "vector"/"matrix" are B's owning, *evaluated* containers; pointers and
// views point into B's memory space):
//   types      B::scalar_type (float or double); B::vector_type, B::matrix_type: std::semiregular
//              (default-constructible, copyable with value semantics: a copy owns its own memory)
//   space      B::memory_space: prefopt::host_space, prefopt::device_space or a tag of B's own;
//              every view an algorithm passes to B is a matrix_view / logits_view in that space
//   create     B::zeros(n) -> vector, B::zeros(rows, cols) -> matrix (all elements 0)
//   shape      B::size(v), B::rows(m), B::cols(m)
//   raw access B::data(v), B::data(m) -> scalar_type* (const overloads too). A matrix is dense
//              and row-major: B::data(m) + r * B::cols(m) is row r (the log-prob and game code
//              write rows through that pointer).
//   transfer   B::from_host(std::span<const scalar_type>) -> vector,
//              B::from_host(rows, cols, std::span<const scalar_type>) -> matrix (row-major host),
//              B::to_host(const vector&) -> std::vector<scalar_type>,
//              B::to_host_element(const vector&, i) -> scalar_type (one element read back)
//   launch     B::for_each(n, f): calls f(i) for i in [0, n); f is a PREFOPT_HD callable
//   element    B::log (vector -> vector), B::axpby(a, x, b, y) -> a*x + b*y
//   reduce     B::sum(v) -> scalar (accumulated in double), B::dot(x, y) -> scalar,
//              B::row_max / B::row_logsumexp (matrix_view<const scalar, memory_space>) -> vector
//   linear     B::matvec(m, x) -> m x, B::matvec_transposed(m, x) -> m^T x
//   pointers   only when memory_space is not host_space: B::require_accessible(argument, ptr)
//              throws prefopt::invalid_argument naming `argument` unless the non-null `ptr`
//              points to memory B's kernels may read (CUDA: device memory of the current
//              device). The algorithms call it on the base pointer of every span they are given
//              (std::span carries no memory space) before any kernel reads it, so a host buffer
//              handed to a device backend is an error naming the argument, not a fault.
//
// Sequence log-probs need one of two further capabilities (prefopt/logps/types.hpp):
//   fused      B::token_logps_forward / B::token_logps_backward (prefopt::fused_logps_backend),
//              which every device backend must provide, or
//   generic    host_accessible<B> (memory_space is host_space) plus
//              B::gather_cols(matrix_view<const scalar>, const std::int64_t* cols) -> vector:
//              the generic path reads labels on the host, so it is refused at compile time for
//              any other memory space.
//
// Optional (not used by any algorithm; the adapters provide them for tests and users):
// B::exp, B::log_sigmoid, B::softplus (vector -> vector), B::row_sum(matrix_view) -> vector.
//
// Algorithms never name Eigen, xtensor or CUDA; they call PREFOPT_ASSERT_BACKEND(B) first, which
// reports each missing primitive with its own readable static_assert message.

#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/memory_space.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt {

namespace backend_primitives {

template <class B>
concept has_types = requires {
  typename B::scalar_type;
  typename B::vector_type;
  typename B::matrix_type;
} && std::floating_point<typename B::scalar_type> && std::semiregular<typename B::vector_type> &&
                    std::semiregular<typename B::matrix_type>;

template <class B>
concept has_memory_space = requires { typename B::memory_space; };

/// A read-only row view in B's memory space: what the row primitives take.
template <class B>
using row_view = matrix_view<const typename B::scalar_type, typename B::memory_space>;

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

template <class B>
concept has_matrix_upload = has_types<B> && requires(std::span<const typename B::scalar_type> s,
                                                     index_t n) {
  { B::from_host(n, n, s) } -> std::same_as<typename B::matrix_type>;
};

template <class B>
concept has_element_read = has_types<B> && requires(const typename B::vector_type& v, index_t i) {
  { B::to_host_element(v, i) } -> std::same_as<typename B::scalar_type>;
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
PREFOPT_DETAIL_UNARY_PRIMITIVE(log)
PREFOPT_DETAIL_UNARY_PRIMITIVE(exp)          // optional
PREFOPT_DETAIL_UNARY_PRIMITIVE(log_sigmoid)  // optional
PREFOPT_DETAIL_UNARY_PRIMITIVE(softplus)     // optional
#undef PREFOPT_DETAIL_UNARY_PRIMITIVE

#define PREFOPT_DETAIL_ROW_PRIMITIVE(fn)                                                     \
  template <class B>                                                                        \
  concept has_##fn = has_types<B> && has_memory_space<B> && requires(row_view<B> m) {       \
    { B::fn(m) } -> std::same_as<typename B::vector_type>;                                  \
  };
PREFOPT_DETAIL_ROW_PRIMITIVE(row_max)
PREFOPT_DETAIL_ROW_PRIMITIVE(row_logsumexp)
PREFOPT_DETAIL_ROW_PRIMITIVE(row_sum)  // optional
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

/// The generic sequence log-prob path's gather (`cols` is a pointer in B's memory space).
template <class B>
concept has_gather = has_types<B> && has_memory_space<B> &&
                     requires(row_view<B> m, const std::int64_t* cols) {
                       { B::gather_cols(m, cols) } -> std::same_as<typename B::vector_type>;
                     };

template <class B>
concept has_linear = has_types<B> && requires(const typename B::matrix_type& m,
                                              const typename B::vector_type& x) {
  { B::matvec(m, x) } -> std::same_as<typename B::vector_type>;
  { B::matvec_transposed(m, x) } -> std::same_as<typename B::vector_type>;
};

/// Host-space backends need no pointer check; any other space must say how its pointers are
/// checked (B::require_accessible), since spans cannot carry the space in their type.
template <class B>
concept has_pointer_check =
    has_memory_space<B> &&
    (std::same_as<typename B::memory_space, host_space> ||
     requires(const char* argument, const void* p) { B::require_accessible(argument, p); });

}  // namespace backend_primitives

/// A type providing every required primitive listed at the top of this header.
template <class B>
concept Backend =
    backend_primitives::has_types<B> && backend_primitives::has_memory_space<B> &&
    backend_primitives::has_zeros<B> && backend_primitives::has_shape<B> &&
    backend_primitives::has_data<B> && backend_primitives::has_transfer<B> &&
    backend_primitives::has_matrix_upload<B> && backend_primitives::has_element_read<B> &&
    backend_primitives::has_for_each<B> && backend_primitives::has_log<B> &&
    backend_primitives::has_axpby<B> && backend_primitives::has_sum<B> &&
    backend_primitives::has_dot<B> && backend_primitives::has_row_max<B> &&
    backend_primitives::has_row_logsumexp<B> && backend_primitives::has_linear<B> &&
    backend_primitives::has_pointer_check<B>;

/// The host may read and write B's memory directly (its memory space is host_space): host-side
/// validation then reads the caller's buffers in place instead of copying them through to_host,
/// and the generic sequence log-prob path is allowed.
template <class B>
concept host_accessible = backend_primitives::has_memory_space<B> &&
                          std::same_as<typename B::memory_space, host_space>;

/// Throws prefopt::invalid_argument naming `argument` when the span's memory cannot be read by
/// B's kernels (B::require_accessible); nothing to check for host backends or an empty span.
/// Called by the algorithms on every span input before the first kernel that reads it.
template <class B, class T>
void require_accessible(const char* argument, std::span<T> values) {
  if constexpr (!host_accessible<B>) {
    if (!values.empty()) B::require_accessible(argument, static_cast<const void*>(values.data()));
  }
}

/// The algorithms' check that a view handed to backend B lives in B's memory space. A mismatch
/// (a host view for a device backend, or the reverse) stops compilation here, before any kernel
/// could dereference a pointer of the wrong space.
template <class B, class View>
inline constexpr bool in_memory_space_of =
    std::same_as<typename View::memory_space, typename B::memory_space>;

namespace detail {
/// Evaluates to true, or stops compilation with one message per missing primitive group.
template <class B>
consteval bool assert_backend() {
  using namespace backend_primitives;
  static_assert(has_types<B>,
                "prefopt::Backend: missing B::scalar_type (float/double), or B::vector_type / "
                "B::matrix_type is missing or not std::semiregular");
  static_assert(has_memory_space<B>,
                "prefopt::Backend: missing B::memory_space (prefopt::host_space or device_space)");
  static_assert(has_zeros<B>, "prefopt::Backend: missing primitive B::zeros(n) / B::zeros(r, c)");
  static_assert(has_shape<B>, "prefopt::Backend: missing primitive B::size / B::rows / B::cols");
  static_assert(has_data<B>, "prefopt::Backend: missing primitive B::data(vector/matrix)");
  static_assert(has_transfer<B>,
                "prefopt::Backend: missing primitive B::from_host(span) / B::to_host(vector)");
  static_assert(has_matrix_upload<B>,
                "prefopt::Backend: missing primitive B::from_host(rows, cols, span) -> matrix");
  static_assert(has_element_read<B>,
                "prefopt::Backend: missing primitive B::to_host_element(vector, i) -> scalar");
  static_assert(has_for_each<B>, "prefopt::Backend: missing primitive B::for_each(n, f)");
  static_assert(has_log<B>, "prefopt::Backend: missing primitive B::log(vector)");
  static_assert(has_axpby<B>, "prefopt::Backend: missing primitive B::axpby(a, x, b, y)");
  static_assert(has_sum<B> && has_dot<B>,
                "prefopt::Backend: missing primitive B::sum(vector) / B::dot(x, y)");
  static_assert(has_row_max<B>, "prefopt::Backend: missing primitive B::row_max(matrix_view)");
  static_assert(has_row_logsumexp<B>,
                "prefopt::Backend: missing primitive B::row_logsumexp(matrix_view)");
  static_assert(has_linear<B>,
                "prefopt::Backend: missing primitive B::matvec / B::matvec_transposed");
  static_assert(has_pointer_check<B>,
                "prefopt::Backend: a backend whose memory_space is not host_space must provide "
                "B::require_accessible(const char* argument, const void* pointer)");
  return Backend<B>;
}
}  // namespace detail

}  // namespace prefopt

/// First statement of every algorithm templated on a backend.
#define PREFOPT_ASSERT_BACKEND(B) static_assert(::prefopt::detail::assert_backend<B>())
