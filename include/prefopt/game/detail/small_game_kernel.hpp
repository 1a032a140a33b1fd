#pragma once
// One whole small game solved by a single PREFOPT_HD call: the per-game body of the batched
// solvers (batched.hpp). For games of a handful of strategies a matvec launch per iteration would
// be all overhead, so every game runs all its iterations inside one B::for_each invocation (one
// CUDA thread per game). Same rules and conventions as mirror_dynamics.hpp.

#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/mirror_dynamics.hpp"

namespace prefopt::game::detail {

using prefopt::detail::exp_;
using prefopt::detail::log_;
using prefopt::detail::max_;
using prefopt::detail::min_;

template <class T>
struct small_game {
  const T* a;  // row-major m x n
  index_t m, n;
  bool symmetric;
};

/// gx = A y, cy = Aᵀx (cy untouched when symmetric: y = x and Aᵀx = −Ax).
template <class T>
PREFOPT_HD void sg_gradient(const small_game<T>& g, const T* x, const T* y, T* gx, T* cy) {
  const T* yy = g.symmetric ? x : y;
  for (index_t i = 0; i < g.m; ++i) {
    T s = T(0);
    for (index_t j = 0; j < g.n; ++j) s += g.a[i * g.n + j] * yy[j];
    gx[i] = s;
  }
  if (g.symmetric) return;
  for (index_t j = 0; j < g.n; ++j) cy[j] = T(0);
  for (index_t i = 0; i < g.m; ++i)
    for (index_t j = 0; j < g.n; ++j) cy[j] += g.a[i * g.n + j] * x[i];
}

/// l ← l + s·d, then p = softmax(l) and l renormalised to log p.
template <class T>
PREFOPT_HD void sg_step(T* l, const T* d, T s, T* p, index_t k) {
  T mx = l[0] + s * d[0];
  for (index_t i = 0; i < k; ++i) {
    l[i] += s * d[i];
    mx = max_(mx, l[i]);
  }
  T sum = T(0);
  for (index_t i = 0; i < k; ++i) sum += exp_(l[i] - mx);
  const T lse = mx + log_(sum);
  for (index_t i = 0; i < k; ++i) {
    l[i] -= lse;
    p[i] = probability_from_log(l[i]);
  }
}

template <class T>
PREFOPT_HD T sg_max(const T* v, index_t k) {
  T mx = v[0];
  for (index_t i = 1; i < k; ++i) mx = max_(mx, v[i]);
  return mx;
}

template <class T>
PREFOPT_HD T sg_min(const T* v, index_t k) {
  T mn = v[0];
  for (index_t i = 1; i < k; ++i) mn = min_(mn, v[i]);
  return mn;
}

/// Exploitability and value of (x, y), using gx / cy as scratch.
template <class T>
PREFOPT_HD void sg_evaluate(const small_game<T>& g, const T* x, const T* y, T* gx, T* cy,
                            T& exploitability, T& value) {
  sg_gradient(g, x, y, gx, cy);
  T v = T(0);
  for (index_t i = 0; i < g.m; ++i) v += x[i] * gx[i];
  value = v;
  exploitability = g.symmetric ? sg_max(gx, g.m) : (sg_max(gx, g.m) - sg_min(cy, g.n)) / T(2);
}

/// Runs the dynamics on one game. x, y, ax, ay: outputs (last and average; y / ay unused when
/// symmetric); work: 8 (m + n) scalars. out[0..3] = exploitability last / average, value last /
/// average (without offset).
template <class T>
PREFOPT_HD void sg_solve(const small_game<T>& g, dynamics_rule rule, T eta, index_t iters, T* x,
                         T* y, T* ax, T* ay, T* work, T* out) {
  const index_t m = g.m, n = g.n;
  T* lx = work;
  T* ly = lx + m;
  T* gx = ly + n;
  T* cy = gx + m;
  T* px = cy + n;  // previous gradient (optimistic) / midpoint logits (extragradient)
  T* pc = px + m;
  T* hx = pc + n;  // midpoint strategies (extragradient) / optimistic direction
  T* hy = hx + m;
  if (g.symmetric) y = x, ay = ax;
  for (index_t i = 0; i < m; ++i) x[i] = T(1) / T(m), lx[i] = -log_(T(m)), ax[i] = T(0);
  if (!g.symmetric)
    for (index_t j = 0; j < n; ++j) y[j] = T(1) / T(n), ly[j] = -log_(T(n)), ay[j] = T(0);

  auto accumulate = [&](const T* sx, const T* sy, index_t t) {
    const T w = T(1) / T(t + 1);
    for (index_t i = 0; i < m; ++i) ax[i] += w * (sx[i] - ax[i]);
    if (!g.symmetric)
      for (index_t j = 0; j < n; ++j) ay[j] += w * (sy[j] - ay[j]);
  };
  for (index_t t = 0; t < iters; ++t) {
    sg_gradient(g, x, y, gx, cy);
    if (rule == dynamics_rule::extragradient) {
      for (index_t i = 0; i < m; ++i) px[i] = lx[i];
      sg_step(px, gx, eta, hx, m);
      if (!g.symmetric) {
        for (index_t j = 0; j < n; ++j) pc[j] = ly[j];
        sg_step(pc, cy, -eta, hy, n);
      }
      const T* mid_y = g.symmetric ? hx : hy;
      accumulate(hx, mid_y, t);
      sg_gradient(g, hx, mid_y, gx, cy);
    } else {
      accumulate(x, y, t);
      if (rule == dynamics_rule::optimistic) {
        if (t == 0) {
          for (index_t i = 0; i < m; ++i) px[i] = gx[i];
          for (index_t j = 0; j < n && !g.symmetric; ++j) pc[j] = cy[j];
        }
        for (index_t i = 0; i < m; ++i) hx[i] = T(2) * gx[i] - px[i], px[i] = gx[i], gx[i] = hx[i];
        for (index_t j = 0; j < n && !g.symmetric; ++j)
          hy[j] = T(2) * cy[j] - pc[j], pc[j] = cy[j], cy[j] = hy[j];
      }
    }
    sg_step(lx, gx, eta, x, m);
    if (!g.symmetric) sg_step(ly, cy, -eta, y, n);
  }
  sg_evaluate(g, x, y, gx, cy, out[0], out[2]);
  sg_evaluate(g, ax, ay, gx, cy, out[1], out[3]);
}

}  // namespace prefopt::game::detail
