#pragma once
// Compressed adjacency (CSR) of the comparison graph, built from the pair records in O(n + pairs)
// by a counting sort. Shared by the estimability check (directed "beat or tied" graph) and the
// sparse Bradley-Terry solver (undirected graph whose edge weights are the per-pair curvatures).
// A flat layout instead of one std::vector per item: at 10^6 items the per-vector headers and
// allocations alone cost more than the edges.

#include <cstdint>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"

namespace prefopt::prefmodel::detail {

struct csr_graph {
  std::vector<std::int64_t> offset;      // n + 1 row starts
  std::vector<std::uint32_t> neighbour;  // target of each entry
  std::vector<std::uint32_t> pair;       // pair record that produced the entry

  [[nodiscard]] index_t rows() const { return static_cast<index_t>(offset.size()) - 1; }
};

/// CSR of the directed edges emitted by edges(emit): emit(from, to, pair_index) is called for
/// every edge, twice over (a counting pass, then a filling pass), in the same order both times.
/// Within a row, entries keep the emission order, so the layout is deterministic.
template <class EmitAll>
csr_graph csr_from_edges(index_t n, EmitAll&& edges) {
  csr_graph g;
  g.offset.assign(static_cast<std::size_t>(n) + 1, 0);
  edges([&](index_t from, index_t, std::size_t) { ++g.offset[static_cast<std::size_t>(from) + 1]; });
  for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r) g.offset[r + 1] += g.offset[r];
  g.neighbour.resize(static_cast<std::size_t>(g.offset.back()));
  g.pair.resize(g.neighbour.size());
  std::vector<std::int64_t> next(g.offset.begin(), g.offset.end() - 1);
  edges([&](index_t from, index_t to, std::size_t p) {
    const auto at = static_cast<std::size_t>(next[static_cast<std::size_t>(from)]++);
    g.neighbour[at] = static_cast<std::uint32_t>(to);
    g.pair[at] = static_cast<std::uint32_t>(p);
  });
  return g;
}

/// Strongly connected components by iterative Kosaraju on a graph and its reverse. Returns the
/// component of each node; ids follow the topological order of the condensation of `out`
/// (component 0 has no incoming edge from another component). O(n + edges).
inline std::vector<index_t> strong_components(const csr_graph& out, const csr_graph& in,
                                              index_t& count) {
  const index_t n = out.rows();
  const auto sz = static_cast<std::size_t>(n);
  std::vector<index_t> order;
  order.reserve(sz);
  std::vector<char> seen(sz, 0);
  std::vector<std::pair<index_t, std::int64_t>> stack;  // (node, next entry to visit)
  for (index_t s = 0; s < n; ++s) {
    if (seen[s]) continue;
    seen[s] = 1;
    stack.push_back({s, out.offset[s]});
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next < out.offset[v + 1]) {
        const index_t w = out.neighbour[static_cast<std::size_t>(next++)];
        if (!seen[w]) {
          seen[w] = 1;
          stack.push_back({w, out.offset[w]});
        }
      } else {
        order.push_back(v);
        stack.pop_back();
      }
    }
  }
  std::vector<index_t> comp(sz, -1);
  count = 0;
  std::vector<index_t> todo;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (comp[*it] >= 0) continue;
    todo.push_back(*it);
    comp[*it] = count;
    while (!todo.empty()) {
      const index_t v = todo.back();
      todo.pop_back();
      for (std::int64_t e = in.offset[v]; e < in.offset[v + 1]; ++e) {
        const index_t w = in.neighbour[static_cast<std::size_t>(e)];
        if (comp[w] < 0) {
          comp[w] = count;
          todo.push_back(w);
        }
      }
    }
    ++count;
  }
  return comp;
}

/// Connected components of an undirected graph by union-find (path halving, union by size);
/// returns a representative per node. O((n + edges) alpha(n)).
class union_find {
 public:
  explicit union_find(index_t n) : parent_(static_cast<std::size_t>(n)), size_(parent_.size(), 1) {
    for (std::size_t v = 0; v < parent_.size(); ++v) parent_[v] = static_cast<index_t>(v);
  }
  index_t find(index_t v) {
    while (parent_[v] != v) {
      parent_[v] = parent_[parent_[v]];
      v = parent_[v];
    }
    return v;
  }
  /// Returns true when a and b were in different components.
  bool unite(index_t a, index_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    return true;
  }

 private:
  std::vector<index_t> parent_, size_;
};

}  // namespace prefopt::prefmodel::detail
