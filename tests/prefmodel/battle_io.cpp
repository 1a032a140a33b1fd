// Battle-log parsing (CSV and JSONL), aggregation into counts, and agreement of the fitted Arena
// ratings with the FastChat methods (tests/reference/prefmodel/fastchat_reference.py).
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include <prefopt/prefmodel/battle_io.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>
#include <prefopt/prefmodel/rating_scale.hpp>

#include "fixtures.hpp"

namespace pm = prefopt::prefmodel;
using Catch::Contains;

namespace {

/// The message of the battle_parse_error that reading `text` strictly throws, or "no error".
std::string error_reading(const std::string& text, bool jsonl, const std::string& source) {
  std::istringstream s(text);
  try {
    (void)(jsonl ? pm::read_battles_jsonl<double>(s, {}, source) : pm::read_battles_csv<double>(s, {}, source));
  } catch (const pm::battle_parse_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("CSV battles: header order, quoting, weights, blank lines", "[prefmodel][io]") {
  std::istringstream in(
      "\xEF\xBB\xBFwinner,extra,model_b,model_a,weight\r\n"
      "model_a,x,b,\"a, inc\",2\r\n"
      "\n"
      "tie (bothbad),\"q\"\"uote\",\"a, inc\",b,\n"
      "model_b,,c,b,0.5\n");
  const auto log = pm::read_battles_csv<double>(in);
  REQUIRE(log.battles.size() == 3);
  CHECK(log.battles[0].model_a == "a, inc");
  CHECK(log.battles[0].weight == 2.0);
  CHECK(log.battles[1].result == pm::outcome::tie);
  CHECK(log.battles[1].weight == 1.0);
  CHECK(log.battles[2].result == pm::outcome::model_b_wins);
  const auto data = pm::comparison_data<double>::from_battles(log.battles);
  CHECK(data.num_items() == 3);
  CHECK(data.total_battles() == 3);
  CHECK(data.total_weight() == Approx(3.5));
  CHECK(data.battles(data.id("b")) == 3);
  const auto& ab = data.pairs()[0];  // ("a, inc", b): one win for a (weight 2), one tie
  CHECK(ab.wins_i == 2.0);
  CHECK(ab.ties == 1.0);
  CHECK(ab.n_ties == 1);
}

TEST_CASE("CSV bad rows name the line and skip_bad_rows counts them", "[prefmodel][io]") {
  const std::string text =
      "model_a,model_b,winner,weight\n"
      "a,b,model_a,1\n"
      "a,a,model_a,1\n"          // line 3: self-battle
      "a,b,winner_c,1\n"         // line 4: label
      "a,b,model_b\n"            // line 5: field count
      "a,,model_b,1\n"           // line 6: empty field
      "a,b,model_b,-1\n"         // line 7: weight
      "a,b,model_b,abc\n"        // line 8: weight
      "b,a,tie,1\n";
  std::istringstream in(text);
  CHECK_THROWS_WITH(pm::read_battles_csv<double>(in, {}, "f.csv"), Contains("f.csv:3: self-battle"));
  std::istringstream again(text);
  pm::battle_read_options opt;
  opt.skip_bad_rows = true;
  const auto log = pm::read_battles_csv<double>(again, opt, "f.csv");
  CHECK(log.battles.size() == 2);
  CHECK(log.bad_rows == 6);
  REQUIRE(log.problems.size() == 6);
  CHECK_THAT(log.problems[1], Contains("f.csv:4: unknown winner label 'winner_c'"));
  CHECK_THAT(log.problems[2], Contains("f.csv:5: expected 4 fields, found 3"));
  CHECK_THAT(log.problems[3], Contains("f.csv:6: empty field 'model_b'"));
  CHECK_THAT(log.problems[4], Contains("f.csv:7: weight"));
  CHECK_THAT(log.problems[5], Contains("f.csv:8: weight 'abc' is not a number"));
  std::istringstream no_header("a,b,model_a\n");
  CHECK_THROWS_WITH(pm::read_battles_csv<double>(no_header), Contains("header has no column 'model_b'"));
  try {
    std::istringstream bad("model_a,model_b,winner\na,b,model_a\nx,\"y,model_a\n");
    (void)pm::read_battles_csv<double>(bad, {}, "g.csv");
    FAIL("no throw");
  } catch (const pm::battle_parse_error& e) {
    CHECK(e.line() == 3);
    CHECK_THAT(std::string(e.what()), Contains("unterminated quoted field"));
  }
}

TEST_CASE("JSONL battles: strict flat objects", "[prefmodel][io]") {
  std::istringstream in(
      "{\"model_a\": \"caf\\u00e9\", \"model_b\": \"b\\\"q\", \"winner\": \"model_a\", \"weight\": 2.5e-1,"
      " \"anony\": true, \"tstamp\": 1.7e9, \"judge\": null}\n"
      "   \n"
      "{\"winner\":\"tie\",\"model_b\":\"x\",\"model_a\":\"\\ud83d\\ude00\"}\n");
  const auto log = pm::read_battles_jsonl<double>(in);
  REQUIRE(log.battles.size() == 2);
  CHECK(log.battles[0].model_a == "caf\xc3\xa9");
  CHECK(log.battles[0].model_b == "b\"q");
  CHECK(log.battles[0].weight == 0.25);
  CHECK(log.battles[1].model_a == "\xf0\x9f\x98\x80");
  auto fails = [](const std::string& line) { return error_reading(line, true, "j"); };
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\"}"), Contains("j:1: missing field 'winner'"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"x\"}"), Contains("unknown winner"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"a\", \"winner\": \"tie\"}"), Contains("self-battle"));
  CHECK_THAT(fails("{\"model_a\": 1, \"model_b\": \"a\", \"winner\": \"tie\"}"), Contains("must be a string"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\", \"c\": [1]}"), Contains("nested"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\"} x"), Contains("trailing"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_a\": \"b\"}"), Contains("duplicate key"));
  CHECK_THAT(fails("{\"model_a\": \"a\" \"model_b\": \"b\"}"), Contains("expected '}'"));
  CHECK_THAT(fails("{\"w\": 01}"), Contains("expected '}'"));
  CHECK_THAT(fails("{\"w\": 1.}"), Contains("digits expected"));
  CHECK_THAT(fails("{\"w\": \"\\x\"}"), Contains("bad escape"));
  CHECK_THAT(fails("{\"w\": \"\\ud800\"}"), Contains("surrogate"));
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\", \"weight\": -2}"),
             Contains("weight"));
  CHECK_THAT(fails("[1]"), Contains("expected '{'"));
  // Literals on the fields read: "weight": false used to be dropped (weight 1) and a literal
  // model name was reported as a missing field.
  CHECK_THAT(fails("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\", \"weight\": false}"),
             Contains("weight false is not a number"));
  CHECK_THAT(fails("{\"model_a\": null, \"model_b\": \"b\", \"winner\": \"tie\"}"),
             Contains("field 'model_a' must be a string, got null"));
  CHECK_THAT(fails("{\"anony\": true, \"anony\": false}"), Contains("duplicate key"));
}

