// Bradley-Terry fitting: agreement with R BradleyTerry2 (committed reference numbers), Newton vs
// MM, optimality conditions, priors, anchors, ties, and the non-estimable cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <prefopt/prefmodel/battle_io.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>

#include "fixtures.hpp"

namespace pm = prefopt::prefmodel;

namespace {

pm::comparison_data<double> load(const std::string& file) { return fixtures::arena_sample(file); }

struct ref_row {
  double ability, se, loglik;
};

// tests/reference/prefmodel/bt_reference.csv: set,model,ability,se,loglik
std::map<std::string, ref_row> reference(const std::string& set) {
  std::map<std::string, ref_row> out;
  for (const auto& r : fixtures::reference_csv("bt_reference.csv"))
    if (r.at(0) == set) out[r.at(1)] = {std::stod(r.at(2)), std::stod(r.at(3)), std::stod(r.at(4))};
  REQUIRE(!out.empty());
  return out;
}

void check_against_r(const pm::comparison_data<double>& data, const std::string& set,
                     pm::tie_model ties) {
  const auto ref = reference(set);
  pm::bt_options<double> opt;
  opt.ties = ties;
  opt.anchor = data.id("alpaca-13b");  // BradleyTerry2's reference category
  const auto fit = pm::fit_bradley_terry(data, opt);
  REQUIRE(fit.converged);
  for (prefopt::index_t i = 0; i < data.num_items(); ++i) {
    const auto& r = ref.at(data.name(i));
    INFO(set << " " << data.name(i));
    CHECK(fit.theta[i] == Approx(r.ability).margin(1e-6));
    CHECK(fit.std_error[i] == Approx(r.se).margin(1e-6));
  }
  CHECK(fit.log_likelihood == Approx(ref.begin()->second.loglik).epsilon(1e-10));
  if (ties == pm::tie_model::davidson) {
    CHECK(fit.log_nu == Approx(ref.at("(log_nu)").ability).margin(1e-6));
    CHECK(fit.log_nu_std_error == Approx(ref.at("(log_nu)").se).margin(1e-6));
  }
}

}  // namespace

using prefopt::index_t;

TEST_CASE("BT MLE with half-win ties matches R BradleyTerry2::BTm", "[prefmodel][bt]") {
  check_against_r(load("battles.csv"), "half_win", pm::tie_model::half_win);
}

TEST_CASE("BT MLE with weights matches R BradleyTerry2::BTm on weighted counts", "[prefmodel][bt]") {
  check_against_r(load("weighted.csv"), "half_win_weighted", pm::tie_model::half_win);
}

TEST_CASE("Davidson ties match an R optim maximum-likelihood fit", "[prefmodel][bt]") {
  check_against_r(load("battles.csv"), "davidson", pm::tie_model::davidson);
}

TEST_CASE("Newton and MM agree and the gradient vanishes at the optimum", "[prefmodel][bt]") {
  const auto data = load("battles.csv");
  for (auto ties : {pm::tie_model::half_win, pm::tie_model::davidson}) {
    for (double sigma : {0.0, 0.5}) {
      pm::bt_options<double> opt;
      opt.ties = ties;
      opt.prior_sigma = sigma;
      opt.tolerance = 1e-12;
      const auto newton = pm::fit_bradley_terry(data, opt);
      opt.solver = pm::bt_solver::mm;
      const auto mm = pm::fit_bradley_terry(data, opt);
      REQUIRE(newton.converged);
      REQUIRE(mm.converged);
      CHECK(newton.solver_used == pm::bt_solver::newton);
      CHECK(mm.solver_used == pm::bt_solver::mm);
      CHECK(newton.iterations < 15);
      CHECK(mm.iterations > newton.iterations);
      for (index_t i = 0; i < data.num_items(); ++i) CHECK(newton.theta[i] == Approx(mm.theta[i]).margin(1e-8));
      CHECK(newton.log_nu == Approx(mm.log_nu).margin(1e-8));
      CHECK(newton.gradient_norm < 1e-8);
      double sum = 0;
      for (double t : newton.theta) sum += t;
      CHECK(sum == Approx(0).margin(1e-10));  // sum-to-zero also under the prior (MAP)
      if (sigma == 0) {
        std::vector<double> g;
        pm::bt_log_likelihood<double>(data, newton.theta, ties, newton.log_nu, &g);
        for (double gi : g) CHECK(gi == Approx(0).margin(1e-8));
        CHECK(pm::bt_log_likelihood<double>(data, newton.theta, ties, newton.log_nu) ==
              Approx(newton.log_likelihood).epsilon(1e-14));
      }
    }
  }
}

