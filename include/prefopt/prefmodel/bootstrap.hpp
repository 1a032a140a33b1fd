#pragma once
// Bootstrap confidence intervals for Bradley-Terry ratings, Chatbot Arena style.
//
// Resampling N battles with replacement is the same as drawing multinomial(N, counts / N) counts
// over the distinct (pair, outcome) cells -- FastChat's get_bootstrap_result_elo_mle_with_tie
// (fastchat/serve/monitor/elo_analysis.py) samples exactly these counts with
// np.random.multinomial. So each round touches only the aggregated cells, not a battle list,
// and refits by Newton warm-started from the full-data estimate (two to four iterations).
// Weighted battles keep their cell's mean weight per resampled battle (exact when weights are
// constant within a cell, e.g. unweighted data).
//
// Poisson bootstrap (resampling = poisson): every battle gets an independent Poisson(1) weight,
// so a cell of k battles gets a Poisson(k) count -- one draw per cell instead of one per battle,
// which is what makes rounds cheap at 10^7 battles (Hanley & MacGibbon 2006; Chamandy et al. 2012).
// The total number of battles then varies between rounds (mean N).
//
// Reproducibility: round r draws from std::mt19937_64 seeded by std::seed_seq{seed, r} (both
// fully specified by the C++ standard) and unbiased bounded integers by Lemire's method, so the
// result depends only on (data, seed) -- not on the thread count, platform or standard library.
//
// Intervals are percentiles with linear interpolation (NumPy/pandas' default quantile, as the
// Arena uses). Rank as the Arena reports it: 1 + the number of items whose lower bound exceeds
// this item's upper bound; the rank interval runs from that to n - the number of items whose
// upper bound is below this item's lower bound.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/prefmodel/bradley_terry.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

namespace prefopt::prefmodel {

enum class bootstrap_resampling { multinomial, poisson };

template <class T = double>
struct bootstrap_options {
  index_t rounds = 100;
  bootstrap_resampling resampling = bootstrap_resampling::multinomial;
  std::uint64_t seed = 0;
  T confidence = T(0.95);
  int threads = 0;  // 0 = hardware concurrency; results do not depend on it
  /// Model for every round (ties, prior, anchor). Solver tolerances as for a single fit.
  bt_options<T> fit = {};
  /// A resample can leave an item that never lost/won (infinite MLE). Such rounds are refitted
  /// with this N(0, sigma^2) ridge and counted in regularised_rounds; 0 = throw instead.
  T fallback_prior_sigma = T(10);
  /// Called as progress(done, total) after each finished round, serialised by a mutex (possibly
  /// from a worker thread).
  std::function<void(index_t, index_t)> progress = {};
};

template <class T = double>
struct bootstrap_result {
  index_t rounds = 0, num_items = 0;
  std::vector<T> samples;  // rounds x num_items, row-major theta per round
  std::vector<T> lower, upper, median;
  std::vector<index_t> rank, rank_worst;  // Arena rank (best case) and worst-case rank
  index_t regularised_rounds = 0;

  [[nodiscard]] T sample(index_t round, index_t item) const { return samples[round * num_items + item]; }
};

namespace detail {

/// Unbiased integer in [0, range) (Lemire 2019, "Fast random integer generation in an interval").
inline std::uint64_t bounded_uniform(std::mt19937_64& rng, std::uint64_t range) {
  __extension__ typedef unsigned __int128 u128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet
  std::uint64_t x = rng();
  u128 m = static_cast<u128>(x) * range;
  auto low = static_cast<std::uint64_t>(m);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      x = rng();
      m = static_cast<u128>(x) * range;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

/// Uniform double in [0, 1) from the top 53 bits.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// Poisson(lambda) variate. lambda < 10: inversion by sequential search; otherwise Hoermann's
/// (1993) transformed rejection PTRS, as NumPy's random_poisson_ptrs. Written out because
/// std::poisson_distribution differs between standard libraries.
inline std::uint64_t poisson(std::mt19937_64& rng, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda < 10) {
    const double u = uniform01(rng);
    double p = std::exp(-lambda), cdf = p;
    std::uint64_t k = 0;
    while (u > cdf && k < 1000) {
      ++k;
      p *= lambda / static_cast<double>(k);
      cdf += p;
    }
    return k;
  }
  const double slam = std::sqrt(lambda), loglam = std::log(lambda);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = uniform01(rng) - 0.5, v = uniform01(rng);
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<std::uint64_t>(k);
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
        -lambda + k * loglam - std::lgamma(k + 1))
      return static_cast<std::uint64_t>(k);
  }
}

