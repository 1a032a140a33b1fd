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
// L' = (1 − ηλ) L + ηλ log μ + η g), the step size and the position in the schedule. It returns
// the new log-probability up to a constant; the engine normalises. Because entry i of the update
// reads only entry i, one rule serves a B::for_each over a long strategy vector (dense engine, one
// device thread per entry) and the sequential loop of one small game (one thread per game).

#include <concepts>
#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::game {

/// What a rule sees of one strategy entry i of one player, at iteration t and stage s.
template <class T>
struct mirror_entry {
  T log_prob;           // log z_t(i): the current iterate (normalised)
  T gradient;           // g_s(i): ascent direction of the player's own payoff at the stage point
  T previous_gradient;  // g_s(i) of iteration t − 1; equal to `gradient` at t = 0
  T log_reference;      // log μ(i): the reference strategy, today the uniform start (−log k)
  T eta;                // step size η of the policy
  index_t iteration;    // t = 0 .. iters − 1
  int stage;            // s = 0 .. stages − 1
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

/// The policy passed to solve<B> / solve_batch<B>: a rule with its step size `eta` (> 0),
/// `iters` (>= 1) iterations and, when trace_every > 0, an exploitability trace every that many
/// iterations (single games only). Rule-specific parameters live in `rule`.
template <class Rule>
struct mirror_solver {
  using rule_type = Rule;
  double eta = 0.1;
  index_t iters = 1000;
  index_t trace_every = 0;
  Rule rule{};

  void validate() const {
    require_positive_finite("eta", eta);
    require(iters >= 1, "iters", iters, "must be >= 1");
    require(trace_every >= 0, "trace_every", trace_every, "must be >= 0 (0 = no trace)");
    rule.validate();
  }
};

}  // namespace prefopt::game
