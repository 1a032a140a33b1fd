// The L1-penalised soft-label logistic regression, its cross-validation and the GroupKFold
// assignment: closed-form optima, optimality (KKT) conditions written out from the definition,
// and fold assignments computed by hand (and printed by scikit-learn 1.9.1 for the same groups).
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include <prefopt/eval/l1_logistic.hpp>

#include "fixtures.hpp"

namespace ev = prefopt::eval;
using Catch::Contains;

namespace {
double logit(double q) { return std::log(q / (1 - q)); }
double sigma(double z) { return 1 / (1 + std::exp(-z)); }
}  // namespace

TEST_CASE("L1 logistic, one constant feature: closed-form optimum", "[eval][l1]") {
  // F(w) = |w| + C (S1 softplus(-w) + S0 softplus(w)) with S1 = sum s p, S0 = sum s (1 - p).
  // For w > 0 the stationarity condition C (S sigma(w) - S1) = -1 gives
  // w = logit((C S1 - 1) / (C S)); w = 0 whenever |C (S0 - S1) / 2| <= 1.
  ev::soft_label_design d;
  const std::vector<double> p{0.9, 1.0, 0.7, 0.2, 0.85, 0.6}, s{1, 0.5, 2, 1, 1, 0.25};
  double S1 = 0, S = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    d.push_row({1.0}, p[i], s[i]);
    S1 += s[i] * p[i];
    S += s[i];
  }
  for (double C : {0.5, 2.0, 10.0, 1000.0}) {
    const auto fit = ev::fit_l1_logistic(d, C);
    CHECK(fit.converged);
    const double expected = C * (S - 2 * S1) / 2 < -1 ? logit((C * S1 - 1) / (C * S)) : 0.0;
    INFO("C = " << C);
    CHECK(fit.coef[0] == Approx(expected).margin(1e-9));
  }
  // small C: the penalty wins, the weight is exactly 0
  CHECK(ev::fit_l1_logistic(d, 0.3).coef[0] == 0.0);
}

TEST_CASE("L1 logistic on random data satisfies the optimality conditions", "[eval][l1]") {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 6; ++trial) {
    ev::soft_label_design d;
    const int n = 200;
    for (int i = 0; i < n; ++i) {
      const double x0 = 2 * fixtures::uniform01(rng) - 1, x1 = 3 * fixtures::uniform01(rng) - 1.5;
      const double truth = sigma(1.5 * x0 - 0.7 * x1 + 0.3);
      const double p = std::clamp(truth + 0.3 * (fixtures::uniform01(rng) - 0.5), 0.0, 1.0);
      d.push_row({std::tanh(x0), x1, 1.0}, p, fixtures::uniform01(rng) < 0.3 ? 0.1 : 1.0);
    }
    const double C = std::pow(10.0, -1 + trial * 0.6);
    const auto fit = ev::fit_l1_logistic(d, C);
    REQUIRE(fit.converged);
    // gradient of the smooth part, from the definition
    std::vector<double> g(3, 0.0);
    for (int i = 0; i < n; ++i) {
      double z = 0;
      for (int j = 0; j < 3; ++j) z += d.row(i)[j] * fit.coef[static_cast<std::size_t>(j)];
      for (int j = 0; j < 3; ++j)
        g[static_cast<std::size_t>(j)] += C * d.weight[static_cast<std::size_t>(i)] *
                                          (sigma(z) - d.label[static_cast<std::size_t>(i)]) * d.row(i)[j];
    }
    INFO("C = " << C);
    for (std::size_t j = 0; j < 3; ++j) {
      if (fit.coef[j] != 0) CHECK(g[j] == Approx(-std::copysign(1.0, fit.coef[j])).margin(1e-7));
      else CHECK(std::abs(g[j]) <= 1 + 1e-9);
    }
  }
}

TEST_CASE("GroupKFold assignment as scikit-learn's", "[eval][l1]") {
  // sizes 10:3, 20:1, 30:2, 40:2, 50:1; largest first (ties: larger label first), each to the
  // lightest fold -> 10:0, 40:1, 30:1, 50:0, 20:0
  CHECK(ev::group_kfold({10, 10, 10, 20, 30, 30, 40, 40, 50}, 2) == std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1, 0});
  // alpaca_eval's case: one group per row -> group g goes to fold (G - 1 - g) mod 5
  CHECK(ev::group_kfold({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 5) ==
        std::vector<int>{1, 0, 4, 3, 2, 1, 0, 4, 3, 2, 1, 0});
  CHECK_THROWS_WITH(ev::group_kfold({1, 2, 3}, 5), Contains("number of groups = 3"));
  CHECK_THROWS_WITH(ev::group_kfold({1, 2, 3}, 1), Contains("n_splits = 1"));
}

