#pragma once
// LongPO (Chen et al. 2025, "LongPO: Long Context Self-Evolution of LLMs through Short-to-Long
// Preference Optimization"), a reference-based loss with an NLL term (sft and rpo, the other
// NLL-carrying losses, are in sft.hpp and rpo.hpp).
//
// LongPO: the policy log-probs l_w, l_l are computed on the *long* context, the reference log-probs
// on the *short* context by the base model (the short-to-long KL constraint); the objective is
//   L = NLL_w(long context, token mean) + lambda * (-log sigma(beta Delta)),
// with lambda = 0.01 and beta = 0.01: DAMO-NLP-SG/LongPO train/longdpo_trainer.py returns
// policy_chosen_loss.mean() + dpo_lambda * losses.mean() (per-sequence token-mean NLL + lambda times
// the sigmoid DPO loss), and its README trains with --dpo_beta 0.01 --dpo_lambda 0.01. Nothing in
// the per-pair arithmetic depends on which context produced the reference numbers: the caller
// supplies them.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

/// LongPO: L = NLL_w + lambda * (-log sigma(beta Delta)), beta = lambda = 0.01 (see above).
template <std::floating_point T>
class longpo : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "longpo";
  static constexpr loss_traits traits{.has_nll = true};
  static constexpr parameter_list parameters{{"beta", 0.01}, {"lambda", 0.01}};

  explicit longpo(T beta = T(parameters.default_of("beta")),
                  T lambda = T(parameters.default_of("lambda")))
      : detail::beta_policy<T>(beta), lambda_(lambda) {
    detail::require_non_negative_finite("lambda", lambda);
  }
  PREFOPT_HD T lambda() const { return lambda_; }
  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T b = this->beta_, z = b * detail::margin(p);
    const T g = -lambda_ * prefopt::sigmoid(-z);
    return {p.chosen_nll - lambda_ * log_sigmoid(z), b * g, -b * g, T(1)};
  }

 private:
  T lambda_;
};

}  // namespace prefopt::losses
