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
#include "prefopt/core/text_input.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

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

/// Strongly connected components of a directed graph given as adjacency lists (iterative
/// Kosaraju); returns the component id of each node, ids in topological order of the
/// condensation (component 0 has no incoming edge from another component).
inline std::vector<index_t> strong_components(const std::vector<std::vector<index_t>>& out,
                                              index_t& count) {
  const auto n = static_cast<index_t>(out.size());
  std::vector<std::vector<index_t>> in(out.size());
  for (index_t v = 0; v < n; ++v)
    for (index_t w : out[v]) in[w].push_back(v);
  std::vector<index_t> order;
  order.reserve(out.size());
  std::vector<char> seen(out.size(), 0);
  std::vector<std::pair<index_t, std::size_t>> stack;
  for (index_t s = 0; s < n; ++s) {
    if (seen[s]) continue;
    seen[s] = 1;
    stack.push_back({s, 0});
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next < out[v].size()) {
        const index_t w = out[v][next++];
        if (!seen[w]) {
          seen[w] = 1;
          stack.push_back({w, 0});
        }
      } else {
        order.push_back(v);
        stack.pop_back();
      }
    }
  }
  std::vector<index_t> comp(out.size(), -1);
  count = 0;
  std::vector<index_t> todo;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (comp[*it] >= 0) continue;
    todo.push_back(*it);
    comp[*it] = count;
    while (!todo.empty()) {
      const index_t v = todo.back();
      todo.pop_back();
      for (index_t w : in[v])
        if (comp[w] < 0) {
          comp[w] = count;
          todo.push_back(w);
        }
    }
    ++count;
  }
  return comp;
}

}  // namespace detail

/// Throws prefopt::invalid_argument, naming items, when the Bradley-Terry MLE (no prior) on these
/// aggregated comparisons does not exist: an item without comparisons, a disconnected comparison
/// graph, an item that never won or never lost, or more generally a group of items that won every
/// comparison against the rest.
template <class T>
void require_bt_estimable(index_t n, std::span<const pair_record<T>> pairs,
                          const std::vector<std::string>* names = nullptr) {
  require(n >= 1, "num_items", n, "need at least one item");
  const auto sz = static_cast<std::size_t>(n);
  std::vector<std::vector<index_t>> beat(sz);  // i -> j: i beat or tied j
  std::vector<T> won(sz, T(0)), lost(sz, T(0)), played(sz, T(0));
  for (const auto& r : pairs) {
    require(r.i >= 0 && r.j < n && r.i < r.j, "pair", r.i, "pair records need 0 <= i < j < n");
    if (r.wins_i + r.ties > T(0)) beat[r.i].push_back(r.j);
    if (r.wins_j + r.ties > T(0)) beat[r.j].push_back(r.i);
    won[r.i] += r.wins_i + r.ties;
    won[r.j] += r.wins_j + r.ties;
    lost[r.i] += r.wins_j + r.ties;
    lost[r.j] += r.wins_i + r.ties;
    played[r.i] += r.total();
    played[r.j] += r.total();
  }
  const char* fix = " (add a prior, e.g. prior_sigma > 0 / --prior, or remove the item)";
  for (index_t i = 0; i < n; ++i) {
    if (n > 1 && played[i] == T(0))
      throw invalid_argument("Bradley-Terry: item " + detail::item_name(i, names) +
                             " has no comparisons, so its rating is not identified" + fix);
    if (n > 1 && won[i] == T(0))
      throw invalid_argument("Bradley-Terry: item " + detail::item_name(i, names) +
                             " never won or tied a comparison: its maximum-likelihood rating is "
                             "-infinity" + fix);
    if (n > 1 && lost[i] == T(0))
      throw invalid_argument("Bradley-Terry: item " + detail::item_name(i, names) +
                             " never lost or tied a comparison: its maximum-likelihood rating is "
                             "+infinity" + fix);
  }
  // Undirected connectivity first: a disconnected graph is the more basic explanation.
  std::vector<std::vector<index_t>> both(sz);
  for (const auto& r : pairs)
    if (r.total() > T(0)) {
      both[r.i].push_back(r.j);
      both[r.j].push_back(r.i);
    }
  index_t parts = 0;
  const auto weak = detail::strong_components(both, parts);
  if (parts > 1) {
    std::vector<index_t> first, rest;
    for (index_t i = 0; i < n; ++i) (weak[i] == weak[0] ? first : rest).push_back(i);
    throw invalid_argument("Bradley-Terry: the comparison graph is disconnected (" +
                           std::to_string(parts) + " components): items " +
                           detail::name_list(first, names) + " are never compared, even "
                           "indirectly, with items " + detail::name_list(rest, names) +
                           ", so their relative ratings are not identified" + fix);
  }
  index_t count = 0;
  const auto comp = detail::strong_components(beat, count);
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
