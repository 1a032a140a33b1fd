// Readers of the evaluation files: alpaca_eval annotations (JSON list and JSONL), df_gamed.csv
// and scores CSV; every malformed record is reported as "source:line: reason".
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include <prefopt/eval/annotation_io.hpp>
#include <prefopt/eval/scores_io.hpp>

#include "support/rejects.hpp"

namespace ev = prefopt::eval;
using Catch::Contains;

namespace {
const std::string rec =
    R"("output_1": "a\u00e9", "output_2": "bb", "generator_1": "base", "generator_2": "m", "index": 3)";
}

TEST_CASE("annotations: JSON list with nested fields, JSONL, missing preferences", "[eval][io]") {
  const std::string json = "[\n {" + rec + R"(, "preference": 2, "raw_completion": {"k": [1, null, true]}},)" + "\n {" +
                           rec + R"(, "preference": null},)" + "\n {" + rec + R"(, "preference": NaN}, {)" + rec +
                           R"(, "preference": 0}])";
  const auto a = ev::parse_alpaca_annotations(json, "a.json");
  REQUIRE(a.size() == 4);
  CHECK(a[0].data.output_1 == "a\xC3\xA9");
  CHECK(a[0].data.preference == 2);
  CHECK(a[0].data.index == 3);
  CHECK(a[0].line == 2);
  CHECK(a[1].line == 3);
  CHECK(std::isnan(a[1].data.preference));
  CHECK(std::isnan(a[2].data.preference));
  CHECK(a[3].data.preference == 0);
  const auto l = ev::parse_alpaca_annotations("\n{" + rec + R"(, "preference": 1.5})" + "\n\n{" + rec +
                                                  R"(, "preference": 1})" + "\n",
                                              "a.jsonl");
  REQUIRE(l.size() == 2);
  CHECK(l[0].line == 2);
  CHECK(l[1].line == 4);
}

TEST_CASE("annotations: errors name the file and line", "[eval][io]") {
  auto bad = [](const std::string& text) {
    try {
      ev::parse_alpaca_annotations(text, "f.json");
    } catch (const ev::eval_parse_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(bad("[\n{" + rec + R"(, "preference": 2},)" + "\n{" + rec + R"(, "preference": 3}])") ==
        "f.json:3: preference 3 must be 1 (baseline wins), 2 (model wins), 1.5 or 0 (tie), a value in [1, 2] or null");
  CHECK_THAT(bad("[\n{" + rec + R"(, "preference": "2"}])"), Contains("f.json:2: field 'preference' must be a number"));
  CHECK_THAT(bad(R"({"output_1": "x", "preference": 1})"), Contains("f.json:1: missing field 'output_2'"));
  CHECK_THAT(bad("{" + rec + R"(, "preference": 1})" + "\n{" + rec + R"(, "preference": 1)"),
             Contains("f.json:2: malformed JSON"));
  CHECK_THAT(bad("[{" + rec + R"(, "preference": 1}, 5])"), Contains("f.json:1: an annotation must be a JSON object"));
  CHECK_THAT(bad("{" + std::string(R"("output_1": "a", "output_2": "b", "generator_1": "x", "generator_2": "y",)") +
                 R"( "preference": 1, "index": 1.5})"),
             Contains("f.json:1: field 'index' must be an integer >= 0, got 1.5"));
  CHECK_THAT(bad(R"([{"a": 1, "a": 2}])"), Contains("duplicate key 'a'"));
}

TEST_CASE("df_gamed.csv: columns by name, missing preference, errors with line", "[eval][io]") {
  const auto g = ev::parse_gamed_csv(
      "index,model,preference,instruction_difficulty,std_delta_len,not_gamed_baseline,extra\n"
      "0,m,0.25,-1.5,0.3,False,x\n1,m,,2,-0.1,True,y\n",
      "g.csv");
  REQUIRE(g.size() == 2);
  CHECK(g[0].instruction_difficulty == -1.5);
  CHECK_FALSE(g[0].not_gamed_baseline);
  CHECK(std::isnan(g[1].preference));
  CHECK(g[1].not_gamed_baseline);
  const std::string head = "model,index,instruction_difficulty,preference,std_delta_len,not_gamed_baseline\n";
  prefopt_test::check_rejects([](const std::string& text) { return ev::parse_gamed_csv(text, "g.csv"); },
                              {{head + "m,0,1,0.5,0.1,False\nm,1,1,1.5,0.1,False\n",
                                "g.csv:3: preference '1.5' must lie in [0, 1]"},
                               {head + "m,0,1,0.5,0.1,no\n", "g.csv:2: not_gamed_baseline 'no' must be True or False"},
                               {head + "m,x,1,0.5,0.1,True\n", "g.csv:2: index 'x'"},
                               {head + "m,0,1,0.5\n", "g.csv:2: expected 6 fields, found 4"},
                               {"model,index\n", "g.csv:1: header has no column"}});
}

TEST_CASE("scores CSV: quoting, errors with line", "[eval][io]") {
  const auto s = ev::parse_scores_csv("predicted,id,criterion,expert\n3,\"t,1\",fluency,4\n\n5,t2,\"gram\nmar\",5\n",
                                      "s.csv");
  REQUIRE(s.size() == 2);
  CHECK(s[0].id == "t,1");
  CHECK(s[0].expert == 4);
  CHECK(s[1].criterion == "gram\nmar");
  const std::string head = "id,criterion,expert,predicted\n";
  prefopt_test::check_rejects([](const std::string& text) { return ev::parse_scores_csv(text, "s.csv"); },
                              {{head + "t1,a,3,4\nt1,b,3,4.5\n", "s.csv:3: predicted '4.5' is not an integer band"},
                               {head + "t1,a,3,4\nt1,a,3,3\n", "s.csv:3: id 't1' criterion 'a' already given on line 2"},
                               {head + "t1,a,,4\n", "s.csv:2: expert '' is not"},
                               {"id,expert,predicted\n", "s.csv:1: header has no column 'criterion'"},
                               {head, "no data rows"}});
}
