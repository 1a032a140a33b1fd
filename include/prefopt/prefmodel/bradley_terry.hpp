#pragma once
// Bradley-Terry maximum likelihood on aggregated comparison counts.
//
//   P(i beats j) = sigma(theta_i - theta_j)                       (Bradley & Terry 1952)
//
// Ties, two conventions:
//   half_win  a tie counts as half a win for each side. This is what the LMSYS Chatbot Arena
//             does (FastChat fastchat/serve/monitor/elo_analysis.py: outcome 0.5 in
//             bt_loss_and_grad; earlier compute_mle_elo counted a tie as one win each with all
//             decisive games doubled -- the same likelihood up to a factor 2).
//   davidson  Davidson (1970): with pi = exp(theta) and nu = exp(delta),
//             P(i) = pi_i / D, P(j) = pi_j / D, P(tie) = nu sqrt(pi_i pi_j) / D,
//             D = pi_i + pi_j + nu sqrt(pi_i pi_j); delta is estimated jointly.
//
// Identifiability: the likelihood only sees differences, so the fit is normalised to
// sum(theta) = 0 (FastChat's L-BFGS from zero stays on that plane too), or to theta_anchor = 0
// (BradleyTerry2's reference category). An optional N(0, sigma^2) prior on each theta (ridge)
// makes the MAP estimate exist for any data; the MAP is then sum-to-zero by itself, and an
// anchor only shifts what is reported.
//
// Solvers: Newton's method on the concave log-likelihood with Armijo backtracking (quadratic
// convergence, a handful of iterations), and as fallback the quadratic-bound MM algorithm of
// Boehning & Lindsay (1988): the negative Hessian is bounded by B = L/4 (L = the weighted
// comparison-graph Laplacian; for Davidson the (theta, delta) bound is diag(L/4, N/2) because a
// softmax covariance has spectral norm <= 1/2), so x += B^-1 grad increases the likelihood
// monotonically with one factorisation for the whole run. Standard errors come from the observed
// information (negative Hessian) at the optimum; without a prior it is singular along
// (1, ..., 1) and its Moore-Penrose inverse is the covariance of the sum-to-zero estimate.
//
// Two linear-algebra paths. dense: the information matrix is formed and factorised (O(n^2)
// memory, O(n^3) per Newton step; milliseconds for an arena's hundreds of models). sparse
// (detail/bt_sparse.hpp, half-win ties only): Newton with conjugate-gradient solves on the
// Laplacian-structured information, O(n + pairs) memory and O(pairs) per CG iteration, for
// 10^4-10^6 items. bt_method::automatic picks sparse from sparse_min_items items on (a measured
// crossover, docs/preference-models.md). Standard errors stay exact up to
// exact_std_error_max_items; beyond, std_error holds a documented approximation
// (std_error_approximate) and exact values come from CG solves for the items requested in
// std_error_items (selected_std_error).

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/prefmodel/comparisons.hpp"
#include "prefopt/prefmodel/detail/bt_sparse.hpp"
#include "prefopt/prefmodel/detail/dense_spd.hpp"
#include "prefopt/prefmodel/estimability.hpp"

