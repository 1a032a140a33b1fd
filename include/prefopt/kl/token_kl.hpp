#pragma once
// Exact token-level divergences between a policy and a reference model from their logits:
// for every predicted position that counts, the full-vocabulary divergence between
// softmax(policy_logits[b, p, :]) and softmax(ref_logits[b, p, :]) (kl/divergence.hpp), with the
// per-sequence sum and mean, and the gradient with respect to either set of logits.
//
//   token[b, p] = D(softmax(policy[b, p, :]), softmax(ref[b, p, :]))  for counted positions, else 0
//   sum[b] = sum_p token[b, p],  count[b] = number of counted positions,  mean[b] = sum[b] / count[b]
//
// token_kl_with_grad runs both in one visit per row when the upstream gradient is known before
// the forward (a KL penalty), bit-identical to token_kl followed by token_kl_backward.
//
// Which positions count follows sequence_logps exactly (core/views.hpp token_layout): with label
// shifting (the default) the logits at position p are compared when labels[b, p + 1] is not
// ignore_index and, with a mask, mask[b, p + 1] != 0. Counted labels must lie in [0, V) although
// the divergence does not read them, so a batch accepted by sequence_logps is accepted here and
// vice versa. Positions that do not count are never read.
//
// Scope of this header: host memory (CPU). Float rows run vector kernels chosen at run time
// (AVX2+FMA or AVX-512, prefopt/detail/simd.hpp; kl/detail/dispatched_rows.hpp), double rows, rows
// holding a non-finite logit and CPUs without those levels the scalar double kernels of
// divergence.hpp. The views are read in place, so Eigen and xtensor
// users call it on the same host buffers they hand to those backends; rows are split over
// threads in a fixed order (detail/parallel.hpp), each row reduced by one thread, and the
// per-sequence sums accumulated in double after the join, so results are bit-identical for any
// thread count. Device memory: prefopt::cuda::token_kl (backends/cuda, prefopt/backends/cuda/
// token_kl.cuh) runs the same row maths (divergence.hpp) in one CUDA block per row.
//
// Rejected input (prefopt::invalid_argument, naming the position): shapes or strides that do not
// match; a counted label outside [0, V); NaN or +Inf in a counted row, or a counted row whose
// logits are all -Inf; for forward (reverse) KL a token the reference (policy) forbids with -Inf
// while the other model does not, since the divergence is then +Inf (divergence.hpp explains
// why this is an error rather than +Inf); jsd's beta outside [0, 1]; with compute_mean, a
// sequence without a counted position.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/kl/detail/dispatched_rows.hpp"
#include "prefopt/kl/detail/sequences.hpp"
#include "prefopt/kl/divergence.hpp"
#include "prefopt/logps/sequence_logps.hpp"

