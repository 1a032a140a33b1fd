#pragma once
// L1-penalised logistic regression with soft labels and sample weights, and the grouped
// cross-validation over C that AlpacaEval's length-controlled win rate runs through
// scikit-learn's LogisticRegressionCV(solver="liblinear", penalty="l1", fit_intercept=False,
// cv=GroupKFold(5), Cs=10).
//
// Objective (liblinear's L1R_LR primal, sample weights scaling the per-row C):
//   F(w) = ||w||_1 + C * sum_i s_i * [ p_i * softplus(-x_i.w) + (1 - p_i) * softplus(x_i.w) ].
// alpaca_eval feeds soft labels p_i to sklearn by duplicating every row, once with y = 1 and
// weight s_i * p_i and once with y = 0 and weight s_i * (1 - p_i); the sum of those two
// logistic losses is exactly the bracket above, so the rows are not duplicated here.
//
// Solver: proximal Newton (the newGLMNET scheme liblinear itself uses for L1R_LR): at w, the
// smooth part is replaced by its second-order model, the L1-penalised quadratic is minimised by
// cyclic coordinate descent with soft-thresholding (to 1e-14, cheap: the design has 2 or 3
// columns), and the step is backtracked (Armijo on F). Unlike liblinear (eps = 1e-4 relative to
// the first gradient), iterations continue until the minimum-norm subgradient of F is below
// `tolerance` times its value at w = 0, so the result is the optimum to ~1e-10 and liblinear's
// answer differs from it only by liblinear's own early stop.
//
// Host code on std::vector: the design has a handful of columns and at most a few thousand rows,
// so this does not go through the tensor backends.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::eval {

/// Rows x_i (row-major, n x d), soft labels p_i in [0, 1], weights s_i >= 0.
struct soft_label_design {
  index_t rows = 0, cols = 0;
  std::vector<double> x;       // rows * cols
  std::vector<double> label;   // p_i
  std::vector<double> weight;  // s_i

  [[nodiscard]] const double* row(index_t i) const { return x.data() + i * cols; }
  void push_row(const std::vector<double>& features, double p, double s) {
    if (rows == 0 && cols == 0) cols = static_cast<index_t>(features.size());
    require_same_size("features.size()", static_cast<long long>(features.size()), "cols", cols);
    x.insert(x.end(), features.begin(), features.end());
    label.push_back(p);
    weight.push_back(s);
    ++rows;
  }
  /// Throws unless sizes agree, features are finite, labels in [0, 1] and weights finite >= 0.
  void validate() const {
    require(cols > 0, "design.cols", cols, "must be > 0");
    require(rows > 0, "design.rows", rows, "must be > 0");
    require_same_size("design.x.size()", static_cast<long long>(x.size()), "rows * cols", rows * cols);
    require_same_size("design.label.size()", static_cast<long long>(label.size()), "rows", rows);
    require_same_size("design.weight.size()", static_cast<long long>(weight.size()), "rows", rows);
    // The argument names are built only on failure: the CV calls this once per fit.
    for (std::size_t k = 0; k < x.size(); ++k)
      if (!std::isfinite(x[k])) throw_invalid_argument("design.x[" + std::to_string(k) + "]", x[k], "must be finite");
    for (std::size_t u = 0; u < label.size(); ++u) {
      if (!(label[u] >= 0 && label[u] <= 1))
        throw_invalid_argument("design.label[" + std::to_string(u) + "]", label[u], "must lie in [0, 1]");
      if (!(std::isfinite(weight[u]) && weight[u] >= 0))
        throw_invalid_argument("design.weight[" + std::to_string(u) + "]", weight[u], "must be finite and >= 0");
    }
  }
};

struct l1_logistic_options {
  double tolerance = 1e-10;  // on the min-norm subgradient, relative to its value at w = 0
  int max_newton_iterations = 500;
};

struct l1_logistic_fit {
  std::vector<double> coef;
  double objective = 0;
  int iterations = 0;
  bool converged = false;
};

namespace detail {

inline double softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }
inline double sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

