#pragma once
// Two-player zero-sum matrix games: the row player picks x in the simplex Δ_m and maximises
// xᵀAy, the column player picks y in Δ_n and minimises it.
//
// The preference game behind SPPO (Wu et al. 2024, arXiv:2405.00675, eq. 3.1) is the symmetric
// constant-sum game in which both players choose a response distribution and the row player wins
// P(y ≻ y'). Subtracting the constant ½ gives the zero-sum game with the skew-symmetric payoff
// A = P − ½ (Aᵀ = −A), whose value is 0; reported values add `value_offset()` = ½ back, so a
// preference game has value ½ ("no response is preferred to the equilibrium more than half of
// the time").
//
// matrix_game_batch stores many small games of one shape contiguously (one per prompt in SPPO),
// game k at data() + k·rows·cols, each row-major.

#include <cmath>
#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::game {

namespace detail {
template <class T>
void require_finite_entries(const std::vector<T>& values, std::string_view what) {
  for (std::size_t i = 0; i < values.size(); ++i)
    require(std::isfinite(values[i]), std::string(what) + "[" + std::to_string(i) + "]",
            values[i], "payoff entries must be finite");
}
}  // namespace detail

template <std::floating_point T = double>
class matrix_game {
 public:
  using scalar_type = T;

  matrix_game() = default;

  /// General zero-sum game from a row-major rows x cols payoff matrix (row player maximises).
  matrix_game(index_t rows, index_t cols, std::vector<T> row_major)
      : rows_(rows), cols_(cols), a_(std::move(row_major)) {
    require(rows >= 1, "rows", rows, "a game needs at least one row strategy");
    require(cols >= 1, "cols", cols, "a game needs at least one column strategy");
    require_same_size("payoff.size()", static_cast<long long>(a_.size()), "rows * cols",
                      static_cast<long long>(rows * cols));
    detail::require_finite_entries(a_, "payoff");
  }

  /// The symmetric preference game: A = P − ½ (skew-symmetric), reported values offset by ½.
  static matrix_game from_preferences(const prefmodel::preference_matrix<T>& p) {
    matrix_game g(p.size(), p.size(), p.payoff());
    g.symmetric_ = true;
    g.offset_ = T(0.5);
    return g;
  }

  /// A skew-symmetric payoff (Aᵀ = −A within `tolerance`), e.g. logit(P) as in Nash averaging.
  static matrix_game skew_symmetric(index_t n, std::vector<T> row_major, T tolerance = T(1e-12)) {
    matrix_game g(n, n, std::move(row_major));
    for (index_t i = 0; i < n; ++i)
      for (index_t j = i; j < n; ++j) {
        const T s = g(i, j) + g(j, i);
        require(std::fabs(s) <= tolerance,
                "A(" + std::to_string(i) + ", " + std::to_string(j) + ") + A(" +
                    std::to_string(j) + ", " + std::to_string(i) + ")",
                s, "must be 0 for a skew-symmetric game");
      }
    g.symmetric_ = true;
    return g;
  }

  [[nodiscard]] index_t rows() const { return rows_; }
  [[nodiscard]] index_t cols() const { return cols_; }
  [[nodiscard]] T operator()(index_t i, index_t j) const { return a_[i * cols_ + j]; }
  [[nodiscard]] const T* data() const { return a_.data(); }
  [[nodiscard]] const std::vector<T>& values() const { return a_; }
  /// True for skew-symmetric payoffs: both players face the same problem, so solvers may run
  /// self-play on a single strategy (x = y), halving the work.
  [[nodiscard]] bool symmetric() const { return symmetric_; }
  /// Added to xᵀAy when a value is reported (½ for preference games, 0 otherwise).
  [[nodiscard]] T value_offset() const { return offset_; }
  /// Same payoffs, values reported with `offset` added (e.g. ½ for a constant-sum game).
  [[nodiscard]] matrix_game with_value_offset(T offset) const {
    require_finite("offset", offset);
    matrix_game g(*this);
    g.offset_ = offset;
    return g;
  }

 private:
  index_t rows_ = 0;
  index_t cols_ = 0;
  std::vector<T> a_;
  bool symmetric_ = false;
  T offset_ = T(0);
};

/// `count` games of shape rows x cols, stored back to back (game k starts at k·rows·cols).
template <std::floating_point T = double>
class matrix_game_batch {
 public:
  using scalar_type = T;

  matrix_game_batch() = default;

  matrix_game_batch(index_t count, index_t rows, index_t cols, std::vector<T> values)
      : count_(count), rows_(rows), cols_(cols), a_(std::move(values)) {
    require(count >= 1, "count", count, "a batch needs at least one game");
    require(rows >= 1, "rows", rows, "a game needs at least one row strategy");
    require(cols >= 1, "cols", cols, "a game needs at least one column strategy");
    require_same_size("values.size()", static_cast<long long>(a_.size()), "count * rows * cols",
                      static_cast<long long>(count * rows * cols));
    detail::require_finite_entries(a_, "values");
  }

  /// One symmetric preference game per matrix (all of the same size), payoffs P − ½.
  static matrix_game_batch from_preferences(const std::vector<prefmodel::preference_matrix<T>>& ps) {
    require(!ps.empty(), "ps.size()", ps.size(), "a batch needs at least one game");
    const index_t n = ps.front().size();
    std::vector<T> values;
    values.reserve(ps.size() * static_cast<std::size_t>(n * n));
    for (std::size_t k = 0; k < ps.size(); ++k) {
      require_same_size("ps[" + std::to_string(k) + "].size()", ps[k].size(), "ps[0].size()", n);
      for (T p : ps[k].values()) values.push_back(p - T(0.5));
    }
    matrix_game_batch b(static_cast<index_t>(ps.size()), n, n, std::move(values));
    b.symmetric_ = true;
    b.offset_ = T(0.5);
    return b;
  }

  [[nodiscard]] index_t count() const { return count_; }
  [[nodiscard]] index_t rows() const { return rows_; }
  [[nodiscard]] index_t cols() const { return cols_; }
  [[nodiscard]] const T* data() const { return a_.data(); }
  [[nodiscard]] const std::vector<T>& values() const { return a_; }
  [[nodiscard]] bool symmetric() const { return symmetric_; }
  [[nodiscard]] T value_offset() const { return offset_; }

  /// Copy of game k as a standalone matrix_game.
  [[nodiscard]] matrix_game<T> game(index_t k) const {
    require(k >= 0 && k < count_, "k", k, "must index a game of the batch");
    const auto first = a_.begin() + k * rows_ * cols_;
    std::vector<T> a(first, first + rows_ * cols_);
    if (symmetric_) {
      matrix_game<T> g = matrix_game<T>::skew_symmetric(rows_, std::move(a), T(1e-6));
      return g.with_value_offset(offset_);
    }
    return matrix_game<T>(rows_, cols_, std::move(a));
  }

 private:
  index_t count_ = 0;
  index_t rows_ = 0;
  index_t cols_ = 0;
  std::vector<T> a_;
  bool symmetric_ = false;
  T offset_ = T(0);
};

}  // namespace prefopt::game
