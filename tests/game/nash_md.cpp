// Nash-MD (KL-regularised Nash updates, game/nash_md.hpp) on every test backend and both engines:
// - λ = 0 is SPPO's update (sppo_update) and Hedge, bit for bit;
// - the first iterates with a non-uniform reference (a zero entry included, uniform and
//   reference starts) against the update written in probability space in double;
// - the limit against the KL-regularised equilibria of tests/reference/game/nash_md_reference.py
//   (numpy/scipy, fixtures/nash_md_equilibria.csv);
// - the reported regularised exploitability against the duality gap computed here from its
//   definition (max_x' f(x', y) − min_y' f(x, y') by closed-form best responses);
// - validation of the reference, start, λ and ηλ.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/core/errors.hpp>
#include <prefopt/game/solve.hpp>
#include <support/backends.hpp>

#include "oracles.hpp"

using namespace prefopt::game;
using prefopt::index_t;

namespace {

using vecd = std::vector<double>;
constexpr double inf = std::numeric_limits<double>::infinity();

/// A game of the fixture: M is P (symmetric) or A, with references, λ and the equilibrium.
struct fixture_game {
  std::string name;
  bool symmetric = false;
  int m = 0, n = 0;
  double lambda = 0;
  vecd matrix, mu_x, mu_y, x, y;
};

std::vector<fixture_game> read_fixture() {
  std::ifstream in(PREFOPT_GAME_FIXTURE_DIR "/nash_md_equilibria.csv");
  REQUIRE(in.good());
  std::vector<fixture_game> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    std::string cell;
    fixture_game g;
    std::getline(ss, g.name, ',');
    vecd v;
    while (std::getline(ss, cell, ',')) v.push_back(std::stod(cell));
    REQUIRE(v.size() >= 4);
    g.symmetric = v[0] != 0, g.m = static_cast<int>(v[1]), g.n = static_cast<int>(v[2]);
    g.lambda = v[3];
    const std::size_t m = g.m, n = g.n;
    REQUIRE(v.size() == 4 + m * n + 2 * (m + n));
    auto take = [&, at = std::size_t{4}](std::size_t k) mutable {
      vecd r(v.begin() + static_cast<long>(at), v.begin() + static_cast<long>(at + k));
      at += k;
      return r;
    };
    g.matrix = take(m * n), g.mu_x = take(m), g.mu_y = take(n), g.x = take(m), g.y = take(n);
    out.push_back(g);
  }
  return out;
}

template <class T>
matrix_game<T> make_game(const fixture_game& f) {
  const std::vector<T> values(f.matrix.begin(), f.matrix.end());
  if (f.symmetric)
    return matrix_game<T>::from_preferences(
        prefopt::prefmodel::preference_matrix<T>(f.m, values, T(1e-6)));
  return matrix_game<T>(f.m, f.n, values);
}

/// The policy for a game: its λ and references (symmetric games pass one reference).
nash_md policy_for(const fixture_game& f, double eta, index_t iters,
                   mirror_start start = mirror_start::uniform) {
  nash_md p{.eta = eta, .iters = iters, .rule = {.lambda = f.lambda}, .reference = f.mu_x};
  if (!f.symmetric) p.col_reference = f.mu_y;
  p.start = start;
  return p;
}

/// The payoff as the engines see it, in double: A (general) or P − ½ (symmetric).
vecd payoff(const fixture_game& f) {
  vecd a = f.matrix;
  if (f.symmetric)
    for (double& v : a) v -= 0.5;
  return a;
}

vecd times(const vecd& a, int m, int n, const vecd& y) {  // A y
  vecd r(m, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) r[i] += a[i * n + j] * y[j];
  return r;
}
vecd minus_times_transposed(const vecd& a, int m, int n, const vecd& x) {  // −Aᵀx
  vecd r(n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) r[j] -= a[i * n + j] * x[i];
  return r;
}

