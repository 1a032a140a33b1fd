#pragma once
// The extension point of the iterative game solvers: an update rule on the simplex, written as
// one PREFOPT_HD function of a single strategy entry in log space, and mirror_solver<Rule>, the
// policy that carries a rule together with its step size and iteration count. hedge,
// optimistic_mwu and extragradient are mirror_solver<hedge_rule>, <optimistic_rule> and
// <extragradient_rule>; a new solver is a new rule, and no engine changes.
//
// Both engines — the dense one on a prefopt::Backend (mirror_dynamics.hpp) and the batched
// small-game kernel (detail/small_game_kernel.hpp) — run this loop for each player, with the
// iterate z_t = (x_t, y_t), its log L_t = log z_t and w_0 = z_t:
//
//   for s = 0 .. Rule::stages − 1:
//     g_s  = the player's payoff gradient at w_s:  A y  (row player),  −Aᵀx  (column player)
//     L'_i = rule.step({L_t,i, g_s,i, g_s,i of iteration t − 1, log μ_i, η, t, s})   per entry i
//     w_{s+1} = softmax(L')
//   z_{t+1} = w_stages;   the averaged iterate is the mean over t of w_{averaged_stage}.
//
// A rule thus sees what a mirror step on the simplex needs: the current iterate, this stage's
// gradient, the same stage's gradient one iteration earlier (optimistic methods), a reference
// strategy μ (a magnet, for KL-regularised steps such as Nash-MD's
// L' = (1 − ηλ) L + ηλ log μ + η g, nash_md.hpp), the step size and the position in the schedule.
// It returns the new log-probability up to a constant; the engine normalises. Because entry i of
// the update reads only entry i, one rule serves a B::for_each over a long strategy vector (dense
// engine, one device thread per entry) and the sequential loop of one small game (one thread per
// game).
//
// μ is the policy's `reference` (`col_reference` for the column player of a general game),
// uniform when empty; `start` chooses z_0: uniform (the default) or μ.

#include <cmath>
#include <concepts>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::game {

/// What a rule sees of one strategy entry i of one player, at iteration t and stage s.
template <class T>
struct mirror_entry {
  T log_prob;           // log z_t(i): the current iterate (normalised)
  T gradient;           // g_s(i): ascent direction of the player's own payoff at the stage point
  T previous_gradient;  // g_s(i) of iteration t − 1; equal to `gradient` at t = 0
  T log_reference;      // log μ(i) of the player's reference strategy (−∞ where μ(i) = 0)
  T eta;                // step size η of the policy
  index_t iteration;    // t = 0 .. iters − 1
  int stage;            // s = 0 .. stages − 1
};

/// The starting point z_0 of the iterative solvers.
enum class mirror_start {
  uniform,    // 1/k per entry (the default)
  reference,  // the player's reference strategy μ
};

/// An update rule: `stages` gradient evaluations per iteration (1, or 2 for extragradient),
/// the stage whose evaluation point is averaged, a validation of the rule's own parameters
/// (throwing prefopt::invalid_argument), and the per-entry step. Trivially copyable, because the
/// engines copy it into device kernels.
template <class R, class T>
concept mirror_rule =
    std::is_trivially_copyable_v<R> &&
    requires(const R& rule, const mirror_entry<T>& entry) {
      typename std::integral_constant<int, R::stages>;          // a compile-time constant
      typename std::integral_constant<int, R::averaged_stage>;
      { rule.step(entry) } -> std::same_as<T>;
      rule.validate();
    } &&
    (R::stages >= 1) && (R::averaged_stage >= 0) && (R::averaged_stage < R::stages);

/// A rule that solves a KL-regularised game: it declares the weight λ >= 0 of the KL towards the
/// reference (nash_md_rule). The engines then also report the exploitability of that game
/// (solution::regularised_exploitability), and the policy requires η·λ <= 1.
template <class R>
concept kl_regularised_rule = requires(const R& rule) {
  { rule.kl_weight() } -> std::convertible_to<double>;
};

/// λ of a KL-regularised rule, 0 (the plain game) for any other rule.
template <class R>
PREFOPT_HD double rule_kl_weight(const R& rule) {
  if constexpr (kl_regularised_rule<R>)
    return static_cast<double>(rule.kl_weight());
  else
    return 0.0;
}

