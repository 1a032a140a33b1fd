#pragma once
// The result vocabulary every game solver shares: a strategy profile with its value and its
// exploitability. The exact LP returns one (host vectors); the iterative solvers return two, the
// last and the averaged iterate (vectors in the backend's memory); the batched solvers return
// them per game (one row per game, one value per game). Same field names everywhere, so code
// that reads a result does not care which solver produced it.

namespace prefopt::game {

/// `Strategy`: a strategy (std::vector<T>, B::vector_type) or one per game (B::matrix_type);
/// `Scalar`: a scalar or one per game (B::vector_type).
template <class Strategy, class Scalar>
struct solution {
  Strategy row_strategy;  // x: the row player's (maximiser's) mixed strategy
  Strategy col_strategy;  // y: the column player's; equals x in a symmetric game
  Scalar value{};         // xᵀAy + the game's value offset (½ for preference games)
  Scalar exploitability{};  // OpenSpiel's exploitability of (x, y), measured (profile_values.hpp)
  // The exploitability of (x, y) in the game the solver targets: the KL-regularised game of a
  // kl_regularised_rule such as nash_md (half its regularised duality gap, profile_values.hpp),
  // otherwise the plain game, where it equals `exploitability`.
  Scalar regularised_exploitability{};
};

}  // namespace prefopt::game
