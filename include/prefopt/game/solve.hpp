#pragma once
// prefopt::game::solve — one entry point for every Nash solver, the policy picks the method:
//
//   auto eq = solve(lp{}, game);                                   // exact, host, lp_result<T>
//   auto it = solve<B>(optimistic_mwu{.eta = 0.1, .iters = 10'000}, P);  // iterative_result<B>
//   auto bt = solve_batch<B>(hedge{.eta = 0.5, .iters = 500}, batch);    // batch_result<B>
//
// Games are a matrix_game (general zero-sum), a preference_matrix (the symmetric preference game
// P − ½, value ½) or, for the iterative solvers, a payoff already in the backend's memory. Host
// games are uploaded with B::from_host, so solve<prefopt::cuda::backend<T>> runs every iteration
// on the device; the result's vectors stay in B's memory (B::to_host to read them), its scalars
// (exploitability, value, trace) are on the host.

#include <concepts>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/game/batched.hpp"
#include "prefopt/game/extragradient.hpp"
#include "prefopt/game/hedge.hpp"
#include "prefopt/game/lp_nash.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_dynamics.hpp"
#include "prefopt/game/optimistic.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::game {

/// The iterative policies: hedge, optimistic_mwu, extragradient.
template <class P>
concept iterative_policy = requires(const P& p) {
  { P::rule } -> std::convertible_to<dynamics_rule>;
  { p.eta } -> std::convertible_to<double>;
  { p.iters } -> std::convertible_to<index_t>;
  { p.trace_every } -> std::convertible_to<index_t>;
  p.validate();
};

template <class B, iterative_policy Policy>
iterative_result<B> solve(const Policy& policy, const matrix_game<typename B::scalar_type>& g) {
  PREFOPT_ASSERT_BACKEND(B);
  policy.validate();
  return run_dynamics<B>(Policy::rule, policy.eta, policy.iters, policy.trace_every, g);
}

template <class B, iterative_policy Policy>
iterative_result<B> solve(const Policy& policy,
                          const prefmodel::preference_matrix<typename B::scalar_type>& p) {
  return solve<B>(policy, matrix_game<typename B::scalar_type>::from_preferences(p));
}

/// Zero-copy: the payoff already lives in the backend (e.g. on the GPU). `symmetric` requires a
/// skew-symmetric A (not checked here: that would need a device round trip).
template <class B, iterative_policy Policy>
iterative_result<B> solve(const Policy& policy, const typename B::matrix_type& a,
                          bool symmetric = false,
                          typename B::scalar_type value_offset = typename B::scalar_type(0)) {
  PREFOPT_ASSERT_BACKEND(B);
  policy.validate();
  require_finite("value_offset", value_offset);
  return run_dynamics<B>(Policy::rule, policy.eta, policy.iters, policy.trace_every, a, symmetric,
                         value_offset);
}

}  // namespace prefopt::game
