#pragma once
// Self-play preference optimisation loops: SPPO (Wu et al. 2024; uclaml/SPPO), its sppo_single
// variant, iterative DPO and iterative IPO, and the exact MWU update they approximate.
//
// One iteration t, for every prompt x (π_t = the policy at the start of the iteration, which is
// also the reference of the iteration's losses, as in the SPPO pipeline):
//   1. sample  `groups` sets of K responses from π_t (same seeded generator and budget for every
//              method);
//   2. label   each set with the oracle: the K × K matrix P among the set (selfplay/oracles.hpp),
//              chosen w = argmax and rejected l = argmin of the set scores (llm_blender's scores
//              for PairRM-style oracles, else the row means of P, the Borda score: for P = σ(s_i −
//              s_j) both orders agree), targets as compute_prob.py (selfplay/sppo_targets.hpp);
//   3. train   `optimizer_steps` optimiser steps of the policy on the mean loss over the sets:
//                sppo         ½[(r_w − (P̂_w − ½)/β)² + (r_l − (P̂_l − ½)/β)²]   (losses/sppo.hpp)
//                sppo_single  ½[(r_w − (P_wl − ½)/β)² + (r_l + (P_wl − ½)/β)²]  (losses/sppo_single.hpp)
//                dpo          −log σ(β (r_w − r_l))                           (losses/dpo.hpp sigmoid)
//                ipo          (r_w − r_l − 1/(2β))²                           (losses/dpo.hpp ipo)
//              through prefopt::losses::preference_loss on backend B and the policy's step();
//   mwu: no sampling, π_{t+1} = π_t · exp(η P π_t) / Z with η = 1/β (game::sppo_update).
// Options: exact_win_rates replaces SPPO's K-sample estimates P̂ by P(y ≻ π_t) from the full
// matrix; full_support trains SPPO on every response with exact win rates (pairs (y, y + 1)).
// Even then the squared loss's minimiser is NOT the MWU step: MWU is
//   log π_{t+1}(y) − log π_t(y) = η P(y ≻ π_t) − log Z_t,   Z_t = Σ_y π_t(y) exp(η P(y ≻ π_t)),
// and SPPO's target η (P − ½) replaces log Z_t by η/2 (Wu et al. 2024, §3), which Jensen's
// inequality makes a lower bound: the residual log Z_t − η/2 ≥ 0 is a constant the normalised
// policy cannot absorb, so the least-squares fit lands near, not on, the MWU step.
// exact_log_partition (with full_support) moves the reference log-probs by that constant
// (r_y = log π(y) − log π_t(y) + log Z_t − η/2); the loss is unchanged and its minimiser is then
// exactly the MWU step, which the tests check to 1e-6 against game::sppo_update.
//
// After each iteration: exploitability of π_{t+1} and of the average of π_1 .. π_{t+1} in the
// preference game, win rates P(π_{t+1} ≻ π_0) and P(π_{t+1} ≻ π_t), KL(π_{t+1} ‖ π_0), averaged
// over prompts; iteration 0 reports π_0.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/preference_loss.hpp"
#include "prefopt/losses/sppo.hpp"
#include "prefopt/losses/sppo_single.hpp"
#include "prefopt/selfplay/concepts.hpp"
#include "prefopt/selfplay/game_metrics.hpp"
#include "prefopt/selfplay/oracles.hpp"
#include "prefopt/selfplay/sppo_targets.hpp"

namespace prefopt::selfplay {

enum class method { sppo, sppo_single, dpo, ipo, mwu };

inline std::string_view method_name(method m) {
  switch (m) {
    case method::sppo: return "sppo";
    case method::sppo_single: return "sppo_single";
    case method::dpo: return "dpo";
    case method::ipo: return "ipo";
    case method::mwu: return "mwu";
  }
  return "?";
}

inline method parse_method(std::string_view name) {
  for (method m : {method::sppo, method::sppo_single, method::dpo, method::ipo, method::mwu})
    if (method_name(m) == name) return m;
  throw_invalid_argument("method", std::string(name), "must be sppo, sppo_single, dpo, ipo or mwu");
}

struct trainer_options {
  method algorithm = method::sppo;
  index_t iterations = 100;
  index_t samples = 5;            // K responses per set (the reference pipeline's 5)
  index_t groups = 32;            // sets of K per prompt and iteration
  double beta = 0.1;              // η = 1/β
  index_t optimizer_steps = 100;  // optimiser steps per iteration
  bool exact_win_rates = false;   // sppo: P(y ≻ π_t) instead of the K-sample estimate
  bool full_support = false;      // sppo: every response, exact win rates
  bool exact_log_partition = false;  // full_support: log Z_t exactly instead of SPPO's η/2
  std::uint64_t seed = 0;

