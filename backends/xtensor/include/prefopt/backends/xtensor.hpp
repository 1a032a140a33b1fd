#pragma once
// prefopt::xtensor::backend<T>: the xtensor (0.24+) adapter of the prefopt::Backend concept, host
// memory. docs/backends.md walks through this file as the worked example of a new backend.
//
// Containers are owning, evaluated xt::xtensor<T, 1> / xt::xtensor<T, 2> (row-major); every
// primitive assigns its xexpression into one of them before returning, so no lazy expression can
// outlive its operands. User memory enters through prefopt's non-owning views; view() / logits()
// build those views from any strided xtensor container or xt::adapt adaptor without copying.
//
// SIMD: the target prefopt::xtensor defines XTENSOR_USE_XSIMD, so xtensor's element-wise
// assignments run on xsimd batches. The fused row kernels (max, sum of exp, scaled exp) are
// written on xsimd::batch directly: xtensor's reducers walk steppers and were ~3x slower than a
// batch loop for a max over a contiguous row. Everything else is plain xtensor.
//
// Fused operations: token_logps_forward / token_logps_backward reuse the backend-neutral drivers
// of prefopt/logps/host_fused_logps.hpp (the same ones the Eigen backend uses): one streaming pass
// per row, online log-sum-exp in double across L1-sized chunks, rows over threads, bit-identical
// for any thread count. Only the three vectorised row kernels below are xtensor-specific. The
// backend-neutral host primitives (transfers, for_each, gather_cols) come from
// prefopt/core/host_primitives.hpp.

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/host_primitives.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/primitive_checks.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/logps/detail/dispatched_rows.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"
#include "prefopt/logps/host_fused_logps.hpp"
#include "prefopt/logps/types.hpp"

