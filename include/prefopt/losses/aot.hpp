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

#include <concepts>
#include <string_view>

#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {
template <class T, coupling C>
class aot_base : public smoothed_policy<T> {
 public:
  static constexpr loss_traits traits{.batch = C};

  aot_base(T beta, T label_smoothing) : smoothed_policy<T>(beta, label_smoothing) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    return this->logistic_of_margin(margin(p));
  }
};
}  // namespace detail

template <std::floating_point T>
class aot : public detail::aot_base<T, coupling::sorted_logratios> {
 public:
  static constexpr std::string_view name = "aot";
  explicit aot(T beta = T(0.1), T label_smoothing = T(0))
      : detail::aot_base<T, coupling::sorted_logratios>(beta, label_smoothing) {}
};

template <std::floating_point T>
class aot_unpaired : public detail::aot_base<T, coupling::sorted_rewards> {
 public:
  static constexpr std::string_view name = "aot_unpaired";
  explicit aot_unpaired(T beta = T(0.1), T label_smoothing = T(0))
      : detail::aot_base<T, coupling::sorted_rewards>(beta, label_smoothing) {}
};

}  // namespace prefopt::losses
