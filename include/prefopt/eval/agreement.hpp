#pragma once
// Agreement between an automated scorer and expert scores on integer bands (EvalYaks,
// Talking-Yak/EvalYaks, scores CEFR speaking criteria in bands): per criterion and overall,
//   exact_accuracy       share of scores with predicted == expert
//   within_tolerance     share with |predicted - expert| <= tolerance
//   degree_of_variation  mean |predicted - expert|, in bands
//   qwk                  Cohen's quadratic-weighted kappa over the bands min..max of both
//                        raters (= sklearn.metrics.cohen_kappa_score(weights="quadratic",
//                        labels=range(min, max + 1)); sklearn's default labels are only the
//                        observed values, which differs when a band in between is unused)
//   pearson, spearman    correlation coefficients; Spearman is Pearson on average ranks, so
//                        ties get the mean of their ranks (scipy.stats.spearmanr)
// and, per transcript (all criteria of one id), one of four bins:
//   accurate          every criterion exact
//   partly_accurate   some but not all exact, all within tolerance
//   acceptable        all within tolerance, none exact
//   inaccurate        at least one beyond tolerance
// acceptable_accuracy = share of transcripts in the first three bins.
// The EvalYaks paper reports "acceptable accuracy" (96%) and "degree of variation" (0.35) without
// code for them; these definitions are the reading of the paper, with the tolerance a
// parameter (default 1 band). kappa and the correlations are undefined when a rater is constant;
// they are then empty (std::nullopt), never NaN.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::eval {

struct scored_item {
  std::string id;         // transcript
  std::string criterion;
  double expert = 0;      // integer band
  double predicted = 0;   // integer band
};

struct agreement_metrics {
  index_t n = 0;
  double exact_accuracy = 0, within_tolerance = 0, degree_of_variation = 0;
  std::optional<double> qwk, pearson, spearman;
};

struct transcript_bins {
  index_t transcripts = 0;
  double accurate = 0, partly_accurate = 0, acceptable = 0, inaccurate = 0;  // shares
  double acceptable_accuracy = 0;
};

struct scorer_report {
  double tolerance = 1;
  agreement_metrics overall;
  transcript_bins bins;
  std::map<std::string, agreement_metrics> per_criterion;
};

/// Pearson correlation; empty when either input is constant. Two-pass (centred) sums.
inline std::optional<double> pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  require_same_size("y.size()", static_cast<long long>(y.size()), "x.size()", static_cast<long long>(x.size()));
  require(x.size() >= 2, "x.size()", x.size(), "must be >= 2");
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(x.size());
  my /= static_cast<double>(x.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::nullopt;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

/// Ranks 1..n with ties given the average of their ranks (scipy.stats.rankdata "average").
inline std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end + 1 < order.size() && v[order[end + 1]] == v[order[start]]) ++end;
    const double r = (static_cast<double>(start) + static_cast<double>(end)) / 2 + 1;
    for (std::size_t k = start; k <= end; ++k) rank[order[k]] = r;
    start = end + 1;
  }
  return rank;
}

inline std::optional<double> spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  require_same_size("y.size()", static_cast<long long>(y.size()), "x.size()", static_cast<long long>(x.size()));
  return pearson_correlation(average_ranks(x), average_ranks(y));
}

/// Quadratic-weighted Cohen's kappa of two integer ratings over the bands min..max of both:
/// 1 - sum w_ij O_ij / sum w_ij E_ij with w_ij = (i - j)^2, O the confusion counts and E the
/// outer product of the marginals / n. Empty when the denominator is 0 (both raters constant on
/// the same band, or only one band in use).
inline std::optional<double> quadratic_weighted_kappa(const std::vector<double>& a, const std::vector<double>& b) {
  require_same_size("b.size()", static_cast<long long>(b.size()), "a.size()", static_cast<long long>(a.size()));
  require(!a.empty(), "a.size()", 0, "must be > 0");
  for (std::size_t i = 0; i < a.size(); ++i) {
    require(std::isfinite(a[i]) && a[i] == std::round(a[i]) && std::abs(a[i]) < 1e6, "a[" + std::to_string(i) + "]",
            a[i], "must be an integer band (|band| < 1e6)");
    require(std::isfinite(b[i]) && b[i] == std::round(b[i]) && std::abs(b[i]) < 1e6, "b[" + std::to_string(i) + "]",
            b[i], "must be an integer band (|band| < 1e6)");
  }
  const double lo = std::min(*std::min_element(a.begin(), a.end()), *std::min_element(b.begin(), b.end()));
  const double hi = std::max(*std::max_element(a.begin(), a.end()), *std::max_element(b.begin(), b.end()));
  const auto k = static_cast<std::size_t>(hi - lo) + 1;
  require(k <= 10000, "number of bands", k, "must be <= 10000");
  std::vector<double> O(k * k, 0.0), ra(k, 0.0), rb(k, 0.0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto ia = static_cast<std::size_t>(a[i] - lo), ib = static_cast<std::size_t>(b[i] - lo);
    O[ia * k + ib] += 1;
    ra[ia] += 1;
    rb[ib] += 1;
  }
  const double n = static_cast<double>(a.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const double w = (static_cast<double>(i) - static_cast<double>(j)) * (static_cast<double>(i) - static_cast<double>(j));
      num += w * O[i * k + j];
      den += w * ra[i] * rb[j] / n;
    }
  if (den == 0) return std::nullopt;
  return 1 - num / den;
}

