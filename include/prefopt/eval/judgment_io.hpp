#pragma once
// Readers for judge outputs:
//   * pairwise verdicts, JSONL (or a JSON list) of objects
//       {"id": "q17", "verdict": "A" | "B" | "tie", "model_position": "A" | "B", "category": "..."}
//     model_position (where the evaluated model's response was shown) defaults to "A";
//     category is optional; id may be a string or an integer;
//   * rubric scores, CSV with columns instance,rubric,score and optionally run.
// A bad record throws eval_parse_error "file:line: reason".

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "prefopt/eval/pairwise.hpp"
#include "prefopt/eval/parse_error.hpp"
#include "prefopt/eval/rubric.hpp"
#include "prefopt/io/csv.hpp"
#include "prefopt/io/json.hpp"
#include "prefopt/io/number_text.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::eval {

inline std::vector<pairwise_judgment> parse_pairwise_judgments(const std::string& text, const std::string& source) {
  const std::vector<io::json_value> records =
      io::parse_json_records(text, source, {.non_finite_numbers = true});
  using kind = io::json_value::kind;
  std::vector<pairwise_judgment> out;
  for (const auto& rec : records) {
    if (rec.type != kind::object)
      throw eval_parse_error(source, rec.line, std::string("a judgment must be a JSON object, got ") + rec.type_name());
    pairwise_judgment j;
    const auto* id = rec.find("id");
    if (!id) throw eval_parse_error(source, rec.line, "missing field 'id'");
    if (id->type == kind::string) j.id = id->text;
    else if (id->type == kind::number && std::isfinite(id->number) && id->number == std::floor(id->number)) j.id = id->text;
    else throw eval_parse_error(source, id->line, std::string("field 'id' must be a string or an integer, got ") + id->type_name());
    const auto* v = rec.find("verdict");
    if (!v) throw eval_parse_error(source, rec.line, "missing field 'verdict'");
    if (v->type != kind::string || (v->text != "A" && v->text != "B" && v->text != "tie"))
      throw eval_parse_error(source, v->line, "verdict must be \"A\", \"B\" or \"tie\", got " +
                                                  (v->type == kind::string ? "'" + v->text + "'" : std::string(v->type_name())));
    j.result = v->text == "A" ? verdict::a : v->text == "B" ? verdict::b : verdict::tie;
    if (const auto* p = rec.find("model_position")) {
      if (p->type != kind::string || (p->text != "A" && p->text != "B"))
        throw eval_parse_error(source, p->line, "model_position must be \"A\" or \"B\"");
      j.model = p->text == "A" ? position::a : position::b;
    }
    if (const auto* c = rec.find("category"); c && c->type != kind::null) {
      if (c->type != kind::string) throw eval_parse_error(source, c->line, "field 'category' must be a string");
      j.category = c->text;
    }
    out.push_back(std::move(j));
  }
  if (out.empty()) throw eval_parse_error(source, 1, "no judgments");
  return out;
}

inline std::vector<pairwise_judgment> read_pairwise_judgments(const std::string& path) {
  return parse_pairwise_judgments(io::read_text_file(path), path);
}

inline std::vector<rubric_score> parse_rubric_csv(const std::string& text, const std::string& source,
                                                  double min_score = 1, double max_score = 5) {
  const auto t = io::parse_csv_table(text, source);
  const std::string expected = "instance,rubric,score[,run]";
  const std::size_t c_inst = t.require_column("instance", expected), c_rub = t.require_column("rubric", expected),
                    c_score = t.require_column("score", expected);
  const auto run_col = t.header.columns().find("run");
  std::vector<rubric_score> out;
  std::map<std::string, std::size_t> seen;
  auto short_number = [](double x) {
    std::ostringstream os;
    os << x;
    return os.str();
  };
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& f = t.rows[r];
    rubric_score s;
    s.instance = f[c_inst];
    s.rubric = f[c_rub];
    if (run_col != t.header.columns().end()) s.run = f[run_col->second];
    if (s.instance.empty()) throw eval_parse_error(source, t.line[r], "empty instance");
    const auto v = io::parse_number(f[c_score]);
    if (!v || !std::isfinite(*v) || *v < min_score || *v > max_score)
      throw eval_parse_error(source, t.line[r], "score '" + f[c_score] + "' is not a number in [" +
                                                    short_number(min_score) + ", " + short_number(max_score) + "]");
    s.score = *v;
    const auto [pos, fresh] = seen.emplace(s.run + '\x1f' + s.instance + '\x1f' + s.rubric, t.line[r]);
    if (!fresh)
      throw eval_parse_error(source, t.line[r], "instance '" + s.instance + "' rubric '" + s.rubric +
                                                    "' already scored on line " + std::to_string(pos->second) +
                                                    (s.run.empty() ? "" : " (run '" + s.run + "')"));
    out.push_back(std::move(s));
  }
  if (out.empty()) throw eval_parse_error(source, 2, "no data rows");
  return out;
}

inline std::vector<rubric_score> read_rubric_csv(const std::string& path, double min_score = 1, double max_score = 5) {
  return parse_rubric_csv(io::read_text_file(path), path, min_score, max_score);
}

}  // namespace prefopt::eval
