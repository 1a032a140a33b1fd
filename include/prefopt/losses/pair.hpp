#pragma once
// The per-pair vocabulary shared by every preference loss.
//
// A loss is a small policy object: validated hyper-parameters set in its constructor, plus a
// PREFOPT_HD call operator that maps one pair_input to the pair's loss value and its analytic
// derivatives with respect to the *policy* log-probabilities (reference log-probs, token counts
// and win rates are constants). Because the operator is PREFOPT_HD and the policy is a trivially
// copyable aggregate of scalars, the same object is captured by value into CUDA kernels.
//
// Notation (docs/losses.md): l_w, l_l = policy log-prob of the chosen / rejected completion,
// summed over completion tokens; r_w = l_w - l_w^ref, r_l = l_l - l_l^ref; Delta = r_w - r_l;
// z = beta * Delta. Losses that need per-token means (ipo, orpo, simpo) divide the sums by the
// token counts themselves, so every derivative is taken with respect to the *summed* log-probs —
// exactly what prefopt::sequence_logps_backward consumes as dL/d(sum).

#include <concepts>
#include <string_view>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/losses/parameter_list.hpp"

namespace prefopt::losses {

/// One preference pair (or, for unpaired losses, one chosen and one rejected example).
template <class T>
struct pair_input {
  T chosen_logps = T(0);        // l_w, summed over completion tokens
  T rejected_logps = T(0);      // l_l
  T ref_chosen_logps = T(0);    // l_w^ref (0 in reference-free mode)
  T ref_rejected_logps = T(0);  // l_l^ref
  T chosen_tokens = T(1);       // completion token counts (per-token means: ipo, orpo, simpo)
  T rejected_tokens = T(1);
  T chosen_win_rate = T(1);     // P-hat(y_w > pi_t), SPPO's estimated win rate in [0, 1]
  T rejected_win_rate = T(0);   // P-hat(y_l > pi_t)
  T chosen_nll = T(0);          // per-token mean NLL of the chosen completion (NLL-carrying losses)
};

/// Value and derivatives of one pair's loss. d_nll is dL/d(chosen_nll) (zero for losses without an
/// NLL term); the batch API folds it into d_chosen when the NLL is derived from l_w.
template <class T>
struct pair_result {
  T loss = T(0);
  T d_chosen = T(0);    // dL/dl_w
  T d_rejected = T(0);  // dL/dl_l
  T d_nll = T(0);       // dL/d chosen_nll
};

/// Batch statistics that couple pairs, computed on the host by the batch API before the per-pair
/// kernel runs and treated as constants (detached) by the per-pair functions.
template <class T>
struct batch_context {
  T kl_baseline = T(0);  // KTO's z0 = max(0, mean KL over mismatched pairs)
  T delta = T(0);        // BCO's running mean of the rewards
};

/// How a loss couples the pairs of a batch.
enum class coupling {
  none,               // independent pairs
  kl_baseline,        // KTO: z0 from mismatched (prompt, completion) pairs
  running_mean,       // BCO: delta = running mean of the batch rewards
  sorted_logratios,   // AOT (paired): sort policy and reference log-ratios separately
  sorted_rewards,     // AOT (unpaired): sort chosen and rejected log-ratios separately
};

/// What a loss reads, so the batch API can validate exactly the inputs that matter.
struct loss_traits {
  bool uses_reference = true;    // false: reference log-probs are ignored (orpo, simpo, cpo)
  bool needs_tokens = false;     // divides by chosen_tokens / rejected_tokens
  bool needs_win_rates = false;  // reads chosen_win_rate / rejected_win_rate (sppo)
  bool has_nll = false;          // adds a term in chosen_nll
  bool needs_negative_logps = false;  // log(1 - p) of the mean log-prob (orpo): logps < 0
  coupling batch = coupling::none;
};

/// Every loss policy: traits, a reward scale for the metrics, and the per-pair operator.
template <class L>
concept preference_loss_policy = requires(const L& loss, const pair_input<typename L::scalar_type>& p,
                                          const batch_context<typename L::scalar_type>& c) {
  typename L::scalar_type;
  { L::name } -> std::convertible_to<std::string_view>;
  { L::traits } -> std::convertible_to<loss_traits>;
  { loss.reward_scale() } -> std::same_as<typename L::scalar_type>;
  { loss(p, c) } -> std::same_as<pair_result<typename L::scalar_type>>;
};

namespace detail {

/// The log-ratios of a pair: r_w, r_l, their margin Delta = r_w - r_l, and the result of a loss
/// that depends on the pair only through z = beta Delta.
/// dL/dl_w = beta g, dL/dl_l = -beta g for a loss depending on the pair through z = beta Delta.
template <class T>
PREFOPT_HD inline pair_result<T> margin_result(T value, T slope, T beta) {
  return {value, beta * slope, -beta * slope, T(0)};
}
template <class T>
PREFOPT_HD inline T chosen_reward(const pair_input<T>& p) {
  return p.chosen_logps - p.ref_chosen_logps;
}
template <class T>
PREFOPT_HD inline T rejected_reward(const pair_input<T>& p) {
  return p.rejected_logps - p.ref_rejected_logps;
}
template <class T>
PREFOPT_HD inline T margin(const pair_input<T>& p) {
  return chosen_reward(p) - rejected_reward(p);
}

/// sigma(x) and sigma(-x) from one exp: with e = exp(-|x|), sigma(|x|) = 1/(1+e) and
/// sigma(-|x|) = e/(1+e); both keep full relative precision (no 1 - sigma cancellation).
template <class T>
struct sigmoid_both_t {
  T pos;  // sigma(x)
  T neg;  // sigma(-x) = 1 - sigma(x)
};
template <class T>
PREFOPT_HD inline sigmoid_both_t<T> sigmoid_both(T x) {
  const T e = prefopt::detail::exp_(-prefopt::detail::fabs_(x));
  const T inv = T(1) / (T(1) + e);
  return x >= T(0) ? sigmoid_both_t<T>{inv, e * inv} : sigmoid_both_t<T>{e * inv, inv};
}

/// sigma'(x) = sigma(x) sigma(-x), stable for any finite x.
template <class T>
PREFOPT_HD inline T sigmoid_derivative(T x) {
  const auto s = sigmoid_both(x);
  return s.pos * s.neg;
}

/// Conservative (label-smoothed) logistic loss of a margin z and its derivative dL/dz:
///   L = -(1 - eps) log sigma(z) - eps log sigma(-z),  dL/dz = -(1 - eps) sigma(-z) + eps sigma(z).
/// cDPO (Mitchell 2023), TRL DPOTrainer loss_type="sigmoid"; also the AOT, SimPO and CPO core.
template <class T>
struct value_slope {
  T value;
  T slope;
};
template <class T>
PREFOPT_HD inline value_slope<T> smoothed_logistic(T z, T eps) {
  // One exp and one log1p for all four terms: with e = exp(-|z|),
  //   log sigma(z) = min(z, 0) - log1p(e),  log sigma(-z) = min(-z, 0) - log1p(e),
  //   sigma(|z|) = 1 / (1 + e),  sigma(-|z|) = e / (1 + e)  (the softplus identities of numerics.hpp).
  const T e = prefopt::detail::exp_(-prefopt::detail::fabs_(z));
  const T l = prefopt::detail::log1p_(e);
  const T inv = T(1) / (T(1) + e);
  const bool positive = z >= T(0);
  const T log_sig_pos = (positive ? T(0) : z) - l, log_sig_neg = (positive ? -z : T(0)) - l;
  const T sig_pos = positive ? inv : e * inv, sig_neg = positive ? e * inv : inv;
  return {-(T(1) - eps) * log_sig_pos - eps * log_sig_neg, -(T(1) - eps) * sig_neg + eps * sig_pos};
}

// ---- hyper-parameter validation (host) ----------------------------------------------------
template <class T>
void require_beta(T beta, std::string_view name = "beta") {
  require_positive_finite(name, beta);
}
template <class T>
void require_label_smoothing(T eps, std::string_view name = "label_smoothing") {
  require(eps >= T(0) && eps < T(0.5), name, eps, "must be in [0, 0.5)");
}
template <class T>
void require_non_negative_finite(std::string_view name, T value) {
  require(std::isfinite(value) && value >= T(0), name, value, "must be finite and >= 0");
}

/// Base of every loss with a temperature beta: holds it, validated (finite, > 0), and reports it
/// as the reward scale of the metrics (rewards = beta * r).
template <class T>
class beta_policy {
 public:
  using scalar_type = T;
  PREFOPT_HD T beta() const { return beta_; }
  PREFOPT_HD T reward_scale() const { return beta_; }