TEST_CASE("BT log-likelihood gradient matches finite differences", "[prefmodel][bt]") {
  const auto data = load("weighted.csv");
  std::vector<double> theta(static_cast<std::size_t>(data.num_items()));
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = 0.3 * std::sin(1.7 * double(i));
  for (auto ties : {pm::tie_model::half_win, pm::tie_model::davidson}) {
    std::vector<double> g;
    pm::bt_log_likelihood<double>(data, theta, ties, -0.4, &g);
    const double h = 1e-6;
    for (std::size_t k = 0; k < theta.size(); ++k) {
      auto tp = theta, tm = theta;
      tp[k] += h;
      tm[k] -= h;
      const double fd = (pm::bt_log_likelihood<double>(data, tp, ties, -0.4) -
                         pm::bt_log_likelihood<double>(data, tm, ties, -0.4)) / (2 * h);
      CHECK(g[k] == Approx(fd).epsilon(1e-6).margin(1e-6));
    }
    if (ties == pm::tie_model::davidson) {
      const double fd = (pm::bt_log_likelihood<double>(data, theta, ties, -0.4 + h) -
                         pm::bt_log_likelihood<double>(data, theta, ties, -0.4 - h)) / (2 * h);
      CHECK(g.back() == Approx(fd).epsilon(1e-6));
    }
  }
}

TEST_CASE("BT recovers true strengths and a closed-form two-item fit", "[prefmodel][bt]") {
  // Two items, 30 wins vs 10: theta_0 - theta_1 = log 3 exactly; SE of the gap = sqrt(1/30+1/10).
  pm::comparison_data<double> two(std::vector<std::string>{"a", "b"});
  two.add(0, 1, pm::outcome::model_a_wins, 1.0, 30);
  two.add(1, 0, pm::outcome::model_a_wins, 1.0, 10);
  pm::bt_options<double> opt;
  opt.anchor = 1;
  const auto fit = pm::fit_bradley_terry(two, opt);
  CHECK(fit.theta[0] == Approx(std::log(3.0)).epsilon(1e-12));
  CHECK(fit.theta[1] == 0.0);
  CHECK(fit.std_error[0] == Approx(std::sqrt(1.0 / 30 + 1.0 / 10)).epsilon(1e-10));
  CHECK(fit.std_error[1] == Approx(0).margin(1e-12));
  // Sum-to-zero: each item carries half the gap and half its standard error.
  const auto centred = pm::fit_bradley_terry(two);
  CHECK(centred.theta[0] == Approx(std::log(3.0) / 2).epsilon(1e-12));
  CHECK(centred.std_error[0] == Approx(std::sqrt(1.0 / 30 + 1.0 / 10) / 2).epsilon(1e-10));
  // A tie counts as half a win each: 30 wins + 10 ties vs 10 wins = 35 : 15.
  two.add(0, 1, pm::outcome::tie, 1.0, 10);
  CHECK(pm::fit_bradley_terry(two, opt).theta[0] == Approx(std::log(35.0 / 15.0)).epsilon(1e-12));
  // Weights scale counts: weight 2 on one outcome equals two copies.
  pm::comparison_data<double> w(std::vector<std::string>{"a", "b"});
  w.add(0, 1, pm::outcome::model_a_wins, 2.0, 15);
  w.add(1, 0, pm::outcome::model_a_wins, 1.0, 10);
  CHECK(pm::fit_bradley_terry(w, opt).theta[0] == Approx(std::log(3.0)).epsilon(1e-12));
}

TEST_CASE("A ridge prior shrinks ratings and makes separated data estimable", "[prefmodel][bt]") {
  pm::comparison_data<double> data(std::vector<std::string>{"top", "mid", "low"});
  data.add(0, 1, pm::outcome::model_a_wins, 1.0, 5);
  data.add(1, 2, pm::outcome::model_a_wins, 1.0, 5);
  data.add(2, 1, pm::outcome::model_a_wins, 1.0, 1);
  CHECK_THROWS_WITH(pm::fit_bradley_terry(data),
                    Catch::Contains("'top'") && Catch::Contains("never lost"));
  pm::bt_options<double> opt;
  opt.prior_sigma = 1.0;
  const auto fit = pm::fit_bradley_terry(data, opt);
  REQUIRE(fit.converged);
  CHECK(fit.theta[0] > fit.theta[1]);
  CHECK(fit.theta[1] > fit.theta[2]);
  CHECK(std::isfinite(fit.theta[0]));
  CHECK(fit.gradient_norm < 1e-9);
  opt.prior_sigma = 0.1;
  const auto tight = pm::fit_bradley_terry(data, opt);
  CHECK(tight.theta[0] < fit.theta[0]);
  CHECK(tight.log_posterior < tight.log_likelihood);  // the log prior is negative
}