/// The regularised duality gap from its definition, f(x, y) = xᵀAy − λ KL(x‖μx) + λ KL(y‖μy):
///   max_x' f(x', y) = λ log Σ μx exp((Ay)/λ) + λ KL(y‖μy),
///   min_y' f(x, y') = −λ log Σ μy exp(−(Aᵀx)/λ) − λ KL(x‖μx),
/// the best responses in closed form (the Gibbs variational principle). Exploitability = gap / 2.
double regularised_exploitability_oracle(const fixture_game& f, const vecd& x, const vecd& y) {
  const vecd a = payoff(f);
  auto kl = [](const vecd& p, const vecd& q) {
    double s = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (p[i] > 0) s += q[i] > 0 ? p[i] * std::log(p[i] / q[i]) : inf;
    return s;
  };
  auto best = [&](const vecd& g, const vecd& mu) {  // λ log Σ μ exp(g / λ), plain loop
    double s = 0;
    for (std::size_t i = 0; i < g.size(); ++i) s += mu[i] * std::exp(g[i] / f.lambda);
    return f.lambda * std::log(s);
  };
  const double max_row = best(times(a, f.m, f.n, y), f.mu_x) + f.lambda * kl(y, f.mu_y);
  const double min_col =
      -best(minus_times_transposed(a, f.m, f.n, x), f.mu_y) - f.lambda * kl(x, f.mu_x);
  return (max_row - min_col) / 2;
}

/// Nash-MD in probability space: x' ∝ x^{1−ηλ} μx^{ηλ} exp(η A y), y' ∝ y^{1−ηλ} μy^{ηλ}
/// exp(−η Aᵀx), both players played out (no self-play shortcut), averaging z_0 .. z_{T−1}.
struct trajectory {
  vecd x, y, avg_x, avg_y;
};
trajectory nash_md_reference(const fixture_game& f, double eta, int iters, bool start_at_mu) {
  const vecd a = payoff(f);
  const double kappa = eta * f.lambda;
  auto step = [&](const vecd& p, const vecd& mu, const vecd& g) {
    vecd w(p.size());
    double z = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
      z += w[i] = std::pow(p[i], 1 - kappa) * std::pow(mu[i], kappa) * std::exp(eta * g[i]);
    for (double& v : w) v /= z;
    return w;
  };
  trajectory t{start_at_mu ? f.mu_x : vecd(f.m, 1.0 / f.m),
               start_at_mu ? f.mu_y : vecd(f.n, 1.0 / f.n), vecd(f.m, 0.0), vecd(f.n, 0.0)};
  for (int s = 0; s < iters; ++s) {
    for (int i = 0; i < f.m; ++i) t.avg_x[i] += t.x[i] / iters;
    for (int j = 0; j < f.n; ++j) t.avg_y[j] += t.y[j] / iters;
    const vecd gx = times(a, f.m, f.n, t.y), gy = minus_times_transposed(a, f.m, f.n, t.x);
    t.x = step(t.x, f.mu_x, gx), t.y = step(t.y, f.mu_y, gy);
  }
  return t;
}

template <class T>
vecd as_double(const std::vector<T>& v) {
  return vecd(v.begin(), v.end());
}
void check_close(const vecd& got, const vecd& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(what << "[" << i << "] = " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol);
  }
}
/// Row k of a batch result matrix.
template <class M>
vecd row_of(const M& mat, index_t k, index_t cols) {
  vecd r(static_cast<std::size_t>(cols));
  for (index_t j = 0; j < cols; ++j) r[static_cast<std::size_t>(j)] = mat(k, j);
  return r;
}
/// The batch of one game: two copies (the kernel writes each game's rows at its own offset).
template <class T>
matrix_game_batch<T> batch_of(const fixture_game& f) {
  if (f.symmetric) {
    const std::vector<T> values(f.matrix.begin(), f.matrix.end());
    const prefopt::prefmodel::preference_matrix<T> p(f.m, values, T(1e-6));
    return matrix_game_batch<T>::from_preferences({p, p});
  }
  std::vector<T> values(f.matrix.begin(), f.matrix.end());
  values.insert(values.end(), f.matrix.begin(), f.matrix.end());
  return matrix_game_batch<T>(2, f.m, f.n, values);
}

}  // namespace

