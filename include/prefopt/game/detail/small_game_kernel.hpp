#pragma once
// One whole small game solved by a single PREFOPT_HD call: the per-game body of the batched
// solvers (batched.hpp). For games of a handful of strategies a matvec launch per iteration would
// be all overhead, so every game runs all its iterations inside one B::for_each invocation (one
// CUDA thread per game). It runs the loop of mirror_rule.hpp with the same rule object as the
// dense engine (mirror_dynamics.hpp); only the linear algebra is written out as loops.

#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/mirror_rule.hpp"
#include "prefopt/game/profile_values.hpp"

namespace prefopt::game::detail {

using prefopt::detail::exp_;
using prefopt::detail::log_;
using prefopt::detail::max_;

template <class T>
struct small_game {
  const T* a;  // row-major m x n
  index_t m, n;
  bool symmetric;
};

/// gx = A y and gc = −Aᵀx (gc untouched when symmetric: y = x and −Aᵀx = Ax).
template <class T>
PREFOPT_HD void sg_gradients(const small_game<T>& g, const T* x, const T* y, T* gx, T* gc) {
  const T* yy = g.symmetric ? x : y;
  for (index_t i = 0; i < g.m; ++i) {
    T s = T(0);
    for (index_t j = 0; j < g.n; ++j) s += g.a[i * g.n + j] * yy[j];
    gx[i] = s;
  }
  if (g.symmetric) return;
  for (index_t j = 0; j < g.n; ++j) gc[j] = T(0);
  for (index_t i = 0; i < g.m; ++i)
    for (index_t j = 0; j < g.n; ++j) gc[j] -= g.a[i * g.n + j] * x[i];
}

template <class T>
PREFOPT_HD T sg_max(const T* v, index_t k) {
  T mx = v[0];
  for (index_t i = 1; i < k; ++i) mx = max_(mx, v[i]);
  return mx;
}

/// Makes l log-probabilities (subtracts its log-sum-exp) and p = exp(l).
template <class T>
PREFOPT_HD void sg_normalise(T* l, T* p, index_t k) {
  const T mx = sg_max(l, k);
  T sum = T(0);
  for (index_t i = 0; i < k; ++i) sum += exp_(l[i] - mx);
  const T lse = mx + log_(sum);
  for (index_t i = 0; i < k; ++i) {
    l[i] -= lse;
    p[i] = probability_from_log(l[i]);
  }
}

/// Best responses and value of (x, y) (profile_values.hpp), using gx / gc as scratch.
template <class T>
PREFOPT_HD profile_values<T> sg_evaluate(const small_game<T>& g, const T* x, const T* y, T* gx,
                                         T* gc) {
  sg_gradients(g, x, y, gx, gc);
  T v = T(0);
  for (index_t i = 0; i < g.m; ++i) v += x[i] * gx[i];
  const T row_best = sg_max(gx, g.m);
  return {row_best, g.symmetric ? -row_best : -sg_max(gc, g.n), v};
}

/// Scratch scalars per strategy entry of a rule with `stages` stages: L_t, the gradient, the
/// stage point's logits and probabilities, and one previous gradient per stage.
template <class Rule>
inline constexpr index_t sg_work_per_entry = 4 + Rule::stages;

/// One player's start in the batch's memory: log μ, L_0 and z_0, k entries each
/// (mirror_rule.hpp's player_start laid out back to back), shared by every game of the batch.
inline constexpr index_t sg_start_per_entry = 3;

/// One player of one small game: k entries, z_t in `prob` (an output row), the rest in scratch.
template <class T>
struct sg_player {
  T* prob;
  T* log_prob;
  T* gradient;
  T* stage_log;
  T* stage_prob;
  T* previous;  // stages x k
  index_t k;
  const T* log_reference;  // log μ, k entries

  PREFOPT_HD sg_player(T* out, T* work, index_t size, const T* start) : prob(out), k(size) {
    log_prob = work, gradient = work + k, stage_log = work + 2 * k, stage_prob = work + 3 * k;
    previous = work + 4 * k;
    log_reference = start;
    for (index_t i = 0; i < k; ++i) log_prob[i] = start[k + i], prob[i] = start[2 * k + i];
  }

