#pragma once
// Paired-comparison data aggregated into counts. Every preference model in prefopt::prefmodel is
// fitted on these aggregates (one record per unordered pair that was compared), never on the raw
// battle list: an arena log with millions of battles between ~100 models collapses to at most
// n(n-1)/2 records, so a Newton step costs O(pairs + n^3) regardless of the number of battles.
//
// Each record keeps both the weighted totals (what the likelihood uses) and the raw battle counts
// per outcome (what the multinomial bootstrap resamples; see bootstrap.hpp).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::prefmodel {

namespace detail {

/// Open-addressing (linear probing) map from a 64-bit pair key to a record index. The pair lookup
/// runs once per battle when a log is read; std::unordered_map allocated a node for every new
/// pair (10^7 of them for 10^7 battles between 10^6 items) and chased a pointer per lookup.
class pair_index_map {
 public:
  /// Index stored under key, inserting `fresh` when the key is new; `inserted` tells which.
  index_t find_or_insert(std::uint64_t key, index_t fresh, bool& inserted) {
    if (10 * (size_ + 1) > 7 * keys_.size()) grow();  // load factor <= 0.7
    const std::size_t mask = keys_.size() - 1;
    for (std::size_t at = mix(key) & mask;; at = (at + 1) & mask) {
      if (keys_[at] == key) {
        inserted = false;
        return values_[at];
      }
      if (keys_[at] == empty) {
        keys_[at] = key;
        values_[at] = fresh;
        ++size_;
        inserted = true;
        return fresh;
      }
    }
  }

 private:
  static constexpr std::uint64_t empty = ~std::uint64_t(0);  // never a key: i < j < 2^31

  static std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  void grow() {
    std::vector<std::uint64_t> keys(std::max<std::size_t>(16, 2 * keys_.size()), empty);
    std::vector<index_t> values(keys.size());
    const std::size_t mask = keys.size() - 1;
    for (std::size_t k = 0; k < keys_.size(); ++k) {
      if (keys_[k] == empty) continue;
      std::size_t at = mix(keys_[k]) & mask;
      while (keys[at] != empty) at = (at + 1) & mask;
      keys[at] = keys_[k];
      values[at] = values_[k];
    }
    keys_.swap(keys);
    values_.swap(values);
  }

  std::vector<std::uint64_t> keys_;
  std::vector<index_t> values_;
  std::size_t size_ = 0;
};

/// Open-addressing map from an item name to its id; the names live in the owner's vector. Each
/// slot keeps the full 64-bit hash, so a probe compares strings only on a hash match: one or two
/// cache lines per lookup instead of std::unordered_map's node chain (the lookup runs twice per
/// battle when a log is read).
class name_index_map {
 public:
  static std::uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

  /// Id of name (hash h) or -1.
  [[nodiscard]] index_t find(std::string_view name, std::uint64_t h,
                             const std::vector<std::string>& names) const {
    if (ids_.empty()) return -1;
    const std::size_t mask = ids_.size() - 1;
    for (std::size_t at = h & mask;; at = (at + 1) & mask) {
      if (ids_[at] < 0) return -1;
      if (hashes_[at] == h && names[static_cast<std::size_t>(ids_[at])] == name) return ids_[at];
    }
  }

  /// Records a new id (its name must not be present).
  void insert(std::uint64_t h, index_t id) {
    if (10 * (size_ + 1) > 7 * ids_.size()) grow();
    place(h, id, hashes_, ids_);
    ++size_;
  }

 private:
  static void place(std::uint64_t h, index_t id, std::vector<std::uint64_t>& hashes,
                    std::vector<index_t>& ids) {
    const std::size_t mask = ids.size() - 1;
    std::size_t at = h & mask;
    while (ids[at] >= 0) at = (at + 1) & mask;
    hashes[at] = h;
    ids[at] = id;
  }

