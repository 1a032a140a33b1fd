#pragma once
// A dense primal simplex method for LPs in the form
//
//   maximise cᵀw   subject to   M w ≤ b,  w ≥ 0,   with b ≥ 0,
//
// which is the form of the matrix-game LP (Ã w ≤ 1 for a positive shifted payoff Ã) and of the
// equilibrium-face LPs of Nash averaging. b ≥ 0 makes the all-slack basis feasible, so no
// phase 1 is needed.
//
// Why a dense tableau simplex (and not interior point or an external solver):
//  * the game LPs are dense (every payoff entry is non-zero), so sparse LU machinery buys nothing,
//    and n ≤ ~1000 fits a dense m x (n + 1) compact tableau (8 MB at n = 1000);
//  * a simplex ends on a *basis*, so the solution can be recomputed from the original data
//    ("polish": one LU solve of B w_B = b and Bᵀu = c_B), which removes the rounding error the
//    tableau accumulated over thousands of pivots and gives exploitability at the 1e-15 level —
//    an interior-point method would need a crossover to reach that;
//  * it has no dependencies, so the library stays header-only.
// Pricing is exact steepest edge (largest d_j² / (1 + ‖B⁻¹a_j‖²), which needs 3-10x fewer pivots
// than Dantzig's rule on dense game LPs); after `bland_after` consecutive degenerate pivots the
// method switches to Bland's smallest-index rule until the objective moves again, which rules out
// cycling (Bland 1977) on the heavily degenerate LPs games produce. Ties in the ratio test go to
// the largest pivot element (steepest-edge mode) or the smallest basic index (Bland mode).
// Computation is in double whatever the caller's scalar type.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/detail/parallel.hpp"

namespace prefopt::game {

struct simplex_options {
  index_t max_pivots = 0;               // 0: 50 (m + n)
  double optimality_tolerance = 1e-11;  // a reduced cost above this may enter
  double pivot_tolerance = 1e-10;       // smallest admissible pivot element
  index_t bland_after = 16;             // consecutive degenerate pivots before Bland's rule
  // Relative perturbation of the right-hand side during the pivoting (0 = none): b_i is raised
  // by perturbation · u_i · (1 + b_i) with fixed u_i in [½, 1), which breaks the ties of the
  // ratio test that make game LPs degenerate (Wolfe 1963; production solvers such as HiGHS do the
  // same). The final basis is polished against the original b. Without it a 1000 x 1000 game
  // with payoffs in {−½, 0, ½} stalled past 100 000 pivots; with it it takes ~3000.
  double perturbation = 1e-9;
  // Threads sharing each pivot's rank-1 update (0 = hardware concurrency). Results are
  // bit-identical for every count. Default 1: the update streams the whole tableau once per pivot
  // and is memory-bound; on the 2-core development host 2 threads gave no speed-up at n = 1000.
  int threads = 1;