/// Linear-interpolation quantile of sorted values (type 7, NumPy's default).
template <class T>
T sorted_quantile(const std::vector<T>& v, T q) {
  const T pos = q * static_cast<T>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<T>(lo)) * (v[hi] - v[lo]);
}

}  // namespace detail

/// Percentile intervals and Arena ranks from per-round samples (rounds x n, row-major).
template <class T>
void summarise_bootstrap(bootstrap_result<T>& res, T confidence) {
  const index_t n = res.num_items, r = res.rounds;
  // Public entry point: an empty or mis-sized sample table indexed out of range (rounds = 0 made
  // sorted_quantile read v[-1]).
  require(r >= 1, "rounds", r, "need at least one bootstrap round");
  require(n >= 0, "num_items", n, "must be >= 0");
  require_same_size("samples.size()", static_cast<long long>(res.samples.size()),
                    "rounds * num_items", r * n);
  require(std::isfinite(confidence) && confidence > T(0) && confidence < T(1), "confidence",
          confidence, "must lie in (0, 1)");
  res.lower.assign(static_cast<std::size_t>(n), T(0));
  res.upper = res.median = res.lower;
  std::vector<T> col(static_cast<std::size_t>(r));
  const T alpha = (T(1) - confidence) / 2;
  for (index_t i = 0; i < n; ++i) {
    for (index_t k = 0; k < r; ++k) col[k] = res.sample(k, i);
    std::sort(col.begin(), col.end());
    res.lower[i] = detail::sorted_quantile(col, alpha);
    res.upper[i] = detail::sorted_quantile(col, T(1) - alpha);
    res.median[i] = detail::sorted_quantile(col, T(0.5));
  }
  // rank_i = 1 + #{j : lower_j > upper_i}, rank_worst_i = n - #{j : upper_j < lower_i} (j = i
  // never counts since lower_i <= upper_i), by binary search in sorted copies: O(n log n).
  std::vector<T> lows = res.lower, highs = res.upper;
  std::sort(lows.begin(), lows.end());
  std::sort(highs.begin(), highs.end());
  res.rank.assign(static_cast<std::size_t>(n), 1);
  res.rank_worst.assign(static_cast<std::size_t>(n), n);
  for (index_t i = 0; i < n; ++i) {
    res.rank[i] += lows.end() - std::upper_bound(lows.begin(), lows.end(), res.upper[i]);
    res.rank_worst[i] -= std::lower_bound(highs.begin(), highs.end(), res.lower[i]) - highs.begin();
  }
}

