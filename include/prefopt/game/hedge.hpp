#pragma once
// Hedge / multiplicative weights (MWU) — exactly SPPO's update. In the preference game SPPO
// (Wu et al. 2024, arXiv:2405.00675, Algorithm 1 and eq. 3.3) moves the policy by
//
//   π_{t+1}(y) ∝ π_t(y) · exp(η · P(y ≻ π_t)),      P(y ≻ π) = Σ_y' π(y') P(y ≻ y'),
//
// i.e. Hedge with step η on the payoff P (equivalently P − ½: the constant cancels in the
// normalisation). Rate: with η = sqrt(8 ln n / T) the *average* iterate has exploitability
// O(sqrt(ln n / T)) (Freund & Schapire 1999); the last iterate cycles around interior equilibria
// (Bailey & Piliouras 2018) and does not converge in general. Use for fidelity to SPPO; prefer
// optimistic MWU or extragradient when you want the equilibrium itself.

#include <concepts>
#include <span>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_dynamics.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::game {

/// Policy: Hedge / MWU with step size eta for `iters` iterations (trace_every > 0 records the
/// exploitability trace every that many iterations).
struct hedge {
  double eta = 0.1;
  index_t iters = 1000;
  index_t trace_every = 0;
  static constexpr dynamics_rule rule = dynamics_rule::hedge;
  void validate() const { detail::validate_iterative(eta, iters, trace_every); }
};

/// One SPPO step on the backend: π' ∝ π · exp(η P π) for a preference matrix P (n x n in the
/// backend's memory) and a distribution π. Stable: computed as softmax(log π + η P π).
template <class B>
typename B::vector_type sppo_update(const typename B::matrix_type& p,
                                    const typename B::vector_type& pi,
                                    typename B::scalar_type eta) {
  PREFOPT_ASSERT_BACKEND(B);
  require_positive_finite("eta", eta);
  require_same_size("P.cols()", B::cols(p), "P.rows()", B::rows(p));
  require_same_size("pi.size()", B::size(pi), "P.rows()", B::rows(p));
  typename B::vector_type logits = B::axpby(typename B::scalar_type(1), B::log(pi), eta,
                                            B::matvec(p, pi));
  return detail::normalise_logits<B>(logits);
}

}  // namespace prefopt::game
