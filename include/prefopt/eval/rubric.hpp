#pragma once
// Absolute rubric scoring as Janus (kaistAI/Janus, run_eval_openai.py) aggregates it: a judge
// scores each response against each of its rubrics on 1..5; the instance's score is the mean
// over its rubrics (sum(scores_set) / len(scores_set)), the run's score the mean over instances
// (avg_score /= len(data_list)), and the reported score the mean over runs (repeated judge
// samplings). Janus has no missing scores at that point (it retries until every judgment
// parses), so every score here must be present and within [min_score, max_score].

#include <cmath>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::eval {

struct rubric_score {
  std::string run;       // one judge run (sampling); "" when there is only one
  std::string instance;  // the prompt / response judged
  std::string rubric;    // which rubric of the instance
  double score = 0;
};

struct rubric_summary {
  double mean = 0;                      // over runs
  std::map<std::string, double> per_run;  // mean over the run's instances
  std::map<std::string, double> per_rubric;  // a rubric name's score, averaged the same way
                                             // (over the instances that have it, then runs)
  index_t runs = 0, instances = 0, scores = 0;
  std::optional<double> run_std;        // sample std over runs (ddof = 1), when >= 2 runs
};

inline rubric_summary average_rubric_scores(const std::vector<rubric_score>& scores, double min_score = 1,
                                            double max_score = 5) {
  require(!scores.empty(), "scores.size()", 0, "must be > 0");
  require(std::isfinite(min_score) && std::isfinite(max_score) && min_score < max_score, "max_score", max_score,
          "must be finite and > min_score");
  std::map<std::string, std::map<std::string, std::pair<double, index_t>>> sums;  // run -> instance -> (sum, n)
  std::map<std::pair<std::string, std::pair<std::string, std::string>>, std::size_t> seen;
  for (std::size_t k = 0; k < scores.size(); ++k) {
    const auto& s = scores[k];
    const std::string where = "scores[" + std::to_string(k) + "].score";
    require(std::isfinite(s.score) && s.score >= min_score && s.score <= max_score, where, s.score,
            "must lie in [" + std::to_string(min_score) + ", " + std::to_string(max_score) + "]");
    const auto [pos, fresh] = seen.emplace(std::make_pair(s.run, std::make_pair(s.instance, s.rubric)), k);
    require(fresh, "scores[" + std::to_string(k) + "]", s.run + "/" + s.instance + "/" + s.rubric,
            "duplicates scores[" + std::to_string(pos->second) + "] (same run, instance and rubric)");
    auto& cell = sums[s.run][s.instance];
    cell.first += s.score;
    ++cell.second;
  }
  rubric_summary r;
  // per rubric: run -> (sum over instances, count); each (run, instance, rubric) occurs once
  std::map<std::string, std::map<std::string, std::pair<double, index_t>>> rubric_sums;
  for (const auto& s : scores) {
    auto& cell = rubric_sums[s.rubric][s.run];
    cell.first += s.score;
    ++cell.second;
  }
  for (const auto& [rubric, runs] : rubric_sums) {
    double total_runs = 0;
    for (const auto& [run, cell] : runs) total_runs += cell.first / static_cast<double>(cell.second);
    r.per_rubric[rubric] = total_runs / static_cast<double>(runs.size());
  }
  r.scores = static_cast<index_t>(scores.size());
  r.runs = static_cast<index_t>(sums.size());
  double total = 0;
  std::vector<double> run_means;
  for (const auto& [run, instances] : sums) {
    double run_sum = 0;
    for (const auto& [instance, cell] : instances) run_sum += cell.first / static_cast<double>(cell.second);
    const double m = run_sum / static_cast<double>(instances.size());
    r.per_run[run] = m;
    run_means.push_back(m);
    total += m;
    r.instances = std::max<index_t>(r.instances, static_cast<index_t>(instances.size()));
  }
  r.mean = total / static_cast<double>(r.runs);
  if (r.runs >= 2) {
    double ss = 0;
    for (double m : run_means) ss += (m - r.mean) * (m - r.mean);
    r.run_std = std::sqrt(ss / static_cast<double>(r.runs - 1));
  }
  return r;
}

}  // namespace prefopt::eval
