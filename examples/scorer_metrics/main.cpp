// scorer_metrics: agreement of an automated scorer with expert bands (EvalYaks' metrics).
//
//   scorer_metrics scores.csv --tolerance 1 --json metrics.json
//
// Per criterion and overall: exact accuracy, share within tolerance, degree of variation (mean
// absolute band difference), quadratic-weighted Cohen's kappa, Pearson and Spearman; overall also
// the transcript bins and the acceptable accuracy. See include/prefopt/eval/agreement.hpp and
// docs/evaluation.md for the definitions.
//
//   scorer_metrics --rubric rubric_scores.csv
//
// Janus-style absolute rubric scores instead: mean over rubrics, then instances, then runs.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <prefopt/eval/agreement.hpp>
#include <prefopt/eval/judgment_io.hpp>
#include <prefopt/eval/rubric.hpp>
#include <prefopt/eval/scores_io.hpp>

#include <prefopt/io/json_writer.hpp>

#include "../common/cli.hpp"
#include "../common/json_output.hpp"

using prefopt::io::json_string;

namespace ev = prefopt::eval;
namespace ex = prefopt::examples;

namespace {

constexpr const char* usage = R"(usage: scorer_metrics [options] SCORES.csv
       scorer_metrics --rubric RUBRIC.csv [--min LO] [--max HI] [--json OUT.json]

Agreement of predicted with expert scores (integer bands), per criterion and overall.

SCORES.csv has a header naming the columns id,criterion,expert,predicted (any order, extra
columns ignored): one row per transcript (id) and criterion.

options:
  --tolerance K     bands a prediction may differ from the expert and still count as within
                    tolerance (default 1)
  --json OUT.json   write {"overall": {...}, "per_criterion": {"<criterion>": {...}}}
  --rubric FILE     absolute rubric scores instead (Janus): CSV with columns instance,rubric,
                    score and optionally run; prints the mean over rubrics, then instances,
                    then runs, and each run's mean
  --min LO, --max HI  the rubric score range (default 1 and 5)
  -h, --help        this help

exit status: 0 on success, 2 on bad arguments or malformed input (the message names the file
and line), 1 on other errors.
)";

struct cli_options {
  std::string input, json_out, rubric;
  double tolerance = 1, min_score = 1, max_score = 5;
  bool tolerance_given = false;
};

const ex::tool scorer_metrics{"scorer_metrics", usage};

cli_options parse_args(int argc, char** argv) {
  cli_options o;
  for (ex::arguments a(scorer_metrics, argc, argv); a.next();) {
    if (a.take("--tolerance", o.tolerance)) {
      if (o.tolerance < 0)
        throw ex::usage_error{"--tolerance expects a finite number >= 0, got " + a.quoted(a.last_value())};
      o.tolerance_given = true;
    } else if (a.take("--rubric", o.rubric) || a.take("--min", o.min_score) || a.take("--max", o.max_score) ||
               a.take("--json", o.json_out)) {
      continue;
    } else if (a.is_option()) {
      a.unknown();
    } else {
      a.positional(o.input, "more than one scores file given");
    }
  }
  if (!(o.min_score < o.max_score)) throw ex::usage_error{"--min must be below --max"};
  if (!o.rubric.empty()) {
    if (!o.input.empty()) throw ex::usage_error{"give either SCORES.csv or --rubric, not both"};
    if (o.tolerance_given) throw ex::usage_error{"--tolerance applies to SCORES.csv, not --rubric"};
    return o;
  }
  if (o.input.empty()) throw ex::usage_error{"no scores file given (see --help)"};
  return o;
}

std::string num(double v) { return prefopt::io::json_number(v); }
std::string num(const std::optional<double>& v) { return v ? num(*v) : "null"; }

std::string metrics_json(const ev::agreement_metrics& m) {
  return "\"n\": " + std::to_string(m.n) + ", \"exact_accuracy\": " + num(m.exact_accuracy) +
         ", \"within_tolerance\": " + num(m.within_tolerance) + ", \"degree_of_variation\": " +
         num(m.degree_of_variation) + ", \"qwk\": " + num(m.qwk) + ", \"pearson\": " + num(m.pearson) +
         ", \"spearman\": " + num(m.spearman);
}

