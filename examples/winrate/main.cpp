// winrate: AlpacaEval leaderboard rows (raw and length-controlled win rates) from annotations.
//
//   winrate annotations.json --glm v1 --gamed df_gamed.csv --json leaderboard.json
//
//   winrate --verdicts judgments.jsonl --bootstrap 1000 --seed 0
//
// One row per generator_2 (the model; generator_1 is its baseline), computed as alpaca_eval
// 0.6.6 computes them (see include/prefopt/eval/alpaca_winrate.hpp and docs/evaluation.md).
// With --verdicts: Janus-style pairwise verdicts (A / B / tie) instead (eval/pairwise.hpp).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <prefopt/eval/alpaca_winrate.hpp>
#include <prefopt/eval/annotation_io.hpp>
#include <prefopt/eval/judgment_io.hpp>
#include <prefopt/eval/pairwise.hpp>

#include <prefopt/io/json_writer.hpp>

#include "../common/cli.hpp"
#include "../common/json_output.hpp"

using prefopt::io::json_number;
using prefopt::io::json_string;

namespace ev = prefopt::eval;
namespace ex = prefopt::examples;

namespace {

constexpr const char* usage = R"(usage: winrate [options] ANNOTATIONS
       winrate --verdicts JUDGMENTS [--bootstrap N] [--seed S] [--ci LEVEL] [--json OUT.json]

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
  --verdicts JUDGMENTS     pairwise verdicts instead of annotations: JSONL (or a JSON list) of
                           {"id", "verdict": "A"|"B"|"tie", "model_position": "A"|"B" (default
                           A), "category" (optional)}; prints counts, win rate (tie = 1/2),
                           tie+win and loss rates, standard error, a bootstrap CI, position-swap
                           consistency and a per-category breakdown
  --bootstrap N            bootstrap rounds for --verdicts (default 1000; 0 = none)
  --seed S                 bootstrap seed (default 0); results depend only on data and seed
  --ci LEVEL               confidence level (default 0.95)
  -h, --help               this help

exit status: 0 on success, 2 on bad arguments or malformed input (the message names the file
and line), 1 on other errors.
)";

struct cli_options {
  std::string input, gamed, json_out, verdicts;
  bool glm_given = false;
  ev::lc_glm glm = ev::lc_glm::length_controlled_minimal;
  ev::pairwise_options pairwise;
};

const ex::tool winrate{"winrate", usage};

cli_options parse_args(int argc, char** argv) {
  cli_options o;
  for (ex::arguments a(winrate, argc, argv); a.next();) {
    if (a.is("--glm")) {
      const std::string v = a.value();
      if (v == "v1" || v == "length_controlled_v1") o.glm = ev::lc_glm::length_controlled_v1;
      else if (v == "noreg" || v == "length_controlled_noreg") o.glm = ev::lc_glm::length_controlled_noreg;
      else if (v == "minimal" || v == "length_controlled_minimal") o.glm = ev::lc_glm::length_controlled_minimal;
      else throw ex::usage_error{"--glm must be v1, noreg or minimal, got " + a.quoted(v)};
      o.glm_given = true;
    } else if (a.take("--gamed", o.gamed) || a.take("--json", o.json_out) || a.take("--verdicts", o.verdicts) ||
               a.take("--seed", o.pairwise.seed, 0)) {
      continue;
    } else if (a.take("--bootstrap", o.pairwise.bootstrap_rounds, 0, 100000000)) {
      if (o.pairwise.bootstrap_rounds == 1) throw ex::usage_error{"--bootstrap needs 0 or at least 2 rounds"};
    } else if (a.is("--ci")) {
      const std::string v = a.value();
      char* end = nullptr;
      o.pairwise.confidence = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !(o.pairwise.confidence > 0 && o.pairwise.confidence < 1))
        throw ex::usage_error{"--ci must be a number in (0, 1), got " + a.quoted(v)};
    } else if (a.is_option()) {
      a.unknown();
    } else {
      a.positional(o.input, "more than one annotation file given");
    }
  }
  if (!o.verdicts.empty()) {
    if (!o.input.empty()) throw ex::usage_error{"give either ANNOTATIONS or --verdicts, not both"};
    if (o.glm_given || !o.gamed.empty()) throw ex::usage_error{"--glm and --gamed apply to annotations, not --verdicts"};
    return o;
  }
  if (o.input.empty()) throw ex::usage_error{"no annotation file given (see --help)"};
  if (!o.glm_given && !o.gamed.empty()) o.glm = ev::lc_glm::length_controlled_v1;
  if (ev::glm_needs_instruction_difficulty(o.glm) && o.gamed.empty())
    throw ex::usage_error{std::string("--glm ") + (o.glm == ev::lc_glm::length_controlled_v1 ? "v1" : "noreg") +
                          " needs --gamed df_gamed.csv (instruction difficulty and the gamed baselines' annotations)"};
  return o;
}

