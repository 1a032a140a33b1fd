#pragma once
// Backend-neutral parts of the fused sequence log-prob kernels, shared by every backend so the
// semantics (which rows count, how partial log-sum-exps combine, which errors are raised and in
// which order) are written once:
//
//   online_logsumexp   the (running max, running sum of exp(x - max)) pair of the one-pass
//                      "online softmax" (Milakov & Gimelshein 2018, arXiv:1805.02867). PREFOPT_HD,
//                      so CUDA blocks combine their per-thread partials with the same code.
//   chunked_row_logsumexp
//                      a row consumed in L1-sized chunks: per chunk a backend-supplied vectorised
//                      max and sum of exp(x - max), folded into a double online_logsumexp.
//   fused_token_logps_forward / fused_token_logps_backward
//                      the CPU drivers: host validation, rows split over threads (one row per
//                      thread, fixed order, so bit-identical for any thread count), per-sequence
//                      sums in double.
//   host_fused_logps   a mixin giving a host backend token_logps_forward / _backward from its
//                      two vectorised row kernels (what the Eigen and xtensor backends use).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/logps/sequence_logps.hpp"

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

/// Log-sum-exp of one contiguous row. `chunk_max(x, n)` and `chunk_sum_exp(x, n, m)` are the
/// backend's vectorised kernels (sum in the scalar type, at most logsumexp_chunk terms); chunks
/// are combined in double.
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

/// Fused forward on host memory. Outputs are row-major, zero-initialised by the caller:
/// token_logps / token_lse [batch, P], sum / count [batch]. `row_lse(x, vocab)` is the backend's
/// row log-sum-exp.
template <class T, class L, class M, class RowLse>
void fused_token_logps_forward(logits_view<const T> logits, matrix_view<const L> labels,
                               matrix_view<const M> mask, const sequence_logps_options& options,
                               T* token_logps, T* token_lse, T* sum, T* count, RowLse&& row_lse) {
  const token_layout layout = options.layout;
  validate_labels(labels, mask, logits.vocab, layout);
  const index_t B = logits.batch, P = layout.predicted_positions(logits.time);
  auto counted = [&](index_t b, index_t p) {
    return position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b),
                            layout.label_column(p), layout.ignore_index);
  };
  // Non-finite rows are flagged per row and reported after the join, lowest row first, so the
  // error does not depend on the thread count either.
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(std::max<index_t>(B * P, 1)), 0);
  parallel_blocks(B * P, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      const index_t b = r / P, p = r % P;
      if (!counted(b, p)) continue;
      const T* x = logits.row(b, p);
      const T lse = row_lse(x, logits.vocab);
      const T lp = x[static_cast<index_t>(labels(b, layout.label_column(p)))] - lse;
      bad[static_cast<std::size_t>(r)] = !(isfinite_(lse) && isfinite_(lp));
      token_logps[r] = lp;
      token_lse[r] = lse;
    }
  });
  for (index_t r = 0; r < B * P; ++r)
    if (bad[static_cast<std::size_t>(r)])
      throw_non_finite_logits(r / P, r % P,
                              isfinite_(token_lse[r]) ? token_logps[r] : token_lse[r]);
  for (index_t b = 0; b < B; ++b) {
    double s = 0.0;
    index_t n = 0;
    for (index_t p = 0; p < P; ++p) {
      if (!counted(b, p)) continue;
      s += static_cast<double>(token_logps[b * P + p]);
      ++n;
    }
    sum[b] = static_cast<T>(s);
    count[b] = static_cast<T>(n);
  }
}

/// The same, allocating the result in backend B (host memory): what a CPU backend's
/// token_logps_forward returns.
template <class B, class L, class M, class RowLse>
sequence_logps_result<B> fused_sequence_logps_forward(
    logits_view<const typename B::scalar_type> logits, matrix_view<const L> labels,
    matrix_view<const M> mask, const sequence_logps_options& options, RowLse&& row_lse) {
  const index_t batch = logits.batch, P = options.layout.predicted_positions(logits.time);
  sequence_logps_result<B> out{B::zeros(batch, P), B::zeros(batch, P), B::zeros(batch),
                               B::zeros(batch), B::zeros(0)};
  fused_token_logps_forward(logits, labels, mask, options, B::data(out.token_logps),
                            B::data(out.token_lse), B::data(out.sum), B::data(out.count), row_lse);
  return out;
}

/// Fused backward on host memory: every element of `grad` is written. For counted rows
/// `row_grad(x, vocab, lse, c, g)` writes g = -c * exp(x - lse) (the backend's vectorised
/// kernel) and the driver adds c at the label; all other rows are zero. token_lse is [batch, P]
/// row-major, coeff [batch].
template <class T, class L, class M, class RowGrad>
void fused_token_logps_backward(logits_view<const T> logits, matrix_view<const L> labels,
                                matrix_view<const M> mask, const T* token_lse, const T* coeff,
                                logits_view<T> grad, const sequence_logps_options& options,
                                RowGrad&& row_grad) {
  const token_layout layout = options.layout;
  // The label's column is written below (g[y] += c): an out-of-range label would be a write
  // outside the row, so labels are checked here as in the forward pass.
  validate_labels(labels, mask, logits.vocab, layout);
  const index_t Tt = logits.time, V = logits.vocab;
  const index_t P = layout.predicted_positions(Tt);
  parallel_blocks(logits.batch * Tt, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      const index_t b = r / Tt, t = r % Tt, col = layout.label_column(t);
      T* g = grad.row(b, t);
      if (t >= P || !position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b), col,
                                      layout.ignore_index)) {
        std::fill_n(g, V, T(0));
        continue;
      }
      const T c = coeff[b];
      row_grad(logits.row(b, t), V, token_lse[b * P + t], c, g);
      g[static_cast<index_t>(labels(b, col))] += c;
    }
  });
}

/// Mixin giving a host-memory backend the optional fused operations token_logps_forward /
/// token_logps_backward, built on the drivers above from two vectorised row kernels that the
/// backend (Derived) provides as public static members:
///   T    fused_row_logsumexp(const T* x, index_t n);                        log sum exp(x)
///   void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out);
///                                                     out = scale * exp(x - shift)
/// Usage: template <class T> struct backend : prefopt::detail::host_fused_logps<backend<T>> {...}
/// (the defaulted D keeps Derived's members dependent until Derived is complete).
template <class Derived>
struct host_fused_logps {
  template <class L, class M, class D = Derived>
  static sequence_logps_result<D> token_logps_forward(
      logits_view<const typename D::scalar_type> logits, matrix_view<const L> labels,
      matrix_view<const M> mask, const sequence_logps_options& options) {
    return fused_sequence_logps_forward<D>(logits, labels, mask, options,
                                           D::fused_row_logsumexp);
  }

  template <class L, class M, class D = Derived>
  static void token_logps_backward(logits_view<const typename D::scalar_type> logits,
                                   matrix_view<const L> labels, matrix_view<const M> mask,
                                   const typename D::matrix_type& token_lse,
                                   const typename D::vector_type& coeff,
                                   logits_view<typename D::scalar_type> grad,
                                   const sequence_logps_options& options) {
    using T = typename D::scalar_type;
    fused_token_logps_backward(logits, labels, mask, D::data(token_lse), D::data(coeff), grad,
                               options, [](const T* x, index_t n, T lse, T c, T* g) {
                                 D::fused_row_scaled_exp(x, n, lse, -c, g);
                               });
  }
};

}  // namespace prefopt::detail
