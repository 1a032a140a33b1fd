#pragma once
// Sampling from raw std::mt19937_64 bits with our own arithmetic, so a seed gives the same draws
// with every standard library (std::uniform_real_distribution and friends are
// implementation-defined).

#include <cstdint>
#include <random>
#include <span>

#include "prefopt/config.hpp"

namespace prefopt::selfplay {

/// Uniform in [0, 1) from the 53 high bits of one draw.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// An index drawn from the distribution `p` (non-negative, summing to ~1) by inversion; the last
/// index with positive probability absorbs rounding.
inline index_t sample_index(std::span<const double> p, std::mt19937_64& rng) {
  const double u = uniform01(rng);
  double cumulative = 0.0;
  index_t last = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0.0) continue;
    last = static_cast<index_t>(i);
    cumulative += p[i];
    if (u < cumulative) return last;
  }
  return last;
}

}  // namespace prefopt::selfplay
