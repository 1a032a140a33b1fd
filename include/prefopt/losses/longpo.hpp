#pragma once
// NLL-carrying reference-based losses: sft (the NLL alone, TRL loss_type="sft"), rpo
// (Pang et al. 2024, "Iterative Reasoning Preference Optimization": DPO + alpha NLL, TRL's
// rpo_alpha) and longpo (Chen et al. 2025, "LongPO: Long Context Self-Evolution of LLMs through
// Short-to-Long Preference Optimization").
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

#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

/// Negative log-likelihood of the chosen completion alone: L = NLL_w.
template <std::floating_point T>
class sft {
 public:
  using scalar_type = T;
  static constexpr std::string_view name = "sft";
  static constexpr loss_traits traits{.uses_reference = false, .has_nll = true};

  sft() = default;
  PREFOPT_HD T reward_scale() const { return T(1); }
  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    return {p.chosen_nll, T(0), T(0), T(1)};
  }
};

/// RPO: L = sigmoid-DPO(beta, eps) + alpha NLL_w; alpha = 1 by default (TRL's rpo_alpha; the
/// paper uses 1).
template <std::floating_point T>
class rpo {
 public:
  using scalar_type = T;
  static constexpr std::string_view name = "rpo";
  static constexpr loss_traits traits{.has_nll = true};

  explicit rpo(T beta = T(0.1), T alpha = T(1), T label_smoothing = T(0))
      : dpo_(beta, label_smoothing), alpha_(alpha) {
    detail::require_non_negative_finite("alpha", alpha);
  }
  PREFOPT_HD T beta() const { return dpo_.beta(); }
  PREFOPT_HD T alpha() const { return alpha_; }
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

template <std::floating_point T>
class longpo : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "longpo";
  static constexpr loss_traits traits{.has_nll = true};

  explicit longpo(T beta = T(0.01), T lambda = T(0.01))
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
