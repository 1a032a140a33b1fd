#pragma once
// Anchored Preference Optimization (D'Oosterlinck et al. 2024, eqs. 7 and 8), TRL DPOTrainer
// loss_type="apo_zero" / "apo_down":
//   apo_zero  L = 1 - sigma(beta r_w) + sigma(beta r_l)        (chosen better than the model)
//   apo_down  L = sigma(beta r_w) + 1 - sigma(beta (r_w - r_l)) (chosen worse than the model)

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class apo_zero : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "apo_zero";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  explicit apo_zero(T beta = T(parameters.default_of("beta"))) : detail::beta_policy<T>(beta) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const auto a = detail::sigmoid_both(this->beta_ * detail::chosen_reward(p));
    const auto b = detail::sigmoid_both(this->beta_ * detail::rejected_reward(p));
    // 1 - sigma(a) = sigma(-a): no cancellation.
    return {a.neg + b.pos, -this->beta_ * a.pos * a.neg, this->beta_ * b.pos * b.neg, T(0)};
  }
};

template <std::floating_point T>
class apo_down : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "apo_down";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  explicit apo_down(T beta = T(parameters.default_of("beta"))) : detail::beta_policy<T>(beta) {}

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const auto a = detail::sigmoid_both(this->beta_ * detail::chosen_reward(p));
    const auto z = detail::sigmoid_both(this->beta_ * detail::margin(p));
    const T dz = z.pos * z.neg;
    return {a.pos + z.neg, this->beta_ * (a.pos * a.neg - dz), this->beta_ * dz, T(0)};
  }
};

}  // namespace prefopt::losses
