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

/// A vector seen as a 1 x n matrix, for the row-wise reductions of the backend.
template <class B>
matrix_view<const typename B::scalar_type> as_row(const typename B::vector_type& v) {
  return matrix_view<const typename B::scalar_type>::contiguous(B::data(v), 1, B::size(v));
}

/// Copies a host row-major matrix into the backend's memory (from_host, then an on-device copy).
template <class B>
typename B::matrix_type upload_matrix(index_t rows, index_t cols,
                                      std::span<const typename B::scalar_type> host) {
  using T = typename B::scalar_type;
  const typename B::vector_type flat = B::from_host(host);
  typename B::matrix_type m = B::zeros(rows, cols);
  T* dst = B::data(m);
  const T* src = B::data(flat);
  B::for_each(rows * cols, [=] PREFOPT_HD(index_t i) { dst[i] = src[i]; });
  return m;
}

/// max_i v_i, brought to the host.
template <class B>
typename B::scalar_type max_entry(const typename B::vector_type& v) {
  // row_max of the 1 x n view, brought to the host by B::sum of that single entry (exact).
  typename B::vector_type mx = B::row_max(as_row<B>(v));
  return B::sum(mx);
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
