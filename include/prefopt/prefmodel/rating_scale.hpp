#pragma once
// The Elo / Chatbot Arena rating scale. A Bradley-Terry strength theta (natural log-odds) maps to
//
//   rating = init + scale * theta / ln(base)          (default 1000 + 400 theta / ln 10)
//
// so that P(i beats j) = 1 / (1 + base^((R_j - R_i) / scale)), the Elo curve. This is FastChat's
// scale_and_offset (fastchat/serve/monitor/elo_analysis.py: ratings on the log-base scale times
// SCALE plus INIT_RATING). With sum-to-zero strengths the mean rating is `init`; an anchor
// instead pins one item to a fixed rating (the Arena pins mixtral-8x7b-instruct-v0.1 to 1114).

#include <cmath>
#include <optional>
#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::prefmodel {

template <class T = double>
struct rating_anchor {
  index_t item = 0;
  T rating = T(1000);
};

template <class T = double>
struct elo_scale {
  T scale = T(400);
  T base = T(10);
  T init = T(1000);
  std::optional<rating_anchor<T>> anchor;

  void validate() const {
    require_positive_finite("scale", scale);
    require(std::isfinite(base) && base > T(1), "base", base, "must be finite and > 1");
    require_finite("init", init);
    if (anchor) require_finite("anchor.rating", anchor->rating);
  }

  /// Rating points per unit of theta.
  [[nodiscard]] T points_per_theta() const { return scale / std::log(base); }

  /// Ratings for strengths theta (any normalisation: an anchor overrides it, otherwise the
  /// given theta is used as is, so sum-to-zero theta gives mean rating `init`).
  [[nodiscard]] std::vector<T> ratings(std::span<const T> theta) const {
    validate();
    const auto n = static_cast<index_t>(theta.size());
    T offset = init;
    if (anchor) {
      require(anchor->item >= 0 && anchor->item < n, "anchor.item", anchor->item,
              "must be an item id in [0, num_items)");
      offset = anchor->rating - points_per_theta() * theta[static_cast<std::size_t>(anchor->item)];
    }
    std::vector<T> r(theta.size());
    for (std::size_t i = 0; i < theta.size(); ++i) r[i] = offset + points_per_theta() * theta[i];
    return r;
  }

  /// Inverse of ratings() up to the additive normalisation: theta differences from ratings.
  [[nodiscard]] T theta_difference(T rating_i, T rating_j) const {
    validate();
    return (rating_i - rating_j) / points_per_theta();
  }

  /// Elo expected score of i against j: 1 / (1 + base^((R_j - R_i) / scale)).
  [[nodiscard]] T expected_score(T rating_i, T rating_j) const {
    validate();
    return T(1) / (T(1) + std::pow(base, (rating_j - rating_i) / scale));
  }
};

}  // namespace prefopt::prefmodel
