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

#include "prefopt/config.hpp"
#include "prefopt/game/mirror_dynamics.hpp"

namespace prefopt::game {

/// Policy: mirror prox / extragradient with step size eta for `iters` iterations.
struct extragradient {
  double eta = 0.1;
  index_t iters = 1000;
  index_t trace_every = 0;
  static constexpr dynamics_rule rule = dynamics_rule::extragradient;
  void validate() const { detail::validate_iterative(eta, iters, trace_every); }
};

}  // namespace prefopt::game
