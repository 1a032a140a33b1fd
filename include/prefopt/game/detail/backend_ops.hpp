#pragma once
// Small building blocks of the iterative game solvers, written once against the prefopt::Backend
// primitives (so they run wherever the backend's memory lives, e.g. on a CUDA device).

#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/numerics.hpp"

namespace prefopt::game::detail {

/// A vector seen as a 1 x n matrix (in B's memory space), for the row-wise reductions.
template <class B>
backend_primitives::row_view<B> as_row(const typename B::vector_type& v) {
  return backend_primitives::row_view<B>::contiguous(B::data(v), 1, B::size(v));
}

/// Copies a host row-major matrix into the backend's memory (the concept's matrix upload).
template <class B>
typename B::matrix_type upload_matrix(index_t rows, index_t cols,
                                      std::span<const typename B::scalar_type> host) {
  return B::from_host(rows, cols, host);
}

/// max_i v_i, brought to the host (row_max of the 1 x n view, then one element read back).
template <class B>
typename B::scalar_type max_entry(const typename B::vector_type& v) {
  return B::to_host_element(B::row_max(as_row<B>(v)), 0);
}

/// exp(l), flushed to 0 below sqrt(smallest normal) (about 1e-154 in double, 1e-19 in float):
/// such strategies are irrelevant to any measurable exploitability, while letting them run into
/// subnormal range makes every later matrix-vector product crawl (measured 50x at n = 100).
template <class T>
PREFOPT_HD T probability_from_log(T l) {
  constexpr T floor = sizeof(T) >= 8 ? T(-354) : T(-43);
  return l < floor ? T(0) : prefopt::detail::exp_(l);
}

/// Makes `logits` log-probabilities (subtracts their log-sum-exp on the device, no host sync)
/// and returns the probabilities exp(logits).
template <class B>
typename B::vector_type normalise_logits(typename B::vector_type& logits) {
  using T = typename B::scalar_type;
  const typename B::vector_type lse = B::row_logsumexp(as_row<B>(logits));
  T* l = B::data(logits);
  const T* z = B::data(lse);
  typename B::vector_type p = B::zeros(B::size(logits));
  T* q = B::data(p);
  B::for_each(B::size(logits), [=] PREFOPT_HD(index_t i) {
    l[i] -= z[0];
    q[i] = probability_from_log(l[i]);
  });
  return p;
}

/// Uniform distribution of size n and its log.
template <class B>
typename B::vector_type uniform(index_t n) {
  using T = typename B::scalar_type;
  const std::vector<T> host(static_cast<std::size_t>(n), T(1) / T(n));
  return B::from_host(std::span<const T>(host));
}

}  // namespace prefopt::game::detail