TEST_CASE("C grid is np.logspace(-4, 4, 10)", "[eval][l1]") {
  const auto Cs = ev::logspace_Cs(10);
  REQUIRE(Cs.size() == 10);
  CHECK(Cs[0] == Approx(1e-4).epsilon(1e-15));
  CHECK(Cs[1] == Approx(7.742636826811277e-04).epsilon(1e-14));
  CHECK(Cs[5] == Approx(2.782559402207126).epsilon(1e-14));
  CHECK(Cs[9] == Approx(1e4).epsilon(1e-15));
}

TEST_CASE("L1 logistic CV picks the C with the best held-out score", "[eval][l1]") {
  std::mt19937_64 rng(7);
  ev::soft_label_design d;
  std::vector<long long> groups;
  for (int i = 0; i < 150; ++i) {
    const double x = 2 * fixtures::uniform01(rng) - 1;
    d.push_row({x, 1.0}, fixtures::uniform01(rng) < sigma(2 * x + 0.5) ? 1.0 : 0.0, 1.0);
    groups.push_back(i);
  }
  const auto cv = ev::fit_l1_logistic_cv(d, groups);
  REQUIRE(cv.score_sum.size() == 10);
  // held-out scores recomputed here from the definition for the chosen and every other C
  const auto fold = ev::group_kfold(groups, 5);
  std::vector<double> sums(10, 0.0);
  for (std::size_t c = 0; c < 10; ++c)
    for (int f = 0; f < 5; ++f) {
      std::vector<char> train(150);
      for (std::size_t i = 0; i < 150; ++i) train[i] = fold[i] != f;
      const auto fit = ev::fit_l1_logistic(d, cv.Cs[c], {}, &train);
      double s = 0;
      int m = 0;
      for (int i = 0; i < 150; ++i)
        if (fold[static_cast<std::size_t>(i)] == f) {
          const double q = std::clamp(sigma(d.row(i)[0] * fit.coef[0] + d.row(i)[1] * fit.coef[1]), 1e-15, 1 - 1e-15);
          const double p = d.label[static_cast<std::size_t>(i)];
          s += p * std::log(q) + (1 - p) * std::log(1 - q);
          ++m;
        }
      sums[c] += s / m;
    }
  for (std::size_t c = 0; c < 10; ++c) CHECK(cv.score_sum[c] == Approx(sums[c]).epsilon(1e-12));
  for (std::size_t c = 0; c < 10; ++c) CHECK(sums[cv.best_index] >= sums[c]);
  // the smallest C gives w = 0, the prior score log(1/2) on every row
  CHECK(sums[0] == Approx(5 * std::log(0.5)).epsilon(1e-12));
  CHECK(cv.fit.coef[0] > 1);  // the signal is found
}

TEST_CASE("L1 logistic: bad input", "[eval][l1]") {
  ev::soft_label_design d;
  d.push_row({1.0, 2.0}, 0.5, 1.0);
  CHECK_THROWS_WITH(d.push_row({1.0}, 0.5, 1.0), Contains("features.size() = 1"));
  CHECK_THROWS_WITH(ev::fit_l1_logistic(d, 0.0), Contains("C = 0"));
  CHECK_THROWS_WITH(ev::fit_l1_logistic(d, std::nan("")), Contains("C = nan"));
  d.push_row({1.0, 2.0}, 1.5, 1.0);
  d.push_row({1.0, 2.0}, 0.5, -1.0);
  CHECK_THROWS_WITH(d.validate(), Contains("design.label[1] = 1.5"));
  d.label[1] = 0.5;
  CHECK_THROWS_WITH(d.validate(), Contains("design.weight[2] = -1"));
  d.weight[2] = 1;
  d.x[0] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(d.validate(), Contains("design.x[0] = inf"));
  CHECK_THROWS_WITH(ev::fit_l1_logistic(d, 1.0), Contains("design.x[0] = inf"));
  d.x[0] = 1;
  CHECK_THROWS_WITH(ev::fit_l1_logistic_cv(d, {0, 1}), Contains("groups.size() = 2"));
}
