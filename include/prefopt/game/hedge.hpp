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

#include <cmath>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/mirror_dynamics.hpp"
#include "prefopt/game/mirror_rule.hpp"

namespace prefopt::game {

/// Rule: L_{t+1} = L_t + η g(z_t), one gradient per iteration, the average of z_0..z_{T−1}.
struct hedge_rule {
  static constexpr int stages = 1;
  static constexpr int averaged_stage = 0;
  void validate() const {}
  template <class T>
  PREFOPT_HD T step(const mirror_entry<T>& e) const {
    return e.log_prob + e.eta * e.gradient;
  }
};

/// Policy: Hedge / MWU, e.g. hedge{.eta = 0.5, .iters = 500}.
using hedge = mirror_solver<hedge_rule>;

namespace detail {

/// Checks of a one-step self-play update on P (n x n) from π: η, the shapes.
template <class B>
void require_self_play_step(const typename B::matrix_type& p, const typename B::vector_type& pi,
                            typename B::scalar_type eta) {
  require_positive_finite("eta", eta);
  require_same_size("P.cols()", B::cols(p), "P.rows()", B::rows(p));
  require_same_size("pi.size()", B::size(pi), "P.rows()", B::rows(p));
}

/// One step of `rule` from π against its own win rates P π, normalised: the body of sppo_update
/// and nash_md_update (nash_md.hpp), so that the two run the same operations in the same order.
template <class B, class Rule>
typename B::vector_type self_play_step(const Rule& rule, const typename B::matrix_type& p,
                                       const typename B::vector_type& pi,
                                       const typename B::vector_type& log_reference,
                                       typename B::scalar_type eta) {
  const typename B::vector_type win_rates = B::matvec(p, pi);
  typename B::vector_type logits =
      apply_rule<B>(rule, B::log(pi), win_rates, win_rates, log_reference, eta, 0, 0);
  return normalise_logits<B>(logits);
}

}  // namespace detail

/// One SPPO step on the backend: π' ∝ π · exp(η P π) for a preference matrix P (n x n in the
/// backend's memory) and a distribution π: hedge_rule applied once, in log space (stable).
template <class B>
typename B::vector_type sppo_update(const typename B::matrix_type& p,
                                    const typename B::vector_type& pi,
                                    typename B::scalar_type eta) {
  PREFOPT_ASSERT_BACKEND(B);
  detail::require_self_play_step<B>(p, pi, eta);
  // Hedge does not read the reference; it is the uniform μ of mirror_entry's contract.
  const typename B::vector_type uniform = detail::uniform<B>(B::size(pi));
  return detail::self_play_step<B>(hedge_rule{}, p, pi, B::log(uniform), eta);
}

}  // namespace prefopt::game
