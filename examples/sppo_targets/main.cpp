// sppo_targets — SPPO's data step (uclaml/SPPO scripts/compute_prob.py) on a JSONL file.
//
//   sppo_targets FILE.jsonl [--out OUT.jsonl]
//
// One JSON object per line (blank lines skipped), one prompt each:
//   {"prompt": str, "responses": [K strings], "pairrm_logits": [[K x K numbers]]}   or
//   {"prompt": str, "responses": [K strings], "scores": [K numbers]}
// PairRM logits are turned into scores by llm_blender's max_logits rule s_i = mean_j (C_ij − C_ji).
// Output: one line per input object, in input order, on stdout or OUT: the input object with its
// fields unchanged, followed by "chosen" and "rejected" (0-based response indices), "chosen_probs",
// "chosen_probs_win", "chosen_probs_lose" and "probability" (the K x K matrix), all in double and
// printed with 17 significant digits. See include/prefopt/selfplay/sppo_targets.hpp.
// Exit status: 0 on success; 2 on bad usage or bad input with ONE line on stderr naming the file
// and line, or the option; 1 on any other failure.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/core/text_input.hpp>
#include <prefopt/eval/detail/json.hpp>
#include <prefopt/selfplay/sppo_targets.hpp>

namespace {

namespace json = prefopt::eval::detail;

struct usage_error {
  std::string message;
};

constexpr const char* usage =
    "usage: sppo_targets FILE.jsonl [--out OUT.jsonl]\n"
    "  FILE.jsonl  one object per line: {\"prompt\", \"responses\": [K], \"pairrm_logits\": [[KxK]]}\n"
    "              or {\"prompt\", \"responses\": [K], \"scores\": [K]}\n"
    "  --out OUT   write the output there instead of stdout\n"
    "Adds chosen, rejected (argmax / argmin score, first index on ties), chosen_probs = P[w][l],\n"
    "chosen_probs_win / chosen_probs_lose (row means of P, self included) and probability, with\n"
    "P[i][j] = 1 / (1 + exp(s_j - s_i)) as uclaml/SPPO scripts/compute_prob.py.\n";

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// A number field of a record, named in messages as field[i] or field[i][j].
double finite_number(const json::json_value& v, const std::string& where) {
  if (v.type != json::json_value::kind::number)
    throw prefopt::invalid_argument(where + " is " + v.type_name() + ", expected a number");
  if (!std::isfinite(v.number))
    throw prefopt::invalid_argument(where + " = " + v.text + ": must be finite");
  return v.number;
}

const json::json_value& array_field(const json::json_value& rec, const char* key) {
  const json::json_value* v = rec.find(key);
  if (v == nullptr) throw prefopt::invalid_argument(std::string("missing field \"") + key + "\"");
  if (v->type != json::json_value::kind::array)
    throw prefopt::invalid_argument(std::string("\"") + key + "\" is " + v->type_name() +
                                    ", expected an array");
  return *v;
}

/// The scores of one record, from "scores" or "pairrm_logits" (exactly one of them).
std::vector<double> record_scores(const json::json_value& rec) {
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
std::string output_line(std::string_view line, const prefopt::selfplay::sppo_targets& t) {
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

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string file, out;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::cout << usage;
        return 0;
      } else if (a == "--out") {
        if (i + 1 >= argc) throw usage_error{"--out needs a value"};
        out = argv[++i];
      } else if (!a.empty() && a[0] == '-') {
        throw usage_error{"unknown option " + prefopt::quote_text(a)};
      } else if (file.empty()) {
        file = a;
      } else {
        throw usage_error{"more than one input file (" + prefopt::quote_text(file) + ", " +
                          prefopt::quote_text(a) + ")"};
      }
    }
    if (file.empty()) throw usage_error{"missing FILE.jsonl"};
    std::ifstream in = prefopt::open_input_file(file);
    std::vector<std::string> lines;
    std::string line;
    for (std::size_t lineno = 1; std::getline(in, line); ++lineno) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      try {
        const json::json_value rec = json::json_parser(line, lineno).parse_document();
        lines.push_back(output_line(line, prefopt::selfplay::compute_sppo_targets(record_scores(rec))));
      } catch (const json::json_error& e) {
        throw prefopt::invalid_argument(file + ":" + std::to_string(e.line) + ": " + e.message);
      } catch (const prefopt::invalid_argument& e) {
        throw prefopt::invalid_argument(file + ":" + std::to_string(lineno) + ": " + e.what());
      }
    }
    // Everything is computed before anything is written: bad input leaves no partial output.
    std::ofstream of;
    if (!out.empty()) {
      of.open(out, std::ios::binary);
      prefopt::require(static_cast<bool>(of), "--out", out, "cannot write file");
    }
    std::ostream& os = out.empty() ? std::cout : of;
    for (const auto& l : lines) os << l << '\n';
    os.flush();
    prefopt::require(static_cast<bool>(os), "output", out.empty() ? std::string("stdout") : out,
                     "write failed");
    return 0;
  } catch (const usage_error& e) {
    std::cerr << "sppo_targets: error: " << e.message << " (see sppo_targets --help)\n";
    return 2;
  } catch (const prefopt::invalid_argument& e) {
    std::cerr << "sppo_targets: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sppo_targets: error: " << e.what() << '\n';
    return 1;
  }
}
