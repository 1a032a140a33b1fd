// Bad hyper-parameters and bad batches are rejected with prefopt::invalid_argument (one test per
// rule of issue 3), with messages naming the argument.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <span>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/registry.hpp>

namespace {
namespace pl = prefopt::losses;
using B = prefopt::eigen::backend<double>;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();
using Catch::Matchers::Contains;

const std::vector<double> cw{-10, -12, -9}, cl{-11, -10, -13}, rw{-10.5, -11, -9}, rl{-10, -10, -12};
}  // namespace

TEST_CASE("beta <= 0 or non-finite is rejected by every loss that has a beta", "[losses][validation]") {
  for (const auto name : pl::loss_names) {
    if (name == "sft") continue;  // no hyper-parameters
    for (const double beta : {0.0, -0.1, not_a_number, inf, -inf}) {
      INFO(name << " beta " << beta);
      CHECK_THROWS_AS(pl::make_loss<double>(name, {.beta = beta}), prefopt::invalid_argument);
    }
  }
  CHECK_THROWS_WITH(pl::sigmoid<double>(0.0), Contains("beta") && Contains("> 0"));
  CHECK_THROWS_AS(pl::orpo<double>(-1.0), prefopt::invalid_argument);  // orpo's lambda
}

TEST_CASE("label smoothing outside 0 <= eps < 0.5 is rejected", "[losses][validation]") {
  for (const auto name : {"sigmoid", "robust", "exo_pair", "aot", "aot_pair", "simpo", "cpo", "rpo"}) {
    for (const double eps : {-0.01, 0.5, 0.7, not_a_number}) {
      INFO(name << " label_smoothing " << eps);
      CHECK_THROWS_AS(pl::make_loss<double>(name, {.label_smoothing = eps}), prefopt::invalid_argument);
    }
  }
  CHECK_THROWS_WITH(pl::sigmoid<double>(0.1, 0.5), Contains("label_smoothing") && Contains("[0, 0.5)"));
  CHECK_NOTHROW(pl::sigmoid<double>(0.1, 0.49));
}

TEST_CASE("exo_pair with label smoothing 0 is rejected", "[losses][validation]") {
  CHECK_THROWS_WITH(pl::exo_pair<double>(0.1, 0.0), Contains("label_smoothing") && Contains("> 0"));
  CHECK_THROWS_AS(pl::make_loss<double>("exo_pair", {.label_smoothing = 0.0}), prefopt::invalid_argument);
  CHECK_NOTHROW(pl::exo_pair<double>(0.1));  // default 1e-3
}

TEST_CASE("robust with label smoothing >= 0.5 is rejected", "[losses][validation]") {
  CHECK_THROWS_AS(pl::robust<double>(0.1, 0.5), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::robust<double>(0.1, 0.75), prefopt::invalid_argument);
}

TEST_CASE("KTO needs a batch of at least 2 and the mismatched-pair log-probs", "[losses][validation]") {
  const pl::kto<double> kto;
  const std::vector<double> one{-10}, kl{-5};
  CHECK_THROWS_WITH(pl::preference_loss<B>(kto, pl::preference_batch<double>{one, one, one, one, {}, {}, {}, {}, {}, kl, kl}),
                    Contains("at least 2"));
  CHECK_THROWS_WITH(pl::preference_loss<B>(kto, pl::preference_batch<double>{cw, cl, rw, rl}),
                    Contains("kl_policy_logps"));
  const std::vector<double> kp{-5, -6}, kr{-5};
  CHECK_THROWS_AS(pl::preference_loss<B>(kto, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr}),
                  prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::kto<double>(0.1, 0.0), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::kto<double>(0.1, 1.0, -1.0), prefopt::invalid_argument);
}

