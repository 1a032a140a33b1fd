#pragma once
// prefopt::host_fused_logps<Derived>: gives a host-memory backend the optional fused sequence
// log-prob operations (token_logps_forward / token_logps_backward, see prefopt/logps/types.hpp)
// from two vectorised row kernels that the backend provides as public static members:
//
//   T    fused_row_logsumexp(const T* x, index_t n);                     log sum exp(x[0, n))
//   void fused_row_scaled_exp(const T* x, index_t n, T shift, T scale, T* out);
//                                                   out = scale * exp(x - shift) over [0, n)
//
// Usage: template <class T> struct backend : prefopt::host_fused_logps<backend<T>> { ... };
// (the Eigen and xtensor adapters do this; docs/backends.md walks through it). The drivers below
// own what is backend-neutral: host validation of labels, rows split over threads (one row per
// thread in a fixed order, so results are bit-identical for any thread count), the error order,
// and per-sequence sums in double.

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
      const X* x = logits.row(b, p);
      const T lse = row_lse(x, logits.vocab);
      const T lp = static_cast<T>(x[static_cast<index_t>(labels(b, layout.label_column(p)))]) - lse;
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

/// Fused backward on host memory: every element of `grad` is written. For counted rows
/// `row_grad(x, vocab, lse, c, g)` writes g = -c * exp(x - lse) (the backend's vectorised
/// kernel) and the driver adds c at the label; all other rows are zero. token_lse is [batch, P]
/// row-major, coeff [batch]. With 16-bit logits (X a storage type, gradient G = X, T = float)
/// `row_grad(x, vocab, lse, c, y, g)` writes the whole row, the label's c included, and rounds
/// once to G.
template <class T, class X, class G, class L, class M, class RowGrad>
void fused_token_logps_backward(logits_view<const X> logits, matrix_view<const L> labels,
                                matrix_view<const M> mask, const T* token_lse, const T* coeff,
                                logits_view<G> grad, const sequence_logps_options& options,
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
      G* g = grad.row(b, t);
      if (t >= P || !position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b), col,
                                      layout.ignore_index)) {
        std::fill_n(g, V, G(0.0f));
        continue;
      }
      const T c = coeff[b];
      if constexpr (std::is_same_v<G, T>) {
        row_grad(logits.row(b, t), V, token_lse[b * P + t], c, g);
        g[static_cast<index_t>(labels(b, col))] += c;
      } else {
        row_grad(logits.row(b, t), V, token_lse[b * P + t], c,
                 static_cast<index_t>(labels(b, col)), g);
      }
    }
  });
}

}  // namespace detail

/// The mixin (see the top of this header). The defaulted D keeps Derived's members dependent
/// until Derived is complete.
template <class Derived>
struct host_fused_logps {
  template <class L, class M, class D = Derived>
  static sequence_logps_result<D> token_logps_forward(
      logits_view<const typename D::scalar_type> logits, matrix_view<const L> labels,
      matrix_view<const M> mask, const sequence_logps_options& options) {
    static_assert(host_accessible<D>,
                  "prefopt::host_fused_logps: the drivers read memory on the host; a backend "
                  "whose memory_space is not host_space must implement the fused operations");
    const index_t batch = logits.batch, P = options.layout.predicted_positions(logits.time);
    sequence_logps_result<D> out{D::zeros(batch, P), D::zeros(batch, P), D::zeros(batch),
                                 D::zeros(batch), D::zeros(0)};
    detail::fused_token_logps_forward(logits, labels, mask, options, D::data(out.token_logps),
                                      D::data(out.token_lse), D::data(out.sum),
                                      D::data(out.count), D::fused_row_logsumexp);
    return out;
  }

  template <class L, class M, class D = Derived>
  static void token_logps_backward(logits_view<const typename D::scalar_type> logits,
                                   matrix_view<const L> labels, matrix_view<const M> mask,
                                   const typename D::matrix_type& token_lse,
                                   const typename D::vector_type& coeff,
                                   logits_view<typename D::scalar_type> grad,
                                   const sequence_logps_options& options) {
    static_assert(host_accessible<D>,
                  "prefopt::host_fused_logps: the drivers read memory on the host; a backend "
                  "whose memory_space is not host_space must implement the fused operations");
    using T = typename D::scalar_type;
    detail::fused_token_logps_backward(logits, labels, mask, D::data(token_lse), D::data(coeff),
                                       grad, options, [](const T* x, index_t n, T lse, T c, T* g) {
                                         D::fused_row_scaled_exp(x, n, lse, -c, g);
                                       });
  }

  // ---- 16-bit logits (prefopt::bfloat16, float16) on a float backend --------------------------
  // Rows are widened to float and run through the same float row kernels (logps/detail/
  // half_rows.hpp); results are float; the gradient is written in the logits' storage type.

  template <half_storage H, class L, class M, class D = Derived>
    requires std::same_as<typename D::scalar_type, float>
  static sequence_logps_result<D> token_logps_forward(logits_view<const H> logits,
                                                      matrix_view<const L> labels,
                                                      matrix_view<const M> mask,
                                                      const sequence_logps_options& options) {
    static_assert(host_accessible<D>,
                  "prefopt::host_fused_logps: the drivers read memory on the host; a backend "
                  "whose memory_space is not host_space must implement the fused operations");
    const index_t batch = logits.batch, P = options.layout.predicted_positions(logits.time);
    sequence_logps_result<D> out{D::zeros(batch, P), D::zeros(batch, P), D::zeros(batch),
                                 D::zeros(batch), D::zeros(0)};
    detail::fused_token_logps_forward(logits, labels, mask, options, D::data(out.token_logps),
                                      D::data(out.token_lse), D::data(out.sum),
                                      D::data(out.count), [](const H* x, index_t n) {
                                        return detail::half_row_logsumexp(x, n,
                                                                          D::fused_row_logsumexp);
                                      });
    return out;
  }

  template <half_storage H, class L, class M, class D = Derived>
    requires std::same_as<typename D::scalar_type, float>
  static void token_logps_backward(logits_view<const H> logits, matrix_view<const L> labels,
                                   matrix_view<const M> mask,
                                   const typename D::matrix_type& token_lse,
                                   const typename D::vector_type& coeff, logits_view<H> grad,
                                   const sequence_logps_options& options) {
    static_assert(host_accessible<D>,
                  "prefopt::host_fused_logps: the drivers read memory on the host; a backend "
                  "whose memory_space is not host_space must implement the fused operations");
    detail::fused_token_logps_backward(
        logits, labels, mask, D::data(token_lse), D::data(coeff), grad, options,
        [](const H* x, index_t n, float lse, float c, index_t y, H* g) {
          detail::half_row_grad(x, n, lse, c, y, g, D::fused_row_scaled_exp);
        });
  }
};

}  // namespace prefopt
