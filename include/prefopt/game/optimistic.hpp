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
#include "prefopt/game/mirror_dynamics.hpp"

namespace prefopt::game {

/// Policy: optimistic MWU with step size eta for `iters` iterations.
struct optimistic_mwu {
  double eta = 0.1;
  index_t iters = 1000;
  index_t trace_every = 0;
  static constexpr dynamics_rule rule = dynamics_rule::optimistic;
  void validate() const { detail::validate_iterative(eta, iters, trace_every); }
};

}  // namespace prefopt::game
