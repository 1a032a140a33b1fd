// General preference: PairRM symmetrisation, intransitivity measures, GPM embeddings and their
// fit, and the rock-paper-scissors case that Bradley-Terry cannot represent.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include <prefopt/prefmodel/general.hpp>
#include <prefopt/prefmodel/gpm.hpp>

namespace pm = prefopt::prefmodel;
using prefopt::index_t;

namespace {

// Deterministic counts: `per_pair` comparisons of each pair split according to P (rounded).
pm::comparison_data<double> counts_from(const pm::preference_matrix<double>& p, index_t per_pair) {
  pm::comparison_data<double> d(p.size());
  for (index_t i = 0; i < p.size(); ++i)
    for (index_t j = i + 1; j < p.size(); ++j) {
      const auto w = static_cast<index_t>(std::lround(p(i, j) * double(per_pair)));
      d.add(i, j, pm::outcome::model_a_wins, 1.0, w);
      d.add(j, i, pm::outcome::model_a_wins, 1.0, per_pair - w);
    }
  return d;
}

pm::preference_matrix<double> rock_paper_scissors(double p_win) {
  // rock(0) beats scissors(2), scissors beats paper(1), paper beats rock
  return pm::preference_matrix<double>(3, {0.5, 1 - p_win, p_win,  //
                                           p_win, 0.5, 1 - p_win,  //
                                           1 - p_win, p_win, 0.5});
}

double max_abs_diff(const pm::preference_matrix<double>& a, const pm::preference_matrix<double>& b) {
  double m = 0;
  for (index_t i = 0; i < a.size(); ++i)
    for (index_t j = 0; j < a.size(); ++j) m = std::max(m, std::fabs(a(i, j) - b(i, j)));
  return m;
}

}  // namespace

TEST_CASE("PairRM symmetrisation removes position bias and yields a valid matrix", "[prefmodel][general]") {
  const std::vector<double> u{0.3, -1.2, 2.0, 0.1};
  // raw ordered-pair score with a constant first-position bonus and an asymmetric wobble
  auto scorer = [&](index_t a, index_t b) { return u[a] - u[b] + 0.7 + 0.01 * double(a * 3 + b); };
  const auto p = pm::symmetrise<double>(4, scorer);
  for (index_t a = 0; a < 4; ++a)
    for (index_t b = 0; b < 4; ++b) {
      CHECK(p(a, b) + p(b, a) == Approx(1.0).epsilon(1e-15));
      const double wobble = 0.01 * double(a * 3 + b) - 0.01 * double(b * 3 + a);
      if (a != b) CHECK(p(a, b) == Approx(1 / (1 + std::exp(-(u[a] - u[b] + wobble / 2)))));
    }
  std::vector<double> raw(16, 0.0);
  raw[0 * 4 + 1] = 2.0;  // s(0,1) = 2, s(1,0) = 0  ->  P(0,1) = sigma(1)
  const auto q = pm::symmetrise<double>(4, std::span<const double>(raw));
  CHECK(q(0, 1) == Approx(1 / (1 + std::exp(-1.0))));
  CHECK(q(2, 3) == 0.5);
  CHECK_THROWS_WITH(pm::symmetrise<double>(2, [](index_t, index_t) { return NAN; }),
                    Catch::Contains("score(0, 1)"));
  // Only the reversed order is bad: the message used to name score(0, 1) = 0.25 instead.
  CHECK_THROWS_WITH(
      pm::symmetrise<double>(2, [](index_t a, index_t) { return a == 0 ? 0.25 : INFINITY; }),
      Catch::Contains("score(1, 0) = inf"));
}

TEST_CASE("A Bradley-Terry matrix is transitive and its own BT projection", "[prefmodel][general]") {
  const std::vector<double> theta{1.0, 0.2, -0.5, -0.7};
  const auto p = pm::bt_preference_matrix<double>(theta);
  CHECK(pm::cyclic_triad_share(p) == 0.0);
  const auto proj = pm::bt_projection(p, 1e6);
  CHECK(proj.max_abs_error < 1e-7);
  CHECK(proj.mean_kl < 1e-12);
  for (std::size_t i = 0; i < theta.size(); ++i) CHECK(proj.theta[i] == Approx(theta[i] - 0.0).margin(1e-6));
}