TEST_CASE("Non-estimable data throw invalid_argument naming the items", "[prefmodel][bt]") {
  using Catch::Contains;
  pm::comparison_data<double> split(std::vector<std::string>{"a", "b", "c", "d"});
  split.add(0, 1, pm::outcome::model_a_wins, 1.0, 3);
  split.add(1, 0, pm::outcome::model_a_wins, 1.0, 2);
  split.add(2, 3, pm::outcome::model_a_wins, 1.0, 3);
  split.add(3, 2, pm::outcome::model_a_wins, 1.0, 2);
  CHECK_THROWS_AS(pm::fit_bradley_terry(split), prefopt::invalid_argument);
  CHECK_THROWS_WITH(pm::fit_bradley_terry(split),
                    Contains("disconnected") && Contains("'a'") && Contains("'c'"));

  pm::comparison_data<double> loser(std::vector<std::string>{"a", "b", "c"});
  loser.add(0, 1, pm::outcome::model_a_wins);
  loser.add(1, 0, pm::outcome::model_a_wins);
  loser.add(0, 2, pm::outcome::model_a_wins);
  loser.add(1, 2, pm::outcome::model_a_wins);
  CHECK_THROWS_WITH(pm::fit_bradley_terry(loser), Contains("'c'") && Contains("never won"));

  pm::comparison_data<double> lonely(std::vector<std::string>{"a", "b", "z"});
  lonely.add(0, 1, pm::outcome::tie);
  CHECK_THROWS_WITH(pm::fit_bradley_terry(lonely), Contains("'z'") && Contains("no comparisons"));

  // Every item won and lost something, but {a, b} beat {c, d} in every cross comparison.
  pm::comparison_data<double> group(std::vector<std::string>{"a", "b", "c", "d"});
  group.add(0, 1, pm::outcome::model_a_wins);
  group.add(1, 0, pm::outcome::model_a_wins);
  group.add(2, 3, pm::outcome::model_a_wins);
  group.add(3, 2, pm::outcome::model_a_wins);
  group.add(0, 2, pm::outcome::model_a_wins);
  group.add(1, 3, pm::outcome::model_a_wins);
  CHECK_THROWS_WITH(pm::fit_bradley_terry(group),
                    Contains("{'a', 'b'} won every comparison") && Contains("'c', 'd'"));
  // A tie across the cut bounds the gap: estimable again.
  group.add(3, 1, pm::outcome::tie);
  CHECK_NOTHROW(pm::fit_bradley_terry(group));

  pm::comparison_data<double> no_ties(std::vector<std::string>{"a", "b"});
  no_ties.add(0, 1, pm::outcome::model_a_wins);
  no_ties.add(1, 0, pm::outcome::model_a_wins);
  pm::bt_options<double> dav;
  dav.ties = pm::tie_model::davidson;
  CHECK_THROWS_WITH(pm::fit_bradley_terry(no_ties, dav), Contains("Davidson"));

  pm::bt_options<double> bad;
  bad.prior_sigma = -1;
  CHECK_THROWS_WITH(pm::fit_bradley_terry(no_ties, bad), Contains("prior_sigma = -1"));
  bad.prior_sigma = 1e-200;  // 1 / sigma^2 overflows: used to report a disconnected graph
  CHECK_THROWS_WITH(pm::fit_bradley_terry(no_ties, bad),
                    Contains("prior_sigma = 9.99") && Contains("overflows"));
  bad.prior_sigma = 0;
  bad.anchor = 7;
  CHECK_THROWS_WITH(pm::fit_bradley_terry(no_ties, bad), Contains("anchor = 7"));
  CHECK_THROWS_WITH(no_ties.add(0, 0, pm::outcome::tie), Contains("itself"));
  CHECK_THROWS_WITH(no_ties.add(0, 1, pm::outcome::tie, -1.0), Contains("weight = -1"));
  CHECK_THROWS_WITH(no_ties.id("nope"), Contains("\"nope\""));
}

