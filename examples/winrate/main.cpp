// winrate: AlpacaEval leaderboard rows (raw and length-controlled win rates) from annotations.
//
//   winrate annotations.json --glm v1 --gamed df_gamed.csv --json leaderboard.json
//
// One row per generator_2 (the model; generator_1 is its baseline), computed as alpaca_eval
// 0.6.6 computes them (see include/prefopt/eval/alpaca_winrate.hpp and docs/evaluation.md).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <prefopt/eval/alpaca_winrate.hpp>
#include <prefopt/eval/annotation_io.hpp>

namespace ev = prefopt::eval;

namespace {

constexpr const char* usage = R"(usage: winrate [options] ANNOTATIONS

AlpacaEval win rates, one leaderboard row per model (generator_2).

ANNOTATIONS is alpaca_eval's annotation format: a JSON list of objects (or JSONL, one object per
line) with output_1 (baseline output), output_2 (model output), generator_1, generator_2,
preference (1 = baseline wins, 2 = model wins, 1.5 or 0 = tie, a value in [1, 2] for a soft
preference, null = not annotated) and index (the instruction's index into df_gamed).

options:
  --glm v1|noreg|minimal   the length-controlled GLM (default: v1 when --gamed is given, else
                           minimal). v1 and noreg need --gamed.
  --gamed FILE.csv         alpaca_eval's df_gamed.csv (model,index,instruction_difficulty,
                           preference,std_delta_len,not_gamed_baseline)
  --json OUT.json          write {"<generator>": {win_rate, standard_error, n_wins, n_wins_base,
                           n_draws, n_total, discrete_win_rate, length_controlled_winrate,
                           lc_standard_error, tie_win_rate, ...}}
  -h, --help               this help

exit status: 0 on success, 2 on bad arguments or malformed input (the message names the file
and line), 1 on other errors.
)";

struct bad_usage {
  std::string message;
};

struct cli_options {
  std::string input, gamed, json_out;
  bool glm_given = false;
  ev::lc_glm glm = ev::lc_glm::length_controlled_minimal;
};

cli_options parse_args(int argc, char** argv) {
  cli_options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& a = args[k];
    auto value = [&]() -> const std::string& {
      if (k + 1 >= args.size()) throw bad_usage{a + " needs a value"};
      return args[++k];
    };
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      std::exit(0);
    } else if (a == "--glm") {
      const std::string& v = value();
      if (v == "v1" || v == "length_controlled_v1") o.glm = ev::lc_glm::length_controlled_v1;
      else if (v == "noreg" || v == "length_controlled_noreg") o.glm = ev::lc_glm::length_controlled_noreg;
      else if (v == "minimal" || v == "length_controlled_minimal") o.glm = ev::lc_glm::length_controlled_minimal;
      else throw bad_usage{"--glm must be v1, noreg or minimal, got '" + v + "'"};
      o.glm_given = true;
    } else if (a == "--gamed") {
      o.gamed = value();
    } else if (a == "--json") {
      o.json_out = value();
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      throw bad_usage{"unknown option '" + a + "' (see --help)"};
    } else {
      if (!o.input.empty()) throw bad_usage{"more than one annotation file given"};
      o.input = a;
    }
  }
  if (o.input.empty()) throw bad_usage{"no annotation file given (see --help)"};
  if (!o.glm_given && !o.gamed.empty()) o.glm = ev::lc_glm::length_controlled_v1;
  if (ev::glm_needs_instruction_difficulty(o.glm) && o.gamed.empty())
    throw bad_usage{std::string("--glm ") + (o.glm == ev::lc_glm::length_controlled_v1 ? "v1" : "noreg") +
                    " needs --gamed df_gamed.csv (instruction difficulty and the gamed baselines' annotations)"};
  return o;
}

struct row {
  std::string model, baseline;
  ev::head_to_head h;
  ev::lc_result lc;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void write_json(const std::string& path, const std::vector<row>& rows, ev::lc_glm glm) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw prefopt::invalid_argument("--json: cannot write '" + path + "'");
  out << "{";
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& r = rows[k];
    out << (k ? ",\n " : "\n ") << json_string(r.model) << ": {"
        << "\"win_rate\": " << json_number(r.h.win_rate)
        << ", \"standard_error\": " << json_number(r.h.standard_error)
        << ", \"n_wins\": " << r.h.n_wins << ", \"n_wins_base\": " << r.h.n_wins_base
        << ", \"n_draws\": " << r.h.n_draws << ", \"n_total\": " << r.h.n_total
        << ", \"discrete_win_rate\": " << json_number(r.h.discrete_win_rate)
        << ", \"length_controlled_winrate\": " << json_number(r.lc.length_controlled_winrate)
        << ", \"lc_standard_error\": " << json_number(r.lc.lc_standard_error)
        << ", \"tie_win_rate\": " << json_number(r.h.tie_win_rate)
        << ", \"baseline\": " << json_string(r.baseline) << ", \"glm\": " << json_string(ev::glm_name(glm))
        << ", \"best_C\": " << json_number(r.lc.best_C) << ", \"glm_weights\": {";
    for (std::size_t j = 0; j < r.lc.weights.size(); ++j)
      out << (j ? ", " : "") << json_string(r.lc.feature_names[j]) << ": " << json_number(r.lc.weights[j]);
    out << "}}";
  }
  out << "\n}\n";
  if (!out) throw prefopt::invalid_argument("--json: error writing '" + path + "'");
}

