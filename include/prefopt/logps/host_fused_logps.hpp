#pragma once
// prefopt::host_fused_logps<Derived>: gives a host-memory backend the optional fused sequence
// log-prob operations (token_logps_forward, token_logps_backward and token_logps_forward_backward,
// see prefopt/logps/types.hpp) from two vectorised row kernels that the backend provides as public
// static members:
//
//   T    fused_row_logsumexp(const T* x, index_t n);                     log sum exp(x[0, n))
//   void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out);
//                                                   out = scale * exp(x - shift) over [0, n)
//
// and optionally, for the one-pass forward + backward of float / double rows,
//
//   T    fused_row_logsumexp_and_grad(const T* x, index_t n, T c, index_t y, T* g);
//                     returns log sum exp(x[0, n)), writes g = c (1[v == y] - exp(x_v - lse))
//
// (without it: the first kernel, then the second on the row while it is still in cache).
//
// Usage: template <class T> struct backend : prefopt::host_fused_logps<backend<T>> { ... };
// (the Eigen and xtensor adapters do this; docs/backends.md walks through it). The drivers below
// own what is backend-neutral: host validation of labels, rows split over threads (one row per
// thread in a fixed order, so results are bit-identical for any thread count), the error order,
// and per-sequence sums in double.
//
// Every operation also takes 16-bit logits (prefopt::bfloat16, float16) on a float backend: rows
// are widened to float and run through the same float row kernels (logps/detail/half_rows.hpp);
// results are float and the gradient is written in the logits' storage type.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/half.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/logps/detail/half_rows.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"
#include "prefopt/logps/detail/token_checks.hpp"
#include "prefopt/logps/types.hpp"

namespace prefopt {

namespace detail {

/// Non-finite rows are flagged per row during the parallel pass and reported after the join,
/// lowest row first, so the error does not depend on the thread count. `bad` has B * P flags.
template <class T>
void report_non_finite_rows(const std::vector<std::uint8_t>& bad, index_t P, const T* token_logps,
                            const T* token_lse) {
  for (std::size_t r = 0; r < bad.size(); ++r)
    if (bad[r]) {
      const auto i = static_cast<index_t>(r);
      throw_non_finite_logits(i / P, i % P,
                              isfinite_(token_lse[r]) ? token_logps[r] : token_lse[r]);
    }
}

/// sum[b] (in double, rounded once) and, unless `count` is null (the caller has them), count[b]
/// of the counted token log-probs of each sequence; token_logps is [batch, P] row-major.
template <class T, class L, class M>
void reduce_sequences(matrix_view<const L> labels, matrix_view<const M> mask,
                      const token_layout& layout, index_t P, const T* token_logps, T* sum,
                      T* count) {
  for (index_t b = 0; b < labels.rows; ++b) {
    double s = 0.0;
    index_t n = 0;
    for (index_t p = 0; p < P; ++p) {
      if (!position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b),
                            layout.label_column(p), layout.ignore_index))
        continue;
      s += static_cast<double>(token_logps[b * P + p]);
      ++n;
    }
    sum[b] = static_cast<T>(s);
    if (count != nullptr) count[b] = static_cast<T>(n);
  }
}

/// Fused forward on host memory. Outputs are row-major, zero-initialised by the caller:
/// token_logps / token_lse [batch, P], sum / count [batch]. `row_lse(x, vocab)` is the backend's
/// row log-sum-exp. X is the logits' element type: T, or a 16-bit storage type read as float
/// (T = float).
template <class T, class X, class L, class M, class RowLse>
void fused_token_logps_forward(logits_view<const X> logits, matrix_view<const L> labels,
                               matrix_view<const M> mask, const sequence_logps_options& options,
                               T* token_logps, T* token_lse, T* sum, T* count, RowLse&& row_lse) {
  const token_layout layout = options.layout;
  validate_labels(labels, mask, logits.vocab, layout);
  const index_t B = logits.batch, P = layout.predicted_positions(logits.time);
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(B * P), 0);
  parallel_blocks(B * P, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      const index_t b = r / P, p = r % P, col = layout.label_column(p);
      if (!position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b), col,
                            layout.ignore_index))
        continue;
      const X* x = logits.row(b, p);
      const T lse = row_lse(x, logits.vocab);
      const T lp = static_cast<T>(x[static_cast<index_t>(labels(b, col))]) - lse;
      bad[static_cast<std::size_t>(r)] = !(isfinite_(lse) && isfinite_(lp));
      token_logps[r] = lp;
      token_lse[r] = lse;
    }
  });
  report_non_finite_rows(bad, P, token_logps, token_lse);
  reduce_sequences(labels, mask, layout, P, token_logps, sum, count);
}

