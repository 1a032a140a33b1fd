#pragma once
// The reader and writer of the sppo_targets tool (and of its fuzz target): JSONL records in, one
// output line per record in input order, each the input object with SPPO's targets appended
// (selfplay/sppo_targets.hpp). Every error is a prefopt::invalid_argument whose message is one
// printable line "SOURCE:LINE: reason" of bounded length.

#include <cmath>
#include <cstdio>
#include <istream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/core/errors.hpp>
#include <prefopt/io/json.hpp>
#include <prefopt/selfplay/sppo_targets.hpp>

namespace sppo_targets_tool {

namespace json = prefopt::io;

/// Control bytes escaped, at most 300 bytes: a message about a hostile key or number stays one
/// short line.
inline std::string one_line(std::string_view message) {
  std::string out;
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", u);
      out += b;
    } else {
      out += c;
    }
    if (out.size() > 300) return out + "...";
  }
  return out;
}

inline std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// A number field of a record, named in messages as field[i] or field[i][j].
inline double finite_number(const json::json_value& v, const std::string& where) {
  if (v.type != json::json_value::kind::number)
    throw prefopt::invalid_argument(where + " is " + v.type_name() + ", expected a number");
  if (!std::isfinite(v.number))
    throw prefopt::invalid_argument(where + " = " + prefopt::quote_text(v.text, '"', 40) + ": must be finite");
  return v.number;
}

inline const json::json_value& array_field(const json::json_value& rec, const char* key) {
  const json::json_value* v = rec.find(key);
  if (v == nullptr) throw prefopt::invalid_argument(std::string("missing field \"") + key + "\"");
  if (v->type != json::json_value::kind::array)
    throw prefopt::invalid_argument(std::string("\"") + key + "\" is " + v->type_name() +
                                    ", expected an array");
  return *v;
}

/// The scores of one record, from "scores" or "pairrm_logits" (exactly one of them).
inline std::vector<double> record_scores(const json::json_value& rec) {
  if (rec.type != json::json_value::kind::object)
    throw prefopt::invalid_argument(std::string("the line holds ") + rec.type_name() +
                                    ", expected an object");
  for (const char* out : {"chosen", "rejected", "chosen_probs", "chosen_probs_win",
                          "chosen_probs_lose", "probability"})
    if (rec.find(out) != nullptr)
      throw prefopt::invalid_argument(std::string("field \"") + out +
                                      "\" is an output field and must not be in the input");
  const json::json_value* prompt = rec.find("prompt");
  if (prompt == nullptr) throw prefopt::invalid_argument("missing field \"prompt\"");
  if (prompt->type != json::json_value::kind::string)
    throw prefopt::invalid_argument(std::string("\"prompt\" is ") + prompt->type_name() +
                                    ", expected a string");
  const auto& responses = array_field(rec, "responses");
  const std::size_t k = responses.items.size();
  if (k == 0) throw prefopt::invalid_argument("\"responses\" is empty");
  for (std::size_t i = 0; i < k; ++i)
    if (responses.items[i].type != json::json_value::kind::string)
      throw prefopt::invalid_argument("responses[" + std::to_string(i) + "] is " +
                                      responses.items[i].type_name() + ", expected a string");
  const bool has_scores = rec.find("scores") != nullptr, has_logits = rec.find("pairrm_logits") != nullptr;
  if (has_scores == has_logits)
    throw prefopt::invalid_argument(has_scores ? "both \"scores\" and \"pairrm_logits\" given; give one"
                                               : "missing field \"scores\" or \"pairrm_logits\"");
  if (has_scores) {
    const auto& s = array_field(rec, "scores");
    if (s.items.size() != k)
      throw prefopt::invalid_argument("\"scores\" has " + std::to_string(s.items.size()) +
                                      " entries, \"responses\" has " + std::to_string(k));
    std::vector<double> out;
    for (std::size_t i = 0; i < k; ++i)
      out.push_back(finite_number(s.items[i], "scores[" + std::to_string(i) + "]"));
    return out;
  }
  const auto& c = array_field(rec, "pairrm_logits");
  if (c.items.size() != k)
    throw prefopt::invalid_argument("\"pairrm_logits\" has " + std::to_string(c.items.size()) +
                                    " rows, \"responses\" has " + std::to_string(k));
  std::vector<double> logits;
  for (std::size_t i = 0; i < k; ++i) {
    const auto& row = c.items[i];
    const std::string at = "pairrm_logits[" + std::to_string(i) + "]";
    if (row.type != json::json_value::kind::array || row.items.size() != k)
      throw prefopt::invalid_argument(at + " must be an array of " + std::to_string(k) + " numbers");
    for (std::size_t j = 0; j < k; ++j)
      logits.push_back(finite_number(row.items[j], at + "[" + std::to_string(j) + "]"));
  }
  return prefopt::selfplay::pairrm_scores(logits, static_cast<prefopt::index_t>(k));
}

/// The input line with the output fields appended inside its closing brace.
inline std::string output_line(std::string_view line, const prefopt::selfplay::sppo_targets& t) {
  const std::size_t close = line.find_last_of('}');  // the parser checked it is the object's end
  std::string body(line.substr(0, close));
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.pop_back();
  const bool empty_object = !body.empty() && body.back() == '{';
  std::ostringstream os;
  os << body << (empty_object ? "" : ", ") << "\"chosen\": " << t.chosen
     << ", \"rejected\": " << t.rejected << ", \"chosen_probs\": " << number(t.chosen_probs)
     << ", \"chosen_probs_win\": " << number(t.chosen_probs_win)
     << ", \"chosen_probs_lose\": " << number(t.chosen_probs_lose) << ", \"probability\": [";
  const std::size_t k = static_cast<std::size_t>(std::lround(std::sqrt(t.probability.size())));
  for (std::size_t i = 0; i < k; ++i) {
    os << (i ? ", [" : "[");
    for (std::size_t j = 0; j < k; ++j) os << (j ? ", " : "") << number(t.probability[i * k + j]);
    os << ']';
  }
  os << "]}";
  return os.str();
}

/// Every record of `in` (blank lines skipped); `source` names the input in messages.
inline std::vector<std::string> process_jsonl(std::istream& in, const std::string& source) {
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t lineno = 1; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      const json::json_value rec = json::json_parser(line, lineno).parse_document();
      lines.push_back(output_line(line, prefopt::selfplay::compute_sppo_targets(record_scores(rec))));
    } catch (const json::record_error& e) {
      throw prefopt::invalid_argument(one_line(source + ":" + std::to_string(e.line) + ": " + e.message));
    } catch (const prefopt::invalid_argument& e) {
      throw prefopt::invalid_argument(one_line(source + ":" + std::to_string(lineno) + ": " + e.what()));
    }
  }
  return lines;
}

}  // namespace sppo_targets_tool