  void validate() const {
    require(max_pivots >= 0, "max_pivots", max_pivots, "must be >= 0 (0 = automatic)");
    require_positive_finite("optimality_tolerance", optimality_tolerance);
    require_positive_finite("pivot_tolerance", pivot_tolerance);
    require(bland_after >= 1, "bland_after", bland_after, "must be >= 1");
    require(std::isfinite(perturbation) && perturbation >= 0.0 && perturbation < 1e-3,
            "perturbation", perturbation, "must be finite and in [0, 1e-3)");
    require(threads >= 0, "threads", threads, "must be >= 0 (0 = hardware concurrency)");
  }
};

enum class lp_status { optimal, unbounded, pivot_limit };

struct lp_solution {
  lp_status status = lp_status::pivot_limit;
  std::vector<double> primal;  // w (n)
  std::vector<double> dual;    // u ≥ 0 (m), optimal for  min bᵀu s.t. Mᵀu ≥ c, u ≥ 0
  double objective = 0.0;      // cᵀw
  index_t pivots = 0;
  bool polished = false;       // true when w and u were recomputed from the final basis
};

namespace detail {

/// In-place LU with partial pivoting of a row-major k x k matrix; false when singular.
inline bool lu_factor(std::vector<double>& a, std::vector<index_t>& perm, index_t k) {
  perm.resize(static_cast<std::size_t>(k));
  for (index_t i = 0; i < k; ++i) perm[i] = i;
  for (index_t c = 0; c < k; ++c) {
    index_t p = c;
    for (index_t r = c + 1; r < k; ++r)
      if (std::fabs(a[r * k + c]) > std::fabs(a[p * k + c])) p = r;
    if (a[p * k + c] == 0.0) return false;
    if (p != c) {
      std::swap_ranges(a.begin() + c * k, a.begin() + (c + 1) * k, a.begin() + p * k);
      std::swap(perm[c], perm[p]);
    }
    const double inv = 1.0 / a[c * k + c];
    for (index_t r = c + 1; r < k; ++r) {
      double* row = a.data() + r * k;
      const double f = (row[c] *= inv);
      if (f == 0.0) continue;
      const double* prow = a.data() + c * k;
      for (index_t j = c + 1; j < k; ++j) row[j] -= f * prow[j];
    }
  }
  return true;
}

/// Solves (LU) x = P rhs (transpose = false) or (LU)ᵀ-system for Aᵀ x = rhs (transpose = true).
inline std::vector<double> lu_solve(const std::vector<double>& lu, const std::vector<index_t>& perm,
                                    index_t k, std::span<const double> rhs, bool transpose) {
  std::vector<double> x(static_cast<std::size_t>(k));
  if (!transpose) {  // A = Pᵀ L U:  L U x = P rhs
    for (index_t i = 0; i < k; ++i) x[i] = rhs[perm[i]];
    for (index_t i = 0; i < k; ++i)
      for (index_t j = 0; j < i; ++j) x[i] -= lu[i * k + j] * x[j];
    for (index_t i = k - 1; i >= 0; --i) {
      for (index_t j = i + 1; j < k; ++j) x[i] -= lu[i * k + j] * x[j];
      x[i] /= lu[i * k + i];
    }
    return x;
  }
  // Aᵀ x = rhs  with  Aᵀ = Uᵀ Lᵀ P:  Uᵀ z = rhs, Lᵀ t = z, x = Pᵀ t.
  std::vector<double> z(rhs.begin(), rhs.end());
  for (index_t i = 0; i < k; ++i) {
    for (index_t j = 0; j < i; ++j) z[i] -= lu[j * k + i] * z[j];
    z[i] /= lu[i * k + i];
  }
  for (index_t i = k - 1; i >= 0; --i)
    for (index_t j = i + 1; j < k; ++j) z[i] -= lu[j * k + i] * z[j];
  for (index_t i = 0; i < k; ++i) x[perm[i]] = z[i];
  return x;
}

/// One run of the simplex method with `options` as given (see dense_simplex).
inline lp_solution dense_simplex_pass(index_t m, index_t n, std::span<const double> M,
                                      std::span<const double> b, std::span<const double> c,
                                      const simplex_options& options) {
  options.validate();
  require(m >= 1, "m", m, "an LP needs at least one constraint");
  require(n >= 1, "n", n, "an LP needs at least one variable");
  require_same_size("M.size()", static_cast<long long>(M.size()), "m * n",
                    static_cast<long long>(m * n));
  require_same_size("b.size()", static_cast<long long>(b.size()), "m", m);
  require_same_size("c.size()", static_cast<long long>(c.size()), "n", n);
  for (index_t i = 0; i < m * n; ++i)
    require(std::isfinite(M[i]), "M[" + std::to_string(i) + "]", M[i], "must be finite");
  for (index_t i = 0; i < m; ++i)
    require(std::isfinite(b[i]) && b[i] >= 0.0, "b[" + std::to_string(i) + "]", b[i],
            "must be finite and >= 0 (the all-slack basis must be feasible)");
  for (index_t j = 0; j < n; ++j)
    require(std::isfinite(c[j]), "c[" + std::to_string(j) + "]", c[j], "must be finite");

  // Compact (Tucker) tableau: one row per basic variable, one column per non-basic variable,
  // so a pivot touches m x n entries instead of m x (n + m). Variables 0..n-1 are structural,
  // n..n+m-1 the slacks; row_var / col_var say which variable each row / column holds.
  const index_t width = n + 1;  // + right-hand side
  std::vector<double> tab(static_cast<std::size_t>(m * width));
  std::vector<double> obj(static_cast<std::size_t>(n));  // reduced costs of the non-basic columns
  std::vector<index_t> row_var(static_cast<std::size_t>(m)), col_var(static_cast<std::size_t>(n));
  for (index_t i = 0; i < m; ++i) {
    std::copy(M.begin() + i * n, M.begin() + (i + 1) * n, tab.begin() + i * width);
    // u_i from a fixed hash of i (splitmix64): the pivot sequence stays deterministic.
    std::uint64_t h = static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    const double u = 0.5 + 0.5 * static_cast<double>(h >> 11) * 0x1.0p-53;
    tab[i * width + n] = b[i] + options.perturbation * u * (1.0 + b[i]);
    row_var[i] = n + i;
  }
  for (index_t j = 0; j < n; ++j) obj[j] = c[j], col_var[j] = j;

  const index_t max_pivots = options.max_pivots > 0 ? options.max_pivots : 50 * (m + n);
  const double opt_tol = options.optimality_tolerance, piv_tol = options.pivot_tolerance;
  lp_solution out;
  index_t degenerate_run = 0;
  std::vector<double> pivot_row(static_cast<std::size_t>(width));
  // Exact steepest-edge weights 1 + ‖B⁻¹a_j‖² (Goldfarb & Reid 1977): with the whole tableau at
  // hand they are column sums of squares, accumulated in the same sweep as the elimination.
  std::vector<double> edge(static_cast<std::size_t>(n), 1.0);
  constexpr index_t chunk_rows = 32;
  const index_t chunks = (m + chunk_rows - 1) / chunk_rows;
  std::vector<double> partial(static_cast<std::size_t>(chunks * n));
  // Threads only pay off for big pivots: at least ~64k updated entries per thread.
  const index_t grain = std::max<index_t>(1, 65536 / (chunk_rows * width));
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) edge[j] += tab[i * width + j] * tab[i * width + j];

