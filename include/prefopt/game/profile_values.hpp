#pragma once
// The one definition of exploitability and NashConv used by every game solver: the host
// evaluation (exploitability.hpp), the LP (lp_nash.hpp), the dense iterative engine
// (mirror_dynamics.hpp) and the batched small-game kernel (detail/small_game_kernel.hpp). Each
// engine computes the two best-response values its own way (host loops in double, backend
// reductions, one device thread per game) and hands them to profile_values, so the formula — and
// OpenSpiel's convention behind it — is written once, in PREFOPT_HD code.
//
// For a zero-sum game with utilities xᵀAy (row) and −xᵀAy (column), OpenSpiel
// (open_spiel/python/algorithms/exploitability.py) defines
//   nash_conv      = Σ_i [BR_i − v_i] = max_i (Ay)_i − min_j (Aᵀx)_j   (the duality gap),
//   exploitability = (Σ_i BR_i − utility_sum) / num_players = nash_conv / 2.
// For a symmetric (skew-symmetric) game and the profile (π, π), Aᵀπ = −Aπ, so
// min_j (Aᵀπ)_j = −max_i (Aπ)_i and exploitability = max_i (Aπ)_i: no special case is needed.

#include <limits>

#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"

namespace prefopt::game {

/// Best-response values and the value of a profile (x, y) of a zero-sum game, without offset.
template <class T>
struct profile_values {
  T row_best_response;  // max_i (Ay)_i: what the row player gets by deviating
  T col_best_response;  // min_j (Aᵀx)_j: what the column player concedes by deviating
  T value;              // xᵀAy

  /// OpenSpiel's NashConv: the sum of both players' best-response improvements.
  [[nodiscard]] PREFOPT_HD T nash_conv() const { return row_best_response - col_best_response; }
  /// OpenSpiel's exploitability: NashConv / 2 for two-player zero-sum games.
  [[nodiscard]] PREFOPT_HD T exploitability() const { return nash_conv() / T(2); }
};

// The KL-regularised game that nash_md solves (nash_md.hpp): with references μ_x, μ_y and λ > 0,
//   f(x, y) = xᵀAy − λ KL(x ‖ μ_x) + λ KL(y ‖ μ_y).
// A player's regret at the profile is what its best response gains in f; for the row player,
// with g = A y and b = softmax(log μ_x + g / λ) (the regularised best response),
//   max_x' [⟨x', g⟩ − λ KL(x' ‖ μ_x)] − [⟨x, g⟩ − λ KL(x ‖ μ_x)] = λ KL(x ‖ b)
//     = λ Σ_i x_i (log x_i − log μ_x,i − g_i / λ) + λ log Σ_i μ_x,i exp(g_i / λ),
// and the column player's is the same with g = −Aᵀx and μ_y. Their sum is the duality gap
// max_x' f(x', y) − min_y' f(x, y') of the regularised game (⟨x, Ay⟩ + ⟨y, −Aᵀx⟩ = 0), zero only
// at its unique equilibrium; as for the plain game the exploitability is half of it. At λ = 0 the
// regret is the plain game's, max_i g_i − ⟨x, g⟩. An entry with x_i > 0 and μ_i = 0 makes the
// regret +∞ (the profile leaves the reference's support).

/// One player's regret in the regularised game: λ KL(x ‖ softmax(log μ + g / λ)), in double.
template <class T>
PREFOPT_HD double regularised_regret(const T* x, const T* g, const T* log_mu, index_t k,
                                     double lambda) {
  using prefopt::detail::exp_;
  using prefopt::detail::log_;
  constexpr double inf = std::numeric_limits<double>::infinity();
  double linear = 0.0;  // ⟨x, g⟩
  for (index_t i = 0; i < k; ++i) linear += static_cast<double>(x[i]) * static_cast<double>(g[i]);
  if (lambda == 0.0) {
    double best = static_cast<double>(g[0]);
    for (index_t i = 1; i < k; ++i) best = g[i] > best ? static_cast<double>(g[i]) : best;
    return best - linear;
  }
  double shift = -inf;  // max of log μ_i + g_i / λ over the support of μ, for a stable log-sum-exp
  for (index_t i = 0; i < k; ++i) {
    const double z = static_cast<double>(log_mu[i]) + static_cast<double>(g[i]) / lambda;
    if (log_mu[i] > -inf && z > shift) shift = z;
  }
  double sum = 0.0, entropy_terms = 0.0;  // Σ μ e^{g/λ − shift}, Σ x (log x − log μ)
  for (index_t i = 0; i < k; ++i) {
    if (log_mu[i] > -inf)
      sum += exp_(static_cast<double>(log_mu[i]) + static_cast<double>(g[i]) / lambda - shift);
    if (x[i] > T(0)) {
      if (!(log_mu[i] > -inf)) return inf;
      entropy_terms += static_cast<double>(x[i]) *
                       (log_(static_cast<double>(x[i])) - static_cast<double>(log_mu[i]));
    }
  }
  return lambda * entropy_terms - linear + lambda * (shift + log_(sum));
}

/// Exploitability of (x, y) in the regularised game: (regret of x + regret of y) / 2, from the
/// gradients gx = A y and gc = −Aᵀx. A symmetric game's profile (π, π) passes π, Aπ, log μ twice.
template <class T>
PREFOPT_HD T regularised_exploitability(const T* x, const T* gx, const T* log_mu_x, index_t m,
                                        const T* y, const T* gc, const T* log_mu_y, index_t n,
                                        double lambda) {
  return static_cast<T>((regularised_regret(x, gx, log_mu_x, m, lambda) +
                         regularised_regret(y, gc, log_mu_y, n, lambda)) / 2.0);
}

}  // namespace prefopt::game