TEST_CASE("Battle-log errors quote a bad cell escaped and shortened, and name a directory",
          "[prefmodel][io]") {
  auto csv_error = [](const std::string& text) { return error_reading(text, false, "c"); };
  // A winner label of 200 'w's: 60 of them are quoted, then the full length.
  CHECK(csv_error("model_a,model_b,winner\na,b," + std::string(200, 'w') + "\n") ==
        "c:2: unknown winner label '" + std::string(60, 'w') +
            "'... (200 bytes) (expected model_a, model_b, tie or tie (bothbad))");
  // Control bytes in a cell come out as \xHH, never raw.
  CHECK(csv_error(std::string("model_a,model_b,winner\na,b,x\x01\x1b[2J\n")) ==
        "c:2: unknown winner label 'x\\x01\\x1b[2J' (expected model_a, model_b, tie or tie (bothbad))");
  CHECK(csv_error("model_a,model_b,winner,weight\na,b,tie,\x7f\n") ==
        "c:2: weight '\\x7f' is not a number");
  CHECK(csv_error("model_a,model_b,winner\n\x02,\x02,tie\n") ==
        "c:2: self-battle: model_a = model_b = '\\x02'");
  std::istringstream j("{\"k\\u0001\": 1, \"k\\u0001\": 2}\n");
  CHECK_THROWS_WITH(pm::read_battles_jsonl<double>(j, {}, "j"), "j:1: duplicate key 'k\\x01'");
  // read_battles on a directory: "is a directory" (it used to read nothing: "empty file").
  CHECK_THROWS_WITH(pm::read_battles<double>(PREFOPT_ARENA_DATA),
                    Contains("is a directory") && !Contains("empty file"));
}

TEST_CASE("Arena ratings reproduce FastChat's L-BFGS and scikit-learn fits", "[prefmodel][io][bt]") {
  const auto data = fixtures::arena_sample("battles.jsonl");
  const auto fit = pm::fit_bradley_terry(data);
  pm::elo_scale<double> scale;
  scale.anchor = pm::rating_anchor<double>{data.id("mixtral-8x7b-instruct-v0.1"), 1114.0};
  const auto rating = scale.ratings(fit.theta);
  int rows = 0;
  for (const auto& row : fixtures::reference_csv("fastchat_reference.csv")) {
    const std::string &model = row.at(0), &lbfgs = row.at(1), &sk = row.at(2);
    INFO(model);
    // FastChat stops L-BFGS at gtol 1e-6 and sklearn at tol 1e-6; Newton converges fully.
    CHECK(rating[data.id(model)] == Approx(std::stod(lbfgs)).margin(1e-3));
    CHECK(rating[data.id(model)] == Approx(std::stod(sk)).margin(1e-2));
    ++rows;
  }
  CHECK(rows == data.num_items());
}