namespace prefopt::prefmodel {

enum class tie_model { half_win, davidson };
enum class bt_solver { newton, mm };
/// Linear algebra of the Newton steps: dense Cholesky or sparse conjugate gradients.
enum class bt_method { automatic, dense, sparse };

template <class T = double>
struct bt_options {
  tie_model ties = tie_model::half_win;
  /// Standard deviation of the N(0, sigma^2) prior on each theta; 0 = none (pure MLE).
  T prior_sigma = T(0);
  /// Item reported with theta = 0; empty = sum-to-zero normalisation.
  std::optional<index_t> anchor;
  bt_solver solver = bt_solver::newton;
  /// Newton iterations; the MM fallback gets mm_max_iterations.
  index_t max_iterations = 100;
  index_t mm_max_iterations = 100000;
  /// Converged when the largest parameter change of a step is below tolerance * (1 + max|x|);
  /// default eps^0.6 (4e-10 for double, 7e-5 for float): Newton's next step would be ~eps.
  T tolerance = std::pow(std::numeric_limits<T>::epsilon(), T(0.6));
  bool standard_errors = true;
  /// Starting point (theta on the natural scale, any normalisation); empty = zeros. Used by the
  /// bootstrap to warm-start every round from the full-data estimate.
  std::span<const T> initial_theta = {};
  /// dense / sparse forces a path; automatic takes sparse for half-win ties from
  /// sparse_min_items items on (Davidson ties and bt_solver::mm always use the dense path).
  bt_method method = bt_method::automatic;
  index_t sparse_min_items = 200;
  /// Up to this many items the standard errors are exact (dense covariance, O(n^3)); beyond it
  /// the sparse path reports the approximation documented in detail/bt_sparse.hpp.
  index_t exact_std_error_max_items = 1000;
  /// Items whose standard error is computed exactly in any case (one CG solve each on the
  /// sparse path), reported in bt_result::selected_std_error in this order.
  std::span<const index_t> std_error_items = {};
  /// Threads for the sparse path (0 = hardware concurrency); results do not depend on it.
  int threads = 0;
};

template <class T = double>
struct bt_result {
  std::vector<T> theta;      // natural (log-odds) scale, normalised as requested
  std::vector<T> std_error;  // same normalisation; empty unless standard_errors
  T log_nu = T(0);           // Davidson tie parameter delta = log nu (0 for half_win)
  T log_nu_std_error = T(0);
  T log_likelihood = T(0);   // at the estimate, without the prior term
  T log_posterior = T(0);    // log_likelihood + log prior (= log_likelihood without a prior)
  T gradient_norm = T(0);    // max |d log_posterior / d x| at the estimate
  index_t iterations = 0;
  bool converged = false;
  bt_solver solver_used = bt_solver::newton;
  bt_method method_used = bt_method::dense;
  index_t cg_iterations = 0;           // total conjugate-gradient iterations (sparse path)
  bool std_error_approximate = false;  // std_error holds the sparse-path approximation
  std::vector<T> selected_std_error;   // exact, for bt_options::std_error_items
};

namespace detail {

/// The objective shared by both solvers: parameters x = (theta_0..theta_{n-1} [, delta]).
template <class T>
struct bt_objective {
  index_t n;
  std::span<const pair_record<T>> pairs;
  tie_model ties;
  T prior_precision;  // 1 / sigma^2, 0 without prior

  [[nodiscard]] index_t dim() const { return ties == tie_model::davidson ? n + 1 : n; }

