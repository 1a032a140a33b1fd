#pragma once
// prefopt::eigen::backend<T>: the Eigen 3.4 adapter of the prefopt::Backend concept (host memory).
//
// Containers are evaluated, owning Eigen objects (column vectors, row-major matrices); no lazy
// expression crosses the API boundary. Element-wise maths uses Eigen's vectorised array
// functions where they exist (exp, log) and prefopt's stable scalar numerics otherwise.
//
// Fused operations: token_logps_forward / token_logps_backward process one (sequence, position)
// row at a time in a single streaming pass over memory. The row is consumed in L1-sized chunks;
// per chunk a vectorised max and sum of exp(x - max) are folded into a running (max, sum) pair in
// double (the "online softmax"), so no softmax tensor is ever written. Rows are split across
// `options.threads` threads; every row is computed by one thread with a fixed order, so results
// are bit-identical for any thread count. The backend-neutral drivers live in
// prefopt/logps/host_fused_logps.hpp, the backend-neutral host primitives (transfers, for_each,
// gather_cols) in prefopt/core/host_primitives.hpp, both shared with the xtensor backend.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/host_primitives.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/primitive_checks.hpp"
#include "prefopt/logps/detail/dispatched_rows.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"
#include "prefopt/logps/host_fused_logps.hpp"
#include "prefopt/logps/types.hpp"