 protected:
  explicit beta_policy(T beta) : beta_(beta) { require_beta(beta); }
  T beta_;
};

/// beta plus a label smoothing eps in [0, 0.5) (cDPO-style conservative labels).
template <class T>
class smoothed_policy : public beta_policy<T> {
 public:
  PREFOPT_HD T label_smoothing() const { return label_smoothing_; }

 protected:
  smoothed_policy(T beta, T label_smoothing)
      : beta_policy<T>(beta), label_smoothing_(label_smoothing) {
    require_label_smoothing(label_smoothing);
  }
  /// The conservative logistic loss of z = beta * margin, with dL/dl_w = beta g, dL/dl_l = -beta g.
  PREFOPT_HD pair_result<T> logistic_of_margin(T margin) const {
    const auto f = smoothed_logistic(this->beta_ * margin, label_smoothing_);
    return {f.value, this->beta_ * f.slope, -this->beta_ * f.slope, T(0)};
  }
  T label_smoothing_;
};

/// Bases for a loss L whose hyper-parameters are exactly beta (beta_loss), or beta and a label
/// smoothing (smoothed_loss), in that order: L inherits the constructor
///   using detail::beta_loss<T, L>::beta_loss;
/// whose default arguments come from L::parameters. A default argument is read where the
/// constructor is called, when L is complete, and an inherited constructor keeps its base's
/// default arguments, so such a loss declares only its names, traits, parameters and operator().
template <class T, class L>
class beta_loss : public beta_policy<T> {
 public:
  explicit beta_loss(T beta = T(L::parameters.default_of("beta"))) : beta_policy<T>(beta) {}
};
template <class T, class L>
class smoothed_loss : public smoothed_policy<T> {
 public:
  explicit smoothed_loss(T beta = T(L::parameters.default_of("beta")),
                         T label_smoothing = T(L::parameters.default_of("label_smoothing")))
      : smoothed_policy<T>(beta, label_smoothing) {}
};

}  // namespace detail

}  // namespace prefopt::losses
