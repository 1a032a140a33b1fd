// KL penalties and controllers: with_kl_penalty against hand-written sums and finite
// differences, the exact logits penalty against token_kl, and the adaptive controller against a
// hand-computed trace.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <prefopt/kl/controllers.hpp>
#include <prefopt/kl/penalty.hpp>
#include <prefopt/losses/dpo.hpp>
#include <vector>

#include <support/random.hpp>

namespace pl = prefopt::losses;
using prefopt::index_t;
using prefopt::kl::estimator;

TEST_CASE("with_kl_penalty adds gamma * k(l, l_ref) per side, with exact derivatives", "[kl][penalty]") {
  const pl::sigmoid<double> dpo(0.1);
  pl::pair_input<double> p;
  p.chosen_logps = -12.0;
  p.rejected_logps = -15.5;
  p.ref_chosen_logps = -12.75;
  p.ref_rejected_logps = -14.0;
  const auto base = dpo(p);
  for (auto k : {estimator::k1, estimator::k2, estimator::k3}) {
    // By hand: log r_w = -12.75 + 12 = -0.75, log r_l = -14 + 15.5 = 1.5.
    const double lrw = -0.75, lrl = 1.5;
    const auto val = [&](double lr) {
      return k == estimator::k1 ? -lr : k == estimator::k2 ? 0.5 * lr * lr : std::exp(lr) - 1 - lr;
    };
    const auto der = [&](double lr) { return k == estimator::k1 ? 1.0 : k == estimator::k2 ? -lr : 1 - std::exp(lr); };
    const prefopt::kl::with_kl_penalty both(dpo, 0.3, k);
    const auto r = both(p);
    REQUIRE(r.loss == Approx(base.loss + 0.3 * (val(lrw) + val(lrl))).epsilon(1e-14));
    REQUIRE(r.d_chosen == Approx(base.d_chosen + 0.3 * der(lrw)).epsilon(1e-14));
    REQUIRE(r.d_rejected == Approx(base.d_rejected + 0.3 * der(lrl)).epsilon(1e-14));
    const prefopt::kl::with_kl_penalty chosen_only(dpo, 0.3, k, prefopt::kl::penalty_sides::chosen);
    REQUIRE(chosen_only(p).loss == Approx(base.loss + 0.3 * val(lrw)).epsilon(1e-14));
    REQUIRE(chosen_only(p).d_rejected == base.d_rejected);
    // finite differences of the composed loss
    const double h = 1e-6;
    auto q = p;
    q.chosen_logps += h;
    const double up = both(q).loss;
    q.chosen_logps -= 2 * h;
    const double down = both(q).loss;
    REQUIRE(r.d_chosen == Approx((up - down) / (2 * h)).epsilon(1e-6));
  }
  const prefopt::kl::with_kl_penalty zero(dpo, 0.0, estimator::k3);
  REQUIRE(zero(p).loss == base.loss);
  static_assert(pl::preference_loss_policy<prefopt::kl::with_kl_penalty<pl::sigmoid<double>>>);
  static_assert(prefopt::kl::with_kl_penalty<pl::sigmoid<double>>::traits.uses_reference);
  REQUIRE_THROWS_WITH(prefopt::kl::with_kl_penalty(dpo, -1.0), "gamma = -1: must be finite and >= 0");
  prefopt::kl::with_kl_penalty adj(dpo, 0.1);
  adj.set_gamma(0.25);
  REQUIRE(adj.gamma() == 0.25);
  REQUIRE_THROWS_WITH(adj.set_gamma(std::numeric_limits<double>::quiet_NaN()), Catch::StartsWith("gamma = nan"));
}