TEST_CASE("win rates outside 0..1 are rejected", "[losses][validation]") {
  const pl::sppo<double> sppo;
  const std::vector<double> good{0.2, 0.5, 1.0}, bad{0.2, 1.5, 0.0}, negative{-0.1, 0.5, 0.5};
  CHECK_NOTHROW(pl::preference_loss<B>(sppo, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, good, good}));
  CHECK_THROWS_WITH(pl::preference_loss<B>(sppo, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, good, bad}),
                    Contains("rejected_win_rates[1]") && Contains("[0, 1]"));
  CHECK_THROWS_WITH(pl::preference_loss<B>(sppo, pl::preference_batch<double>{cw, cl, rw, rl, {}, {}, negative, good}),
                    Contains("chosen_win_rates[0]"));
  CHECK_THROWS_WITH(pl::preference_loss<B>(sppo, pl::preference_batch<double>{cw, cl, rw, rl}),
                    Contains("chosen_win_rates"));
}

TEST_CASE("token counts <= 0 are rejected where a mean is needed", "[losses][validation]") {
  const std::vector<double> n{3, 4, 5}, zero{3, 0, 5}, negative{-1, 4, 5};
  for (const auto name : {"ipo", "orpo", "simpo"}) {
    const auto loss = pl::make_loss<double>(name);
    INFO(name);
    CHECK_NOTHROW(pl::preference_loss<B>(loss, pl::preference_batch<double>{cw, cl, rw, rl, n, n}));
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, pl::preference_batch<double>{cw, cl, rw, rl, n, zero}),
                      Contains("rejected_tokens[1]"));
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, pl::preference_batch<double>{cw, cl, rw, rl, negative, n}),
                      Contains("chosen_tokens[0]"));
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, pl::preference_batch<double>{cw, cl, rw, rl}),
                      Contains("chosen_tokens"));
  }
  // A derived NLL (-l_w / n_w) needs the chosen counts too.
  CHECK_THROWS_WITH(pl::preference_loss<B>(pl::cpo<double>(), pl::preference_batch<double>{cw, cl}),
                    Contains("chosen_tokens"));
}

TEST_CASE("mismatched batch sizes are rejected", "[losses][validation]") {
  const std::vector<double> two{-1, -2};
  const pl::sigmoid<double> dpo;
  CHECK_THROWS_WITH(pl::preference_loss<B>(dpo, pl::preference_batch<double>{cw, two, rw, rl}),
                    Contains("rejected_logps.size()") && Contains("3"));
  CHECK_THROWS_WITH(pl::preference_loss<B>(dpo, pl::preference_batch<double>{cw, cl, two, rl}),
                    Contains("ref_chosen_logps.size()"));
  CHECK_THROWS_AS(pl::preference_loss<B>(pl::ipo<double>(), pl::preference_batch<double>{cw, cl, rw, rl, two, cw}),
                  prefopt::invalid_argument);
  CHECK_THROWS_WITH(pl::preference_loss<B>(dpo, pl::preference_batch<double>{}), Contains("at least one pair"));
}

TEST_CASE("missing reference log-probs need reference_free, non-finite inputs are rejected", "[losses][validation]") {
  const pl::sigmoid<double> dpo;
  CHECK_THROWS_WITH(pl::preference_loss<B>(dpo, pl::preference_batch<double>{cw, cl}),
                    Contains("reference_free"));
  const std::vector<double> with_nan{-1, not_a_number, -3};
  CHECK_THROWS_WITH(pl::preference_loss<B>(dpo, pl::preference_batch<double>{cw, with_nan, rw, rl}),
                    Contains("rejected_logps[1]"));
  // ORPO takes log(1 - p): a log-prob of 0 (p = 1) has no odds.
  const std::vector<double> zero{-1, 0, -3}, n{1, 1, 1};
  CHECK_THROWS_WITH(pl::preference_loss<B>(pl::orpo<double>(), pl::preference_batch<double>{zero, cl, {}, {}, n, n}),
                    Contains("chosen_logps[1]") && Contains("< 0"));
}

