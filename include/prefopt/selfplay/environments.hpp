#pragma once
// Preference games for self-play experiments, one prompt each, deterministic by seed:
//   rps         rock-paper-scissors, P(win) = 1: the unique Nash equilibrium is uniform
//   transitive  Bradley–Terry, P(i ≻ j) = σ(θ_i − θ_j) with θ_i = i · spread / (n − 1): the
//               equilibrium is the pure best response n − 1
//   random      P(i ≻ j) uniform in [0, 1] above the diagonal (generically intransitive)

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"
#include "prefopt/selfplay/sampling.hpp"

namespace prefopt::selfplay {

inline prefmodel::preference_matrix<double> rock_paper_scissors() {
  //          R    P    S
  return {3, {0.5, 0.0, 1.0,    // rock loses to paper, beats scissors
              1.0, 0.5, 0.0,    // paper
              0.0, 1.0, 0.5}};  // scissors
}

inline prefmodel::preference_matrix<double> transitive_game(index_t n, double spread = 4.0) {
  require(n >= 2, "n", n, "must be >= 2");
  require_positive_finite("spread", spread);
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.5);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) {
      const double d = spread * static_cast<double>(i - j) / static_cast<double>(n - 1);
      p[i * n + j] = sigmoid(d);
      p[j * n + i] = 1.0 - p[i * n + j];
    }
  return {n, std::move(p)};
}

inline prefmodel::preference_matrix<double> random_game(index_t n, std::uint64_t seed) {
  require(n >= 2, "n", n, "must be >= 2");
  std::mt19937_64 rng(seed);
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.5);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) {
      p[i * n + j] = uniform01(rng);
      p[j * n + i] = 1.0 - p[i * n + j];
    }
  return {n, std::move(p)};
}

}  // namespace prefopt::selfplay

namespace prefopt::selfplay {

/// Initial policy parameters (tabular logits or log-linear weights) uniform in [−spread, spread],
/// from their own stream of the seed: a starting policy with favourites, like a fine-tuned model.
inline std::vector<double> random_initial_parameters(index_t count, double spread, std::uint64_t seed) {
  require(count >= 1, "count", count, "must be >= 1");
  require(std::isfinite(spread) && spread >= 0.0, "spread", spread, "must be finite and >= 0");
  std::mt19937_64 rng(seed * 2654435761ULL + 17);
  std::vector<double> v(static_cast<std::size_t>(count));
  for (double& x : v) x = spread * (2.0 * uniform01(rng) - 1.0);
  return v;
}

}  // namespace prefopt::selfplay