TEST_CASE("kl_penalty_from_logits: gamma * mean of per-sequence KL, with its logits gradient", "[kl][penalty]") {
  prefopt_test::bits_rng rng(31);
  const index_t B = 2, T = 4, V = 5;
  std::vector<double> x(B * T * V), y(x.size());
  for (auto& v : x) v = rng.normal();
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = x[i] + rng.normal();
  const std::vector<std::int64_t> labels{0, 1, 2, 3, 4, 3, -100, 1};
  const auto pv = [&] { return prefopt::logits_view<const double>::contiguous(x.data(), B, T, V); };
  const auto rv = prefopt::logits_view<const double>::contiguous(y.data(), B, T, V);
  const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), B, T);
  for (auto red : {prefopt::kl::kl_reduction::sum, prefopt::kl::kl_reduction::mean}) {
    std::vector<double> g(x.size(), 9.0);
    const auto res = prefopt::kl::kl_penalty_from_logits(
        pv(), rv, lv, prefopt::matrix_view<const std::uint8_t>{}, 0.4, red,
        prefopt::logits_view<double>::contiguous(g.data(), B, T, V));
    const auto kl = prefopt::kl::token_kl(pv(), rv, lv);
    const auto& per = red == prefopt::kl::kl_reduction::sum ? kl.sum : kl.mean;
    // Bit for bit: with a gradient the penalty runs token_kl_with_grad, whose rows go through
    // the same row kernels in the same order as token_kl's.
    REQUIRE(res.kl.token == kl.token);
    REQUIRE(res.kl.sum == kl.sum);
    REQUIRE(res.value == Approx(0.4 * (per[0] + per[1]) / 2).epsilon(1e-14));
    const double h = 1e-6;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i];
      x[i] = x0 + h;
      const double up = prefopt::kl::kl_penalty_from_logits(pv(), rv, lv, prefopt::matrix_view<const std::uint8_t>{},
                                                            0.4, red, prefopt::logits_view<double>{})
                            .value;
      x[i] = x0 - h;
      const double down = prefopt::kl::kl_penalty_from_logits(pv(), rv, lv, prefopt::matrix_view<const std::uint8_t>{},
                                                              0.4, red, prefopt::logits_view<double>{})
                              .value;
      x[i] = x0;
      REQUIRE(g[i] == Approx((up - down) / (2 * h)).margin(1e-8));
    }
  }
}

TEST_CASE("adaptive_kl_controller follows a hand-computed trace", "[kl][controller]") {
  // TRL AdaptiveKLController(init_kl_coef=0.1, target=6, horizon=10000), batches of 512:
  //   KL 9   : error = clip(9/6 - 1 = 0.5)   = 0.2  -> 0.1 * (1 + 0.2 * 512/10000) = 0.101024
  //   KL 6.6 : error = 0.1                          -> 0.101024 * 1.00512        = 0.10154124288
  //   KL 3   : error = clip(-0.5)            = -0.2 -> * 0.98976                   = 0.1005014605529088
  //   KL 6   : error = 0                            -> unchanged
  //   KL -1  : error = clip(-7/6)            = -0.2 -> * 0.98976                   = 0.099472325596847...
  //   KL 6.3 : error = 0.05                         -> * 1.00256                   = 0.099726974750374...
  prefopt::kl::adaptive_kl_controller c(0.1, 6.0, 10000.0);
  const double kls[] = {9.0, 6.6, 3.0, 6.0, -1.0, 6.3};
  const double want[] = {0.101024, 0.10154124288, 0.1005014605529088, 0.1005014605529088,
                         0.099472325596847017, 0.099726974750374939};
  for (int i = 0; i < 6; ++i) {
    c.update(kls[i], 512);
    REQUIRE(c.value() == Approx(want[i]).epsilon(1e-14));
  }
  REQUIRE(c.error(100.0) == 0.2);
  REQUIRE(c.error(-100.0) == -0.2);
  prefopt::kl::fixed_kl_controller f(0.05);
  f.update(123.0, 512);
  REQUIRE(f.value() == 0.05);
}

TEST_CASE("controllers reject bad input", "[kl][controller][validation]") {
  REQUIRE_THROWS_WITH(prefopt::kl::adaptive_kl_controller(0.1, 0.0, 10.0), "target = 0: must be finite and > 0");
  REQUIRE_THROWS_WITH(prefopt::kl::adaptive_kl_controller(-0.1, 1.0, 10.0),
                      "init_coefficient = -0.10000000000000001: must be finite and >= 0");
  REQUIRE_THROWS_WITH(prefopt::kl::adaptive_kl_controller(0.1, 1.0, -5.0), "horizon = -5: must be finite and > 0");
  prefopt::kl::adaptive_kl_controller c(0.1, 1.0, 10.0);
  REQUIRE_THROWS_WITH(c.update(std::numeric_limits<double>::quiet_NaN(), 1), "current_kl = nan: must be finite");
  REQUIRE_THROWS_WITH(c.update(1.0, -1), "n_steps = -1: must be >= 0");
  // error -0.2 over 60 steps with horizon 10: multiplier 1 - 1.2 < 0 would flip the sign
  REQUIRE_THROWS_WITH(c.update(0.0, 60), Catch::StartsWith("n_steps = 60: the multiplier"));
  REQUIRE(c.value() == 0.1);
  REQUIRE_THROWS_WITH(prefopt::kl::fixed_kl_controller(std::numeric_limits<double>::infinity()),
                      "coefficient = inf: must be finite and >= 0");
}
