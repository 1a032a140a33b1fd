#pragma once
// General (possibly non-transitive) preference versus Bradley-Terry.
//
// Bradley-Terry forces P(i beats j) = sigma(theta_i - theta_j): a single ranking, so
// "i beats j beats k beats i" (rock-paper-scissors) cannot be expressed. A general preference
// matrix P (preference_matrix.hpp) only needs P + P^T = 1. This header builds such matrices
// from scorers and data and measures how far a matrix or a data set is from transitivity:
//
//  * symmetrise: PairRM-style pairwise rankers (llm-blender, Jiang et al. 2023) score an ordered
//    pair s(a, b) and are not antisymmetric (position bias); P(a > b) = sigma((s(a,b) - s(b,a))/2)
//    averages both orders and is a valid preference matrix by construction.
//  * cyclic_triad_share: share of decided triples {i, j, k} forming a cycle in the majority
//    tournament (Kendall & Babington Smith 1940); 0 for any BT matrix.
//  * bt_projection: the best BT fit to a matrix (cross-entropy), with its worst-case error.
//  * bt_deviance: 2 x (saturated log-likelihood - BT log-likelihood) on comparison counts, the
//    likelihood-ratio statistic of "BT holds", chi-square with (pairs - n + 1) degrees of freedom
//    when it does.
//  * log_likelihood of comparison counts under any preference matrix, for held-out evaluation of
//    BT, GPM or empirical models alike (ties count half, as in the half_win BT model).

#include <cmath>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/prefmodel/bradley_terry.hpp"
#include "prefopt/prefmodel/comparisons.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::prefmodel {

/// PairRM-style symmetrisation of a pairwise scorer s(a, b) -> T (higher = a preferred):
/// P(a > b) = sigma((s(a, b) - s(b, a)) / 2); P(a, a) = 1/2. Calls s once per ordered pair.
template <class T, class Scorer>
preference_matrix<T> symmetrise(index_t n, Scorer&& score) {
  require(n >= 1, "n", n, "need at least one item");
  std::vector<T> p(static_cast<std::size_t>(n * n), T(0.5));
  for (index_t a = 0; a < n; ++a)
    for (index_t b = a + 1; b < n; ++b) {
      const T sab = static_cast<T>(score(a, b)), sba = static_cast<T>(score(b, a));
      for (const auto& [x, y, s] : {std::tuple{a, b, sab}, std::tuple{b, a, sba}})
        require(std::isfinite(s), "score(" + std::to_string(x) + ", " + std::to_string(y) + ")",
                s, "scores must be finite");
      const T d = (sab - sba) / 2;
      p[a * n + b] = sigmoid(d);
      p[b * n + a] = sigmoid(-d);  // = 1 - P(a, b) without cancellation
    }
  return preference_matrix<T>(n, std::move(p));
}

/// Symmetrisation of a dense row-major matrix of raw ordered-pair scores.
template <class T>
preference_matrix<T> symmetrise(index_t n, std::span<const T> raw_scores) {
  require_same_size("raw_scores.size()", static_cast<long long>(raw_scores.size()), "n * n", n * n);
  return symmetrise<T>(n, [&](index_t a, index_t b) { return raw_scores[a * n + b]; });
}

/// The Bradley-Terry preference matrix P(i, j) = sigma(theta_i - theta_j).
template <class T>
preference_matrix<T> bt_preference_matrix(std::span<const T> theta) {
  const auto n = static_cast<index_t>(theta.size());
  require(n >= 1, "theta.size()", n, "need at least one item");
  std::vector<T> p(static_cast<std::size_t>(n * n));
  for (index_t i = 0; i < n; ++i) {
    require_finite("theta[i]", theta[i]);
    for (index_t j = 0; j < n; ++j) p[i * n + j] = i == j ? T(0.5) : sigmoid(theta[i] - theta[j]);
  }
  return preference_matrix<T>(n, std::move(p));
}

/// Empirical win rates (wins + ties/2) / comparisons, with `pseudo_count` virtual comparisons
/// at 1/2 added to every pair (uncompared pairs get 1/2).
template <class T>
preference_matrix<T> empirical_preference_matrix(const comparison_data<T>& data, T pseudo_count = T(0)) {
  require(std::isfinite(pseudo_count) && pseudo_count >= T(0), "pseudo_count", pseudo_count, "must be finite and >= 0");
  const index_t n = data.num_items();
  std::vector<T> p(static_cast<std::size_t>(n * n), T(0.5));
  for (const auto& r : data.pairs()) {
    const T total = r.total() + pseudo_count;
    if (!(total > T(0))) continue;
    const T pij = (r.wins_i + r.ties / 2 + pseudo_count / 2) / total;
    p[r.i * n + r.j] = pij;
    p[r.j * n + r.i] = (r.wins_j + r.ties / 2 + pseudo_count / 2) / total;
  }
  return preference_matrix<T>(n, std::move(p), T(1e-9));
}

