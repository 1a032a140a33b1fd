// SPPO's data step (selfplay/sppo_targets.hpp) and the sppo_single loss, against values written
// from the definitions in uclaml/SPPO (compute_prob.py, sppo/trainer.py) and llm_blender; the
// Python re-implementation fixtures are checked by the example_sppo_targets_fixture ctest.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/preference_loss.hpp>
#include <prefopt/losses/sppo.hpp>
#include <prefopt/losses/sppo_single.hpp>
#include <prefopt/selfplay/sppo_targets.hpp>

namespace {

namespace pl = prefopt::losses;
namespace sp = prefopt::selfplay;

/// Uniform in [lo, hi) from the raw 53 high bits (no std distribution: those differ by library).
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace

TEST_CASE("sppo_targets: probabilities, chosen / rejected and win rates from the definition",
          "[selfplay][targets]") {
  const std::vector<double> s{0.0, 2.0, -1.0};
  const auto t = sp::compute_sppo_targets(s);
  CHECK(t.chosen == 1);
  CHECK(t.rejected == 2);
  auto p = [&](int i, int j) { return 1.0 / (1.0 + std::exp(s[j] - s[i])); };
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(t.probability[i * 3 + j] == Approx(p(i, j)).epsilon(1e-15));
  CHECK(t.probability[0] == 0.5);
  CHECK(t.chosen_probs == Approx(1.0 / (1.0 + std::exp(-3.0))).epsilon(1e-15));
  CHECK(t.chosen_probs_win == Approx((p(1, 0) + 0.5 + p(1, 2)) / 3).epsilon(1e-15));
  CHECK(t.chosen_probs_lose == Approx((p(2, 0) + p(2, 1) + 0.5) / 3).epsilon(1e-15));
}

TEST_CASE("sppo_targets: ties go to the first index, as numpy's argmax / argmin",
          "[selfplay][targets]") {
  const auto t = sp::compute_sppo_targets(std::vector<double>{1.5, -0.25, 1.5, -0.25, 0.0});
  CHECK(t.chosen == 0);
  CHECK(t.rejected == 1);
  const auto flat = sp::compute_sppo_targets(std::vector<double>{0.3, 0.3});
  CHECK(flat.chosen == 0);
  CHECK(flat.rejected == 0);
  CHECK(flat.chosen_probs == 0.5);
  // Gaps beyond exp's range give exact 0 / 1, never NaN.
  const auto far = sp::compute_sppo_targets(std::vector<double>{800.0, -800.0});
  CHECK(far.probability[1] == 1.0);
  CHECK(far.probability[2] == 0.0);
  CHECK(far.chosen_probs_win == 0.75);
}

TEST_CASE("pairrm_scores: llm_blender's max_logits mean of C - C^T", "[selfplay][targets]") {
  // C is not antisymmetric and has a non-zero diagonal (which cancels).
  const std::vector<double> c{0.7, 1.0, -2.0,  //
                              0.5, -0.3, 4.0,  //
                              3.0, 1.5, 2.0};
  const auto s = sp::pairrm_scores(c, 3);
  CHECK(s[0] == Approx(((1.0 - 0.5) + (-2.0 - 3.0)) / 3).epsilon(1e-15));
  CHECK(s[1] == Approx(((0.5 - 1.0) + (4.0 - 1.5)) / 3).epsilon(1e-15));
  CHECK(s[2] == Approx(((3.0 + 2.0) + (1.5 - 4.0)) / 3).epsilon(1e-15));
}

TEST_CASE("sppo_targets and pairrm_scores reject bad input", "[selfplay][targets][validation]") {
  CHECK_THROWS_AS(sp::compute_sppo_targets(std::vector<double>{}), prefopt::invalid_argument);
  CHECK_THROWS_WITH(sp::compute_sppo_targets(std::vector<double>{0.0, NAN}),
                    Catch::Contains("scores[1] = nan: must be finite"));
  CHECK_THROWS_WITH(sp::compute_sppo_targets(std::vector<double>{INFINITY, 0.0}),
                    Catch::Contains("scores[0] = inf"));
  CHECK_THROWS_WITH(sp::pairrm_scores(std::vector<double>{1, 2, 3}, 2),
                    Catch::Contains("pairrm_logits.size() = 3"));
  CHECK_THROWS_WITH(sp::pairrm_scores(std::vector<double>{0, 1, NAN, 0}, 2),
                    Catch::Contains("pairrm_logits[1][0] = nan"));
  CHECK_THROWS_AS(sp::pairrm_scores(std::vector<double>{}, 0), prefopt::invalid_argument);
}

TEST_CASE("sppo_single: value and derivatives from trainer.py's formula", "[selfplay][loss]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    const double beta = uniform(rng, 0.05, 2.0);
    pl::pair_input<double> p;
    p.chosen_logps = uniform(rng, -30, -1);
    p.rejected_logps = uniform(rng, -30, -1);
    p.ref_chosen_logps = p.chosen_logps + uniform(rng, -2, 2);
    p.ref_rejected_logps = p.rejected_logps + uniform(rng, -2, 2);
    p.chosen_win_rate = uniform(rng, 0, 1);
    p.rejected_win_rate = uniform(rng, 0, 1);  // never read
    const double rw = p.chosen_logps - p.ref_chosen_logps, rl = p.rejected_logps - p.ref_rejected_logps;
    const double loss_w = std::pow(rw - (1 / beta) * (p.chosen_win_rate - 0.5), 2);
    const double loss_l = std::pow(rl + (1 / beta) * (p.chosen_win_rate - 0.5), 2);
    const auto r = pl::sppo_single<double>(beta)(p);
    CHECK(r.loss == Approx((loss_w + loss_l) / 2).epsilon(1e-12));
    // Equal to sppo with the win rates (p, 1 - p): the single target is the pair's own P.
    auto q = p;
    q.rejected_win_rate = 1 - p.chosen_win_rate;
    CHECK(r.loss == Approx(pl::sppo<double>(beta)(q).loss).epsilon(1e-12));
    // Central finite differences in l_w and l_l (the loss is quadratic: exact up to rounding).
    const double h = 1e-4;
    auto f = [&](double dw, double dl) {
      auto x = p;
      x.chosen_logps += dw;
      x.rejected_logps += dl;
      return pl::sppo_single<double>(beta)(x).loss;
    };
    const double scale = std::max(1.0, std::fabs(r.loss));
    CHECK(r.d_chosen == Approx((f(h, 0) - f(-h, 0)) / (2 * h)).margin(1e-6 * scale));
    CHECK(r.d_rejected == Approx((f(0, h) - f(0, -h)) / (2 * h)).margin(1e-6 * scale));
    CHECK(r.d_nll == 0.0);
  }
  CHECK_THROWS_WITH(pl::sppo_single<double>(0.0), Catch::Contains("beta = 0"));
  CHECK_THROWS_AS(pl::sppo_single<double>(-1.0), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::sppo_single<double>(NAN), prefopt::invalid_argument);
}

