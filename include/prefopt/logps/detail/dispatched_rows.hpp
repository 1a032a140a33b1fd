#pragma once
// The row kernels of the fused sequence log-probs with runtime instruction-set dispatch
// (prefopt/detail/simd.hpp): for float rows on a CPU with AVX2+FMA or AVX-512, the dispatched
// kernels; otherwise the backend's portable kernels, passed in. Used by the Eigen and xtensor
// adapters for both the fused operations and the row_logsumexp primitive.

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/detail/simd.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"

namespace prefopt::detail {

/// log sum exp of x[0, n): chunked_row_logsumexp over the active level's max and sum of exp, or
/// over the portable (chunk_max, chunk_sum_exp) when no level is active or T is not float.
template <class T, class PortableMax, class PortableSumExp>
T dispatched_row_logsumexp(const T* x, index_t n, PortableMax&& chunk_max,
                           PortableSumExp&& chunk_sum_exp) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::row_kernels k = simd::active_kernels();
    if (k.max != nullptr) return chunked_row_logsumexp(x, n, k.max, k.sum_exp);
  }
  return chunked_row_logsumexp(x, n, chunk_max, chunk_sum_exp);
}

/// out = scale * exp(x - shift) over [0, n): the active level's kernel, or `portable`.
template <class T, class Portable>
void dispatched_scaled_exp(const T* x, index_t n, T shift, T scale, T* out, Portable&& portable) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::row_kernels k = simd::active_kernels();
    if (k.scaled_exp != nullptr) return k.scaled_exp(x, n, shift, scale, out);
  }
  portable(x, n, shift, scale, out);
}

/// The one-pass row of sequence_logps_with_grad: returns log sum exp(x[0, n)) and writes
/// g = c (1[v == y] - exp(x_v - lse)) over [0, n). `row_lse` and `scaled_exp` are the backend's
/// fused row kernels, used when no level is active or T is not float (then lse and g are exactly
/// what the forward and the backward compute).
///
/// With an active level (float), the log-sum-exp pass keeps its exps: per chunk k of
/// logsumexp_chunk elements, e_v = exp(x_v - m_k) (m_k the chunk's max) goes to a per-thread
/// buffer that stays in cache, and the gradient is e_v * fl(-c exp(m_k - lse)), the factor formed
/// in double and rounded once: one exp per logit instead of two. The log-sum-exp is
/// dispatched_row_logsumexp's, bit for bit (the same maxima, the same sums: sum_exp_store is
/// sum_exp_shifted plus stores, merged in the same order); the gradient differs from the
/// backward's -c exp(x - lse) by rounding only: e_v within 1 ulp and the product within a further
/// 1.5 ulp of -c exp(x_v - lse) (x_v - m_k and x_v - lse are each rounded once, as in the
/// backward). tests/core/sequence_logps_with_grad.cpp bounds the difference.
template <class T, class RowLse, class ScaledExp>
T dispatched_row_logsumexp_and_grad(const T* x, index_t n, T c, index_t y, T* g, RowLse&& row_lse,
                                    ScaledExp&& scaled_exp) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::row_kernels k = simd::active_kernels();
    if (k.sum_exp_store != nullptr && n > 0) {
      thread_local std::vector<float> exps, chunk_max;
      if (exps.size() < static_cast<std::size_t>(n)) exps.resize(static_cast<std::size_t>(n));
      const index_t chunks = (n + logsumexp_chunk - 1) / logsumexp_chunk;
      if (chunk_max.size() < static_cast<std::size_t>(chunks))
        chunk_max.resize(static_cast<std::size_t>(chunks));
      float* e = exps.data();
      online_logsumexp<double> acc;  // the merge order of chunked_row_logsumexp
      for (index_t j = 0, start = 0; start < n; ++j, start += logsumexp_chunk) {
        const index_t len = std::min(logsumexp_chunk, n - start);
        const float m = k.max(x + start, len);
        chunk_max[static_cast<std::size_t>(j)] = m;
        if (m == -std::numeric_limits<float>::infinity()) {
          // Only -inf (zero probability, zero gradient) or NaN (poisons the row, as in
          // chunked_row_logsumexp; the caller reports it).
          if (std::any_of(x + start, x + start + len, [](float v) { return v != v; }))
            acc.merge(0.0, std::numeric_limits<double>::quiet_NaN());
          std::fill_n(e + start, len, 0.0f);
          continue;
        }
        acc.merge(static_cast<double>(m), static_cast<double>(k.sum_exp_store(x + start, len, m,
                                                                              e + start)));
      }
      const auto lse = static_cast<float>(acc.value());
      // The gradient row is written once and not read again soon: streamed when long (as the
      // backward's scaled_exp decides, by the row's length).
      const bool stream = n >= simd::gradient_stream_min;
      for (index_t j = 0, start = 0; start < n; ++j, start += logsumexp_chunk) {
        const index_t len = std::min(logsumexp_chunk, n - start);
        const float m = chunk_max[static_cast<std::size_t>(j)];
        const auto factor =
            m == -std::numeric_limits<float>::infinity()
                ? 0.0f
                : static_cast<float>(-static_cast<double>(c) *
                                     std::exp(static_cast<double>(m) - static_cast<double>(lse)));
        k.scaled_copy(e + start, len, factor, g + start, stream);
      }
      g[y] += c;
      return lse;
    }
  }
  const T lse = row_lse(x, n);
  scaled_exp(x, n, lse, -c, g);
  g[y] += c;
  return lse;
}

}  // namespace prefopt::detail