TEMPLATE_TEST_CASE("nash_md with lambda 0 is SPPO's update and Hedge bit for bit",
                   "[game][nash_md]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const auto p = game_test::random_preferences(5, 11);
  const std::vector<T> ph(p.values().begin(), p.values().end());
  const auto pm = detail::upload_matrix<B>(5, 5, std::span<const T>(ph));
  const std::vector<T> pi = {T(0.1), T(0.3), T(0.2), T(0.15), T(0.25)};
  const std::vector<T> mu = {T(0.4), T(0.1), T(0.2), T(0.3), T(0)};  // a zero: log μ = −∞
  const auto piv = B::from_host(std::span<const T>(pi)), muv = B::from_host(std::span<const T>(mu));
  // Both functions are detail::self_play_step (matvec, log, rule per entry, normalise) and
  // nash_md_rule::step returns hedge_rule{}.step(e) when ηλ = 0: the same operations on the same
  // operands in the same order, so the results agree exactly, not only to an ulp.
  const auto want = B::to_host(sppo_update<B>(pm, piv, T(0.7)));
  const auto got = B::to_host(nash_md_update<B>(pm, piv, muv, T(0.7), 0.0));
  for (int i = 0; i < 5; ++i) CHECK(got[i] == want[i]);
  // λ > 0 moves the step (guards against a test that passes because λ is ignored).
  const auto moved = B::to_host(nash_md_update<B>(pm, piv, muv, T(0.7), 0.5));
  CHECK(moved[4] == T(0));  // the reference forbids entry 4
  CHECK(std::fabs(static_cast<double>(moved[0]) - static_cast<double>(want[0])) > 1e-3);

  // The engines: nash_md{λ = 0} and hedge with the same reference and start run identical loops.
  const auto game = matrix_game<T>::from_preferences(
      prefopt::prefmodel::preference_matrix<T>(5, ph, T(1e-6)));
  const std::vector<double> ref = {0.4, 0.1, 0.2, 0.3, 0.0};
  for (const mirror_start start : {mirror_start::uniform, mirror_start::reference}) {
    const auto h = solve<B>(hedge{.eta = 0.7, .iters = 50, .reference = ref, .start = start}, game);
    const auto n = solve<B>(
        nash_md{.eta = 0.7, .iters = 50, .rule = {.lambda = 0}, .reference = ref, .start = start},
        game);
    const auto hx = B::to_host(h.last.row_strategy), nx = B::to_host(n.last.row_strategy);
    const auto ha = B::to_host(h.average.row_strategy), na = B::to_host(n.average.row_strategy);
    for (int i = 0; i < 5; ++i) CHECK((hx[i] == nx[i] && ha[i] == na[i]));
    CHECK(n.last.exploitability == h.last.exploitability);
    // λ = 0 is the plain game: the regularised exploitability is the plain one.
    CHECK(n.last.regularised_exploitability == n.last.exploitability);
    CHECK(h.average.regularised_exploitability == h.average.exploitability);
  }
}

