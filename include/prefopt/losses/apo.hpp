#pragma once
// Anchored Preference Optimization (D'Oosterlinck et al. 2024, eqs. 7 and 8), TRL DPOTrainer
// loss_type="apo_zero" / "apo_down":
//   apo_zero  L = 1 - sigma(beta r_w) + sigma(beta r_l)        (chosen better than the model)
//   apo_down  L = sigma(beta r_w) + 1 - sigma(beta (r_w - r_l)) (chosen worse than the model)
// Both anchor the chosen response through sigma(beta r_w) and differ in the sign of that anchor
// and in the second term (the rejected response alone, or the margin).

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {

/// Which APO anchor: chosen better than the model (zero) or worse (down).
enum class apo_anchor { zero, down };

/// apo_zero and apo_down are one policy: the same hyper-parameter, traits and chosen-response
/// anchor sigma(beta r_w); the anchor A picks the second term and the signs.
template <class T, apo_anchor A>
class apo_policy : public beta_loss<T, apo_policy<T, A>> {
 public:
  static constexpr std::string_view name = A == apo_anchor::zero ? "apo_zero" : "apo_down";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  using beta_loss<T, apo_policy<T, A>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T b = this->beta_;
    const auto a = sigmoid_both(b * chosen_reward(p));
    if constexpr (A == apo_anchor::zero) {
      const auto l = sigmoid_both(b * rejected_reward(p));
      // 1 - sigma(a) = sigma(-a): no cancellation.
      return {a.neg + l.pos, -b * a.pos * a.neg, b * l.pos * l.neg, T(0)};
    } else {
      const auto z = sigmoid_both(b * margin(p));
      const T dz = z.pos * z.neg;
      return {a.pos + z.neg, b * (a.pos * a.neg - dz), b * dz, T(0)};
    }
  }
};

}  // namespace detail

template <std::floating_point T>
using apo_zero = detail::apo_policy<T, detail::apo_anchor::zero>;

template <std::floating_point T>
using apo_down = detail::apo_policy<T, detail::apo_anchor::down>;

}  // namespace prefopt::losses
