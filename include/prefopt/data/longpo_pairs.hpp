#pragma once
// LongPO's short-to-long preference samples (Chen et al. 2025; DAMO-NLP-SG/LongPO,
// data_prepare/postprocess_longpo_pair.py). One sample is a long context x_L (the "prompt", a
// whole document) and one or more turns, each with
//   question      the instruction of the turn,
//   short_prompt  the short chunk x_S of x_L that the turn's question was generated from,
//   chosen        the answer the short-context model gave with x_S,
//   rejected      the answer the same model gave with x_L,
// stored grouped as LongPO's group_by_prompt_id writes them:
//   {"prompt": x_L, "short_prompts": [...], "questions": [...], "chosens": [...], "rejecteds": [...]}.
// The conversations are built as its apply_chat_template does (build_chat_format): the policy sees
// ONE multi-turn conversation on the long context, whose first user message is
// x_L + "\n\n" + question_0 and whose later user messages are the bare questions; the reference sees
// one single-turn conversation per turn on its short chunk, short_prompt_i + "\n\n" + question_i
// (the bare question when the context is empty). The reference log-prob of the sample is the sum
// of the per-turn short-context log-probs (kl::sum_reference_turns).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/core/errors.hpp"
#include "prefopt/io/json.hpp"
#include "prefopt/io/parse_error.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::data {

struct longpo_turn {
  std::string question, short_context, chosen, rejected;
};

struct longpo_sample {
  std::string long_context;
  std::vector<longpo_turn> turns;
  std::size_t line = 0;  // where the record starts in its file (0 if built in code)
};

struct chat_message {
  std::string role;  // "user" or "assistant"
  std::string content;
};

/// LongPO's user message: context + "\n\n" + question, or the question alone for an empty context.
inline std::string longpo_user_content(std::string_view context, std::string_view question) {
  std::string out(context);
  if (!out.empty()) out += "\n\n";
  out += question;
  return out;
}

/// The policy's conversation on the long context, with the chosen (or rejected) answer of every turn.
inline std::vector<chat_message> longpo_long_conversation(const longpo_sample& s, bool chosen) {
  std::vector<chat_message> out;
  for (std::size_t i = 0; i < s.turns.size(); ++i) {
    const auto& t = s.turns[i];
    out.push_back({"user", longpo_user_content(i == 0 ? std::string_view(s.long_context) : std::string_view(), t.question)});
    out.push_back({"assistant", chosen ? t.chosen : t.rejected});
  }
  return out;
}

/// The reference's conversation of turn `i` on its short chunk.
inline std::vector<chat_message> longpo_short_conversation(const longpo_sample& s, std::size_t i, bool chosen) {
  require(i < s.turns.size(), "turn", i, "must be < the sample's " + std::to_string(s.turns.size()) + " turns");
  const auto& t = s.turns[i];
  return {{"user", longpo_user_content(t.short_context, t.question)}, {"assistant", chosen ? t.chosen : t.rejected}};
}

/// Samples from JSON-lines (or a JSON list) text in LongPO's grouped format (above). A record that
/// is not an object, lacks a field, has a non-string prompt, lists of other types, or lists of
/// different or zero lengths is a parse_error "source:line: reason". Extra fields are ignored.
inline std::vector<longpo_sample> parse_longpo_samples(std::string_view text, const std::string& source) {
  std::vector<longpo_sample> out;
  for (const io::json_value& rec : io::parse_json_records(text, source)) {
    auto fail = [&](const std::string& why) { throw io::parse_error(source, rec.line, why); };
    if (rec.type != io::json_value::kind::object) fail(std::string("expected an object, got ") + rec.type_name());
    auto field = [&](const char* key) -> const io::json_value& {
      const io::json_value* v = rec.find(key);
      if (v == nullptr) fail(std::string("missing field \"") + key + "\"");
      return *v;
    };
    longpo_sample s;
    s.line = rec.line;
    const auto& prompt = field("prompt");
    if (prompt.type != io::json_value::kind::string)
      fail(std::string("field \"prompt\" must be a string, got ") + prompt.type_name());
    s.long_context = prompt.text;
    const char* lists[] = {"questions", "short_prompts", "chosens", "rejecteds"};
    std::size_t turns = 0;
    for (const char* key : lists) {
      const auto& v = field(key);
      if (v.type != io::json_value::kind::array)
        fail(std::string("field \"") + key + "\" must be a list of strings, got " + v.type_name());
      if (key == lists[0]) turns = v.items.size();
      if (v.items.empty()) fail(std::string("field \"") + key + "\" is empty: a sample needs at least one turn");
      if (v.items.size() != turns)
        fail(std::string("field \"") + key + "\" has " + std::to_string(v.items.size()) + " entries, \"questions\" has " +
             std::to_string(turns));
      for (std::size_t i = 0; i < v.items.size(); ++i)
        if (v.items[i].type != io::json_value::kind::string)
          fail(std::string("field \"") + key + "\"[" + std::to_string(i) + "] must be a string, got " + v.items[i].type_name());
    }
    for (std::size_t i = 0; i < turns; ++i)
      s.turns.push_back({field("questions").items[i].text, field("short_prompts").items[i].text,
                         field("chosens").items[i].text, field("rejecteds").items[i].text});
    out.push_back(std::move(s));
  }
  if (out.empty()) throw io::parse_error(source, 1, "no samples (expected JSON lines {prompt, short_prompts, questions, chosens, rejecteds})");
  return out;
}

/// The samples of the file at `path` (errors as parse_longpo_samples, or a path that cannot be read).
inline std::vector<longpo_sample> read_longpo_samples(const std::string& path) {
  return parse_longpo_samples(io::read_text_file(path), path);
}

}  // namespace prefopt::data
