// The solver policies step by step: every shipped rule (hedge, optimistic MWU, extragradient) and
// a rule defined here, outside the library, run on the dense engine (solve<B>, every test
// backend) and on the batched small-game engine (solve_batch<B>), and their first iterates,
// averages, values and exploitabilities are compared with a host reference in double written
// from each update's textbook definition in probability space (x' ∝ x · exp(η g), no logs, no
// library code).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <prefopt/core/errors.hpp>
#include <prefopt/game/solve.hpp>
#include <support/backends.hpp>

using namespace prefopt::game;
using prefopt::index_t;

// [docs: custom rule] — docs/games.md quotes this block verbatim.
/// A damped, KL-regularised Hedge with a decaying step: towards the reference strategy μ by a
/// factor `damping` per step, and along the payoff gradient with step η / (t + 1),
///   π_{t+1} ∝ π_t^{1 − damping} · μ^{damping} · exp(η / (t + 1) · g_t).
struct damped_hedge_rule {
  double damping = 0.25;
  static constexpr int stages = 1;          // one gradient evaluation per iteration
  static constexpr int averaged_stage = 0;  // average the iterates z_t themselves
  void validate() const {
    prefopt::require(damping >= 0 && damping < 1, "damping", damping, "must be in [0, 1)");
  }
  template <class T>
  PREFOPT_HD T step(const mirror_entry<T>& e) const {
    const T d = static_cast<T>(damping);
    const T eta_t = e.eta / static_cast<T>(e.iteration + 1);
    return (T(1) - d) * e.log_prob + d * e.log_reference + eta_t * e.gradient;
  }
};
using damped_hedge = mirror_solver<damped_hedge_rule>;
// Usage: solve<B>(damped_hedge{.eta = 0.5, .iters = 200, .rule = {.damping = 0.1}}, P);
// [docs: end]

namespace {

using vecd = std::vector<double>;

/// Uniform double in [lo, hi) from the raw 53 high bits of the generator.
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// A test game: its payoff (as the solver's scalar type T rounded it) and shape.
struct host_game {
  int m, n;
  vecd a;  // row-major
  double offset;
};

template <class T>
matrix_game<T> make_game(bool symmetric, std::mt19937_64& rng) {
  if (symmetric) {  // a 4 x 4 preference game, P(i, j) + P(j, i) = 1
    const int n = 4;
    std::vector<T> p(n * n, T(0.5));
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        const T v = static_cast<T>(uniform(rng, 0.0, 1.0));
        p[i * n + j] = v, p[j * n + i] = T(1) - v;
      }
    return matrix_game<T>::from_preferences(prefopt::prefmodel::preference_matrix<T>(n, p, T(1e-6)));
  }
  std::vector<T> a(3 * 5);
  for (T& v : a) v = static_cast<T>(uniform(rng, -1.0, 1.0));
  return matrix_game<T>(3, 5, a);
}

template <class T>
host_game to_host_game(const matrix_game<T>& g) {
  return {static_cast<int>(g.rows()), static_cast<int>(g.cols()),
          vecd(g.values().begin(), g.values().end()), static_cast<double>(g.value_offset())};
}

vecd times(const host_game& g, const vecd& y) {  // A y
  vecd r(g.m, 0.0);
  for (int i = 0; i < g.m; ++i)
    for (int j = 0; j < g.n; ++j) r[i] += g.a[i * g.n + j] * y[j];
  return r;
}
vecd minus_times_transposed(const host_game& g, const vecd& x) {  // −Aᵀx
  vecd r(g.n, 0.0);
  for (int i = 0; i < g.m; ++i)
    for (int j = 0; j < g.n; ++j) r[j] -= g.a[i * g.n + j] * x[i];
  return r;
}
vecd normalised(vecd w) {
  double s = 0;
  for (double v : w) s += v;
  for (double& v : w) v /= s;
  return w;
}

/// The iterate after T steps and the mean of the averaged points, with value and exploitability.
struct reference {
  vecd x, y, avg_x, avg_y;
  double value_last, value_average, exploitability_last, exploitability_average;
};

double value(const host_game& g, const vecd& x, const vecd& y) {
  const vecd ay = times(g, y);
  double v = 0;
  for (int i = 0; i < g.m; ++i) v += x[i] * ay[i];
  return v + g.offset;
}
/// OpenSpiel's definition: (max_i (Ay)_i − min_j (Aᵀx)_j) / 2.
double exploitability(const host_game& g, const vecd& x, const vecd& y) {
  const vecd ay = times(g, y), mtx = minus_times_transposed(g, x);
  double best_row = ay[0], best_col = -mtx[0];
  for (double v : ay) best_row = std::max(best_row, v);
  for (double v : mtx) best_col = std::min(best_col, -v);
  return (best_row - best_col) / 2;
}

/// One player's multiplicative update: weights w_i given (p_i, g_i, g_prev_i, k, t).
using update_fn = std::function<double(double p, double g, double g_prev, int k, int t)>;

