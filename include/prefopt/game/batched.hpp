#pragma once
// Batched iterative solvers: many small games of one shape (e.g. one preference game per prompt
// over its k sampled responses), each solved independently by hedge / optimistic MWU /
// extragradient. One B::for_each over the games runs every iteration of a game in a single
// PREFOPT_HD call (detail/small_game_kernel.hpp), so the batch costs one launch on a GPU backend.

#include <concepts>
#include <span>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/detail/small_game_kernel.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_dynamics.hpp"

namespace prefopt::game {

/// Per-game results, one row per game, in the backend's memory.
template <class B>
struct batch_result {
  typename B::matrix_type row, col;                  // last iterates (count x rows / cols)
  typename B::matrix_type row_average, col_average;  // averaged iterates
  typename B::vector_type exploitability_last, exploitability_average;
  typename B::vector_type value_last, value_average;  // with the batch's value offset
  index_t iterations = 0;
};

/// Solves every game of `games` with the iterative policy (hedge, optimistic_mwu,
/// extragradient). The trace is not recorded in batched mode (trace_every must be 0).
template <class B, class Policy>
  requires requires { Policy::rule; }
batch_result<B> solve_batch(const Policy& policy,
                            const matrix_game_batch<typename B::scalar_type>& games) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  policy.validate();
  require(policy.trace_every == 0, "trace_every", policy.trace_every,
          "per-iteration traces are not recorded for batches (use 0)");
  const index_t k = games.count(), m = games.rows(), n = games.cols();
  const bool sym = games.symmetric();
  const auto a = detail::upload_matrix<B>(k, m * n, std::span<const T>(games.values()));
  batch_result<B> out{B::zeros(k, m), B::zeros(k, n), B::zeros(k, m), B::zeros(k, n),
                      B::zeros(k),    B::zeros(k),    B::zeros(k),    B::zeros(k),
                      policy.iters};
  auto work = B::zeros(k, 8 * (m + n));
  const T* pa = B::data(a);
  T *x = B::data(out.row), *y = B::data(out.col), *ax = B::data(out.row_average),
    *ay = B::data(out.col_average), *w = B::data(work), *el = B::data(out.exploitability_last),
    *ea = B::data(out.exploitability_average), *vl = B::data(out.value_last),
    *va = B::data(out.value_average);
  const dynamics_rule rule = Policy::rule;
  const T eta = static_cast<T>(policy.eta), offset = games.value_offset();
  const index_t iters = policy.iters;
  B::for_each(k, [=] PREFOPT_HD(index_t g) {
    const detail::small_game<T> game{pa + g * m * n, m, n, sym};
    T res[4];
    detail::sg_solve(game, rule, eta, iters, x + g * m, y + g * n, ax + g * m, ay + g * n,
                     w + g * 8 * (m + n), res);
    el[g] = res[0], ea[g] = res[1], vl[g] = res[2] + offset, va[g] = res[3] + offset;
    if (sym)  // the column player mirrors the row player
      for (index_t j = 0; j < n; ++j) y[g * n + j] = x[g * m + j], ay[g * n + j] = ax[g * m + j];
  });
  return out;
}

}  // namespace prefopt::game
