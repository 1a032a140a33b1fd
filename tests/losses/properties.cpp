// Properties every loss must have: analytic gradients equal finite differences (per pair and
// through the batch API), sigmoid = ln 2 at zero margin, a gradient step lowers the loss and
// raises the margin, finite results for |log-probs| up to 1e4, float close to double, and the
// batch API's reductions and metrics on every test backend.

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/kto_unpaired.hpp>
#include <prefopt/losses/registry.hpp>

#include "support.hpp"
#include "support/backends.hpp"

namespace {

namespace pl = prefopt::losses;

template <class T>
pl::pair_result<T> eval(const pl::any_loss<T>& loss, const pl::pair_input<T>& p,
                        const pl::batch_context<T>& c = {}) {
  return std::visit([&](const auto& l) { return l(p, c); }, loss);
}

/// A random pair away from kinks (hinge: z < 1 is ensured by the caller's beta).
pl::pair_input<double> random_pair(std::mt19937_64& rng) {
  // Uniform in [0, 1) from 53 raw bits: the same stream with every standard library.
  const auto u = [](std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; };
  pl::pair_input<double> p;
  p.chosen_tokens = 1 + std::floor(40 * u(rng));
  p.rejected_tokens = 1 + std::floor(40 * u(rng));
  p.chosen_logps = -p.chosen_tokens * (0.2 + 2 * u(rng));
  p.rejected_logps = -p.rejected_tokens * (0.2 + 2 * u(rng));
  p.ref_chosen_logps = p.chosen_logps + 4 * (u(rng) - 0.5);
  p.ref_rejected_logps = p.rejected_logps + 4 * (u(rng) - 0.5);
  p.chosen_win_rate = u(rng);
  p.rejected_win_rate = u(rng);
  p.chosen_nll = 0.1 + 2 * u(rng);
  return p;
}

}  // namespace

TEST_CASE("per-pair analytic derivatives equal central finite differences", "[losses][gradient]") {
  std::mt19937_64 rng(42);
  const pl::batch_context<double> ctx{0.7, -0.2};
  for (const auto& entry : losses_test::catalogue()) {
    const auto loss = pl::make_loss<double>(entry.name, entry.hp);
    for (int trial = 0; trial < 20; ++trial) {
      const auto p = random_pair(rng);
      const auto r = eval(loss, p, ctx);
      const auto fd = [&](double pl::pair_input<double>::*field) {
        const double h = 1e-6 * std::max(1.0, std::fabs(p.*field));
        auto plus = p, minus = p;
        plus.*field += h;
        minus.*field -= h;
        return (eval(loss, plus, ctx).loss - eval(loss, minus, ctx).loss) / (2 * h);
      };
      INFO(entry.name << " trial " << trial);
      const double scale = std::fabs(r.d_chosen) + std::fabs(r.d_rejected) + std::fabs(r.d_nll) + 1e-12;
      CHECK(losses_test::close(r.d_chosen, fd(&pl::pair_input<double>::chosen_logps), 1e-6, 1e-8 * scale));
      CHECK(losses_test::close(r.d_rejected, fd(&pl::pair_input<double>::rejected_logps), 1e-6, 1e-8 * scale));
      CHECK(losses_test::close(r.d_nll, fd(&pl::pair_input<double>::chosen_nll), 1e-6, 1e-8 * scale));
    }
  }
}