/// The per-criterion style metrics of a set of (expert, predicted) pairs.
inline agreement_metrics agreement(const std::vector<double>& expert, const std::vector<double>& predicted,
                                   double tolerance = 1) {
  require_same_size("predicted.size()", static_cast<long long>(predicted.size()), "expert.size()",
                    static_cast<long long>(expert.size()));
  require(!expert.empty(), "expert.size()", 0, "must be > 0");
  require(std::isfinite(tolerance) && tolerance >= 0, "tolerance", tolerance, "must be finite and >= 0");
  agreement_metrics m;
  m.n = static_cast<index_t>(expert.size());
  double exact = 0, within = 0, dev = 0;
  for (std::size_t i = 0; i < expert.size(); ++i) {
    const double d = std::abs(predicted[i] - expert[i]);
    exact += d == 0;
    within += d <= tolerance;
    dev += d;
  }
  const double n = static_cast<double>(m.n);
  m.exact_accuracy = exact / n;
  m.within_tolerance = within / n;
  m.degree_of_variation = dev / n;
  m.qwk = quadratic_weighted_kappa(expert, predicted);
  if (expert.size() >= 2) {
    m.pearson = pearson_correlation(expert, predicted);
    m.spearman = spearman_correlation(expert, predicted);
  }
  return m;
}

/// Per criterion, overall (all items pooled) and the transcript bins. Every (id, criterion)
/// must occur once; scores must be integer bands.
inline scorer_report score_agreement(const std::vector<scored_item>& items, double tolerance = 1) {
  require(!items.empty(), "items.size()", 0, "must be > 0");
  require(std::isfinite(tolerance) && tolerance >= 0, "tolerance", tolerance, "must be finite and >= 0");
  scorer_report rep;
  rep.tolerance = tolerance;
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_criterion;
  std::map<std::string, std::pair<index_t, index_t>> by_id;  // exact, beyond tolerance
  std::map<std::string, index_t> criteria_of;
  std::vector<double> all_e, all_p;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    const std::string where = "items[" + std::to_string(i) + "]";
    require(std::isfinite(it.expert) && it.expert == std::round(it.expert), where + ".expert", it.expert,
            "must be an integer band");
    require(std::isfinite(it.predicted) && it.predicted == std::round(it.predicted), where + ".predicted",
            it.predicted, "must be an integer band");
    const auto [pos, fresh] = seen.emplace(std::make_pair(it.id, it.criterion), i);
    require(fresh, where, it.id + "/" + it.criterion,
            "duplicates items[" + std::to_string(pos->second) + "] (same id and criterion)");
    auto& c = by_criterion[it.criterion];
    c.first.push_back(it.expert);
    c.second.push_back(it.predicted);
    all_e.push_back(it.expert);
    all_p.push_back(it.predicted);
    const double d = std::abs(it.predicted - it.expert);
    auto& t = by_id[it.id];
    t.first += d == 0;
    t.second += d > tolerance;
    ++criteria_of[it.id];
  }
  rep.overall = agreement(all_e, all_p, tolerance);
  for (const auto& [name, c] : by_criterion) rep.per_criterion[name] = agreement(c.first, c.second, tolerance);
  index_t acc = 0, part = 0, ok = 0, bad = 0;
  for (const auto& [id, t] : by_id) {
    if (t.second > 0) ++bad;
    else if (t.first == criteria_of[id]) ++acc;
    else if (t.first > 0) ++part;
    else ++ok;
  }
  const double T = static_cast<double>(by_id.size());
  rep.bins.transcripts = static_cast<index_t>(by_id.size());
  rep.bins.accurate = static_cast<double>(acc) / T;
  rep.bins.partly_accurate = static_cast<double>(part) / T;
  rep.bins.acceptable = static_cast<double>(ok) / T;
  rep.bins.inaccurate = static_cast<double>(bad) / T;
  rep.bins.acceptable_accuracy = static_cast<double>(acc + part + ok) / T;
  return rep;
}

}  // namespace prefopt::eval