TEST_CASE("registry: unknown names list the valid ones, foreign hyper-parameters are rejected", "[losses][registry]") {
  CHECK_THROWS_WITH(pl::make_loss<double>("nope"),
                    Contains("unknown loss") && Contains("sigmoid") && Contains("kto") && Contains("longpo"));
  CHECK_THROWS_WITH(pl::make_loss<double>("sigmoid", {.gamma = 0.5}), Contains("gamma") && Contains("sigmoid"));
  CHECK_THROWS_AS(pl::make_loss<double>("orpo", {.beta = 0.1, .lambda = 0.2}), prefopt::invalid_argument);
  CHECK(pl::loss_name(pl::make_loss<double>("aot_pair")) == "aot_unpaired");
  CHECK(std::get<pl::sppo<double>>(pl::make_loss<double>("sppo")).beta() == 0.001);
  CHECK(std::get<pl::simpo<double>>(pl::make_loss<double>("simpo", {.gamma = 1.0})).gamma() == 1.0);
  for (const auto name : pl::loss_names) CHECK_NOTHROW(pl::make_loss<float>(name));
  CHECK_THROWS_AS(pl::discopop<double>(0.1, 0.0), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::simpo<double>(2.0, not_a_number), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::cpo<double>(0.1, -1.0), prefopt::invalid_argument);
  CHECK_THROWS_AS(pl::longpo<double>(0.01, inf), prefopt::invalid_argument);
}

TEST_CASE("registry: loss lists take one weight per loss and share hyper-parameters", "[losses][registry]") {
  const std::vector<double> w{1.0, 0.7};
  const auto list = pl::make_loss_list<double>("sigmoid,sft", w, {.beta = 0.2});
  REQUIRE(list.size() == 2);
  CHECK(std::get<pl::sigmoid<double>>(list[0].loss).beta() == 0.2);
  const std::vector<double> n{3, 4, 5};
  const pl::preference_batch<double> batch{cw, cl, rw, rl, n};
  const auto combined = pl::preference_loss<B>(list, batch);
  const auto rpo = pl::preference_loss<B>(pl::rpo<double>(0.2, 0.7), batch);
  CHECK(combined.loss == Approx(rpo.loss).epsilon(1e-14));
  CHECK(combined.grad_chosen[1] == Approx(rpo.grad_chosen[1]).epsilon(1e-14));
  CHECK(combined.per_pair[2] == Approx(rpo.per_pair[2]).epsilon(1e-14));
  const std::vector<double> one{1.0};
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,sft", one), Contains("loss weights"));
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,aot", w), Contains("cannot be combined"));
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,sft", w, {.gamma = 1.0}),
                    Contains("gamma") && Contains("any of"));
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,nope", w), Contains("unknown loss"));
  const std::vector<double> negative{1.0, -1.0};
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,sft", negative), Contains("weights[1]"));
  CHECK_THROWS_WITH(pl::make_loss_list<double>("sigmoid,sft", w, {.beta = -1.0}), Contains("beta = -1"));
}

TEST_CASE("weighted_sum names the offending weight by its index", "[losses][validation]") {
  using combo = pl::weighted_sum<pl::sigmoid<double>, pl::sft<double>>;
  CHECK_THROWS_WITH(combo({1.0, -1.0}, pl::sigmoid<double>(), pl::sft<double>()),
                    Contains("weights[1] = -1"));
  CHECK_THROWS_WITH(combo({not_a_number, 1.0}, pl::sigmoid<double>(), pl::sft<double>()),
                    Contains("weights[0] = nan"));
}

TEST_CASE("registry: in a loss list beta goes to the other terms when orpo is given lambda", "[losses][registry]") {
  const std::vector<double> w{1.0, 1.0};
  const auto list = pl::make_loss_list<double>("sigmoid,orpo", w, {.beta = 0.3, .lambda = 0.2});
  REQUIRE(list.size() == 2);
  CHECK(std::get<pl::sigmoid<double>>(list[0].loss).beta() == 0.3);
  CHECK(std::get<pl::orpo<double>>(list[1].loss).lambda() == 0.2);
  // Without lambda, beta is orpo's TRL name for it; orpo alone still rejects both spellings.
  CHECK(std::get<pl::orpo<double>>(pl::make_loss_list<double>("sigmoid,orpo", w, {.beta = 0.3})[1].loss)
            .lambda() == 0.3);
  CHECK_THROWS_WITH(pl::make_loss_list<double>("orpo", {}, {.beta = 0.3, .lambda = 0.2}),
                    Contains("not both"));
}