namespace prefopt::kl {

struct token_kl_options {
  token_layout layout{};                    // label shift and ignore_index, as sequence_logps
  divergence direction = divergence::forward;
  double beta = 0.5;                        // jsd only: weight of the reference, in [0, 1]
  bool compute_mean = true;                 // also sum / count; every sequence must count a token
  int threads = 0;                          // 0 = hardware concurrency; results do not depend on it
};

/// Per-token values [batch, positions] (row-major, 0 where a position does not count) and the
/// per-sequence reductions [batch], in host memory.
template <class T>
struct token_kl_result {
  index_t batch = 0;
  index_t positions = 0;  // predicted positions per sequence (time - 1 with label shifting)
  std::vector<T> token;
  std::vector<T> sum;
  std::vector<T> count;
  std::vector<T> mean;    // empty unless compute_mean
};

namespace detail {

/// Every check of the inputs that does not read labels or logits (shapes, strides, beta), for
/// views in any memory space: the CUDA token_kl runs it too, then checks the labels on a host copy.
template <class T, class L, class M, class S>
void validate_kl_shapes(logits_view<const T, S> policy, logits_view<const T, S> ref,
                        matrix_view<const L, S> labels, matrix_view<const M, S> mask,
                        const token_kl_options& options) {
  static_assert(std::is_floating_point_v<T>, "token_kl: logits must be float or double");
  try {
    validate_token_batch(policy, labels, mask);
  } catch (const invalid_argument& e) {
    throw invalid_argument(std::string("policy_") + e.what());
  }
  try {
    validate_token_batch(ref, labels, mask);
  } catch (const invalid_argument& e) {
    throw invalid_argument(std::string("ref_") + e.what());
  }
  require_same_size("ref_logits.vocab", ref.vocab, "policy_logits.vocab", policy.vocab);
  if (options.direction == divergence::jsd)
    require(std::isfinite(options.beta) && options.beta >= 0.0 && options.beta <= 1.0,
            "options.beta", options.beta, "must be in [0, 1] (jsd weight of the reference)");
}

template <class T, class L, class M>
void validate_kl_inputs(logits_view<const T> policy, logits_view<const T> ref,
                        matrix_view<const L> labels, matrix_view<const M> mask,
                        const token_kl_options& options) {
  validate_kl_shapes(policy, ref, labels, mask, options);
  prefopt::detail::validate_labels(labels, mask, policy.vocab, options.layout);
}

/// The inputs of token_kl and token_kl_backward, read-only and validated (checked_kl_inputs).
template <class S, class L, class M>
struct kl_inputs {
  logits_view<const S> policy, ref;
  matrix_view<const L> labels;
  matrix_view<const M> mask;
};
template <class T, class U, class L, class M>
kl_inputs<std::remove_const_t<T>, std::remove_const_t<L>, std::remove_const_t<M>> checked_kl_inputs(
    logits_view<T> policy, logits_view<U> ref, matrix_view<L> labels, matrix_view<M> mask,
    const token_kl_options& options) {
  static_assert(std::is_same_v<std::remove_const_t<T>, std::remove_const_t<U>>,
                "token_kl: policy and reference logits must have the same element type");
  const kl_inputs<std::remove_const_t<T>, std::remove_const_t<L>, std::remove_const_t<M>> in{
      policy, ref, prefopt::detail::as_const(labels), prefopt::detail::as_const(mask)};
  validate_kl_inputs(in.policy, in.ref, in.labels, in.mask, options);
  return in;
}

/// Checks a requested gradient buffer (data == nullptr: not requested) against the logits'
/// extents; any memory space.
template <class S, class Sp>
void validate_kl_gradient_output(const char* name, logits_view<S, Sp> g, index_t B, index_t Tt,
                                 index_t V) {
  if (g.data == nullptr) return;
  const std::string n(name);
  require_same_size(n + ".batch", g.batch, "policy_logits.batch", B);
  require_same_size(n + ".time", g.time, "policy_logits.time", Tt);
  require_same_size(n + ".vocab", g.vocab, "policy_logits.vocab", V);
  require(g.time_stride >= g.vocab, n + ".time_stride", g.time_stride, "must be >= vocab");
  require(g.batch_stride >= 0, n + ".batch_stride", g.batch_stride, "must be >= 0");
  validate_output_logits(n, g);
}

template <class L, class M>
bool kl_position_counted(matrix_view<const L> labels, matrix_view<const M> mask, index_t b,
                         index_t p, const token_layout& layout) {
  return prefopt::detail::position_counted(labels.row(b), mask.empty() ? nullptr : mask.row(b),
                                           layout.label_column(p), layout.ignore_index);
}

/// grad_sum has one element per sequence, grad_mean none (not requested) or one per sequence.
inline void validate_kl_grad_sizes(std::size_t grad_sum, std::size_t grad_mean, index_t B) {
  require_same_size("grad_sum.size()", static_cast<long long>(grad_sum), "logits.batch", B);
  if (grad_mean != 0)
    require_same_size("grad_mean.size()", static_cast<long long>(grad_mean), "logits.batch", B);
}

/// The backward pass's per-sequence coefficient c_b = grad_sum[b] + grad_mean[b] / count[b]
/// (grad_mean empty: none), after checking the sizes and finiteness of the host copies of
/// grad_sum and grad_mean; counts are recomputed from host labels and mask.
template <class S, class L, class M>
std::vector<double> kl_coefficients(matrix_view<const L> labels, matrix_view<const M> mask,
                                    std::span<const S> grad_sum, std::span<const S> grad_mean,
                                    index_t B, index_t P, const token_layout& layout) {
  validate_kl_grad_sizes(grad_sum.size(), grad_mean.size(), B);
  for (std::size_t b = 0; b < grad_sum.size(); ++b)
    require_finite("grad_sum[" + std::to_string(b) + "]", grad_sum[b]);
  for (std::size_t b = 0; b < grad_mean.size(); ++b)
    require_finite("grad_mean[" + std::to_string(b) + "]", grad_mean[b]);
  std::vector<double> coeff(static_cast<std::size_t>(B), 0.0);
  for (index_t b = 0; b < B; ++b) {
    index_t n = 0;
    for (index_t p = 0; p < P; ++p) n += kl_position_counted(labels, mask, b, p, layout);
    double c = static_cast<double>(grad_sum[static_cast<std::size_t>(b)]);
    if (!grad_mean.empty()) {
      if (n == 0) prefopt::detail::throw_empty_sequence(b);
      c += static_cast<double>(grad_mean[static_cast<std::size_t>(b)]) / static_cast<double>(n);
    }
    coeff[static_cast<std::size_t>(b)] = c;
  }
  return coeff;
}

/// A row of `which` logits ("policy_logits" or "ref_logits") with a NaN or +Inf logit `value` at
/// index `where`, or (where < 0) no finite logit at all; `pos` is "[b, p, ".
[[noreturn]] inline void throw_not_finite(const char* which, const std::string& pos, index_t where,
                                          double value) {
  if (where >= 0)
    throw_invalid_argument(which + pos + std::to_string(where) + "]", value,
                           "logits must not be NaN or +Inf");
  throw_invalid_argument(which + pos + ":]", "-inf",
                         "every logit of the row is -Inf (no token has probability > 0)");
}

[[noreturn]] inline void throw_row_error(const row_stats& r, index_t b, index_t p,
                                         double x_where, double y_where) {
  const std::string pos = "[" + std::to_string(b) + ", " + std::to_string(p) + ", ";
  switch (r.status) {
    case row_status::policy_not_finite: throw_not_finite("policy_logits", pos, r.where, x_where);
    case row_status::ref_not_finite: throw_not_finite("ref_logits", pos, r.where, y_where);
    case row_status::support:
      // Either the policy or the reference forbids the token (-Inf) while the other does not.
      if (x_where == -std::numeric_limits<double>::infinity())
        throw_invalid_argument(
            "policy_logits" + pos + std::to_string(r.where) + "]", x_where,
            "the policy gives probability 0 to a token the reference gives probability > 0 "
            "(ref logit " + prefopt::detail::format_value(y_where) +
                "): KL(ref || policy) is +Inf");
      throw_invalid_argument(
          "ref_logits" + pos + std::to_string(r.where) + "]", y_where,
          "the reference gives probability 0 to a token the policy gives probability > 0 "
          "(policy logit " + prefopt::detail::format_value(x_where) +
              "): KL(policy || ref) is +Inf");
    case row_status::ok: break;
  }
  throw invalid_argument("token_kl: internal error (row status ok)");
}

}  // namespace detail

/// Forward pass: the divergence of every counted position, and its per-sequence sum and mean.
/// `policy` and `ref` are [B, T, V] views of host memory with the same extents (strides may
/// differ); pass an empty mask ({}) to count every label that is not ignore_index.
template <class T, class U, class L, class M>
token_kl_result<std::remove_const_t<T>> token_kl(logits_view<T> policy_in, logits_view<U> ref_in,
                                                 matrix_view<L> labels_in, matrix_view<M> mask_in,
                                                 const token_kl_options& options = {}) {
  using S = std::remove_const_t<T>;
  const auto in = detail::checked_kl_inputs(policy_in, ref_in, labels_in, mask_in, options);

  const index_t B = in.policy.batch, P = options.layout.predicted_positions(in.policy.time);
  token_kl_result<S> out;
  out.batch = B;
  out.positions = P;
  out.token.assign(static_cast<std::size_t>(B * P), S(0));
  std::vector<row_stats> stats(static_cast<std::size_t>(B * P));
  std::vector<std::uint8_t> counted(static_cast<std::size_t>(B * P), 0);
  for (index_t b = 0; b < B; ++b)
    for (index_t p = 0; p < P; ++p)
      counted[static_cast<std::size_t>(b * P + p)] =
          detail::kl_position_counted(in.labels, in.mask, b, p, options.layout);

  prefopt::detail::parallel_blocks(B * P, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      if (!counted[static_cast<std::size_t>(r)]) continue;
      const index_t b = r / P, p = r % P;
      bool vectorised;
      stats[static_cast<std::size_t>(r)] =
          detail::dispatched_row_divergence(in.policy.row(b, p), in.ref.row(b, p), in.policy.vocab,
                                            options.direction, options.beta, vectorised);
    }
  });
  // Errors are reported after the join, lowest row first: the same error for any thread count.
  for (index_t r = 0; r < B * P; ++r) {
    const row_stats& s = stats[static_cast<std::size_t>(r)];
    if (!counted[static_cast<std::size_t>(r)] || s.status == row_status::ok) continue;
    const index_t b = r / P, p = r % P;
    const double xw = s.where >= 0 ? static_cast<double>(in.policy.row(b, p)[s.where]) : 0.0;
    const double yw = s.where >= 0 ? static_cast<double>(in.ref.row(b, p)[s.where]) : 0.0;
    detail::throw_row_error(s, b, p, xw, yw);
  }
  detail::reduce_sequences(out, B, P, options.compute_mean, [&](index_t b, index_t p) -> std::optional<double> {
    const auto r = static_cast<std::size_t>(b * P + p);
    if (!counted[r]) return std::nullopt;
    out.token[r] = static_cast<S>(stats[r].value);
    return stats[r].value;  // the double value, not the rounded token
  }, [](index_t empty) { prefopt::detail::throw_empty_sequence(empty); });
  return out;
}

