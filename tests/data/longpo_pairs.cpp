// data/longpo_pairs.hpp against a hand-made record and the conversations LongPO's
// apply_chat_template builds from it (data_prepare/postprocess_longpo_pair.py: build_chat_format
// puts the long context before the first question only, and each short chunk before its question).
#include <catch2/catch.hpp>
#include <prefopt/data/longpo_pairs.hpp>
#include <string>

#include "support/parse_error.hpp"

namespace data = prefopt::data;

namespace {

const std::string record =
    "{\"prompt\": \"DOC\", \"short_prompts\": [\"c1\", \"\"], \"questions\": [\"q1\", \"q2\"],"
    " \"chosens\": [\"w1\", \"w2\"], \"rejecteds\": [\"l1\", \"l2\"], \"prompt_id\": 7}\n";

std::string error_of(const std::string& text) {
  return prefopt_test::parse_error_of([](const std::string& t) { return data::parse_longpo_samples(t, "s.jsonl"); }, text);
}

}  // namespace

TEST_CASE("longpo: a grouped record and its long and short conversations", "[data][longpo]") {
  const auto s = data::parse_longpo_samples("\n" + record, "s.jsonl");
  REQUIRE(s.size() == 1);
  CHECK(s[0].line == 2);
  CHECK(s[0].long_context == "DOC");
  REQUIRE(s[0].turns.size() == 2);
  CHECK(s[0].turns[1].question == "q2");
  CHECK(s[0].turns[0].short_context == "c1");
  const auto w = data::longpo_long_conversation(s[0], true);
  REQUIRE(w.size() == 4);
  CHECK(w[0].role == "user");
  CHECK(w[0].content == "DOC\n\nq1");
  CHECK(w[1].content == "w1");
  CHECK(w[2].content == "q2");  // later turns: the bare question
  CHECK(w[3].role == "assistant");
  CHECK(data::longpo_long_conversation(s[0], false)[3].content == "l2");
  const auto r0 = data::longpo_short_conversation(s[0], 0, false);
  CHECK(r0[0].content == "c1\n\nq1");
  CHECK(r0[1].content == "l1");
  CHECK(data::longpo_short_conversation(s[0], 1, true)[0].content == "q2");  // empty chunk: no separator
  CHECK_THROWS_WITH(data::longpo_short_conversation(s[0], 2, true), "turn = 2: must be < the sample's 2 turns");
}

TEST_CASE("longpo: malformed records are parse errors naming file and line", "[data][longpo]") {
  CHECK(error_of("{\"short_prompts\": [\"a\"]}") == "s.jsonl:1: missing field \"prompt\"");
  CHECK(error_of("{\"prompt\": 1}") == "s.jsonl:1: field \"prompt\" must be a string, got a number");
  CHECK(error_of("{\"prompt\": \"D\", \"questions\": \"q\"}") ==
        "s.jsonl:1: field \"questions\" must be a list of strings, got a string");
  CHECK(error_of("{\"prompt\": \"D\", \"questions\": [], \"short_prompts\": [], \"chosens\": [], \"rejecteds\": []}") ==
        "s.jsonl:1: field \"questions\" is empty: a sample needs at least one turn");
  CHECK(error_of(record + "{\"prompt\": \"D\", \"questions\": [\"q\"], \"short_prompts\": [\"a\", \"b\"], \"chosens\": [\"w\"], "
                          "\"rejecteds\": [\"l\"]}") ==
        "s.jsonl:2: field \"short_prompts\" has 2 entries, \"questions\" has 1");
  CHECK(error_of("{\"prompt\": \"D\", \"questions\": [\"q\"], \"short_prompts\": [\"a\"], \"chosens\": [3], \"rejecteds\": [\"l\"]}") ==
        "s.jsonl:1: field \"chosens\"[0] must be a string, got a number");
  CHECK(error_of("[2]") == "s.jsonl:1: expected an object, got a number");
  CHECK(error_of("") == "s.jsonl:1: no samples (expected JSON lines {prompt, short_prompts, questions, chosens, rejecteds})");
}