/// Every row (b, t) of `grad`, split over options.threads threads: rows that do not count (no
/// prediction at t, ignore_index, mask) are zero-filled without reading the logits; for counted
/// rows `on_counted(b, t, y, g)` gets the label y and the gradient row g to write in full.
template <class X, class G, class L, class M, class OnCounted>
void for_each_gradient_row(logits_view<const X> logits, matrix_view<const L> labels,
                           matrix_view<const M> mask, logits_view<G> grad,
                           const sequence_logps_options& options, OnCounted&& on_counted) {
  const token_layout layout = options.layout;
  const index_t Tt = logits.time, V = logits.vocab;
  const index_t P = layout.predicted_positions(Tt);
  parallel_blocks(logits.batch * Tt, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      const index_t b = r / Tt, t = r % Tt, col = layout.label_column(t);
      G* g = grad.row(b, t);
      if (t >= P || !position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b), col,
                                      layout.ignore_index)) {
        std::fill_n(g, V, G(0.0f));
        continue;
      }
      on_counted(b, t, static_cast<index_t>(labels(b, col)), g);
    }
  });
}

/// Fused backward on host memory: every element of `grad` is written. For counted rows
/// `row_grad(x, vocab, lse, c, y, g)` writes the whole row, g = c (1[v == y] - exp(x - lse));
/// all other rows are zero. token_lse is [batch, P] row-major, coeff [batch].
template <class T, class X, class G, class L, class M, class RowGrad>
void fused_token_logps_backward(logits_view<const X> logits, matrix_view<const L> labels,
                                matrix_view<const M> mask, const T* token_lse, const T* coeff,
                                logits_view<G> grad, const sequence_logps_options& options,
                                RowGrad&& row_grad) {
  // The label's column is written by row_grad: an out-of-range label would be a write outside
  // the row, so labels are checked here as in the forward pass.
  validate_labels(labels, mask, logits.vocab, options.layout);
  const index_t P = options.layout.predicted_positions(logits.time);
  for_each_gradient_row(logits, labels, mask, grad, options,
                        [&](index_t b, index_t t, index_t y, G* g) {
                          row_grad(logits.row(b, t), logits.vocab, token_lse[b * P + t], coeff[b],
                                   y, g);
                        });
}

/// Forward and backward in one visit per row, for a coefficient c_b = dL/dsum_b + dL/dmean_b /
/// count_b known before the forward: `row_op(x, vocab, c, y, g)` returns the row's log-sum-exp
/// and writes its gradient (as row_grad above) while the row is still in cache, so the logits are
/// read from memory once instead of twice. Outputs as in fused_token_logps_forward but for the
/// counts, which the caller has already written (it needed them for coeff), plus every element
/// of `grad`.
template <class T, class X, class G, class L, class M, class RowOp>
void fused_token_logps_forward_backward(logits_view<const X> logits, matrix_view<const L> labels,
                                        matrix_view<const M> mask, const T* coeff,
                                        logits_view<G> grad, const sequence_logps_options& options,
                                        T* token_logps, T* token_lse, T* sum, RowOp&& row_op) {
  const index_t P = options.layout.predicted_positions(logits.time);
  std::vector<std::uint8_t> bad(static_cast<std::size_t>(logits.batch * P), 0);
  for_each_gradient_row(logits, labels, mask, grad, options,
                        [&](index_t b, index_t t, index_t y, G* g) {
                          const X* x = logits.row(b, t);
                          const T lse = row_op(x, logits.vocab, coeff[b], y, g);
                          const T lp = static_cast<T>(x[y]) - lse;
                          const index_t k = b * P + t;
                          bad[static_cast<std::size_t>(k)] = !(isfinite_(lse) && isfinite_(lp));
                          token_logps[k] = lp;
                          token_lse[k] = lse;
                        });
  report_non_finite_rows(bad, P, token_logps, token_lse);
  reduce_sequences(labels, mask, options.layout, P, token_logps, sum, static_cast<T*>(nullptr));
}

/// Counted tokens per sequence (host labels and mask), as float-exact counts in T.
template <class T, class L, class M>
void count_sequence_tokens(matrix_view<const L> labels, matrix_view<const M> mask,
                           const token_layout& layout, T* count) {
  const index_t P = layout.predicted_positions(labels.cols);
  for (index_t b = 0; b < labels.rows; ++b) {
    index_t n = 0;
    for (index_t p = 0; p < P; ++p)
      n += position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b),
                            layout.label_column(p), layout.ignore_index);
    count[b] = static_cast<T>(n);
  }
}

/// Whether X is a logits element type the host mixin of a backend with scalar type T takes: T
/// itself, or a 16-bit storage type on a float backend.
template <class X, class T>
concept host_logits_element =
    std::same_as<X, T> || (half_storage<X> && std::same_as<T, float>);

}  // namespace detail

/// The mixin (see the top of this header). The defaulted D keeps Derived's members dependent
/// until Derived is complete.
template <class Derived>
struct host_fused_logps {
  template <class X, class L, class M, class D = Derived>
    requires detail::host_logits_element<X, typename D::scalar_type>
  static sequence_logps_result<D> token_logps_forward(logits_view<const X> logits,
                                                      matrix_view<const L> labels,
                                                      matrix_view<const M> mask,
                                                      const sequence_logps_options& options) {
    assert_host<D>();
    sequence_logps_result<D> out = allocate_result<D>(logits, options);
    detail::fused_token_logps_forward(logits, labels, mask, options, D::data(out.token_logps),
                                      D::data(out.token_lse), D::data(out.sum),
                                      D::data(out.count), row_logsumexp<X, D>);
    return out;
  }

