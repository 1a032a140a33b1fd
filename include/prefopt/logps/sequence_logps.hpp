#pragma once
// Sequence log-probabilities from token logits: the bridge between a language model's output and
// every preference loss. Forward gives per-token log-probs, their per-sequence sum and mean and the
// token counts; backward turns dL/d(sequence sum) and dL/d(sequence mean) into dL/dlogits.
//
//   logp[b, p] = logits[b, p, y] - logsumexp(logits[b, p, :]),  y = labels[b, p + shift]
//   counted iff y != ignore_index and (no mask or mask[b, p + shift] != 0)
//   dL/dlogits[b, p, v] = c_b * (1[v == y] - softmax(logits[b, p, :])_v) for counted positions,
//   c_b = dL/dsum_b + dL/dmean_b / count_b; zero everywhere else (including the last position).
//
// Backends that provide B::token_logps_forward / B::token_logps_backward get a fused, single
// streaming pass per row that never materialises a softmax; others fall back to the required
// primitives (row_logsumexp, gather_cols, for_each).
//
// Precision: per-sequence sums are accumulated in double whatever the logits type, so a float
// sequence of 10^5 tokens loses nothing to summation order; the stored sum is then rounded once.
//
// Validation (host side, before or during the pass): shapes and strides; every counted label in
// [0, V); the log-sum-exp and the label's logit of every counted position finite (NaN or +Inf
// anywhere in a counted row, or -Inf at the label, is rejected; -Inf elsewhere is accepted as a
// zero-probability token, the usual way to mask a vocabulary); with compute_mean, every sequence
// has at least one counted token. Rows that are not counted are never read.

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"