namespace prefopt::eigen {

namespace detail {

template <class T>
using array_map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// The fused row kernels are explicit loops over Eigen's packet math with unaligned loads and
// stores from the first element of the row, so an element's position in the row (never its
// address) decides which instructions compute it. Eigen's own expression evaluation peels
// scalar iterations until the *destination* is aligned, which made the same row's gradient
// differ in the last bits between a batch-major and a time-major output buffer (std::exp on
// the peeled elements, the vectorised exp on the rest). Here every output element of
// scaled_exp goes through the vectorised exp, and the reductions combine elements in an order
// fixed by n alone: results are bit-identical for any layout and alignment.
template <class T>
using packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
inline constexpr bool packet_exp =
    Eigen::internal::packet_traits<T>::Vectorizable && Eigen::internal::packet_traits<T>::HasExp;
template <class T>
inline constexpr index_t packet_width =
    packet_exp<T> ? static_cast<index_t>(Eigen::internal::unpacket_traits<packet<T>>::size) : 1;

/// max over x[0, n). NaN handling is that of the hardware max (a NaN may be skipped; the sum of
/// exp(x - max) then turns NaN, which the fused drivers report).
template <class T>
T row_max(const T* x, index_t n) {
  namespace ei = Eigen::internal;
  constexpr index_t W = packet_width<T>;
  T m = -std::numeric_limits<T>::infinity();
  index_t i = 0;
  if constexpr (W > 1) {
    if (n >= W) {
      packet<T> acc = ei::ploadu<packet<T>>(x);
      for (i = W; i + W <= n; i += W) acc = ei::pmax(acc, ei::ploadu<packet<T>>(x + i));
      m = ei::predux_max(acc);
    }
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

/// sum of exp(x - m) over x[0, n), accumulated per lane in T (n <= logsumexp_chunk).
template <class T>
T sum_exp_shifted(const T* x, index_t n, T m) {
  namespace ei = Eigen::internal;
  constexpr index_t W = packet_width<T>;
  T s = T(0);
  index_t i = 0;
  if constexpr (W > 1) {
    const packet<T> shift = ei::pset1<packet<T>>(m);
    packet<T> acc = ei::pset1<packet<T>>(T(0));
    for (; i + W <= n; i += W) acc = ei::padd(acc, ei::pexp(ei::psub(ei::ploadu<packet<T>>(x + i), shift)));
    s = ei::predux(acc);
  }
  for (; i < n; ++i) s += std::exp(x[i] - m);
  return s;
}

/// out = scale * exp(x - shift) over [0, n). The last partial packet is computed in a padded
/// copy, so every element goes through the same vectorised exp.
template <class T>
void scaled_exp(const T* x, index_t n, T shift, T scale, T* out) {
  namespace ei = Eigen::internal;
  constexpr index_t W = packet_width<T>;
  if constexpr (W == 1) {
    for (index_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - shift) * scale;
  } else {
    const packet<T> s = ei::pset1<packet<T>>(shift), c = ei::pset1<packet<T>>(scale);
    auto kernel = [&](const T* in, T* to) {
      ei::pstoreu(to, ei::pmul(ei::pexp(ei::psub(ei::ploadu<packet<T>>(in), s)), c));
    };
    index_t i = 0;
    for (; i + W <= n; i += W) kernel(x + i, out + i);
    if (i < n) {
      std::array<T, static_cast<std::size_t>(W)> tail_in, tail_out;
      tail_in.fill(shift);
      std::copy(x + i, x + n, tail_in.begin());
      kernel(tail_in.data(), tail_out.data());
      std::copy_n(tail_out.begin(), n - i, out + i);
    }
  }
}

/// Log-sum-exp of one contiguous row: vectorised max and sum of exp(x - max) per L1-sized chunk,
/// chunks folded into a double online log-sum-exp (prefopt/logps/detail/online_logsumexp.hpp).
/// Float rows use the runtime-dispatched AVX2 / AVX-512 kernels when the CPU has them
/// (prefopt/detail/simd.hpp), Eigen's packet math otherwise.
template <class T>
T row_logsumexp(const T* x, index_t n) {
  return prefopt::detail::dispatched_row_logsumexp(x, n, row_max<T>, sum_exp_shifted<T>);
}

}  // namespace detail

template <std::floating_point T>
struct backend : prefopt::host_primitives<backend<T>>, prefopt::host_fused_logps<backend<T>> {
  using scalar_type = T;
  using vector_type = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using matrix_type = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  // memory_space (host_space), from_host, to_host, to_host_element, for_each and gather_cols come
  // from prefopt::host_primitives.

  // ---- containers ---------------------------------------------------------------------------
  static vector_type zeros(index_t n) {
    primitive_checks::vector_size(n);
    return vector_type::Zero(n);
  }
  static matrix_type zeros(index_t rows, index_t cols) {
    primitive_checks::matrix_shape(rows, cols);
    return matrix_type::Zero(rows, cols);
  }
  static index_t size(const vector_type& v) { return v.size(); }
  static index_t rows(const matrix_type& m) { return m.rows(); }
  static index_t cols(const matrix_type& m) { return m.cols(); }
  static T* data(vector_type& v) { return v.data(); }
  static const T* data(const vector_type& v) { return v.data(); }
  static T* data(matrix_type& m) { return m.data(); }
  static const T* data(const matrix_type& m) { return m.data(); }
  /// Zero-copy view of an owned matrix.
  static matrix_view<const T> view(const matrix_type& m) {
    return matrix_view<const T>::contiguous(m.data(), m.rows(), m.cols());
  }

  // ---- element-wise -------------------------------------------------------------------------
  static vector_type log(const vector_type& v) { return v.array().log().matrix(); }
  static vector_type axpby(T a, const vector_type& x, T b, const vector_type& y) {
    primitive_checks::same_size(x.size(), y.size());
    return (a * x + b * y).eval();
  }
  // Optional (tests and users; no algorithm calls them).
  static vector_type exp(const vector_type& v) { return v.array().exp().matrix(); }
  static vector_type log_sigmoid(const vector_type& v) {
    return v.unaryExpr([](T x) { return prefopt::log_sigmoid(x); });
  }
  static vector_type softplus(const vector_type& v) {
    return v.unaryExpr([](T x) { return prefopt::softplus(x); });
  }

  // ---- reductions (accumulated in double) ---------------------------------------------------
  static T sum(const vector_type& v) { return static_cast<T>(v.template cast<double>().sum()); }
  static T dot(const vector_type& x, const vector_type& y) {
    primitive_checks::same_size(x.size(), y.size());
    return static_cast<T>(x.template cast<double>().dot(y.template cast<double>()));
  }
  static vector_type row_max(matrix_view<const T> m) {
    primitive_checks::row_max(m);
    vector_type out(m.rows);
    for (index_t r = 0; r < m.rows; ++r) out[r] = detail::array_map<T>(m.row(r), m.cols).maxCoeff();
    return out;
  }
  static vector_type row_logsumexp(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    vector_type out(m.rows);
    for (index_t r = 0; r < m.rows; ++r) out[r] = detail::row_logsumexp(m.row(r), m.cols);
    return out;
  }
  // Optional (tests and users).
  static vector_type row_sum(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    vector_type out(m.rows);
    for (index_t r = 0; r < m.rows; ++r)
      out[r] = static_cast<T>(detail::array_map<T>(m.row(r), m.cols).template cast<double>().sum());
    return out;
  }

  // ---- linear algebra -----------------------------------------------------------------------
  static vector_type matvec(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec(m.cols(), x.size());
    return (m * x).eval();
  }
  static vector_type matvec_transposed(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec_transposed(m.rows(), x.size());
    return (m.transpose() * x).eval();
  }

  // ---- fused sequence log-probs -------------------------------------------------------------
  // token_logps_forward / _backward / _forward_backward come from prefopt::host_fused_logps (the
  // drivers shared with the xtensor backend do validation, threading and per-sequence sums); Eigen
  // supplies the two vectorised row kernels.
  static T fused_row_logsumexp(const T* x, index_t n) { return detail::row_logsumexp(x, n); }
  static void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out) {
    prefopt::detail::dispatched_scaled_exp(x, n, shift, scale, out, detail::scaled_exp<T>);
  }
  static T fused_row_logsumexp_and_grad(const T* x, index_t n, T c, index_t y, T* g) {
    return prefopt::detail::dispatched_row_logsumexp_and_grad(x, n, c, y, g, fused_row_logsumexp,
                                                              fused_row_scaled_exp);
  }
};

static_assert(Backend<backend<float>> && Backend<backend<double>>);
// The fused path must be the one sequence_logps picks (a signature mismatch would silently fall
// back to the generic path).
static_assert(fused_logps_backend<backend<float>> && fused_logps_backend<backend<double>> &&
              fused_logps_backend<backend<float>, std::int32_t, bool>);
// 16-bit logits (prefopt::bfloat16 / float16) on backend<float>: the host mixin's overloads.
static_assert(fused_half_logps_backend<backend<float>, bfloat16> &&
              fused_half_logps_backend<backend<float>, float16> &&
              !fused_half_logps_backend<backend<double>, bfloat16>);
static_assert(fused_logps_with_grad_backend<backend<float>, float> &&
              fused_logps_with_grad_backend<backend<double>, double> &&
              fused_logps_with_grad_backend<backend<float>, bfloat16, std::int32_t, bool> &&
              fused_logps_with_grad_backend<backend<float>, float16>);

}  // namespace prefopt::eigen
