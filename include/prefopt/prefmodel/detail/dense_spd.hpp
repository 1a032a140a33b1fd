#pragma once
// Dense symmetric positive-definite linear algebra for the preference-model solvers. prefopt's
// core target has no dependencies, and the systems here are small (one row per item: n is in the
// hundreds, rarely thousands), so a plain row-major Cholesky is enough: n^3/3 flops per factor.

#include <cmath>
#include <vector>

#include "prefopt/config.hpp"

namespace prefopt::prefmodel::detail {

/// In-place Cholesky A = L L^T of a row-major n x n SPD matrix (lower triangle overwritten by L).
/// Returns false when A is not numerically positive definite.
template <class T>
bool cholesky_factor(std::vector<T>& a, index_t n) {
  for (index_t j = 0; j < n; ++j) {
    T* rj = a.data() + j * n;
    T d = rj[j];
    for (index_t k = 0; k < j; ++k) d -= rj[k] * rj[k];
    if (!(d > T(0)) || !std::isfinite(d)) return false;
    const T ljj = std::sqrt(d);
    rj[j] = ljj;
    for (index_t i = j + 1; i < n; ++i) {
      T* ri = a.data() + i * n;
      T s = ri[j];
      for (index_t k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / ljj;
    }
  }
  return true;
}

/// Solves L L^T x = b in place given the factor from cholesky_factor.
template <class T>
void cholesky_solve(const std::vector<T>& l, index_t n, T* b) {
  for (index_t i = 0; i < n; ++i) {
    const T* ri = l.data() + i * n;
    T s = b[i];
    for (index_t k = 0; k < i; ++k) s -= ri[k] * b[k];
    b[i] = s / ri[i];
  }
  for (index_t i = n - 1; i >= 0; --i) {
    T s = b[i];
    for (index_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

/// Full inverse (row-major) from the Cholesky factor; n solves, O(n^3).
template <class T>
std::vector<T> cholesky_inverse(const std::vector<T>& l, index_t n) {
  std::vector<T> inv(static_cast<std::size_t>(n * n), T(0));
  std::vector<T> col(static_cast<std::size_t>(n));
  for (index_t c = 0; c < n; ++c) {
    for (index_t i = 0; i < n; ++i) col[i] = i == c ? T(1) : T(0);
    cholesky_solve(l, n, col.data());
    for (index_t i = 0; i < n; ++i) inv[i * n + c] = col[i];
  }
  return inv;
}

}  // namespace prefopt::prefmodel::detail
