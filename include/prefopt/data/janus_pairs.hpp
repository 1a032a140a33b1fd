#pragma once
// Janus' preference pairs (Lee et al. 2024, "Aligning to Thousands of Varying Preferences via
// System Message Generalization"; kaistAI/Janus, data/train/multifaceted_collection_dpo.jsonl).
//
// Input: Multifaceted Collection rows {system, instruction, output}, several rows per instruction,
// one per system message (extra fields are ignored). For each row, the pair is
//   prompt = the row's (system, instruction), chosen = the row's own output,
//   rejected = an output written for ANOTHER system message of the same instruction,
// either one sampled with a seed (one pair per system message, as the DPO split has) or every one
// (all = true). A candidate is another row of the same instruction whose system message differs
// and whose output differs from the chosen one (an identical output would make an empty pair).
// Rows are grouped by instruction text in order of first appearance and kept in file order inside
// a group, so the pairs come out in that order. The sampler is one std::mt19937_64(seed) that
// draws (53 high bits, floor(u * n)) only for rows with two or more candidates, so a seed gives
// the same pairs with every standard library. Rows without a candidate are counted, not paired.

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/data/chat_template.hpp"
#include "prefopt/io/json.hpp"
#include "prefopt/io/json_writer.hpp"
#include "prefopt/io/parse_error.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::data {

/// One Multifaceted Collection row; `line` is where it starts in its file (0 if built in code).
struct system_row {
  std::string system, instruction, output;
  std::size_t line = 0;
};

/// Rows from JSON-lines (or a JSON list) text; a record that is not an object with string fields
/// system, instruction and output, or that repeats an earlier (system, instruction), is a
/// parse_error "source:line: reason".
inline std::vector<system_row> parse_system_rows(std::string_view text, const std::string& source) {
  std::vector<system_row> rows;
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  for (const io::json_value& rec : io::parse_json_records(text, source)) {
    if (rec.type != io::json_value::kind::object)
      throw io::parse_error(source, rec.line, std::string("expected an object, got ") + rec.type_name());
    system_row row;
    row.line = rec.line;
    for (auto [key, slot] : {std::pair<const char*, std::string*>{"system", &row.system},
                             {"instruction", &row.instruction}, {"output", &row.output}}) {
      const io::json_value* v = rec.find(key);
      if (v == nullptr) throw io::parse_error(source, rec.line, std::string("missing field \"") + key + "\"");
      if (v->type != io::json_value::kind::string)
        throw io::parse_error(source, rec.line,
                              std::string("field \"") + key + "\" must be a string, got " + v->type_name());
      *slot = v->text;
    }
    const auto [at, fresh] = seen.emplace(std::make_pair(row.system, row.instruction), row.line);
    if (!fresh)
      throw io::parse_error(source, rec.line,
                            "repeats the system message and instruction of line " + std::to_string(at->second));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw io::parse_error(source, 1, "no rows (expected JSON lines {system, instruction, output})");
  return rows;
}

/// The rows of the file at `path` (errors as parse_system_rows, or a path that cannot be read).
inline std::vector<system_row> read_system_rows(const std::string& path) {
  return parse_system_rows(io::read_text_file(path), path);
}

/// One DPO pair; chosen_row / rejected_row index the input rows.
struct janus_pair {
  std::string system, instruction, chosen, rejected;
  std::size_t chosen_row = 0, rejected_row = 0;
};

struct janus_pair_options {
  bool all = false;        // every other system message's output, not one sampled
  std::uint64_t seed = 0;  // the sampler's seed (all = false)
};

struct janus_pair_set {
  std::vector<janus_pair> pairs;
  index_t rows_without_rejected = 0;  // rows whose instruction has no other usable output
};

/// The pairs of `rows` (see the header comment).
inline janus_pair_set build_janus_pairs(std::span<const system_row> rows, const janus_pair_options& opt = {}) {
  require(!rows.empty(), "rows.size()", 0, "need at least one row");
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string_view, std::size_t> group_of;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto [at, fresh] = group_of.emplace(rows[r].instruction, groups.size());
    if (fresh) groups.emplace_back();
    groups[at->second].push_back(r);
  }
  std::mt19937_64 rng(opt.seed);
  janus_pair_set out;
  for (const auto& group : groups)
    for (std::size_t r : group) {
      std::vector<std::size_t> candidates;
      for (std::size_t c : group)
        if (rows[c].system != rows[r].system && rows[c].output != rows[r].output) candidates.push_back(c);
      if (candidates.empty()) {
        ++out.rows_without_rejected;
        continue;
      }
      if (!opt.all && candidates.size() > 1) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        candidates = {candidates[static_cast<std::size_t>(u * static_cast<double>(candidates.size()))]};
      }
      for (std::size_t c : candidates)
        out.pairs.push_back({rows[r].system, rows[r].instruction, rows[r].output, rows[c].output, r, c});
    }
  return out;
}

/// One output line: {"prompt", "chosen", "rejected", "system", "instruction"}, prompt in `t`.
inline std::string janus_pair_json(const janus_pair& p, chat_template t) {
  return "{\"prompt\": " + io::json_string(format_prompt(t, p.system, p.instruction)) +
         ", \"chosen\": " + io::json_string(p.chosen) + ", \"rejected\": " + io::json_string(p.rejected) +
         ", \"system\": " + io::json_string(p.system) + ", \"instruction\": " + io::json_string(p.instruction) + "}";
}

}  // namespace prefopt::data
