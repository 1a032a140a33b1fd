#pragma once
// Optimistic multiplicative weights (OMWU): Hedge that uses the prediction 2 g_t − g_{t−1} of the
// next gradient (Rakhlin & Sridharan 2013; Syrgkanis et al. 2015, "Fast convergence of regularized
// learning in games"):
//
//   x_{t+1}(i) ∝ x_t(i) · exp(η (2 (A y_t)_i − (A y_{t−1})_i)),   likewise for the column player.
//
// Rates: the average iterate's exploitability is O((ln m + ln n) / (η T)) for η ≤ 1/(4 max|A|)
// (RVU bound, Syrgkanis et al.). The *last* iterate converges (Daskalakis & Panageas 2019), and
// linearly when the equilibrium is unique (Wei, Lee, Zhang & Luo 2021, "Linear last-iterate
// convergence in constrained saddle-point optimization") — the generic case for random
// preference games. docs/games.md shows the measured curves.

#include "prefopt/config.hpp"
#include "prefopt/game/hedge.hpp"
#include "prefopt/game/mirror_rule.hpp"

namespace prefopt::game {

/// Rule: Hedge's schedule (one gradient per iteration, z_t averaged) with the predicted gradient,
/// L_{t+1} = L_t + η (2 g_t − g_{t−1}), g_{−1} = g_0 (the first step is Hedge's).
struct optimistic_rule : hedge_rule {
  template <class T>
  PREFOPT_HD T step(const mirror_entry<T>& e) const {
    return e.log_prob + e.eta * (T(2) * e.gradient - e.previous_gradient);
  }
};

/// Policy: optimistic MWU, e.g. optimistic_mwu{.eta = 2.0, .iters = 10'000}.
using optimistic_mwu = mirror_solver<optimistic_rule>;

}  // namespace prefopt::game