  for (;;) {
    const bool bland = degenerate_run >= options.bland_after;
    index_t enter = -1;
    if (bland) {  // smallest variable index among the improving columns
      for (index_t j = 0; j < n; ++j)
        if (obj[j] > opt_tol && (enter < 0 || col_var[j] < col_var[enter])) enter = j;
    } else {
      double best = 0.0;
      for (index_t j = 0; j < n; ++j) {
        if (obj[j] <= opt_tol) continue;
        const double score = obj[j] * obj[j] / edge[j];
        if (score > best) enter = j, best = score;
      }
    }
    if (enter < 0) {
      out.status = lp_status::optimal;
      break;
    }
    if (out.pivots >= max_pivots) {
      out.status = lp_status::pivot_limit;
      break;
    }
    index_t leave = -1;
    double best_ratio = std::numeric_limits<double>::infinity(), best_piv = 0.0;
    for (index_t i = 0; i < m; ++i) {
      const double a = tab[i * width + enter];
      if (a <= piv_tol) continue;
      const double ratio = std::max(tab[i * width + n], 0.0) / a;
      const bool tie = ratio <= best_ratio * (1.0 + 1e-12) && ratio >= best_ratio * (1.0 - 1e-12);
      if (ratio < best_ratio && !tie) {
        leave = i, best_ratio = ratio, best_piv = a;
      } else if (tie && leave >= 0 && (bland ? row_var[i] < row_var[leave] : a > best_piv)) {
        leave = i, best_ratio = std::min(best_ratio, ratio), best_piv = a;
      }
    }
    if (leave < 0) {
      out.status = lp_status::unbounded;
      break;
    }
    degenerate_run = best_ratio * obj[enter] > 1e-14 ? 0 : degenerate_run + 1;

    // Jordan exchange of row `leave` and column `enter`.
    double* prow = tab.data() + leave * width;
    const double inv = 1.0 / prow[enter];
    for (index_t j = 0; j < width; ++j) prow[j] *= inv;
    prow[enter] = inv;
    std::copy(prow, prow + width, pivot_row.begin());
    const double* pr = pivot_row.data();
    // Rows are eliminated in fixed chunks of `chunk_rows`; each chunk sums its squares into its
    // own slot and the slots are added in chunk order, so the pivot sequence (and the result) is
    // bit-identical for every thread count.
    prefopt::detail::parallel_blocks(chunks, options.threads, grain, [&](index_t c0, index_t c1) {
      for (index_t c = c0; c < c1; ++c) {
        double* e = partial.data() + c * n;
        std::fill(e, e + n, 0.0);
        for (index_t i = c * chunk_rows; i < std::min(m, (c + 1) * chunk_rows); ++i) {
          double* row = tab.data() + i * width;
          if (i != leave) {
            const double f = row[enter];
            if (f != 0.0) {
              for (index_t j = 0; j < width; ++j) row[j] -= f * pr[j];
              row[enter] = -f * inv;
            }
          }
          for (index_t j = 0; j < n; ++j) e[j] += row[j] * row[j];
        }
      }
    });
    std::fill(edge.begin(), edge.end(), 1.0);
    for (index_t c = 0; c < chunks; ++c)
      for (index_t j = 0; j < n; ++j) edge[j] += partial[c * n + j];
    {
      const double f = obj[enter];
      for (index_t j = 0; j < n; ++j) obj[j] -= f * pr[j];
      obj[enter] = -f * inv;
    }
    std::swap(row_var[leave], col_var[enter]);
    ++out.pivots;
  }

