// Exact solvers: dense simplex, LP Nash, exploitability / NashConv, Nash averaging.
#include <catch2/catch.hpp>
#include <cmath>
#include <algorithm>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <prefopt/game/exploitability.hpp>
#include <prefopt/game/lp_nash.hpp>
#include <prefopt/game/nash_averaging.hpp>

#include "oracles.hpp"

using namespace prefopt::game;
using prefopt::prefmodel::preference_matrix;
using game_test::random_preferences;

namespace {
/// The value and exploitability an exact solver reports, against the oracle
/// (game_test::reference_profile) at the strategies it returned; returns the oracle's
/// exploitability, which the tests bound instead of the solver's own figure.
template <class R>
double oracle_exploitability(const R& r, const std::vector<double>& a, int m, int n, double offset,
                             double tol = 1e-13) {
  const std::vector<double> x(r.row_strategy.begin(), r.row_strategy.end()),
      y(r.col_strategy.begin(), r.col_strategy.end());
  const auto ref = game_test::reference_profile(a, m, n, x, y);
  CHECK(static_cast<double>(r.exploitability) == Approx(ref.exploitability).margin(tol));
  CHECK(static_cast<double>(r.value) == Approx(ref.value + offset).margin(tol));
  return ref.exploitability;
}
template <class R>
double oracle_exploitability(const R& r, const preference_matrix<double>& p, double tol = 1e-13) {
  const int n = static_cast<int>(p.size());
  return oracle_exploitability(r, game_test::preference_payoff(p), n, n, 0.5, tol);
}
}  // namespace

TEST_CASE("dense_simplex solves a textbook LP and its dual", "[game][simplex]") {
  // max 3x + 5y  s.t. x ≤ 4, 2y ≤ 12, 3x + 2y ≤ 18  →  x = 2, y = 6, z = 36; duals (0, 3/2, 1).
  const std::vector<double> m = {1, 0, 0, 2, 3, 2}, b = {4, 12, 18}, c = {3, 5};
  const lp_solution s = dense_simplex(3, 2, m, b, c);
  REQUIRE(s.status == lp_status::optimal);
  CHECK(s.polished);
  CHECK(s.primal[0] == Approx(2.0).margin(1e-14));
  CHECK(s.primal[1] == Approx(6.0).margin(1e-14));
  CHECK(s.objective == Approx(36.0).margin(1e-12));
  CHECK(s.dual[0] == Approx(0.0).margin(1e-14));
  CHECK(s.dual[1] == Approx(1.5).margin(1e-14));
  CHECK(s.dual[2] == Approx(1.0).margin(1e-14));
}

TEST_CASE("dense_simplex reports unbounded LPs and rejects bad input", "[game][simplex]") {
  const std::vector<double> m = {1, -1}, b = {1}, c = {0, 1};  // x − y ≤ 1, max y: unbounded
  CHECK(dense_simplex(1, 2, m, b, c).status == lp_status::unbounded);
  const std::vector<double> neg = {-1};
  CHECK_THROWS_AS(dense_simplex(1, 2, m, neg, c), prefopt::invalid_argument);
  CHECK_THROWS_AS(dense_simplex(1, 3, m, b, c), prefopt::invalid_argument);
  simplex_options bad;
  bad.pivot_tolerance = -1;
  CHECK_THROWS_AS(dense_simplex(1, 2, m, b, c, bad), prefopt::invalid_argument);
}

TEST_CASE("exploitability and NashConv follow OpenSpiel's definitions", "[game][exploitability]") {
  // Matching pennies: (1, 0) vs (1, 0): row gets 1, could get 1; column could hold it to −1.
  const matrix_game<double> g(2, 2, {1, -1, -1, 1});
  const std::vector<double> x = {1, 0}, y = {1, 0}, u = {0.5, 0.5};
  CHECK(nash_conv(g, std::span<const double>(x), std::span<const double>(y)) == Approx(2.0));
  CHECK(exploitability(g, std::span<const double>(x), std::span<const double>(y)) == Approx(1.0));
  CHECK(exploitability(g, std::span<const double>(u), std::span<const double>(u)) == 0.0);
  CHECK(nash_conv(g, x, u) == Approx(1.0));  // containers convert (T comes from the game)
  // Symmetric profile of a preference game: max_y P(y ≻ π) − ½.
  const auto p = game_test::weighted_rps(1, 1, 1);
  const std::vector<double> rock = {1, 0, 0};
  CHECK(exploitability(p, std::span<const double>(rock)) == Approx(0.5));  // paper beats rock
  const std::vector<double> w = win_rates(p, std::span<const double>(rock));
  CHECK(w[1] == Approx(1.0));
  // Bad profiles.
  const std::vector<double> not_dist = {0.7, 0.7}, wrong_size = {1.0};
  CHECK_THROWS_AS(exploitability(g, std::span<const double>(not_dist), std::span<const double>(y)),
                  prefopt::invalid_argument);
  CHECK_THROWS_AS(nash_conv(g, std::span<const double>(wrong_size), std::span<const double>(y)),
                  prefopt::invalid_argument);
  CHECK_THROWS_AS(exploitability(g, std::span<const double>(x)), prefopt::invalid_argument);
}