TEST_CASE("batch gradients (mean) equal finite differences of the reduced loss", "[losses][gradient]") {
  using B = prefopt::eigen::backend<double>;
  std::mt19937_64 rng(7);
  const std::size_t n = 6;
  std::vector<double> cw, cl, rw, rl, nw, nl, pw, pl_, kp, kr;
  for (std::size_t i = 0; i < n; ++i) {
    const auto p = random_pair(rng);
    cw.push_back(p.chosen_logps); cl.push_back(p.rejected_logps);
    rw.push_back(p.ref_chosen_logps); rl.push_back(p.ref_rejected_logps);
    nw.push_back(p.chosen_tokens); nl.push_back(p.rejected_tokens);
    pw.push_back(p.chosen_win_rate); pl_.push_back(p.rejected_win_rate);
    kp.push_back(p.chosen_logps - 1.0); kr.push_back(p.ref_chosen_logps - 2.0);
  }
  for (const auto& entry : losses_test::catalogue()) {
    // BCO's delta is a detached batch statistic of the very inputs being perturbed; its per-pair
    // derivatives are covered above with delta fixed.
    if (entry.name == "bco_pair") continue;
    const auto loss = pl::make_loss<double>(entry.name, entry.hp);
    const auto run = [&](const std::vector<double>& c, const std::vector<double>& r) {
      pl::preference_batch<double> b{c, r, rw, rl, nw, nl, pw, pl_, {}, kp, kr};
      return pl::preference_loss<B>(loss, b);
    };
    const auto out = run(cw, cl);
    for (std::size_t i = 0; i < n; ++i) {
      const double h = 1e-6 * std::fabs(cw[i]);
      auto up = cw, down = cw;
      up[i] += h;
      down[i] -= h;
      INFO(entry.name << " pair " << i);
      CHECK(losses_test::close(out.grad_chosen[static_cast<Eigen::Index>(i)],
                               (run(up, cl).loss - run(down, cl).loss) / (2 * h), 1e-6, 1e-10));
      auto up_r = cl, down_r = cl;
      up_r[i] += h;
      down_r[i] -= h;
      CHECK(losses_test::close(out.grad_rejected[static_cast<Eigen::Index>(i)],
                               (run(cw, up_r).loss - run(cw, down_r).loss) / (2 * h), 1e-6, 1e-10));
    }
  }
}

TEST_CASE("sigmoid loss is ln 2 at zero margin, with slope -beta/2", "[losses][sigmoid]") {
  for (const double beta : {0.01, 0.1, 1.0, 10.0}) {
    const pl::sigmoid<double> dpo(beta);
    pl::pair_input<double> p{-12.5, -30.0, -12.5, -30.0};
    const auto r = dpo(p);
    CHECK(r.loss == Approx(std::numbers::ln2).epsilon(1e-15));
    CHECK(r.d_chosen == Approx(-beta / 2).epsilon(1e-15));
    CHECK(r.d_rejected == Approx(beta / 2).epsilon(1e-15));
  }
  // Label smoothing leaves the value at zero margin unchanged: (1 - eps + eps) ln 2.
  CHECK(pl::sigmoid<double>(0.1, 0.3)(pl::pair_input<double>{}).loss ==
        Approx(std::numbers::ln2).epsilon(1e-15));
}

TEST_CASE("a small gradient step lowers every loss and raises the margin", "[losses][descent]") {
  std::mt19937_64 rng(3);
  const pl::batch_context<double> ctx{0.4, 0.1};
  for (const auto& entry : losses_test::catalogue()) {
    const auto loss = pl::make_loss<double>(entry.name, entry.hp);
    // apo_down lowers both log-probs (its margin may move either way); ipo, sppo_hard and sppo
    // regress (per-token) log-ratios onto targets, so above target they lower the margin.
    const bool margin_loss = entry.name != "apo_down" && entry.name != "sppo" &&
                             entry.name != "sppo_hard" && entry.name != "ipo";
    for (int trial = 0; trial < 10; ++trial) {
      auto p = random_pair(rng);
      const auto r = eval(loss, p, ctx);
      const double g2 = r.d_chosen * r.d_chosen + r.d_rejected * r.d_rejected;
      if (g2 == 0.0) continue;  // flat region (inactive hinge)
      const double eta = 1e-3 / std::sqrt(g2);
      auto q = p;
      q.chosen_logps -= eta * r.d_chosen;
      q.rejected_logps -= eta * r.d_rejected;
      INFO(entry.name << " trial " << trial);
      CHECK(eval(loss, q, ctx).loss < r.loss);
      if (margin_loss)
        CHECK(q.chosen_logps - q.rejected_logps >= p.chosen_logps - p.rejected_logps);
    }
  }
}

