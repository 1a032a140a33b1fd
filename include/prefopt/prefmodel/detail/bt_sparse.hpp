#pragma once
// The sparse Bradley-Terry path (half-win ties): Newton's method whose linear systems are solved
// by preconditioned conjugate gradients on the graph-Laplacian-structured information matrix.
//
// With h_ij = (a_ij + b_ij) p_ij (1 - p_ij) per compared pair, the negative Hessian of the
// log-likelihood is the weighted Laplacian L_h = D_h - A_h, plus (1 / sigma^2) I under a prior.
// It is never formed: CG only needs products L_h v, which cost O(pairs) on a compressed adjacency
// (CSR, one entry per direction of each pair). Memory is O(n + pairs). The preconditioner is the
// diagonal D_h (Jacobi): on comparison graphs that are expanders (random pairings, arenas) the
// normalised Laplacian D^-1/2 L D^-1/2 has its nonzero spectrum in a narrow band around 1, so CG
// converges in tens of iterations independent of n. Without a prior L_h is singular along
// (1, ..., 1); the gradient is orthogonal to it, and projecting every preconditioned residual
// keeps CG on the sum-to-zero plane, where L_h is positive definite for an estimable data set.
// Newton uses inexact solves (relative residual sqrt(|g| / |g_0|), clamped to [1e-10, 0.5]: loose
// far from the optimum, tight near it) and the same Armijo backtracking as the dense path.
//
// Determinism: per-pair quantities are computed in parallel blocks but every reduction is either
// per row over that row's CSR entries (fixed order) or over fixed-size chunks summed in order,
// so the result is bit-identical for every thread count.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/prefmodel/comparisons.hpp"
#include "prefopt/prefmodel/detail/pair_graph.hpp"

namespace prefopt::prefmodel::detail {

template <class T>
class sparse_bt_problem {
 public:
  static constexpr std::size_t chunk = 8192;  // pairs per reduction block (fixed: determinism)

  sparse_bt_problem(index_t n, std::span<const pair_record<T>> pairs, T prior_precision, int threads)
      : n_(n), prior_(prior_precision), threads_(threads) {
    // Pairs are renumbered in (i, j) order -- the rows of the "upper" adjacency (i -> j > i) --
    // so every per-pair pass and each row's upper entries stream through memory; only the
    // "lower" entries (j -> i < j) gather from a pair index, once per Newton evaluation.
    std::vector<std::size_t> kept;
    for (std::size_t p = 0; p < pairs.size(); ++p)
      if (pairs[p].total() > T(0)) kept.push_back(p);  // a zero-weight pair contributes nothing
    const csr_graph upper = csr_from_edges(n, [&](auto&& emit) {
      for (std::size_t k = 0; k < kept.size(); ++k) emit(pairs[kept[k]].i, pairs[kept[k]].j, k);
    });
    upper_offset_ = upper.offset;
    const std::size_t m = kept.size();
    i_.resize(m);
    j_ = upper.neighbour;
    a_.resize(m);
    b_.resize(m);
    for (index_t r = 0; r < n; ++r)
      for (std::int64_t e = upper.offset[r]; e < upper.offset[r + 1]; ++e) {
        const auto& rec = pairs[kept[upper.pair[static_cast<std::size_t>(e)]]];
        const auto q = static_cast<std::size_t>(e);
        i_[q] = static_cast<std::uint32_t>(r);
        a_[q] = rec.wins_i + T(0.5) * rec.ties;
        b_[q] = rec.wins_j + T(0.5) * rec.ties;
      }
    lower_ = csr_from_edges(n, [this](auto&& emit) {
      for (std::size_t q = 0; q < i_.size(); ++q) emit(j_[q], i_[q], q);
    });
    pair_g_.resize(m);
    pair_h_.resize(m);
    // Curvatures of the lower entries copied in their CSR order: the CG product then streams
    // them instead of gathering from the pair array (a cache miss per entry at 10^6 pairs).
    lower_h_.resize(lower_.neighbour.size());
    partial_.resize((m + chunk - 1) / chunk);
  }

  [[nodiscard]] index_t n() const { return n_; }
  [[nodiscard]] T prior_precision() const { return prior_; }
  [[nodiscard]] bool singular() const { return prior_ == T(0); }

