#pragma once
// Extragradient / mirror prox on the simplex with the entropy mirror map (Nemirovski 2004,
// "Prox-method with rate of convergence O(1/t)"; Korpelevich 1976 in the Euclidean case):
//
//   x_{t+½} ∝ x_t · exp(η A y_t),          y_{t+½} ∝ y_t · exp(−η Aᵀ x_t)
//   x_{t+1} ∝ x_t · exp(η A y_{t+½}),      y_{t+1} ∝ y_t · exp(−η Aᵀ x_{t+½})
//
// Rate (Nemirovski 2004, Thm 3.2; the operator is L-Lipschitz from ℓ1 to ℓ∞ with L = max|A_ij|):
// for η ≤ 1/L the average of the midpoints z_{t+½} satisfies
//
//   nash_conv(z̄_T) ≤ (ln m + ln n) / (η T),
//
// a bound the tests check. Two gradient evaluations per iteration; the last iterate also
// converges (linearly under a unique equilibrium, Wei et al. 2021).

#include "prefopt/game/hedge.hpp"
#include "prefopt/game/mirror_rule.hpp"

namespace prefopt::game {

/// Rule: Hedge's step taken twice from z_t — first with g(z_t) to the midpoint z_{t+½}, then with
/// g(z_{t+½}) to z_{t+1}; the midpoints are averaged (the point Nemirovski's bound is stated for).
struct extragradient_rule : hedge_rule {
  static constexpr int stages = 2;
  static constexpr int averaged_stage = 1;
};

/// Policy: mirror prox / extragradient, e.g. extragradient{.eta = 1.0, .iters = 4000}.
using extragradient = mirror_solver<extragradient_rule>;

}  // namespace prefopt::game
