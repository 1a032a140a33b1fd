// libFuzzer target: LongPO's sample reader (include/prefopt/data/longpo_pairs.hpp). It must either
// return samples with at least one turn each, whose long conversation has two messages per turn
// (the long context only in the first) and whose short conversations have two each, or throw
// prefopt::invalid_argument (parse_error) with a one-line printable message.
#include <cstddef>
#include <cstdint>
#include <string>

#include <prefopt/data/longpo_pairs.hpp>

#include "fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  namespace d = prefopt::data;
  try {
    for (const auto& s : d::parse_longpo_samples(text, "fuzz.jsonl")) {
      fuzz::check(!s.turns.empty(), "a sample without turns");
      const auto w = d::longpo_long_conversation(s, true);
      fuzz::check(w.size() == 2 * s.turns.size(), "long conversation size");
      fuzz::check(w[0].content == d::longpo_user_content(s.long_context, s.turns[0].question), "first user message");
      for (std::size_t i = 0; i < s.turns.size(); ++i) {
        fuzz::check(w[2 * i + 1].content == s.turns[i].chosen, "assistant message");
        if (i > 0) fuzz::check(w[2 * i].content == s.turns[i].question, "later user message");
        fuzz::check(d::longpo_short_conversation(s, i, false)[1].content == s.turns[i].rejected, "short conversation");
      }
    }
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what());
  }
  return 0;
}
