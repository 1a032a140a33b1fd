#pragma once
// Reference-free losses with an NLL term or length normalisation: ORPO, SimPO, CPO (rpo.hpp). They never
// read reference log-probs (traits.uses_reference = false).
//
// NLL term: chosen_nll is the per-token mean negative log-likelihood of the chosen completion.
// The batch API derives it as -l_w / n_w when the caller does not pass it (then dL/dnll flows into
// dL/dl_w). TRL's ORPOTrainer / CPOTrainer average the NLL over all chosen tokens of the batch
// (one cross-entropy over the concatenation) instead of per sequence; the two agree when all
// chosen completions have the same length, and coincide exactly for the per-pair values here.

#include <cmath>
#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"
#include "prefopt/losses/rpo.hpp"

namespace prefopt::losses {

/// ORPO (Hong et al. 2024, eq. 6-7), TRL ORPOTrainer.odds_ratio_loss, on per-token *mean*
/// log-probs lbar = l / n:
///   log odds(y) = lbar - log(1 - exp(lbar))        (log1mexp; needs lbar < 0)
///   L = NLL_w - lambda log sigma(log odds_w - log odds_l),  lambda = TRL's beta = 0.1.
/// d log odds / d lbar = 1 / (1 - exp(lbar)) = -1 / expm1(lbar).
template <std::floating_point T>
class orpo {
 public:
  using scalar_type = T;
  static constexpr std::string_view name = "orpo";
  static constexpr loss_traits traits{.uses_reference = false,
                                      .needs_tokens = true,
                                      .has_nll = true,
                                      .needs_negative_logps = true};
  // TRL's ORPOConfig calls lambda "beta": the registry accepts either spelling, not both.
  static constexpr parameter_list parameters{{"lambda", 0.1, "beta"}};

  explicit orpo(T lambda = T(parameters.default_of("lambda"))) : lambda_(lambda) { detail::require_beta(lambda, "lambda"); }
  PREFOPT_HD T lambda() const { return lambda_; }
  PREFOPT_HD T reward_scale() const { return lambda_; }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T mw = p.chosen_logps / p.chosen_tokens, ml = p.rejected_logps / p.rejected_tokens;
    const T lo = (mw - log1mexp(mw)) - (ml - log1mexp(ml));
    const T g = -lambda_ * prefopt::sigmoid(-lo);  // dL/d log-odds-ratio
    const T dw = -T(1) / prefopt::detail::expm1_(mw), dl = -T(1) / prefopt::detail::expm1_(ml);
    return {p.chosen_nll - lambda_ * log_sigmoid(lo), g * dw / p.chosen_tokens,
            -g * dl / p.rejected_tokens, T(1)};
  }

 private:
  T lambda_;
};

/// SimPO (Meng et al. 2024, eq. 6), TRL CPOTrainer loss_type="simpo": length-normalised margin
/// with target reward margin gamma,
///   L = -(1 - eps) log sigma(beta (lbar_w - lbar_l) - gamma) - eps log sigma(-(...)).
/// Defaults beta = 2.0 (the paper's range is 2.0-2.5; TRL's CPOConfig defaults to 0.1) and
/// gamma = 0.5 (TRL's simpo_gamma).
template <std::floating_point T>
class simpo : public detail::smoothed_policy<T> {
 public:
  static constexpr std::string_view name = "simpo";
  static constexpr loss_traits traits{.uses_reference = false, .needs_tokens = true};
  static constexpr parameter_list parameters{{"beta", 2.0}, {"gamma", 0.5}, {"label_smoothing", 0.0}};

  explicit simpo(T beta = T(parameters.default_of("beta")), T gamma = T(parameters.default_of("gamma")),
                 T label_smoothing = T(parameters.default_of("label_smoothing")))
      : detail::smoothed_policy<T>(beta, label_smoothing), gamma_(gamma) {
    require_finite("gamma", gamma);
  }
  PREFOPT_HD T gamma() const { return gamma_; }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T b = this->beta_;
    const T z = b * (p.chosen_logps / p.chosen_tokens - p.rejected_logps / p.rejected_tokens) - gamma_;
    const auto f = detail::smoothed_logistic(z, this->label_smoothing_);
    return {f.value, b * f.slope / p.chosen_tokens, -b * f.slope / p.rejected_tokens, T(0)};
  }

 private:
  T gamma_;
};

// CPO (Xu et al. 2024), reference-free DPO plus alpha times the chosen NLL, is rpo's arithmetic on
// the margin l_w - l_l: rpo.hpp defines both.

}  // namespace prefopt::losses