int run(const cli_options& o) {
  const auto annotations = ev::read_alpaca_annotations(o.input);
  if (annotations.empty()) throw ev::eval_parse_error(o.input, 1, "no annotations");
  std::vector<ev::gamed_row> gamed;
  if (!o.gamed.empty()) gamed = ev::read_gamed_csv(o.gamed);
  const auto difficulty = ev::instruction_difficulty_of(gamed);
  const bool needs_index = ev::glm_needs_instruction_difficulty(o.glm);

  // Group by generator_2 in order of first appearance; every row's baseline must agree.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ev::alpaca_annotation*>> by_model;
  for (const auto& a : annotations) {
    auto& group = by_model[a.generator_2];
    if (group.empty()) order.push_back(a.generator_2);
    else if (group.front()->generator_1 != a.generator_1)
      throw ev::eval_parse_error(o.input, a.line, "generator_1 '" + a.generator_1 + "' differs from '" +
                                                      group.front()->generator_1 + "' (line " +
                                                      std::to_string(group.front()->line) + ") for generator_2 '" +
                                                      a.generator_2 + "': one baseline per model");
    if (needs_index) {
      if (a.data.index < 0) throw ev::eval_parse_error(o.input, a.line, "missing field 'index' (needed by --glm v1/noreg)");
      if (!difficulty.count(a.data.index))
        throw ev::eval_parse_error(o.input, a.line, "index " + std::to_string(a.data.index) + " does not occur in " + o.gamed);
    }
    group.push_back(&a);
  }

  ev::lc_options lo;
  lo.glm = o.glm;
  std::vector<row> rows;
  for (const auto& model : order) {
    const auto& group = by_model[model];
    std::vector<double> prefs;
    std::vector<ev::lc_annotation> data;
    for (const auto* a : group) {
      prefs.push_back(a->data.preference);
      data.push_back(a->data);
    }
    row r;
    r.model = model;
    r.baseline = group.front()->generator_1;
    try {
      r.h = ev::describe_head_to_head(prefs);
      r.lc = ev::length_controlled_winrate(data, model == r.baseline, gamed.empty() ? nullptr : &gamed, lo);
    } catch (const prefopt::invalid_argument& e) {
      throw prefopt::invalid_argument(o.input + ": generator_2 '" + model + "': " + e.what());
    }
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
    return a.lc.length_controlled_winrate > b.lc.length_controlled_winrate;
  });

  std::printf("AlpacaEval win rates (%s, %zu annotations, %zu model(s))\n", ev::glm_name(o.glm), annotations.size(),
              rows.size());
  std::printf("%-24s %8s %6s %8s %6s %7s %5s %5s %5s %5s %8s %8s  %s\n", "model", "LC_wr", "LC_se", "win_rate", "se",
              "tie+win", "wins", "base", "draws", "total", "discrete", "best_C", "baseline");
  for (const auto& r : rows)
    std::printf("%-24s %8.2f %6.2f %8.2f %6.2f %7.2f %5lld %5lld %5lld %5lld %8.2f %8.3g  %s\n", r.model.c_str(),
                r.lc.length_controlled_winrate, r.lc.lc_standard_error, r.h.win_rate, r.h.standard_error,
                r.h.tie_win_rate, static_cast<long long>(r.h.n_wins), static_cast<long long>(r.h.n_wins_base),
                static_cast<long long>(r.h.n_draws), static_cast<long long>(r.h.n_total), r.h.discrete_win_rate,
                r.lc.best_C, r.baseline.c_str());
  for (const auto& r : rows)
    if (r.h.n_missing > 0)
      std::printf("%s: %lld annotation(s) without a preference dropped from the win rate\n", r.model.c_str(),
                  static_cast<long long>(r.h.n_missing));
  if (!o.json_out.empty()) write_json(o.json_out, rows, o.glm);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const bad_usage& e) {
    std::cerr << "winrate: " << e.message << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "winrate: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "winrate: error: " << e.what() << "\n";
    return 1;
  }
}
