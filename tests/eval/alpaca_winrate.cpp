// AlpacaEval win rates: hand-computed head-to-head numbers, and the length-controlled win rate
// against alpaca_eval 0.6.6's own get_length_controlled_winrate on the committed cases
// (tests/reference/eval_reference.py).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <prefopt/eval/alpaca_winrate.hpp>
#include <prefopt/eval/annotation_io.hpp>

#include "fixtures.hpp"

namespace ev = prefopt::eval;
using Catch::Contains;

TEST_CASE("head to head: hand-computed alpaca_eval numbers", "[eval][winrate]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // valid preferences 1, 2, 1.5, 0 (= 1.5), 2, 1.7; one missing
  const auto h = ev::describe_head_to_head({1, 2, 1.5, 0, 2, 1.7, nan});
  // x = preference - 1 = 0, 1, .5, .5, 1, .7: mean 3.7 / 6
  CHECK(h.win_rate == Approx(100 * 3.7 / 6).epsilon(1e-14));
  // sum (x - mean)^2 = 0.708333..., / 5, sqrt, / sqrt(6)
  CHECK(h.standard_error == Approx(100 * std::sqrt(0.70833333333333333 / 5) / std::sqrt(6.0)).epsilon(1e-12));
  CHECK(h.n_wins == 3);
  CHECK(h.n_wins_base == 1);
  CHECK(h.n_draws == 2);
  CHECK(h.n_total == 6);
  CHECK(h.n_missing == 1);
  CHECK(h.discrete_win_rate == Approx(100 * 4.0 / 6).epsilon(1e-14));  // 1.7 rounds to 2
  CHECK(h.tie_win_rate == Approx(100 * 5.0 / 6).epsilon(1e-14));
}

TEST_CASE("head to head: bad preferences are rejected", "[eval][winrate]") {
  CHECK_THROWS_WITH(ev::describe_head_to_head({1, 2, 0.5}), Contains("preferences[2] = 0.5"));
  CHECK_THROWS_WITH(ev::describe_head_to_head({1, 3}), Contains("preferences[1] = 3"));
  CHECK_THROWS_WITH(ev::describe_head_to_head({1, std::numeric_limits<double>::infinity()}),
                    Contains("preferences[1] = inf"));
  CHECK_THROWS_WITH(ev::describe_head_to_head({2}), Contains("must be >= 2"));
  CHECK_THROWS_AS(ev::describe_head_to_head({2, std::numeric_limits<double>::quiet_NaN()}), prefopt::invalid_argument);
}

namespace {

ev::lc_glm glm_of(const std::string& name) {
  if (name == "length_controlled_v1") return ev::lc_glm::length_controlled_v1;
  if (name == "length_controlled_noreg") return ev::lc_glm::length_controlled_noreg;
  REQUIRE(name == "length_controlled_minimal");
  return ev::lc_glm::length_controlled_minimal;
}

/// F(w) of l1_logistic.hpp written out again from the definition, for the objective check.
double objective(const ev::soft_label_design& d, double C, const std::vector<double>& w) {
  double loss = 0;
  for (prefopt::index_t i = 0; i < d.rows; ++i) {
    double z = 0;
    for (prefopt::index_t j = 0; j < d.cols; ++j) z += d.row(i)[j] * w[static_cast<std::size_t>(j)];
    const double p = d.label[static_cast<std::size_t>(i)], s = d.weight[static_cast<std::size_t>(i)];
    loss += s * (p * std::log1p(std::exp(-z)) + (1 - p) * std::log1p(std::exp(z)));
  }
  double l1 = 0;
  for (double v : w) l1 += std::abs(v);
  return l1 + C * loss;
}

}  // namespace

