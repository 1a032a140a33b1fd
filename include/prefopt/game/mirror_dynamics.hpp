#pragma once
// The dense engine of the iterative solvers: runs a mirror_solver<Rule> (mirror_rule.hpp) on one
// payoff matrix in a backend's memory. Each stage costs one matrix-vector product per player for
// the gradients (A y and −Aᵀx), one B::for_each applying the rule entry by entry, and a
// device-side log-sum-exp normalisation; only the optional trace reads scalars back to the host.
//
// Symmetric (skew-symmetric) games run as self-play on one strategy, x = y: that is exactly the
// sequence the two-player dynamics produce from the symmetric (uniform) start, at one matvec per
// gradient instead of two.

#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/matrix_game.hpp"
#include "prefopt/game/mirror_rule.hpp"
#include "prefopt/game/profile_values.hpp"
#include "prefopt/game/solution.hpp"

namespace prefopt::game {

/// Last and averaged iterate of an iterative solver, each with its value (xᵀAy + value offset)
/// and exploitability, in the backend's memory (strategies) and on the host (scalars).
template <class B>
struct iterative_result {
  using scalar_type = typename B::scalar_type;
  solution<typename B::vector_type, scalar_type> last;     // z_T
  solution<typename B::vector_type, scalar_type> average;  // mean of the averaged stage's points
  index_t iterations = 0;
  // Filled when trace_every > 0: iteration t and the exploitability of z_t and of the average
  // of the points so far (t = 0, trace_every, 2·trace_every, ..., and T).
  std::vector<index_t> trace_iteration;
  std::vector<scalar_type> trace_last, trace_average;
};

namespace detail {

/// L' = rule.step(...) for every entry of one player's log-probabilities, on the backend.
template <class B, class Rule>
typename B::vector_type apply_rule(const Rule& rule, const typename B::vector_type& log_prob,
                                   const typename B::vector_type& gradient,
                                   const typename B::vector_type& previous_gradient,
                                   const typename B::vector_type& log_reference,
                                   typename B::scalar_type eta, index_t iteration, int stage) {
  using T = typename B::scalar_type;
  const index_t k = B::size(log_prob);
  typename B::vector_type out = B::zeros(k);
  T* o = B::data(out);
  const T* l = B::data(log_prob);
  const T* g = B::data(gradient);
  const T* gp = B::data(previous_gradient);
  const T* lr = B::data(log_reference);
  B::for_each(k, [=] PREFOPT_HD(index_t i) {
    o[i] = rule.step(mirror_entry<T>{l[i], g[i], gp[i], lr[i], eta, iteration, stage});
  });
  return out;
}

/// regularised_exploitability (profile_values.hpp) of a profile in B's memory: one B::for_each
/// of a single invocation runs the shared PREFOPT_HD loop where the vectors live (one device
/// thread on CUDA: it is evaluated once per solve, not per iteration). A symmetric game passes
/// the row player's vectors twice.
template <class B>
typename B::scalar_type regularised_exploitability_of(
    const typename B::vector_type& x, const typename B::vector_type& gx,
    const typename B::vector_type& log_mu_x, const typename B::vector_type& y,
    const typename B::vector_type& gc, const typename B::vector_type& log_mu_y, double lambda) {
  using T = typename B::scalar_type;
  typename B::vector_type out = B::zeros(1);
  T* o = B::data(out);
  const T *px = B::data(x), *pgx = B::data(gx), *plx = B::data(log_mu_x), *py = B::data(y),
          *pgc = B::data(gc), *ply = B::data(log_mu_y);
  const index_t m = B::size(x), n = B::size(y);
  B::for_each(1, [=] PREFOPT_HD(index_t) {
    o[0] = regularised_exploitability(px, pgx, plx, m, py, pgc, ply, n, lambda);
  });
  return B::to_host_element(out, 0);
}

/// The payoff seen as the players' gradient operator.
template <class B>
class payoff_operator {
 public:
  using T = typename B::scalar_type;
  using vec = typename B::vector_type;
  using mat = typename B::matrix_type;