TEMPLATE_TEST_CASE("BT fit in float agrees with double", "[prefmodel][bt]", float, double) {
  using T = TestType;
  const auto data = fixtures::arena_sample<T>();
  const auto fit = pm::fit_bradley_terry(data);
  CHECK(fit.converged);
  const auto ref = pm::fit_bradley_terry(load("battles.csv"));
  for (index_t i = 0; i < data.num_items(); ++i) {
    CHECK(double(fit.theta[i]) == Approx(ref.theta[i]).margin(2e-4));
    CHECK(double(fit.std_error[i]) == Approx(ref.std_error[i]).epsilon(1e-3));
  }
}

TEST_CASE("Win-matrix builder aggregates like the battle list", "[prefmodel][bt]") {
  const std::vector<double> wins{0, 7, 2,  //
                                 3, 0, 5,  //
                                 4, 1, 0};
  const std::vector<double> ties{0, 2, 0,  //
                                 2, 0, 1,  //
                                 0, 1, 0};
  const auto d = pm::comparison_data<double>::from_win_matrix(3, wins, ties);
  CHECK(d.total_battles() == 7 + 2 + 3 + 5 + 4 + 1 + 2 + 1);
  pm::comparison_data<double> e(3);
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 3; ++j)
      for (int k = 0; k < int(wins[i * 3 + j]); ++k) e.add(i, j, pm::outcome::model_a_wins);
  e.add(0, 1, pm::outcome::tie, 1.0, 2);
  e.add(1, 2, pm::outcome::tie, 1.0, 1);
  const auto a = pm::fit_bradley_terry(d), b = pm::fit_bradley_terry(e);
  for (index_t i = 0; i < 3; ++i) CHECK(a.theta[i] == Approx(b.theta[i]).margin(1e-12));
  CHECK_THROWS_WITH(pm::comparison_data<double>::from_win_matrix(3, std::vector<double>(9, 0.5)),
                    Catch::Contains("whole numbers"));
  CHECK_THROWS_WITH(pm::comparison_data<double>::from_win_matrix(2, wins), Catch::Contains("wins.size() = 9"));
  // A count on the diagonal (an item beating itself) used to be dropped silently.
  std::vector<double> diag = wins;
  diag[4] = 3;
  CHECK_THROWS_WITH(pm::comparison_data<double>::from_win_matrix(3, diag),
                    Catch::Contains("wins[4] (diagonal) = 3"));
  std::vector<double> tie_diag = ties;
  tie_diag[8] = 1;
  CHECK_THROWS_WITH(pm::comparison_data<double>::from_win_matrix(3, wins, tie_diag),
                    Catch::Contains("ties[8] (diagonal) = 1"));
}

TEST_CASE("Raw pair records and the start point are validated, also under a prior",
          "[prefmodel][bt]") {
  using Catch::Contains;
  pm::bt_options<double> prior;
  prior.prior_sigma = 1.0;
  // Item 5 of 2: the estimability check is skipped under a prior, so this used to index the
  // gradient and information matrix out of bounds (heap corruption).
  const std::vector<pm::pair_record<double>> out_of_range{{0, 5, 1.0, 1.0, 0.0}};
  CHECK_THROWS_AS(pm::fit_bradley_terry<double>(2, out_of_range, prior), prefopt::invalid_argument);
  CHECK_THROWS_WITH(pm::fit_bradley_terry<double>(2, out_of_range, prior),
                    Contains("pairs[0].j = 5") && Contains("num_items = 2"));
  const std::vector<pm::pair_record<double>> swapped{{1, 0, 1.0, 1.0, 0.0}};
  CHECK_THROWS_WITH(pm::fit_bradley_terry<double>(2, swapped, prior), Contains("pairs[0].j = 0"));
  // A negative or NaN weight used to give a finite, silently wrong fit.
  const std::vector<pm::pair_record<double>> negative{{0, 1, -1.0, 3.0, 0.0}};
  CHECK_THROWS_WITH(pm::fit_bradley_terry<double>(2, negative, prior),
                    Contains("pairs[0] weight = -1"));
  const std::vector<pm::pair_record<double>> nan{{0, 1, 2.0, 3.0, std::nan("")}};
  CHECK_THROWS_WITH(pm::fit_bradley_terry<double>(2, nan), Contains("pairs[0] weight = nan"));
  // A NaN start point used to return NaN ratings flagged converged.
  pm::comparison_data<double> two(2);
  two.add(0, 1, pm::outcome::model_a_wins);
  two.add(1, 0, pm::outcome::model_a_wins);
  const std::vector<double> start{std::nan(""), 0.0};
  pm::bt_options<double> warm;
  warm.initial_theta = start;
  CHECK_THROWS_WITH(pm::fit_bradley_terry(two, warm), Contains("initial_theta[0] = nan"));
}