TEST_CASE("Rock-paper-scissors: Bradley-Terry cannot represent it, GPM can", "[prefmodel][general][gpm]") {
  const auto truth = rock_paper_scissors(0.9);
  CHECK(pm::cyclic_triad_share(truth) == 1.0);
  const auto train = counts_from(truth, 200);   // 180 : 20 for every pair
  const auto test = counts_from(truth, 100);    // held out: 90 : 10

  // BT: by symmetry every strength is equal, so it predicts 1/2 for every pair.
  const auto bt = pm::fit_bradley_terry(train);
  for (double t : bt.theta) CHECK(t == Approx(0).margin(1e-9));
  const auto bt_p = pm::bt_preference_matrix<double>(bt.theta);
  CHECK(max_abs_diff(bt_p, truth) == Approx(0.4).margin(1e-9));
  CHECK(pm::bt_projection(truth).max_abs_error == Approx(0.4).margin(1e-6));

  // Intransitivity shows in the data: BT deviance is far beyond its 1 degree of freedom.
  const auto dev = pm::bt_deviance(train);
  CHECK(dev.dof == 1);
  CHECK(dev.deviance == Approx(1200 * (std::log(2.0) + 0.9 * std::log(0.9) + 0.1 * std::log(0.1))));

  // GPM with one 2-d block fits the cycle.
  pm::gpm_options<double> opt;
  opt.seed = 3;
  opt.l2 = 0;
  const auto gpm = pm::fit_gpm(train, opt);
  CHECK(gpm.converged);
  const auto gpm_p = gpm.model.preferences();
  CHECK(max_abs_diff(gpm_p, truth) < 1e-3);
  CHECK(pm::cyclic_triad_share(gpm_p) == 1.0);

  // Held-out log-likelihood: GPM ~ 300 (0.9 log 0.9 + 0.1 log 0.1), BT = 300 log 1/2.
  const double ll_gpm = pm::log_likelihood(gpm_p, test), ll_bt = pm::log_likelihood(bt_p, test);
  CHECK(ll_bt == Approx(300 * std::log(0.5)));
  CHECK(ll_gpm == Approx(300 * (0.9 * std::log(0.9) + 0.1 * std::log(0.1))).epsilon(1e-3));
  CHECK(ll_gpm - ll_bt > 100);
}

TEST_CASE("On transitive data GPM and BT predict equally well", "[prefmodel][general][gpm]") {
  const std::vector<double> theta{1.2, 0.6, 0.0, -0.4, -1.4};
  const auto truth = pm::bt_preference_matrix<double>(theta);
  const auto train = counts_from(truth, 400), test = counts_from(truth, 400);
  const auto bt = pm::fit_bradley_terry(train);
  const auto dev = pm::bt_deviance(train);
  CHECK(dev.dof == 10 - 4);
  CHECK(dev.deviance < 3.0);  // only rounding of the counts departs from BT
  pm::gpm_options<double> opt;
  opt.blocks = 2;
  const auto gpm = pm::fit_gpm(train, opt);
  const double ll_bt = pm::log_likelihood(pm::bt_preference_matrix<double>(bt.theta), test);
  const double ll_gpm = pm::log_likelihood(gpm.model.preferences(), test);
  CHECK(std::fabs(ll_gpm - ll_bt) < 2.0);
  CHECK(pm::cyclic_triad_share(gpm.model.preferences()) == 0.0);
}

