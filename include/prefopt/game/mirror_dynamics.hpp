#pragma once
// The engine shared by the iterative solvers (hedge.hpp, optimistic.hpp, extragradient.hpp):
// entropic mirror ascent for the row player (maximising xᵀAy) and mirror descent for the column
// player on the simplex, in log space:
//
//   hedge          L_{t+1} = L_t + η g(z_t)                         (Freund & Schapire 1999)
//   optimistic     L_{t+1} = L_t + η (2 g(z_t) − g(z_{t−1}))        (Rakhlin & Sridharan 2013;
//                                                                    Daskalakis & Panageas 2019)
//   extragradient  L_{t+½} = L_t + η g(z_t),  L_{t+1} = L_t + η g(z_{t+½})   (mirror prox,
//                                                                    Nemirovski 2004)
//
// with g = (Ay, −Aᵀx) and z = (softmax L_x, softmax L_y). The averaged iterate is the mean of
// z_0..z_{T−1} (hedge, optimistic) or of the midpoints z_{½}..z_{T−½} (extragradient, the point
// Nemirovski's bound is stated for). Symmetric (skew-symmetric) games are run as self-play on a
// single strategy, x = y, which is exactly the sequence the two-player dynamics produce from a
// symmetric start and costs one matrix-vector product per gradient instead of two.
//
// Everything runs on a prefopt::Backend: two matvecs per gradient, element-wise updates,
// a device-side log-sum-exp normalisation. Only the optional trace reads scalars back to the host.

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/game/detail/backend_ops.hpp"
#include "prefopt/game/matrix_game.hpp"

namespace prefopt::game {

enum class dynamics_rule { hedge, optimistic, extragradient };

/// Last and averaged iterate of an iterative solver, with their exploitability (OpenSpiel's
/// definition, exploitability.hpp) and value (xᵀAy + value offset).
template <class B>
struct iterative_result {
  using scalar_type = typename B::scalar_type;
  typename B::vector_type row, col;                  // last iterate z_T
  typename B::vector_type row_average, col_average;  // averaged iterate
  scalar_type exploitability_last{}, exploitability_average{};
  scalar_type value_last{}, value_average{};
  index_t iterations = 0;
  // Filled when trace_every > 0: iteration t and the exploitability of z_t and of the average
  // of the points so far (t = 0, trace_every, 2·trace_every, ..., and T).
  std::vector<index_t> trace_iteration;
  std::vector<scalar_type> trace_last, trace_average;
};

namespace detail {

inline void validate_iterative(double eta, index_t iters, index_t trace_every) {
  require_positive_finite("eta", eta);
  require(iters >= 1, "iters", iters, "must be >= 1");
  require(trace_every >= 0, "trace_every", trace_every, "must be >= 0 (0 = no trace)");
}

/// Strategy pair in the backend's memory; y aliases x (is not maintained) for symmetric games.
template <class B>
struct profile {
  typename B::vector_type lx, ly, x, y;
};

template <class B>
class mirror_engine {
 public:
  using T = typename B::scalar_type;
  using vec = typename B::vector_type;
  using mat = typename B::matrix_type;

  mirror_engine(const mat& a, bool symmetric) : a_(a), symmetric_(symmetric) {}

  /// Gradients at (x, y): gx = A y (row ascent direction), cy = Aᵀx (column loss).
  void gradient(const vec& x, const vec& y, vec& gx, vec& cy) const {
    gx = B::matvec(a_, symmetric_ ? x : y);
    if (!symmetric_) cy = B::matvec_transposed(a_, x);
  }
  /// Exploitability from the gradients: (max Ay − min Aᵀx) / 2; max Ax when symmetric.
  T exploitability(const vec& gx, const vec& cy) const {
    if (symmetric_) return max_entry<B>(gx);
    return (max_entry<B>(gx) + max_entry<B>(B::axpby(T(-1), cy, T(0), cy))) / T(2);
  }
  T exploitability_at(const vec& x, const vec& y) const {
    vec gx, cy;
    gradient(x, y, gx, cy);
    return exploitability(gx, cy);
  }
  T value_at(const vec& x, const vec& y) const {
    return B::dot(x, B::matvec(a_, symmetric_ ? x : y));
  }
  /// L ← L + s·g (row) and L ← L − s·c (column), then renormalise both players.
  void step(profile<B>& z, const vec& gx, const vec& cy, T s) const {
    z.lx = B::axpby(T(1), z.lx, s, gx);
    z.x = normalise_logits<B>(z.lx);
    if (!symmetric_) {
      z.ly = B::axpby(T(1), z.ly, -s, cy);
      z.y = normalise_logits<B>(z.ly);
    }
  }
  [[nodiscard]] bool symmetric() const { return symmetric_; }

