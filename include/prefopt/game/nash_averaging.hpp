#pragma once
// Nash averaging (Balduzzi, Tuyls, Perolat & Graepel 2018, "Re-evaluating evaluation",
// NeurIPS): evaluate n agents (or responses) by the maximum-entropy Nash equilibrium p* of the
// symmetric zero-sum game with skew-symmetric payoff A, and rate agent i by its payoff against it,
//
//   rating_i = (A p*)_i ≤ 0,   = 0 exactly on the equilibrium support.
//
// The maximum-entropy equilibrium is unique, and it makes the ratings invariant to adding copies of
// an agent (the copies split the mass) — the property the paper is after. Balduzzi et al. use
// A = logit(P); the library's preference game uses A = P − ½ (same sign pattern, different
// equilibrium in general): `payoff_transform` picks one.
//
// Method (documented in docs/games.md). For skew-symmetric A the equilibria are
// E = {p ∈ Δ : A p ≤ 0}. Writing S for the union of the supports of all equilibria,
//  1. S is found by linear programming: start from the support of one LP equilibrium and solve
//     max Σ_{i∉S} p_i  s.t. A p ≤ 0, 1ᵀp ≤ 1, p ≥ 0  (dense_simplex), adding every newly positive
//     item, until the optimum is 0. By convexity of E this finds all of S; it takes a few LPs.
//  2. Every equilibrium q has (A q)_i = 0 for i ∈ S (if p ∈ E has p_i > 0 then 0 = pᵀAq forces it),
//     so on its face E = {p_S > 0 : A_SS p_S = 0, 1ᵀp_S = 1, A_{S̄S} p_S ≤ 0}. Maximum entropy
//     subject to the equalities has the Gibbs form p_i ∝ exp((A_SS λ)_i) (skew-symmetry turns
//     −A_SSᵀ into A_SS); λ minimises the convex dual log Σ_{i∈S} exp((A_SS λ)_i), solved by damped
//     Newton (Levenberg-regularised, backtracking) to ‖A_SS p‖∞ ≤ 1e-12.
//  3. The inequalities A_{S̄S} p_S ≤ 0 are then checked (generically they hold strictly: the
//     Goldman–Tucker strictly complementary equilibrium makes them slack); if one is violated the
//     result falls back to the average of the equilibria found in step 1 and `max_entropy` is
//     false. Host only, double precision.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/game/dense_simplex.hpp"
#include "prefopt/game/exploitability.hpp"
#include "prefopt/game/lp_nash.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::game {

enum class payoff_transform {
  centered,  // A = P − ½ (the preference game of SPPO)
  logit      // A = log(P / (1 − P)) (Balduzzi et al. 2018); needs 0 < P < 1
};

template <class T>
struct nash_averaging_result {
  std::vector<T> strategy;       // maximum-entropy Nash equilibrium p*
  std::vector<T> ratings;        // (A p*)_i
  std::vector<index_t> support;  // S: items in the support of some equilibrium
  T entropy{};                   // −Σ p log p
  T exploitability{};            // max_i (A p*)_i (0 up to rounding)
  bool max_entropy = true;       // false when step 3 fell back (see above)
  index_t support_lps = 0;       // LPs solved in step 1
};

