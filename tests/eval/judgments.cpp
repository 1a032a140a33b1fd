// Pairwise verdicts (Janus-style tie+win rates, position swaps, bootstrap) and absolute rubric
// scores (Janus' averaging order), against hand-computed values.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include <prefopt/eval/judgment_io.hpp>
#include <prefopt/eval/pairwise.hpp>
#include <prefopt/eval/rubric.hpp>

#include "support/rejects.hpp"

namespace ev = prefopt::eval;
using Catch::Contains;
using ev::position;
using ev::verdict;

namespace {
std::vector<ev::pairwise_judgment> sample() {
  return {{"q1", "", verdict::a, position::a},         // win
          {"q1", "", verdict::b, position::b},         // win: the swap agrees
          {"q2", "", verdict::tie, position::a},       // tie
          {"q2", "", verdict::a, position::b},         // loss: the swap disagrees
          {"q3", "code", verdict::b, position::a},     // loss
          {"q4", "code", verdict::a, position::a}};    // win
}
}  // namespace

TEST_CASE("pairwise verdicts: counts, rates, swaps, categories by hand", "[eval][pairwise]") {
  const auto s = ev::summarize_pairwise(sample(), {.bootstrap_rounds = 0});
  CHECK(s.overall.n == 6);
  CHECK(s.overall.wins == 3);
  CHECK(s.overall.ties == 1);
  CHECK(s.overall.losses == 2);
  CHECK(s.overall.win_rate == Approx(100 * 3.5 / 6).epsilon(1e-15));
  CHECK(s.overall.tie_win_rate == Approx(100 * 4.0 / 6).epsilon(1e-15));
  CHECK(s.overall.loss_rate == Approx(100 * 2.0 / 6).epsilon(1e-15));
  // scores 1, 1, .5, 0, 0, 1: sum of squared deviations 1.208333..., ddof = 1
  CHECK(*s.overall.standard_error == Approx(100 * std::sqrt(1.2083333333333333 / 5 / 6)).epsilon(1e-12));
  CHECK(s.swapped_pairs == 2);
  CHECK(s.consistent_pairs == 1);
  CHECK(*s.consistency == 0.5);
  REQUIRE(s.per_category.size() == 2);
  CHECK(s.per_category.at("code").win_rate == 50);
  CHECK(s.per_category.at("").tie_win_rate == 75);
  CHECK_FALSE(s.win_rate_lower.has_value());
  const auto one = ev::summarize_pairwise({{"x", "", verdict::a, position::b}}, {.bootstrap_rounds = 0});
  CHECK(one.overall.loss_rate == 100);
  CHECK_FALSE(one.overall.standard_error.has_value());
  CHECK_FALSE(one.consistency.has_value());
}

TEST_CASE("pairwise bootstrap interval matches the normal approximation on large data", "[eval][pairwise]") {
  // 400 judgments, 55% wins, 10% ties: the percentile interval of the mean score is close to
  // mean +- 1.96 SE (CLT); checks the resampling, not just its reproducibility.
  std::vector<ev::pairwise_judgment> j;
  for (int k = 0; k < 400; ++k)
    j.push_back({std::to_string(k), "", k % 20 < 11 ? verdict::a : (k % 20 < 13 ? verdict::tie : verdict::b),
                 position::a});
  const auto s = ev::summarize_pairwise(j, {.bootstrap_rounds = 4000, .seed = 11});
  const double se = *s.overall.standard_error;
  CHECK(*s.win_rate_lower == Approx(s.overall.win_rate - 1.96 * se).margin(0.15 * se));
  CHECK(*s.win_rate_upper == Approx(s.overall.win_rate + 1.96 * se).margin(0.15 * se));
  CHECK(*s.tie_win_rate_lower < s.overall.tie_win_rate);
  CHECK(*s.tie_win_rate_upper > s.overall.tie_win_rate);
  // all wins: every resample is all wins
  std::vector<ev::pairwise_judgment> w(5, {"p", "", verdict::a, position::a});
  const auto sw = ev::summarize_pairwise(w, {.bootstrap_rounds = 50});
  CHECK(*sw.win_rate_lower == 100);
  CHECK(*sw.win_rate_upper == 100);
}

