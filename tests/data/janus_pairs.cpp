// data/janus_pairs.hpp and data/chat_template.hpp against hand-written expectations: the pairs of
// a small hand-made file worked out on paper, the prompt strings of Janus' DPO config
// (train/axolotl/config/janus-7b-dpo.yml: "[INST] {system}\n{instruction} [/INST]") and of ChatML.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <prefopt/data/janus_pairs.hpp>
#include <string>
#include <vector>

#include "support/parse_error.hpp"

namespace data = prefopt::data;

namespace {

// Q1: three system messages; Q2: two; Q3: one (no rejected); Q4: two with the same output (no
// usable rejected), so 3 rows have no pair.
const std::string rows_text =
    "{\"system\": \"S1\", \"instruction\": \"Q1\", \"output\": \"A\"}\n"
    "{\"system\": \"S2\", \"instruction\": \"Q1\", \"output\": \"B\"}\n"
    "{\"system\": \"S1\", \"instruction\": \"Q2\", \"output\": \"D\", \"extra\": 1}\n"
    "\n"
    "{\"system\": \"S3\", \"instruction\": \"Q1\", \"output\": \"C\"}\n"
    "{\"system\": \"S2\", \"instruction\": \"Q2\", \"output\": \"E\"}\n"
    "{\"system\": \"S1\", \"instruction\": \"Q3\", \"output\": \"F\"}\n"
    "{\"system\": \"S2\", \"instruction\": \"Q4\", \"output\": \"G\"}\n"
    "{\"system\": \"S3\", \"instruction\": \"Q4\", \"output\": \"G\"}\n";

std::vector<std::string> triples(const data::janus_pair_set& s) {
  std::vector<std::string> out;
  for (const auto& p : s.pairs) out.push_back(p.system + "|" + p.instruction + "|" + p.chosen + ">" + p.rejected);
  return out;
}

std::string error_of(const std::string& text) {
  return prefopt_test::parse_error_of([](const std::string& t) { return data::parse_system_rows(t, "f.jsonl"); }, text);
}

}  // namespace

TEST_CASE("janus: prompt templates are Janus' DPO format and ChatML, byte for byte", "[data][janus]") {
  CHECK(data::format_prompt(data::chat_template::mistral, "Be brief.", "Why?") == "[INST] Be brief.\nWhy? [/INST]");
  CHECK(data::format_prompt(data::chat_template::chatml, "Be brief.", "Why?") ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(data::parse_chat_template("chatml") == data::chat_template::chatml);
  CHECK(data::template_name(data::parse_chat_template("mistral")) == "mistral");
  CHECK_THROWS_WITH(data::parse_chat_template("llama"), "template = \"llama\": must be mistral or chatml");
}

TEST_CASE("janus: rows are read with their lines", "[data][janus]") {
  const auto rows = data::parse_system_rows(rows_text, "f.jsonl");
  REQUIRE(rows.size() == 8);
  CHECK(rows[2].system == "S1");
  CHECK(rows[2].instruction == "Q2");
  CHECK(rows[2].output == "D");
  CHECK(rows[3].line == 5);  // the blank line 4 is skipped
}

TEST_CASE("janus: all = true pairs every row with every other system message's output", "[data][janus]") {
  const auto rows = data::parse_system_rows(rows_text, "f.jsonl");
  const auto s = data::build_janus_pairs(rows, {.all = true});
  // Groups in order of first appearance (Q1, Q2, Q3, Q4), rows in file order inside a group.
  CHECK(triples(s) == std::vector<std::string>{"S1|Q1|A>B", "S1|Q1|A>C", "S2|Q1|B>A", "S2|Q1|B>C", "S3|Q1|C>A",
                                               "S3|Q1|C>B", "S1|Q2|D>E", "S2|Q2|E>D"});
  CHECK(s.rows_without_rejected == 3);
  CHECK(s.pairs[1].chosen_row == 0);
  CHECK(s.pairs[1].rejected_row == 3);
}

TEST_CASE("janus: sampled pairs are one per row, from the candidates, fixed by the seed", "[data][janus]") {
  const auto rows = data::parse_system_rows(rows_text, "f.jsonl");
  std::map<std::string, std::set<std::string>> seen;  // chosen row -> rejected outputs over seeds
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    const auto s = data::build_janus_pairs(rows, {.seed = seed});
    REQUIRE(s.pairs.size() == 5);
    CHECK(s.rows_without_rejected == 3);
    CHECK(triples(s) == triples(data::build_janus_pairs(rows, {.seed = seed})));
    for (const auto& p : s.pairs) {
      CHECK(p.system == rows[p.chosen_row].system);
      CHECK(p.chosen == rows[p.chosen_row].output);
      CHECK(p.rejected == rows[p.rejected_row].output);
      CHECK(rows[p.rejected_row].instruction == p.instruction);
      CHECK(rows[p.rejected_row].system != p.system);
      seen[p.system + p.instruction].insert(p.rejected);
    }
  }
  // Every candidate is drawn for some seed; the single-candidate rows always get theirs.
  CHECK(seen["S1Q1"] == std::set<std::string>{"B", "C"});
  CHECK(seen["S2Q1"] == std::set<std::string>{"A", "C"});
  CHECK(seen["S3Q1"] == std::set<std::string>{"A", "B"});
  CHECK(seen["S1Q2"] == std::set<std::string>{"E"});
  CHECK(seen["S2Q2"] == std::set<std::string>{"D"});
}

TEST_CASE("janus: a pair as one JSON line", "[data][janus]") {
  const data::janus_pair p{"Be \"brief\"", "Line1\nLine2", "yes", "no", 0, 1};
  CHECK(data::janus_pair_json(p, data::chat_template::mistral) ==
        "{\"prompt\": \"[INST] Be \\\"brief\\\"\\nLine1\\nLine2 [/INST]\", \"chosen\": \"yes\", \"rejected\": \"no\", "
        "\"system\": \"Be \\\"brief\\\"\", \"instruction\": \"Line1\\nLine2\"}");
}

TEST_CASE("janus: malformed rows are parse errors naming file and line", "[data][janus]") {
  CHECK(error_of("{\"system\": \"S\", \"instruction\": \"Q\"}") == "f.jsonl:1: missing field \"output\"");
  CHECK(error_of("{\"system\": \"S\", \"instruction\": \"Q\", \"output\": \"A\"}\n"
                 "{\"system\": 2, \"instruction\": \"Q\", \"output\": \"B\"}") ==
        "f.jsonl:2: field \"system\" must be a string, got a number");
  CHECK(error_of("\n{\"system\": \"S\", \"instruction\": \"Q\", \"output\": \"A\"}\n"
                 "{\"system\": \"S\", \"instruction\": \"Q\", \"output\": \"B\"}") ==
        "f.jsonl:3: repeats the system message and instruction of line 2");
  CHECK(error_of("[1]") == "f.jsonl:1: expected an object, got a number");
  CHECK(error_of("  \n") == "f.jsonl:1: no rows (expected JSON lines {system, instruction, output})");
  CHECK(error_of("{\"system\": ") .rfind("f.jsonl:1: ", 0) == 0);
  CHECK_THROWS_WITH(data::build_janus_pairs({}), "rows.size() = 0: need at least one row");
}