/// Forward pass without a completion mask.
template <class T, class U, class L>
token_kl_result<std::remove_const_t<T>> token_kl(logits_view<T> policy, logits_view<U> ref,
                                                 matrix_view<L> labels,
                                                 const token_kl_options& options = {}) {
  return token_kl(policy, ref, labels, matrix_view<const std::uint8_t>{}, options);
}

namespace detail {

/// The gradient pass of token_kl_backward and token_kl_with_grad: every row r = b * Tt + t of the
/// requested gradients is written (zero where `counted(b, t)` is false or t >= P); each counted
/// row gets its statistics (dispatched_row_divergence), then its gradient with coefficient
/// coeff[b] while the row pair is in cache. Rows the kernels reject are zeroed and reported after
/// the join, lowest row first (so the error does not depend on the thread count). Returns every
/// row's statistics, indexed by r.
template <class S, class L, class M, class Counted>
std::vector<row_stats> kl_gradient_pass(const kl_inputs<S, L, M>& in, logits_view<S> grad_policy,
                                        logits_view<S> grad_ref, const std::vector<double>& coeff,
                                        const token_kl_options& options, Counted&& counted) {
  const index_t B = in.policy.batch, Tt = in.policy.time, V = in.policy.vocab;
  const index_t P = options.layout.predicted_positions(Tt);
  std::vector<row_stats> stats(static_cast<std::size_t>(B * Tt));
  prefopt::detail::parallel_blocks(B * Tt, options.threads, 8, [&](index_t begin, index_t end) {
    for (index_t r = begin; r < end; ++r) {
      const index_t b = r / Tt, t = r % Tt;
      S* gp = grad_policy.data ? grad_policy.row(b, t) : nullptr;
      S* gr = grad_ref.data ? grad_ref.row(b, t) : nullptr;
      if (t >= P || !counted(b, t)) {
        if (gp) std::fill_n(gp, V, S(0));
        if (gr) std::fill_n(gr, V, S(0));
        continue;
      }
      const S* x = in.policy.row(b, t);
      const S* y = in.ref.row(b, t);
      row_stats& s = stats[static_cast<std::size_t>(r)];
      bool vectorised;
      s = dispatched_row_divergence(x, y, V, options.direction, options.beta, vectorised);
      if (s.status != row_status::ok) {
        // Reported after the join; leave the rows zeroed meanwhile.
        if (gp) std::fill_n(gp, V, S(0));
        if (gr) std::fill_n(gr, V, S(0));
        continue;
      }
      dispatched_row_gradient(x, y, V, options.direction, options.beta, s, vectorised,
                              coeff[static_cast<std::size_t>(b)], gp, gr);
    }
  });
  for (index_t r = 0; r < B * Tt; ++r) {
    const row_stats& s = stats[static_cast<std::size_t>(r)];
    if (s.status == row_status::ok) continue;
    const index_t b = r / Tt, t = r % Tt;
    const double xw = s.where >= 0 ? static_cast<double>(in.policy.row(b, t)[s.where]) : 0.0;
    const double yw = s.where >= 0 ? static_cast<double>(in.ref.row(b, t)[s.where]) : 0.0;
    throw_row_error(s, b, t, xw, yw);
  }
  return stats;
}

}  // namespace detail

