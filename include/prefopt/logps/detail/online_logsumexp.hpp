#pragma once
// The one-pass log-sum-exp every fused log-prob kernel builds on, CPU and CUDA alike:
//
//   online_logsumexp       the (running max, running sum of exp(x - max)) pair of the "online
//                          softmax" (Milakov & Gimelshein 2018, arXiv:1805.02867). PREFOPT_HD, so
//                          CUDA blocks combine their per-thread partials with the same code.
//   chunked_row_logsumexp  a host row consumed in L1-sized chunks: per chunk a backend-supplied
//                          vectorised max and sum of exp(x - max), folded into a double
//                          online_logsumexp.

#include <algorithm>
#include <limits>

#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"

namespace prefopt::detail {

/// Running state of a one-pass log-sum-exp. merge() folds in a partial (m, s) where
/// s = sum exp(x - m) over the partial's elements; value() = log sum exp over everything merged.
/// NaN anywhere poisons the sum (a NaN max fails both comparisons and lands in the else branch);
/// an all -inf partial (m = -inf, s = 0) contributes nothing; an all -inf row gives -inf.
template <class Acc>
struct online_logsumexp {
  Acc max = -std::numeric_limits<Acc>::infinity();
  Acc sum = Acc(0);

  PREFOPT_HD void merge(Acc m, Acc s) {
    if (m == -std::numeric_limits<Acc>::infinity() && s == Acc(0)) return;
    if (m > max) {
      sum = sum * exp_(max - m) + s;
      max = m;
    } else {
      sum += s * exp_(m - max);
    }
  }
  PREFOPT_HD Acc value() const { return max + log_(sum); }
};

/// Elements per chunk: 8 KiB of float stays in L1 between the max pass and the exp pass.
inline constexpr index_t logsumexp_chunk = 2048;

/// Log-sum-exp of one contiguous host row. `chunk_max(x, n)` and `chunk_sum_exp(x, n, m)` are
/// the backend's vectorised kernels (sum in the scalar type, at most logsumexp_chunk terms);
/// chunks are combined in double.
template <class T, class ChunkMax, class ChunkSumExp>
T chunked_row_logsumexp(const T* x, index_t n, ChunkMax&& chunk_max, ChunkSumExp&& chunk_sum_exp) {
  online_logsumexp<double> acc;
  for (index_t start = 0; start < n; start += logsumexp_chunk) {
    const index_t len = std::min(logsumexp_chunk, n - start);
    const T m = chunk_max(x + start, len);
    if (m == -std::numeric_limits<T>::infinity()) {
      // No finite or +inf element (exp(x - m) would be NaN). A max that drops NaN operands
      // (std::max, x86 maxps) also reports -inf for a chunk of only -inf and NaN, and that NaN
      // must still poison the row, as it does on every other path.
      if (std::any_of(x + start, x + start + len, [](T v) { return v != v; }))
        acc.merge(0.0, std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    acc.merge(static_cast<double>(m), static_cast<double>(chunk_sum_exp(x + start, len, m)));
  }
  return static_cast<T>(acc.value());
}

}  // namespace prefopt::detail
