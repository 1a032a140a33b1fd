#pragma once
// AOT, alignment via optimal transport (Melnyk et al. 2024, "Distributional Preference Alignment
// of LLMs via Optimal Transport"), TRL DPOTrainer loss_type="aot" / "aot_pair".
// Both apply the label-smoothed logistic loss to differences of *sorted* batch quantities, which
// is the first-order stochastic dominance condition in its 1-D optimal-transport form:
//   aot           (TRL "aot", paired data): u = sort(l_w - l_l), v = sort(l_w^ref - l_l^ref),
//                 L_k = -(1 - eps) log sigma(beta (u_k - v_k)) - eps log sigma(-beta (u_k - v_k))
//   aot_unpaired  (TRL "aot_pair", unpaired data): u = sort(r_w), v = sort(r_l), same L_k.
// Per-pair losses are therefore indexed by sorted position k. The per-pair operator acts on a
// virtual pair holding the k-th sorted quantities (chosen = u_k, ref_chosen = v_k for aot;
// chosen = u_k, rejected = v_k for aot_unpaired); the batch API sorts (stably, on the host) and
// scatters the gradients back through the permutation.

#include <array>
#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {
template <bool paired>
constexpr auto aot_aliases() {
  if constexpr (paired) return std::array<std::string_view, 0>{};
  else return std::array<std::string_view, 1>{"aot_pair"};  // TRL's spelling of aot_unpaired
}

/// aot and aot_unpaired are one policy: the per-pair arithmetic is the same, only the batch
/// quantities the batch API sorts (C) differ, and with them the registry names.
template <class T, coupling C>
class aot_policy : public smoothed_loss<T, aot_policy<T, C>> {
  static_assert(C == coupling::sorted_logratios || C == coupling::sorted_rewards);
  static constexpr bool paired = C == coupling::sorted_logratios;

 public:
  static constexpr std::string_view name = paired ? "aot" : "aot_unpaired";
  static constexpr auto aliases = aot_aliases<paired>();
  static constexpr loss_traits traits{.batch = C};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"label_smoothing", 0.0}};

  using smoothed_loss<T, aot_policy<T, C>>::smoothed_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    return this->logistic_of_margin(margin(p));
  }
};
}  // namespace detail

template <std::floating_point T>
using aot = detail::aot_policy<T, coupling::sorted_logratios>;

template <std::floating_point T>
using aot_unpaired = detail::aot_policy<T, coupling::sorted_rewards>;

}  // namespace prefopt::losses