struct row {
  std::string model, baseline;
  ev::head_to_head h;
  ev::lc_result lc;
};



void write_json(const std::string& path, const std::vector<row>& rows, ev::lc_glm glm) {
  std::ostringstream out;
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
  ex::write_output_file("--json", path, out.str());
}

std::string opt_number(const std::optional<double>& v) { return v ? json_number(*v) : "null"; }

std::string counts_json(const ev::pairwise_counts& c) {
  return "\"n\": " + std::to_string(c.n) + ", \"wins\": " + std::to_string(c.wins) + ", \"ties\": " +
         std::to_string(c.ties) + ", \"losses\": " + std::to_string(c.losses) + ", \"win_rate\": " +
         json_number(c.win_rate) + ", \"tie_win_rate\": " + json_number(c.tie_win_rate) + ", \"loss_rate\": " +
         json_number(c.loss_rate) + ", \"standard_error\": " + opt_number(c.standard_error);
}

void print_counts(const std::string& name, const ev::pairwise_counts& c) {
  char se[32] = "n/a";
  if (c.standard_error) std::snprintf(se, sizeof se, "%.2f", *c.standard_error);
  std::printf("%-20s %6lld %6lld %6lld %6lld %8.2f %8.2f %8.2f %7s\n", name.c_str(), static_cast<long long>(c.n),
              static_cast<long long>(c.wins), static_cast<long long>(c.ties), static_cast<long long>(c.losses),
              c.win_rate, c.tie_win_rate, c.loss_rate, se);
}

int run_verdicts(const cli_options& o) {
  const auto judgments = ev::read_pairwise_judgments(o.verdicts);
  const auto s = ev::summarize_pairwise(judgments, o.pairwise);
  std::printf("pairwise verdicts (%zu judgments)\n", judgments.size());
  std::printf("%-20s %6s %6s %6s %6s %8s %8s %8s %7s\n", "category", "n", "wins", "ties", "losses", "win_rate",
              "tie+win", "loss", "se");
  if (s.per_category.size() > 1 || !s.per_category.count(""))
    for (const auto& [name, c] : s.per_category) print_counts(name.empty() ? "(none)" : name, c);
  print_counts("overall", s.overall);
  if (s.win_rate_lower)
    std::printf("%g%% bootstrap CI (%lld rounds, seed %llu): win_rate [%.2f, %.2f], tie+win [%.2f, %.2f]\n",
                100 * o.pairwise.confidence, static_cast<long long>(o.pairwise.bootstrap_rounds),
                static_cast<unsigned long long>(o.pairwise.seed), *s.win_rate_lower, *s.win_rate_upper,
                *s.tie_win_rate_lower, *s.tie_win_rate_upper);
  if (s.consistency)
    std::printf("position-swap consistency: %lld of %lld swapped pairs agree (%.4f)\n",
                static_cast<long long>(s.consistent_pairs), static_cast<long long>(s.swapped_pairs), *s.consistency);
  else
    std::printf("position-swap consistency: n/a (no id judged in both positions)\n");
  if (!o.json_out.empty()) {
    std::ostringstream overall;
    overall << counts_json(s.overall) << ", \"win_rate_ci\": [" << opt_number(s.win_rate_lower)
            << ", " << opt_number(s.win_rate_upper) << "], \"tie_win_rate_ci\": [" << opt_number(s.tie_win_rate_lower)
            << ", " << opt_number(s.tie_win_rate_upper) << "], \"swapped_pairs\": " << s.swapped_pairs
            << ", \"consistent_pairs\": " << s.consistent_pairs << ", \"consistency\": " << opt_number(s.consistency);
    ex::write_output_file("--json", o.json_out,
                          ex::overall_and_groups(overall.str(), "per_category", s.per_category,
                                                 [](const ev::pairwise_counts& c) { return counts_json(c); }));
  }
  return 0;
}

int run(const cli_options& o) {
  if (!o.verdicts.empty()) return run_verdicts(o);
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
  return ex::run_tool(winrate, [&] { return run(parse_args(argc, argv)); });
}