std::string cell(const std::optional<double>& v) {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", *v);
  return buf;
}

void print_row(const std::string& name, const ev::agreement_metrics& m) {
  std::printf("%-22s %6lld %8.4f %8.4f %8.4f %8s %8s %8s\n", name.c_str(), static_cast<long long>(m.n),
              m.exact_accuracy, m.within_tolerance, m.degree_of_variation, cell(m.qwk).c_str(),
              cell(m.pearson).c_str(), cell(m.spearman).c_str());
}

int run_rubric(const cli_options& o) {
  const auto scores = ev::read_rubric_csv(o.rubric, o.min_score, o.max_score);
  const auto r = ev::average_rubric_scores(scores, o.min_score, o.max_score);
  std::printf("rubric scores (%lld scores, %lld instances, %lld run(s), range %g..%g)\n",
              static_cast<long long>(r.scores), static_cast<long long>(r.instances), static_cast<long long>(r.runs),
              o.min_score, o.max_score);
  for (const auto& [run, m] : r.per_run) std::printf("run %-16s mean %.4f\n", run.empty() ? "(single)" : run.c_str(), m);
  for (const auto& [rubric, m] : r.per_rubric) std::printf("rubric %-13s mean %.4f\n", rubric.c_str(), m);
  std::printf("mean score %.4f", r.mean);
  if (r.run_std) std::printf(" (std over runs %.4f)", *r.run_std);
  std::printf("\n");
  if (!o.json_out.empty()) {
    std::ostringstream out;
    const auto number = [](double m) { return num(m); };
    out << "{\"mean\": " << num(r.mean) << ", \"run_std\": " << num(r.run_std) << ", \"runs\": " << r.runs
        << ", \"instances\": " << r.instances << ", \"scores\": " << r.scores << ", \"per_run\": {"
        << ex::json_members(r.per_run, "", ", ", number) << "}, \"per_rubric\": {"
        << ex::json_members(r.per_rubric, "", ", ", number) << "}}\n";
    ex::write_output_file("--json", o.json_out, out.str());
  }
  return 0;
}

int run(const cli_options& o) {
  if (!o.rubric.empty()) return run_rubric(o);
  const auto items = ev::read_scores_csv(o.input);
  const auto rep = ev::score_agreement(items, o.tolerance);
  std::printf("scorer agreement (%zu scores, %lld transcripts, tolerance %g band(s))\n", items.size(),
              static_cast<long long>(rep.bins.transcripts), o.tolerance);
  std::printf("%-22s %6s %8s %8s %8s %8s %8s %8s\n", "criterion", "n", "exact", "within", "dev", "qwk", "pearson",
              "spearman");
  for (const auto& [name, m] : rep.per_criterion) print_row(name, m);
  print_row("overall", rep.overall);
  std::printf("transcripts: accurate %.4f, partly_accurate %.4f, acceptable %.4f, inaccurate %.4f\n",
              rep.bins.accurate, rep.bins.partly_accurate, rep.bins.acceptable, rep.bins.inaccurate);
  std::printf("acceptable_accuracy %.4f, degree_of_variation %.4f bands\n", rep.bins.acceptable_accuracy,
              rep.overall.degree_of_variation);
  if (!o.json_out.empty()) {
    std::ostringstream overall;
    overall << metrics_json(rep.overall) << ", \"transcripts\": " << rep.bins.transcripts
            << ", \"accurate\": " << num(rep.bins.accurate) << ", \"partly_accurate\": " << num(rep.bins.partly_accurate)
            << ", \"acceptable\": " << num(rep.bins.acceptable) << ", \"inaccurate\": " << num(rep.bins.inaccurate)
            << ", \"acceptable_accuracy\": " << num(rep.bins.acceptable_accuracy) << ", \"tolerance\": " << num(o.tolerance);
    ex::write_output_file("--json", o.json_out,
                          ex::overall_and_groups(overall.str(), "per_criterion", rep.per_criterion,
                                                 [](const ev::agreement_metrics& m) { return metrics_json(m); }));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(scorer_metrics, [&] { return run(parse_args(argc, argv)); });
}
