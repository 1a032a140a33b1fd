#pragma once
// prefopt::game::solve — one entry point for every Nash solver, the policy picks the method:
//
//   auto eq = solve(lp{}, game);                                   // exact, host, lp_result<T>
//   auto it = solve<B>(optimistic_mwu{.eta = 0.1, .iters = 10'000}, P);  // iterative_result<B>
//   auto bt = solve_batch<B>(hedge{.eta = 0.5, .iters = 500}, batch);    // batch_result<B>
//
// Every result names its strategies, value and exploitability the same way (solution.hpp):
// eq.row_strategy, it.last.row_strategy, it.average.exploitability, bt.last.value, ...
//
// Games are a matrix_game (general zero-sum), a preference_matrix (the symmetric preference game
// P − ½, value ½) or, for the iterative solvers, a payoff already in the backend's memory. Host
// games are uploaded with B::from_host, so solve<prefopt::cuda::backend<T>> runs every iteration
// on the device; the result's vectors stay in B's memory (B::to_host to read them), its scalars
// (exploitability, value, trace) are on the host. The iterative policies are mirror_solver<Rule>
// (mirror_rule.hpp): any rule, the library's or the caller's, runs on both engines; nash_md
// solves the KL-regularised game towards the policy's reference.

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/game/batched.hpp"
#include "prefopt/game/extragradient.hpp"
#include "prefopt/game/hedge.hpp"
#include "prefopt/game/lp_nash.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_dynamics.hpp"
#include "prefopt/game/mirror_rule.hpp"
#include "prefopt/game/nash_md.hpp"
#include "prefopt/game/optimistic.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::game {

template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
iterative_result<B> solve(const mirror_solver<Rule>& policy,
                          const matrix_game<typename B::scalar_type>& g) {
  return run_dynamics<B>(policy, g);
}

template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
iterative_result<B> solve(const mirror_solver<Rule>& policy,
                          const prefmodel::preference_matrix<typename B::scalar_type>& p) {
  return run_dynamics<B>(policy, matrix_game<typename B::scalar_type>::from_preferences(p));
}

/// Zero-copy: the payoff already lives in the backend (e.g. on the GPU). `symmetric` requires a
/// skew-symmetric A (not checked here: that would need a device round trip).
template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
iterative_result<B> solve(const mirror_solver<Rule>& policy, const typename B::matrix_type& a,
                          bool symmetric = false,
                          typename B::scalar_type value_offset = typename B::scalar_type(0)) {
  return run_dynamics<B>(policy, a, symmetric, value_offset);
}

}  // namespace prefopt::game
