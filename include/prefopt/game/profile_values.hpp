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

#include "prefopt/config.hpp"

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

}  // namespace prefopt::game
