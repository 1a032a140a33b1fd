#pragma once
// Test inputs from raw std::mt19937_64 bits with the tests' own distribution code (so the
// streams do not depend on the standard library's distribution implementations).
#include <cmath>
#include <cstdint>
#include <random>

namespace prefopt_test {

class bits_rng {
 public:
  explicit bits_rng(std::uint64_t seed) : gen_(seed) {}
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  /// Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  /// Standard normal by Box-Muller (u1 in (0, 1]).
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  /// Integer in [0, n) by rejection (no modulo bias).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    for (;;) {
      const std::uint64_t r = gen_();
      if (r < limit) return r % n;
    }
  }

 private:
  std::mt19937_64 gen_;
};

}  // namespace prefopt_test
