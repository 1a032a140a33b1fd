#pragma once
// The label-smoothed logistic loss plus alpha times the chosen completion's per-token mean NLL,
//   L = -(1 - eps) log sigma(beta m) - eps log sigma(-beta m) + alpha NLL_w,  alpha = 1 by default,
// on one of two margins:
//   rpo  m = Delta = r_w - r_l, reference-based: RPO (Pang et al. 2024, "Iterative Reasoning
//        Preference Optimization"), TRL DPOTrainer's rpo_alpha (the paper uses alpha = 1). The same
//        loss is the list "sigmoid,sft" with weights 1, alpha.
//   cpo  m = l_w - l_l, reference-free: CPO (Xu et al. 2024, "Contrastive Preference
//        Optimization"), TRL CPOTrainer loss_type="sigmoid" with cpo_alpha (also reachable through
//        reference_free.hpp, with the other reference-free losses).

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

namespace detail {

/// rpo and cpo are one policy: the same hyper-parameters, validation and arithmetic; `reference`
/// picks the margin (Delta, or l_w - l_l ignoring the reference) and with it the name and traits.
template <class T, bool reference>
class logistic_nll_policy : public smoothed_policy<T> {
 public:
  static constexpr std::string_view name = reference ? "rpo" : "cpo";
  static constexpr loss_traits traits{.uses_reference = reference, .has_nll = true};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"alpha", 1.0}, {"label_smoothing", 0.0}};

  explicit logistic_nll_policy(T beta = T(parameters.default_of("beta")),
                               T alpha = T(parameters.default_of("alpha")),
                               T label_smoothing = T(parameters.default_of("label_smoothing")))
      : smoothed_policy<T>(beta, label_smoothing), alpha_(alpha) {
    require_non_negative_finite("alpha", alpha);
  }
  PREFOPT_HD T alpha() const { return alpha_; }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    auto r = this->logistic_of_margin(reference ? margin(p) : p.chosen_logps - p.rejected_logps);
    r.loss += alpha_ * p.chosen_nll;
    r.d_nll = alpha_;
    return r;
  }

 private:
  T alpha_;
};

}  // namespace detail

template <std::floating_point T>
using rpo = detail::logistic_nll_policy<T, true>;

template <std::floating_point T>
using cpo = detail::logistic_nll_policy<T, false>;

}  // namespace prefopt::losses