  /// Log-likelihood (without prior) at x; accumulates the gradient of the log-likelihood into
  /// grad and the negative Hessian into info (row-major dim x dim) when non-null.
  T log_likelihood(const std::vector<T>& x, T* grad, T* info) const {
    const index_t m = dim();
    T ll = T(0);
    for (const auto& r : pairs) {
      const T d = x[r.i] - x[r.j];
      T gd, hdd;
      if (ties == tie_model::half_win) {
        // log sigma(d), log sigma(-d) = log sigma(d) - d and sigma(d) from one exp and one
        // log1p (the same stable branches as core/numerics.hpp, fused: this loop is the cost).
        const T a = r.wins_i + T(0.5) * r.ties, b = r.wins_j + T(0.5) * r.ties;
        const T e = std::exp(-std::fabs(d));
        const T l1p = std::log1p(e);
        const T ls = d >= T(0) ? -l1p : d - l1p;
        ll += a * ls + b * (ls - d);
        const T p = d >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
        gd = a - (a + b) * p;
        hdd = (a + b) * p * (T(1) - p);
      } else {
        // log D' = logsumexp(d/2, -d/2, delta): the Davidson denominator divided by
        // sqrt(pi_i pi_j); p1, p2, p3 are the model's probabilities of i wins, j wins, tie.
        const T delta = x[n];
        const T z1 = d / 2, z2 = -d / 2;
        const T mx = std::max({z1, z2, delta});
        const T e1 = std::exp(z1 - mx), e2 = std::exp(z2 - mx), e3 = std::exp(delta - mx);
        const T s = e1 + e2 + e3;
        const T lse = mx + std::log(s);
        const T p1 = e1 / s, p2 = e2 / s, p3 = e3 / s;
        const T nn = r.total();
        ll += r.wins_i * (z1 - lse) + r.wins_j * (z2 - lse) + r.ties * (delta - lse);
        gd = (r.wins_i - r.wins_j) / 2 - nn * (p1 - p2) / 2;
        hdd = nn * (p1 + p2 - (p1 - p2) * (p1 - p2)) / 4;
        if (grad) grad[n] += r.ties - nn * p3;
        if (info) {
          const T hdt = -nn * p3 * (p1 - p2) / 2;
          info[r.i * m + n] += hdt;
          info[n * m + r.i] += hdt;
          info[r.j * m + n] -= hdt;
          info[n * m + r.j] -= hdt;
          info[n * m + n] += nn * p3 * (T(1) - p3);
        }
      }
      if (grad) {
        grad[r.i] += gd;
        grad[r.j] -= gd;
      }
      if (info) {
        info[r.i * m + r.i] += hdd;
        info[r.j * m + r.j] += hdd;
        info[r.i * m + r.j] -= hdd;
        info[r.j * m + r.i] -= hdd;
      }
    }
    return ll;
  }

  [[nodiscard]] T log_prior(const std::vector<T>& x) const {
    T s = T(0);
    for (index_t i = 0; i < n; ++i) s += x[i] * x[i];
    return -T(0.5) * prior_precision * s;
  }

  /// log posterior, its gradient and (optionally) the negative Hessian, all including the prior.
  T evaluate(const std::vector<T>& x, std::vector<T>& grad, std::vector<T>* info) const {
    const index_t m = dim();
    std::fill(grad.begin(), grad.end(), T(0));
    if (info) info->assign(static_cast<std::size_t>(m * m), T(0));
    const T ll = log_likelihood(x, grad.data(), info ? info->data() : nullptr);
    for (index_t i = 0; i < n; ++i) {
      grad[i] -= prior_precision * x[i];
      if (info) (*info)[i * m + i] += prior_precision;
    }
    return ll + log_prior(x);
  }

  /// log posterior only (line-search trial points).
  T value(const std::vector<T>& x) const { return log_likelihood(x, nullptr, nullptr) + log_prior(x); }

