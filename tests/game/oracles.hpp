#pragma once
// Games with known equilibria shared by the game tests.
#include <cmath>
#include <random>
#include <vector>

#include <prefopt/prefmodel/preference_matrix.hpp>

namespace game_test {

/// Weighted rock-paper-scissors as a preference matrix: beating the next item wins with
/// probability ½ + w_k / 2. For the payoff A = P − ½ the unique equilibrium is
/// π ∝ (w_1, w_2, w_0) reversed cyclically: π_R ∝ w(P→S), π_P ∝ w(S→R), π_S ∝ w(R→P).
inline prefopt::prefmodel::preference_matrix<double> weighted_rps(double a, double b, double c) {
  // a: R beats S margin, b: P beats R margin, c: S beats P margin (each in (0, 1]).
  std::vector<double> p(9, 0.5);
  auto set = [&](int i, int j, double m) { p[i * 3 + j] = 0.5 + m / 2, p[j * 3 + i] = 0.5 - m / 2; };
  set(0, 2, a);  // R ≻ S
  set(1, 0, b);  // P ≻ R
  set(2, 1, c);  // S ≻ P
  return {3, p};
}
/// Its equilibrium: A π = 0 gives π_R = c/(a+b+c), π_P = a/(a+b+c), π_S = b/(a+b+c).
inline std::vector<double> weighted_rps_equilibrium(double a, double b, double c) {
  const double s = a + b + c;
  return {c / s, a / s, b / s};
}

/// Random general preference game: P(i, j) ~ U(0, 1) above the diagonal.
inline prefopt::prefmodel::preference_matrix<double> random_preferences(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.5);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double v = u(rng);
      p[i * n + j] = v, p[j * n + i] = 1.0 - v;
    }
  return {n, p};
}

/// Bradley-Terry game: P(i, j) = σ(θ_i − θ_j), transitive, pure equilibrium on argmax θ.
inline prefopt::prefmodel::preference_matrix<double> bradley_terry(const std::vector<double>& theta) {
  const int n = static_cast<int>(theta.size());
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.5);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) p[i * n + j] = 1.0 / (1.0 + std::exp(-(theta[i] - theta[j])));
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) p[j * n + i] = 1.0 - p[i * n + j];
  return {n, p};
}

inline std::vector<double> random_payoff(int m, int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> a(static_cast<std::size_t>(m * n));
  for (double& v : a) v = u(rng);
  return a;
}

}  // namespace game_test