/// Rows used by a fit: all of them, or those with mask[i] true.
inline double l1_objective(const soft_label_design& d, const std::vector<char>* mask, double C,
                           const std::vector<double>& w, std::vector<double>& z) {
  double loss = 0;
  for (index_t i = 0; i < d.rows; ++i) {
    const auto u = static_cast<std::size_t>(i);
    if (mask && !(*mask)[u]) continue;
    double zi = 0;
    for (index_t j = 0; j < d.cols; ++j) zi += d.row(i)[j] * w[static_cast<std::size_t>(j)];
    z[u] = zi;
    const double p = d.label[u], s = d.weight[u];
    if (s == 0) continue;
    loss += s * (p * softplus(-zi) + (1 - p) * softplus(zi));
  }
  double l1 = 0;
  for (double v : w) l1 += std::abs(v);
  return l1 + C * loss;
}

/// Norm-1 of the minimum-norm subgradient of F at w (0 exactly at the optimum).
inline double subgradient_norm(const std::vector<double>& g, const std::vector<double>& w) {
  double n = 0;
  for (std::size_t j = 0; j < w.size(); ++j) {
    if (w[j] > 0) n += std::abs(g[j] + 1);
    else if (w[j] < 0) n += std::abs(g[j] - 1);
    else n += std::max(std::abs(g[j]) - 1, 0.0);
  }
  return n;
}

}  // namespace detail