 private:
  const mat& a_;
  bool symmetric_;
};

}  // namespace detail

/// Runs `iters` iterations of `rule` with step `eta` on the payoff A (in the backend's memory).
template <class B>
iterative_result<B> run_dynamics(dynamics_rule rule, double eta, index_t iters,
                                 index_t trace_every, const typename B::matrix_type& a,
                                 bool symmetric, typename B::scalar_type value_offset) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  using vec = typename B::vector_type;
  detail::validate_iterative(eta, iters, trace_every);
  const index_t m = B::rows(a), n = B::cols(a);
  require(m >= 1 && n >= 1, "A.rows() * A.cols()", m * n, "the payoff matrix must be non-empty");
  if (symmetric) require_same_size("A.cols()", n, "A.rows()", m);
  const detail::mirror_engine<B> eng(a, symmetric);
  const T s = static_cast<T>(eta);

  detail::profile<B> z;
  z.x = detail::uniform<B>(m);
  z.lx = B::log(z.x);
  if (!symmetric) {
    z.y = detail::uniform<B>(n);
    z.ly = B::log(z.y);
  }
  vec avg_x = B::zeros(m), avg_y = B::zeros(symmetric ? 0 : n);
  vec gx, cy, prev_gx, prev_cy;
  iterative_result<B> out;
  out.iterations = iters;

  auto accumulate = [&](const detail::profile<B>& p, index_t t) {
    const T w = T(1) / T(t + 1);  // running mean over t + 1 points
    avg_x = B::axpby(T(1) - w, avg_x, w, p.x);
    if (!symmetric) avg_y = B::axpby(T(1) - w, avg_y, w, p.y);
  };
  auto record = [&](index_t t, T last) {
    out.trace_iteration.push_back(t);
    out.trace_last.push_back(last);
    out.trace_average.push_back(
        t == 0 ? last : eng.exploitability_at(avg_x, symmetric ? avg_x : avg_y));
  };

  for (index_t t = 0; t < iters; ++t) {
    eng.gradient(z.x, z.y, gx, cy);
    if (trace_every > 0 && t % trace_every == 0) record(t, eng.exploitability(gx, cy));
    switch (rule) {
      case dynamics_rule::hedge:
        accumulate(z, t);
        eng.step(z, gx, cy, s);
        break;
      case dynamics_rule::optimistic: {
        accumulate(z, t);
        if (t == 0) prev_gx = gx, prev_cy = cy;
        const vec ox = B::axpby(T(2), gx, T(-1), prev_gx);
        const vec oc = symmetric ? ox : B::axpby(T(2), cy, T(-1), prev_cy);
        eng.step(z, ox, oc, s);
        prev_gx = std::move(gx), prev_cy = std::move(cy);
        break;
      }
      case dynamics_rule::extragradient: {
        detail::profile<B> half = z;
        eng.step(half, gx, cy, s);
        accumulate(half, t);
        vec hgx, hcy;
        eng.gradient(half.x, half.y, hgx, hcy);
        eng.step(z, hgx, hcy, s);
        break;
      }
    }
  }
  const vec& ly = symmetric ? z.x : z.y;
  const vec& ay = symmetric ? avg_x : avg_y;
  out.exploitability_last = eng.exploitability_at(z.x, ly);
  out.exploitability_average = eng.exploitability_at(avg_x, ay);
  out.value_last = eng.value_at(z.x, ly) + value_offset;
  out.value_average = eng.value_at(avg_x, ay) + value_offset;
  if (trace_every > 0) {
    out.trace_iteration.push_back(iters);
    out.trace_last.push_back(out.exploitability_last);
    out.trace_average.push_back(out.exploitability_average);
  }
  out.row = z.x;
  out.col = ly;
  out.row_average = avg_x;
  out.col_average = ay;
  return out;
}

/// Host-side convenience: uploads the game's payoff and runs the dynamics.
template <class B>
iterative_result<B> run_dynamics(dynamics_rule rule, double eta, index_t iters,
                                 index_t trace_every,
                                 const matrix_game<typename B::scalar_type>& g) {
  PREFOPT_ASSERT_BACKEND(B);
  detail::validate_iterative(eta, iters, trace_every);
  const auto a = detail::upload_matrix<B>(
      g.rows(), g.cols(), std::span<const typename B::scalar_type>(g.values()));
  return run_dynamics<B>(rule, eta, iters, trace_every, a, g.symmetric(), g.value_offset());
}

}  // namespace prefopt::game
