#pragma once
// The preference-game quantities the self-play trainers report, in one place (they call the game
// module's public API, so a change there is followed here only):
//   exploitability(P, π)  = max_y P(y ≻ π) − ½        (game::exploitability)
//   win_rate(P, π, μ)     = πᵀ P μ = P(π ≻ μ)
//   kl(π, μ)              = Σ_y π_y log(π_y / μ_y)    (0 log 0 = 0; +inf when μ_y = 0 < π_y)
//   mwu_step(P, π, η)     = π ∝ π · exp(η P π)         (game::sppo_update: SPPO's exact update)

#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/exploitability.hpp"
#include "prefopt/game/hedge.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::selfplay {

inline double exploitability(const prefmodel::preference_matrix<double>& p, std::span<const double> pi) {
  return game::exploitability(p, pi);
}

inline double win_rate(const prefmodel::preference_matrix<double>& p, std::span<const double> pi,
                       std::span<const double> mu) {
  const auto w = game::win_rates(p, mu);  // validates mu
  game::require_distribution("pi", pi, p.size());
  double s = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) s += pi[i] * w[i];
  return s;
}

inline double kl(std::span<const double> pi, std::span<const double> mu) {
  require_same_size("pi.size()", static_cast<long long>(pi.size()), "mu.size()",
                    static_cast<long long>(mu.size()));
  double s = 0.0;
  for (std::size_t i = 0; i < pi.size(); ++i) {
    if (pi[i] <= 0.0) continue;
    if (mu[i] <= 0.0) return std::numeric_limits<double>::infinity();
    s += pi[i] * std::log(pi[i] / mu[i]);
  }
  return s;
}

template <class B>
std::vector<double> mwu_step(const prefmodel::preference_matrix<double>& p, std::span<const double> pi,
                             double eta) {
  PREFOPT_ASSERT_BACKEND(B);
  game::require_distribution("pi", pi, p.size());
  const auto m = B::from_host(p.size(), p.size(), std::span<const double>(p.values()));
  return B::to_host(game::sppo_update<B>(m, B::from_host(pi), eta));
}

}  // namespace prefopt::selfplay