namespace detail {

/// Damped Newton on the dual of max H(p) s.t. A_SS p = 0 (skew-symmetric A_SS, k x k).
inline std::vector<double> maxent_on_face(const std::vector<double>& a, index_t k) {
  std::vector<double> lambda(static_cast<std::size_t>(k), 0.0), s(k), p(k), grad(k);
  auto gibbs = [&](const std::vector<double>& lam, std::vector<double>& prob) {
    for (index_t i = 0; i < k; ++i) {
      double v = 0.0;
      for (index_t j = 0; j < k; ++j) v += a[i * k + j] * lam[j];
      s[i] = v;
    }
    const double mx = *std::max_element(s.begin(), s.end());
    double z = 0.0;
    for (index_t i = 0; i < k; ++i) z += std::exp(s[i] - mx);
    for (index_t i = 0; i < k; ++i) prob[i] = std::exp(s[i] - mx) / z;
    return mx + std::log(z);  // dual objective
  };
  double f = gibbs(lambda, p);
  std::vector<double> h(static_cast<std::size_t>(k * k)), q(k), trial(k), ptrial(k);
  std::vector<index_t> perm;
  for (int it = 0; it < 200; ++it) {
    // gradient_j = Σ_i p_i A_ij = −(A p)_j
    double worst = 0.0;
    for (index_t j = 0; j < k; ++j) {
      double g = 0.0;
      for (index_t i = 0; i < k; ++i) g += p[i] * a[i * k + j];
      grad[j] = g;
      worst = std::max(worst, std::fabs(g));
    }
    if (worst <= 1e-13) break;
    // Hessian = A_SSᵀ (diag p − ppᵀ) A_SS, regularised.
    for (index_t i = 0; i < k; ++i) q[i] = 0.0;
    for (index_t r = 0; r < k; ++r)
      for (index_t c = 0; c < k; ++c) {
        double v = 0.0;
        for (index_t i = 0; i < k; ++i) v += p[i] * a[i * k + r] * a[i * k + c];
        h[r * k + c] = v - grad[r] * grad[c] + (r == c ? 1e-12 + 1e-3 * worst : 0.0);
      }
    if (!lu_factor(h, perm, k)) break;
    const std::vector<double> step = lu_solve(h, perm, k, grad, false);
    double t = 1.0, slope = 0.0;
    for (index_t j = 0; j < k; ++j) slope += grad[j] * step[j];
    bool moved = false;
    for (int ls = 0; ls < 60; ++ls, t *= 0.5) {
      for (index_t j = 0; j < k; ++j) trial[j] = lambda[j] - t * step[j];
      const double ft = gibbs(trial, ptrial);
      if (ft <= f - 1e-4 * t * slope) {
        lambda.swap(trial), p.swap(ptrial), f = ft, moved = true;
        break;
      }
    }
    if (!moved) break;
  }
  return p;
}

}  // namespace detail