/// Minimises F(w) for one C over the rows selected by `mask` (all rows when null).
inline l1_logistic_fit fit_l1_logistic(const soft_label_design& d, double C,
                                       const l1_logistic_options& opt = {},
                                       const std::vector<char>* mask = nullptr) {
  require_positive_finite("C", C);
  d.validate();
  require(opt.tolerance > 0, "options.tolerance", opt.tolerance, "must be > 0");
  require(opt.max_newton_iterations > 0, "options.max_newton_iterations", opt.max_newton_iterations,
          "must be > 0");
  if (mask) require_same_size("mask.size()", static_cast<long long>(mask->size()), "design.rows", d.rows);
  const auto m = static_cast<std::size_t>(d.cols);
  l1_logistic_fit fit;
  fit.coef.assign(m, 0.0);
  std::vector<double>& w = fit.coef;
  std::vector<double> z(static_cast<std::size_t>(d.rows), 0.0), z_try(z.size());
  std::vector<double> g(m), H(m * m), step(m), w_try(m);
  double F = detail::l1_objective(d, mask, C, w, z);
  double initial_norm = -1;

  for (int it = 0; it < opt.max_newton_iterations; ++it) {
    // Gradient and Hessian of the smooth part.
    std::fill(g.begin(), g.end(), 0.0);
    std::fill(H.begin(), H.end(), 0.0);
    for (index_t i = 0; i < d.rows; ++i) {
      const auto u = static_cast<std::size_t>(i);
      if ((mask && !(*mask)[u]) || d.weight[u] == 0) continue;
      const double q = detail::sigmoid(z[u]);
      const double r = C * d.weight[u] * (q - d.label[u]);
      const double h = C * d.weight[u] * q * (1 - q);
      const double* xi = d.row(i);
      for (std::size_t a = 0; a < m; ++a) {
        g[a] += r * xi[a];
        for (std::size_t b = 0; b < m; ++b) H[a * m + b] += h * xi[a] * xi[b];
      }
    }
    const double norm = detail::subgradient_norm(g, w);
    if (initial_norm < 0) initial_norm = std::max(norm, std::numeric_limits<double>::min());
    fit.iterations = it;
    if (norm <= opt.tolerance * initial_norm) {
      fit.converged = true;
      break;
    }
    // Inner problem: min_s g.s + s'Hs/2 + ||w + s||_1 by cyclic coordinate descent. A tiny ridge
    // (liblinear uses 1e-12 too) keeps a column that is zero on these rows from dividing by 0.
    std::fill(step.begin(), step.end(), 0.0);
    for (int sweep = 0; sweep < 1000; ++sweep) {
      double largest = 0;
      for (std::size_t j = 0; j < m; ++j) {
        const double Hjj = H[j * m + j] + 1e-12;
        double gj = g[j];
        for (std::size_t b = 0; b < m; ++b) gj += H[j * m + b] * step[b];
        // Over the new step u of coordinate j: gj (u - s_j) + Hjj (u - s_j)^2 / 2 + |w_j + u|,
        // minimised by soft-thresholding w_j + u at 1 / Hjj.
        const double center = w[j] + step[j] - gj / Hjj;  // unpenalised minimiser of w_j + u
        const double shrunk = std::copysign(std::max(std::abs(center) - 1 / Hjj, 0.0), center);
        const double u = shrunk - w[j];
        largest = std::max(largest, std::abs(u - step[j]) * std::sqrt(Hjj));
        step[j] = u;
      }
      if (largest <= 1e-14 * (1 + initial_norm)) break;
    }
    // Armijo backtracking on F; delta is the predicted decrease's first-order part.
    double l1_now = 0, l1_new = 0, gs = 0;
    for (std::size_t j = 0; j < m; ++j) {
      l1_now += std::abs(w[j]);
      l1_new += std::abs(w[j] + step[j]);
      gs += g[j] * step[j];
    }
    const double delta = gs + l1_new - l1_now;
    if (!(delta < 0)) {  // no descent direction left: converged to rounding
      fit.converged = true;
      break;
    }
    double t = 1;
    bool accepted = false;
    if (-delta <= 1e-13 * std::abs(F)) {
      // The predicted decrease is below F's rounding, so Armijo cannot tell; this close to the
      // optimum the quadratic model is exact to that order: take the full Newton step.
      for (std::size_t j = 0; j < m; ++j) w[j] += step[j];
      F = detail::l1_objective(d, mask, C, w, z);
      continue;
    }
    for (int ls = 0; ls < 60; ++ls) {
      for (std::size_t j = 0; j < m; ++j) w_try[j] = w[j] + t * step[j];
      const double F_try = detail::l1_objective(d, mask, C, w_try, z_try);
      if (F_try <= F + 0.01 * t * delta) {
        w = w_try;
        z.swap(z_try);
        F = F_try;
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {  // the model cannot decrease F any further in floating point
      fit.converged = true;
      break;
    }
  }
  fit.objective = F;
  return fit;
}

/// scikit-learn's GroupKFold(n_splits) without shuffling: groups sorted by size (stable argsort,
/// then reversed, so among equal sizes the largest group label comes first) and each given to
/// the fold with the fewest samples so far (first such fold on ties). Returns the fold of
/// every sample. `groups` are any integer labels; np.unique order is ascending.
inline std::vector<int> group_kfold(const std::vector<long long>& groups, int n_splits) {
  require(n_splits >= 2, "n_splits", n_splits, "must be >= 2");
  std::vector<long long> unique(groups);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  require(static_cast<long long>(unique.size()) >= n_splits, "number of groups",
          static_cast<long long>(unique.size()), "must be >= n_splits = " + std::to_string(n_splits));
  std::vector<std::size_t> gidx(groups.size());
  std::vector<long long> count(unique.size(), 0);
  for (std::size_t k = 0; k < groups.size(); ++k) {
    gidx[k] = static_cast<std::size_t>(std::lower_bound(unique.begin(), unique.end(), groups[k]) - unique.begin());
    ++count[gidx[k]];
  }
  std::vector<std::size_t> order(unique.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return count[a] < count[b]; });
  std::reverse(order.begin(), order.end());
  std::vector<long long> per_fold(static_cast<std::size_t>(n_splits), 0);
  std::vector<int> group_fold(unique.size(), 0);
  for (std::size_t g : order) {
    const auto lightest = static_cast<std::size_t>(std::min_element(per_fold.begin(), per_fold.end()) - per_fold.begin());
    per_fold[lightest] += count[g];
    group_fold[g] = static_cast<int>(lightest);
  }
  std::vector<int> fold(groups.size());
  for (std::size_t k = 0; k < groups.size(); ++k) fold[k] = group_fold[gidx[k]];
  return fold;
}

/// np.logspace(-4, 4, n): LogisticRegressionCV's grid for Cs = n.
inline std::vector<double> logspace_Cs(int n = 10) {
  require(n >= 1, "Cs", n, "must be >= 1");
  std::vector<double> Cs(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    Cs[static_cast<std::size_t>(k)] = n == 1 ? 1e-4 : std::pow(10.0, -4.0 + 8.0 * k / (n - 1));
  return Cs;
}

struct l1_logistic_cv_options {
  int n_splits = 5;
  std::vector<double> Cs = logspace_Cs(10);
  l1_logistic_options solver = {};
};

struct l1_logistic_cv_result {
  std::vector<double> Cs;
  std::vector<double> score_sum;  // per C: sum over folds of -(held-out weighted log loss)
  std::size_t best_index = 0;
  double best_C = 0;
  l1_logistic_fit fit;            // refit on all rows at best_C
};

/// Held-out score of alpaca_eval's scorer (glm_winrate.logloss_continuous): minus the mean over
/// the fold's rows of s_i * [p_i log q_i + (1 - p_i) log(1 - q_i)], q clipped to [1e-15, 1 - 1e-15].
/// (sklearn sees each row twice, once per duplicated label, with the same term: same mean.)
inline double heldout_score(const soft_label_design& d, const std::vector<int>& fold, int f,
                            const std::vector<double>& w) {
  double sum = 0;
  long long n = 0;
  for (index_t i = 0; i < d.rows; ++i) {
    const auto u = static_cast<std::size_t>(i);
    if (fold[u] != f) continue;
    double zi = 0;
    for (index_t j = 0; j < d.cols; ++j) zi += d.row(i)[j] * w[static_cast<std::size_t>(j)];
    const double q = std::clamp(detail::sigmoid(zi), 1e-15, 1 - 1e-15);
    const double p = d.label[u];
    sum += d.weight[u] * (p * std::log(q) + (1 - p) * std::log(1 - q));
    ++n;
  }
  return sum / static_cast<double>(n);
}

/// LogisticRegressionCV(refit=True) with the scorer above: every C on every fold, the C with the
/// largest score summed over folds (first on ties, np.argmax), then a refit on all rows.
/// `groups[i]` is row i's group (alpaca_eval: the row number, so both copies of a duplicated
/// row share a fold). The scorer weighs rows by the design weights s_i, as alpaca_eval's
/// true_sample_weight does (all ones when it passes none).
inline l1_logistic_cv_result fit_l1_logistic_cv(const soft_label_design& d,
                                                const std::vector<long long>& groups,
                                                const l1_logistic_cv_options& opt = {}) {
  d.validate();
  require_same_size("groups.size()", static_cast<long long>(groups.size()), "design.rows", d.rows);
  require(!opt.Cs.empty(), "Cs.size()", 0, "must be > 0");
  for (double C : opt.Cs) require_positive_finite("Cs[k]", C);
  const std::vector<int> fold = group_kfold(groups, opt.n_splits);
  l1_logistic_cv_result res;
  res.Cs = opt.Cs;
  res.score_sum.assign(opt.Cs.size(), 0.0);
  std::vector<char> train(static_cast<std::size_t>(d.rows));
  for (int f = 0; f < opt.n_splits; ++f) {
    for (std::size_t u = 0; u < train.size(); ++u) train[u] = fold[u] != f;
    for (std::size_t c = 0; c < opt.Cs.size(); ++c) {
      const auto fit = fit_l1_logistic(d, opt.Cs[c], opt.solver, &train);
      res.score_sum[c] += heldout_score(d, fold, f, fit.coef);
    }
  }
  res.best_index = static_cast<std::size_t>(std::max_element(res.score_sum.begin(), res.score_sum.end()) -
                                            res.score_sum.begin());
  res.best_C = opt.Cs[res.best_index];
  res.fit = fit_l1_logistic(d, res.best_C, opt.solver);
  return res;
}

}  // namespace prefopt::eval