/// Simultaneous two-player dynamics x' ∝ w(x, A y), y' ∝ w(y, −Aᵀx) for `iters` steps from the
/// uniform profile; the average is over z_0 .. z_{T−1}. A symmetric game is played out by both
/// players too (no self-play shortcut), which also checks the engines' x = y reduction.
reference run_reference(const host_game& g, const update_fn& w, int iters) {
  vecd x(g.m, 1.0 / g.m), y(g.n, 1.0 / g.n), gx_prev, gy_prev;
  vecd ax(g.m, 0.0), ay(g.n, 0.0);
  for (int t = 0; t < iters; ++t) {
    for (int i = 0; i < g.m; ++i) ax[i] += x[i] / iters;
    for (int j = 0; j < g.n; ++j) ay[j] += y[j] / iters;
    const vecd gx = times(g, y), gy = minus_times_transposed(g, x);
    if (t == 0) gx_prev = gx, gy_prev = gy;
    vecd nx(g.m), ny(g.n);
    for (int i = 0; i < g.m; ++i) nx[i] = w(x[i], gx[i], gx_prev[i], g.m, t);
    for (int j = 0; j < g.n; ++j) ny[j] = w(y[j], gy[j], gy_prev[j], g.n, t);
    x = normalised(nx), y = normalised(ny), gx_prev = gx, gy_prev = gy;
  }
  return {x, y, ax, ay, value(g, x, y), value(g, ax, ay), exploitability(g, x, y),
          exploitability(g, ax, ay)};
}

/// Mirror prox (Nemirovski 2004): z_{t+½} ∝ z_t exp(η g(z_t)), z_{t+1} ∝ z_t exp(η g(z_{t+½}));
/// the average is over the midpoints.
reference run_extragradient_reference(const host_game& g, double eta, int iters) {
  auto move = [&](const vecd& p, const vecd& grad) {
    vecd r(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) r[i] = p[i] * std::exp(eta * grad[i]);
    return normalised(r);
  };
  vecd x(g.m, 1.0 / g.m), y(g.n, 1.0 / g.n), ax(g.m, 0.0), ay(g.n, 0.0);
  for (int t = 0; t < iters; ++t) {
    const vecd hx = move(x, times(g, y)), hy = move(y, minus_times_transposed(g, x));
    for (int i = 0; i < g.m; ++i) ax[i] += hx[i] / iters;
    for (int j = 0; j < g.n; ++j) ay[j] += hy[j] / iters;
    const vecd nx = move(x, times(g, hy)), ny = move(y, minus_times_transposed(g, hx));
    x = nx, y = ny;
  }
  return {x, y, ax, ay, value(g, x, y), value(g, ax, ay), exploitability(g, x, y),
          exploitability(g, ax, ay)};
}

/// Not mirror rules: no validate(), and an averaged stage that does not exist.
struct no_validate {
  static constexpr int stages = 1, averaged_stage = 0;
  template <class T>
  T step(const mirror_entry<T>& e) const {
    return e.log_prob;
  }
};
struct bad_average : hedge_rule {
  static constexpr int averaged_stage = 1;  // only stage 0 exists
};

constexpr double eta = 0.7;
constexpr double damping = 0.3;

/// The reference of each policy under test, by name.
reference reference_for(const std::string& name, const host_game& g, int iters) {
  if (name == "extragradient") return run_extragradient_reference(g, eta, iters);
  update_fn w;
  if (name == "hedge")
    w = [](double p, double gr, double, int, int) { return p * std::exp(eta * gr); };
  else if (name == "optimistic")
    w = [](double p, double gr, double gp, int, int) { return p * std::exp(eta * (2 * gr - gp)); };
  else  // damped hedge: π^{1−d} μ^d exp(η/(t+1) g), μ uniform
    w = [](double p, double gr, double, int k, int t) {
      return std::pow(p, 1 - damping) * std::pow(1.0 / k, damping) * std::exp(eta / (t + 1) * gr);
    };
  return run_reference(g, w, iters);
}

template <class F>
void for_each_policy(int iters, F&& f) {
  f("hedge", hedge{.eta = eta, .iters = iters});
  f("optimistic", optimistic_mwu{.eta = eta, .iters = iters});
  f("extragradient", extragradient{.eta = eta, .iters = iters});
  f("damped", damped_hedge{.eta = eta, .iters = iters, .rule = {.damping = damping}});
}

template <class T>
constexpr double tolerance = sizeof(T) == 8 ? 1e-13 : 3e-6;

void check_close(const vecd& got, const vecd& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(what << "[" << i << "]");
    CHECK(std::fabs(got[i] - want[i]) <= tol);
  }
}
template <class T>
vecd as_double(const std::vector<T>& v) {
  return vecd(v.begin(), v.end());
}

}  // namespace

