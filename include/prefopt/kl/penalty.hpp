#pragma once
// A KL penalty composed with any preference loss, two ways:
//
// 1. with_kl_penalty<Loss>: a pair policy (usable wherever a loss policy is: preference_loss<B>,
//    preference_loss_from_logits<B>, on every backend) adding gamma times a sample estimate of
//    the sequence KL of the chosen and / or rejected completion,
//        L = Loss(pair) + gamma * [k(l_w, l_w^ref) + k(l_l, l_l^ref)]
//    where k is k1, k2 or k3 (kl/estimators.hpp) of the summed log-probs. A sequence log-ratio
//    l - l^ref is a sample of log pi(y)/pi_ref(y) only when y was drawn from the policy
//    (on-policy / online DPO, self-play): then k1 and k3 are unbiased for the sequence
//    KL(pi || pi_ref). On a fixed off-policy dataset the term is a regulariser on the
//    log-ratios, not a KL estimate.
// 2. kl_penalty_from_logits: the exact penalty gamma * mean_b KL_b from the two models' logits
//    (kl/token_kl.hpp), KL_b the per-sequence sum or mean of the token divergences, with its
//    gradient with respect to the policy logits; add both to the preference loss's value and
//    logits gradient (every reduction is linear).
//
// gamma can be changed between steps (set_gamma), e.g. from kl/controllers.hpp.

#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/kl/estimators.hpp"
#include "prefopt/kl/token_kl.hpp"
#include "prefopt/losses/pair.hpp"

namespace prefopt::kl {

/// Which completions of a pair the sequence-level penalty covers.
enum class penalty_sides { chosen, rejected, both };

template <class Loss>
class with_kl_penalty {
 public:
  using scalar_type = typename Loss::scalar_type;
  using T = scalar_type;
  static constexpr std::string_view name = "with_kl_penalty";
  static constexpr losses::loss_traits traits = [] {
    losses::loss_traits t = Loss::traits;
    t.uses_reference = true;  // the estimate reads l^ref
    return t;
  }();
  static_assert(Loss::traits.batch != losses::coupling::sorted_logratios &&
                    Loss::traits.batch != losses::coupling::sorted_rewards,
                "with_kl_penalty: aot / aot_unpaired reorder the pairs; penalise them separately");

  with_kl_penalty(Loss loss, T gamma, estimator k = estimator::k3,
                  penalty_sides sides = penalty_sides::both)
      : loss_(loss), gamma_(gamma), k_(k), sides_(sides) {
    check_gamma(gamma);
  }
  PREFOPT_HD const Loss& loss() const { return loss_; }
  PREFOPT_HD T gamma() const { return gamma_; }
  PREFOPT_HD estimator kind() const { return k_; }
  PREFOPT_HD penalty_sides sides() const { return sides_; }
  void set_gamma(T gamma) {
    check_gamma(gamma);
    gamma_ = gamma;
  }
  PREFOPT_HD T reward_scale() const { return loss_.reward_scale(); }

  PREFOPT_HD losses::pair_result<T> operator()(const losses::pair_input<T>& p,
                                               const losses::batch_context<T>& c = {}) const {
    losses::pair_result<T> r = loss_(p, c);
    if (sides_ != penalty_sides::rejected) {
      const auto e = estimate_kl(k_, p.chosen_logps, p.ref_chosen_logps);
      r.loss += gamma_ * e.value;
      r.d_chosen += gamma_ * e.d_logp;
    }
    if (sides_ != penalty_sides::chosen) {
      const auto e = estimate_kl(k_, p.rejected_logps, p.ref_rejected_logps);
      r.loss += gamma_ * e.value;
      r.d_rejected += gamma_ * e.d_logp;
    }
    return r;
  }

 private:
  static void check_gamma(T gamma) {
    require(std::isfinite(gamma) && gamma >= T(0), "gamma", gamma, "must be finite and >= 0");
  }
  Loss loss_;
  T gamma_;
  estimator k_;
  penalty_sides sides_;
};

/// How the exact penalty reduces a sequence's token divergences.
enum class kl_reduction { sum, mean };

template <class T>
struct kl_penalty_result {
  T value = T(0);             // gamma * mean over sequences of KL_b
  token_kl_result<T> kl;      // the per-token and per-sequence divergences
};

/// gamma * (1/B) sum_b KL_b from logits; writes d value / d policy_logits into grad_policy
/// (every element; skipped when grad_policy.data is null).
template <class T, class U, class L, class M>
kl_penalty_result<std::remove_const_t<T>> kl_penalty_from_logits(
    logits_view<T> policy, logits_view<U> ref, matrix_view<L> labels, matrix_view<M> mask,
    double gamma, kl_reduction reduction, logits_view<std::remove_const_t<T>> grad_policy,
    token_kl_options options = {}) {
  using S = std::remove_const_t<T>;
  require(std::isfinite(gamma) && gamma >= 0.0, "gamma", gamma, "must be finite and >= 0");
  const bool mean = reduction == kl_reduction::mean;
  options.compute_mean = mean;
  kl_penalty_result<S> out;
  if (grad_policy.data != nullptr && policy.batch > 0) {
    // d value / d KL_b = gamma / B is known before the forward: one visit per row
    // (token_kl_with_grad), bit-identical to token_kl followed by token_kl_backward, with the
    // same errors in the same order. (batch 0 takes the path below, which rejects it.)
    const index_t B = policy.batch;
    const std::vector<S> c(static_cast<std::size_t>(B), static_cast<S>(gamma / static_cast<double>(B)));
    const std::vector<S> zero(static_cast<std::size_t>(B), S(0));
    out.kl = token_kl_with_grad(policy, ref, labels, mask, std::span<const S>(mean ? zero : c),
                                mean ? std::span<const S>(c) : std::span<const S>(), grad_policy,
                                logits_view<S>{}, options);
  } else {
    out.kl = token_kl(policy, ref, labels, mask, options);
  }
  const index_t B = out.kl.batch;
  require(B > 0, "policy_logits.batch", B, "must be > 0 for a mean over sequences");
  const auto& per_seq = mean ? out.kl.mean : out.kl.sum;
  double s = 0;
  for (const S v : per_seq) s += static_cast<double>(v);
  out.value = static_cast<S>(gamma * s / static_cast<double>(B));
  return out;
}

}  // namespace prefopt::kl