  payoff_operator(const mat& a, bool symmetric) : a_(a), symmetric_(symmetric) {}

  /// gx = A y (row ascent direction) and gc = −Aᵀx (column ascent direction). Symmetric games
  /// pass y = x and leave gc alone: −Aᵀx = A x = gx.
  void gradients(const vec& x, const vec& y, vec& gx, vec& gc) const {
    gx = B::matvec(a_, symmetric_ ? x : y);
    if (symmetric_) return;
    const vec c = B::matvec_transposed(a_, x);
    gc = B::axpby(T(-1), c, T(0), c);
  }
  /// Best responses and value of (x, y) from the gradients there (profile_values.hpp).
  profile_values<T> evaluate(const vec& x, const vec& gx, const vec& gc) const {
    return {max_entry<B>(gx), -max_entry<B>(symmetric_ ? gx : gc), B::dot(x, gx)};
  }
  /// The solution at (x, y); `lambda` > 0 (a KL-regularised rule) also measures the regularised
  /// game towards the references log μ_x, log μ_y.
  solution<vec, T> solution_at(const vec& x, const vec& y, T value_offset, const vec& log_mu_x,
                               const vec& log_mu_y, double lambda) const {
    vec gx, gc;
    gradients(x, y, gx, gc);
    const profile_values<T> v = evaluate(x, gx, gc);
    const T regularised =
        lambda == 0.0 ? v.exploitability()
        : symmetric_  ? regularised_exploitability_of<B>(x, gx, log_mu_x, x, gx, log_mu_x, lambda)
                      : regularised_exploitability_of<B>(x, gx, log_mu_x, y, gc, log_mu_y, lambda);
    return {x, y, v.value + value_offset, v.exploitability(), regularised};
  }

 private:
  const mat& a_;
  bool symmetric_;
};

/// One player's state: L_t, z_t, the reference log μ, and per stage the gradient of the
/// previous iteration.
template <class B>
struct mirror_player {
  using T = typename B::scalar_type;
  typename B::vector_type log_prob, prob, log_reference;
  std::vector<typename B::vector_type> previous_gradient;

  mirror_player(const player_start<T>& start, int stages)
      : log_prob(B::from_host(std::span<const T>(start.log_prob))),
        prob(B::from_host(std::span<const T>(start.prob))),
        log_reference(B::from_host(std::span<const T>(start.log_reference))),
        previous_gradient(static_cast<std::size_t>(stages)) {}
};

}  // namespace detail

/// Runs `policy` on the payoff A (in the backend's memory). `symmetric` requires a
/// skew-symmetric A (not checked here: that would need a device round trip). Symmetric games
/// play the row player's reference and start for both players.
template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
iterative_result<B> run_dynamics(const mirror_solver<Rule>& policy,
                                 const typename B::matrix_type& a, bool symmetric,
                                 typename B::scalar_type value_offset) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  using vec = typename B::vector_type;
  policy.validate();
  require_finite("value_offset", value_offset);
  const index_t m = B::rows(a), n = B::cols(a);
  require(m >= 1 && n >= 1, "A.rows() * A.cols()", m * n, "the payoff matrix must be non-empty");
  if (symmetric) require_same_size("A.cols()", n, "A.rows()", m);
  policy.validate_for(m, n, symmetric);
  constexpr int stages = Rule::stages;
  const detail::payoff_operator<B> op(a, symmetric);
  const T eta = static_cast<T>(policy.eta);
  const index_t iters = policy.iters, trace_every = policy.trace_every;

  // In a symmetric game the column player is the row player; `col` is a placeholder then.
  detail::mirror_player<B> row(detail::make_player_start<T>(policy.reference, m, policy.start),
                              stages);
  detail::mirror_player<B> col(
      detail::make_player_start<T>(policy.col_reference, symmetric ? 1 : n, policy.start),
      stages);
  vec avg_x = B::zeros(m), avg_y = B::zeros(symmetric ? 0 : n);
  vec gx, gc, stage_lx, stage_ly, stage_x, stage_y;
  iterative_result<B> out;
  out.iterations = iters;

