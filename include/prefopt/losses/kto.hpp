#pragma once
// KTO, Kahneman-Tversky optimisation (Ethayarajh et al. 2024, eq. 7), TRL KTOTrainer.kto_loss:
//   desirable y:    L = lambda_D (1 - sigma(beta (r(y) - z0)))
//   undesirable y:  L = lambda_U (1 - sigma(beta (z0 - r(y))))
//   z0 = max(0, mean over mismatched (x_i, y_j) of l^policy - l^ref), detached.
// The mismatched pairs pair each prompt with another example's completion, so a batch needs at
// least two examples; the caller supplies their policy and reference log-probs (TRL computes them
// under no_grad). The batch API computes z0 (see preference_loss.hpp / kto_loss).
//
// Paired use: when a preference pair is fed to KTO, its chosen completion is a desirable example
// and its rejected one an undesirable example; the per-pair value is the *average* of the two
// terms, so the batch mean over pairs equals TRL's mean over the concatenated 2N examples.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class kto : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "kto";
  static constexpr loss_traits traits{.batch = coupling::kl_baseline};
  static constexpr parameter_list parameters{
      {"beta", 0.1}, {"desirable_weight", 1.0}, {"undesirable_weight", 1.0}};

  explicit kto(T beta = T(parameters.default_of("beta")), T desirable_weight = T(parameters.default_of("desirable_weight")),
               T undesirable_weight = T(parameters.default_of("undesirable_weight")))
      : detail::beta_policy<T>(beta),
        desirable_weight_(desirable_weight),
        undesirable_weight_(undesirable_weight) {
    require_positive_finite("desirable_weight", desirable_weight);
    require_positive_finite("undesirable_weight", undesirable_weight);
  }
  PREFOPT_HD T desirable_weight() const { return desirable_weight_; }
  PREFOPT_HD T undesirable_weight() const { return undesirable_weight_; }

  /// One desirable example with log-ratio r: {value, dL/dl^policy}.
  /// 1 - sigma(u) is evaluated as sigma(-u) (no cancellation when the example is well fit).
  PREFOPT_HD detail::value_slope<T> desirable(T r, T kl_baseline) const {
    const auto s = detail::sigmoid_both(this->beta_ * (r - kl_baseline));
    return {desirable_weight_ * s.neg, -desirable_weight_ * this->beta_ * s.pos * s.neg};
  }
  /// One undesirable example with log-ratio r.
  PREFOPT_HD detail::value_slope<T> undesirable(T r, T kl_baseline) const {
    const auto s = detail::sigmoid_both(this->beta_ * (kl_baseline - r));
    return {undesirable_weight_ * s.neg, undesirable_weight_ * this->beta_ * s.pos * s.neg};
  }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& c = {}) const {
    const auto d = desirable(detail::chosen_reward(p), c.kl_baseline);
    const auto u = undesirable(detail::rejected_reward(p), c.kl_baseline);
    return {T(0.5) * (d.value + u.value), T(0.5) * d.slope, T(0.5) * u.slope, T(0)};
  }

 private:
  T desirable_weight_, undesirable_weight_;
};

}  // namespace prefopt::losses
