#pragma once
// When does the Bradley-Terry maximum-likelihood estimate exist? Zermelo (1929) / Ford (1957):
// the MLE is finite and unique iff, for every split of the items into two non-empty groups, some
// item of each group beat (or tied, ties bounding the rating gap from both sides) some item of
// the other -- i.e. the directed "beat-or-tied" graph is strongly connected. Otherwise a group's
// ratings run off to +/- infinity and Newton would diverge silently. This header checks the
// condition and explains the failure with item names, so the caller can drop items or add a prior.

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/prefmodel/comparisons.hpp"
#include "prefopt/prefmodel/detail/pair_graph.hpp"

namespace prefopt::prefmodel {

namespace detail {

inline std::string name_list(const std::vector<index_t>& items,
                             const std::vector<std::string>* names, std::size_t limit = 6) {
  std::string out = "{";
  for (std::size_t k = 0; k < items.size() && k < limit; ++k) {
    if (k) out += ", ";
    out += names ? quote_text((*names)[static_cast<std::size_t>(items[k])], '\'')
                 : std::to_string(items[k]);
  }
  if (items.size() > limit) out += ", ... (" + std::to_string(items.size()) + " items)";
  return out + "}";
}

inline std::string item_name(index_t i, const std::vector<std::string>* names) {
  return names ? quote_text((*names)[static_cast<std::size_t>(i)], '\'') : std::to_string(i);
}

}  // namespace detail

/// Throws prefopt::invalid_argument, naming items, when the Bradley-Terry MLE (no prior) on these
/// aggregated comparisons does not exist: items without comparisons, a disconnected comparison
/// graph, items that never won or never lost, or more generally a group of items that won every
/// comparison against the rest. O(n + pairs) time and memory (flat adjacency arrays, union-find
/// and an iterative Kosaraju), so it is cheap next to a fit even at 10^6 items; each message names
/// the first few offending items and how many there are.
template <class T>
void require_bt_estimable(index_t n, std::span<const pair_record<T>> pairs,
                          const std::vector<std::string>* names = nullptr) {
  require(n >= 1, "num_items", n, "need at least one item");
  require(n <= (index_t(1) << 32), "num_items", n, "must be < 2^32");
  const auto sz = static_cast<std::size_t>(n);
  std::vector<T> won(sz, T(0)), lost(sz, T(0)), played(sz, T(0));
  for (const auto& r : pairs) {
    require(r.i >= 0 && r.j < n && r.i < r.j, "pair", r.i, "pair records need 0 <= i < j < n");
    won[r.i] += r.wins_i + r.ties;
    won[r.j] += r.wins_j + r.ties;
    lost[r.i] += r.wins_j + r.ties;
    lost[r.j] += r.wins_i + r.ties;
    played[r.i] += r.total();
    played[r.j] += r.total();
  }
  const char* fix = " (add a prior, e.g. prior_sigma > 0 / --prior, or remove the item)";
  if (n == 1) return;
  const auto offenders = [&](const std::vector<T>& count) {
    std::vector<index_t> out;
    for (index_t i = 0; i < n; ++i)
      if (count[i] == T(0)) out.push_back(i);
    return out;
  };
  // One message per kind, naming a few items: "item 'x'" or "items {'x', 'y', ... (N items)}".
  const auto subject = [&](const std::vector<index_t>& items) {
    return items.size() == 1 ? "item " + detail::item_name(items[0], names)
                             : "items " + detail::name_list(items, names);
  };
  if (const auto none = offenders(played); !none.empty())
    throw invalid_argument("Bradley-Terry: " + subject(none) +
                           (none.size() == 1 ? " has" : " have") + " no comparisons, so " + (none.size() == 1 ? "its rating is" : "their ratings are") +
                           " not identified" + fix);
  if (const auto none = offenders(won); !none.empty())
    throw invalid_argument("Bradley-Terry: " + subject(none) +
                           " never won or tied a comparison: " +
                           (none.size() == 1 ? "its" : "their") +
                           " maximum-likelihood rating is -infinity" + fix);
  if (const auto none = offenders(lost); !none.empty())
    throw invalid_argument("Bradley-Terry: " + subject(none) +
                           " never lost or tied a comparison: " +
                           (none.size() == 1 ? "its" : "their") +
                           " maximum-likelihood rating is +infinity" + fix);
  // Undirected connectivity first: a disconnected graph is the more basic explanation.
  detail::union_find uf(n);
  index_t parts = n;
  for (const auto& r : pairs)
    if (r.total() > T(0) && uf.unite(r.i, r.j)) --parts;
  if (parts > 1) {
    std::vector<index_t> first, rest;
    const index_t root0 = uf.find(0);
    for (index_t i = 0; i < n; ++i) (uf.find(i) == root0 ? first : rest).push_back(i);
    throw invalid_argument("Bradley-Terry: the comparison graph is disconnected (" +
                           std::to_string(parts) + " components): items " +
                           detail::name_list(first, names) + " are never compared, even "
                           "indirectly, with items " + detail::name_list(rest, names) +
                           ", so their relative ratings are not identified" + fix);
  }
  // Directed "beat or tied" graph (i -> j: i beat or tied j) and its reverse.
  const auto beat_edges = [&](bool reverse) {
    return [&pairs, reverse](auto&& emit) {
      for (std::size_t p = 0; p < pairs.size(); ++p) {
        const auto& r = pairs[p];
        const index_t a = reverse ? r.j : r.i, b = reverse ? r.i : r.j;
        if (r.wins_i + r.ties > T(0)) emit(a, b, p);  // i -> j
        if (r.wins_j + r.ties > T(0)) emit(b, a, p);  // j -> i
      }
    };
  };
  const auto out = detail::csr_from_edges(n, beat_edges(false));
  const auto in = detail::csr_from_edges(n, beat_edges(true));
  index_t count = 0;
  const auto comp = detail::strong_components(out, in, count);
  if (count > 1) {
    std::vector<index_t> top, rest;
    for (index_t i = 0; i < n; ++i) (comp[i] == 0 ? top : rest).push_back(i);
    throw invalid_argument("Bradley-Terry: items " + detail::name_list(top, names) +
                           " won every comparison against items " +
                           detail::name_list(rest, names) +
                           ", so the maximum-likelihood rating gap is infinite" + fix);
  }
}

template <class T>
void require_bt_estimable(const comparison_data<T>& data) {
  require_bt_estimable<T>(data.num_items(), data.pairs(), &data.names());
}

}  // namespace prefopt::prefmodel
