#pragma once
// Games with known equilibria shared by the game tests.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <prefopt/prefmodel/preference_matrix.hpp>
#include <support/random.hpp>

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
  prefopt_test::bits_rng rng(seed);
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.5);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double v = rng.uniform();
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
  prefopt_test::bits_rng rng(seed);
  std::vector<double> a(static_cast<std::size_t>(m * n));
  for (double& v : a) v = rng.uniform(-1.0, 1.0);
  return a;
}

/// The payoff A = P − ½ of a preference game, row-major, read entry by entry from P.
inline std::vector<double> preference_payoff(const prefopt::prefmodel::preference_matrix<double>& p) {
  const int n = static_cast<int>(p.size());
  std::vector<double> a(static_cast<std::size_t>(n * n));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[static_cast<std::size_t>(i * n + j)] = p(i, j) - 0.5;
  return a;
}

/// The oracle for every exploitability a solver reports: OpenSpiel's definition written out with
/// plain loops in long double, independent of prefopt's evaluate_profile / profile_values,
///   exploitability(x, y) = (max_i Σ_j A_ij y_j − min_j Σ_i x_i A_ij) / 2,  value = xᵀAy,
/// for a row-major m × n payoff A (value without the game's offset).
struct profile_reference {
  double exploitability;
  double value;
  int best_row;  // argmax_i (Ay)_i, so a test can show its data reach the last row / column
  int best_col;  // argmin_j (Aᵀx)_j
};
template <class X, class Y>
profile_reference reference_profile(const std::vector<double>& a, int m, int n, const X& x,
                                    const Y& y) {
  long double best_row = 0, best_col = 0, value = 0;
  int arg_row = -1, arg_col = -1;
  for (int i = 0; i < m; ++i) {
    long double s = 0;
    for (int j = 0; j < n; ++j)
      s += static_cast<long double>(a[static_cast<std::size_t>(i * n + j)]) *
           static_cast<long double>(y[static_cast<std::size_t>(j)]);
    value += static_cast<long double>(x[static_cast<std::size_t>(i)]) * s;
    if (arg_row < 0 || s > best_row) best_row = s, arg_row = i;
  }
  for (int j = 0; j < n; ++j) {
    long double s = 0;
    for (int i = 0; i < m; ++i)
      s += static_cast<long double>(x[static_cast<std::size_t>(i)]) *
           static_cast<long double>(a[static_cast<std::size_t>(i * n + j)]);
    if (arg_col < 0 || s < best_col) best_col = s, arg_col = j;
  }
  return {static_cast<double>((best_row - best_col) / 2), static_cast<double>(value), arg_row,
          arg_col};
}

}  // namespace game_test
