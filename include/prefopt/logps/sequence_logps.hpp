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
// Backends that provide B::token_logps_forward / B::token_logps_backward (prefopt::
// fused_logps_backend, logps/types.hpp) get a fused, single streaming pass per row that never
// materialises a softmax (sequence_logps_with_grad does both in one visit per row when the
// upstream gradients are known before the forward). Others fall back to the generic path
// (row_logsumexp, gather_cols, for_each), which reads labels on the host and is therefore only
// compiled for host-accessible backends: a device backend whose fused signature does not match
// is a compile error, not a fall-back that dereferences device pointers on the host.
//
// Precision: per-sequence sums are accumulated in double whatever the logits type, so a float
// sequence of 10^5 tokens loses nothing to summation order; the stored sum is then rounded once.
//
// 16-bit logits: a float backend with fused 16-bit operations (the Eigen and xtensor adapters;
// prefopt::fused_half_logps_backend) also takes logits_view<const prefopt::bfloat16> or
// <const prefopt::float16> (prefopt/core/half.hpp). Every value is widened to float and goes
// through the float path's arithmetic (results bit-identical to float logits holding the same
// values); results are float; the backward writes the gradient in the logits' storage type,
// computed in float and rounded once. docs/half_precision.md gives the accuracy.
//
// Validation (host side, before or during the pass): shapes and strides; every counted label in
// [0, V); the log-sum-exp and the label's logit of every counted position finite (NaN or +Inf
// anywhere in a counted row, or -Inf at the label, is rejected; -Inf elsewhere is accepted as a
// zero-probability token, the usual way to mask a vocabulary); with compute_mean, every sequence
// has at least one counted token. Rows that are not counted are never read.

#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/logps/detail/token_checks.hpp"
#include "prefopt/logps/types.hpp"