/// Backward pass: the gradient of L with respect to the policy logits and / or the reference
/// logits, given grad_sum = dL/dsum [batch] and grad_mean = dL/dmean [batch] (empty: none).
/// Every element of a requested gradient buffer is written (zero for positions that do not
/// count); a buffer whose data is null is not requested. Row statistics are recomputed, so no
/// state from the forward pass is needed (in particular nothing rounded to float).
///   d/dlogits[b, p, :] = c_b * dD(b, p)/dlogits,  c_b = grad_sum[b] + grad_mean[b] / count[b]
template <class T, class U, class L, class M>
void token_kl_backward(logits_view<T> policy_in, logits_view<U> ref_in, matrix_view<L> labels_in,
                       matrix_view<M> mask_in, std::span<const std::remove_const_t<T>> grad_sum,
                       std::span<const std::remove_const_t<T>> grad_mean,
                       logits_view<std::remove_const_t<T>> grad_policy,
                       logits_view<std::remove_const_t<T>> grad_ref,
                       const token_kl_options& options = {}) {
  const auto in = detail::checked_kl_inputs(policy_in, ref_in, labels_in, mask_in, options);
  const index_t B = in.policy.batch, Tt = in.policy.time, V = in.policy.vocab;
  const index_t P = options.layout.predicted_positions(Tt);
  detail::validate_kl_gradient_output("grad_policy", grad_policy, B, Tt, V);
  detail::validate_kl_gradient_output("grad_ref", grad_ref, B, Tt, V);
  // Per-sequence coefficient c_b (counts recomputed from labels and mask).
  const std::vector<double> coeff =
      detail::kl_coefficients(in.labels, in.mask, grad_sum, grad_mean, B, P, options.layout);
  (void)detail::kl_gradient_pass(in, grad_policy, grad_ref, coeff, options,
                                 [&](index_t b, index_t t) {
                                   return detail::kl_position_counted(in.labels, in.mask, b, t,
                                                                      options.layout);
                                 });
}