TEST_CASE("bco_pair rejects a running-mean state update() cannot continue", "[losses][validation]") {
  const pl::bco_pair<double> bco;
  pl::preference_loss_options<double> options;
  pl::bco_running_mean negative_count{0.0, -1};
  options.bco_state = &negative_count;
  CHECK_THROWS_WITH(pl::preference_loss<B>(bco, pl::preference_batch<double>{cw, cl, rw, rl}, options),
                    Contains("options.bco_state->count = -1"));
  pl::bco_running_mean nan_mean{not_a_number, 3};
  options.bco_state = &nan_mean;
  CHECK_THROWS_WITH(pl::preference_loss<B>(bco, pl::preference_batch<double>{cw, cl, rw, rl}, options),
                    Contains("options.bco_state->mean"));
  pl::bco_running_mean good{0.25, 3};
  options.bco_state = &good;
  CHECK_NOTHROW(pl::preference_loss<B>(bco, pl::preference_batch<double>{cw, cl, rw, rl}, options));
  CHECK(good.count == 4);
}

TEST_CASE("the reusing preference_loss rejects what the allocating form rejects, with its message",
          "[losses][validation]") {
  const std::vector<double> two{-1, -2}, with_nan{-1, not_a_number, -3}, with_inf{-1, -2, inf};
  const std::vector<double> n{3, 4, 5}, zero{3, 0, 5}, bad_rate{0.2, 1.5, 0.0}, rate{0.2, 0.5, 1.0};
  const std::vector<double> kp{-5, -6}, kr{-5};
  struct bad_call {
    const char* loss;
    pl::preference_batch<double> batch;
    const char* names;  // what the message must name
  };
  const std::vector<bad_call> calls{
      {"sigmoid", {cw, two, rw, rl}, "rejected_logps.size() = 2"},
      {"sigmoid", {cw, cl, two, rl}, "ref_chosen_logps.size() = 2"},
      {"sigmoid", {}, "chosen_logps.size() = 0"},
      {"sigmoid", {cw, cl}, "ref_chosen_logps = \"empty\""},
      {"sigmoid", {cw, with_nan, rw, rl}, "rejected_logps[1] = nan"},
      {"sigmoid", {cw, cl, rw, with_inf}, "ref_rejected_logps[2] = inf"},
      {"ipo", {cw, cl, rw, rl, n, zero}, "rejected_tokens[1] = 0"},
      {"sppo", {cw, cl, rw, rl, {}, {}, rate, bad_rate}, "rejected_win_rates[1] = 1.5"},
      {"kto", {cw, cl, rw, rl, {}, {}, {}, {}, {}, kp, kr}, "kl_ref_logps.size() = 1"},
      {"aot", {cw, with_nan, rw, rl}, "rejected_logps[1] = nan"},
  };
  pl::preference_loss_result<B> kept = pl::preference_loss<B>(pl::sigmoid<double>(), {cw, cl, rw, rl});
  for (const auto& call : calls) {
    INFO(call.loss << ": " << call.names);
    const auto loss = pl::make_loss<double>(call.loss);
    std::string allocating, reusing;
    try {
      (void)pl::preference_loss<B>(loss, call.batch);
    } catch (const prefopt::invalid_argument& e) {
      allocating = e.what();
    }
    try {
      pl::preference_loss<B>(loss, call.batch, kept);
    } catch (const prefopt::invalid_argument& e) {
      reusing = e.what();
    }
    CHECK_THAT(allocating, Contains(call.names));
    CHECK(reusing == allocating);
  }
  // After the errors the kept result is still a usable object: a good call fills it as the
  // allocating form does (compared with values computed here from the definition).
  pl::preference_loss<B>(pl::sigmoid<double>(0.1), {cw, cl, rw, rl}, kept);
  REQUIRE(kept.per_pair.size() == 3);
  CHECK(kept.grad_nll.size() == 0);
  double total = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const double z = 0.1 * ((cw[i] - rw[i]) - (cl[i] - rl[i]));
    const double want = std::log1p(std::exp(-z));
    total += want;
    CHECK(kept.per_pair[Eigen::Index(i)] == Approx(want).epsilon(1e-14));
    CHECK(kept.grad_chosen[Eigen::Index(i)] == Approx(-0.1 / (1 + std::exp(z)) / 3).epsilon(1e-14));
  }
  CHECK(kept.loss == Approx(total / 3).epsilon(1e-14));
  CHECK(kept.context.kl_baseline == 0.0);
}
