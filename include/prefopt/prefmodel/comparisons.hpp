#pragma once
// Paired-comparison data aggregated into counts. Every preference model in prefopt::prefmodel is
// fitted on these aggregates (one record per unordered pair that was compared), never on the raw
// battle list: an arena log with millions of battles between ~100 models collapses to at most
// n(n-1)/2 records, so a Newton step costs O(pairs + n^3) regardless of the number of battles.
//
// Each record keeps both the weighted totals (what the likelihood uses) and the raw battle counts
// per outcome (what the multinomial bootstrap resamples; see bootstrap.hpp).

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::prefmodel {

/// Result of one comparison between a first and a second item.
enum class outcome : unsigned char { first_wins, second_wins, tie };

/// Aggregated outcomes of all comparisons between items i < j.
template <class T = double>
struct pair_record {
  index_t i = 0, j = 0;                       // i < j
  T wins_i = 0, wins_j = 0, ties = 0;         // weighted totals
  index_t n_wins_i = 0, n_wins_j = 0, n_ties = 0;  // battle counts

  [[nodiscard]] T total() const { return wins_i + wins_j + ties; }
  [[nodiscard]] index_t battles() const { return n_wins_i + n_wins_j + n_ties; }
};

/// One raw comparison, as read from a battle log.
template <class T = double>
struct battle {
  std::string model_a, model_b;
  outcome result = outcome::tie;
  T weight = T(1);
};

/// n named items and their pairwise outcomes aggregated into counts.
template <class T = double>
class comparison_data {
 public:
  using scalar_type = T;

  comparison_data() = default;

  /// Items named by `names` (must be distinct), no comparisons yet.
  explicit comparison_data(std::vector<std::string> names) {
    for (auto& nm : names) {
      require(!find(nm).has_value(), "names", nm, "item names must be distinct");
      add_item(nm);
    }
  }

  /// n anonymous items named "0", ..., "n-1".
  explicit comparison_data(index_t n) {
    require(n >= 0, "n", n, "must be >= 0");
    for (index_t k = 0; k < n; ++k) add_item(std::to_string(k));
  }

  /// Id of `name`, adding it as a new item when unknown.
  index_t add_item(std::string_view name) {
    require(!name.empty(), "name", name, "item names must be non-empty");
    if (auto id = find(name)) return *id;
    const auto id = static_cast<index_t>(names_.size());
    require(id < (index_t(1) << 31), "num_items()", id, "too many items");
    names_.emplace_back(name);
    ids_.emplace(names_.back(), id);
    battles_of_.push_back(0);
    return id;
  }

  [[nodiscard]] std::optional<index_t> find(std::string_view name) const {
    const auto it = ids_.find(name);  // heterogeneous lookup: no std::string per call
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

  /// Id of an existing item; throws naming the unknown item otherwise.
  [[nodiscard]] index_t id(std::string_view name) const {
    const auto found = find(name);
    require(found.has_value(), "name", name, "no such item");
    return *found;
  }

  [[nodiscard]] const std::string& name(index_t item) const {
    check_item("item", item);
    return names_[static_cast<std::size_t>(item)];
  }
  [[nodiscard]] const std::vector<std::string>& names() const { return names_; }
  [[nodiscard]] index_t num_items() const { return static_cast<index_t>(names_.size()); }
  [[nodiscard]] const std::vector<pair_record<T>>& pairs() const { return pairs_; }

  /// Battles item `item` took part in (unweighted count).
  [[nodiscard]] index_t battles(index_t item) const {
    check_item("item", item);
    return battles_of_[static_cast<std::size_t>(item)];
  }
  [[nodiscard]] index_t total_battles() const { return total_battles_; }
  [[nodiscard]] T total_weight() const { return total_weight_; }

  /// Records `count` comparisons of `first` against `second` with outcome `result`, each of
  /// weight `weight` (so the weighted total grows by count * weight).
  void add(index_t first, index_t second, outcome result, T weight = T(1), index_t count = 1) {
    check_item("first", first);
    check_item("second", second);
    require(first != second, "second", second, "an item cannot be compared with itself");
    require(std::isfinite(weight) && weight >= T(0), "weight", weight, "must be finite and >= 0");
    require(count >= 0, "count", count, "must be >= 0");
    if (count == 0) return;
    const bool swapped = first > second;
    const index_t i = swapped ? second : first, j = swapped ? first : second;
    const std::uint64_t key = (static_cast<std::uint64_t>(i) << 32) | static_cast<std::uint64_t>(j);
    auto [it, inserted] = pair_ids_.try_emplace(key, static_cast<index_t>(pairs_.size()));
    if (inserted) pairs_.push_back(pair_record<T>{i, j});
    pair_record<T>& rec = pairs_[static_cast<std::size_t>(it->second)];
    const T w = weight * static_cast<T>(count);
    if (result == outcome::tie) {
      rec.ties += w;
      rec.n_ties += count;
    } else if ((result == outcome::first_wins) != swapped) {  // item i won
      rec.wins_i += w;
      rec.n_wins_i += count;
    } else {
      rec.wins_j += w;
      rec.n_wins_j += count;
    }
    battles_of_[static_cast<std::size_t>(i)] += count;
    battles_of_[static_cast<std::size_t>(j)] += count;
    total_battles_ += count;
    total_weight_ += w;
  }

  /// Same, by item name (unknown names become new items).
  void add(std::string_view first, std::string_view second, outcome result, T weight = T(1)) {
    require(first != second, "second", second, "an item cannot be compared with itself");
    const index_t a = add_item(first);
    const index_t b = add_item(second);
    add(a, b, result, weight);
  }

  /// Builds the aggregate from a battle list; items are numbered in order of first appearance.
  [[nodiscard]] static comparison_data from_battles(std::span<const battle<T>> battles) {
    comparison_data data;
    for (const auto& b : battles) data.add(b.model_a, b.model_b, b.result, b.weight);
    return data;
  }

  /// Builds the aggregate from a dense n x n matrix of win counts (row-major; wins[i*n+j] = times
  /// i beat j) and optionally a symmetric matrix of tie counts. Counts must be whole numbers.
  [[nodiscard]] static comparison_data from_win_matrix(index_t n, std::span<const T> wins,
                                                       std::span<const T> ties = {}) {
    require(n >= 0, "n", n, "must be >= 0");
    require_same_size("wins.size()", static_cast<long long>(wins.size()), "n * n", n * n);
    if (!ties.empty())
      require_same_size("ties.size()", static_cast<long long>(ties.size()), "n * n", n * n);
    comparison_data data(n);
    auto as_count = [](const char* arg, T v) {
      require(std::isfinite(v) && v >= T(0) && v == std::floor(v), arg, v,
              "counts must be whole numbers >= 0");
      return static_cast<index_t>(v);
    };
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) {
        if (i == j) continue;
        data.add(i, j, outcome::first_wins, T(1), as_count("wins", wins[i * n + j]));
        if (!ties.empty() && i < j) {
          require(ties[i * n + j] == ties[j * n + i], "ties", ties[i * n + j],
                  "the tie matrix must be symmetric");
          data.add(i, j, outcome::tie, T(1), as_count("ties", ties[i * n + j]));
        }
      }
    // An item cannot meet itself: a diagonal count is a layout error, not data to drop silently.
    for (index_t i = 0; i < n; ++i)
      for (const auto& [arg, m] : {std::pair{"wins[", wins}, std::pair{"ties[", ties}})
        if (!m.empty() && m[i * n + i] != T(0)) {
          std::string at(arg);  // appended: GCC 12 -Wrestrict false positive on "lit" + str
          at.append(std::to_string(i * n + i)).append("] (diagonal)");
          throw_invalid_argument(at, m[i * n + i], "must be 0");
        }
    return data;
  }

 private:
  void check_item(const char* arg, index_t item) const {
    require(item >= 0 && item < num_items(), arg, item,
            "must be an item id in [0, num_items())");
  }

  // Transparent hash / equality, so that looking up a name (once per battle when reading a log)
  // hashes the string_view in place instead of building a std::string.
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  std::vector<std::string> names_;
  std::unordered_map<std::string, index_t, name_hash, std::equal_to<>> ids_;
  std::vector<pair_record<T>> pairs_;
  std::unordered_map<std::uint64_t, index_t> pair_ids_;
  std::vector<index_t> battles_of_;
  index_t total_battles_ = 0;
  T total_weight_ = 0;
};

}  // namespace prefopt::prefmodel
