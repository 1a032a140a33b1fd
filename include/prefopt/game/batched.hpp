#pragma once
// Batched iterative solvers: many small games of one shape (e.g. one preference game per prompt
// over its k sampled responses), each solved independently by any mirror_solver<Rule>. One
// B::for_each over the games runs every iteration of a game in a single PREFOPT_HD call
// (detail/small_game_kernel.hpp), so the batch costs one launch on a GPU backend.

#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/detail/small_game_kernel.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_rule.hpp"
#include "prefopt/game/solution.hpp"

namespace prefopt::game {

/// Per-game results in the backend's memory: strategies one row per game (count x rows / cols),
/// values (with the batch's value offset) and exploitabilities one entry per game.
template <class B>
struct batch_result {
  solution<typename B::matrix_type, typename B::vector_type> last;     // z_T of every game
  solution<typename B::matrix_type, typename B::vector_type> average;  // averaged iterates
  index_t iterations = 0;
};

/// Solves every game of `games` with the iterative policy (hedge, optimistic_mwu, extragradient,
/// nash_md or any mirror_solver<Rule>). The trace is not recorded in batched mode (trace_every
/// must be 0). The policy's references and start are shared by every game of the batch.
template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
batch_result<B> solve_batch(const mirror_solver<Rule>& policy,
                            const matrix_game_batch<typename B::scalar_type>& games) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  policy.validate_for(games.rows(), games.cols(), games.symmetric());
  require(policy.trace_every == 0, "trace_every", policy.trace_every,
          "per-iteration traces are not recorded for batches (use 0)");
  const index_t k = games.count(), m = games.rows(), n = games.cols();
  const bool sym = games.symmetric();
  const auto a = detail::upload_matrix<B>(k, m * n, std::span<const T>(games.values()));
  batch_result<B> out{{B::zeros(k, m), B::zeros(k, n), B::zeros(k), B::zeros(k), B::zeros(k)},
                      {B::zeros(k, m), B::zeros(k, n), B::zeros(k), B::zeros(k), B::zeros(k)},
                      policy.iters};
  // Both players' starts (log μ, L_0, z_0) back to back, uploaded once for the whole batch.
  std::vector<T> start_host;
  for (const auto& s : {detail::make_player_start<T>(policy.reference, m, policy.start),
                        detail::make_player_start<T>(policy.col_reference, n, policy.start)})
    for (const auto* part : {&s.log_reference, &s.log_prob, &s.prob})
      start_host.insert(start_host.end(), part->begin(), part->end());
  const auto start = B::from_host(std::span<const T>(start_host));
  constexpr index_t per_entry = detail::sg_work_per_entry<Rule>;
  auto work = B::zeros(k, per_entry * (m + n));
  const T* pa = B::data(a);
  T *x = B::data(out.last.row_strategy), *y = B::data(out.last.col_strategy),
    *ax = B::data(out.average.row_strategy), *ay = B::data(out.average.col_strategy),
    *w = B::data(work), *el = B::data(out.last.exploitability),
    *ea = B::data(out.average.exploitability), *vl = B::data(out.last.value),
    *va = B::data(out.average.value), *rl = B::data(out.last.regularised_exploitability),
    *ra = B::data(out.average.regularised_exploitability);
  const T* ps = B::data(start);
  const Rule rule = policy.rule;
  const T eta = static_cast<T>(policy.eta), offset = games.value_offset();
  const index_t iters = policy.iters;
  B::for_each(k, [=] PREFOPT_HD(index_t g) {
    const detail::small_game<T> game{pa + g * m * n, m, n, sym};
    detail::sg_measure<T> last, average;
    detail::sg_solve(game, rule, eta, iters, x + g * m, y + g * n, ax + g * m, ay + g * n,
                     w + g * per_entry * (m + n), ps, last, average);
    el[g] = last.values.exploitability(), ea[g] = average.values.exploitability();
    vl[g] = last.values.value + offset, va[g] = average.values.value + offset;
    rl[g] = last.regularised_exploitability, ra[g] = average.regularised_exploitability;
    if (sym)  // the column player mirrors the row player
      for (index_t j = 0; j < n; ++j) y[g * n + j] = x[g * m + j], ay[g * n + j] = ax[g * m + j];
  });
  return out;
}

}  // namespace prefopt::game