TEST_CASE("exploitability, NashConv and evaluate_profile equal the loop oracle on random profiles",
          "[game][exploitability]") {
  prefopt_test::bits_rng rng(77);
  const auto random_strategy = [&](int k) {
    std::vector<double> v(static_cast<std::size_t>(k));
    double sum = 0;
    for (double& e : v) sum += (e = rng.uniform() + 1e-3);
    for (double& e : v) e /= sum;
    return v;
  };
  bool last_row = false, last_col = false;
  for (int trial = 0; trial < 40; ++trial) {
    const int m = 2 + trial % 5, n = 2 + (trial / 5) % 6;
    const auto a = game_test::random_payoff(m, n, 100 + static_cast<unsigned>(trial));
    const matrix_game<double> g(m, n, a);
    const auto x = random_strategy(m), y = random_strategy(n);
    const auto ref = game_test::reference_profile(a, m, n, x, y);
    INFO("trial " << trial);
    CHECK(exploitability(g, std::span<const double>(x), std::span<const double>(y)) ==
          Approx(ref.exploitability).margin(1e-14));
    CHECK(nash_conv(g, std::span<const double>(x), std::span<const double>(y)) ==
          Approx(2 * ref.exploitability).margin(1e-14));
    const auto v = evaluate_profile(g, std::span<const double>(x), std::span<const double>(y));
    CHECK(v.value == Approx(ref.value).margin(1e-14));
    last_row = last_row || ref.best_row == m - 1;
    last_col = last_col || ref.best_col == n - 1;
  }
  // The profiles reach the last row and column as best responses.
  CHECK(last_row);
  CHECK(last_col);
  // Symmetric profiles of preference games: max_y P(y ≻ π) − ½.
  for (unsigned seed = 0; seed < 10; ++seed) {
    const auto p = random_preferences(6, seed);
    const auto pi = random_strategy(6);
    const auto ref = game_test::reference_profile(game_test::preference_payoff(p), 6, 6, pi, pi);
    CHECK(exploitability(p, std::span<const double>(pi)) == Approx(ref.exploitability).margin(1e-14));
  }
}

TEST_CASE("game types validate their input", "[game][types]") {
  CHECK_THROWS_AS(matrix_game<double>(2, 2, {1, 2, 3}), prefopt::invalid_argument);
  CHECK_THROWS_AS(matrix_game<double>(0, 2, {}), prefopt::invalid_argument);
  CHECK_THROWS_AS(matrix_game<double>(1, 1, {NAN}), prefopt::invalid_argument);
  CHECK_THROWS_AS(matrix_game<double>::skew_symmetric(2, {0, 1, 1, 0}), prefopt::invalid_argument);
  CHECK_THROWS_AS(matrix_game_batch<double>(2, 2, 2, {1, 2, 3, 4}), prefopt::invalid_argument);
  const auto g = matrix_game<double>::from_preferences(game_test::weighted_rps(1, 1, 1));
  CHECK(g.symmetric());
  CHECK(g.value_offset() == 0.5);
  CHECK(g(1, 0) == 0.5);  // P beats R with probability 1 → payoff ½
}

TEST_CASE("LP: weighted rock-paper-scissors has its known unique equilibrium", "[game][lp]") {
  for (auto [a, b, c] : {std::tuple{1.0, 1.0, 1.0}, std::tuple{0.2, 0.5, 1.0},
                         std::tuple{0.9, 0.1, 0.4}}) {
    const auto r = solve(lp{}, game_test::weighted_rps(a, b, c));
    const auto want = game_test::weighted_rps_equilibrium(a, b, c);
    for (int i = 0; i < 3; ++i) {
      CHECK(r.row_strategy[i] == Approx(want[i]).margin(1e-14));
      CHECK(r.col_strategy[i] == Approx(want[i]).margin(1e-14));
    }
    CHECK(oracle_exploitability(r, game_test::weighted_rps(a, b, c)) <= 1e-15);
  }
}