TEMPLATE_TEST_CASE("nash_md's first iterates follow the update in probability space",
                   "[game][nash_md]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const double tol = sizeof(T) == 8 ? 1e-13 : 3e-6;
  const double eta = 0.8;
  for (const auto& f : read_fixture()) {
    for (const bool at_mu : {false, true}) {
      for (int iters = 1; iters <= 3; ++iters) {
        INFO(f.name << (at_mu ? ", start at mu" : ", uniform start") << ", T = " << iters);
        const auto want = nash_md_reference(f, eta, iters, at_mu);
        const auto policy = policy_for(f, eta, iters,
                                       at_mu ? mirror_start::reference : mirror_start::uniform);
        const auto r = solve<B>(policy, make_game<T>(f));
        check_close(as_double(B::to_host(r.last.row_strategy)), want.x, tol, "x");
        check_close(as_double(B::to_host(r.last.col_strategy)), want.y, tol, "y");
        check_close(as_double(B::to_host(r.average.row_strategy)), want.avg_x, tol, "avg x");
        check_close(as_double(B::to_host(r.average.col_strategy)), want.avg_y, tol, "avg y");
        const auto b = solve_batch<B>(policy, batch_of<T>(f));
        for (index_t k = 0; k < 2; ++k) {
          check_close(row_of(b.last.row_strategy, k, f.m), want.x, tol, "batch x");
          check_close(row_of(b.last.col_strategy, k, f.n), want.y, tol, "batch y");
          check_close(row_of(b.average.row_strategy, k, f.m), want.avg_x, tol, "batch avg x");
          check_close(row_of(b.average.col_strategy, k, f.n), want.avg_y, tol, "batch avg y");
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("nash_md reports the regularised exploitability of its iterates",
                   "[game][nash_md]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  // Relative to the gap's terms (O(1) payoffs, λ log Σ ... up to ~λ·log(1/min μ)); float's
  // iterates carry ~1e-7 relative error into a difference of such terms.
  const double tol = sizeof(T) == 8 ? 1e-12 : 2e-5;
  for (const auto& f : read_fixture()) {
    INFO(f.name);
    // Two short steps from the reference: far from equilibrium, finite gap.
    const auto policy = policy_for(f, 0.2, 2, mirror_start::reference);
    const auto r = solve<B>(policy, make_game<T>(f));
    const vecd x = as_double(B::to_host(r.last.row_strategy));
    const vecd y = as_double(B::to_host(r.last.col_strategy));
    const double want = regularised_exploitability_oracle(f, x, y);
    CHECK(want > 1e-3);  // the check below does not compare zeros
    CHECK(std::fabs(r.last.regularised_exploitability - want) <= tol);
    const vecd ax = as_double(B::to_host(r.average.row_strategy));
    const vecd ay = as_double(B::to_host(r.average.col_strategy));
    CHECK(std::fabs(r.average.regularised_exploitability -
                    regularised_exploitability_oracle(f, ax, ay)) <= tol);
    const auto b = solve_batch<B>(policy, batch_of<T>(f));
    const auto rl = B::to_host(b.last.regularised_exploitability);
    const auto el = B::to_host(b.last.exploitability);
    const auto el_dense = r.last.exploitability;
    for (index_t k = 0; k < 2; ++k) {
      CHECK(std::fabs(rl[k] - regularised_exploitability_oracle(f, row_of(b.last.row_strategy, k, f.m),
                                                                row_of(b.last.col_strategy, k, f.n))) <= tol);
      CHECK(std::fabs(el[k] - el_dense) <= tol);
    }
    // From the uniform start the average keeps mass where the reference has none: the regularised
    // game's KL is infinite there, and so is the reported exploitability.
    bool has_zero = false;
    for (double v : f.mu_x) has_zero = has_zero || v == 0;
    for (double v : f.mu_y) has_zero = has_zero || v == 0;
    if (has_zero) {
      const auto u = solve<B>(policy_for(f, 0.2, 2), make_game<T>(f));
      CHECK(u.average.regularised_exploitability == std::numeric_limits<T>::infinity());
      CHECK(std::isfinite(u.last.regularised_exploitability));
    }
  }
}

TEMPLATE_TEST_CASE("nash_md converges to the KL-regularised equilibrium (scipy reference)",
                   "[game][nash_md][fixture]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  // The fixture is certified to ~1e-12 (nash_md_reference.py); 1e-8 leaves room for the
  // iteration's own stopping error. Float: the fixed point of the rounded iteration is within a
  // few ulp × the Jacobian's condition number (≤ 4) of the double one.
  const double tol = sizeof(T) == 8 ? 1e-8 : 2e-5;
  const auto fixture = read_fixture();
  REQUIRE(fixture.size() == 5);
  for (const auto& f : fixture) {
    INFO(f.name << ", lambda " << f.lambda);
    // η = 1 with ηλ ≤ 1: the linearised step contracts by about sqrt((1 − ηλ)² + (η ω)²) with ω
    // of order max|A| / 4, so 4000 iterations reach 1e-12 even at λ = 0.05 (measured).
    const auto policy = policy_for(f, 1.0, 4000);
    const auto r = solve<B>(policy, make_game<T>(f));
    check_close(as_double(B::to_host(r.last.row_strategy)), f.x, tol, "x");
    check_close(as_double(B::to_host(r.last.col_strategy)), f.y, tol, "y");
    // (Rounding may leave it a few ulp below 0: it is a difference of O(1) terms.)
    CHECK(std::fabs(r.last.regularised_exploitability) <= (sizeof(T) == 8 ? 1e-12 : 1e-5));
    // The regularised equilibrium is not the plain game's: its plain exploitability is positive.
    CHECK(r.last.exploitability > 1e-4);
    const auto b = solve_batch<B>(policy, batch_of<T>(f));
    for (index_t k = 0; k < 2; ++k) {
      check_close(row_of(b.last.row_strategy, k, f.m), f.x, tol, "batch x");
      check_close(row_of(b.last.col_strategy, k, f.n), f.y, tol, "batch y");
    }
  }
}

TEST_CASE("nash_md validates its reference, start, lambda and step", "[game][nash_md]") {
  using B = prefopt::eigen::backend<double>;
  const auto g = matrix_game<double>(2, 3, game_test::random_payoff(2, 3, 3));
  const auto sym = matrix_game<double>::from_preferences(game_test::weighted_rps(0.2, 0.5, 1.0));
  auto fails = [](auto&& call, const std::string& message) {
    CHECK_THROWS_AS(call(), prefopt::invalid_argument);
    CHECK_THROWS_WITH(call(), Catch::Contains(message));
  };
  fails([&] { solve<B>(nash_md{.reference = {0.5, 0.25, 0.25}}, g); },
        "reference.size() = 3");
  fails([&] { solve<B>(nash_md{.reference = {1.5, -0.5}}, g); },
        "reference[1] = -0.5: must be a finite probability (>= 0)");
  fails([&] { solve<B>(nash_md{.reference = {NAN, 1.0}}, g); }, "reference[0] = nan");
  fails([&] { solve<B>(nash_md{.reference = {0.5, 0.6}}, g); }, "reference sum = 1.1");
  fails([&] { solve<B>(nash_md{.col_reference = {0.5, 0.5, 0.5}}, g); }, "col_reference sum");
  fails([&] { solve<B>(nash_md{.col_reference = {1.0}}, g); }, "col_reference.size() = 1");
  fails([&] { solve<B>(nash_md{.col_reference = {0.2, 0.3, 0.5}}, sym); },
        "col_reference.size() = 3: must be 0 for a symmetric game");
  fails([&] { solve<B>(nash_md{.rule = {.lambda = -0.5}}, g); },
        "lambda = -0.5: must be finite and >= 0");
  fails([&] { solve<B>(nash_md{.rule = {.lambda = INFINITY}}, g); }, "lambda = inf");
  fails([&] { solve<B>(nash_md{.eta = 2.0, .rule = {.lambda = 0.6}}, g); },
        "eta * lambda = 1.2: must be <= 1");
  fails([&] { solve<B>(nash_md{.start = static_cast<mirror_start>(7)}, g); }, "start = 7");
  fails([&] { solve_batch<B>(nash_md{.reference = {1.0}}, matrix_game_batch<double>(1, 2, 3, g.values())); },
        "reference.size() = 1");
  // The one-step update.
  const auto pm = detail::upload_matrix<B>(3, 3, std::span<const double>(sym.values()));
  const auto pi = detail::uniform<B>(3), mu2 = detail::uniform<B>(2);
  fails([&] { nash_md_update<B>(pm, pi, mu2, 0.5, 0.1); }, "mu.size() = 2");
  fails([&] { nash_md_update<B>(pm, pi, pi, 0.5, -1.0); }, "lambda = -1");
  fails([&] { nash_md_update<B>(pm, pi, pi, 4.0, 0.5); }, "eta * lambda = 2");
  fails([&] { nash_md_update<B>(pm, pi, pi, -1.0, 0.0); }, "eta = -1");
  // ηλ = 1 is allowed: the step jumps to the regularised best response to the current profile.
  CHECK_NOTHROW(solve<B>(nash_md{.eta = 2.0, .iters = 3, .rule = {.lambda = 0.5}}, g));
}