namespace detail {

/// Checks a reference strategy given for k entries (empty = uniform): the right length, every
/// entry finite and >= 0, and a sum within 1e-9 of 1. The tolerance admits any vector normalised
/// in double (its sum is off by about k·2⁻⁵³) and rejects one that was never normalised.
inline void require_reference(const std::string& name, const std::vector<double>& mu, index_t k) {
  if (mu.empty()) return;
  require_same_size(name + ".size()", static_cast<long long>(mu.size()),
                    "the number of strategies", k);
  double sum = 0.0;
  for (std::size_t i = 0; i < mu.size(); ++i) {
    require(std::isfinite(mu[i]) && mu[i] >= 0.0, name + "[" + std::to_string(i) + "]", mu[i],
            "must be a finite probability (>= 0)");
    sum += mu[i];
  }
  require(std::fabs(sum - 1.0) <= 1e-9, name + " sum", sum, "must be 1 (within 1e-9)");
}

/// One player's start in the solver's scalar type: log μ (the rule's log_reference), L_0 = log z_0
/// and z_0. The uniform values are −log k and 1/k computed in T, as they always were, so that
/// solvers without a reference are unchanged bit for bit.
template <class T>
struct player_start {
  std::vector<T> log_reference, log_prob, prob;
};

template <class T>
player_start<T> make_player_start(const std::vector<double>& mu, index_t k, mirror_start start) {
  const auto size = static_cast<std::size_t>(k);
  player_start<T> out;
  if (mu.empty()) {
    out.log_reference.assign(size, -std::log(static_cast<T>(k)));
  } else {
    out.log_reference.resize(size);
    for (std::size_t i = 0; i < size; ++i)  // log 0 = −∞: the entry the reference forbids
      out.log_reference[i] = mu[i] > 0.0 ? static_cast<T>(std::log(mu[i]))
                                         : -std::numeric_limits<T>::infinity();
  }
  if (start == mirror_start::reference && !mu.empty()) {
    out.log_prob = out.log_reference;
    out.prob.resize(size);
    for (std::size_t i = 0; i < size; ++i) out.prob[i] = static_cast<T>(mu[i]);
  } else {
    out.log_prob.assign(size, -std::log(static_cast<T>(k)));
    out.prob.assign(size, T(1) / static_cast<T>(k));
  }
  return out;
}

}  // namespace detail

/// The policy passed to solve<B> / solve_batch<B>: a rule with its step size `eta` (> 0),
/// `iters` (>= 1) iterations and, when trace_every > 0, an exploitability trace every that many
/// iterations (single games only). Rule-specific parameters live in `rule`. `reference` is the
/// row player's reference strategy μ (both players' in a symmetric game), `col_reference` the
/// column player's in a general game; empty means uniform. Their lengths are checked against the
/// game when it is solved. A batch shares one reference per player.
template <class Rule>
struct mirror_solver {
  using rule_type = Rule;
  double eta = 0.1;
  index_t iters = 1000;
  index_t trace_every = 0;
  Rule rule{};
  std::vector<double> reference{};
  std::vector<double> col_reference{};
  mirror_start start = mirror_start::uniform;

  void validate() const {
    require_positive_finite("eta", eta);
    require(iters >= 1, "iters", iters, "must be >= 1");
    require(trace_every >= 0, "trace_every", trace_every, "must be >= 0 (0 = no trace)");
    require(start == mirror_start::uniform || start == mirror_start::reference, "start",
            static_cast<int>(start), "must be mirror_start::uniform or mirror_start::reference");
    rule.validate();
    // 1 − ηλ is the weight of the current iterate in a KL-regularised step; below 0 the step
    // would push away from the iterate instead of damping towards μ.
    const double kl = rule_kl_weight(rule);
    require(eta * kl <= 1.0, "eta * lambda", eta * kl,
            "must be <= 1 (the step keeps the current iterate with weight 1 - eta * lambda)");
  }
  /// validate() plus the references' lengths for an m x n game (symmetric: one shared μ).
  void validate_for(index_t m, index_t n, bool symmetric) const {
    validate();
    detail::require_reference("reference", reference, m);
    if (symmetric)
      require(col_reference.empty(), "col_reference.size()",
              static_cast<long long>(col_reference.size()),
              "must be 0 for a symmetric game (both players use `reference`)");
    detail::require_reference("col_reference", col_reference, n);
  }
};

}  // namespace prefopt::game