TEST_CASE("LP: float games are solved in double and returned in float", "[game][lp]") {
  const auto pd = game_test::weighted_rps(0.2, 0.5, 1.0);
  const preference_matrix<float> pf(3, std::vector<float>(pd.values().begin(), pd.values().end()),
                                    1e-6f);
  const auto r = solve(lp{}, pf);
  const auto want = game_test::weighted_rps_equilibrium(0.2, 0.5, 1.0);
  for (int i = 0; i < 3; ++i) CHECK(r.row_strategy[i] == Approx(want[i]).margin(1e-6));
  CHECK(oracle_exploitability(r, pd, 1e-6) <= 1e-6);
}

TEST_CASE("LP: a transitive Bradley-Terry game has the pure equilibrium on the best item",
          "[game][lp]") {
  const auto p = game_test::bradley_terry({0.3, -1.0, 2.5, 0.0, 2.4});
  const auto r = solve(lp{}, p);
  for (int i = 0; i < 5; ++i) CHECK(r.row_strategy[i] == (i == 2 ? 1.0 : 0.0));
  CHECK(oracle_exploitability(r, p, 0.0) == 0.0);
}

TEST_CASE("LP: random preference games are solved to exploitability <= 1e-9", "[game][lp]") {
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto p = random_preferences(100, seed);
    CHECK(oracle_exploitability(solve(lp{}, p), p) <= 1e-9);
  }
}

TEST_CASE("LP: the result is bit-identical for every thread count", "[game][lp]") {
  // n = 600: large enough that the pivots are really split (>= 64k entries per thread).
  const auto p = random_preferences(600, 9);
  lp one, three;
  three.simplex.threads = 3;
  const auto a = solve(one, p), b = solve(three, p);
  // Exact: threads split a pivot's rank-one update by rows, and every tableau entry is updated
  // by one thread with the same arithmetic; pricing and the ratio test run serially.
  CHECK(a.pivots == b.pivots);
  CHECK(a.row_strategy == b.row_strategy);
  CHECK(a.col_strategy == b.col_strategy);
  CHECK(a.value == b.value);
}

TEST_CASE("LP: general rectangular games are solved to their value", "[game][lp]") {
  const auto a = game_test::random_payoff(40, 70, 7);
  const matrix_game<double> g(40, 70, a);
  const auto r = solve(lp{}, g);
  CHECK(oracle_exploitability(r, a, 40, 70, 0.0) <= 1e-12);
  // A game whose row player has a dominant strategy.
  const auto d = solve(lp{}, matrix_game<double>(2, 2, {3, 2, 1, 0}));
  CHECK(d.row_strategy[0] == 1.0);
  CHECK(d.col_strategy[1] == 1.0);
  CHECK(d.value == 2.0);
  lp bad;
  bad.simplex.bland_after = 0;
  CHECK_THROWS_AS(solve(bad, g), prefopt::invalid_argument);
}

TEST_CASE("Nash averaging: copies of an agent split the mass and ratings are unchanged",
          "[game][nash_averaging]") {
  const auto rps = game_test::weighted_rps(1, 1, 1);
  const auto base = nash_averaging(rps);
  CHECK(base.max_entropy);
  for (double v : base.strategy) CHECK(v == Approx(1.0 / 3).margin(1e-12));
  // Rock, a copy of rock, paper, scissors.
  const double t = 0.5;
  const preference_matrix<double> dup(4, {t, t, 0, 1, t, t, 0, 1, 1, 1, t, 0, 0, 0, 1, t});
  const auto r = nash_averaging(dup);
  CHECK(r.max_entropy);
  CHECK(r.strategy[0] == Approx(1.0 / 6).margin(1e-10));
  CHECK(r.strategy[1] == Approx(1.0 / 6).margin(1e-10));
  CHECK(r.strategy[2] == Approx(1.0 / 3).margin(1e-10));
  CHECK(r.entropy == Approx(std::log(3.0) + std::log(2.0) / 3).margin(1e-9));
  for (double v : r.ratings) CHECK(v == Approx(0.0).margin(1e-12));
  // An all-ties game: every distribution is an equilibrium; maximum entropy = uniform.
  const auto ties = nash_averaging(preference_matrix<double>(3, std::vector<double>(9, 0.5)));
  for (double v : ties.strategy) CHECK(v == Approx(1.0 / 3).margin(1e-12));
}

