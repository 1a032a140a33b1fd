// Scorer-agreement metrics: hand-computed values, and scikit-learn / SciPy values on the
// committed fixture (tests/reference/agreement_reference.py).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include <prefopt/eval/agreement.hpp>
#include <prefopt/eval/scores_io.hpp>

#include "fixtures.hpp"

namespace ev = prefopt::eval;
using Catch::Contains;

TEST_CASE("QWK, Pearson and Spearman by hand", "[eval][agreement]") {
  const std::vector<double> a{1, 2, 3, 3}, b{1, 3, 3, 2};
  // bands 1..3; observed disagreement sum w O = 1 + 1 = 2; expected sum w r_i c_j / n = 22 / 4
  CHECK(*ev::quadratic_weighted_kappa(a, b) == Approx(1 - 2 / 5.5).epsilon(1e-15));
  // centred: sxy = 1.75, sxx = syy = 2.75
  CHECK(*ev::pearson_correlation(a, b) == Approx(1.75 / 2.75).epsilon(1e-15));
  // average ranks a = 1, 2, 3.5, 3.5 and b = 1, 3.5, 3.5, 2: sxy = 2.25, sxx = syy = 4.5
  CHECK(*ev::spearman_correlation(a, b) == Approx(0.5).epsilon(1e-15));
  CHECK(ev::average_ranks({5, 1, 5, 5, 2}) == std::vector<double>{4, 1, 4, 4, 2});
  // a band in between that nobody uses still counts as a band (distance 4 -> 1 is 3 bands)
  CHECK(*ev::quadratic_weighted_kappa({1, 4}, {4, 1}) == Approx(1 - 18.0 / 9.0).epsilon(1e-15));
  // perfect agreement
  CHECK(*ev::quadratic_weighted_kappa({1, 2, 3}, {1, 2, 3}) == 1.0);
  // undefined when a rater is constant: empty, not NaN
  CHECK_FALSE(ev::quadratic_weighted_kappa({2, 2}, {2, 2}).has_value());
  CHECK_FALSE(ev::pearson_correlation({1, 2, 3}, {2, 2, 2}).has_value());
  CHECK_FALSE(ev::spearman_correlation({4, 4, 4}, {1, 2, 3}).has_value());
}

TEST_CASE("EvalYaks transcript bins and degree of variation by hand", "[eval][agreement]") {
  // tolerance 1: t1 both exact (accurate); t2 one exact, one off by 1 (partly accurate);
  // t3 both off by 1 (acceptable); t4 one exact, one off by 2 (inaccurate)
  const std::vector<ev::scored_item> items{
      {"t1", "A", 3, 3}, {"t1", "B", 4, 4}, {"t2", "A", 2, 2}, {"t2", "B", 5, 4},
      {"t3", "A", 3, 4}, {"t3", "B", 3, 2}, {"t4", "A", 1, 1}, {"t4", "B", 2, 4}};
  const auto rep = ev::score_agreement(items, 1);
  CHECK(rep.bins.transcripts == 4);
  CHECK(rep.bins.accurate == 0.25);
  CHECK(rep.bins.partly_accurate == 0.25);
  CHECK(rep.bins.acceptable == 0.25);
  CHECK(rep.bins.inaccurate == 0.25);
  CHECK(rep.bins.acceptable_accuracy == 0.75);
  CHECK(rep.overall.degree_of_variation == Approx(5.0 / 8).epsilon(1e-15));  // 0+0+0+1+1+1+0+2
  CHECK(rep.overall.exact_accuracy == Approx(4.0 / 8).epsilon(1e-15));
  CHECK(rep.overall.within_tolerance == Approx(7.0 / 8).epsilon(1e-15));
  CHECK(rep.per_criterion.at("B").exact_accuracy == 0.25);
  CHECK(rep.per_criterion.at("B").degree_of_variation == 1.0);
  // tolerance 2 moves t4 to partly accurate; tolerance 0 leaves only t1 acceptable
  CHECK(ev::score_agreement(items, 2).bins.acceptable_accuracy == 1.0);
  CHECK(ev::score_agreement(items, 0).bins.acceptable_accuracy == 0.25);
}

TEST_CASE("agreement metrics match scikit-learn and SciPy on the fixture", "[eval][agreement][reference]") {
  const auto items = ev::read_scores_csv(fixtures::path("scores.csv"));
  const auto rep = ev::score_agreement(items, 1);
  int checked = 0;
  for (const auto& r : fixtures::reference_rows("scores_expected.csv")) {
    const std::string level = r.at("level");
    INFO(level);
    const auto& m = level == "overall" ? rep.overall : rep.per_criterion.at(level);
    CHECK(m.n == std::stoll(r.at("n")));
    CHECK(m.exact_accuracy == Approx(std::stod(r.at("exact_accuracy"))).epsilon(1e-14));
    CHECK(m.within_tolerance == Approx(std::stod(r.at("within_tolerance"))).epsilon(1e-14));
    CHECK(m.degree_of_variation == Approx(std::stod(r.at("degree_of_variation"))).epsilon(1e-14));
    CHECK(*m.qwk == Approx(std::stod(r.at("qwk"))).epsilon(1e-12));
    CHECK(*m.pearson == Approx(std::stod(r.at("pearson"))).epsilon(1e-12));
    CHECK(*m.spearman == Approx(std::stod(r.at("spearman"))).epsilon(1e-12));
    if (level == "overall") {
      CHECK(rep.bins.accurate == Approx(std::stod(r.at("accurate"))).epsilon(1e-14));
      CHECK(rep.bins.partly_accurate == Approx(std::stod(r.at("partly_accurate"))).epsilon(1e-14));
      CHECK(rep.bins.acceptable == Approx(std::stod(r.at("acceptable"))).margin(1e-15));
      CHECK(rep.bins.inaccurate == Approx(std::stod(r.at("inaccurate"))).epsilon(1e-14));
      CHECK(rep.bins.acceptable_accuracy == Approx(std::stod(r.at("acceptable_accuracy"))).epsilon(1e-14));
    }
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("agreement: bad input", "[eval][agreement]") {
  CHECK_THROWS_WITH(ev::score_agreement({}, 1), Contains("items.size() = 0"));
  CHECK_THROWS_WITH(ev::score_agreement({{"t", "A", 1, 2}}, -1), Contains("tolerance = -1"));
  CHECK_THROWS_WITH(ev::score_agreement({{"t", "A", 1.5, 2}}, 1), Contains("items[0].expert = 1.5"));
  CHECK_THROWS_WITH(ev::score_agreement({{"t", "A", 1, 2}, {"t", "A", 2, 2}}, 1),
                    Contains("duplicates items[0]"));
  CHECK_THROWS_WITH(ev::quadratic_weighted_kappa({1, 2}, {1}), Contains("b.size() = 1"));
  CHECK_THROWS_WITH(ev::pearson_correlation({1}, {1}), Contains("x.size() = 1"));
}