  /// Log-likelihood (no prior) at x; fills the per-pair gradient and curvature, then per item
  /// the gradient of the log posterior and the diagonal of its negative Hessian.
  T evaluate(const std::vector<T>& x, std::vector<T>& grad, std::vector<T>& diag) {
    const auto chunks = static_cast<index_t>(partial_.size());
    prefopt::detail::parallel_blocks(chunks, threads_, 4, [&](index_t c0, index_t c1) {
      for (index_t c = c0; c < c1; ++c) {
        const std::size_t p0 = static_cast<std::size_t>(c) * chunk;
        const std::size_t p1 = std::min(p0 + chunk, i_.size());
        T ll = T(0);
        for (std::size_t p = p0; p < p1; ++p) {
          // Same fused stable branches as the dense objective (bradley_terry.hpp).
          const T d = x[i_[p]] - x[j_[p]];
          const T a = a_[p], b = b_[p];
          const T e = std::exp(-std::fabs(d));
          const T l1p = std::log1p(e);
          const T ls = d >= T(0) ? -l1p : d - l1p;
          ll += a * ls + b * (ls - d);
          const T prob = d >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
          pair_g_[p] = a - (a + b) * prob;
          pair_h_[p] = (a + b) * prob * (T(1) - prob);
        }
        partial_[static_cast<std::size_t>(c)] = ll;
      }
    });
    T ll = T(0);
    for (T v : partial_) ll += v;
    grad.resize(static_cast<std::size_t>(n_));
    diag.resize(grad.size());
    rows([&](index_t r) {
      T g = T(0), h = T(0);
      for (std::int64_t e = upper_offset_[r]; e < upper_offset_[r + 1]; ++e) {
        const auto q = static_cast<std::size_t>(e);
        g += pair_g_[q];
        h += pair_h_[q];
      }
      for (std::int64_t e = lower_.offset[r]; e < lower_.offset[r + 1]; ++e) {
        const auto k = static_cast<std::size_t>(e);
        const std::uint32_t q = lower_.pair[k];
        g -= pair_g_[q];
        h += pair_h_[q];
        lower_h_[k] = pair_h_[q];
      }
      grad[r] = g - prior_ * x[r];
      diag[r] = h + prior_;
    });
    return ll;
  }

  [[nodiscard]] T log_prior(const std::vector<T>& x) const {
    T s = T(0);
    for (T v : x) s += v * v;
    return -T(0.5) * prior_ * s;
  }

  /// y = J v with J = L_h + prior I at the last evaluated point (diag from evaluate()).
  void apply(const std::vector<T>& diag, const std::vector<T>& v, std::vector<T>& y) const {
    y.resize(v.size());
    rows([&](index_t r) {
      T s = diag[r] * v[r];
      for (std::int64_t e = upper_offset_[r]; e < upper_offset_[r + 1]; ++e) {
        const auto q = static_cast<std::size_t>(e);
        s -= pair_h_[q] * v[j_[q]];
      }
      for (std::int64_t e = lower_.offset[r]; e < lower_.offset[r + 1]; ++e) {
        const auto k = static_cast<std::size_t>(e);
        s -= lower_h_[k] * v[lower_.neighbour[k]];
      }
      y[r] = s;
    });
  }

  /// Solves J x = rhs by Jacobi-preconditioned CG to relative residual rel_tol (x starts at 0).
  /// Without a prior, rhs must be orthogonal to (1..1); x then is too. Returns the iterations.
  index_t solve(const std::vector<T>& diag, const std::vector<T>& rhs, std::vector<T>& x,
                T rel_tol, index_t max_iter) const {
    const auto m = rhs.size();
    x.assign(m, T(0));
    std::vector<T> r = rhs, z(m), p(m), q(m);
    const T rhs_norm = std::sqrt(dot(rhs, rhs));
    if (rhs_norm == T(0)) return 0;
    // Below ~eps * |J| the residual is rounding noise (forming J v alone errs by that much):
    // asking for less made the last Newton step run CG to its iteration cap.
    const T target = std::max(rel_tol * rhs_norm, noise_floor(diag));
    auto precondition = [&] {
      for (std::size_t k = 0; k < m; ++k) z[k] = r[k] / diag[k];
      if (singular()) center(z);
    };
    precondition();
    p = z;
    T rz = dot(r, z);
    index_t it = 0;
    while (it < max_iter) {
      apply(diag, p, q);
      const T pq = dot(p, q);
      if (!(pq > T(0))) break;  // p in the null space or roundoff: nothing more to gain
      const T alpha = rz / pq;
      for (std::size_t k = 0; k < m; ++k) {
        x[k] += alpha * p[k];
        r[k] -= alpha * q[k];
      }
      ++it;
      if (std::sqrt(dot(r, r)) <= target) break;
      precondition();
      const T rz_new = dot(r, z);
      const T beta = rz_new / rz;
      rz = rz_new;
      for (std::size_t k = 0; k < m; ++k) p[k] = z[k] + beta * p[k];
    }
    if (singular()) center(x);
    return it;
  }

