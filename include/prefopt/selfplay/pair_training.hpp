#pragma once
// Offline preference optimisation of a policy on a fixed set of pairs (DPO, ORPO, LongPO, any
// loss policy of losses/), the training step of Janus and LongPO on the toy policies:
//
//   for step = 1 .. steps:  l_w, l_l = Σ_turns log π(y | x)   (current policy)
//                           L = mean over pairs of loss(l_w, l_l, ref_w, ref_l)
//                           policy.step(dL / d log π)         (one optimiser step, full batch)
//
// A pair is `turns_per_pair` consecutive turns (prompt, chosen, rejected); its log-probs are the
// sums over its turns, as LongPO's multi-turn samples (kl::sum_reference_turns sums the reference
// the same way), and each turn receives the pair's derivative. A single-turn pair (Janus) has
// turns_per_pair = 1. The reference log-probs are the caller's (LongPO: the short-context
// reference) or, when omitted, the policy's own at the start, frozen (DPO's π_ref = the initial
// policy). Token counts handed to the loss are the turn counts, so a per-token NLL (ORPO,
// LongPO) is the NLL per turn.

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/losses/preference_loss.hpp"
#include "prefopt/selfplay/concepts.hpp"

namespace prefopt::selfplay {

/// One turn of a training pair: a prompt and two of its responses.
template <class Prompt = index_t>
struct pair_turn {
  Prompt prompt;
  index_t chosen, rejected;
};

struct pair_training_options {
  index_t steps = 200;
  index_t turns_per_pair = 1;
  void validate() const {
    require(steps >= 1, "steps", steps, "must be >= 1");
    require(turns_per_pair >= 1, "turns_per_pair", turns_per_pair, "must be >= 1");
  }
};

/// Sums of log π over each pair's turns (chosen, rejected), in pair order.
template <EnumerablePolicy P>
void pair_log_probs(const P& policy, std::span<const pair_turn<typename P::prompt_type>> turns,
                    index_t turns_per_pair, std::vector<double>& chosen, std::vector<double>& rejected) {
  const std::size_t per = static_cast<std::size_t>(turns_per_pair), n = turns.size() / per;
  chosen.assign(n, 0.0);
  rejected.assign(n, 0.0);
  for (std::size_t k = 0; k < turns.size(); ++k) {
    const index_t ys[2] = {turns[k].chosen, turns[k].rejected};
    const auto lp = policy.log_probs(turns[k].prompt, std::span<const index_t>(ys, 2));
    chosen[k / per] += lp[0];
    rejected[k / per] += lp[1];
  }
}

/// Trains `policy` in place on the pairs formed by `turns` (see the header comment) and returns
/// the loss at each step. `ref_chosen` / `ref_rejected` (one per pair, or both empty) are the
/// reference log-probs; `on_step(step)` (optional) runs after each step.
template <class B, EnumerablePolicy P, losses::preference_loss_policy L>
std::vector<double> train_on_pairs(P& policy, std::span<const pair_turn<typename P::prompt_type>> turns,
                                   const L& loss, const pair_training_options& options,
                                   std::span<const double> ref_chosen = {}, std::span<const double> ref_rejected = {},
                                   const std::function<void(index_t)>& on_step = {}) {
  options.validate();
  const auto per = static_cast<std::size_t>(options.turns_per_pair);
  require(!turns.empty() && turns.size() % per == 0, "turns.size()", turns.size(),
          "must be a positive multiple of turns_per_pair = " + std::to_string(per));
  const std::size_t n = turns.size() / per;
  std::vector<double> rw, rl;
  if (ref_chosen.empty() && ref_rejected.empty()) {
    pair_log_probs(policy, turns, options.turns_per_pair, rw, rl);
  } else {
    require_same_size("ref_chosen.size()", static_cast<long long>(ref_chosen.size()), "pairs",
                      static_cast<long long>(n));
    require_same_size("ref_rejected.size()", static_cast<long long>(ref_rejected.size()), "pairs",
                      static_cast<long long>(n));
    rw.assign(ref_chosen.begin(), ref_chosen.end());
    rl.assign(ref_rejected.begin(), ref_rejected.end());
  }
  const std::vector<double> tokens(n, static_cast<double>(per));
  std::vector<double> lw, ll, history;
  std::vector<logp_gradient<typename P::prompt_type, index_t>> grads;
  for (index_t s = 1; s <= options.steps; ++s) {
    pair_log_probs(policy, turns, options.turns_per_pair, lw, ll);
    losses::preference_batch<double> batch;
    batch.chosen_logps = lw, batch.rejected_logps = ll;
    batch.ref_chosen_logps = rw, batch.ref_rejected_logps = rl;
    batch.chosen_tokens = tokens, batch.rejected_tokens = tokens;
    const auto r = losses::preference_loss<B>(loss, batch);
    history.push_back(static_cast<double>(r.loss));
    const auto gw = B::to_host(r.grad_chosen), gl = B::to_host(r.grad_rejected);
    grads.clear();
    for (std::size_t k = 0; k < turns.size(); ++k) {
      grads.push_back({turns[k].prompt, turns[k].chosen, gw[k / per]});
      grads.push_back({turns[k].prompt, turns[k].rejected, gl[k / per]});
    }
    policy.step(std::span<const logp_gradient<typename P::prompt_type, index_t>>(grads));
    if (on_step) on_step(s);
  }
  return history;
}

}  // namespace prefopt::selfplay
