#pragma once
// Reading pairwise battle logs in the Chatbot Arena format: one battle per row with fields
// model_a, model_b, winner (model_a | model_b | tie | "tie (bothbad)") and an optional numeric
// weight. Two encodings:
//   CSV   RFC 4180 (header row naming the columns, any column order, extra columns ignored,
//         double-quoted fields may contain commas and doubled quotes);
//   JSONL one flat JSON object per line (string / number / true / false / null values; nested
//         objects or arrays are rejected), blank lines ignored.
// A bad row -- unknown winner label, a model battling itself, a missing or empty field, a weight
// that is not a finite number >= 0, malformed CSV/JSON -- throws battle_parse_error naming the
// source and line, unless skip_bad_rows is set, in which case it is counted and described.
// The tokenizers are io/csv.hpp and io/json.hpp; this header holds the format's rules (which
// fields, which labels) and the loops, which battle_counts.hpp shares.

#include <cmath>
#include <fstream>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/io/csv.hpp"
#include "prefopt/io/json.hpp"
#include "prefopt/io/number_text.hpp"
#include "prefopt/io/parse_error.hpp"
#include "prefopt/io/text_input.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

namespace prefopt::prefmodel {

/// A malformed row in a battle log ("source:line: reason"); line() is 1-based.
using battle_parse_error = io::parse_error;

struct battle_read_options {
  bool skip_bad_rows = false;
  std::size_t max_reported = 10;  // skipped rows described in battle_log::problems
};

template <class T = double>
struct battle_log {
  std::vector<battle<T>> battles;
  index_t bad_rows = 0;               // rows skipped (skip_bad_rows only)
  std::vector<std::string> problems;  // "source:line: reason" for the first max_reported
};

/// The outcome a FastChat winner label names: "model_a", "model_b", "tie" or "tie (bothbad)".
[[nodiscard]] inline std::optional<outcome> parse_winner_label(std::string_view label) {
  if (label == "model_a") return outcome::model_a_wins;
  if (label == "model_b") return outcome::model_b_wins;
  if (label == "tie" || label == "tie (bothbad)") return outcome::tie;
  return std::nullopt;
}

/// What an unknown winner label is told (the label quoted by the caller goes first).
inline constexpr const char* winner_labels_expected = "(expected model_a, model_b, tie or tie (bothbad))";

namespace detail {

/// The header a CSV battle log needs, naming what is missing.
inline constexpr const char* battle_csv_columns = "model_a,model_b,winner[,weight]";

/// A row's fields by name, as a flat JSON object: a JSONL row as parsed, a CSV row as strings.
/// A battle from it, or an io::record_error saying what is wrong with the row.
template <class T>
battle<T> make_battle(const io::json_value& row) {
  using kind = io::json_value::kind;
  auto get = [&](const char* key) -> std::string {
    const io::json_value* v = row.find(key);
    if (!v) throw io::record_error{std::string("missing field '") + key + "'"};
    if (v->type == kind::number) throw io::record_error{std::string("field '") + key + "' must be a string"};
    if (v->type == kind::boolean || v->type == kind::null)
      throw io::record_error{std::string("field '") + key + "' must be a string, got " + v->literal_text()};
    if (v->text.empty()) throw io::record_error{std::string("empty field '") + key + "'"};
    return v->text;
  };
  battle<T> b;
  b.model_a = get("model_a");
  b.model_b = get("model_b");
  const std::string w = get("winner");
  const auto result = parse_winner_label(w);
  if (!result) throw io::record_error{"unknown winner label " + quote_text(w, '\'') + " " + winner_labels_expected};
  b.result = *result;
  if (b.model_a == b.model_b)
    throw io::record_error{"self-battle: model_a = model_b = " + quote_text(b.model_a, '\'')};
  if (const io::json_value* v = row.find("weight")) {
    std::optional<double> weight;
    // A literal used to be dropped like an unknown flag, so "weight": false meant weight 1.
    if (v->type == kind::boolean || v->type == kind::null)
      throw io::record_error{std::string("weight ") + v->literal_text() + " is not a number"};
    if (v->type == kind::number) weight = v->number;
    else if (!(weight = io::parse_number(v->text)))
      throw io::record_error{"weight " + quote_text(v->text, '\'') + " is not a number"};
    if (!std::isfinite(*weight) || *weight < 0)
      throw io::record_error{"weight " + std::to_string(*weight) + " must be finite and >= 0"};
    b.weight = static_cast<T>(*weight);
  }
  return b;
}

/// The header row of a CSV battle log, read from `reader`; throws battle_parse_error for an
/// empty file, a malformed header or a missing column.
inline io::csv_header read_battle_csv_header(io::csv_reader& reader, const std::string& source) {
  std::vector<std::string> names;
  try {
    if (!reader.next(names)) throw battle_parse_error(source, 1, "empty file: a header row is required");
  } catch (const io::record_error& e) {
    throw battle_parse_error(source, reader.end_line(), e.message);
  }
  io::csv_header header(std::move(names), source);
  for (const char* key : {"model_a", "model_b", "winner"}) (void)header.require(key, battle_csv_columns);
  return header;
}

/// The battle of one CSV data row (its fields split), or nullopt for a blank line.
template <class T>
std::optional<battle<T>> csv_row_battle(const io::csv_header& header, const std::vector<std::string>& fields) {
  if (io::is_blank_record(fields)) return std::nullopt;
  header.check_width(fields);
  io::json_value row;
  row.type = io::json_value::kind::object;
  for (const auto& [key, c] : header.columns())
    if (key == "model_a" || key == "model_b" || key == "winner" || (key == "weight" && !fields[c].empty())) {
      row.member_keys.push_back(key);
      row.member_values.emplace_back();
      row.member_values.back().type = io::json_value::kind::string;
      row.member_values.back().text = fields[c];
    }
  return make_battle<T>(row);
}

/// Throws, or with skip_bad_rows counts and describes, a bad row; `Log` has bad_rows, problems.
template <class Log>
void handle_bad_row(Log& log, const battle_read_options& opt, const std::string& source, index_t line,
                    const std::string& message) {
  if (!opt.skip_bad_rows) throw battle_parse_error(source, static_cast<std::size_t>(line), message);
  ++log.bad_rows;
  if (log.problems.size() < opt.max_reported)
    log.problems.push_back(source + ":" + std::to_string(line) + ": " + message);
}

/// Calls sink(battle) for each row of a CSV battle log; bad rows go to handle_bad_row(log, ...).
template <class T, class Log, class Sink>
void for_each_csv_battle(std::istream& in, const battle_read_options& opt, const std::string& source,
                         Log& log, Sink&& sink, std::size_t block_bytes = io::default_read_block) {
  io::csv_reader reader(in, block_bytes);
  const io::csv_header header = read_battle_csv_header(reader, source);
  std::vector<std::string> fields;
  for (;;) {
    try {
      if (!reader.next(fields)) break;
      if (auto b = csv_row_battle<T>(header, fields)) sink(std::move(*b));
    } catch (const io::record_error& e) {
      handle_bad_row(log, opt, source, static_cast<index_t>(reader.start_line()), e.message);
    }
  }
}

/// Calls sink(battle) for each non-blank line of a JSONL battle log; bad rows as above.
template <class T, class Log, class Sink>
void for_each_jsonl_battle(std::istream& in, const battle_read_options& opt, const std::string& source,
                           Log& log, Sink&& sink, std::size_t block_bytes = io::default_read_block) {
  io::record_reader lines(in, false, block_bytes);
  std::string_view line;
  index_t count = 0, line_no = 0;
  while (lines.next(line, count)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    try {
      sink(make_battle<T>(io::json_parser(line).parse_flat_object()));
    } catch (const io::record_error& e) {
      handle_bad_row(log, opt, source, line_no, e.message);
    }
  }
}

/// A battle list read by the CSV or the JSONL loop.
template <class T>
battle_log<T> read_battle_list(bool jsonl, std::istream& in, const battle_read_options& opt,
                               const std::string& source) {
  battle_log<T> log;
  const auto append = [&](battle<T>&& b) { log.battles.push_back(std::move(b)); };
  if (jsonl) for_each_jsonl_battle<T>(in, opt, source, log, append);
  else for_each_csv_battle<T>(in, opt, source, log, append);
  return log;
}

}  // namespace detail

/// Reads a CSV battle log (header row required).
template <class T = double>
battle_log<T> read_battles_csv(std::istream& in, const battle_read_options& opt = {},
                               const std::string& source = "<csv>") {
  return detail::read_battle_list<T>(false, in, opt, source);
}

/// Reads a JSONL battle log (one flat object per line).
template <class T = double>
battle_log<T> read_battles_jsonl(std::istream& in, const battle_read_options& opt = {},
                                 const std::string& source = "<jsonl>") {
  return detail::read_battle_list<T>(true, in, opt, source);
}

/// Reads a battle log from a file: ".jsonl" / ".ndjson" as JSONL, anything else as CSV.
template <class T = double>
battle_log<T> read_battles(const std::string& path, const battle_read_options& opt = {}) {
  std::ifstream in = io::open_input_file(path);  // a directory is named as such, not "empty file"
  if (io::has_jsonl_extension(path)) return read_battles_jsonl<T>(in, opt, path);
  return read_battles_csv<T>(in, opt, path);
}

}  // namespace prefopt::prefmodel