  // Read the tableau solution, then polish from the original data on the final basis.
  out.primal.assign(static_cast<std::size_t>(n), 0.0);
  out.dual.assign(static_cast<std::size_t>(m), 0.0);
  for (index_t i = 0; i < m; ++i)
    if (row_var[i] < n) out.primal[row_var[i]] = std::max(tab[i * width + n], 0.0);
  for (index_t j = 0; j < n; ++j)
    if (col_var[j] >= n) out.dual[col_var[j] - n] = std::max(-obj[j], 0.0);
  const std::vector<index_t>& basis = row_var;

  if (out.status == lp_status::optimal) {
    std::vector<double> bmat(static_cast<std::size_t>(m * m), 0.0), cb(static_cast<std::size_t>(m));
    for (index_t k = 0; k < m; ++k) {
      const index_t col = basis[k];
      if (col < n) {
        for (index_t i = 0; i < m; ++i) bmat[i * m + k] = M[i * n + col];
        cb[k] = c[col];
      } else {
        bmat[(col - n) * m + k] = 1.0;
        cb[k] = 0.0;
      }
    }
    std::vector<index_t> perm;
    if (detail::lu_factor(bmat, perm, m)) {
      const std::vector<double> wb = detail::lu_solve(bmat, perm, m, b, false);
      const std::vector<double> u = detail::lu_solve(bmat, perm, m, cb, true);
      std::fill(out.primal.begin(), out.primal.end(), 0.0);
      for (index_t k = 0; k < m; ++k)
        if (basis[k] < n) out.primal[basis[k]] = std::max(wb[k], 0.0);
      for (index_t i = 0; i < m; ++i) out.dual[i] = std::max(u[i], 0.0);
      out.polished = true;
    }
  }
  double z = 0.0;
  for (index_t j = 0; j < n; ++j) z += c[j] * out.primal[j];
  out.objective = z;
  return out;
}

/// Whether w = s.primal and u = s.dual solve the LP (M, b, c) itself: primal and dual feasible and
/// with equal objectives, each residual relative to the magnitude of the terms it sums.
inline bool optimal_on_data(index_t m, index_t n, std::span<const double> M,
                            std::span<const double> b, std::span<const double> c,
                            const lp_solution& s, double tolerance) {
  const auto& w = s.primal;
  const auto& u = s.dual;
  double cw = 0.0, bu = 0.0, cw_abs = 0.0, bu_abs = 0.0;
  for (index_t i = 0; i < m; ++i) {
    double r = -b[i], scale = 1.0 + std::fabs(b[i]);
    for (index_t j = 0; j < n; ++j) r += M[i * n + j] * w[j], scale += std::fabs(M[i * n + j] * w[j]);
    if (!(r <= tolerance * scale)) return false;  // M w <= b (NaN fails too)
    bu += b[i] * u[i], bu_abs += std::fabs(b[i] * u[i]);
  }
  for (index_t j = 0; j < n; ++j) {
    double r = c[j], scale = 1.0 + std::fabs(c[j]);
    for (index_t i = 0; i < m; ++i) r -= M[i * n + j] * u[i], scale += std::fabs(M[i * n + j] * u[i]);
    if (!(r <= tolerance * scale)) return false;  // Mᵀu >= c
    cw += c[j] * w[j], cw_abs += std::fabs(c[j] * w[j]);
  }
  return std::fabs(cw - bu) <= tolerance * (1.0 + cw_abs + bu_abs);
}

}  // namespace detail