  void validate() const {
    require(iterations >= 1, "iterations", iterations, "must be >= 1");
    require(samples >= 2, "samples", samples, "must be >= 2 (a chosen and a rejected response)");
    require(groups >= 1, "groups", groups, "must be >= 1");
    require_positive_finite("beta", beta);
    require(optimizer_steps >= 1, "optimizer_steps", optimizer_steps, "must be >= 1");
    require(!full_support || algorithm == method::sppo, "full_support", true,
            "is defined for method sppo only");
    require(!exact_log_partition || full_support, "exact_log_partition", true,
            "needs full_support (the exact win rate of every response)");
  }
};

struct iteration_metrics {
  index_t iteration = 0;
  double exploitability = 0;          // of π_t
  double exploitability_average = 0;  // of the mean of π_1 .. π_t (π_0 at iteration 0)
  double win_rate_vs_initial = 0.5;   // P(π_t ≻ π_0)
  double win_rate_vs_previous = 0.5;  // P(π_t ≻ π_{t−1})
  double kl_to_initial = 0;           // KL(π_t ‖ π_0)
  double loss = 0;                    // mean training loss at the last optimiser step (0 for mwu)
};

struct trainer_result {
  std::vector<iteration_metrics> history;          // iterations 0 .. T
  std::vector<std::vector<double>> final_policy;   // π_T per prompt
  std::vector<std::vector<double>> average_policy; // mean of π_1 .. π_T per prompt
};

namespace detail {

/// One labelled set: the training pair and its targets.
struct labelled_pair {
  index_t prompt, chosen, rejected;
  double chosen_target, rejected_target;  // sppo: P̂_w, P̂_l; sppo_single: P_wl, 1 − P_wl
};

template <PreferenceOracle O>
sppo_targets label_set(const O& oracle, index_t x, std::span<const index_t> ys) {
  if constexpr (set_scoring_oracle<O>) {
    return compute_sppo_targets(oracle.set_scores(x, ys));
  } else {
    // Scores = row means of the pairwise P (Borda); targets from P itself.
    const auto p = set_probabilities(oracle, x, ys);
    const index_t k = static_cast<index_t>(ys.size());
    sppo_targets t;
    std::vector<double> mean(static_cast<std::size_t>(k), 0.0);
    for (index_t i = 0; i < k; ++i) {
      for (index_t j = 0; j < k; ++j) mean[i] += p[i * k + j];
      mean[i] /= static_cast<double>(k);
    }
    for (index_t i = 1; i < k; ++i) {
      if (mean[i] > mean[t.chosen]) t.chosen = i;
      if (mean[i] < mean[t.rejected]) t.rejected = i;
    }
    t.chosen_probs = p[t.chosen * k + t.rejected];
    t.chosen_probs_win = mean[t.chosen];
    t.chosen_probs_lose = mean[t.rejected];
    t.probability = p;
    return t;
  }
}

}  // namespace detail

/// Runs `options.iterations` self-play iterations of `options.algorithm` on `policy` (modified
/// in place) against `oracle`, over prompts 0 .. num_prompts − 1. B is the backend the losses
/// run on. `on_iteration` (optional) sees each iteration's metrics as they are computed. The mwu
/// method needs a policy whose logits can be read and set (tabular_policy).
template <class B, EnumerablePolicy P, PreferenceOracle O>
  requires std::same_as<typename P::prompt_type, index_t> &&
           std::same_as<typename O::prompt_type, index_t> &&
           std::same_as<typename O::response_type, index_t>
trainer_result train(P& policy, const O& oracle, index_t num_prompts, const trainer_options& options,
                     const std::function<void(const iteration_metrics&)>& on_iteration = {}) {
  options.validate();
  require(num_prompts >= 1, "num_prompts", num_prompts, "must be >= 1");
  const auto prompts = static_cast<std::size_t>(num_prompts);
  std::vector<prefmodel::preference_matrix<double>> games;
  for (index_t x = 0; x < num_prompts; ++x) {
    if constexpr (requires { { oracle.num_responses(x) } -> std::convertible_to<index_t>; })
      require_same_size("policy.num_responses(" + std::to_string(x) + ")", policy.num_responses(x),
                        "oracle.num_responses(" + std::to_string(x) + ")", oracle.num_responses(x));
    games.push_back(full_preference_matrix(oracle, x, policy.num_responses(x)));
  }

  std::vector<std::vector<double>> initial(prompts), current(prompts), previous, sum(prompts);
  for (std::size_t x = 0; x < prompts; ++x) {
    initial[x] = policy.distribution(static_cast<index_t>(x));
    sum[x].assign(initial[x].size(), 0.0);
  }
  current = initial;
  previous = initial;
  trainer_result result;
  auto record = [&](index_t t, double loss) {
    iteration_metrics m;
    m.iteration = t;
    m.loss = loss;
    double wi = 0.0, wp = 0.0;
    for (std::size_t x = 0; x < prompts; ++x) {
      std::vector<double> avg = current[x];
      if (t > 0)
        for (std::size_t y = 0; y < avg.size(); ++y) avg[y] = sum[x][y] / static_cast<double>(t);
      m.exploitability += exploitability(games[x], current[x]);
      m.exploitability_average += exploitability(games[x], avg);
      wi += win_rate(games[x], current[x], initial[x]);
      wp += win_rate(games[x], current[x], previous[x]);
      m.kl_to_initial += kl(current[x], initial[x]);
    }
    const double n = static_cast<double>(prompts);
    m.exploitability /= n;
    m.exploitability_average /= n;
    m.win_rate_vs_initial = wi / n;
    m.win_rate_vs_previous = wp / n;
    m.kl_to_initial /= n;
    result.history.push_back(m);
    if (on_iteration) on_iteration(m);
  };
  record(0, 0.0);

  std::mt19937_64 rng(options.seed);
  const double eta = 1.0 / options.beta;
  for (index_t t = 1; t <= options.iterations; ++t) {
    double last_loss = 0.0;
    if (options.algorithm == method::mwu) {
      // Exact MWU in logit space, θ_{t+1} = θ_t + η P π_t (the same update as game::sppo_update,
      // which the tests compare against, but with no underflow of tiny probabilities to 0).
      if constexpr (requires(P& q, const P& c, index_t x, std::span<const double> v) {
                      q.set_logits(x, v);
                      { c.logits(x) } -> std::convertible_to<std::span<const double>>;
                    }) {
        for (std::size_t x = 0; x < prompts; ++x) {
          const auto w = game::win_rates(games[x], std::span<const double>(current[x]));
          const std::span<const double> theta = policy.logits(static_cast<index_t>(x));
          std::vector<double> next(theta.begin(), theta.end());
          for (std::size_t y = 0; y < next.size(); ++y) next[y] += eta * w[y];
          policy.set_logits(static_cast<index_t>(x), next);
        }
      } else {
        throw_invalid_argument("method", std::string("mwu"),
                               "needs a policy with logits / set_logits (e.g. tabular_policy)");
      }
    } else {
      // 1-2. sample and label.
      std::vector<detail::labelled_pair> data;
      for (index_t x = 0; x < num_prompts; ++x) {
        const auto n = policy.num_responses(x);
        if (options.full_support) {
          const auto w = game::win_rates(games[x], std::span<const double>(current[x]));
          for (index_t y = 0; y < n; ++y) {
            const index_t z = (y + 1) % n;
            data.push_back({x, y, z, w[y], w[z]});
          }
          continue;
        }
        std::vector<double> exact;
        if (options.exact_win_rates) exact = game::win_rates(games[x], std::span<const double>(current[x]));
        for (index_t g = 0; g < options.groups; ++g) {
          const auto ys = policy.sample(x, options.samples, rng);
          const auto lab = detail::label_set(oracle, x, std::span<const index_t>(ys));
          const index_t w = ys[lab.chosen], l = ys[lab.rejected];
          double pw = lab.chosen_probs_win, pl = lab.chosen_probs_lose;
          if (options.algorithm == method::sppo_single) pw = lab.chosen_probs, pl = 1.0 - lab.chosen_probs;
          if (options.exact_win_rates && options.algorithm == method::sppo) pw = exact[w], pl = exact[l];
          data.push_back({x, w, l, pw, pl});
        }
      }
      // 3. train against the frozen reference π_t.
      const std::size_t m = data.size();
      std::vector<double> ref_w(m), ref_l(m), lw(m), ll(m), tw(m), tl(m), ones(m, 1.0);
      auto logps = [&](std::vector<double>& cw, std::vector<double>& cl) {
        for (std::size_t i = 0; i < m; ++i) {
          const index_t ys[2] = {data[i].chosen, data[i].rejected};
          const auto lp = policy.log_probs(data[i].prompt, std::span<const index_t>(ys, 2));
          cw[i] = lp[0], cl[i] = lp[1];
        }
      };
      logps(ref_w, ref_l);
      if (options.exact_log_partition) {
        for (std::size_t x = 0; x < prompts; ++x) {
          const auto w = game::win_rates(games[x], std::span<const double>(current[x]));
          std::vector<double> a(w.size());
          for (std::size_t y = 0; y < w.size(); ++y) a[y] = std::log(current[x][y]) + eta * w[y];
          const double shift = logsumexp(a.data(), static_cast<index_t>(a.size())) - eta / 2;
          for (std::size_t i = 0; i < m; ++i)
            if (data[i].prompt == static_cast<index_t>(x)) ref_w[i] -= shift, ref_l[i] -= shift;
        }
      }
      for (std::size_t i = 0; i < m; ++i) tw[i] = data[i].chosen_target, tl[i] = data[i].rejected_target;
      policy.reset_optimizer();
      auto fit = [&](const auto& loss) {
        for (index_t s = 0; s < options.optimizer_steps; ++s) {
          logps(lw, ll);
          losses::preference_batch<double> batch;
          batch.chosen_logps = lw, batch.rejected_logps = ll;
          batch.ref_chosen_logps = ref_w, batch.ref_rejected_logps = ref_l;
          batch.chosen_tokens = ones, batch.rejected_tokens = ones;
          batch.chosen_win_rates = tw, batch.rejected_win_rates = tl;
          const auto r = losses::preference_loss<B>(loss, batch);
          last_loss = r.loss;
          const auto gw = B::to_host(r.grad_chosen), gl = B::to_host(r.grad_rejected);
          std::vector<logp_gradient<index_t, index_t>> grads;
          grads.reserve(2 * m);
          for (std::size_t i = 0; i < m; ++i) {
            grads.push_back({data[i].prompt, data[i].chosen, gw[i]});
            grads.push_back({data[i].prompt, data[i].rejected, gl[i]});
          }
          policy.step(std::span<const logp_gradient<index_t, index_t>>(grads));
        }
      };
      switch (options.algorithm) {
        case method::sppo: fit(losses::sppo<double>(options.beta)); break;
        case method::sppo_single: fit(losses::sppo_single<double>(options.beta)); break;
        case method::dpo: fit(losses::sigmoid<double>(options.beta)); break;
        case method::ipo: fit(losses::ipo<double>(options.beta)); break;
        case method::mwu: break;
      }
    }
    previous = current;
    for (std::size_t x = 0; x < prompts; ++x) {
      current[x] = policy.distribution(static_cast<index_t>(x));
      for (std::size_t y = 0; y < current[x].size(); ++y) sum[x][y] += current[x][y];
    }
    record(t, last_loss);
  }
  result.final_policy = current;
  result.average_policy = sum;
  for (auto& a : result.average_policy)
    for (double& v : a) v /= static_cast<double>(options.iterations);
  return result;
}

}  // namespace prefopt::selfplay
