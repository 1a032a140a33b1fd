#pragma once
// KL-regularised Nash updates: the Nash-MD step (Munos et al. 2024, "Nash Learning from Human
// Feedback", §5) towards a reference strategy μ with regularisation λ ≥ 0,
//
//   π_{t+1}(i) ∝ π_t(i)^{1 − ηλ} · μ(i)^{ηλ} · exp(η g_t(i)),     g_t = A y_t (row player),
//
// i.e. a mirror step on the payoff from the geometric mixture of the iterate and μ (in log space:
// L' = (1 − ηλ) L + ηλ log μ + η g). Munos et al. evaluate the opponent at that mixture; here, as
// in the other rules, the gradient is taken at the current profile, which makes the update a
// rule of mirror_rule.hpp. Its fixed points satisfy ηλ log π = ηλ log μ + η g + const, i.e.
//
//   x = softmax(log μ_x + A y / λ),   y = softmax(log μ_y − Aᵀx / λ),
//
// the unique equilibrium of the KL-regularised game f(x, y) = xᵀAy − λ KL(x ‖ μ_x) + λ KL(y ‖ μ_y)
// (tests/game/nash_md.cpp checks it against tests/reference/game/nash_md_reference.py). Magnetic
// mirror descent (Sokota et al. 2023) has the same fixed points with weights 1/(1 + ηλ).
// λ = 0 is Hedge, i.e. SPPO's update, operation for operation. The results also report the
// exploitability of the regularised game (solution::regularised_exploitability).

#include <cmath>
#include <limits>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/hedge.hpp"
#include "prefopt/game/mirror_dynamics.hpp"
#include "prefopt/game/mirror_rule.hpp"

namespace prefopt::game {

/// Rule: L_{t+1} = (1 − ηλ) L_t + ηλ log μ + η g(z_t); one gradient per iteration, z_t averaged.
/// The policy requires ηλ ≤ 1.
struct nash_md_rule {
  double lambda = 0.1;  // λ: weight of KL(π ‖ μ) in the regularised game
  static constexpr int stages = 1;
  static constexpr int averaged_stage = 0;
  void validate() const {
    require(std::isfinite(lambda) && lambda >= 0.0, "lambda", lambda, "must be finite and >= 0");
  }
  [[nodiscard]] PREFOPT_HD double kl_weight() const { return lambda; }
  template <class T>
  PREFOPT_HD T step(const mirror_entry<T>& e) const {
    const T kappa = e.eta * static_cast<T>(lambda);
    // λ = 0 (or an ηλ that rounds to 0 in T): exactly Hedge's expression, so the update is
    // SPPO's bit for bit and a reference with zeros cannot produce 0 · (−∞).
    if (kappa == T(0)) return hedge_rule{}.step(e);
    // μ(i) = 0: the magnet holds the entry at probability 0 (and (1 − ηλ) L + ηλ (−∞) would be
    // NaN at ηλ = 1 with L = −∞).
    if (!(e.log_reference > -std::numeric_limits<T>::infinity())) return e.log_reference;
    return (T(1) - kappa) * e.log_prob + kappa * e.log_reference + e.eta * e.gradient;
  }
};

/// Policy: Nash-MD towards `reference` (μ; uniform when empty), e.g.
/// nash_md{.eta = 0.5, .iters = 2000, .rule = {.lambda = 0.1}, .reference = {0.5, 0.3, 0.2}}.
using nash_md = mirror_solver<nash_md_rule>;

/// One Nash-MD self-play step on the backend: π' ∝ π^{1 − ηλ} μ^{ηλ} exp(η P π) for a preference
/// matrix P (n x n) and distributions π, μ (n entries), all in the backend's memory — sppo_update
/// with a magnet. With λ = 0 it is sppo_update bit for bit (the same detail::self_play_step with
/// the rule taking Hedge's branch). π and μ are not read back to be checked (they may live on a
/// device); η > 0, λ ≥ 0, ηλ ≤ 1 and the sizes are.
template <class B>
typename B::vector_type nash_md_update(const typename B::matrix_type& p,
                                       const typename B::vector_type& pi,
                                       const typename B::vector_type& mu,
                                       typename B::scalar_type eta, double lambda) {
  PREFOPT_ASSERT_BACKEND(B);
  detail::require_self_play_step<B>(p, pi, eta);
  require_same_size("mu.size()", B::size(mu), "P.rows()", B::rows(p));
  const nash_md_rule rule{lambda};
  rule.validate();
  require(static_cast<double>(eta) * lambda <= 1.0, "eta * lambda",
          static_cast<double>(eta) * lambda, "must be <= 1");
  return detail::self_play_step<B>(rule, p, pi, B::log(mu), eta);
}

}  // namespace prefopt::game