namespace prefopt {

struct sequence_logps_options {
  token_layout layout{};     // label shift and ignore_index
  bool compute_mean = true;  // also return sum / count; requires every sequence to be non-empty
  int threads = 0;           // CPU backends: 0 = hardware concurrency; results do not depend on it
};

template <class B>
struct sequence_logps_result {
  typename B::matrix_type token_logps;  // [batch, P]; 0 where a position is not counted
  typename B::matrix_type token_lse;    // [batch, P]; saved log-sum-exp per position (backward)
  typename B::vector_type sum;          // [batch] sum of counted token log-probs
  typename B::vector_type count;        // [batch] counted tokens (exact integers below 2^24 in float)
  typename B::vector_type mean;         // [batch] sum / count; size 0 unless compute_mean
};

namespace detail {

template <class L, class M>
PREFOPT_HD inline bool position_counted(const L* label_row, const M* mask_row, index_t column,
                                        std::int64_t ignore_index) {
  if (static_cast<std::int64_t>(label_row[column]) == ignore_index) return false;
  return mask_row == nullptr || mask_row[column] != M(0);
}

/// Host scan of labels: every counted label must be a valid vocabulary id.
template <class L, class M>
void validate_labels(matrix_view<const L> labels, matrix_view<const M> mask, index_t vocab,
                     const token_layout& layout) {
  static_assert(std::is_integral_v<L>, "labels must have an integral type");
  const index_t positions = layout.predicted_positions(labels.cols);
  for (index_t b = 0; b < labels.rows; ++b) {
    const L* lrow = labels.row(b);
    const M* mrow = mask.empty() ? nullptr : mask.row(b);
    for (index_t p = 0; p < positions; ++p) {
      const index_t col = layout.label_column(p);
      if (!position_counted(lrow, mrow, col, layout.ignore_index)) continue;
      const auto y = static_cast<long long>(lrow[col]);
      if (y < 0 || y >= vocab) {
        throw_invalid_argument("labels[" + std::to_string(b) + ", " + std::to_string(col) + "]", y,
                               "must be in [0, vocab = " + std::to_string(vocab) +
                                   ") or equal ignore_index = " +
                                   std::to_string(layout.ignore_index));
      }
    }
  }
}

[[noreturn]] inline void throw_non_finite_logits(index_t b, index_t p, double value) {
  throw_invalid_argument("logits[" + std::to_string(b) + ", " + std::to_string(p) + ", :]", value,
                         "log-sum-exp or label logit is not finite (NaN or +Inf in the row, or "
                         "-Inf at the label); logits must be finite");
}

[[noreturn]] inline void throw_empty_sequence(index_t b) {
  throw_invalid_argument("completion tokens of sequence " + std::to_string(b), 0,
                         "a mean log-prob needs at least one counted token (label != "
                         "ignore_index and mask != 0)");
}

// Generic forward: the required primitives only. Labels and mask are read on the host, so this
// path suits host-memory backends; device backends provide the fused operations.
template <class B, class L, class M>
sequence_logps_result<B> sequence_logps_generic(logits_view<const typename B::scalar_type> logits,
                                                matrix_view<const L> labels,
                                                matrix_view<const M> mask,
                                                const sequence_logps_options& options) {
  using T = typename B::scalar_type;
  const index_t P = options.layout.predicted_positions(logits.time);
  sequence_logps_result<B> out{B::zeros(logits.batch, P), B::zeros(logits.batch, P),
                               B::zeros(0), B::zeros(0), B::zeros(0)};
  std::vector<T> sums(static_cast<std::size_t>(logits.batch)), counts(sums.size());
  std::vector<std::int64_t> cols(static_cast<std::size_t>(P));
  std::vector<T> counted(static_cast<std::size_t>(P));
  for (index_t b = 0; b < logits.batch; ++b) {
    const L* lrow = labels.row(b);
    const M* mrow = mask.empty() ? nullptr : mask.row(b);
    index_t n = 0;
    for (index_t p = 0; p < P; ++p) {
      const index_t col = options.layout.label_column(p);
      const bool c = position_counted(lrow, mrow, col, options.layout.ignore_index);
      cols[p] = c ? static_cast<std::int64_t>(lrow[col]) : -1;
      counted[p] = c ? T(1) : T(0);
      n += c;
    }
    matrix_view<const T> rows = logits.sequence(b);
    rows.rows = P;
    auto lse = B::row_logsumexp(rows);
    auto picked = B::gather_cols(rows, cols.data());
    auto keep = B::from_host(std::span<const T>(counted));
    auto lp = B::axpby(T(1), picked, T(-1), lse);
    T* lp_d = B::data(lp);
    T* lse_d = B::data(lse);
    const T* keep_d = B::data(keep);
    T* tok = B::data(out.token_logps) + b * P;
    T* tok_lse = B::data(out.token_lse) + b * P;
    B::for_each(P, [=] PREFOPT_HD(index_t i) {
      const bool k = keep_d[i] != T(0);
      lp_d[i] = k ? lp_d[i] : T(0);
      tok[i] = lp_d[i];
      tok_lse[i] = k ? lse_d[i] : T(0);
    });
    const auto lse_h = B::to_host(lse);
    const auto lp_h = B::to_host(lp);
    for (index_t p = 0; p < P; ++p) {
      if (cols[p] >= 0 && !(detail::isfinite_(lse_h[p]) && detail::isfinite_(lp_h[p])))
        throw_non_finite_logits(b, p, detail::isfinite_(lse_h[p]) ? lp_h[p] : lse_h[p]);
    }
    sums[b] = B::sum(lp);
    counts[b] = static_cast<T>(n);
  }
  out.sum = B::from_host(std::span<const T>(sums));
  out.count = B::from_host(std::span<const T>(counts));
  return out;
}

// Generic backward: one for_each over every logit, c_b * (1[v == y] - exp(x - lse)).
template <class B, class L, class M>
void sequence_logps_backward_generic(logits_view<const typename B::scalar_type> logits,
                                     matrix_view<const L> labels, matrix_view<const M> mask,
                                     const typename B::matrix_type& token_lse,
                                     const typename B::vector_type& coeff,
                                     logits_view<typename B::scalar_type> grad,
                                     const token_layout& layout) {
  using T = typename B::scalar_type;
  const index_t P = layout.predicted_positions(logits.time);
  const index_t V = logits.vocab, Tt = logits.time;
  const T* lse = B::data(token_lse);
  const T* c = B::data(coeff);
  const std::int64_t ignore = layout.ignore_index;
  const bool shift = layout.shift_labels;
  B::for_each(logits.batch * Tt * V, [=] PREFOPT_HD(index_t i) {
    const index_t v = i % V, t = (i / V) % Tt, b = i / (V * Tt);
    T* g = grad.row(b, t) + v;
    const index_t col = shift ? t + 1 : t;
    if (t >= P || !position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b), col,
                                    ignore)) {
      *g = T(0);
      return;
    }
    const T x = logits.row(b, t)[v];
    const T onehot = static_cast<index_t>(labels.row(b)[col]) == v ? T(1) : T(0);
    *g = c[b] * (onehot - detail::exp_(x - lse[b * P + t]));
  });
}