  void grow() {
    std::vector<std::uint64_t> hashes(std::max<std::size_t>(16, 2 * ids_.size()));
    std::vector<index_t> ids(hashes.size(), -1);
    for (std::size_t k = 0; k < ids_.size(); ++k)
      if (ids_[k] >= 0) place(hashes_[k], ids_[k], hashes, ids);
    hashes_.swap(hashes);
    ids_.swap(ids);
  }

  std::vector<std::uint64_t> hashes_;
  std::vector<index_t> ids_;
  std::size_t size_ = 0;
};

}  // namespace detail

/// Result of one comparison between model_a and model_b. The names are Chatbot Arena's (FastChat's
/// battle logs: columns model_a, model_b, winner = "model_a" | "model_b" | "tie"), so a battle,
/// a log row and an outcome use one vocabulary; an "item" of comparison_data is such a model.
enum class outcome : unsigned char { model_a_wins, model_b_wins, tie };

/// Aggregated outcomes of all comparisons between items i < j.
template <class T = double>
struct pair_record {
  index_t i = 0, j = 0;                       // i < j
  T wins_i = 0, wins_j = 0, ties = 0;         // weighted totals
  index_t n_wins_i = 0, n_wins_j = 0, n_ties = 0;  // battle counts

  [[nodiscard]] T total() const { return wins_i + wins_j + ties; }
  [[nodiscard]] index_t battles() const { return n_wins_i + n_wins_j + n_ties; }
};

/// One raw comparison, as read from a battle log: model_a met model_b, `result` says who won.
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
    const std::uint64_t h = detail::name_index_map::hash(name);
    if (const index_t found = ids_.find(name, h, names_); found >= 0) return found;
    const auto id = static_cast<index_t>(names_.size());
    require(id < (index_t(1) << 31), "num_items()", id, "too many items");
    names_.emplace_back(name);
    ids_.insert(h, id);
    battles_of_.push_back(0);
    return id;
  }

  [[nodiscard]] std::optional<index_t> find(std::string_view name) const {
    const index_t found = ids_.find(name, detail::name_index_map::hash(name), names_);
    if (found < 0) return std::nullopt;
    return found;
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

  /// Records `count` comparisons of item `model_a` against item `model_b` with outcome `result`,
  /// each of weight `weight` (so the weighted total grows by count * weight).
  void add(index_t model_a, index_t model_b, outcome result, T weight = T(1), index_t count = 1) {
    check_item("model_a", model_a);
    check_item("model_b", model_b);
    require(model_a != model_b, "model_b", model_b, "an item cannot be compared with itself");
    require(std::isfinite(weight) && weight >= T(0), "weight", weight, "must be finite and >= 0");
    require(count >= 0, "count", count, "must be >= 0");
    if (count == 0) return;
    const bool swapped = model_a > model_b;
    const index_t i = swapped ? model_b : model_a, j = swapped ? model_a : model_b;
    const std::uint64_t key = (static_cast<std::uint64_t>(i) << 32) | static_cast<std::uint64_t>(j);
    bool inserted = false;
    const index_t at = pair_ids_.find_or_insert(key, static_cast<index_t>(pairs_.size()), inserted);
    if (inserted) pairs_.push_back(pair_record<T>{i, j});
    pair_record<T>& rec = pairs_[static_cast<std::size_t>(at)];
    const T w = weight * static_cast<T>(count);
    if (result == outcome::tie) {
      rec.ties += w;
      rec.n_ties += count;
    } else if ((result == outcome::model_a_wins) != swapped) {  // item i won
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
  void add(std::string_view model_a, std::string_view model_b, outcome result, T weight = T(1)) {
    require(model_a != model_b, "model_b", model_b, "an item cannot be compared with itself");
    const index_t a = add_item(model_a);
    const index_t b = add_item(model_b);
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
        data.add(i, j, outcome::model_a_wins, T(1), as_count("wins", wins[i * n + j]));
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

  std::vector<std::string> names_;
  detail::name_index_map ids_;
  std::vector<pair_record<T>> pairs_;
  detail::pair_index_map pair_ids_;
  std::vector<index_t> battles_of_;
  index_t total_battles_ = 0;
  T total_weight_ = 0;
};

}  // namespace prefopt::prefmodel
