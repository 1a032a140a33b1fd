#pragma once
// The vocabulary of sequence log-probs, without the algorithm: options, the result type, and the
// signature of the optional fused operations a backend provides. Backend adapters include this
// header (not logps/sequence_logps.hpp) to implement and assert their fused path.

#include <concepts>
#include <cstdint>

#include "prefopt/config.hpp"
#include "prefopt/core/half.hpp"
#include "prefopt/core/views.hpp"

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

/// B provides the fused sequence log-prob operations for labels of type L and a mask of type M,
/// with exactly these signatures (views in B's memory space):
///
///   static sequence_logps_result<B> token_logps_forward(
///       logits_view<const T, S> logits, matrix_view<const L, S> labels,
///       matrix_view<const M, S> mask, const sequence_logps_options& options);
///   static void token_logps_backward(
///       logits_view<const T, S> logits, matrix_view<const L, S> labels,
///       matrix_view<const M, S> mask, const B::matrix_type& token_lse,
///       const B::vector_type& coeff, logits_view<T, S> grad, const sequence_logps_options&);
///
/// sequence_logps uses them when this concept holds. A device backend must satisfy it (the
/// generic path is host-only); every shipped adapter static_asserts it, so a misspelt signature
/// fails where the backend is written instead of silently falling back.
template <class B, class L = std::int64_t, class M = std::uint8_t>
concept fused_logps_backend =
    requires(logits_view<const typename B::scalar_type, typename B::memory_space> logits,
             matrix_view<const L, typename B::memory_space> labels,
             matrix_view<const M, typename B::memory_space> mask,
             const sequence_logps_options& options, const typename B::matrix_type& token_lse,
             const typename B::vector_type& coeff,
             logits_view<typename B::scalar_type, typename B::memory_space> grad) {
      { B::token_logps_forward(logits, labels, mask, options) }
          -> std::same_as<sequence_logps_result<B>>;
      { B::token_logps_backward(logits, labels, mask, token_lse, coeff, grad, options) }
          -> std::same_as<void>;
    };

/// B provides the fused operations on 16-bit logits H (prefopt::bfloat16 or float16) for a float
/// backend: the same two signatures with logits_view<const H, S> logits and the gradient written
/// in the storage type, logits_view<H, S> grad; results (token log-probs, log-sum-exps, sums,
/// counts, means) and coeff stay float. The host mixin (logps/host_fused_logps.hpp) provides
/// them to the Eigen and xtensor adapters; there is no generic fallback for 16-bit logits.
template <class B, class H, class L = std::int64_t, class M = std::uint8_t>
concept fused_half_logps_backend =
    half_storage<H> && std::same_as<typename B::scalar_type, float> &&
    requires(logits_view<const H, typename B::memory_space> logits,
             matrix_view<const L, typename B::memory_space> labels,
             matrix_view<const M, typename B::memory_space> mask,
             const sequence_logps_options& options, const typename B::matrix_type& token_lse,
             const typename B::vector_type& coeff, logits_view<H, typename B::memory_space> grad) {
      { B::token_logps_forward(logits, labels, mask, options) }
          -> std::same_as<sequence_logps_result<B>>;
      { B::token_logps_backward(logits, labels, mask, token_lse, coeff, grad, options) }
          -> std::same_as<void>;
    };

/// B provides the optional one-pass forward + backward for logits of element type X (B's scalar
/// type, or a 16-bit storage type on a float backend), labels L and mask M:
///
///   static sequence_logps_result<B> token_logps_forward_backward(
///       logits_view<const X, S> logits, matrix_view<const L, S> labels,
///       matrix_view<const M, S> mask, const B::vector_type& grad_sum,
///       const B::vector_type* grad_mean, logits_view<X, S> grad, const sequence_logps_options&);
///
/// It returns what token_logps_forward returns and writes into `grad` what token_logps_backward
/// writes for the coefficient c_b = grad_sum[b] + grad_mean[b] / count_b, reading each logit row
/// once. It rejects an empty sequence itself when options.compute_mean is set or grad_mean is
/// given (the caller does not check the counts again). sequence_logps_with_grad uses it when this
/// concept holds and otherwise runs the forward and the backward one after the other (the CUDA
/// backend, for now).
template <class B, class X, class L = std::int64_t, class M = std::uint8_t>
concept fused_logps_with_grad_backend =
    requires(logits_view<const X, typename B::memory_space> logits,
             matrix_view<const L, typename B::memory_space> labels,
             matrix_view<const M, typename B::memory_space> mask,
             const sequence_logps_options& options, const typename B::vector_type& grad_sum,
             const typename B::vector_type* grad_mean,
             logits_view<X, typename B::memory_space> grad) {
      { B::token_logps_forward_backward(logits, labels, mask, grad_sum, grad_mean, grad, options) }
          -> std::same_as<sequence_logps_result<B>>;
    };

}  // namespace prefopt