/// Read-only view of the same memory, whether or not the caller's element type was const.
template <class T>
constexpr matrix_view<const std::remove_const_t<T>> as_const(matrix_view<T> v) {
  return {v.data, v.rows, v.cols, v.row_stride};
}

}  // namespace detail

/// Forward pass. `logits`, `labels` and `mask` are non-owning views in B's memory space; pass an
/// empty mask view ({}) to count every label that is not ignore_index.
template <class B, class T, class L, class M>
sequence_logps_result<B> sequence_logps(logits_view<T> logits_in, matrix_view<L> labels_in,
                                        matrix_view<M> mask_in,
                                        const sequence_logps_options& options = {}) {
  PREFOPT_ASSERT_BACKEND(B);
  using S = typename B::scalar_type;
  static_assert(std::is_same_v<std::remove_const_t<T>, S>,
                "sequence_logps: the logits element type must be the backend's scalar_type");
  const logits_view<const S> logits = logits_in;
  const auto labels = detail::as_const(labels_in);
  const auto mask = detail::as_const(mask_in);
  validate_token_batch(logits, labels, mask);

  sequence_logps_result<B> out;
  if constexpr (requires { B::token_logps_forward(logits, labels, mask, options); }) {
    out = B::token_logps_forward(logits, labels, mask, options);
  } else {
    detail::validate_labels(labels, mask, logits.vocab, options.layout);
    out = detail::sequence_logps_generic<B>(logits, labels, mask, options);
  }
  if (options.compute_mean) {
    const auto counts = B::to_host(out.count);
    for (std::size_t b = 0; b < counts.size(); ++b)
      if (counts[b] == S(0)) detail::throw_empty_sequence(static_cast<index_t>(b));
    out.mean = B::zeros(B::size(out.sum));
    S* mean = B::data(out.mean);
    const S* sum = B::data(out.sum);
    const S* count = B::data(out.count);
    B::for_each(B::size(out.sum), [=] PREFOPT_HD(index_t i) { mean[i] = sum[i] / count[i]; });
  }
  return out;
}

/// Forward pass without a completion mask (only ignore_index labels are skipped).
template <class B, class T, class L>
sequence_logps_result<B> sequence_logps(logits_view<T> logits, matrix_view<L> labels,
                                        const sequence_logps_options& options = {}) {
  return sequence_logps<B>(logits, labels, matrix_view<const std::uint8_t>{}, options);
}

