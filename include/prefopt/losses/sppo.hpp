#pragma once
// SPPO squared losses (Wu et al. 2024, "Self-Play Preference Optimization", eq. 4.7 / Algorithm 1):
// the log density ratio of each response is regressed onto its centred, scaled win rate.
//   sppo      L = 1/2 [(r_w - (P_w - 1/2)/beta)^2 + (r_l - (P_l - 1/2)/beta)^2]
//             P_w, P_l = estimated win rates of the chosen / rejected response against the current
//             policy (uclaml/SPPO trainer: loss_w, loss_l on chosen_probs_win / _lose, halved).
//             The paper's eta = 1/beta; its experiments use beta = 0.001, our default.
//   sppo_hard L = (r_w - 1/(2 beta))^2 + (r_l + 1/(2 beta))^2
//             TRL DPOTrainer loss_type="sppo_hard": winner P = 1, loser P = 0, *without* the 1/2.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class sppo_hard : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "sppo_hard";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  explicit sppo_hard(T beta = T(parameters.default_of("beta"))) : detail::beta_policy<T>(beta) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T h = T(0.5) / this->beta_;
    const T a = detail::chosen_reward(p) - h, b = detail::rejected_reward(p) + h;
    return {a * a + b * b, T(2) * a, T(2) * b, T(0)};
  }
};

template <std::floating_point T>
class sppo : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "sppo";
  static constexpr loss_traits traits{.needs_win_rates = true};
  static constexpr parameter_list parameters{{"beta", 0.001}};  // the paper's eta = 1000

  explicit sppo(T beta = T(parameters.default_of("beta"))) : detail::beta_policy<T>(beta) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T a = detail::chosen_reward(p) - (p.chosen_win_rate - T(0.5)) / this->beta_;
    const T b = detail::rejected_reward(p) - (p.rejected_win_rate - T(0.5)) / this->beta_;
    return {T(0.5) * (a * a + b * b), a, b, T(0)};
  }
};

}  // namespace prefopt::losses
