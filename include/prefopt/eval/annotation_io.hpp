#pragma once
// Reading alpaca_eval's files:
//   * annotations: a JSON list of records (as alpaca_eval writes annotations.json) or JSONL,
//     each with output_1 (baseline), output_2 (model), generator_1, generator_2, preference and
//     index; instruction and any other fields (raw_completion, annotator, ...) are ignored.
//     preference must be 0, 1, 1.5, 2, a soft value in [1, 2], or null / NaN (no annotation);
//     index must be an integer >= 0 when present.
//   * df_gamed.csv: columns model,index,instruction_difficulty,preference,std_delta_len,
//     not_gamed_baseline (any order, extra columns ignored); an empty preference is missing;
//     not_gamed_baseline is True or False (pandas' spellings).
// A bad record throws eval_parse_error "file:line: reason", the line being where the record
// (or the offending value) starts.

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/eval/alpaca_winrate.hpp"
#include "prefopt/eval/parse_error.hpp"
#include "prefopt/io/csv.hpp"
#include "prefopt/io/json.hpp"
#include "prefopt/io/number_text.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::eval {

struct alpaca_annotation {
  std::string generator_1, generator_2;
  lc_annotation data;
  std::size_t line = 0;  // where the record starts in its file
};

namespace detail {

inline std::string required_string(const io::json_value& rec, const char* key, const std::string& source) {
  const io::json_value* v = rec.find(key);
  if (!v) throw eval_parse_error(source, rec.line, std::string("missing field '") + key + "'");
  if (v->type != io::json_value::kind::string)
    throw eval_parse_error(source, v->line, std::string("field '") + key + "' must be a string, got " + v->type_name());
  return v->text;
}

}  // namespace detail

/// Parses annotation records from text (`source` names it in errors).
inline std::vector<alpaca_annotation> parse_alpaca_annotations(const std::string& text, const std::string& source) {
  const std::vector<io::json_value> records =
      io::parse_json_records(text, source, {.non_finite_numbers = true});
  std::vector<alpaca_annotation> out;
  out.reserve(records.size());
  for (const auto& rec : records) {
    if (rec.type != io::json_value::kind::object)
      throw eval_parse_error(source, rec.line, std::string("an annotation must be a JSON object, got ") + rec.type_name());
    alpaca_annotation a;
    a.line = rec.line;
    a.data.output_1 = detail::required_string(rec, "output_1", source);
    a.data.output_2 = detail::required_string(rec, "output_2", source);
    a.generator_1 = detail::required_string(rec, "generator_1", source);
    a.generator_2 = detail::required_string(rec, "generator_2", source);
    const io::json_value* p = rec.find("preference");
    if (!p) throw eval_parse_error(source, rec.line, "missing field 'preference'");
    if (p->type == io::json_value::kind::null) {
      a.data.preference = std::numeric_limits<double>::quiet_NaN();
    } else if (p->type == io::json_value::kind::number) {
      const double v = p->number;
      if (!(std::isnan(v) || v == 0 || (v >= 1 && v <= 2)))
        throw eval_parse_error(source, p->line, "preference " + p->text +
                                                    " must be 1 (baseline wins), 2 (model wins), 1.5 or 0 "
                                                    "(tie), a value in [1, 2] or null");
      a.data.preference = v;
    } else {
      throw eval_parse_error(source, p->line, std::string("field 'preference' must be a number or null, got ") +
                                                  p->type_name());
    }
    if (const io::json_value* ix = rec.find("index"); ix && ix->type != io::json_value::kind::null) {
      const bool integral = ix->type == io::json_value::kind::number && std::isfinite(ix->number) &&
                            ix->number >= 0 && ix->number == std::floor(ix->number) && ix->number < 9.0e15;
      if (!integral)
        throw eval_parse_error(source, ix->line, "field 'index' must be an integer >= 0, got " +
                                                     (ix->type == io::json_value::kind::number ? ix->text
                                                                                                   : std::string(ix->type_name())));
      a.data.index = static_cast<long long>(ix->number);
    }
    out.push_back(std::move(a));
  }
  return out;
}

inline std::vector<alpaca_annotation> read_alpaca_annotations(const std::string& path) {
  return parse_alpaca_annotations(io::read_text_file(path), path);
}

/// Parses df_gamed.csv text.
inline std::vector<gamed_row> parse_gamed_csv(const std::string& text, const std::string& source) {
  const io::csv_table t = io::parse_csv_table(text, source);
  static const char* needed[] = {"model", "index", "instruction_difficulty", "preference", "std_delta_len",
                                 "not_gamed_baseline"};
  std::map<std::string, std::size_t> col;
  for (const char* key : needed)
    col[key] = t.require_column(key, "model,index,instruction_difficulty,preference,std_delta_len,not_gamed_baseline");
  std::vector<gamed_row> rows;
  for (std::size_t k = 0; k < t.rows.size(); ++k) {
    const auto& f = t.rows[k];
    const std::size_t line_no = t.line[k];
    auto number = [&](const char* key, bool allow_empty) {
      const std::string& s = f[col[key]];
      if (s.empty() && allow_empty) return std::numeric_limits<double>::quiet_NaN();
      const auto v = io::parse_number(s);
      if (!v || !std::isfinite(*v))
        throw eval_parse_error(source, line_no, std::string(key) + " '" + s + "' is not a finite number");
      return *v;
    };
    gamed_row r;
    r.model = f[col["model"]];
    const double ix = number("index", false);
    if (ix < 0 || ix != std::floor(ix) || ix >= 9.0e15)
      throw eval_parse_error(source, line_no, "index '" + f[col["index"]] + "' must be an integer >= 0");
    r.index = static_cast<long long>(ix);
    r.instruction_difficulty = number("instruction_difficulty", false);
    r.preference = number("preference", true);
    if (!std::isnan(r.preference) && (r.preference < 0 || r.preference > 1))
      throw eval_parse_error(source, line_no, "preference '" + f[col["preference"]] +
                                                  "' must lie in [0, 1] (df_gamed stores preference - 1)");
    r.std_delta_len = number("std_delta_len", false);
    const std::string& b = f[col["not_gamed_baseline"]];
    if (b == "True" || b == "true" || b == "TRUE") r.not_gamed_baseline = true;
    else if (b == "False" || b == "false" || b == "FALSE") r.not_gamed_baseline = false;
    else throw eval_parse_error(source, line_no, "not_gamed_baseline '" + b + "' must be True or False");
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw eval_parse_error(source, t.end_line, "no data rows");
  return rows;
}

inline std::vector<gamed_row> read_gamed_csv(const std::string& path) {
  return parse_gamed_csv(io::read_text_file(path), path);
}

}  // namespace prefopt::eval
