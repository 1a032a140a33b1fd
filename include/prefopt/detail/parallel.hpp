#pragma once
// A minimal fork-join helper for the CPU kernels: splits [0, n) into contiguous blocks, one per
// thread. Each index is processed by exactly one thread and nothing is reduced across threads, so
// results are bit-identical for every thread count.

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "prefopt/config.hpp"

namespace prefopt::detail {

/// 0 means "hardware concurrency".
inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

/// Calls body(begin, end) on disjoint blocks covering [0, n). Work below `grain` indices per
/// thread runs inline. The first exception thrown by any block is rethrown on the caller.
template <class Body>
void parallel_blocks(index_t n, int threads, index_t grain, Body&& body) {
  if (n <= 0) return;
  const index_t max_useful = std::max<index_t>(1, n / std::max<index_t>(grain, 1));
  const index_t t = std::min<index_t>(resolve_threads(threads), max_useful);
  if (t <= 1) {
    body(index_t{0}, n);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(t));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(t - 1));
  auto run = [&](index_t k) {
    const index_t begin = n * k / t, end = n * (k + 1) / t;
    try {
      body(begin, end);
    } catch (...) {
      errors[static_cast<std::size_t>(k)] = std::current_exception();
    }
  };
  for (index_t k = 1; k < t; ++k) pool.emplace_back(run, k);
  run(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace prefopt::detail
