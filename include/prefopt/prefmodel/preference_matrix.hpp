#pragma once
// The general (possibly non-transitive) preference matrix P with P(i, j) = Pr(item i beats item
// j). It is the meeting point of preference models (Bradley-Terry, PairRM, GPM produce one) and
// games (the symmetric constant-sum game with payoff P - 1/2 is solved by prefopt/game).
//
// Invariants checked on construction: entries in [0, 1], P(i, i) = 1/2 and P(i, j) + P(j, i) = 1
// off the diagonal, both within `tolerance`.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::prefmodel {

template <class T = double>
class preference_matrix {
 public:
  using scalar_type = T;
  static constexpr T default_tolerance = T(1e-9);

  preference_matrix() = default;

  /// Takes a row-major n x n matrix and validates it.
  preference_matrix(index_t n, std::vector<T> row_major, T tolerance = default_tolerance)
      : n_(n), p_(std::move(row_major)) {
    require(n >= 1, "n", n, "a preference matrix needs at least one item");
    require_same_size("row_major.size()", static_cast<long long>(p_.size()), "n * n",
                      static_cast<long long>(n * n));
    require(std::isfinite(tolerance) && tolerance >= T(0), "tolerance", tolerance,
            "must be finite and >= 0");
    for (index_t i = 0; i < n_; ++i) {
      for (index_t j = 0; j < n_; ++j) {
        const T pij = (*this)(i, j);
        const std::string at = "P(" + std::to_string(i) + ", " + std::to_string(j) + ")";
        require(pij >= T(0) && pij <= T(1), at, pij, "must lie in [0, 1]");
        if (i == j) {
          require(std::fabs(pij - T(0.5)) <= tolerance, at, pij, "diagonal entries must be 1/2");
        } else if (i < j) {
          const T sum = pij + (*this)(j, i);
          require(std::fabs(sum - T(1)) <= tolerance, at + " + P(" + std::to_string(j) + ", " +
                                                          std::to_string(i) + ")",
                  sum, "must equal 1 (P + P^T = 1 off the diagonal)");
        }
      }
    }
  }

  [[nodiscard]] index_t size() const { return n_; }
  [[nodiscard]] T operator()(index_t i, index_t j) const { return p_[i * n_ + j]; }
  [[nodiscard]] const T* data() const { return p_.data(); }
  [[nodiscard]] const std::vector<T>& values() const { return p_; }

  /// Payoff matrix A = P - 1/2 of the symmetric zero-sum game (row-major): skew-symmetric.
  [[nodiscard]] std::vector<T> payoff() const {
    std::vector<T> a(p_);
    for (T& x : a) x -= T(0.5);
    return a;
  }

 private:
  index_t n_ = 0;
  std::vector<T> p_;
};

}  // namespace prefopt::prefmodel