TEST_CASE("Nash averaging: transitive games rate everyone against the best item",
          "[game][nash_averaging]") {
  const std::vector<double> theta = {0.5, 1.5, -0.2};
  const auto r = nash_averaging(game_test::bradley_terry(theta), payoff_transform::logit);
  CHECK(r.strategy[1] == 1.0);
  // With A = logit(P) = θ_i − θ_j, the rating is θ_i − θ_best.
  for (int i = 0; i < 3; ++i) CHECK(r.ratings[i] == Approx(theta[i] - 1.5).margin(1e-12));
  CHECK_THROWS_AS(nash_averaging(matrix_game<double>(2, 2, {0, 1, -1, 0})),
                  prefopt::invalid_argument);
  const preference_matrix<double> certain(2, {0.5, 1.0, 0.0, 0.5});
  CHECK_THROWS_AS(nash_averaging(certain, payoff_transform::logit), prefopt::invalid_argument);
}

TEST_CASE("Nash averaging is invariant to duplicating an agent of a random game",
          "[game][nash_averaging]") {
  const int n = 15;
  const auto base = random_preferences(n, 21);
  const auto r = nash_averaging(base);
  REQUIRE(r.max_entropy);
  // Nash averaging reports max_i (A p*)_i: the oracle's exploitability of (p*, p*).
  const auto ref = game_test::reference_profile(game_test::preference_payoff(base), n, n,
                                                r.strategy, r.strategy);
  CHECK(r.exploitability == Approx(ref.exploitability).margin(1e-14));
  CHECK(ref.exploitability <= 1e-12);
  // Append a copy of the agent with the largest equilibrium mass.
  const int k = static_cast<int>(std::max_element(r.strategy.begin(), r.strategy.end()) -
                                 r.strategy.begin());
  const int m = n + 1;
  std::vector<double> p(static_cast<std::size_t>(m * m));
  auto src = [&](int i) { return i == n ? k : i; };
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) p[i * m + j] = src(i) == src(j) ? 0.5 : base(src(i), src(j));
  const auto d = nash_averaging(preference_matrix<double>(m, p));
  REQUIRE(d.max_entropy);
  CHECK(d.strategy[k] == Approx(r.strategy[k] / 2).margin(1e-9));
  CHECK(d.strategy[n] == Approx(r.strategy[k] / 2).margin(1e-9));
  for (int i = 0; i < n; ++i) {
    if (i != k) CHECK(d.strategy[i] == Approx(r.strategy[i]).margin(1e-9));
    CHECK(d.ratings[i] == Approx(r.ratings[i]).margin(1e-9));
  }
  CHECK(d.ratings[n] == Approx(r.ratings[k]).margin(1e-9));
}

TEST_CASE("LP and Nash averaging are scale-invariant: near-indifferent preferences",
          "[game][lp][nash_averaging]") {
  // s·A has the equilibria of A for every s > 0 (s a power of two: the scaling is exact). The
  // simplex tolerances are absolute, so before the payoff was normalised by max|A| the LP lost
  // about eps / s of relative accuracy (strategy off by 4e-11 at s ~ 1e-6, 4e-9 at s ~ 1e-8) and
  // Nash averaging fell back from the maximum-entropy equilibrium (max_entropy == false).
  const int n = 40;
  const auto base = random_preferences(n, 11);
  const auto g = matrix_game<double>::from_preferences(base);
  const auto exact = solve(lp{}, g);
  const auto na = nash_averaging(g);
  REQUIRE(na.max_entropy);
  for (int e : {20, 27, 33}) {
    const double s = std::ldexp(1.0, -e);
    INFO("s = 2^-" << e);
    std::vector<double> a(g.values());
    for (double& v : a) v *= s;
    const auto tiny = matrix_game<double>::skew_symmetric(n, a);
    const auto r = solve(lp{}, tiny);
    for (int i = 0; i < n; ++i)
      CHECK(r.row_strategy[i] == Approx(exact.row_strategy[i]).margin(1e-13));
    CHECK(oracle_exploitability(r, a, n, n, 0.0, 1e-14 * s) <= 1e-14 * s);
    const auto t = nash_averaging(tiny);
    CHECK(t.max_entropy);
    CHECK(t.support == na.support);
    for (int i = 0; i < n; ++i) {
      CHECK(t.strategy[i] == Approx(na.strategy[i]).margin(1e-12));
      CHECK(t.ratings[i] == Approx(s * na.ratings[i]).margin(1e-12 * s));
    }
  }
  // The same through a preference matrix P = 1/2 + s (P_rand − 1/2): P holds A only to
  // ulp(1/2) ~ 1e-16 absolute, so compare to that accuracy.
  std::vector<double> p(base.values());
  const double s = 1e-8;
  for (double& v : p) v = 0.5 + s * (v - 0.5);
  const auto t = nash_averaging(preference_matrix<double>(n, p));
  CHECK(t.max_entropy);
  CHECK(t.support == na.support);
  for (int i = 0; i < n; ++i) CHECK(t.strategy[i] == Approx(na.strategy[i]).margin(1e-6));
}

