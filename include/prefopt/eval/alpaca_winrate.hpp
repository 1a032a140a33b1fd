#pragma once
// AlpacaEval's leaderboard numbers for one model against its baseline, computed as
// tatsu-lab/alpaca_eval (0.6.6) computes them:
//   * the raw win rate and its companions (metrics/winrate.py get_winrate, metrics/helpers.py
//     BaseScoringRule.describe_head2head with the absolute and the zero-one scoring rule);
//   * the length-controlled win rate (metrics/glm_winrate.py get_length_controlled_winrate).
//
// Preferences: 1 = the baseline (output_1) won, 2 = the model (output_2) won, 1.5 = tie, 0 is
// read as 1.5 (legacy tie), values in (1, 2) are soft preferences, NaN = no annotation (dropped
// from the win rate, as alpaca_eval's validate_alpacaeval_preference(is_allow_nan=False) does).
//
// Length-controlled win rate. For the model's annotations i = 1..n:
//   delta_i = len(output_1) - len(output_2) in Unicode code points (Python's str.len),
//   std_delta_len_i = delta_i / std(delta) with std the sample standard deviation (ddof = 1,
//   pandas), so a model longer than the baseline has std_delta_len < 0;
//   y_i = (preference_i with 0 -> 1.5) - 1 in [0, 1].
// A logistic GLM without intercept is fitted to the soft labels y_i,
//   length_controlled_v1:      tanh(std_delta_len) + instruction_difficulty + not_gamed_baseline
//   length_controlled_noreg:   the same formula, only the model's rows
//   length_controlled_minimal: tanh(std_delta_len) + not_gamed_baseline, only the model's rows
// v1 appends the gamed baselines' annotations (df_gamed.csv, not_gamed_baseline = false) to the
// training rows with weight lambda / 2 (lambda = 0.2; "divided by 2 because there are two gamed
// baselines") and weight 1 for the model's rows, which pulls the length and difficulty weights
// towards those of baselines that were prompted to be verbose or concise. The fit is
// fit_l1_logistic_cv (l1_logistic.hpp): L1-penalised, C from np.logspace(-4, 4, 10) by
// GroupKFold(5) over training rows, refit at the best C. The length-controlled win rate is
// 100 * mean_i sigmoid(w . x_i) with std_delta_len_i set to 0, over all the model's annotations
// (also those without a preference, as alpaca_eval predicts for every row), and
// lc_standard_error = 100 * sem of those predictions (ddof = 1). When the model is its own
// baseline both are 50 and 0 by construction.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/eval/l1_logistic.hpp"

