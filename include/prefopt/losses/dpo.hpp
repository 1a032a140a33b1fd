#pragma once
// The DPO family from HF TRL's DPOTrainer.dpo_loss (trl/trainer/dpo_trainer.py): sigmoid (DPO,
// with cDPO label smoothing), robust (rDPO), hinge (SLiC), ipo, exo_pair, nca_pair, bco_pair.
// Each policy holds validated hyper-parameters; operator() gives the per-pair value and its
// derivatives w.r.t. the policy log-probs (see pair.hpp for notation).

#include <array>
#include <cmath>
#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

/// DPO (Rafailov et al. 2023) with conservative label smoothing eps (cDPO, Mitchell 2023):
///   L = -(1 - eps) log sigma(z) - eps log sigma(-z),  eps in [0, 0.5).
template <std::floating_point T>
class sigmoid : public detail::smoothed_loss<T, sigmoid<T>> {
 public:
  static constexpr std::string_view name = "sigmoid";
  static constexpr std::array<std::string_view, 1> aliases{"dpo"};  // the name users type first
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"label_smoothing", 0.0}};

  using detail::smoothed_loss<T, sigmoid<T>>::smoothed_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    return this->logistic_of_margin(detail::margin(p));
  }
};

/// Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO", eq. 7), unbiased under label-flip
/// rate eps: L = [-(1 - eps) log sigma(z) + eps log sigma(-z)] / (1 - 2 eps), eps in [0, 0.5).
/// TRL's DPOTrainer has the same form in every revision (later ones spell it
/// (clean_loss_term - flipped_loss_term) / (1 - 2 eps) with flipped_loss_term = -eps log sigma(-z)).
template <std::floating_point T>
class robust : public detail::smoothed_loss<T, robust<T>> {
 public:
  static constexpr std::string_view name = "robust";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"label_smoothing", 0.0}};

  using detail::smoothed_loss<T, robust<T>>::smoothed_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T z = this->beta_ * detail::margin(p), e = this->label_smoothing_;
    const T k = T(1) / (T(1) - T(2) * e);
    const T value = (-(T(1) - e) * log_sigmoid(z) + e * log_sigmoid(-z)) * k;
    const T slope = (-(T(1) - e) * prefopt::sigmoid(-z) - e * prefopt::sigmoid(z)) * k;
    return detail::margin_result(value, slope, this->beta_);
  }
};

/// SLiC hinge (Zhao et al. 2023): L = max(0, 1 - z). The subgradient at z = 1 is 0 (as torch.relu).
template <std::floating_point T>
class hinge : public detail::beta_loss<T, hinge<T>> {
 public:
  static constexpr std::string_view name = "hinge";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  using detail::beta_loss<T, hinge<T>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T u = T(1) - this->beta_ * detail::margin(p);
    return u > T(0) ? detail::margin_result(u, T(-1), this->beta_) : pair_result<T>{};
  }
};

/// IPO (Azar et al. 2023, eq. 17) on per-token mean log-ratios, as TRL does (its comment: the
/// length normalisation was confirmed with the IPO authors):
///   Dbar = r_w / n_w - r_l / n_l,  L = (Dbar - 1/(2 beta))^2.
template <std::floating_point T>
class ipo : public detail::beta_loss<T, ipo<T>> {
 public:
  static constexpr std::string_view name = "ipo";
  static constexpr loss_traits traits{.needs_tokens = true};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  using detail::beta_loss<T, ipo<T>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T d = detail::chosen_reward(p) / p.chosen_tokens -
                detail::rejected_reward(p) / p.rejected_tokens - T(1) / (T(2) * this->beta_);
    return {d * d, T(2) * d / p.chosen_tokens, T(-2) * d / p.rejected_tokens, T(0)};
  }
};

/// EXO-pref (Ji et al. 2024, eq. 16): reverse KL from the model's pair distribution
/// q = (sigma(z), sigma(-z)) to the smoothed label distribution (1 - eps, eps):
///   L = sigma(z)(log sigma(z) - log(1 - eps)) + sigma(-z)(log sigma(-z) - log eps),
///   dL/dz = sigma(z) sigma(-z) (z - log((1 - eps)/eps)).
/// eps must be > 0 (log eps). TRL silently replaces eps = 0 by 1e-3; we reject it and default to
/// 1e-3 instead.
template <std::floating_point T>
class exo_pair : public detail::smoothed_policy<T> {
 public:
  static constexpr std::string_view name = "exo_pair";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"label_smoothing", 1e-3}};

  explicit exo_pair(T beta = T(parameters.default_of("beta")), T label_smoothing = T(parameters.default_of("label_smoothing")))
      : detail::smoothed_policy<T>(beta, label_smoothing) {
    require(label_smoothing > T(0), "label_smoothing", label_smoothing,
            "exo_pair needs label smoothing > 0 (it takes log(eps))");
    log_pw_ = std::log1p(-label_smoothing);
    log_pl_ = std::log(label_smoothing);
  }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T z = this->beta_ * detail::margin(p);
    const auto q = detail::sigmoid_both(z);
    const T value = q.pos * (log_sigmoid(z) - log_pw_) + q.neg * (log_sigmoid(-z) - log_pl_);
    const T slope = q.pos * q.neg * (z - log_pw_ + log_pl_);
    return detail::margin_result(value, slope, this->beta_);
  }

 private:
  T log_pw_ = T(0), log_pl_ = T(0);
};

/// NCA, pairwise (Chen et al. 2024, "Noise Contrastive Alignment"): with a = beta r_w, b = beta r_l,
///   L = -log sigma(a) - 1/2 log sigma(-a) - 1/2 log sigma(-b).
template <std::floating_point T>
class nca_pair : public detail::beta_loss<T, nca_pair<T>> {
 public:
  static constexpr std::string_view name = "nca_pair";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  using detail::beta_loss<T, nca_pair<T>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T a = this->beta_ * detail::chosen_reward(p), b = this->beta_ * detail::rejected_reward(p);
    const T value = -log_sigmoid(a) - T(0.5) * log_sigmoid(-a) - T(0.5) * log_sigmoid(-b);
    const T da = -prefopt::sigmoid(-a) + T(0.5) * prefopt::sigmoid(a);
    const T db = T(0.5) * prefopt::sigmoid(b);
    return {value, this->beta_ * da, this->beta_ * db, T(0)};
  }
};

/// BCO, pairwise (Jung et al. 2024, "Binary Classifier Optimization"):
///   L = -log sigma(beta r_w - delta) - log sigma(-(beta r_l - delta)),
/// delta = running mean of the batch-mean rewards mean(beta r_w, beta r_l) over training steps,
/// detached (TRL: RunningMoments). The batch API computes delta (see preference_loss.hpp).
template <std::floating_point T>
class bco_pair : public detail::beta_loss<T, bco_pair<T>> {
 public:
  static constexpr std::string_view name = "bco_pair";
  static constexpr loss_traits traits{.batch = coupling::running_mean};
  static constexpr parameter_list parameters{{"beta", 0.1}};

  using detail::beta_loss<T, bco_pair<T>>::beta_loss;

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& c = {}) const {
    const T u = this->beta_ * detail::chosen_reward(p) - c.delta;
    const T v = this->beta_ * detail::rejected_reward(p) - c.delta;
    return {-log_sigmoid(u) - log_sigmoid(-v), -this->beta_ * prefopt::sigmoid(-u),
            this->beta_ * prefopt::sigmoid(v), T(0)};
  }
};

}  // namespace prefopt::losses