  /// Stage s of the rule: into the stage point, or at the last stage into z_{t+1}.
  template <class Rule>
  PREFOPT_HD void advance(const Rule& rule, T eta, index_t t, int s) {
    const bool last = s + 1 == Rule::stages;
    T* prev = previous + s * k;
    T* out_log = last ? log_prob : stage_log;  // in place is safe: entry i reads only entry i
    for (index_t i = 0; i < k; ++i) {
      if (t == 0) prev[i] = gradient[i];
      out_log[i] = rule.step(mirror_entry<T>{log_prob[i], gradient[i], prev[i],
                                             log_reference[i], eta, t, s});
      prev[i] = gradient[i];
    }
    sg_normalise(out_log, last ? prob : stage_prob, k);
  }
  [[nodiscard]] PREFOPT_HD const T* point(int s) const { return s == 0 ? prob : stage_prob; }
};

/// What sg_solve measures at one profile: the plain game's values and the exploitability of the
/// game the rule targets (regularised for a kl_regularised_rule, else the plain one).
template <class T>
struct sg_measure {
  profile_values<T> values;
  T regularised_exploitability;
};

/// Runs the rule on one game. x, y, ax, ay: outputs (last and average; y / ay unused when
/// symmetric); work: sg_work_per_entry<Rule> · (m + n) scalars; start: the row player's
/// sg_start_per_entry · m scalars followed by the column player's (n entries; unused when
/// symmetric).
template <class T, class Rule>
PREFOPT_HD void sg_solve(const small_game<T>& g, const Rule& rule, T eta, index_t iters, T* x,
                         T* y, T* ax, T* ay, T* work, const T* start, sg_measure<T>& last,
                         sg_measure<T>& average) {
  const index_t m = g.m, n = g.n;
  sg_player<T> row(x, work, m, start);
  sg_player<T> col(y, work + sg_work_per_entry<Rule> * m, g.symmetric ? 1 : n,
                   start + sg_start_per_entry * m);
  if (g.symmetric) y = x, ay = ax;
  for (index_t i = 0; i < m; ++i) ax[i] = T(0);
  for (index_t j = 0; j < n && !g.symmetric; ++j) ay[j] = T(0);

  for (index_t t = 0; t < iters; ++t) {
    for (int s = 0; s < Rule::stages; ++s) {
      const T* wx = row.point(s);  // the stage point w_s (w_0 = z_t)
      const T* wy = g.symmetric ? wx : col.point(s);
      sg_gradients(g, wx, wy, row.gradient, col.gradient);
      if (s == Rule::averaged_stage) {
        const T w = T(1) / T(t + 1);  // running mean over t + 1 points
        for (index_t i = 0; i < m; ++i) ax[i] += w * (wx[i] - ax[i]);
        for (index_t j = 0; j < n && !g.symmetric; ++j) ay[j] += w * (wy[j] - ay[j]);
      }
      row.advance(rule, eta, t, s);
      if (!g.symmetric) col.advance(rule, eta, t, s);
    }
  }
  const double lambda = rule_kl_weight(rule);
  const T* log_mu_y = g.symmetric ? row.log_reference : col.log_reference;
  auto measure = [&](const T* px, const T* py) {
    const profile_values<T> v = sg_evaluate(g, px, py, row.gradient, col.gradient);
    // sg_evaluate left A y in row.gradient and (general games) −Aᵀx in col.gradient.
    const T regularised =
        lambda == 0.0 ? v.exploitability()
        : g.symmetric ? regularised_exploitability(px, row.gradient, row.log_reference, m, px,
                                                   row.gradient, row.log_reference, m, lambda)
                      : regularised_exploitability(px, row.gradient, row.log_reference, m, py,
                                                   col.gradient, log_mu_y, n, lambda);
    return sg_measure<T>{v, regularised};
  };
  last = measure(x, y);
  average = measure(ax, ay);
}

}  // namespace prefopt::game::detail
