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
// prefopt/detail/fused_logps.hpp (shared with the xtensor backend).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/detail/fused_logps.hpp"
#include "prefopt/logps/sequence_logps.hpp"

namespace prefopt::eigen {

namespace detail {

template <class T>
using array_map = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// Log-sum-exp of one contiguous row: vectorised max and sum of exp(x - max) per L1-sized chunk,
/// chunks folded into a double online log-sum-exp (prefopt/detail/fused_logps.hpp).
template <class T>
T row_logsumexp(const T* x, index_t n) {
  return prefopt::detail::chunked_row_logsumexp(
      x, n, [](const T* c, index_t len) { return array_map<T>(c, len).maxCoeff(); },
      [](const T* c, index_t len, T m) { return (array_map<T>(c, len) - m).exp().sum(); });
}

}  // namespace detail

template <std::floating_point T>
struct backend : prefopt::detail::host_fused_logps<backend<T>> {
  using scalar_type = T;
  using vector_type = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using matrix_type = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  /// Host memory: algorithms may validate and read the caller's buffers in place (no copies).
  static constexpr bool host_memory = true;

  // ---- containers ---------------------------------------------------------------------------
  static vector_type zeros(index_t n) {
    require(n >= 0, "n", n, "vector size must be >= 0");
    return vector_type::Zero(n);
  }
  static matrix_type zeros(index_t rows, index_t cols) {
    require(rows >= 0, "rows", rows, "must be >= 0");
    require(cols >= 0, "cols", cols, "must be >= 0");
    return matrix_type::Zero(rows, cols);
  }
  static index_t size(const vector_type& v) { return v.size(); }
  static index_t rows(const matrix_type& m) { return m.rows(); }
  static index_t cols(const matrix_type& m) { return m.cols(); }
  static T* data(vector_type& v) { return v.data(); }
  static const T* data(const vector_type& v) { return v.data(); }
  static T* data(matrix_type& m) { return m.data(); }
  static const T* data(const matrix_type& m) { return m.data(); }
  static vector_type from_host(std::span<const T> values) {
    return Eigen::Map<const vector_type>(values.data(), static_cast<index_t>(values.size()));
  }
  static std::vector<T> to_host(const vector_type& v) {
    return std::vector<T>(v.data(), v.data() + v.size());
  }
  /// Zero-copy view of an owned matrix.
  static matrix_view<const T> view(const matrix_type& m) {
    return matrix_view<const T>::contiguous(m.data(), m.rows(), m.cols());
  }

  // ---- launch -------------------------------------------------------------------------------
  template <class F>
  static void for_each(index_t n, F&& f) {
    for (index_t i = 0; i < n; ++i) f(i);
  }

  // ---- element-wise -------------------------------------------------------------------------
  static vector_type exp(const vector_type& v) { return v.array().exp().matrix(); }
  static vector_type log(const vector_type& v) { return v.array().log().matrix(); }
  static vector_type log_sigmoid(const vector_type& v) {
    return v.unaryExpr([](T x) { return prefopt::log_sigmoid(x); });
  }
  static vector_type softplus(const vector_type& v) {
    return v.unaryExpr([](T x) { return prefopt::softplus(x); });
  }
  static vector_type axpby(T a, const vector_type& x, T b, const vector_type& y) {
    require_same_size("y.size()", y.size(), "x.size()", x.size());
    return (a * x + b * y).eval();
  }

  // ---- reductions (accumulated in double) ---------------------------------------------------
  static T sum(const vector_type& v) { return static_cast<T>(v.template cast<double>().sum()); }
  static T dot(const vector_type& x, const vector_type& y) {
    require_same_size("y.size()", y.size(), "x.size()", x.size());
    return static_cast<T>(x.template cast<double>().dot(y.template cast<double>()));
  }
  static vector_type row_sum(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    vector_type out(m.rows);
    for (index_t r = 0; r < m.rows; ++r)
      out[r] = static_cast<T>(detail::array_map<T>(m.row(r), m.cols).template cast<double>().sum());
    return out;
  }
  static vector_type row_max(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    require(m.cols >= 1, "m.cols", m.cols, "row_max needs at least one column");
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
  static vector_type gather_cols(matrix_view<const T> m, const std::int64_t* cols) {
    validate_matrix_view("m", m);
    require(cols != nullptr || m.rows == 0, "cols", "nullptr", "must point to m.rows column indices");
    vector_type out(m.rows);
    for (index_t r = 0; r < m.rows; ++r)
      out[r] = (cols[r] >= 0 && cols[r] < m.cols) ? m(r, cols[r]) : T(0);
    return out;
  }

  // ---- linear algebra -----------------------------------------------------------------------
  static vector_type matvec(const matrix_type& m, const vector_type& x) {
    require_same_size("x.size()", x.size(), "m.cols()", m.cols());
    return (m * x).eval();
  }
  static vector_type matvec_transposed(const matrix_type& m, const vector_type& x) {
    require_same_size("x.size()", x.size(), "m.rows()", m.rows());
    return (m.transpose() * x).eval();
  }

  // ---- fused sequence log-probs -------------------------------------------------------------
  // token_logps_forward / token_logps_backward come from prefopt::detail::host_fused_logps (the
  // drivers shared with the xtensor backend do validation, threading and per-sequence sums);
  // Eigen supplies the two vectorised row kernels.
  static T fused_row_logsumexp(const T* x, index_t n) { return detail::row_logsumexp(x, n); }
  static void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out) {
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(out, n) =
        (detail::array_map<T>(x, n) - shift).exp() * scale;
  }
};

static_assert(Backend<backend<float>> && Backend<backend<double>>);

}  // namespace prefopt::eigen