TEST_CASE("length-controlled win rate agrees with alpaca_eval on every reference case", "[eval][winrate][reference]") {
  const auto gamed = ev::read_gamed_csv(fixtures::path("df_gamed.csv"));
  std::map<std::string, std::vector<ev::alpaca_annotation>> files;
  int checked = 0;
  for (const auto& r : fixtures::reference_rows("alpaca_eval.csv")) {
    const std::string& c = r.at("case");
    if (!files.count(c)) files[c] = ev::read_alpaca_annotations(fixtures::path(c + (c == "concise" ? ".jsonl" : ".json")));
    std::vector<double> prefs;
    std::vector<ev::lc_annotation> data;
    std::string baseline;
    for (const auto& a : files[c])
      if (a.generator_2 == r.at("generator")) {
        prefs.push_back(a.data.preference);
        data.push_back(a.data);
        baseline = a.generator_1;
      }
    REQUIRE(data.size() >= 2);
    INFO(c << " " << r.at("glm") << " " << r.at("generator"));
    const auto h = ev::describe_head_to_head(prefs);
    CHECK(h.win_rate == Approx(std::stod(r.at("win_rate"))).epsilon(1e-12));
    CHECK(h.standard_error == Approx(std::stod(r.at("standard_error"))).epsilon(1e-10));
    CHECK(h.n_wins == std::stoll(r.at("n_wins")));
    CHECK(h.n_wins_base == std::stoll(r.at("n_wins_base")));
    CHECK(h.n_draws == std::stoll(r.at("n_draws")));
    CHECK(h.n_total == std::stoll(r.at("n_total")));
    CHECK(h.discrete_win_rate == Approx(std::stod(r.at("discrete_win_rate"))).epsilon(1e-12));

    ev::lc_options opt;
    opt.glm = glm_of(r.at("glm"));
    const auto lc = ev::length_controlled_winrate(data, r.at("generator") == baseline, &gamed, opt);
    // The bar is 0.1 point; liblinear stops at a relative gradient of 1e-4, which
    // costs up to ~0.01 point on these cases, so 0.02 keeps the test sharp.
    CHECK(std::abs(lc.length_controlled_winrate - std::stod(r.at("length_controlled_winrate"))) < 0.02);
    CHECK(std::abs(lc.lc_standard_error - std::stod(r.at("lc_standard_error"))) < 1e-3);
    CHECK(lc.best_C == Approx(std::stod(r.at("best_C"))).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked == 18);
}

TEST_CASE("length-controlled GLM: our optimum is at least as good as liblinear's", "[eval][winrate][reference]") {
  // Rebuild each case's training design from the definitions (alpaca_eval's row order and
  // weights), evaluate F at our weights and at sklearn's (from the fixture): ours must not be
  // worse, and the two must be close (liblinear's early stop).
  const auto gamed = ev::read_gamed_csv(fixtures::path("df_gamed.csv"));
  const auto diff = ev::instruction_difficulty_of(gamed);
  int checked = 0;
  for (const auto& r : fixtures::reference_rows("alpaca_eval.csv")) {
    const std::string& c = r.at("case");
    const auto glm = glm_of(r.at("glm"));
    const bool v1 = glm == ev::lc_glm::length_controlled_v1, with_difficulty = glm != ev::lc_glm::length_controlled_minimal;
    std::vector<ev::lc_annotation> data;
    for (const auto& a : ev::read_alpaca_annotations(fixtures::path(c + (c == "concise" ? ".jsonl" : ".json"))))
      if (a.generator_2 == r.at("generator")) data.push_back(a.data);
    INFO(c << " " << r.at("glm") << " " << r.at("generator"));
    const auto lc = ev::length_controlled_winrate(data, false, &gamed, {.glm = glm});
    std::vector<double> sk{std::stod(r.at("w_tanh_std_delta_len"))};
    if (with_difficulty) sk.push_back(std::stod(r.at("w_instruction_difficulty")));
    sk.push_back(std::stod(r.at("w_not_gamed_baseline")));
    std::vector<double> delta;
    for (const auto& a : data)
      delta.push_back(static_cast<double>(ev::detail::code_points(a.output_1) - ev::detail::code_points(a.output_2)));
    double mean = 0, ss = 0;
    for (double x : delta) mean += x / static_cast<double>(delta.size());
    for (double x : delta) ss += (x - mean) * (x - mean);
    const double sd = std::sqrt(ss / static_cast<double>(delta.size() - 1));
    ev::soft_label_design d;
    if (v1)
      for (const auto& g : gamed)
        if (!std::isnan(g.preference))
          d.push_row({std::tanh(g.std_delta_len), g.instruction_difficulty, 0.0}, g.preference, 0.2 / 2);
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (std::isnan(data[i].preference)) continue;
      std::vector<double> x{std::tanh(delta[i] / sd)};
      if (with_difficulty) x.push_back(diff.at(data[i].index));
      x.push_back(1.0);
      d.push_row(x, (data[i].preference == 0 ? 1.5 : data[i].preference) - 1, 1.0);
    }
    const double ours = objective(d, lc.best_C, lc.weights), theirs = objective(d, lc.best_C, sk);
    CHECK(ours <= theirs * (1 + 1e-14));
    CHECK(ours == Approx(theirs).epsilon(1e-4));
    for (std::size_t j = 0; j < sk.size(); ++j) CHECK(lc.weights[j] == Approx(sk[j]).margin(0.02));
    ++checked;
  }
  CHECK(checked == 18);
}

TEST_CASE("length-controlled win rate: baseline against itself, bad inputs", "[eval][winrate]") {
  std::vector<ev::lc_annotation> same{{"aa", "aa", 1.5, 0}, {"bbb", "bbb", 1.5, 1}, {"c", "c", std::nan(""), 2}};
  const auto lc = ev::length_controlled_winrate(same, true, nullptr, {.glm = ev::lc_glm::length_controlled_minimal});
  CHECK(lc.length_controlled_winrate == 50);
  CHECK(lc.lc_standard_error == 0);
  // every length difference equal: std_delta_len = 0 / 0 in alpaca_eval
  std::vector<ev::lc_annotation> flat{{"ab", "a", 2, 0}, {"xy", "x", 1, 1}, {"pq", "p", 2, 2}};
  CHECK_THROWS_WITH(ev::length_controlled_winrate(flat, false, nullptr, {.glm = ev::lc_glm::length_controlled_minimal}),
                    Contains("std_delta_len is undefined"));
  std::vector<ev::lc_annotation> ok{{"ab", "a", 2, 0}, {"x", "xyz", 1, 1}, {"pq", "p", 2, 7}};
  CHECK_THROWS_WITH(ev::length_controlled_winrate(ok, false, nullptr), Contains("needs df_gamed"));
  std::vector<ev::gamed_row> g{{"m", 0, 0.1, 0.5, 0.2, false}, {"m", 1, 0.2, 0.5, -0.2, false}};
  CHECK_THROWS_WITH(ev::length_controlled_winrate(ok, false, &g), Contains("annotations[2].index = 7"));
  ok[1].preference = 7;
  CHECK_THROWS_WITH(ev::length_controlled_winrate(ok, false, nullptr, {.glm = ev::lc_glm::length_controlled_minimal}),
                    Contains("annotations[1].preference = 7"));
}

TEST_CASE("lengths are counted in Unicode code points, as Python's len", "[eval][winrate]") {
  CHECK(ev::detail::code_points("abc") == 3);
  CHECK(ev::detail::code_points("\xC3\xA9t\xC3\xA9") == 3);       // été
  CHECK(ev::detail::code_points("\xE6\x97\xA5\xE6\x9C\xAC") == 2);  // 日本
  CHECK(ev::detail::code_points("\xF0\x9F\x98\x80") == 1);          // U+1F600
}