TEST_CASE("LP: payoffs near the double range do not overflow the shifted tableau", "[game][lp]") {
  // The shift to Ã = A + 1 − min A >= 1 used to overflow to inf here, and the valid game was
  // rejected as "M[0] = inf: must be finite".
  const std::vector<double> a = {1e308, -1e308, -1e308, 1e308};
  const auto r = solve(lp{}, matrix_game<double>(2, 2, a));
  CHECK(r.row_strategy[0] == Approx(0.5).margin(1e-15));
  CHECK(r.col_strategy[0] == Approx(0.5).margin(1e-15));
  CHECK(oracle_exploitability(r, a, 2, 2, 0.0, 1e-15 * 1e308) <= 1e-15 * 1e308);
}

TEST_CASE("Nash averaging never returns a partial support when an LP hits the pivot limit",
          "[game][nash_averaging]") {
  // Three copies of each agent of a random game: the equilibria form a face and step 1 needs
  // several support LPs. A pivot limit that let the first LP finish but stopped a later one used
  // to end step 1 silently with a smaller support (e.g. 5 of 15 items), still max_entropy.
  const int b = 10, n = 3 * b;
  const auto base = random_preferences(b, 2);
  std::vector<double> p(static_cast<std::size_t>(n * n));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) p[i * n + j] = i % b == j % b ? 0.5 : base(i % b, j % b);
  const preference_matrix<double> dup(n, p);
  const auto ref = nash_averaging(dup);
  REQUIRE(ref.max_entropy);
  int completed = 0;
  for (prefopt::index_t k = 1; k <= 80; ++k) {
    lp limited;
    limited.simplex.max_pivots = k;
    try {
      const auto r = nash_averaging(dup, payoff_transform::centered, limited);
      INFO("max_pivots = " << k);
      CHECK(r.support == ref.support);
      ++completed;
    } catch (const prefopt::numerical_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("without reaching optimality"));
    }
  }
  CHECK(completed > 0);
}

TEST_CASE("LP: a heavily degenerate tournament game needs few pivots", "[game][lp][simplex]") {
  // Payoffs in {−½, 0, ½}: the ratio test ties everywhere. Without the right-hand-side
  // perturbation this n = 300 game took 5546 pivots (and n = 1000 stalled past the 100 000-pivot
  // limit); with it ~540. The limit 5 (m + n) = 3000 would have stopped the old method.
  const int n = 300;
  std::mt19937_64 rng(300);  // raw bits: the same stream with every standard library
  std::vector<double> a(static_cast<std::size_t>(n * n), 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double v = 0.5 * (static_cast<int>(rng() % 3) - 1);
      a[i * n + j] = v, a[j * n + i] = -v;
    }
  const auto g = matrix_game<double>::skew_symmetric(n, a);
  lp limited;
  limited.simplex.max_pivots = 5 * (n + n);
  const auto r = solve(limited, g);
  CHECK(oracle_exploitability(r, a, n, n, 0.0, 1e-14) <= 1e-14);
  // The perturbation is an option; 0 restores the unperturbed method (same answer, more pivots).
  lp plain;
  plain.simplex.perturbation = 0.0;
  const auto p = solve(plain, g);
  CHECK(oracle_exploitability(p, a, n, n, 0.0, 1e-14) <= 1e-14);
  CHECK(p.pivots > r.pivots);
  plain.simplex.perturbation = -1.0;
  CHECK_THROWS_WITH(solve(plain, g), Catch::Contains("perturbation = -1"));
}