  template <class X, class L, class M, class D = Derived>
    requires detail::host_logits_element<X, typename D::scalar_type>
  static void token_logps_backward(logits_view<const X> logits, matrix_view<const L> labels,
                                   matrix_view<const M> mask,
                                   const typename D::matrix_type& token_lse,
                                   const typename D::vector_type& coeff, logits_view<X> grad,
                                   const sequence_logps_options& options) {
    assert_host<D>();
    detail::fused_token_logps_backward(logits, labels, mask, D::data(token_lse), D::data(coeff),
                                       grad, options, row_gradient<X, D>);
  }

  /// Forward and backward in one pass over the logits (sequence_logps_with_grad): the counts
  /// and the per-sequence coefficient c_b = grad_sum[b] + grad_mean[b] / count_b are known from
  /// the labels before any logit is read; an empty sequence is rejected first when a mean is
  /// asked for (options.compute_mean or grad_mean).
  template <class X, class L, class M, class D = Derived>
    requires detail::host_logits_element<X, typename D::scalar_type>
  static sequence_logps_result<D> token_logps_forward_backward(
      logits_view<const X> logits, matrix_view<const L> labels, matrix_view<const M> mask,
      const typename D::vector_type& grad_sum, const typename D::vector_type* grad_mean,
      logits_view<X> grad, const sequence_logps_options& options) {
    assert_host<D>();
    using T = typename D::scalar_type;
    detail::validate_labels(labels, mask, logits.vocab, options.layout);
    sequence_logps_result<D> out = allocate_result<D>(logits, options);
    T* count = D::data(out.count);
    detail::count_sequence_tokens(labels, mask, options.layout, count);
    const index_t batch = logits.batch;
    if (options.compute_mean || grad_mean != nullptr)
      for (index_t b = 0; b < batch; ++b)
        if (count[b] == T(0)) detail::throw_empty_sequence(b);
    // The backward's coefficient, with the same float operations (sequence_logps_backward).
    std::vector<T> coeff(static_cast<std::size_t>(batch));
    const T* gs = D::data(grad_sum);
    const T* gm = grad_mean != nullptr ? D::data(*grad_mean) : nullptr;
    for (index_t b = 0; b < batch; ++b)
      coeff[static_cast<std::size_t>(b)] = gs[b] + (gm != nullptr ? gm[b] / count[b] : T(0));
    detail::fused_token_logps_forward_backward(
        logits, labels, mask, static_cast<const T*>(coeff.data()), grad, options,
        D::data(out.token_logps), D::data(out.token_lse), D::data(out.sum),
        [](const X* x, index_t n, T c, index_t y, X* g) {
          if constexpr (half_storage<X>) {
            return detail::half_row_logsumexp_and_grad(x, n, c, y, g, D::fused_row_logsumexp,
                                                       D::fused_row_scaled_exp);
          } else if constexpr (requires { D::fused_row_logsumexp_and_grad(x, n, c, y, g); }) {
            return D::fused_row_logsumexp_and_grad(x, n, c, y, g);
          } else {
            const T lse = D::fused_row_logsumexp(x, n);
            row_gradient<X, D>(x, n, lse, c, y, g);
            return lse;
          }
        });
    return out;
  }

 private:
  template <class D>
  static constexpr void assert_host() {
    static_assert(host_accessible<D>,
                  "prefopt::host_fused_logps: the drivers read memory on the host; a backend "
                  "whose memory_space is not host_space must implement the fused operations");
  }

  template <class D, class X>
  static sequence_logps_result<D> allocate_result(logits_view<const X> logits,
                                                  const sequence_logps_options& options) {
    const index_t batch = logits.batch, P = options.layout.predicted_positions(logits.time);
    return {D::zeros(batch, P), D::zeros(batch, P), D::zeros(batch), D::zeros(batch), D::zeros(0)};
  }

  /// The row log-sum-exp: the backend's kernel, or for 16-bit rows the widened row through it.
  template <class X, class D>
  static typename D::scalar_type row_logsumexp(const X* x, index_t n) {
    if constexpr (half_storage<X>)
      return detail::half_row_logsumexp(x, n, D::fused_row_logsumexp);
    else
      return D::fused_row_logsumexp(x, n);
  }

  /// g = c (1[v == y] - exp(x - lse)) over the row [0, n); for 16-bit rows computed in float and
  /// rounded once to the storage type.
  template <class X, class D>
  static void row_gradient(const X* x, index_t n, typename D::scalar_type lse,
                           typename D::scalar_type c, index_t y, X* g) {
    if constexpr (half_storage<X>) {
      detail::half_row_grad(x, n, lse, c, y, g, D::fused_row_scaled_exp);
    } else {
      D::fused_row_scaled_exp(x, n, lse, -c, g);
      g[y] += c;
    }
  }
};

}  // namespace prefopt