namespace {

/// The dense engine, solve<B>, after 1..4 iterations.
template <class B>
void check_dense_engine(const matrix_game<typename B::scalar_type>& g, bool symmetric) {
  using T = typename B::scalar_type;
  const host_game h = to_host_game(g);
  const double tol = tolerance<T>;
  for (int iters = 1; iters <= 4; ++iters) {
    for_each_policy(iters, [&](const std::string& name, const auto& policy) {
      INFO(name << (symmetric ? " (symmetric)" : " (general)") << ", T = " << iters);
      const reference want = reference_for(name, h, iters);
      const auto r = solve<B>(policy, g);
      check_close(as_double(B::to_host(r.last.row_strategy)), want.x, tol, "x");
      check_close(as_double(B::to_host(r.last.col_strategy)), want.y, tol, "y");
      check_close(as_double(B::to_host(r.average.row_strategy)), want.avg_x, tol, "avg x");
      check_close(as_double(B::to_host(r.average.col_strategy)), want.avg_y, tol, "avg y");
      CHECK(std::fabs(r.last.value - want.value_last) <= tol);
      CHECK(std::fabs(r.average.value - want.value_average) <= tol);
      CHECK(std::fabs(r.last.exploitability - want.exploitability_last) <= tol);
      CHECK(std::fabs(r.average.exploitability - want.exploitability_average) <= tol);
      CHECK(r.iterations == iters);
    });
  }
}

/// The batched engine, solve_batch<B>, on a batch of games of one shape, each compared with its
/// own reference after 3 iterations.
template <class B>
void check_batched_engine(const std::vector<matrix_game<typename B::scalar_type>>& games,
                          bool symmetric) {
  using T = typename B::scalar_type;
  const index_t count = static_cast<index_t>(games.size());
  matrix_game_batch<T> batch;
  if (symmetric) {  // rebuilt from P = A + ½, so that the batch is a preference batch
    std::vector<prefopt::prefmodel::preference_matrix<T>> ps;
    for (const auto& g : games) {
      std::vector<T> p(g.values());
      for (T& v : p) v += T(0.5);
      ps.emplace_back(g.rows(), p, T(1e-6));
    }
    batch = matrix_game_batch<T>::from_preferences(ps);
  } else {
    std::vector<T> values;
    for (const auto& g : games) values.insert(values.end(), g.values().begin(), g.values().end());
    batch = matrix_game_batch<T>(count, games[0].rows(), games[0].cols(), values);
  }
  const int iters = 3;
  const double tol = tolerance<T>;
  for_each_policy(iters, [&](const std::string& name, const auto& policy) {
    INFO(name << (symmetric ? " (symmetric batch)" : " (general batch)"));
    const auto r = solve_batch<B>(policy, batch);
    const auto el = B::to_host(r.last.exploitability), ea = B::to_host(r.average.exploitability);
    const auto vl = B::to_host(r.last.value), va = B::to_host(r.average.value);
    for (index_t k = 0; k < count; ++k) {
      const reference want = reference_for(name, to_host_game(batch.game(k)), iters);
      for (index_t i = 0; i < batch.rows(); ++i) {
        CHECK(std::fabs(r.last.row_strategy(k, i) - want.x[i]) <= tol);
        CHECK(std::fabs(r.average.row_strategy(k, i) - want.avg_x[i]) <= tol);
      }
      for (index_t j = 0; j < batch.cols(); ++j) {
        CHECK(std::fabs(r.last.col_strategy(k, j) - want.y[j]) <= tol);
        CHECK(std::fabs(r.average.col_strategy(k, j) - want.avg_y[j]) <= tol);
      }
      CHECK(std::fabs(vl[k] - want.value_last) <= tol);
      CHECK(std::fabs(va[k] - want.value_average) <= tol);
      CHECK(std::fabs(el[k] - want.exploitability_last) <= tol);
      CHECK(std::fabs(ea[k] - want.exploitability_average) <= tol);
    }
  });
}

}  // namespace

TEMPLATE_TEST_CASE("every solver rule follows its definition on the dense and batched engines",
                   "[game][rules][batch]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  std::mt19937_64 rng(2026);
  for (bool symmetric : {false, true}) {
    std::vector<matrix_game<T>> games;
    for (int k = 0; k < 3; ++k) games.push_back(make_game<T>(symmetric, rng));
    check_dense_engine<B>(games[0], symmetric);
    check_batched_engine<B>(games, symmetric);
  }
}

TEST_CASE("a rule's own parameters are validated with the policy", "[game][rules]") {
  using B = prefopt::eigen::backend<double>;
  std::mt19937_64 rng(5);
  const auto g = make_game<double>(false, rng);
  CHECK_THROWS_WITH(solve<B>(damped_hedge{.rule = {.damping = 1.0}}, g),
                    Catch::Contains("damping = 1: must be in [0, 1)"));
  CHECK_THROWS_AS(solve<B>(damped_hedge{.rule = {.damping = NAN}}, g), prefopt::invalid_argument);
  CHECK_THROWS_AS(solve_batch<B>(damped_hedge{.eta = -1}, matrix_game_batch<double>(1, 3, 5, g.values())),
                  prefopt::invalid_argument);
  // Anything that is not a mirror rule is rejected at compile time.
  static_assert(mirror_rule<damped_hedge_rule, float> && mirror_rule<damped_hedge_rule, double>);
  static_assert(!mirror_rule<int, double>);
  static_assert(!mirror_rule<no_validate, double>);
  static_assert(!mirror_rule<bad_average, double>);
}
