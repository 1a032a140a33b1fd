#pragma once
// The row kernels of kl::token_kl and kl::token_kl_backward with runtime instruction-set dispatch
// (prefopt/detail/simd.hpp): for float rows on a CPU with AVX2+FMA or AVX-512, the vector
// kernels of simd_kernels.inc (kl_chunk, jsd_sums, kl_gradient); otherwise, and for every row
// that holds a logit that is not finite, the scalar double kernels of kl/divergence.hpp.
//
// The vector path is the scalar one's algorithm with float lanes where the scalar code uses
// double: the same chunks of divergence_chunk tokens, each chunk's maxima and sums folded into the
// same pair_state in double (merge, finish_row, finish_jsd); per element, exp in float (1 ulp,
// simd.hpp) of the float difference x - max, the log-ratio (x - max_x) - (y - max_y) and the
// products in float, summed in float over blocks of four vectors, then in double. The gradient is
// formed in float per element from row constants rounded to float. Error bounds: docs/kl.md ("Accuracy of the float kernels"), tested
// in tests/core/simd_dispatch.cpp against long-double definitions.
//
// Rows containing -Inf (an allowed forbidden token), NaN or +Inf go through the scalar double
// kernel as a whole, so rejections and their messages are unchanged and -Inf tokens keep their
// exact semantics. Results depend only on positions within a row (never on addresses), so they
// are bit-identical for any thread count and layout, as with the log-prob kernels.

#include <cmath>
#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/detail/simd.hpp"
#include "prefopt/kl/divergence.hpp"

namespace prefopt::kl::detail {

/// The constants of the vector gradient / jsd kernels from a row's statistics.
inline prefopt::detail::simd::kl_row_args kl_vector_args(const row_stats& r, divergence dir,
                                                         double beta, double c) {
  prefopt::detail::simd::kl_row_args a;
  a.max_x = static_cast<float>(r.max_p);
  a.max_y = static_cast<float>(r.max_q);
  a.log_sx = static_cast<float>(r.lse_p - r.max_p);
  a.log_sy = static_cast<float>(r.lse_q - r.max_q);
  // log p - log q = (zx - zy) - offset, zx = x - max_p, zy = y - max_q
  a.c = static_cast<float>(c);
  if (dir == divergence::forward) {
    a.mode = 0;
    a.k = static_cast<float>(r.offset + r.value);
  } else if (dir == divergence::reverse) {
    a.mode = 1;
    a.k = static_cast<float>(r.offset - r.value);
  } else {
    a.mode = 2;
    const double log_1mb = std::log1p(-beta), log_b = std::log(beta);
    // u = (zx - zy) - k = log((1 - beta) p) - log(beta q)
    a.k = static_cast<float>(r.offset - (log_1mb - log_b));
    a.w1 = static_cast<float>(-log_1mb);
    a.w2 = static_cast<float>(-log_b);
    a.cx = static_cast<float>((1 - beta) * c);
    a.cy = static_cast<float>(beta * c);
    a.kl_pm = static_cast<float>(r.kl_pm);
    a.kl_qm = static_cast<float>(r.kl_qm);
  }
  return a;
}

/// row_divergence through the active level. `vectorised` tells the gradient which path the row
/// took (the vector gradient needs a row of finite logits and the vector statistics).
template <class T>
row_stats dispatched_row_divergence(const T* x, const T* y, index_t n, divergence dir, double beta,
                                    bool& vectorised) {
  vectorised = false;
  if constexpr (std::is_same_v<T, float>) {
    const prefopt::detail::simd::row_kernels k = prefopt::detail::simd::active_kernels();
    if (k.kl_chunk != nullptr && n > 0) {
      const divergence d = effective_direction(dir, beta);
      pair_state st;
      bool finite = true;
      for (index_t start = 0; start < n && finite; start += divergence_chunk) {
        const index_t len = std::min(n - start, divergence_chunk);
        prefopt::detail::simd::kl_chunk_sums c;
        finite = k.kl_chunk(x + start, y + start, len, c);
        // Every logit finite: the "both rows finite" sums equal the full ones.
        if (finite) st.merge(c.max_x, c.sum_x, c.sum_x, c.acc_x, c.max_y, c.sum_y, c.sum_y, c.acc_y);
      }
      if (finite) {
        row_stats r;
        finish_row(st, d, r);
        if (d == divergence::jsd) {
          double kl_pm = 0, kl_qm = 0;
          k.jsd_sums(x, y, n, kl_vector_args(r, d, beta, 0.0), kl_pm, kl_qm);
          finish_jsd(r, kl_pm, kl_qm, beta);
        }
        vectorised = true;
        return r;
      }
    }
  }
  return row_divergence(x, y, n, dir, beta);
}

/// row_divergence_gradient through the active level, for a row whose statistics came from
/// dispatched_row_divergence (with its `vectorised`).
template <class T>
void dispatched_row_gradient(const T* x, const T* y, index_t n, divergence dir, double beta,
                             const row_stats& r, bool vectorised, double c, T* gx, T* gy) {
  if constexpr (std::is_same_v<T, float>) {
    if (vectorised) {
      const prefopt::detail::simd::row_kernels k = prefopt::detail::simd::active_kernels();
      if (k.kl_gradient != nullptr) {
        k.kl_gradient(x, y, n, kl_vector_args(r, effective_direction(dir, beta), beta, c), gx, gy);
        return;
      }
    }
  }
  row_divergence_gradient(x, y, n, dir, beta, r, c, gx, gy);
}

}  // namespace prefopt::kl::detail