  auto accumulate = [&](const vec& x, const vec& y, index_t t) {
    const T w = T(1) / T(t + 1);  // running mean over t + 1 points
    avg_x = B::axpby(T(1) - w, avg_x, w, x);
    if (!symmetric) avg_y = B::axpby(T(1) - w, avg_y, w, y);
  };
  auto average_exploitability = [&] {
    vec ax_g, ac_g;
    const vec& ay = symmetric ? avg_x : avg_y;
    op.gradients(avg_x, ay, ax_g, ac_g);
    return op.evaluate(avg_x, ax_g, ac_g).exploitability();
  };
  // Advances one player by stage s of the rule: into its stage point, or, at the last stage,
  // into z_{t+1}.
  auto advance = [&](detail::mirror_player<B>& p, vec& gradient, index_t t, int s, vec& stage_l,
                     vec& stage_p) {
    vec& previous = p.previous_gradient[static_cast<std::size_t>(s)];
    if (t == 0) previous = gradient;
    vec next = detail::apply_rule<B>(policy.rule, p.log_prob, gradient, previous,
                                     p.log_reference, eta, t, s);
    previous = std::move(gradient);
    vec& l = s + 1 == stages ? p.log_prob : stage_l;
    l = std::move(next);
    (s + 1 == stages ? p.prob : stage_p) = detail::normalise_logits<B>(l);
  };

  for (index_t t = 0; t < iters; ++t) {
    const vec* wx = &row.prob;  // the stage point w_s, starting at z_t
    const vec* wy = symmetric ? wx : &col.prob;
    for (int s = 0; s < stages; ++s) {
      op.gradients(*wx, *wy, gx, gc);
      if (s == 0 && trace_every > 0 && t % trace_every == 0) {
        const T last = op.evaluate(*wx, gx, gc).exploitability();
        out.trace_iteration.push_back(t);
        out.trace_last.push_back(last);
        out.trace_average.push_back(t == 0 ? last : average_exploitability());
      }
      if (s == Rule::averaged_stage) accumulate(*wx, *wy, t);
      advance(row, gx, t, s, stage_lx, stage_x);
      if (!symmetric) advance(col, gc, t, s, stage_ly, stage_y);
      wx = &stage_x;
      wy = symmetric ? wx : &stage_y;
    }
  }
  const vec& y_last = symmetric ? row.prob : col.prob;
  const vec& y_average = symmetric ? avg_x : avg_y;
  const double lambda = rule_kl_weight(policy.rule);
  const vec& log_mu_y = symmetric ? row.log_reference : col.log_reference;
  out.last = op.solution_at(row.prob, y_last, value_offset, row.log_reference, log_mu_y, lambda);
  out.average =
      op.solution_at(avg_x, y_average, value_offset, row.log_reference, log_mu_y, lambda);
  if (trace_every > 0) {
    out.trace_iteration.push_back(iters);
    out.trace_last.push_back(out.last.exploitability);
    out.trace_average.push_back(out.average.exploitability);
  }
  return out;
}

/// Host-side convenience: uploads the game's payoff and runs the dynamics.
template <class B, class Rule>
  requires mirror_rule<Rule, typename B::scalar_type>
iterative_result<B> run_dynamics(const mirror_solver<Rule>& policy,
                                 const matrix_game<typename B::scalar_type>& g) {
  PREFOPT_ASSERT_BACKEND(B);
  policy.validate_for(g.rows(), g.cols(), g.symmetric());  // before the upload
  const auto a = detail::upload_matrix<B>(
      g.rows(), g.cols(), std::span<const typename B::scalar_type>(g.values()));
  return run_dynamics<B>(policy, a, g.symmetric(), g.value_offset());
}

}  // namespace prefopt::game