/// Maximum-entropy Nash equilibrium and Nash-averaging ratings of a skew-symmetric game.
template <std::floating_point T>
nash_averaging_result<T> nash_averaging(const matrix_game<T>& g, const lp& policy = {}) {
  require(g.symmetric(), "game.symmetric()", false,
          "Nash averaging needs a skew-symmetric payoff (matrix_game::skew_symmetric or "
          "from_preferences)");
  const index_t n = g.rows();
  // Work on A / max|A|: the equilibria are the same, and the tolerances below (LP, Newton
  // regularisation and stopping rule, the final A p <= 0 check) are absolute, so a game with tiny
  // payoffs (P = 1/2 +- 1e-6) used to miss the maximum-entropy equilibrium. Ratings are scaled back.
  double amax = 0.0;
  for (const T v : g.values()) amax = std::max(amax, std::fabs(static_cast<double>(v)));
  const double unit = amax > 0.0 ? 1.0 / amax : 1.0;
  // Also make A exactly skew-symmetric (a no-op for exact input): P − ½ is only skew-symmetric up
  // to the rounding of P, which the scaling would magnify, and step 2's Gibbs form relies on it.
  std::vector<double> a(static_cast<std::size_t>(n * n));
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j)
      a[i * n + j] = (static_cast<double>(g(i, j)) - static_cast<double>(g(j, i))) / 2 * unit;
  constexpr double tol = 1e-9;
  nash_averaging_result<T> out;

  // Step 1: the union of equilibrium supports.
  const lp_result<T> first = solve(policy, g);
  std::vector<double> mean(first.row_strategy.begin(), first.row_strategy.end());
  index_t found = 1;
  std::vector<char> in_s(static_cast<std::size_t>(n), 0);
  for (index_t i = 0; i < n; ++i) in_s[i] = first.row_strategy[i] > tol;
  std::vector<double> mtx(static_cast<std::size_t>((n + 1) * n)), rhs(n + 1, 0.0), c(n);
  std::copy(a.begin(), a.end(), mtx.begin());
  std::fill(mtx.begin() + n * n, mtx.end(), 1.0);
  rhs[n] = 1.0;
  for (;;) {
    for (index_t i = 0; i < n; ++i) c[i] = in_s[i] ? 0.0 : 1.0;
    if (std::all_of(in_s.begin(), in_s.end(), [](char v) { return v != 0; })) break;
    const lp_solution s = dense_simplex(n + 1, n, mtx, rhs, c, policy.simplex);
    ++out.support_lps;
    // The feasible set is bounded, so only the pivot limit stops the LP early; stopping then
    // would return a smaller face's maximum-entropy point still flagged max_entropy.
    if (s.status != lp_status::optimal)
      throw numerical_error("prefopt::game::nash_averaging: support LP " +
                            std::to_string(out.support_lps) + " stopped after " +
                            std::to_string(s.pivots) + " pivots without reaching optimality " +
                            "(raise simplex_options::max_pivots)");
    if (s.objective <= tol) break;
    const double total = std::accumulate(s.primal.begin(), s.primal.end(), 0.0);
    for (index_t i = 0; i < n; ++i) {
      mean[i] += s.primal[i] / total;
      if (s.primal[i] > tol) in_s[i] = 1;
    }
    ++found;
  }
  for (index_t i = 0; i < n; ++i)
    if (in_s[i]) out.support.push_back(i);

  // Step 2: maximum entropy on the face.
  const index_t k = static_cast<index_t>(out.support.size());
  std::vector<double> ass(static_cast<std::size_t>(k * k));
  for (index_t r = 0; r < k; ++r)
    for (index_t cc = 0; cc < k; ++cc) ass[r * k + cc] = a[out.support[r] * n + out.support[cc]];
  const std::vector<double> ps = detail::maxent_on_face(ass, k);
  std::vector<double> p(static_cast<std::size_t>(n), 0.0);
  for (index_t r = 0; r < k; ++r) p[out.support[r]] = ps[r];

  // Step 3: verify A p ≤ 0 everywhere, else fall back to the mean of the equilibria found.
  auto payoff = [&](const std::vector<double>& v) {
    std::vector<double> r(static_cast<std::size_t>(n), 0.0);
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) r[i] += a[i * n + j] * v[j];
    return r;
  };
  std::vector<double> r = payoff(p);
  if (*std::max_element(r.begin(), r.end()) > 1e-9) {
    for (double& v : mean) v /= static_cast<double>(found);
    p = mean;
    r = payoff(p);
    out.max_entropy = false;
  }
  for (double& v : r) v /= unit;
  out.strategy.assign(p.begin(), p.end());
  out.ratings.assign(r.begin(), r.end());
  double h = 0.0;
  for (double v : p)
    if (v > 0) h -= v * std::log(v);
  out.entropy = static_cast<T>(h);
  out.exploitability = static_cast<T>(*std::max_element(r.begin(), r.end()));
  return out;
}

/// Nash averaging of a preference matrix with the chosen payoff transform.
template <std::floating_point T>
nash_averaging_result<T> nash_averaging(const prefmodel::preference_matrix<T>& p,
                                        payoff_transform transform = payoff_transform::centered,
                                        const lp& policy = {}) {
  if (transform == payoff_transform::centered)
    return nash_averaging(matrix_game<T>::from_preferences(p), policy);
  const index_t n = p.size();
  std::vector<T> a(static_cast<std::size_t>(n * n));
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const T v = p(i, j);
      require(v > T(0) && v < T(1), "P(" + std::to_string(i) + ", " + std::to_string(j) + ")", v,
              "the logit transform needs 0 < P < 1");
      a[i * n + j] = i == j ? T(0) : std::log(v / (T(1) - v));
    }
  // log(P/(1−P)) is skew-symmetric exactly when P + Pᵀ = 1; allow the matrix's own tolerance.
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) a[j * n + i] = -a[i * n + j];
  return nash_averaging(matrix_game<T>::skew_symmetric(n, std::move(a)), policy);
}

}  // namespace prefopt::game