TEST_CASE("sppo_single through the batch API: mean reduction and finite-difference gradients",
          "[selfplay][loss]") {
  using B = prefopt::eigen::backend<double>;
  std::mt19937_64 rng(12);
  const int n = 6;
  std::vector<double> lw(n), ll(n), rw(n), rl(n), pw(n), pl_(n);
  for (int i = 0; i < n; ++i) {
    lw[i] = uniform(rng, -20, -1), ll[i] = uniform(rng, -20, -1);
    rw[i] = lw[i] + uniform(rng, -1, 1), rl[i] = ll[i] + uniform(rng, -1, 1);
    pw[i] = uniform(rng, 0, 1), pl_[i] = 1 - pw[i];
  }
  const pl::sppo_single<double> loss(0.25);
  auto run = [&](const std::vector<double>& w, const std::vector<double>& l) {
    pl::preference_batch<double> b;
    b.chosen_logps = w, b.rejected_logps = l, b.ref_chosen_logps = rw, b.ref_rejected_logps = rl;
    b.chosen_win_rates = pw, b.rejected_win_rates = pl_;
    return pl::preference_loss<B>(loss, b);
  };
  const auto r = run(lw, ll);
  double expected = 0;
  for (int i = 0; i < n; ++i) {
    const double t = (pw[i] - 0.5) / 0.25;
    expected += 0.5 * (std::pow(lw[i] - rw[i] - t, 2) + std::pow(ll[i] - rl[i] + t, 2)) / n;
  }
  CHECK(r.loss == Approx(expected).epsilon(1e-12));
  const auto gw = B::to_host(r.grad_chosen), gl = B::to_host(r.grad_rejected);
  const double h = 1e-5;
  for (int i = 0; i < n; ++i) {
    auto a = lw, b = lw;
    a[i] += h, b[i] -= h;
    CHECK(gw[i] == Approx((run(a, ll).loss - run(b, ll).loss) / (2 * h)).margin(1e-7));
    a = ll, b = ll;
    a[i] += h, b[i] -= h;
    CHECK(gl[i] == Approx((run(lw, a).loss - run(lw, b).loss) / (2 * h)).margin(1e-7));
  }
  // A target out of [0, 1] is rejected by the batch API.
  pw[0] = 1.5;
  CHECK_THROWS_AS(run(lw, ll), prefopt::invalid_argument);
}