  /// Without a prior the information is singular along u = (1..1, 0); adding u u^T / n makes it
  /// positive definite without changing Newton steps (the gradient is orthogonal to u).
  void fix_gauge(std::vector<T>& info) const {
    if (prior_precision > T(0)) return;
    const index_t m = dim();
    const T c = T(1) / static_cast<T>(n);
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) info[i * m + j] += c;
  }
};

template <class T>
T max_abs(const std::vector<T>& v) {
  T m = T(0);
  for (T x : v) m = std::max(m, std::fabs(x));
  return m;
}

template <class T>
void center_theta(std::vector<T>& x, index_t n) {
  T mean = T(0);
  for (index_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<T>(n);
  for (index_t i = 0; i < n; ++i) x[i] -= mean;
}

/// Newton with Armijo backtracking. Returns false when the information matrix cannot be
/// factorised (numerically singular), so the caller can fall back to MM.
template <class T>
bool bt_newton(const bt_objective<T>& f, std::vector<T>& x, index_t max_iter, T tol,
               bt_result<T>& res) {
  const index_t m = f.dim();
  std::vector<T> g(static_cast<std::size_t>(m)), step(g.size()), x_try(g.size());
  std::vector<T> info;
  T fx = f.evaluate(x, g, &info);
  for (index_t it = 0; it < max_iter; ++it) {
    f.fix_gauge(info);
    if (!cholesky_factor(info, m)) return false;
    step = g;
    cholesky_solve(info, m, step.data());
    T slope = T(0);
    for (index_t k = 0; k < m; ++k) slope += g[k] * step[k];
    // Near the optimum the gain of a Newton step is below the rounding error of the summed
    // log-likelihood; accept such steps rather than mistaking roundoff for an ascent failure.
    const T noise = 16 * std::numeric_limits<T>::epsilon() * (T(1) + std::fabs(fx));
    T t = T(1);
    T f_try = fx;
    bool accepted = false;
    for (int halvings = 0; halvings < 60; ++halvings, t /= 2) {
      for (index_t k = 0; k < m; ++k) x_try[k] = x[k] + t * step[k];
      f_try = f.value(x_try);
      if (std::isfinite(f_try) && f_try >= fx + T(1e-4) * t * slope - noise) {
        accepted = true;
        break;
      }
    }
    res.iterations = it + 1;
    const T change = t * max_abs(step);
    if (!accepted) {  // no ascent possible in floating point: we are at the optimum
      res.converged = slope <= std::numeric_limits<T>::epsilon() * (T(1) + std::fabs(fx)) * 100;
      return true;
    }
    x.swap(x_try);
    fx = f.evaluate(x, g, &info);
    if (change <= tol * (T(1) + max_abs(x))) {
      res.converged = true;
      return true;
    }
  }
  return true;
}

/// Boehning-Lindsay quadratic-bound MM: x += B^-1 grad with a fixed curvature bound B.
template <class T>
void bt_mm(const bt_objective<T>& f, std::vector<T>& x, index_t max_iter, T tol,
           bt_result<T>& res) {
  const index_t m = f.dim(), n = f.n;
  std::vector<T> bound(static_cast<std::size_t>(m * m), T(0));
  T total = T(0);
  for (const auto& r : f.pairs) {
    const T q = r.total() / 4;
    bound[r.i * m + r.i] += q;
    bound[r.j * m + r.j] += q;
    bound[r.i * m + r.j] -= q;
    bound[r.j * m + r.i] -= q;
    total += r.total();
  }
  for (index_t i = 0; i < n; ++i) bound[i * m + i] += f.prior_precision;
  if (m > n) bound[n * m + n] = total / 2;
  f.fix_gauge(bound);
  require(cholesky_factor(bound, m), "pairs", static_cast<long long>(f.pairs.size()),
          "Bradley-Terry MM: the comparison graph is not connected");
  std::vector<T> g(static_cast<std::size_t>(m));
  for (index_t it = 0; it < max_iter; ++it) {
    f.evaluate(x, g, nullptr);
    cholesky_solve(bound, m, g.data());
    for (index_t k = 0; k < m; ++k) x[k] += g[k];
    res.iterations = it + 1;
    if (max_abs(g) <= tol * (T(1) + max_abs(x))) {
      res.converged = true;
      return;
    }
  }
}

/// Exact standard errors of the requested items from a dense covariance (row-major m x m).
template <class T>
void select_std_errors(const std::vector<T>& cov, index_t m, index_t anchor,
                       std::span<const index_t> items, std::vector<T>& out) {
  out.clear();
  for (const index_t i : items) {
    const T v = anchor < 0 ? cov[i * m + i]
                           : cov[i * m + i] + cov[anchor * m + anchor] - 2 * cov[i * m + anchor];
    out.push_back(std::sqrt(std::max(v, T(0))));
  }
}

/// The sparse path of fit_bradley_terry (validated inputs, half-win ties, x = start).
template <class T>
bt_result<T> fit_bt_sparse(const bt_objective<T>& dense_f, std::vector<T>& x, const bt_options<T>& opt) {
  const index_t n = dense_f.n;
  const bool has_prior = dense_f.prior_precision > T(0);
  sparse_bt_problem<T> f(n, dense_f.pairs, dense_f.prior_precision, opt.threads);
  bt_result<T> res;
  res.solver_used = bt_solver::newton;
  res.method_used = bt_method::sparse;
  const auto st = sparse_bt_newton(f, x, opt.max_iterations, opt.tolerance);
  res.iterations = st.iterations;
  res.cg_iterations = st.cg_iterations;
  res.converged = st.converged;
  if (!has_prior) center_theta(x, n);
  std::vector<T> g, diag;
  res.log_likelihood = f.evaluate(x, g, diag);
  res.log_posterior = res.log_likelihood + f.log_prior(x);
  res.gradient_norm = max_abs(g);
  const index_t a = opt.anchor.value_or(-1);
  if (opt.standard_errors) {
    if (n <= opt.exact_std_error_max_items) {
      // Affordable: the dense covariance, exactly as on the dense path.
      std::vector<T> gd(static_cast<std::size_t>(n)), info;
      dense_f.evaluate(x, gd, &info);
      dense_f.fix_gauge(info);
      std::vector<T> cov;
      if (cholesky_factor(info, n)) {
        cov = cholesky_inverse(info, n);
        if (!has_prior)
          for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < n; ++j) cov[i * n + j] -= T(1) / static_cast<T>(n);
      } else {
        cov.assign(static_cast<std::size_t>(n * n), std::numeric_limits<T>::quiet_NaN());
      }
      res.std_error.resize(static_cast<std::size_t>(n));
      for (index_t i = 0; i < n; ++i) {
        const T v = a < 0 ? cov[i * n + i] : cov[i * n + i] + cov[a * n + a] - 2 * cov[i * n + a];
        res.std_error[i] = std::sqrt(std::max(v, T(0)));
      }
      select_std_errors(cov, n, a, opt.std_error_items, res.selected_std_error);
    } else {
      sparse_bt_std_errors(f, diag, a, opt.std_error_items, opt.threads, &res.std_error,
                           res.selected_std_error);
      res.std_error_approximate = true;
    }
  } else if (!opt.std_error_items.empty()) {
    sparse_bt_std_errors<T>(f, diag, a, opt.std_error_items, opt.threads, nullptr,
                            res.selected_std_error);
  }
  if (a >= 0) {
    const T shift = x[a];
    for (T& t : x) t -= shift;
  }
  res.theta = std::move(x);
  return res;
}

}  // namespace detail

