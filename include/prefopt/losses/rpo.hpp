#pragma once
// RPO (Pang et al. 2024, "Iterative Reasoning Preference Optimization"), TRL DPOTrainer's
// rpo_alpha: sigmoid DPO plus alpha times the chosen completion's per-token mean NLL,
//   L = -(1 - eps) log sigma(beta Delta) - eps log sigma(-beta Delta) + alpha NLL_w,
// alpha = 1 by default (TRL's rpo_alpha; the paper uses 1). The same loss is the list
// "sigmoid,sft" with weights 1, alpha.

#include <concepts>
#include <string_view>

#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class rpo {
 public:
  using scalar_type = T;
  static constexpr std::string_view name = "rpo";
  static constexpr loss_traits traits{.has_nll = true};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"alpha", 1.0}, {"label_smoothing", 0.0}};

  explicit rpo(T beta = T(parameters.default_of("beta")), T alpha = T(parameters.default_of("alpha")),
               T label_smoothing = T(parameters.default_of("label_smoothing")))
      : dpo_(beta, label_smoothing), alpha_(alpha) {
    detail::require_non_negative_finite("alpha", alpha);
  }
  PREFOPT_HD T beta() const { return dpo_.beta(); }
  PREFOPT_HD T alpha() const { return alpha_; }
  PREFOPT_HD T label_smoothing() const { return dpo_.label_smoothing(); }
  PREFOPT_HD T reward_scale() const { return dpo_.beta(); }
  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& c = {}) const {
    auto r = dpo_(p, c);
    r.loss += alpha_ * p.chosen_nll;
    r.d_nll = alpha_;
    return r;
  }

 private:
  sigmoid<T> dpo_;
  T alpha_;
};

}  // namespace prefopt::losses
