#pragma once
// Weighted combinations of losses: L = sum_k w_k L_k, evaluated pair by pair (MPO-style loss lists,
// TRL DPOTrainer's loss_type=[...] with loss_weights=[...]; RPO is sigmoid + alpha sft, also
// available directly as prefopt::losses::rpo). Because every reduction is linear, the mean of the
// per-pair combination equals TRL's sum_k w_k mean(L_k).
//
// Batch couplings combine when they do not conflict: KTO's z0 and BCO's delta live in separate
// fields of batch_context. The sorted AOT losses reorder the pairs and cannot share a batch with
// other losses; combining them is a compile-time error.

#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {
constexpr bool is_sorted_coupling(coupling c) {
  return c == coupling::sorted_logratios || c == coupling::sorted_rewards;
}
template <class... Ls>
constexpr loss_traits combined_traits() {
  loss_traits t{};
  t.uses_reference = (Ls::traits.uses_reference || ...);
  t.needs_tokens = (Ls::traits.needs_tokens || ...);
  t.needs_win_rates = (Ls::traits.needs_win_rates || ...);
  t.has_nll = (Ls::traits.has_nll || ...);
  t.needs_negative_logps = (Ls::traits.needs_negative_logps || ...);
  t.batch = coupling::none;
  ((t.batch = Ls::traits.batch != coupling::none ? Ls::traits.batch : t.batch), ...);
  return t;
}
}  // namespace detail

/// Flags for the batch API: a combination may need both KTO's z0 and BCO's delta.
template <class L>
struct needs_coupling {
  static constexpr bool kl_baseline = L::traits.batch == coupling::kl_baseline;
  static constexpr bool running_mean = L::traits.batch == coupling::running_mean;
};

template <class L0, class... Ls>
class weighted_sum {
 public:
  using scalar_type = typename L0::scalar_type;
  using T = scalar_type;
  static constexpr std::size_t size = 1 + sizeof...(Ls);
  static constexpr std::string_view name = "weighted_sum";
  static constexpr loss_traits traits = detail::combined_traits<L0, Ls...>();
  static_assert((std::same_as<typename Ls::scalar_type, T> && ...),
                "weighted_sum: every loss must have the same scalar type");
  static_assert(!detail::is_sorted_coupling(L0::traits.batch) &&
                    (!detail::is_sorted_coupling(Ls::traits.batch) && ...),
                "weighted_sum: aot / aot_unpaired sort the batch and cannot be combined with "
                "other losses");

  weighted_sum(std::array<T, size> weights, L0 first, Ls... rest)
      : losses_(std::move(first), std::move(rest)...), weights_(weights) {
    for (std::size_t k = 0; k < size; ++k)
      detail::require_non_negative_finite("weights[" + std::to_string(k) + "]", weights[k]);
  }
  PREFOPT_HD T reward_scale() const { return std::get<0>(losses_).reward_scale(); }
  PREFOPT_HD const std::array<T, size>& weights() const { return weights_; }
  PREFOPT_HD const std::tuple<L0, Ls...>& losses() const { return losses_; }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& c = {}) const {
    return accumulate(p, c, std::index_sequence_for<L0, Ls...>{});
  }

 private:
  template <std::size_t... K>
  PREFOPT_HD pair_result<T> accumulate(const pair_input<T>& p, const batch_context<T>& c,
                                       std::index_sequence<K...>) const {
    pair_result<T> out{};
    (add(out, weights_[K], std::get<K>(losses_)(p, c)), ...);
    return out;
  }
  PREFOPT_HD static void add(pair_result<T>& out, T w, const pair_result<T>& r) {
    out.loss += w * r.loss;
    out.d_chosen += w * r.d_chosen;
    out.d_rejected += w * r.d_rejected;
    out.d_nll += w * r.d_nll;
  }

  std::tuple<L0, Ls...> losses_;
  std::array<T, size> weights_;
};

template <class L0, class... Ls>
struct needs_coupling<weighted_sum<L0, Ls...>> {
  static constexpr bool kl_baseline =
      needs_coupling<L0>::kl_baseline || (needs_coupling<Ls>::kl_baseline || ...);
  static constexpr bool running_mean =
      needs_coupling<L0>::running_mean || (needs_coupling<Ls>::running_mean || ...);
};

}  // namespace prefopt::losses