TEMPLATE_TEST_CASE("no NaN or Inf for |log-probs| up to 1e4", "[losses][extreme]", float, double) {
  using T = TestType;
  const std::vector<T> grid{T(-1e4), T(-5e3), T(-100), T(-1), T(-1e-3)};
  for (const auto& entry : losses_test::catalogue()) {
    for (const double beta : {0.1, 1.0}) {
      auto hp = entry.hp;
      if (hp.beta) hp.beta = beta;
      const auto loss = pl::make_loss<T>(entry.name, hp);
      for (T a : grid)
        for (T b : grid)
          for (T ra : grid)
            for (T rb : grid) {
              pl::pair_input<T> p{a, b, ra, rb, T(1), T(4096), T(1), T(0), T(1e4)};
              const auto r = eval(loss, p, pl::batch_context<T>{T(1e4), T(-1e3)});
              INFO(entry.name << " beta " << beta << " at " << a << ", " << b << ", " << ra << ", " << rb);
              CHECK(std::isfinite(r.loss));
              CHECK(std::isfinite(r.d_chosen));
              CHECK(std::isfinite(r.d_rejected));
              CHECK(std::isfinite(r.d_nll));
            }
    }
  }
}

TEST_CASE("float results agree with double", "[losses][float]") {
  std::mt19937_64 rng(11);
  for (const auto& entry : losses_test::catalogue()) {
    const auto ld = pl::make_loss<double>(entry.name, entry.hp);
    const auto lf = pl::make_loss<float>(entry.name, entry.hp);
    for (int trial = 0; trial < 20; ++trial) {
      const auto p = random_pair(rng);
      const pl::pair_input<float> q{float(p.chosen_logps), float(p.rejected_logps),
                                    float(p.ref_chosen_logps), float(p.ref_rejected_logps),
                                    float(p.chosen_tokens), float(p.rejected_tokens),
                                    float(p.chosen_win_rate), float(p.rejected_win_rate),
                                    float(p.chosen_nll)};
      // Evaluate double at the float-rounded inputs so only arithmetic precision differs.
      const pl::pair_input<double> pd{q.chosen_logps, q.rejected_logps, q.ref_chosen_logps,
                                      q.ref_rejected_logps, q.chosen_tokens, q.rejected_tokens,
                                      q.chosen_win_rate, q.rejected_win_rate, q.chosen_nll};
      const auto rd = eval(ld, pd, {0.3, 0.1});
      const auto rf = eval(lf, q, {0.3f, 0.1f});
      const double scale = std::fabs(rd.loss) + std::fabs(rd.d_chosen) + std::fabs(rd.d_rejected);
      INFO(entry.name << " trial " << trial);
      CHECK(losses_test::close(rf.loss, rd.loss, 1e-4, 1e-5 * scale));
      CHECK(losses_test::close(rf.d_chosen, rd.d_chosen, 1e-4, 1e-5 * scale));
      CHECK(losses_test::close(rf.d_rejected, rd.d_rejected, 1e-4, 1e-5 * scale));
    }
  }
}

