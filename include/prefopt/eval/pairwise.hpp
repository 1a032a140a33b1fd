#pragma once
// Pairwise verdicts of a judge comparing the evaluated model's response with a baseline's, as
// Janus (kaistAI/Janus) reports them: each judgment says A, B or tie, and the model's response
// sat in position A or B. From the model's side every judgment is a win, a tie or a loss;
//   win_rate      = 100 * (wins + ties / 2) / n      (a tie counts 1/2, AlpacaEval's convention)
//   tie_win_rate  = 100 * (wins + ties) / n          (Janus' "tie+win rate")
//   loss_rate     = 100 * losses / n
//   standard_error = 100 * sem of the per-judgment scores 1 / 0.5 / 0 (ddof = 1)
// plus a seeded percentile bootstrap interval for win_rate and tie_win_rate (judgments
// resampled with replacement; round r draws from std::mt19937_64 seeded by
// std::seed_seq{seed, r} and unbiased bounded integers, so the interval depends only on the data
// and the seed), a per-category breakdown, and position-swap consistency: among the ids judged
// exactly twice, once with the model in each position, the share whose two judgments give the
// model the same outcome (a judge with position bias flips them).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/prefmodel/bootstrap.hpp"  // bounded_uniform, sorted_quantile

namespace prefopt::eval {

enum class verdict { a, b, tie };
enum class position { a, b };

struct pairwise_judgment {
  std::string id;        // the prompt; the same id in both positions is a position swap
  std::string category;  // "" when uncategorised
  verdict result = verdict::tie;
  position model = position::a;  // where the evaluated model's response was shown
};

struct pairwise_counts {
  index_t n = 0, wins = 0, ties = 0, losses = 0;
  double win_rate = 0, tie_win_rate = 0, loss_rate = 0;
  std::optional<double> standard_error;  // needs n >= 2
};

struct pairwise_options {
  index_t bootstrap_rounds = 1000;  // 0 = no interval
  std::uint64_t seed = 0;
  double confidence = 0.95;
};

struct pairwise_summary {
  pairwise_counts overall;
  std::optional<double> win_rate_lower, win_rate_upper, tie_win_rate_lower, tie_win_rate_upper;
  index_t swapped_pairs = 0, consistent_pairs = 0;
  std::optional<double> consistency;  // consistent / swapped, when any pair was swapped
  std::map<std::string, pairwise_counts> per_category;
};

/// +1 win, 0 tie, -1 loss for the model.
inline int model_outcome(const pairwise_judgment& j) {
  if (j.result == verdict::tie) return 0;
  const bool a_won = j.result == verdict::a;
  return a_won == (j.model == position::a) ? 1 : -1;
}

namespace detail {

inline pairwise_counts count_outcomes(const std::vector<int>& outcome) {
  pairwise_counts c;
  c.n = static_cast<index_t>(outcome.size());
  for (int o : outcome) {
    c.wins += o == 1;
    c.ties += o == 0;
    c.losses += o == -1;
  }
  const double n = static_cast<double>(c.n);
  c.win_rate = 100 * (static_cast<double>(c.wins) + 0.5 * static_cast<double>(c.ties)) / n;
  c.tie_win_rate = 100 * static_cast<double>(c.wins + c.ties) / n;
  c.loss_rate = 100 * static_cast<double>(c.losses) / n;
  if (c.n >= 2) {
    const double mean = c.win_rate / 100;
    double ss = 0;
    for (int o : outcome) {
      const double s = (o + 1) / 2.0;
      ss += (s - mean) * (s - mean);
    }
    c.standard_error = 100 * std::sqrt(ss / (n - 1)) / std::sqrt(n);
  }
  return c;
}

}  // namespace detail

inline pairwise_summary summarize_pairwise(const std::vector<pairwise_judgment>& judgments,
                                           const pairwise_options& opt = {}) {
  require(!judgments.empty(), "judgments.size()", 0, "must be > 0");
  require(opt.bootstrap_rounds >= 0 && opt.bootstrap_rounds != 1, "bootstrap_rounds", opt.bootstrap_rounds,
          "must be 0 or >= 2");
  require(opt.confidence > 0 && opt.confidence < 1, "confidence", opt.confidence, "must lie in (0, 1)");
  pairwise_summary s;
  std::vector<int> outcome;
  std::map<std::string, std::vector<int>> by_category;
  std::map<std::string, std::vector<std::size_t>> by_id;
  for (std::size_t k = 0; k < judgments.size(); ++k) {
    outcome.push_back(model_outcome(judgments[k]));
    by_category[judgments[k].category].push_back(outcome.back());
    by_id[judgments[k].id].push_back(k);
  }
  s.overall = detail::count_outcomes(outcome);
  for (const auto& [name, o] : by_category) s.per_category[name] = detail::count_outcomes(o);
  for (const auto& [id, ks] : by_id) {
    if (ks.size() != 2 || judgments[ks[0]].model == judgments[ks[1]].model) continue;
    ++s.swapped_pairs;
    s.consistent_pairs += outcome[ks[0]] == outcome[ks[1]];
  }
  if (s.swapped_pairs > 0)
    s.consistency = static_cast<double>(s.consistent_pairs) / static_cast<double>(s.swapped_pairs);

  if (opt.bootstrap_rounds >= 2) {
    const auto n = static_cast<std::uint64_t>(outcome.size());
    std::vector<double> wr, twr;
    for (index_t r = 0; r < opt.bootstrap_rounds; ++r) {
      std::seed_seq seq{static_cast<std::uint64_t>(opt.seed), static_cast<std::uint64_t>(r)};
      std::mt19937_64 rng(seq);
      double wins = 0, ties = 0;
      for (std::uint64_t k = 0; k < n; ++k) {
        const int o = outcome[prefmodel::detail::bounded_uniform(rng, n)];
        wins += o == 1;
        ties += o == 0;
      }
      wr.push_back(100 * (wins + ties / 2) / static_cast<double>(n));
      twr.push_back(100 * (wins + ties) / static_cast<double>(n));
    }
    std::sort(wr.begin(), wr.end());
    std::sort(twr.begin(), twr.end());
    const double alpha = (1 - opt.confidence) / 2;
    s.win_rate_lower = prefmodel::detail::sorted_quantile(wr, alpha);
    s.win_rate_upper = prefmodel::detail::sorted_quantile(wr, 1 - alpha);
    s.tie_win_rate_lower = prefmodel::detail::sorted_quantile(twr, alpha);
    s.tie_win_rate_upper = prefmodel::detail::sorted_quantile(twr, 1 - alpha);
  }
  return s;
}

}  // namespace prefopt::eval