TEST_CASE("pairwise: bad input", "[eval][pairwise]") {
  CHECK_THROWS_WITH(ev::summarize_pairwise({}), Contains("judgments.size() = 0"));
  CHECK_THROWS_WITH(ev::summarize_pairwise(sample(), {.bootstrap_rounds = 1}), Contains("bootstrap_rounds = 1"));
  CHECK_THROWS_WITH(ev::summarize_pairwise(sample(), {.confidence = 1.0}), Contains("confidence = 1"));
}

TEST_CASE("pairwise judgments JSONL: fields and errors with line", "[eval][pairwise][io]") {
  const auto j = ev::parse_pairwise_judgments(
      "{\"id\": \"q1\", \"verdict\": \"A\"}\n{\"id\": 7, \"verdict\": \"tie\", \"model_position\": \"B\", "
      "\"category\": \"math\"}\n",
      "v.jsonl");
  REQUIRE(j.size() == 2);
  CHECK(j[0].model == position::a);
  CHECK(j[1].id == "7");
  CHECK(j[1].result == verdict::tie);
  CHECK(j[1].category == "math");
  prefopt_test::check_rejects(
      [](const std::string& text) { return ev::parse_pairwise_judgments(text, "v.jsonl"); },
      {{"{\"id\": \"q1\", \"verdict\": \"A\"}\n{\"id\": \"q2\", \"verdict\": \"C\"}",
        "v.jsonl:2: verdict must be \"A\", \"B\" or \"tie\", got 'C'"},
       {"\n\n{\"verdict\": \"A\"}", "v.jsonl:3: missing field 'id'"},
       {"{\"id\": 1, \"verdict\": \"A\", \"model_position\": \"C\"}", "v.jsonl:1: model_position"}});
}

TEST_CASE("rubric scores: Janus' averaging order by hand", "[eval][rubric]") {
  // run r1: i1 rubrics 4, 5 -> 4.5; i2: 3 -> mean 3.75 (pooling the three scores would give 4)
  // run r2: i1 5, 5 -> 5; i2: 2 -> mean 3.5
  const std::vector<ev::rubric_score> s{{"r1", "i1", "a", 4}, {"r1", "i1", "b", 5}, {"r1", "i2", "a", 3},
                                        {"r2", "i1", "a", 5}, {"r2", "i1", "b", 5}, {"r2", "i2", "a", 2}};
  const auto r = ev::average_rubric_scores(s);
  CHECK(r.per_run.at("r1") == 3.75);
  CHECK(r.per_run.at("r2") == 3.5);
  CHECK(r.mean == 3.625);
  CHECK(*r.run_std == Approx(std::sqrt(2 * 0.125 * 0.125)).epsilon(1e-15));
  CHECK(r.runs == 2);
  CHECK(r.instances == 2);
  // rubric a: r1 (4 + 3) / 2, r2 (5 + 2) / 2 -> 3.5; rubric b: r1 5, r2 5 -> 5
  CHECK(r.per_rubric.at("a") == 3.5);
  CHECK(r.per_rubric.at("b") == 5);
  CHECK_THROWS_WITH(ev::average_rubric_scores({{"", "i", "a", 6}}), Contains("scores[0].score = 6"));
  CHECK_THROWS_WITH(ev::average_rubric_scores({{"", "i", "a", 3}, {"", "i", "a", 4}}), Contains("duplicates scores[0]"));
  CHECK_THROWS_WITH(ev::average_rubric_scores({}), Contains("scores.size() = 0"));
}

TEST_CASE("rubric CSV: optional run column, errors with line", "[eval][rubric][io]") {
  const auto s = ev::parse_rubric_csv("instance,rubric,score\ni1,a,4\ni1,b,5\n", "r.csv");
  REQUIRE(s.size() == 2);
  CHECK(s[0].run.empty());
  CHECK(ev::average_rubric_scores(s).mean == 4.5);
  CHECK_THROWS_WITH(ev::parse_rubric_csv("run,instance,rubric,score\n1,i1,a,4\n1,i1,a,3\n", "r.csv"),
                    Contains("r.csv:3: instance 'i1' rubric 'a' already scored on line 2 (run '1')"));
  CHECK_THROWS_WITH(ev::parse_rubric_csv("instance,rubric,score\ni1,a,0\n", "r.csv"),
                    Contains("r.csv:2: score '0' is not a number in [1, 5]"));
}