TEMPLATE_TEST_CASE("batch API: per-pair values, sum vs mean, metrics", "[losses][batch]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const std::vector<T> cw{-10, -12, -9, -20}, cl{-11, -10, -13, -20};
  const std::vector<T> rw{-10.5, -11, -9, -19}, rl{-10, -10, -12, -21};
  const pl::sigmoid<T> dpo(T(0.5));
  const pl::preference_batch<T> batch{cw, cl, rw, rl};
  const auto mean = pl::preference_loss<B>(dpo, batch);
  pl::preference_loss_options<T> sum_options;
  sum_options.reduce = pl::reduction::sum;
  const auto sum = pl::preference_loss<B>(dpo, batch, sum_options);
  T total = 0;
  for (std::size_t i = 0; i < cw.size(); ++i) {
    const auto r = dpo(pl::pair_input<T>{cw[i], cl[i], rw[i], rl[i]});
    const auto k = static_cast<prefopt::index_t>(i);
    CHECK(B::to_host(mean.per_pair)[i] == Approx(r.loss));
    CHECK(B::to_host(sum.grad_chosen)[i] == Approx(r.d_chosen));
    CHECK(B::to_host(mean.grad_rejected)[i] == Approx(r.d_rejected / 4));
    total += r.loss;
    (void)k;
  }
  CHECK(sum.loss == Approx(total));
  CHECK(mean.loss == Approx(total / 4));
  // r_w = {0.5, -1, 0, -1}, r_l = {-1, 0, -1, 1}: margins {1.5, -1, 1, -2}; strict accuracy 2/4.
  CHECK(mean.metrics.rewards_chosen == Approx(0.5 * (0.5 - 1 + 0 - 1) / 4));
  CHECK(mean.metrics.rewards_rejected == Approx(0.5 * (-1 + 0 - 1 + 1) / 4));
  CHECK(mean.metrics.rewards_margins == Approx(0.5 * (1.5 - 1 + 1 - 2) / 4));
  CHECK(mean.metrics.rewards_accuracies == Approx(0.5));
  CHECK(mean.metrics.logps_chosen == Approx((-10 - 12 - 9 - 20) / 4.0));
  CHECK(mean.metrics.logps_rejected == Approx((-11 - 10 - 13 - 20) / 4.0));
  CHECK(mean.metrics.names[3] == "rewards/accuracies");

  // Reference-free mode: the reference spans may be absent and are treated as zero.
  pl::preference_loss_options<T> free;
  free.reference_free = true;
  const auto rf = pl::preference_loss<B>(dpo, pl::preference_batch<T>{cw, cl}, free);
  CHECK(B::to_host(rf.per_pair)[0] == Approx(dpo(pl::pair_input<T>{cw[0], cl[0]}).loss));
  CHECK(rf.metrics.rewards_chosen == Approx(0.5 * (-51.0) / 4));
}

TEMPLATE_TEST_CASE("batch couplings: KTO baseline, BCO running mean, AOT permutation", "[losses][batch]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const std::vector<T> cw{-10, -12, -9}, cl{-11, -10, -13}, rw{-10.5, -11, -9}, rl{-10, -10, -12};
  const std::vector<T> kp{-5, -7, -9}, kr{-6, -9, -9};  // mean KL = (1 + 2 + 0) / 3 = 1
  const pl::preference_batch<T> batch{cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr};
  const auto k = pl::preference_loss<B>(pl::kto<T>(T(0.2)), batch);
  CHECK(k.context.kl_baseline == Approx(1.0));
  const std::vector<T> kr_high{-1, -1, -1};  // mean KL < 0 is clamped to 0
  const auto k0 = pl::preference_loss<B>(
      pl::kto<T>(T(0.2)), pl::preference_batch<T>{cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr_high});
  CHECK(k0.context.kl_baseline == T(0));

  pl::bco_running_mean state;
  pl::preference_loss_options<T> opt;
  opt.bco_state = &state;
  const auto b1 = pl::preference_loss<B>(pl::bco_pair<T>(T(0.5)), batch, opt);
  // batch-mean reward: 0.5 * mean(r_w, r_l) = 0.5 * (0.5 - 1 + 0 - 1 + 0 - 1) / 6
  CHECK(b1.context.delta == Approx(0.5 * -2.5 / 6));
  (void)pl::preference_loss<B>(pl::bco_pair<T>(T(0.5)), batch, opt);
  CHECK(state.count == 2);
  CHECK(state.mean == Approx(0.5 * -2.5 / 6));

  // AOT with identical pairs in permuted order gives the same loss and permuted gradients.
  const auto a = pl::preference_loss<B>(pl::aot<T>(T(0.3)), batch);
  const std::vector<T> cw2{cw[2], cw[0], cw[1]}, cl2{cl[2], cl[0], cl[1]};
  const std::vector<T> rw2{rw[2], rw[0], rw[1]}, rl2{rl[2], rl[0], rl[1]};
  const auto a2 = pl::preference_loss<B>(pl::aot<T>(T(0.3)), pl::preference_batch<T>{cw2, cl2, rw2, rl2});
  CHECK(a2.loss == Approx(a.loss));
  CHECK(B::to_host(a2.grad_chosen)[0] == Approx(B::to_host(a.grad_chosen)[2]));
  CHECK(B::to_host(a2.grad_rejected)[1] == Approx(B::to_host(a.grad_rejected)[0]));
}

