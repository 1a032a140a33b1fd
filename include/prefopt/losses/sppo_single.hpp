#pragma once
// SPPO with a single pairwise target (uclaml/SPPO sppo/trainer.py, loss_type="sppo_single"):
// instead of each response's own win rate against the current policy, both log density ratios
// are regressed onto the one pairwise probability p = P(y_w ≻ y_l) (compute_prob.py's
// `chosen_probs`), the chosen towards +(p − ½)/β and the rejected towards −(p − ½)/β:
//
//   L = ½ [(r_w − (p − ½)/β)² + (r_l + (p − ½)/β)²],   r = l − l^ref
//   dL/dl_w = r_w − (p − ½)/β,   dL/dl_l = r_l + (p − ½)/β
//
// p travels in pair_input::chosen_win_rate (the batch API's chosen_win_rates span). The batch
// API validates both win-rate spans of a loss that needs win rates, so pass 1 − p as
// rejected_win_rates; this loss never reads it. The paper's η = 1/β; the reference pipeline uses β = 0.001.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class sppo_single : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "sppo_single";
  static constexpr loss_traits traits{.needs_win_rates = true};
  static constexpr parameter_list parameters{{"beta", 0.001}};  // the reference pipeline's beta

  explicit sppo_single(T beta = T(parameters.default_of("beta"))) : detail::beta_policy<T>(beta) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T target = (p.chosen_win_rate - T(0.5)) / this->beta_;
    const T a = detail::chosen_reward(p) - target;
    const T b = detail::rejected_reward(p) + target;
    return {T(0.5) * (a * a + b * b), a, b, T(0)};
  }
};

}  // namespace prefopt::losses