/// Solves max cᵀw s.t. M w ≤ b, w ≥ 0 (M row-major m x n, b ≥ 0). Bad input throws
/// prefopt::invalid_argument; an unbounded LP or the pivot limit is reported in `status`.
///
/// The perturbation of b only breaks ties, but a basis optimal for the perturbed b need not be
/// optimal for b itself when the data's own differences are as small as the perturbation:
/// fuzz/fuzz_nash_matrix found a 5 x 5 game with payoffs spread over 1e-9..1 of max|A| whose
/// "equilibrium" was exploitable by 1.4e-8 max|A| (its M w exceeded b by 5e-5). The polished
/// solution is therefore checked on the original data, with a tolerance of 1% of the
/// perturbation (far above the rounding of the polish, ~1e-15 relative, far below the errors a
/// perturbed basis leaves, ~perturbation), and when it does not solve it the LP is solved again
/// without the perturbation (Bland's rule still rules out cycling); the pivots of both runs are
/// counted.
///
/// The pivot tolerance can do the same: the ratio test skips column entries below it, and when the
/// data's differences are that small a skipped entry lets its basic variable go negative. The
/// same fuzz target found a 5 x 5 game with payoffs from 0.07 to 6.9e9 (tests/game/exact.cpp)
/// whose unperturbed pass, with the default 1e-10, left an equilibrium exploitable by 1.2e-8
/// max|A|; with 1e-14 it is exact (2e-7 absolute, 3e-17 of max|A|). So a pass whose polished
/// solution still fails the check on the data is repeated with the pivot tolerance cut by 1e4
/// (default 1e-14, near the rounding of entries of order 1), and the first pass that solves the
/// data is returned. A game that passes the first check takes exactly the pivots it took before.
inline lp_solution dense_simplex(index_t m, index_t n, std::span<const double> M,
                                 std::span<const double> b, std::span<const double> c,
                                 const simplex_options& options = {}) {
  // 1% of the perturbation (of the default one when this call has none): see above.
  const double check_tolerance =
      0.01 * (options.perturbation > 0.0 ? options.perturbation : simplex_options{}.perturbation);
  lp_solution s = detail::dense_simplex_pass(m, n, M, b, c, options);
  index_t pivots = s.pivots;
  const auto solves_data = [&](const lp_solution& r) {
    return r.status == lp_status::optimal && detail::optimal_on_data(m, n, M, b, c, r, check_tolerance);
  };
  if (s.status != lp_status::optimal || solves_data(s)) return s;
  // The retries, in order: unperturbed (unless the first pass already was), then unperturbed with
  // the smaller pivot tolerance.
  simplex_options unperturbed = options;
  unperturbed.perturbation = 0.0;
  simplex_options small_pivots = unperturbed;
  small_pivots.pivot_tolerance = options.pivot_tolerance * 1e-4;
  std::vector<simplex_options> retries;
  if (options.perturbation > 0.0) retries.push_back(unperturbed);
  retries.push_back(small_pivots);
  for (const simplex_options& retry : retries) {
    lp_solution again = detail::dense_simplex_pass(m, n, M, b, c, retry);
    pivots += again.pivots;
    again.pivots = pivots;
    if (solves_data(again)) return again;
    if (again.status == lp_status::optimal) s = again;  // the last optimal basis, as before
  }
  s.pivots = pivots;
  return s;
}

}  // namespace prefopt::game