/// Backward pass into a caller-provided gradient buffer of the logits' shape (every element is
/// written). `grad_sum` = dL/d(sequence sum) [batch]; `grad_mean` = dL/d(sequence mean) [batch]
/// or nullptr. `forward` is the result of sequence_logps on the same inputs (its saved
/// log-sum-exp avoids a second reduction pass).
template <class B, class T, class L, class M>
void sequence_logps_backward(logits_view<T> logits_in, matrix_view<L> labels_in,
                             matrix_view<M> mask_in, const sequence_logps_result<B>& forward,
                             const typename B::vector_type& grad_sum,
                             const typename B::vector_type* grad_mean,
                             logits_view<typename B::scalar_type> grad_logits,
                             const sequence_logps_options& options = {}) {
  PREFOPT_ASSERT_BACKEND(B);
  using S = typename B::scalar_type;
  static_assert(std::is_same_v<std::remove_const_t<T>, S>,
                "sequence_logps_backward: the logits element type must be the backend's scalar_type");
  const logits_view<const S> logits = logits_in;
  const auto labels = detail::as_const(labels_in);
  const auto mask = detail::as_const(mask_in);
  validate_token_batch(logits, labels, mask);
  const index_t batch = logits.batch;
  const index_t P = options.layout.predicted_positions(logits.time);
  require_same_size("forward.token_lse.rows", B::rows(forward.token_lse), "logits.batch", batch);
  require_same_size("forward.token_lse.cols", B::cols(forward.token_lse),
                    "predicted positions per sequence", P);
  require_same_size("grad_sum.size()", B::size(grad_sum), "logits.batch", batch);
  if (grad_mean) {
    require_same_size("grad_mean->size()", B::size(*grad_mean), "logits.batch", batch);
    const auto counts = B::to_host(forward.count);
    for (std::size_t b = 0; b < counts.size(); ++b)
      if (counts[b] == S(0)) detail::throw_empty_sequence(static_cast<index_t>(b));
  }
  require(grad_logits.data != nullptr || batch * logits.time * logits.vocab == 0,
          "grad_logits.data", "nullptr", "must point to a buffer of the logits' shape");
  require_same_size("grad_logits.batch", grad_logits.batch, "logits.batch", batch);
  require_same_size("grad_logits.time", grad_logits.time, "logits.time", logits.time);
  require_same_size("grad_logits.vocab", grad_logits.vocab, "logits.vocab", logits.vocab);
  require(grad_logits.time_stride >= grad_logits.vocab, "grad_logits.time_stride",
          grad_logits.time_stride, "must be >= vocab");
  require(grad_logits.batch_stride >= 0, "grad_logits.batch_stride", grad_logits.batch_stride,
          "must be >= 0");
  validate_output_logits("grad_logits", grad_logits);

  // Per-sequence coefficient c_b = dL/dsum_b + dL/dmean_b / count_b.
  auto coeff = B::zeros(batch);
  {
    S* c = B::data(coeff);
    const S* gs = B::data(grad_sum);
    const S* gm = grad_mean ? B::data(*grad_mean) : nullptr;
    const S* n = B::data(forward.count);
    B::for_each(batch, [=] PREFOPT_HD(index_t b) {
      c[b] = gs[b] + (gm != nullptr ? gm[b] / n[b] : S(0));
    });
  }
  if constexpr (requires {
                  B::token_logps_backward(logits, labels, mask, forward.token_lse, coeff,
                                          grad_logits, options);
                }) {
    B::token_logps_backward(logits, labels, mask, forward.token_lse, coeff, grad_logits, options);
  } else {
    detail::validate_labels(labels, mask, logits.vocab, options.layout);
    detail::sequence_logps_backward_generic<B>(logits, labels, mask, forward.token_lse, coeff,
                                               grad_logits, options.layout);
  }
}

/// Backward pass returning an owned [batch * time, vocab] gradient matrix.
template <class B, class T, class L, class M>
typename B::matrix_type sequence_logps_backward(logits_view<T> logits, matrix_view<L> labels,
                                                matrix_view<M> mask,
                                                const sequence_logps_result<B>& forward,
                                                const typename B::vector_type& grad_sum,
                                                const typename B::vector_type* grad_mean,
                                                const sequence_logps_options& options = {}) {
  auto grad = B::zeros(logits.batch * logits.time, logits.vocab);
  auto view = logits_view<typename B::scalar_type>::contiguous(B::data(grad), logits.batch,
                                                                logits.time, logits.vocab);
  sequence_logps_backward<B>(logits, labels, mask, forward, grad_sum, grad_mean, view, options);
  return grad;
}

}  // namespace prefopt
