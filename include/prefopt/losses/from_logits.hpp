#pragma once
// End to end: policy logits (chosen and rejected sequences) + labels + masks + reference log-probs
// -> loss, metrics and dL/dlogits, in one call.
//
//   forward   l_w, n_w = sequence_logps(chosen logits, labels, mask)   (sum and token count)
//             l_l, n_l = sequence_logps(rejected logits, ...)
//             out      = preference_loss(loss, {l_w, l_l, ref..., n_w, n_l, ...})
//   backward  dL/dlogits = sequence_logps_backward(..., grad_sum = dL/dl)
//
// Every loss differentiates w.r.t. the *summed* log-probs (per-token means are formed inside the
// loss from the token counts, which are constants), so the chain needs only dL/dsum. The chosen
// NLL of NLL-carrying losses is -l_w / n_w on the same tokens. Reference log-probs are inputs: the
// reference model's forward pass is the caller's (for LongPO, on the short context).
//
// Every view and span (logits, labels, masks, reference log-probs, win rates, KL log-probs) is in
// B's memory space: device pointers for prefopt::cuda::backend, where the whole chain runs on the
// GPU (fused forward / backward kernels, the per-pair kernel); only validation copies (labels and
// masks, token counts, the per-sequence sums) and the scalar results cross to the host.

#include <span>
#include <type_traits>

#include "prefopt/core/views.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/logps/sequence_logps.hpp"
#include "prefopt/losses/preference_loss.hpp"

namespace prefopt::losses {

/// Views of the policy's token-level outputs for N chosen and N rejected sequences, plus the
/// per-sequence extras of preference_batch (spans in B's memory space; empty when unused).
/// `Space` is the views' memory space and must be B::memory_space (device_space for CUDA).
template <class T, class L, class M, class Space = host_space>
struct preference_logits {
  logits_view<const T, Space> chosen_logits{};     // [N, T_w, V]
  matrix_view<const L, Space> chosen_labels{};     // [N, T_w]
  matrix_view<const M, Space> chosen_mask{};       // [N, T_w] or empty
  logits_view<const T, Space> rejected_logits{};   // [N, T_l, V]
  matrix_view<const L, Space> rejected_labels{};   // [N, T_l]
  matrix_view<const M, Space> rejected_mask{};     // [N, T_l] or empty
  std::span<const T> ref_chosen_logps{};    // [N] or empty (reference-free)
  std::span<const T> ref_rejected_logps{};
  std::span<const T> chosen_win_rates{};    // sppo
  std::span<const T> rejected_win_rates{};
  std::span<const T> kl_policy_logps{};     // kto
  std::span<const T> kl_ref_logps{};
};

template <class B>
struct logits_loss_result {
  preference_loss_result<B> pairs;           // loss, per-pair values, dL/dl, metrics
  sequence_logps_result<B> chosen;           // forward results (sums, counts, per-token log-probs)
  sequence_logps_result<B> rejected;
  typename B::matrix_type grad_chosen_logits;    // [N * T_w, V] (row n * T_w + t)
  typename B::matrix_type grad_rejected_logits;  // [N * T_l, V]
};

template <class B, preference_loss_policy Loss, class L, class M, class Space>
logits_loss_result<B> preference_loss_from_logits(
    const Loss& loss, const preference_logits<typename B::scalar_type, L, M, Space>& in,
    const preference_loss_options<typename B::scalar_type>& options = {},
    const sequence_logps_options& seq_options = {}) {
  PREFOPT_ASSERT_BACKEND(B);
  static_assert(std::is_same_v<Space, typename B::memory_space>,
                "preference_loss_from_logits: the preference_logits views must be in the "
                "backend's memory space (preference_logits<T, L, M, typename B::memory_space>)");
  using T = typename B::scalar_type;
  require_same_size("rejected_logits.batch", in.rejected_logits.batch, "chosen_logits.batch",
                    in.chosen_logits.batch);
  // The spans carry no memory space (the views do, checked above at compile time): reject a
  // buffer B cannot read before the log-prob kernels run (preference_loss checks them again).
  prefopt::require_accessible<B>("ref_chosen_logps", in.ref_chosen_logps);
  prefopt::require_accessible<B>("ref_rejected_logps", in.ref_rejected_logps);
  prefopt::require_accessible<B>("chosen_win_rates", in.chosen_win_rates);
  prefopt::require_accessible<B>("rejected_win_rates", in.rejected_win_rates);
  prefopt::require_accessible<B>("kl_policy_logps", in.kl_policy_logps);
  prefopt::require_accessible<B>("kl_ref_logps", in.kl_ref_logps);
  sequence_logps_options fwd = seq_options;
  fwd.compute_mean = false;  // token counts are enough; empty sequences are checked below
  logits_loss_result<B> out;
  out.chosen = sequence_logps<B>(in.chosen_logits, in.chosen_labels, in.chosen_mask, fwd);
  out.rejected = sequence_logps<B>(in.rejected_logits, in.rejected_labels, in.rejected_mask, fwd);

  const auto n = static_cast<std::size_t>(in.chosen_logits.batch);
  const auto view = [n](const typename B::vector_type& v) {
    return std::span<const T>(B::data(v), n);
  };
  constexpr bool uses_chosen_count = Loss::traits.needs_tokens || Loss::traits.has_nll;
  if constexpr (uses_chosen_count) {
    // A per-token mean of an empty completion is undefined.
    const auto cw = B::to_host(out.chosen.count), cl = B::to_host(out.rejected.count);
    for (std::size_t i = 0; i < n; ++i) {
      if (cw[i] == T(0)) prefopt::detail::throw_empty_sequence(static_cast<index_t>(i));
      if (Loss::traits.needs_tokens && cl[i] == T(0))
        prefopt::detail::throw_empty_sequence(static_cast<index_t>(i));
    }
  }
  preference_batch<T> batch{view(out.chosen.sum),   view(out.rejected.sum),
                            in.ref_chosen_logps,    in.ref_rejected_logps,
                            uses_chosen_count ? view(out.chosen.count) : std::span<const T>{},
                            Loss::traits.needs_tokens ? view(out.rejected.count) : std::span<const T>{},
                            in.chosen_win_rates,    in.rejected_win_rates,
                            {},                     in.kl_policy_logps,
                            in.kl_ref_logps};
  out.pairs = preference_loss<B>(loss, batch, options);
  out.grad_chosen_logits = sequence_logps_backward<B>(in.chosen_logits, in.chosen_labels,
                                                      in.chosen_mask, out.chosen,
                                                      out.pairs.grad_chosen, nullptr, fwd);
  out.grad_rejected_logits = sequence_logps_backward<B>(in.rejected_logits, in.rejected_labels,
                                                        in.rejected_mask, out.rejected,
                                                        out.pairs.grad_rejected, nullptr, fwd);
  return out;
}

}  // namespace prefopt::losses