  /// Calls f(neighbour, h) for every pair of item r, at the last evaluated point.
  template <class F>
  void for_each_neighbour(index_t r, F&& f) const {
    for (std::int64_t e = upper_offset_[r]; e < upper_offset_[r + 1]; ++e)
      f(index_t(j_[static_cast<std::size_t>(e)]), pair_h_[static_cast<std::size_t>(e)]);
    for (std::int64_t e = lower_.offset[r]; e < lower_.offset[r + 1]; ++e)
      f(index_t(lower_.neighbour[static_cast<std::size_t>(e)]), lower_h_[static_cast<std::size_t>(e)]);
  }

  /// Residual norm that rounding alone produces in J v for |v| ~ 1.
  static T noise_floor(const std::vector<T>& diag) {
    return 8 * std::numeric_limits<T>::epsilon() * std::sqrt(dot(diag, diag));
  }

  static T dot(const std::vector<T>& u, const std::vector<T>& v) {
    T s = T(0);
    for (std::size_t k = 0; k < u.size(); ++k) s += u[k] * v[k];
    return s;
  }
  static void center(std::vector<T>& v) {
    T mean = T(0);
    for (T x : v) mean += x;
    mean /= static_cast<T>(v.size());
    for (T& x : v) x -= mean;
  }

 private:
  template <class F>
  void rows(F&& f) const {
    // ~32k rows per thread before spawning pays off (a thread start costs ~20 us).
    prefopt::detail::parallel_blocks(n_, threads_, index_t(1) << 15, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) f(r);
    });
  }

  index_t n_;
  T prior_;
  int threads_;
  std::vector<std::int64_t> upper_offset_;  // pairs q of row i: [upper_offset_[i], ...[i + 1])
  std::vector<std::uint32_t> i_, j_;          // pair q compares i_[q] < j_[q]
  std::vector<T> a_, b_;                      // wins (ties half) of i_[q] and of j_[q]
  csr_graph lower_;                           // row j: pairs (i < j, q)
  std::vector<T> pair_g_, pair_h_, lower_h_, partial_;
};

struct sparse_newton_stats {
  index_t iterations = 0, cg_iterations = 0;
  bool converged = false;
};

/// Newton-CG with Armijo backtracking on the log posterior; x is updated in place. On return
/// the problem holds the curvatures at x (for standard errors).
template <class T>
sparse_newton_stats sparse_bt_newton(sparse_bt_problem<T>& f, std::vector<T>& x, index_t max_iter,
                                     T tol) {
  sparse_newton_stats st;
  std::vector<T> g, diag, step, x_try, g_try, diag_try;
  T fx = f.evaluate(x, g, diag) + f.log_prior(x);
  const T g0 = std::sqrt(f.dot(g, g));
  if (g0 == T(0)) {
    st.converged = true;
    return st;
  }
  const index_t cg_max = std::max<index_t>(50, std::min<index_t>(f.n(), 2000));
  for (index_t it = 0; it < max_iter; ++it) {
    const T gn = std::sqrt(f.dot(g, g));
    if (gn <= f.noise_floor(diag)) {  // gradient is rounding noise: at the optimum
      st.iterations = it;
      st.converged = true;
      return st;
    }
    const T eta = std::clamp(std::sqrt(gn / g0), T(1e-10), T(0.5));
    st.cg_iterations += f.solve(diag, g, step, eta, cg_max);
    const T slope = f.dot(g, step);
    const T noise = 16 * std::numeric_limits<T>::epsilon() * (T(1) + std::fabs(fx));
    T t = T(1), f_try = fx;
    bool accepted = false;
    for (int halvings = 0; halvings < 60; ++halvings, t /= 2) {
      x_try = x;
      for (std::size_t k = 0; k < x.size(); ++k) x_try[k] += t * step[k];
      f_try = f.evaluate(x_try, g_try, diag_try) + f.log_prior(x_try);
      if (std::isfinite(f_try) && f_try >= fx + T(1e-4) * t * slope - noise) {
        accepted = true;
        break;
      }
    }
    st.iterations = it + 1;
    T change = T(0), size = T(0);
    for (std::size_t k = 0; k < x.size(); ++k) change = std::max(change, std::fabs(t * step[k]));
    if (!accepted) {  // no ascent possible in floating point: at the optimum
      f.evaluate(x, g, diag);  // restore the curvatures at x
      st.converged = slope <= std::numeric_limits<T>::epsilon() * (T(1) + std::fabs(fx)) * 100;
      return st;
    }
    x.swap(x_try);
    g.swap(g_try);
    diag.swap(diag_try);
    fx = f_try;
    for (T v : x) size = std::max(size, std::fabs(v));
    if (change <= tol * (T(1) + size)) {
      st.converged = true;
      return st;
    }
  }
  return st;
}