/// Forward and backward in one visit per row, for when the upstream gradient is known before the
/// forward (a KL penalty beta * mean KL: grad_mean = beta / B, whatever the values): returns what
/// token_kl returns and writes grad_policy / grad_ref exactly as token_kl_backward does, with the
/// same arguments and options. Each counted row runs the same row kernels in the same order as
/// the two calls (dispatched_row_divergence, then dispatched_row_gradient with the same c_b), so
/// the value and every gradient element are bit-identical to token_kl followed by
/// token_kl_backward, for any thread count. What changes is the memory traffic: the gradient
/// pass reads the row pair from cache right after its statistics (2 x 128 KiB at V = 32000 in
/// float), so a pair of logits is read from memory once and the gradient written once: 12 bytes
/// a pair with one gradient requested instead of 20 for the two calls (docs/kl.md).
///
/// Errors are those of the two calls in the same order: the input checks, the row errors (lowest
/// row first) and compute_mean's empty sequence of token_kl, then the gradient buffers and
/// grad_sum / grad_mean of token_kl_backward. The gradient buffers and grad_sum / grad_mean are
/// checked before any output is written; when they are rejected, the forward runs alone first so
/// that an error token_kl would report comes first, and no gradient element is written. A row
/// rejected by the kernels (NaN, +Inf, an infinite divergence) is only known during the pass:
/// then, as with token_kl_backward, rows already visited have been written.
template <class T, class U, class L, class M>
token_kl_result<std::remove_const_t<T>> token_kl_with_grad(
    logits_view<T> policy_in, logits_view<U> ref_in, matrix_view<L> labels_in,
    matrix_view<M> mask_in, std::span<const std::remove_const_t<T>> grad_sum,
    std::span<const std::remove_const_t<T>> grad_mean,
    logits_view<std::remove_const_t<T>> grad_policy, logits_view<std::remove_const_t<T>> grad_ref,
    const token_kl_options& options = {}) {
  using S = std::remove_const_t<T>;
  const auto in = detail::checked_kl_inputs(policy_in, ref_in, labels_in, mask_in, options);
  const index_t B = in.policy.batch, Tt = in.policy.time, V = in.policy.vocab;
  const index_t P = options.layout.predicted_positions(Tt);
  std::vector<double> coeff;
  try {
    detail::validate_kl_gradient_output("grad_policy", grad_policy, B, Tt, V);
    detail::validate_kl_gradient_output("grad_ref", grad_ref, B, Tt, V);
    coeff = detail::kl_coefficients(in.labels, in.mask, grad_sum, grad_mean, B, P, options.layout);
  } catch (const invalid_argument&) {
    // token_kl would have run (and thrown) before token_kl_backward saw these arguments.
    (void)token_kl(in.policy, in.ref, in.labels, in.mask, options);
    throw;
  }

  token_kl_result<S> out;
  out.batch = B;
  out.positions = P;
  out.token.assign(static_cast<std::size_t>(B * P), S(0));
  std::vector<std::uint8_t> counted(static_cast<std::size_t>(B * P), 0);
  for (index_t b = 0; b < B; ++b)
    for (index_t p = 0; p < P; ++p)
      counted[static_cast<std::size_t>(b * P + p)] =
          detail::kl_position_counted(in.labels, in.mask, b, p, options.layout);
  // The same pass as token_kl_backward; its statistics give the values below.
  const std::vector<row_stats> stats = detail::kl_gradient_pass(
      in, grad_policy, grad_ref, coeff, options,
      [&](index_t b, index_t t) { return counted[static_cast<std::size_t>(b * P + t)] != 0; });
  detail::reduce_sequences(
      out, B, P, options.compute_mean,
      [&](index_t b, index_t p) -> std::optional<double> {
        const auto i = static_cast<std::size_t>(b * P + p);
        if (!counted[i]) return std::nullopt;
        const double v = stats[static_cast<std::size_t>(b * Tt + p)].value;
        out.token[i] = static_cast<S>(v);
        return v;  // the double value, not the rounded token, as token_kl
      },
      [](index_t empty) { prefopt::detail::throw_empty_sequence(empty); });
  return out;
}

}  // namespace prefopt::kl