/// Log-likelihood of Bradley-Terry parameters on the comparisons and its gradient
/// (size n, or n + 1 with d/d log_nu last for Davidson). No prior term.
template <class T>
T bt_log_likelihood(const comparison_data<T>& data, std::span<const T> theta,
                    tie_model ties = tie_model::half_win, T log_nu = T(0),
                    std::vector<T>* gradient = nullptr) {
  const index_t n = data.num_items();
  require_same_size("theta.size()", static_cast<long long>(theta.size()), "num_items()", n);
  detail::bt_objective<T> f{n, data.pairs(), ties, T(0)};
  std::vector<T> x(theta.begin(), theta.end());
  if (ties == tie_model::davidson) x.push_back(log_nu);
  if (gradient) gradient->assign(x.size(), T(0));
  return f.log_likelihood(x, gradient ? gradient->data() : nullptr, nullptr);
}

/// Fits Bradley-Terry to aggregated pair records over n items (names only for error messages).
template <class T>
bt_result<T> fit_bradley_terry(index_t n, std::span<const pair_record<T>> pairs,
                               const bt_options<T>& opt = {},
                               const std::vector<std::string>* names = nullptr) {
  require(n >= 1, "num_items", n, "need at least one item");
  require(std::isfinite(opt.prior_sigma) && opt.prior_sigma >= T(0), "prior_sigma",
          opt.prior_sigma, "must be finite and >= 0 (0 = no prior)");
  // The prior enters as the precision 1 / sigma^2; an infinite one made both factorisations fail
  // and surfaced as "the comparison graph is not connected".
  require(opt.prior_sigma == T(0) || std::isfinite(T(1) / (opt.prior_sigma * opt.prior_sigma)),
          "prior_sigma", opt.prior_sigma, "is so small that 1 / prior_sigma^2 overflows");
  require(!opt.anchor || (*opt.anchor >= 0 && *opt.anchor < n), "anchor", opt.anchor.value_or(-1),
          "must be an item id in [0, num_items)");
  require(opt.max_iterations >= 1, "max_iterations", opt.max_iterations, "must be >= 1");
  require_positive_finite("tolerance", opt.tolerance);
  require(opt.initial_theta.empty() || static_cast<index_t>(opt.initial_theta.size()) == n,
          "initial_theta.size()", opt.initial_theta.size(), "must be 0 or num_items");
  for (std::size_t k = 0; k < opt.initial_theta.size(); ++k)
    if (!std::isfinite(opt.initial_theta[k]))  // message built on failure only (10^6 items)
      require_finite("initial_theta[" + std::to_string(k) + "]", opt.initial_theta[k]);
  // The raw-span overload is public: check the records here, not only in require_bt_estimable
  // (skipped under a prior), so a bad index cannot write outside the gradient / information.
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const auto& r = pairs[k];
    const auto at = [k] { return "pairs[" + std::to_string(k) + "]"; };  // built on failure only
    if (!(r.i >= 0 && r.i < r.j && r.j < n))
      throw_invalid_argument(at() + ".j", r.j,
                             "pair records need 0 <= i < j < num_items (i = " +
                                 std::to_string(r.i) + ", num_items = " + std::to_string(n) + ")");
    // A named array, not a braced list in the range-for: nvcc's front end (CUDA 13.0) rewrites
    // `for (x : {a, b})` into a GNU statement expression that the host compiler rejects.
    const T weights[] = {r.wins_i, r.wins_j, r.ties};
    for (const T w : weights)
      if (!(std::isfinite(w) && w >= T(0)))
        throw_invalid_argument(at() + " weight", w, "must be finite and >= 0");
  }
  require(opt.sparse_min_items >= 1, "sparse_min_items", opt.sparse_min_items, "must be >= 1");
  require(opt.exact_std_error_max_items >= 0, "exact_std_error_max_items",
          opt.exact_std_error_max_items, "must be >= 0");
  require(opt.threads >= 0, "threads", opt.threads, "must be >= 0 (0 = all cores)");
  for (std::size_t k = 0; k < opt.std_error_items.size(); ++k)
    require(opt.std_error_items[k] >= 0 && opt.std_error_items[k] < n,
            "std_error_items[" + std::to_string(k) + "]", opt.std_error_items[k],
            "must be an item id in [0, num_items)");
  const bool sparse = opt.method == bt_method::sparse ||
                      (opt.method == bt_method::automatic && opt.ties == tie_model::half_win &&
                       opt.solver == bt_solver::newton && n >= opt.sparse_min_items);
  if (sparse) {
    require(opt.ties == tie_model::half_win, "ties", "davidson",
            "the sparse path (method = sparse) supports half-win ties only");
    require(opt.solver == bt_solver::newton, "solver", "mm",
            "the sparse path (method = sparse) is a Newton method");
    require(n < (index_t(1) << 32) && pairs.size() < (std::size_t(1) << 32), "num_items", n,
            "the sparse path needs fewer than 2^32 items and pairs");
  }
  const bool has_prior = opt.prior_sigma > T(0);
  if (!has_prior) require_bt_estimable<T>(n, pairs, names);

  T ties_total = T(0), all_total = T(0);
  for (const auto& r : pairs) {
    ties_total += r.ties;
    all_total += r.total();
  }
  if (opt.ties == tie_model::davidson) {
    require(ties_total > T(0) && ties_total < all_total, "ties (weighted total)", ties_total,
            "the Davidson tie parameter needs both ties and decisive outcomes; with no ties "
            "its estimate is nu = 0 (use tie_model::half_win)");
  }

  detail::bt_objective<T> f{n, pairs, opt.ties, has_prior ? T(1) / (opt.prior_sigma * opt.prior_sigma) : T(0)};
  const index_t m = f.dim();
  std::vector<T> x(static_cast<std::size_t>(m), T(0));
  if (!opt.initial_theta.empty()) std::copy(opt.initial_theta.begin(), opt.initial_theta.end(), x.begin());
  if (!has_prior && n > 0) detail::center_theta(x, n);
  if (m > n) {  // at theta = 0, P(tie) = nu / (2 + nu): start from the observed tie share
    const T share = ties_total / all_total;
    x[n] = std::log(2 * share / (T(1) - share));
  }

  if (sparse) return detail::fit_bt_sparse(f, x, opt);

  bt_result<T> res;
  res.solver_used = opt.solver;
  bool newton_ok = false;
  if (opt.solver == bt_solver::newton) {
    std::vector<T> x_newton = x;
    newton_ok = detail::bt_newton(f, x_newton, opt.max_iterations, opt.tolerance, res);
    if (newton_ok) x.swap(x_newton);
  }
  if (!newton_ok) {
    res.solver_used = bt_solver::mm;
    detail::bt_mm(f, x, opt.mm_max_iterations, opt.tolerance, res);
  }
  if (!has_prior) detail::center_theta(x, n);

  std::vector<T> g(static_cast<std::size_t>(m));
  std::vector<T> info;
  const bool want_cov = opt.standard_errors || !opt.std_error_items.empty();
  res.log_posterior = f.evaluate(x, g, want_cov ? &info : nullptr);
  res.log_likelihood = res.log_posterior - f.log_prior(x);
  res.gradient_norm = detail::max_abs(g);

  const index_t a = opt.anchor.value_or(-1);
  if (want_cov) {
    // Covariance = (information)^-1 with a prior, its pseudo-inverse (sum-to-zero) without:
    // (J + u u^T / n)^-1 = J^+ + u u^T / n for J u = 0, |u|^2 = n.
    f.fix_gauge(info);
    std::vector<T> cov;
    if (detail::cholesky_factor(info, m)) {
      cov = detail::cholesky_inverse(info, m);
      if (!has_prior)
        for (index_t i = 0; i < n; ++i)
          for (index_t j = 0; j < n; ++j) cov[i * m + j] -= T(1) / static_cast<T>(n);
    } else {
      cov.assign(static_cast<std::size_t>(m * m), std::numeric_limits<T>::quiet_NaN());
    }
    if (opt.standard_errors) res.std_error.resize(static_cast<std::size_t>(n));
    for (index_t i = 0; i < static_cast<index_t>(res.std_error.size()); ++i) {
      // Var(theta_i - theta_a) for an anchor, Var(theta_i) for sum-to-zero.
      const T v = a < 0 ? cov[i * m + i]
                        : cov[i * m + i] + cov[a * m + a] - 2 * cov[i * m + a];
      res.std_error[i] = std::sqrt(std::max(v, T(0)));
    }
    if (m > n && opt.standard_errors) res.log_nu_std_error = std::sqrt(std::max(cov[n * m + n], T(0)));
    detail::select_std_errors(cov, m, a, opt.std_error_items, res.selected_std_error);
  }
  if (m > n) res.log_nu = x[n];
  x.resize(static_cast<std::size_t>(n));
  if (a >= 0) {
    const T shift = x[a];
    for (T& t : x) t -= shift;
  }
  res.theta = std::move(x);
  return res;
}

/// Fits Bradley-Terry to a comparison data set (see bt_options for the model choices).
template <class T>
bt_result<T> fit_bradley_terry(const comparison_data<T>& data, const bt_options<T>& opt = {}) {
  return fit_bradley_terry<T>(data.num_items(), data.pairs(), opt, &data.names());
}

}  // namespace prefopt::prefmodel