/// Standard errors on the sparse path at the point last evaluated by f.
///  approximate: Var(theta_i) ~ 1/J_ii + sum_j h_ij^2 / (J_ii^2 J_jj), the diagonal of the first
///    three terms of the Neumann series J^-1 = D^-1 + D^-1 A D^-1 + D^-1 A D^-1 A D^-1 + ...
///    (J = D - A); with an anchor a, Var(theta_i - theta_a) ~ v_i + v_a - 2 h_ia / (J_ii J_aa).
///  exact (selected items): Var(theta_i) = e_i' J^+ e_i by one CG solve per item, J^+ the
///    pseudo-inverse (sum-to-zero) without a prior, J^-1 with one; with an anchor a the solve
///    uses e_i - e_a.
template <class T>
void sparse_bt_std_errors(const sparse_bt_problem<T>& f, const std::vector<T>& diag, index_t anchor,
                          std::span<const index_t> selected, int threads, std::vector<T>* approx,
                          std::vector<T>& exact) {
  const index_t n = f.n();
  if (approx) {
    std::vector<T> v(static_cast<std::size_t>(n));
    for (index_t r = 0; r < n; ++r) {
      T s = T(0);
      f.for_each_neighbour(r, [&](index_t j, T h) { s += h * h / diag[j]; });
      v[r] = T(1) / diag[r] + s / (diag[r] * diag[r]);
    }
    approx->assign(static_cast<std::size_t>(n), T(0));
    std::vector<T> h_to_anchor;
    if (anchor >= 0) {
      h_to_anchor.assign(static_cast<std::size_t>(n), T(0));
      f.for_each_neighbour(anchor, [&](index_t j, T h) { h_to_anchor[j] += h; });
    }
    for (index_t r = 0; r < n; ++r) {
      T var = v[r];
      if (anchor >= 0)
        var = r == anchor ? T(0) : v[r] + v[anchor] - 2 * h_to_anchor[r] / (diag[r] * diag[anchor]);
      (*approx)[r] = std::sqrt(std::max(var, T(0)));
    }
  }
  exact.assign(selected.size(), T(0));
  prefopt::detail::parallel_blocks(static_cast<index_t>(selected.size()), threads, 1,
                                   [&](index_t s0, index_t s1) {
    std::vector<T> rhs(static_cast<std::size_t>(n)), x;
    for (index_t s = s0; s < s1; ++s) {
      const index_t item = selected[s];
      if (item == anchor) continue;  // theta_a - theta_a = 0
      std::fill(rhs.begin(), rhs.end(), T(0));
      rhs[item] = T(1);
      if (anchor >= 0) rhs[anchor] = T(-1);
      else if (f.singular())
        for (T& r : rhs) r -= T(1) / static_cast<T>(n);
      f.solve(diag, rhs, x, T(1e-12), std::max<index_t>(200, 4 * n));
      const T var = anchor >= 0 ? x[item] - x[anchor] : x[item];
      exact[s] = std::sqrt(std::max(var, T(0)));
    }
  });
}

}  // namespace prefopt::prefmodel::detail