TEST_CASE("weighted_sum combines losses linearly and RPO equals sigmoid + alpha sft", "[losses][combination]") {
  const pl::sigmoid<double> dpo(0.2);
  const pl::sft<double> nll;
  const pl::weighted_sum<pl::sigmoid<double>, pl::sft<double>> combo({1.0, 0.7}, dpo, nll);
  const pl::rpo<double> rpo(0.2, 0.7);
  pl::pair_input<double> p{-10, -14, -11, -12, 5, 6, 1, 0, 2.0};
  const auto a = combo(p), b = rpo(p);
  CHECK(a.loss == Approx(b.loss));
  CHECK(a.d_chosen == Approx(b.d_chosen));
  CHECK(a.d_nll == Approx(0.7));
  static_assert(pl::weighted_sum<pl::sigmoid<double>, pl::bco_pair<double>>::traits.batch ==
                pl::coupling::running_mean);
}

TEST_CASE("unpaired KTO equals paired KTO on a balanced batch (TRL's concatenation)", "[losses][kto]") {
  using B = prefopt::eigen::backend<double>;
  const std::vector<double> cw{-10, -12, -9}, cl{-11, -10, -13}, rw{-10.5, -11, -9}, rl{-10, -10, -12};
  const std::vector<double> kp{-5, -7, -9}, kr{-6, -9, -9};
  const pl::kto<double> kto(0.3, 1.4, 0.6);
  const auto paired =
      pl::preference_loss<B>(kto, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr});
  std::vector<double> policy(cw), ref(rw);
  policy.insert(policy.end(), cl.begin(), cl.end());
  ref.insert(ref.end(), rl.begin(), rl.end());
  const std::vector<std::uint8_t> desirable{1, 1, 1, 0, 0, 0};
  const auto unpaired = pl::kto_loss<B>(kto, pl::kto_batch<double>{policy, ref, desirable, kp, kr});
  CHECK(unpaired.loss == Approx(paired.loss).epsilon(1e-14));
  CHECK(unpaired.kl_baseline == Approx(1.0));
  for (Eigen::Index i = 0; i < 3; ++i) {
    CHECK(unpaired.grad[i] == Approx(paired.grad_chosen[i]).epsilon(1e-14));
    CHECK(unpaired.grad[i + 3] == Approx(paired.grad_rejected[i]).epsilon(1e-14));
  }
  CHECK(unpaired.rewards_chosen == Approx(paired.metrics.rewards_chosen));
  // Sum reduction: a paired value is the mean of its two examples, so the paired sum is half of
  // the unpaired sum over the same 2N examples (docs/losses.md, Reductions).
  pl::preference_loss_options<double> sum_options;
  sum_options.reduce = pl::reduction::sum;
  const auto paired_sum = pl::preference_loss<B>(
      kto, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr}, sum_options);
  const auto unpaired_sum =
      pl::kto_loss<B>(kto, pl::kto_batch<double>{policy, ref, desirable, kp, kr}, sum_options);
  CHECK(2 * paired_sum.loss == Approx(unpaired_sum.loss).epsilon(1e-14));
  CHECK(2 * paired_sum.grad_chosen[0] == Approx(unpaired_sum.grad[0]).epsilon(1e-14));
  CHECK(unpaired.desirable_count == 3);
  // Unbalanced data: the mean runs over all M examples.
  const std::vector<std::uint8_t> mostly_good{1, 1, 1, 1, 1, 0};
  const auto u2 = pl::kto_loss<B>(kto, pl::kto_batch<double>{policy, ref, mostly_good, kp, kr});
  double total = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    const double r = policy[i] - ref[i];
    total += mostly_good[i] ? kto.desirable(r, 1.0).value : kto.undesirable(r, 1.0).value;
  }
  CHECK(u2.loss == Approx(total / 6));
  const std::vector<double> one{-1};
  const std::vector<std::uint8_t> flag{1};
  CHECK_THROWS_AS(pl::kto_loss<B>(kto, pl::kto_batch<double>{one, one, flag, kp, kr}), prefopt::invalid_argument);
}