namespace prefopt::xtensor {

namespace detail {

inline std::array<std::size_t, 1> shape1(index_t n) { return {static_cast<std::size_t>(n)}; }

/// Non-owning 1-D xtensor view of a contiguous host range (read-only).
template <class T>
auto adapt_row(const T* p, index_t n) {
  return xt::adapt(p, static_cast<std::size_t>(n), xt::no_ownership(), shape1(n));
}

template <class T>
using simd = xsimd::batch<T>;

/// max over x[0, n); NaN handling is that of the hardware max (NaN may be skipped; the sum of
/// exp(x - max) then turns NaN, which the fused drivers report).
template <class T>
T row_max(const T* x, index_t n) {
  constexpr index_t W = static_cast<index_t>(simd<T>::size);
  T m = -std::numeric_limits<T>::infinity();
  index_t i = 0;
  if (n >= W) {
    simd<T> acc = simd<T>::load_unaligned(x);
    for (i = W; i + W <= n; i += W) acc = xsimd::max(acc, simd<T>::load_unaligned(x + i));
    alignas(64) std::array<T, W> lanes;
    acc.store_aligned(lanes.data());
    m = *std::max_element(lanes.begin(), lanes.end());
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

/// exp(x - shift) for one batch, with a finite argument for xsimd::exp. Its range reduction
/// converts round(z log2 e) to an integer, which is undefined behaviour for -inf (a masked logit)
/// and NaN on the SSE2 path (clang's UBSan: float-cast-overflow). So z is clamped to
/// [-1000, 1000] (exp underflows to exactly 0, or overflows to inf, well inside that range in float
/// and double: results are unchanged) and a NaN lane is computed from -1000 and then put back, so
/// a NaN logit still reaches the sum and the row is reported non-finite.
template <class T>
simd<T> exp_of_shifted(const T* x, const simd<T>& shift) {
  const simd<T> z = simd<T>::load_unaligned(x) - shift;
  const simd<T> floor(T(-1000)), ceiling(T(1000));
  const simd<T> finite_z = xsimd::min(xsimd::select(z >= floor, z, floor), ceiling);  // no NaN
  return xsimd::select(xsimd::isnan(z), z, xsimd::exp(finite_z));
}

/// sum of exp(x - m) over x[0, n), accumulated per lane in T (n <= logsumexp_chunk).
template <class T>
T sum_exp_shifted(const T* x, index_t n, T m) {
  constexpr index_t W = static_cast<index_t>(simd<T>::size);
  const simd<T> shift(m);
  simd<T> acc(T(0));
  index_t i = 0;
  for (; i + W <= n; i += W) acc += exp_of_shifted(x + i, shift);
  T s = xsimd::hadd(acc);
  for (; i < n; ++i) s += std::exp(x[i] - m);
  return s;
}

/// out = scale * exp(x - shift) over [0, n).
template <class T>
void scaled_exp(const T* x, index_t n, T shift, T scale, T* out) {
  constexpr index_t W = static_cast<index_t>(simd<T>::size);
  const simd<T> s(shift), c(scale);
  index_t i = 0;
  for (; i + W <= n; i += W)
    (exp_of_shifted(x + i, s) * c).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = std::exp(x[i] - shift) * scale;
}

template <class T>
T row_logsumexp(const T* x, index_t n) {
  // Float rows: the runtime-dispatched AVX2 / AVX-512 kernels when the CPU has them
  // (prefopt/detail/simd.hpp), the xsimd kernels above otherwise.
  return prefopt::detail::dispatched_row_logsumexp(x, n, row_max<T>, sum_exp_shifted<T>);
}

/// Element type, dimension and strides of the xtensor containers / adaptors view() accepts.
template <class E, class T>
concept strided_container = requires(const E& e) {
  { e.data() } -> std::convertible_to<const T*>;
  e.shape();
  e.strides();
  e.data_offset();
};

}  // namespace detail

template <std::floating_point T>
struct backend : prefopt::host_primitives<backend<T>>, prefopt::host_fused_logps<backend<T>> {
  using scalar_type = T;
  using vector_type = xt::xtensor<T, 1>;
  using matrix_type = xt::xtensor<T, 2>;  // row-major (XTENSOR_DEFAULT_LAYOUT)
  // memory_space (host_space), from_host, to_host, to_host_element, for_each and gather_cols come
  // from prefopt::host_primitives.

  // ---- containers ---------------------------------------------------------------------------
  static vector_type zeros(index_t n) {
    primitive_checks::vector_size(n);
    return vector_type(detail::shape1(n), T(0));
  }
  static matrix_type zeros(index_t rows, index_t cols) {
    primitive_checks::matrix_shape(rows, cols);
    return matrix_type({static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)}, T(0));
  }
  static index_t size(const vector_type& v) { return static_cast<index_t>(v.size()); }
  static index_t rows(const matrix_type& m) { return static_cast<index_t>(m.shape()[0]); }
  static index_t cols(const matrix_type& m) { return static_cast<index_t>(m.shape()[1]); }
  static T* data(vector_type& v) { return v.data(); }
  static const T* data(const vector_type& v) { return v.data(); }
  static T* data(matrix_type& m) { return m.data(); }
  static const T* data(const matrix_type& m) { return m.data(); }

  /// Zero-copy view of a 2-D row-major xtensor container or adaptor (unit column stride).
  template <detail::strided_container<T> E>
  static matrix_view<const T> view(const E& e) {
    require(e.shape().size() == 2, "e.dimension()", e.shape().size(), "view() needs a 2-D tensor");
    const auto rows = static_cast<index_t>(e.shape()[0]), cols = static_cast<index_t>(e.shape()[1]);
    require(cols <= 1 || e.strides()[1] == 1, "e.strides()[1]", e.strides()[1],
            "the column axis must be contiguous (row-major)");
    const index_t row_stride = rows <= 1 ? cols : static_cast<index_t>(e.strides()[0]);
    return {e.data() + e.data_offset(), rows, cols, row_stride};
  }
  /// Zero-copy logits view of a [batch, time, vocab] xtensor container or adaptor.
  template <detail::strided_container<T> E>
  static logits_view<const T> logits(const E& e) {
    require(e.shape().size() == 3, "e.dimension()", e.shape().size(),
            "logits() needs a [batch, time, vocab] tensor");
    const auto b = static_cast<index_t>(e.shape()[0]), t = static_cast<index_t>(e.shape()[1]),
               v = static_cast<index_t>(e.shape()[2]);
    require(v <= 1 || e.strides()[2] == 1, "e.strides()[2]", e.strides()[2],
            "the vocabulary axis must be contiguous");
    const index_t ts = t <= 1 ? v : static_cast<index_t>(e.strides()[1]);
    const index_t bs = b <= 1 ? t * ts : static_cast<index_t>(e.strides()[0]);
    return {e.data() + e.data_offset(), b, t, v, bs, ts};
  }

  // ---- element-wise (assigned into an owning container: evaluated at the boundary) -----------
  static vector_type log(const vector_type& v) { return xt::log(v); }
  static vector_type axpby(T a, const vector_type& x, T b, const vector_type& y) {
    primitive_checks::same_size(size(x), size(y));
    return a * x + b * y;
  }
  // Optional (tests and users; no algorithm calls them).
  static vector_type exp(const vector_type& v) { return xt::exp(v); }
  static vector_type log_sigmoid(const vector_type& v) {
    return map(v, [](T x) { return prefopt::log_sigmoid(x); });
  }
  static vector_type softplus(const vector_type& v) {
    return map(v, [](T x) { return prefopt::softplus(x); });
  }

  // ---- reductions (accumulated in double) ---------------------------------------------------
  static T sum(const vector_type& v) {
    return static_cast<T>(xt::sum<double>(v, xt::evaluation_strategy::immediate)());
  }
  static T dot(const vector_type& x, const vector_type& y) {
    primitive_checks::same_size(size(x), size(y));
    return static_cast<T>(
        xt::sum(xt::cast<double>(x) * xt::cast<double>(y), xt::evaluation_strategy::immediate)());
  }
  static vector_type row_max(matrix_view<const T> m) {
    primitive_checks::row_max(m);
    return per_row(m, detail::row_max<T>);
  }
  static vector_type row_logsumexp(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    return per_row(m, detail::row_logsumexp<T>);
  }
  // Optional (tests and users).
  static vector_type row_sum(matrix_view<const T> m) {
    validate_matrix_view("m", m);
    return per_row(m, [](const T* r, index_t n) {
      return static_cast<T>(
          xt::sum<double>(detail::adapt_row(r, n), xt::evaluation_strategy::immediate)());
    });
  }

  // ---- linear algebra (no xtensor-blas dependency: row dots and row axpys) -------------------
  static vector_type matvec(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec(cols(m), size(x));
    const index_t c = cols(m);
    return per_row(view(m), [&](const T* r, index_t) {
      return xt::sum(detail::adapt_row(r, c) * x, xt::evaluation_strategy::immediate)();
    });
  }
  static vector_type matvec_transposed(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec_transposed(rows(m), size(x));
    vector_type out = zeros(cols(m));
    for (index_t r = 0; r < rows(m); ++r)
      xt::noalias(out) += x(r) * detail::adapt_row(m.data() + r * cols(m), cols(m));
    return out;
  }

  // ---- fused sequence log-probs -------------------------------------------------------------
  // token_logps_forward / _backward / _forward_backward come from prefopt::host_fused_logps (the
  // drivers shared with the Eigen backend); xtensor supplies the two xsimd row kernels.
  static T fused_row_logsumexp(const T* x, index_t n) { return detail::row_logsumexp(x, n); }
  static void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out) {
    prefopt::detail::dispatched_scaled_exp(x, n, shift, scale, out, detail::scaled_exp<T>);
  }
  static T fused_row_logsumexp_and_grad(const T* x, index_t n, T c, index_t y, T* g) {
    return prefopt::detail::dispatched_row_logsumexp_and_grad(x, n, c, y, g, fused_row_logsumexp,
                                                              fused_row_scaled_exp);
  }

 private:
  template <class F>
  static vector_type map(const vector_type& v, F f) {
    vector_type out(v.shape());
    std::transform(v.begin(), v.end(), out.begin(), f);
    return out;
  }
  template <class F>
  static vector_type per_row(matrix_view<const T> m, F&& f) {
    vector_type out(detail::shape1(m.rows));
    for (index_t r = 0; r < m.rows; ++r) out(r) = f(m.row(r), m.cols);
    return out;
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

}  // namespace prefopt::xtensor