namespace prefopt::eval {

/// alpaca_eval's head-to-head summary (names as in its leaderboard) plus tie_win_rate.
struct head_to_head {
  double win_rate = 0;           // 100 * mean(preference - 1), a tie counting 1/2
  double standard_error = 0;     // 100 * sem, ddof = 1
  index_t n_wins = 0;            // preference > 1.5
  index_t n_wins_base = 0;       // preference < 1.5
  index_t n_draws = 0;           // preference == 1.5 or 0
  index_t n_total = 0;           // annotated (non-NaN) preferences
  double discrete_win_rate = 0;  // the same after rounding soft preferences to 1 / 1.5 / 2
  double tie_win_rate = 0;       // 100 * (n_wins + n_draws) / n_total (Janus' tie+win)
  index_t n_missing = 0;         // NaN preferences, dropped
};

namespace detail {

inline double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

/// Sample standard deviation (ddof = 1, pandas' std / sem), two-pass for accuracy.
inline double sample_std(const std::vector<double>& v) {
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

inline double sem_of(const std::vector<double>& v) {
  return sample_std(v) / std::sqrt(static_cast<double>(v.size()));
}

/// Number of Unicode code points of UTF-8 text (what Python's len(str) counts).
inline long long code_points(std::string_view s) {
  long long n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace detail

/// Checks one preference: NaN (missing), 0 (legacy tie) or a value in [1, 2].
inline void require_alpaca_preference(std::string_view argument, double p) {
  require(std::isnan(p) || p == 0 || (p >= 1 && p <= 2), argument, p,
          "must be 1 (baseline wins), 2 (model wins), 1.5 or 0 (tie), a value in [1, 2] or NaN (missing)");
}

/// describe_head2head of alpaca_eval's AbsoluteScoringRule (win_rate, standard_error, counts)
/// and ZeroOneScoringRule (discrete_win_rate). Needs at least two annotated preferences (the
/// standard error has ddof = 1).
inline head_to_head describe_head_to_head(const std::vector<double>& preferences) {
  head_to_head r;
  std::vector<double> x, discrete;
  for (std::size_t i = 0; i < preferences.size(); ++i) {
    const double p = preferences[i];
    require_alpaca_preference("preferences[" + std::to_string(i) + "]", p);
    if (std::isnan(p)) {
      ++r.n_missing;
      continue;
    }
    const double v = p == 0 ? 1.5 : p;
    if (v == 1.5) ++r.n_draws;
    x.push_back(v - 1);
    if (v > 1.5) ++r.n_wins;
    else if (v < 1.5) ++r.n_wins_base;
    // ZeroOneScoringRule: 1.5 -> 0 -> 1.5, otherwise pandas round (half to even; 1.5 is
    // already taken out, so only 1 or 2 come out of [1, 2]).
    discrete.push_back((v == 1.5 ? 1.5 : std::nearbyint(v)) - 1);
  }
  r.n_total = static_cast<index_t>(x.size());
  require(r.n_total >= 2, "number of annotated preferences", r.n_total,
          "must be >= 2 (the standard error has ddof = 1)");
  r.win_rate = 100 * detail::mean_of(x);
  r.standard_error = 100 * detail::sem_of(x);
  r.discrete_win_rate = 100 * detail::mean_of(discrete);
  r.tie_win_rate = 100 * static_cast<double>(r.n_wins + r.n_draws) / static_cast<double>(r.n_total);
  return r;
}

enum class lc_glm { length_controlled_v1, length_controlled_noreg, length_controlled_minimal };

inline const char* glm_name(lc_glm g) {
  switch (g) {
    case lc_glm::length_controlled_v1: return "length_controlled_v1";
    case lc_glm::length_controlled_noreg: return "length_controlled_noreg";
    case lc_glm::length_controlled_minimal: return "length_controlled_minimal";
  }
  return "?";
}

inline bool glm_needs_instruction_difficulty(lc_glm g) { return g != lc_glm::length_controlled_minimal; }

/// One annotation of the model being evaluated.
struct lc_annotation {
  std::string output_1;  // baseline
  std::string output_2;  // model
  double preference = 0; // 0, [1, 2] or NaN
  long long index = -1;  // the instruction's index in df_gamed (needed by v1 and noreg)
};

/// One row of alpaca_eval's df_gamed.csv: the precomputed instruction difficulty and the
/// annotations of the gamed (length-prompted) baselines, preference already in [0, 1] and
/// std_delta_len already standardised.
struct gamed_row {
  std::string model;
  long long index = 0;
  double instruction_difficulty = 0;
  double preference = 0;  // [0, 1] or NaN
  double std_delta_len = 0;
  bool not_gamed_baseline = false;
};

struct lc_options {
  lc_glm glm = lc_glm::length_controlled_v1;
  double regularize_to_baseline_lambda = 0.2;  // v1 only
  l1_logistic_cv_options cv = {};
};

struct lc_result {
  double length_controlled_winrate = 0;
  double lc_standard_error = 0;
  std::vector<std::string> feature_names;  // patsy's column names, in alpaca_eval's order
  std::vector<double> weights;             // the GLM's coefficients
  double best_C = 0;
  std::vector<double> cv_score_sum;        // per C of the grid (empty for the baseline itself)
  index_t training_rows = 0;
  bool is_baseline = false;
};

/// Instruction difficulty per index: the first df_gamed row of each index. (alpaca_eval takes
/// df_gamed.drop_duplicates("index")["instruction_difficulty"] and looks it up by row label,
/// which is the same thing when the file lists indices 0, 1, ... first, as the hub's does.)
inline std::map<long long, double> instruction_difficulty_of(const std::vector<gamed_row>& gamed) {
  std::map<long long, double> out;
  for (const auto& r : gamed) out.emplace(r.index, r.instruction_difficulty);
  return out;
}

/// The length-controlled win rate of one model. `is_baseline`: generator_2 == generator_1.
/// `gamed` is required by v1 (the regularising rows and instruction difficulty) and noreg
/// (instruction difficulty only); minimal ignores it.
inline lc_result length_controlled_winrate(const std::vector<lc_annotation>& annotations, bool is_baseline,
                                           const std::vector<gamed_row>* gamed, const lc_options& opt = {}) {
  const std::size_t n = annotations.size();
  require(n >= 2, "annotations.size()", n, "must be >= 2 (std_delta_len uses a ddof = 1 std)");
  for (std::size_t i = 0; i < n; ++i)
    require_alpaca_preference("annotations[" + std::to_string(i) + "].preference", annotations[i].preference);
  const bool needs_difficulty = glm_needs_instruction_difficulty(opt.glm);
  require(!needs_difficulty || (gamed && !gamed->empty()), "gamed rows", gamed ? gamed->size() : 0,
          std::string(glm_name(opt.glm)) + " needs df_gamed (instruction difficulty)");
  lc_result res;
  res.is_baseline = is_baseline;
  res.feature_names = needs_difficulty
      ? std::vector<std::string>{"np.tanh(std_delta_len)", "instruction_difficulty", "not_gamed_baseline.astype(float)"}
      : std::vector<std::string>{"np.tanh(std_delta_len)", "not_gamed_baseline.astype(float)"};
  res.weights.assign(res.feature_names.size(), 0.0);

  if (is_baseline) {  // alpaca_eval: predicted preference 0.5 "by construction" (NaN where missing)
    std::vector<double> q;
    for (const auto& a : annotations)
      if (!std::isnan(a.preference)) q.push_back(0.5);
    require(q.size() >= 2, "number of annotated preferences", q.size(), "must be >= 2");
    res.length_controlled_winrate = 50;
    res.lc_standard_error = 0;
    return res;
  }

  std::map<long long, double> difficulty;
  if (needs_difficulty) difficulty = instruction_difficulty_of(*gamed);
  std::vector<double> delta(n), diff_of(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    delta[i] = static_cast<double>(detail::code_points(annotations[i].output_1) -
                                   detail::code_points(annotations[i].output_2));
    if (needs_difficulty) {
      const auto it = difficulty.find(annotations[i].index);
      require(it != difficulty.end(), "annotations[" + std::to_string(i) + "].index", annotations[i].index,
              "has no instruction_difficulty in df_gamed");
      diff_of[i] = it->second;
    }
  }
  const double sd = detail::sample_std(delta);
  require(sd > 0 && std::isfinite(sd), "std(len(output_1) - len(output_2))", sd,
          "must be > 0: std_delta_len is undefined when every length difference is equal");

  const bool regularise = opt.glm == lc_glm::length_controlled_v1 && opt.regularize_to_baseline_lambda != 0;
  if (regularise)
    require(std::isfinite(opt.regularize_to_baseline_lambda) && opt.regularize_to_baseline_lambda > 0,
            "regularize_to_baseline_lambda", opt.regularize_to_baseline_lambda, "must be finite and >= 0");
  auto features = [&](double std_delta_len, double diff, bool not_gamed) {
    std::vector<double> f{std::tanh(std_delta_len)};
    if (needs_difficulty) f.push_back(diff);
    f.push_back(not_gamed ? 1.0 : 0.0);
    return f;
  };
  // Training rows in alpaca_eval's order (pd.concat([df_gamed, df])), rows without a preference
  // dropped; the group of a row is its position afterwards (GroupKFold folds depend on it).
  soft_label_design design;
  if (regularise) {
    for (std::size_t k = 0; k < gamed->size(); ++k) {
      const auto& r = (*gamed)[k];
      const std::string where = "gamed[" + std::to_string(k) + "]";
      require(std::isnan(r.preference) || (r.preference >= 0 && r.preference <= 1), where + ".preference",
              r.preference, "must lie in [0, 1] or be NaN");
      require_finite((where + ".std_delta_len").c_str(), r.std_delta_len);
      require_finite((where + ".instruction_difficulty").c_str(), r.instruction_difficulty);
      if (std::isnan(r.preference)) continue;
      const double w = r.not_gamed_baseline ? 1.0 : opt.regularize_to_baseline_lambda / 2;
      design.push_row(features(r.std_delta_len, r.instruction_difficulty, r.not_gamed_baseline), r.preference, w);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double p = annotations[i].preference;
    if (std::isnan(p)) continue;
    design.push_row(features(delta[i] / sd, diff_of[i], true), (p == 0 ? 1.5 : p) - 1, 1.0);
  }
  res.training_rows = design.rows;
  std::vector<long long> groups(static_cast<std::size_t>(design.rows));
  for (std::size_t k = 0; k < groups.size(); ++k) groups[k] = static_cast<long long>(k);
  const auto cv = fit_l1_logistic_cv(design, groups, opt.cv);
  res.weights = cv.fit.coef;
  res.best_C = cv.best_C;
  res.cv_score_sum = cv.score_sum;

  std::vector<double> q(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto f = features(0.0, diff_of[i], true);
    double z = 0;
    for (std::size_t j = 0; j < f.size(); ++j) z += f[j] * res.weights[j];
    q[i] = detail::sigmoid(z);
  }
  res.length_controlled_winrate = 100 * detail::mean_of(q);
  res.lc_standard_error = 100 * detail::sem_of(q);
  return res;
}

}  // namespace prefopt::eval