TEST_CASE("GPM embeddings: skew-symmetric scores, exact probabilities, gradient", "[prefmodel][gpm]") {
  // Three unit vectors 120 degrees apart: score(i, j) = lambda sin(angle_i - angle_j).
  const double pi = 3.14159265358979323846;
  std::vector<double> v;
  for (int k = 0; k < 3; ++k) {
    v.push_back(std::cos(2 * pi * k / 3));
    v.push_back(std::sin(2 * pi * k / 3));
  }
  const pm::gpm_model<double> m(3, 1, v, {0.5});
  // Exact, not approximate: score(i, j) is h(v_i, v_j) - h(v_j, v_i) (gpm.hpp), so antisymmetry
  // and the zero diagonal hold bit for bit for every instruction set (FMA included).
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 3; ++j) CHECK(m.score(i, j) == -m.score(j, i));
  CHECK(m.score(2, 2) == 0.0);
  CHECK(m.score(1, 0) == Approx(0.5 * std::sin(2 * pi / 3)));
  CHECK(m.probability(1, 0) == Approx(1 / (1 + std::exp(-0.5 * std::sin(2 * pi / 3) / 0.1))));
  CHECK(pm::cyclic_triad_share(m.preferences()) == 1.0);

  // Objective gradient against central differences.
  std::mt19937_64 rng(5);
  std::vector<double> w(4 * 4);
  for (double& x : w) x = static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5;  // raw bits
  pm::gpm_model<double> g(4, 2, w, {1.0, 0.3}, 0.1);
  pm::comparison_data<double> d(4);
  d.add(0, 1, pm::outcome::model_a_wins, 1.0, 3);
  d.add(1, 2, pm::outcome::tie, 2.0, 1);
  d.add(3, 0, pm::outcome::model_a_wins, 1.0, 2);
  d.add(2, 3, pm::outcome::model_b_wins, 0.5, 4);
  std::vector<double> grad(w.size()), scratch(w.size());
  pm::detail::gpm_objective(g, d, 0.01, grad, nullptr);
  for (std::size_t q = 0; q < w.size(); ++q) {
    auto gp = g, gm = g;
    gp.embeddings()[q] += 1e-6;
    gm.embeddings()[q] -= 1e-6;
    const double fd = (pm::detail::gpm_objective(gp, d, 0.01, scratch, nullptr) -
                       pm::detail::gpm_objective(gm, d, 0.01, scratch, nullptr)) / 2e-6;
    CHECK(grad[q] == Approx(fd).epsilon(1e-5).margin(1e-8));
  }
  CHECK_THROWS_WITH(pm::gpm_model<double>(3, 1, v, {}, 0.0), Catch::Contains("tau = 0"));
  CHECK_THROWS_WITH(pm::gpm_model<double>(3, 2, v), Catch::Contains("embeddings.size() = 6"));
  pm::gpm_options<double> bad;
  bad.blocks = 0;
  CHECK_THROWS_WITH(pm::fit_gpm(d, bad), Catch::Contains("blocks = 0"));
}

TEST_CASE("Empirical preferences and log-likelihood of counts", "[prefmodel][general]") {
  pm::comparison_data<double> d(3);
  d.add(0, 1, pm::outcome::model_a_wins, 1.0, 3);
  d.add(0, 1, pm::outcome::tie, 1.0, 2);
  d.add(1, 0, pm::outcome::model_a_wins, 1.0, 1);
  const auto p = pm::empirical_preference_matrix(d);
  CHECK(p(0, 1) == Approx(4.0 / 6.0));
  CHECK(p(1, 0) == Approx(2.0 / 6.0));
  CHECK(p(0, 2) == 0.5);  // never compared
  CHECK(pm::empirical_preference_matrix(d, 2.0)(0, 1) == Approx(5.0 / 8.0));
  CHECK(pm::log_likelihood(p, d) == Approx(4 * std::log(4.0 / 6) + 2 * std::log(2.0 / 6)));
  CHECK_THROWS_WITH(pm::log_likelihood(pm::bt_preference_matrix<double>(std::vector<double>{0.0, 1.0}), d),
                    Catch::Contains("data.num_items() = 3"));
}