/// Log-likelihood of comparison counts under P (ties count half a win for each side). Items are
/// matched by id; -inf when a model gives probability 0 to an observed outcome.
template <class T>
T log_likelihood(const preference_matrix<T>& p, const comparison_data<T>& data) {
  require_same_size("data.num_items()", data.num_items(), "P.size()", p.size());
  T ll = T(0);
  for (const auto& r : data.pairs()) {
    const T a = r.wins_i + r.ties / 2, b = r.wins_j + r.ties / 2;
    if (a > T(0)) ll += a * std::log(p(r.i, r.j));
    if (b > T(0)) ll += b * std::log(p(r.j, r.i));
  }
  return ll;
}

/// Share of cyclic triads in the majority tournament of P: i -> j when P(i, j) > 1/2 + margin.
/// Only triples whose three pairs are all decided count. 0 when no triple is decided.
template <class T>
T cyclic_triad_share(const preference_matrix<T>& p, T margin = T(0)) {
  require(std::isfinite(margin) && margin >= T(0) && margin < T(0.5), "margin", margin, "must lie in [0, 1/2)");
  const index_t n = p.size();
  // beats(i, j) = +1 if i -> j, -1 if j -> i, 0 if undecided
  auto dir = [&](index_t i, index_t j) -> int {
    const T x = p(i, j) - T(0.5);
    return x > margin ? 1 : (x < -margin ? -1 : 0);
  };
  long long decided = 0, cyclic = 0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) {
      const int ij = dir(i, j);
      if (ij == 0) continue;
      for (index_t k = j + 1; k < n; ++k) {
        const int jk = dir(j, k), ki = dir(k, i);
        if (jk == 0 || ki == 0) continue;
        ++decided;
        if (ij == jk && jk == ki) ++cyclic;  // i->j->k->i or the reverse cycle
      }
    }
  return decided == 0 ? T(0) : static_cast<T>(cyclic) / static_cast<T>(decided);
}

template <class T = double>
struct bt_projection_result {
  std::vector<T> theta;  // sum-to-zero
  T max_abs_error = 0;   // max_{i != j} |P(i, j) - sigma(theta_i - theta_j)|
  T mean_kl = 0;         // mean over ordered pairs i != j of KL(Bernoulli P_ij || BT_ij)
};

/// Best Bradley-Terry approximation of a general preference matrix: maximises
/// sum_{i != j} P(i, j) log sigma(theta_i - theta_j) (BT fit to one fractional comparison per
/// pair; a small ridge keeps 0/1 entries finite).
template <class T>
bt_projection_result<T> bt_projection(const preference_matrix<T>& p, T prior_sigma = T(100)) {
  const index_t n = p.size();
  comparison_data<T> data(n);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) {
      if (p(i, j) > T(0)) data.add(i, j, outcome::model_a_wins, p(i, j));
      if (p(j, i) > T(0)) data.add(j, i, outcome::model_a_wins, p(j, i));
    }
  bt_options<T> opt;
  opt.prior_sigma = prior_sigma;
  opt.standard_errors = false;
  bt_projection_result<T> res;
  res.theta = fit_bradley_terry(data, opt).theta;
  long long count = 0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const T q = sigmoid(res.theta[i] - res.theta[j]), x = p(i, j);
      res.max_abs_error = std::max(res.max_abs_error, std::fabs(x - q));
      if (x > T(0)) res.mean_kl += x * std::log(x / q);
      if (x < T(1)) res.mean_kl += (T(1) - x) * std::log((T(1) - x) / (T(1) - q));
      ++count;
    }
  if (count) res.mean_kl /= static_cast<T>(count);
  return res;
}

template <class T = double>
struct bt_deviance_result {
  T deviance = 0;       // 2 (LL_saturated - LL_BT), ties counted half
  index_t dof = 0;      // compared pairs - (n - 1)
  T ll_bt = 0, ll_saturated = 0;
};

/// Likelihood-ratio statistic of Bradley-Terry against the saturated per-pair model (a measure
/// of intransitivity in data: ~dof when BT holds, much larger for cyclic preferences).
template <class T>
bt_deviance_result<T> bt_deviance(const comparison_data<T>& data, const bt_options<T>& opt = {}) {
  bt_options<T> o = opt;
  o.ties = tie_model::half_win;
  o.standard_errors = false;
  const auto fit = fit_bradley_terry(data, o);
  bt_deviance_result<T> res;
  res.ll_bt = fit.log_likelihood;
  res.ll_saturated = log_likelihood(empirical_preference_matrix(data), data);
  res.deviance = std::max(T(0), 2 * (res.ll_saturated - res.ll_bt));
  index_t compared = 0;
  for (const auto& r : data.pairs()) compared += r.total() > T(0);
  res.dof = compared - (data.num_items() - 1);
  return res;
}

}  // namespace prefopt::prefmodel