namespace prefopt {

namespace detail {

/// Why a backend without matching fused operations must be host-accessible.
template <class B>
consteval bool assert_generic_logps_allowed() {
  static_assert(host_accessible<B>,
                "prefopt::sequence_logps: B has no fused token_logps_forward / "
                "token_logps_backward for these label and mask types (see "
                "prefopt::fused_logps_backend in prefopt/logps/types.hpp for the exact signatures) "
                "and B's memory is not host memory, so the generic path, which reads labels on "
                "the host, cannot be used");
  static_assert(backend_primitives::has_gather<B>,
                "prefopt::sequence_logps: the generic path needs B::gather_cols(matrix_view, "
                "const std::int64_t*) (or provide the fused operations)");
  return true;
}

// Generic forward: the required primitives plus gather_cols. Labels and mask are read on the
// host (and the gathered columns passed as a host pointer), so it compiles for host-accessible
// backends only; device backends provide the fused operations.
template <class B, class L, class M>
sequence_logps_result<B> sequence_logps_generic(logits_view<const typename B::scalar_type> logits,
                                                matrix_view<const L> labels,
                                                matrix_view<const M> mask,
                                                const sequence_logps_options& options) {
  static_assert(assert_generic_logps_allowed<B>());
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

// Generic backward: one for_each over every logit, c_b * (1[v == y] - exp(x - lse)). It reads
// nothing on the host and runs in any memory space; the public entry point validates labels on
// the host first, so it takes this path for host-accessible backends only.
template <class B, class L, class M, class S = typename B::memory_space>
void sequence_logps_backward_generic(logits_view<const typename B::scalar_type, S> logits,
                                     matrix_view<const L, S> labels, matrix_view<const M, S> mask,
                                     const typename B::matrix_type& token_lse,
                                     const typename B::vector_type& coeff,
                                     logits_view<typename B::scalar_type, S> grad,
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

/// The checks both entry points start with: B is a backend, the logits have its scalar type,
/// and every view lives in B's memory space (a host view for a device backend is a compile
/// error here, before anything could dereference it).
template <class B, class T, class Logits, class Labels, class Mask>
consteval bool assert_logps_arguments() {
  static_assert(detail::assert_backend<B>());
  static_assert(std::is_same_v<std::remove_const_t<T>, typename B::scalar_type> ||
                    (half_storage<std::remove_const_t<T>> &&
                     std::is_same_v<typename B::scalar_type, float>),
                "prefopt::sequence_logps: the logits element type must be the backend's "
                "scalar_type, or prefopt::bfloat16 / prefopt::float16 for a float backend");
  static_assert(in_memory_space_of<B, Logits> && in_memory_space_of<B, Labels> &&
                    in_memory_space_of<B, Mask>,
                "prefopt::sequence_logps: logits, labels and mask must be views in the backend's "
                "memory space (B::memory_space; e.g. matrix_view<const L, prefopt::device_space> "
                "for the CUDA backend, the default host_space for Eigen and xtensor)");
  return true;
}

/// The logits element type the algorithm reads: B's scalar type, or the 16-bit storage type.
template <class B, class T>
using logits_element_t = std::conditional_t<half_storage<std::remove_const_t<T>>,
                                            std::remove_const_t<T>, typename B::scalar_type>;

/// Why a backend without fused 16-bit operations cannot take 16-bit logits.
template <class B, class H, class L, class M>
consteval bool assert_half_logps_allowed() {
  static_assert(fused_half_logps_backend<B, H, L, M>,
                "prefopt::sequence_logps: 16-bit logits (prefopt::bfloat16 / float16) need a float "
                "backend with fused 16-bit operations (prefopt::fused_half_logps_backend in "
                "prefopt/logps/types.hpp; the Eigen and xtensor adapters have them); there is no "
                "generic path for them");
  return true;
}

/// Whether B's fused forward itself rejects an empty sequence when options.compute_mean is set
/// (B::fused_forward_checks_empty_sequences, optional): then the driver does not read the counts
/// back to check them (the CUDA backend flags them on the device, saving a host read per call).
template <class B>
inline constexpr bool fused_forward_checks_empty_sequences = [] {
  if constexpr (requires { B::fused_forward_checks_empty_sequences; })
    return static_cast<bool>(B::fused_forward_checks_empty_sequences);
  else
    return false;
}();

/// out.mean = sum / count when options.compute_mean, after rejecting an empty sequence unless
/// the pass that produced `out` already has (`counts_checked`).
template <class B>
void attach_mean(sequence_logps_result<B>& out, const sequence_logps_options& options,
                 bool counts_checked) {
  using S = typename B::scalar_type;
  if (!options.compute_mean) return;
  if (!counts_checked) {
    const auto counts = B::to_host(out.count);
    for (std::size_t b = 0; b < counts.size(); ++b)
      if (counts[b] == S(0)) detail::throw_empty_sequence(static_cast<index_t>(b));
  }
  out.mean = B::zeros(B::size(out.sum));
  S* mean = B::data(out.mean);
  const S* sum = B::data(out.sum);
  const S* count = B::data(out.count);
  B::for_each(B::size(out.sum), [=] PREFOPT_HD(index_t i) { mean[i] = sum[i] / count[i]; });
}

/// The checks of the upstream gradients and the gradient buffer shared by the backward and the
/// one-pass forward + backward: grad_sum (and grad_mean) one element per sequence, grad_logits a
/// writable buffer of the logits' extents.
template <class B, class X, class SL, class G, class SG>
void validate_gradient_arguments(logits_view<const X, SL> logits,
                                 const typename B::vector_type& grad_sum,
                                 const typename B::vector_type* grad_mean,
                                 logits_view<G, SG> grad_logits) {
  const index_t batch = logits.batch;
  require_same_size("grad_sum.size()", B::size(grad_sum), "logits.batch", batch);
  if (grad_mean)
    require_same_size("grad_mean->size()", B::size(*grad_mean), "logits.batch", batch);
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
}

}  // namespace detail

/// Forward pass. `logits`, `labels` and `mask` are non-owning views in B's memory space; pass an
/// empty mask view ({}) to count every label that is not ignore_index.
template <class B, class T, class L, class M, class SL, class SB, class SM>
sequence_logps_result<B> sequence_logps(logits_view<T, SL> logits_in, matrix_view<L, SB> labels_in,
                                        matrix_view<M, SM> mask_in,
                                        const sequence_logps_options& options = {}) {
  static_assert(detail::assert_logps_arguments<B, T, logits_view<T, SL>, matrix_view<L, SB>,
                                               matrix_view<M, SM>>());
  using S = typename B::scalar_type;
  using X = detail::logits_element_t<B, T>;  // S, or a 16-bit storage type (S = float)
  constexpr bool half_logits = !std::is_same_v<X, S>;
  const logits_view<const X, SL> logits = logits_in;
  const auto labels = detail::as_const(labels_in);
  const auto mask = detail::as_const(mask_in);
  validate_token_batch(logits, labels, mask);

  using LC = std::remove_const_t<L>;
  using MC = std::remove_const_t<M>;
  sequence_logps_result<B> out = [&] {
    if constexpr (half_logits) {
      static_assert(detail::assert_half_logps_allowed<B, X, LC, MC>());
      return B::token_logps_forward(logits, labels, mask, options);
    } else if constexpr (fused_logps_backend<B, LC, MC>) {
      return B::token_logps_forward(logits, labels, mask, options);
    } else {
      static_assert(detail::assert_generic_logps_allowed<B>());
      detail::validate_labels(labels, mask, logits.vocab, options.layout);
      return detail::sequence_logps_generic<B>(logits, labels, mask, options);
    }
  }();
  constexpr bool counts_checked = (half_logits || fused_logps_backend<B, LC, MC>) &&
                                  detail::fused_forward_checks_empty_sequences<B>;
  detail::attach_mean<B>(out, options, counts_checked);
  return out;
}

/// Forward pass without a completion mask (only ignore_index labels are skipped).
template <class B, class T, class L, class SL, class SB>
sequence_logps_result<B> sequence_logps(logits_view<T, SL> logits, matrix_view<L, SB> labels,
                                        const sequence_logps_options& options = {}) {
  return sequence_logps<B>(logits, labels, matrix_view<const std::uint8_t, SB>{}, options);
}

namespace detail {

/// The backward pass behind both public buffer overloads; G is the gradient's element type (B's
/// scalar type, or the logits' 16-bit storage type).
template <class B, class T, class L, class M, class SL, class SB, class SM, class G, class SG>
void sequence_logps_backward_into(logits_view<T, SL> logits_in, matrix_view<L, SB> labels_in,
                                  matrix_view<M, SM> mask_in,
                                  const sequence_logps_result<B>& forward,
                                  const typename B::vector_type& grad_sum,
                                  const typename B::vector_type* grad_mean,
                                  logits_view<G, SG> grad_logits,
                                  const sequence_logps_options& options) {
  static_assert(detail::assert_logps_arguments<B, T, logits_view<T, SL>, matrix_view<L, SB>,
                                               matrix_view<M, SM>>());
  static_assert(in_memory_space_of<B, logits_view<T, SG>>,
                "prefopt::sequence_logps_backward: grad_logits must be a view in the backend's "
                "memory space");
  using S = typename B::scalar_type;
  using X = detail::logits_element_t<B, T>;
  constexpr bool half_logits = !std::is_same_v<X, S>;
  static_assert(std::is_same_v<G, X>,
                "prefopt::sequence_logps_backward: grad_logits has the logits' element type (the "
                "backend's scalar_type, or the same 16-bit storage type as 16-bit logits)");
  const logits_view<const X, SL> logits = logits_in;
  const auto labels = detail::as_const(labels_in);
  const auto mask = detail::as_const(mask_in);
  validate_token_batch(logits, labels, mask);
  const index_t batch = logits.batch;
  const index_t P = options.layout.predicted_positions(logits.time);
  require_same_size("forward.token_lse.rows", B::rows(forward.token_lse), "logits.batch", batch);
  require_same_size("forward.token_lse.cols", B::cols(forward.token_lse),
                    "predicted positions per sequence", P);
  validate_gradient_arguments<B>(logits, grad_sum, grad_mean, grad_logits);
  if (grad_mean) {
    const auto counts = B::to_host(forward.count);
    for (std::size_t b = 0; b < counts.size(); ++b)
      if (counts[b] == S(0)) detail::throw_empty_sequence(static_cast<index_t>(b));
  }

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
  if constexpr (half_logits) {
    static_assert(detail::assert_half_logps_allowed<B, X, std::remove_const_t<L>,
                                                    std::remove_const_t<M>>());
    B::token_logps_backward(logits, labels, mask, forward.token_lse, coeff, grad_logits, options);
  } else if constexpr (fused_logps_backend<B, std::remove_const_t<L>, std::remove_const_t<M>>) {
    B::token_logps_backward(logits, labels, mask, forward.token_lse, coeff, grad_logits, options);
  } else {
    static_assert(detail::assert_generic_logps_allowed<B>());
    detail::validate_labels(labels, mask, logits.vocab, options.layout);
    detail::sequence_logps_backward_generic<B>(logits, labels, mask, forward.token_lse, coeff,
                                               grad_logits, options.layout);
  }
}

}  // namespace detail

/// Backward pass into a caller-provided gradient buffer of the logits' shape (every element is
/// written). `grad_sum` = dL/d(sequence sum) [batch]; `grad_mean` = dL/d(sequence mean) [batch]
/// or nullptr. `forward` is the result of sequence_logps on the same inputs (its saved
/// log-sum-exp avoids a second reduction pass).
template <class B, class T, class L, class M, class SL, class SB, class SM, class SG>
  requires(!half_storage<std::remove_const_t<T>>)
void sequence_logps_backward(logits_view<T, SL> logits_in, matrix_view<L, SB> labels_in,
                             matrix_view<M, SM> mask_in, const sequence_logps_result<B>& forward,
                             const typename B::vector_type& grad_sum,
                             const typename B::vector_type* grad_mean,
                             logits_view<typename B::scalar_type, SG> grad_logits,
                             const sequence_logps_options& options = {}) {
  detail::sequence_logps_backward_into<B>(logits_in, labels_in, mask_in, forward, grad_sum,
                                          grad_mean, grad_logits, options);
}

/// Backward pass on 16-bit logits (prefopt::bfloat16 / float16, float backend): the same, with
/// the gradient computed in float and rounded once (to nearest even) to the logits' storage
/// type, as PyTorch autograd returns a bfloat16 gradient for bfloat16 logits.
template <class B, class T, class L, class M, class SL, class SB, class SM, class SG>
  requires half_storage<std::remove_const_t<T>>
void sequence_logps_backward(logits_view<T, SL> logits_in, matrix_view<L, SB> labels_in,
                             matrix_view<M, SM> mask_in, const sequence_logps_result<B>& forward,
                             const typename B::vector_type& grad_sum,
                             const typename B::vector_type* grad_mean,
                             logits_view<std::remove_const_t<T>, SG> grad_logits,
                             const sequence_logps_options& options = {}) {
  detail::sequence_logps_backward_into<B>(logits_in, labels_in, mask_in, forward, grad_sum,
                                          grad_mean, grad_logits, options);
}

/// Forward and backward in one pass over the logits, for a loss whose gradients with respect to
/// the sequence sums (grad_sum, [batch]) and means (grad_mean, [batch] or nullptr) are known
/// before the forward: a supervised NLL / SFT term, a length-normalised likelihood, a fixed
/// per-sequence weighting. Returns what sequence_logps returns and writes into `grad_logits`
/// (every element) what sequence_logps_backward writes for the same grad_sum and grad_mean.
/// A backend with the one-pass operation (prefopt::fused_logps_with_grad_backend: Eigen, xtensor)
/// reads each logit row once while it is still in cache for the gradient (8 bytes per float
/// logit instead of 12); others run sequence_logps then sequence_logps_backward. Same checks and
/// messages as the two calls. On the one-pass path every check but one runs before anything is
/// written; a non-finite logit row is found during the pass and reported after it, lowest row
/// first, with grad_logits already (partly) written.
template <class B, class T, class L, class M, class SL, class SB, class SM, class G, class SG>
sequence_logps_result<B> sequence_logps_with_grad(logits_view<T, SL> logits_in,
                                                  matrix_view<L, SB> labels_in,
                                                  matrix_view<M, SM> mask_in,
                                                  const typename B::vector_type& grad_sum,
                                                  const typename B::vector_type* grad_mean,
                                                  logits_view<G, SG> grad_logits,
                                                  const sequence_logps_options& options = {}) {
  static_assert(detail::assert_logps_arguments<B, T, logits_view<T, SL>, matrix_view<L, SB>,
                                               matrix_view<M, SM>>());
  static_assert(in_memory_space_of<B, logits_view<T, SG>>,
                "prefopt::sequence_logps_with_grad: grad_logits must be a view in the backend's "
                "memory space");
  using X = detail::logits_element_t<B, T>;
  static_assert(std::is_same_v<G, X>,
                "prefopt::sequence_logps_with_grad: grad_logits has the logits' element type (the "
                "backend's scalar_type, or the same 16-bit storage type as 16-bit logits)");
  if constexpr (fused_logps_with_grad_backend<B, X, std::remove_const_t<L>,
                                              std::remove_const_t<M>>) {
    const logits_view<const X, SL> logits = logits_in;
    const auto labels = detail::as_const(labels_in);
    const auto mask = detail::as_const(mask_in);
    validate_token_batch(logits, labels, mask);
    detail::validate_gradient_arguments<B>(logits, grad_sum, grad_mean, grad_logits);
    sequence_logps_result<B> out = B::token_logps_forward_backward(
        logits, labels, mask, grad_sum, grad_mean, grad_logits, options);
    detail::attach_mean<B>(out, options, /*counts_checked=*/true);
    return out;
  } else {
    sequence_logps_result<B> out = sequence_logps<B>(logits_in, labels_in, mask_in, options);
    detail::sequence_logps_backward_into<B>(logits_in, labels_in, mask_in, out, grad_sum,
                                            grad_mean, grad_logits, options);
    return out;
  }
}

/// Backward pass returning an owned [batch * time, vocab] gradient matrix.
template <class B, class T, class L, class M, class SL, class SB, class SM>
typename B::matrix_type sequence_logps_backward(logits_view<T, SL> logits,
                                                matrix_view<L, SB> labels, matrix_view<M, SM> mask,
                                                const sequence_logps_result<B>& forward,
                                                const typename B::vector_type& grad_sum,
                                                const typename B::vector_type* grad_mean,
                                                const sequence_logps_options& options = {}) {
  static_assert(!half_storage<std::remove_const_t<T>>,
                "prefopt::sequence_logps_backward: with 16-bit logits, pass a gradient buffer of "
                "the storage type (logits_view<prefopt::bfloat16> / <prefopt::float16>)");
  // The backward writes every element, so a backend that can allocate without filling (the
  // optional B::uninitialized(rows, cols), e.g. CUDA) skips the zero-fill: the gradient is
  // written once, not twice.
  auto grad = [&] {
    if constexpr (requires { B::uninitialized(index_t{}, index_t{}); })
      return B::uninitialized(logits.batch * logits.time, logits.vocab);
    else
      return B::zeros(logits.batch * logits.time, logits.vocab);
  }();
  auto view = logits_view<typename B::scalar_type, typename B::memory_space>::contiguous(
      B::data(grad), logits.batch, logits.time, logits.vocab);
  sequence_logps_backward<B>(logits, labels, mask, forward, grad_sum, grad_mean, view, options);
  return grad;
}

}  // namespace prefopt
