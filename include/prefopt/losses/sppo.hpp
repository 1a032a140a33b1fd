#pragma once
// SPPO squared losses (Wu et al. 2024, "Self-Play Preference Optimization", eq. 4.7 / Algorithm 1):
// the log density ratio r = l − l^ref of each response is regressed onto a target,
//   L = c [(r_w − t_w)² + (r_l − t_l)²],  dL/dl_w = 2c (r_w − t_w),  dL/dl_l = 2c (r_l − t_l),
// and the three variants differ only in the targets and the scale c:
//   sppo        t = (P_w − ½)/β, (P_l − ½)/β, c = ½. P_w, P_l = estimated win rates of the chosen /
//               rejected response against the current policy (uclaml/SPPO trainer: loss_w, loss_l
//               on chosen_probs_win / _lose, halved). The paper's eta = 1/beta; its experiments use
//               beta = 0.001, our default.
//   sppo_single t = +(p − ½)/β, −(p − ½)/β, c = ½ (uclaml/SPPO sppo/trainer.py,
//               loss_type="sppo_single"): instead of each response's own win rate, both ratios are
//               regressed onto the one pairwise probability p = P(y_w ≻ y_l) (compute_prob.py's
//               `chosen_probs`). p travels in pair_input::chosen_win_rate (the batch API's
//               chosen_win_rates span). The batch API validates both win-rate spans of a loss that
//               needs win rates, so pass 1 − p as rejected_win_rates; this loss never reads it. The
//               reference pipeline uses β = 0.001, our default.
//   sppo_hard   t = +1/(2β), −1/(2β), c = 1 (TRL DPOTrainer loss_type="sppo_hard": winner P = 1,
//               loser P = 0, *without* the ½). Default β = 0.1.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {

/// What the SPPO squared loss regresses the two log density ratios onto.
enum class sppo_target {
  win_rates,  // sppo: each response's own win rate
  pairwise,   // sppo_single: the pair's one preference probability
  hard,       // sppo_hard: P = 1 for the winner, 0 for the loser
};

/// sppo, sppo_single and sppo_hard are one policy: the per-pair arithmetic is the same, only the
/// targets (S) differ, and with them the registry name, the traits and the default beta.
template <class T, sppo_target S>
class sppo_policy : public beta_loss<T, sppo_policy<T, S>> {
  static constexpr bool hard = S == sppo_target::hard;

 public:
  static constexpr std::string_view name =
      hard ? "sppo_hard" : S == sppo_target::win_rates ? "sppo" : "sppo_single";
  static constexpr loss_traits traits{.needs_win_rates = !hard};
  // sppo, sppo_single: the paper's and the reference pipeline's beta (eta = 1000); sppo_hard: TRL's.
  static constexpr parameter_list parameters{{"beta", hard ? 0.1 : 0.001}};

  using beta_loss<T, sppo_policy<T, S>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const auto t = targets(p);
    const T a = chosen_reward(p) - t.chosen, b = rejected_reward(p) - t.rejected;
    if constexpr (hard) return {a * a + b * b, T(2) * a, T(2) * b, T(0)};
    else return {T(0.5) * (a * a + b * b), a, b, T(0)};
  }

 private:
  struct target_pair {
    T chosen, rejected;
  };
  PREFOPT_HD target_pair targets(const pair_input<T>& p) const {
    if constexpr (S == sppo_target::win_rates) {
      return {(p.chosen_win_rate - T(0.5)) / this->beta_, (p.rejected_win_rate - T(0.5)) / this->beta_};
    } else if constexpr (S == sppo_target::pairwise) {
      const T t = (p.chosen_win_rate - T(0.5)) / this->beta_;
      return {t, -t};
    } else {
      const T h = T(0.5) / this->beta_;
      return {h, -h};
    }
  }
};

}  // namespace detail

template <std::floating_point T>
using sppo = detail::sppo_policy<T, detail::sppo_target::win_rates>;

template <std::floating_point T>
using sppo_single = detail::sppo_policy<T, detail::sppo_target::pairwise>;

template <std::floating_point T>
using sppo_hard = detail::sppo_policy<T, detail::sppo_target::hard>;

}  // namespace prefopt::losses