/// Multinomial bootstrap of the Bradley-Terry fit; theta samples use opt.fit's normalisation.
template <class T>
bootstrap_result<T> bootstrap_bradley_terry(const comparison_data<T>& data,
                                            const bootstrap_options<T>& opt = {}) {
  require(opt.rounds >= 2, "rounds", opt.rounds, "need at least 2 bootstrap rounds");
  require(std::isfinite(opt.confidence) && opt.confidence > T(0) && opt.confidence < T(1),
          "confidence", opt.confidence, "must lie in (0, 1)");
  require(std::isfinite(opt.fallback_prior_sigma) && opt.fallback_prior_sigma >= T(0),
          "fallback_prior_sigma", opt.fallback_prior_sigma, "must be finite and >= 0");
  const index_t n = data.num_items();
  const auto& pairs = data.pairs();

  // Full-data estimate: validates the data and warm-starts every round.
  bt_options<T> base = opt.fit;
  base.standard_errors = false;
  base.std_error_items = {};
  base.anchor.reset();
  const bt_result<T> full = fit_bradley_terry(data, base);

  // Cells: (pair, outcome) with a positive battle count; cumulative counts for sampling.
  struct cell {
    std::size_t pair;
    int outcome;  // 0: i wins, 1: j wins, 2: tie
    T weight_per_battle;
  };
  std::vector<cell> cells;
  std::vector<std::uint64_t> cumulative;
  std::uint64_t total = 0;
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const index_t counts[3] = {pairs[p].n_wins_i, pairs[p].n_wins_j, pairs[p].n_ties};
    const T weights[3] = {pairs[p].wins_i, pairs[p].wins_j, pairs[p].ties};
    for (int o = 0; o < 3; ++o) {
      if (counts[o] <= 0) continue;
      cells.push_back({p, o, weights[o] / static_cast<T>(counts[o])});
      total += static_cast<std::uint64_t>(counts[o]);
      cumulative.push_back(total);
    }
  }

  // Battle -> cell lookup (4 bytes per battle) turns each draw into one table read; beyond
  // 2^25 battles fall back to binary search over the cumulative counts.
  std::vector<std::uint32_t> cell_of_battle;
  if (opt.resampling == bootstrap_resampling::multinomial && total <= (std::uint64_t(1) << 25)) {
    cell_of_battle.resize(static_cast<std::size_t>(total));
    std::uint64_t b = 0;
    for (std::size_t c = 0; c < cells.size(); ++c)
      for (; b < cumulative[c]; ++b) cell_of_battle[b] = static_cast<std::uint32_t>(c);
  }

  bootstrap_result<T> res;
  res.rounds = opt.rounds;
  res.num_items = n;
  res.samples.assign(static_cast<std::size_t>(opt.rounds * n), T(0));
  std::vector<char> regularised(static_cast<std::size_t>(opt.rounds), 0);
  index_t done = 0;  // guarded by progress_mutex
  std::mutex progress_mutex;

  prefopt::detail::parallel_blocks(opt.rounds, opt.threads, 1, [&](index_t begin, index_t end) {
    std::vector<std::uint64_t> drawn(cells.size());
    std::vector<pair_record<T>> resampled(pairs.size());
    for (index_t round = begin; round < end; ++round) {
      std::seed_seq seq{static_cast<std::uint32_t>(opt.seed), static_cast<std::uint32_t>(opt.seed >> 32),
                        static_cast<std::uint32_t>(round), static_cast<std::uint32_t>(round >> 32)};
      std::mt19937_64 rng(seq);
      std::fill(drawn.begin(), drawn.end(), 0);
      if (opt.resampling == bootstrap_resampling::poisson) {
        for (std::size_t c = 0; c < cells.size(); ++c) {
          const std::uint64_t count = cumulative[c] - (c ? cumulative[c - 1] : 0);
          drawn[c] = detail::poisson(rng, static_cast<double>(count));
        }
      } else if (!cell_of_battle.empty()) {
        for (std::uint64_t b = 0; b < total; ++b) ++drawn[cell_of_battle[detail::bounded_uniform(rng, total)]];
      } else {
        for (std::uint64_t b = 0; b < total; ++b) {
          const std::uint64_t u = detail::bounded_uniform(rng, total);
          const auto c = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
          ++drawn[static_cast<std::size_t>(c)];
        }
      }
      for (std::size_t p = 0; p < pairs.size(); ++p) resampled[p] = pair_record<T>{pairs[p].i, pairs[p].j};
      for (std::size_t c = 0; c < cells.size(); ++c) {
        auto& rec = resampled[cells[c].pair];
        const auto k = static_cast<index_t>(drawn[c]);
        const T w = static_cast<T>(k) * cells[c].weight_per_battle;
        if (cells[c].outcome == 0) { rec.wins_i = w; rec.n_wins_i = k; }
        else if (cells[c].outcome == 1) { rec.wins_j = w; rec.n_wins_j = k; }
        else { rec.ties = w; rec.n_ties = k; }
      }
      bt_options<T> fo = opt.fit;
      fo.standard_errors = false;
      fo.std_error_items = {};
      fo.initial_theta = full.theta;
      fo.threads = 1;  // rounds already run in parallel
      if (fo.ties == tie_model::davidson) {
        // A resample can draw no tie at all when ties are rare (probability ~ e^-ties per round).
        // Its Davidson MLE then sits on the boundary nu = 0, where the model is plain
        // Bradley-Terry: fit that, instead of failing the whole bootstrap on valid data.
        T round_ties = T(0);
        for (const auto& rec : resampled) round_ties += rec.ties;
        if (round_ties == T(0)) fo.ties = tie_model::half_win;
      }
      bt_result<T> fit;
      try {
        fit = fit_bradley_terry<T>(n, resampled, fo, &data.names());
      } catch (const invalid_argument& e) {
        if (opt.fallback_prior_sigma == T(0) || fo.prior_sigma > T(0))
          throw invalid_argument("bootstrap round " + std::to_string(round) + ": " + e.what());
        fo.prior_sigma = opt.fallback_prior_sigma;
        fit = fit_bradley_terry<T>(n, resampled, fo, &data.names());
        regularised[static_cast<std::size_t>(round)] = 1;
      }
      std::copy(fit.theta.begin(), fit.theta.end(), res.samples.begin() + round * n);
      if (opt.progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        opt.progress(++done, opt.rounds);
      }
    }
  });
  for (char r : regularised) res.regularised_rounds += r;
  summarise_bootstrap(res, opt.confidence);
  return res;
}

}  // namespace prefopt::prefmodel