TEST_CASE("LP: payoffs spread over 1e-11..1 of max|A| are not lost to the perturbation or the pivot tolerance",
          "[game][lp][simplex]") {
  // Found by fuzz/fuzz_nash_matrix (the matrices as `nash` read them). Scaled to max|A| = 1, most
  // payoffs differ by ~1e-9, the size of the right-hand-side perturbation: the basis optimal for
  // the perturbed LP was not optimal for the game. The first returned value 0.52498 with
  // exploitability 0.97; the second (found after a first fix that checked the basis only to 1e-9,
  // the size of the perturbation itself) 0.78421 and 0.091. Values and row strategies from SciPy's
  // linprog (HiGHS) on the same matrices.
  struct highs_case {
    std::vector<double> payoff;  // 5 x 5, row-major
    double value;
    std::vector<std::pair<int, double>> row_entries;  // (i, x_i); the other x_i are 0
  };
  const std::vector<highs_case> cases{
      {{0.5,          0.785834983,   0.099750489, 0.5744425182, 0.51828105,    //
        60.425557483, 0.731058579,   0.07585818,  0.5,          0.5249798,     //
        710.40131234, 0.71268941421, 69138420,    0.475020813,  0,             //
        0.425557483,  0.731058579,   0.07585818,  250,          0.54979898,    //
        710.40131234, 0.71268941421, 698420,      0.475020813,  0.5},
       0.5497902660885199,
       {{3, 0.999825018274}, {4, 1.7498172612e-4}}},
      {{0.5,         0.7858983,        0.099750489, 0.5744425182, 0.9308615,    //
        4983,        0.09975048310857, 750.858,     108.5,        0.524976158,  //
        0.425557483, 0.703108579,      0.075858,    10.85,        0.5297,       //
        987410.4,    0.71268941421,    69138420,    0.475020813,  0,            //
        0.4255574,   0.7310589,        0.07589842,  0.475020913,  0.5},
       0.7845624410089999,
       {{0, 0.998053103197}, {1, 0.00194689680287}}},
      // The third (payoffs from 0.07 to 6.9e9): the perturbed pass failed the check on the data,
      // and so did the unperturbed one, whose ratio test skipped column entries below the 1e-10
      // pivot tolerance and let a basic variable go negative: value 0.63964, exploitability 81
      // (1.2e-8 max|A|). The row strategy is not compared: HiGHS's and ours differ by 1e-6 in
      // entries the 6.9e9 payoff leaves nearly free, both at exploitability ~1e-7 (~1e-17 max|A|).
      {{0,           0.57858983,       99750488,   0.5744425182, 0.9308615,    //
        4983,        0.09975048310857, 750.858,    108.5,        0.524976158,  //
        0.425557483, 0.703108579,      0.075858,   10.85,        0.5297,       //
        987410.4,    0.71268941421,    6913842040, 7.5020813,    0,            //
        0.4255574,   0.731010589,      0.07589842, 0.475020913,  0.2},
       0.6620329573258281,
       {}}};
  for (const highs_case& c : cases) {
    const auto r = solve(lp{}, matrix_game<double>(5, 5, c.payoff));
    CHECK(std::fabs(r.value - c.value) <= 1e-9);
    const double amax = *std::max_element(c.payoff.begin(), c.payoff.end());
    CHECK(oracle_exploitability(r, c.payoff, 5, 5, 0.0, 1e-15 * amax) <= 1e-15 * amax);
    for (const auto& [i, p] : c.row_entries) CHECK(std::fabs(r.row_strategy[i] - p) <= 1e-9);
  }
}

TEST_CASE("LP: the pivot limit is a numerical_error, not bad input", "[game][lp]") {
  // A 40 x 40 random preference game needs dozens of pivots; 3 cannot reach the optimum. The
  // input is valid, so the failure is prefopt::numerical_error (a std::runtime_error), never
  // prefopt::invalid_argument; without a limit the same game solves.
  const auto p = random_preferences(40, 5);
  lp limited;
  limited.simplex.max_pivots = 3;
  CHECK_THROWS_AS(solve(limited, p), prefopt::numerical_error);
  CHECK_THROWS_WITH(solve(limited, p), Catch::Contains("stopped after 3 pivots"));
  static_assert(std::is_base_of_v<std::runtime_error, prefopt::numerical_error>);
  CHECK(oracle_exploitability(solve(lp{}, p), p) <= 1e-12);
}
