#pragma once
// Exact Nash equilibrium of a zero-sum matrix game by linear programming (von Neumann 1928;
// Dantzig 1951). For A scaled to max|A| = 1 (equilibria are scale-invariant; see solve) and
// K = 1 − min A, the shifted payoff Ã = A + K ≥ 1 has value ṽ > 0 and
//
//   column player:  max 1ᵀw  s.t. Ã w ≤ 1, w ≥ 0      → 1ᵀw* = 1/ṽ,  y = ṽ w*
//   row player:     its LP dual  min 1ᵀu s.t. Ãᵀu ≥ 1 → x = ṽ u*,
//
// so one simplex solve (prefopt/game/dense_simplex.hpp) gives both strategies and the value
// v = ṽ − K (plus the game's value offset, ½ for preference games). The strategies are recomputed
// from the final basis (polish) and the achieved exploitability is measured and returned, so the
// caller sees the accuracy rather than trusting it. Host only.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/dense_simplex.hpp"
#include "prefopt/game/exploitability.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/solution.hpp"

namespace prefopt::game {

/// Policy: exact equilibrium by the dense simplex method.
struct lp {
  simplex_options simplex{};
  void validate() const { simplex.validate(); }
};

/// The equilibrium (row_strategy, col_strategy, value, exploitability: solution.hpp) and the
/// number of simplex pivots it took.
template <class T>
struct lp_result : solution<std::vector<T>, T> {
  index_t pivots = 0;
};

namespace detail {
inline std::vector<double> normalised(const std::vector<double>& w) {
  const double s = std::accumulate(w.begin(), w.end(), 0.0);
  std::vector<double> p(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) p[i] = w[i] / s;
  return p;
}
}  // namespace detail

/// Solves the game exactly. Throws prefopt::invalid_argument on bad options and
/// prefopt::numerical_error if the simplex hits its pivot limit (it cannot be unbounded here).
template <std::floating_point T>
lp_result<T> solve(const lp& policy, const matrix_game<T>& g) {
  policy.validate();
  const index_t m = g.rows(), n = g.cols();
  // Equilibria are invariant to scaling A, the simplex tolerances are absolute: solve A / max|A|
  // so that a game with tiny payoffs (e.g. P = 1/2 +- 1e-8 from a near-indifferent reward model)
  // is not drowned by the shift to Ã >= 1 (it lost ~eps / max|A| of relative accuracy).
  double amax = 0.0;
  for (const T v : g.values()) amax = std::max(amax, std::fabs(static_cast<double>(v)));
  const double unit = amax > 0.0 ? 1.0 / amax : 1.0;
  const T amin = *std::min_element(g.values().begin(), g.values().end());
  const double shift = 1.0 - static_cast<double>(amin) * unit;
  std::vector<double> shifted(static_cast<std::size_t>(m * n));
  for (index_t k = 0; k < m * n; ++k) shifted[k] = static_cast<double>(g.values()[k]) * unit + shift;
  const std::vector<double> ones_m(static_cast<std::size_t>(m), 1.0);
  const std::vector<double> ones_n(static_cast<std::size_t>(n), 1.0);
  const lp_solution s = dense_simplex(m, n, shifted, ones_m, ones_n, policy.simplex);
  if (s.status != lp_status::optimal)
    throw numerical_error("prefopt::game::solve(lp): simplex stopped after " +
                          std::to_string(s.pivots) + " pivots without reaching optimality " +
                          "(raise simplex_options::max_pivots)");

  lp_result<T> out;
  const std::vector<double> y = detail::normalised(s.primal), x = detail::normalised(s.dual);
  out.row_strategy.assign(x.begin(), x.end());
  out.col_strategy.assign(y.begin(), y.end());
  out.pivots = s.pivots;
  const auto v = evaluate_profile(g, std::span<const T>(out.row_strategy),
                                  std::span<const T>(out.col_strategy));
  out.value = v.value + g.value_offset();
  out.exploitability = v.exploitability();
  out.regularised_exploitability = out.exploitability;  // the LP solves the plain game
  return out;
}

/// The symmetric preference game of P (value ½).
template <std::floating_point T>
lp_result<T> solve(const lp& policy, const prefmodel::preference_matrix<T>& p) {
  return solve(policy, matrix_game<T>::from_preferences(p));
}

}  // namespace prefopt::game
