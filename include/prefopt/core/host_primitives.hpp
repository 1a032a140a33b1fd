#pragma once
// prefopt::host_primitives<Derived>: the primitives whose host-memory implementation does not
// depend on the container library, written once for every CPU backend (Eigen and xtensor derive
// from it, and so may yours): transfers, the serial for_each, and the gather of the generic
// sequence log-prob path. Derived supplies zeros, size and data; everything here goes through
// them, so Derived's containers must be dense (B::data(m) + r * B::cols(m) is row r).
//
// Usage: template <class T> struct backend : prefopt::host_primitives<backend<T>> { ... };
// (the defaulted D keeps Derived's members dependent until Derived is complete).

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/memory_space.hpp"
#include "prefopt/core/primitive_checks.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt {

template <class Derived>
struct host_primitives {
  using memory_space = host_space;

  template <class D = Derived>
  static typename D::vector_type from_host(std::span<const typename D::scalar_type> values) {
    auto v = D::zeros(static_cast<index_t>(values.size()));
    std::copy(values.begin(), values.end(), D::data(v));
    return v;
  }
  /// A row-major host matrix of rows x cols values.
  template <class D = Derived>
  static typename D::matrix_type from_host(index_t rows, index_t cols,
                                           std::span<const typename D::scalar_type> values) {
    primitive_checks::matrix_upload(rows, cols, values.size());
    auto m = D::zeros(rows, cols);
    std::copy(values.begin(), values.end(), D::data(m));
    return m;
  }
  template <class D = Derived>
  static std::vector<typename D::scalar_type> to_host(const typename D::vector_type& v) {
    const auto* p = D::data(v);
    return std::vector<typename D::scalar_type>(p, p + D::size(v));
  }
  template <class D = Derived>
  static typename D::scalar_type to_host_element(const typename D::vector_type& v, index_t i) {
    primitive_checks::element_index(i, D::size(v));
    return D::data(v)[i];
  }

  template <class F>
  static void for_each(index_t n, F&& f) {
    for (index_t i = 0; i < n; ++i) f(i);
  }

  /// out[r] = m(r, cols[r]), 0 where cols[r] is outside [0, m.cols).
  template <class D = Derived>
  static typename D::vector_type gather_cols(matrix_view<const typename D::scalar_type> m,
                                             const std::int64_t* cols) {
    primitive_checks::gather_cols(m, cols);
    auto out = D::zeros(m.rows);
    auto* o = D::data(out);
    for (index_t r = 0; r < m.rows; ++r)
      if (cols[r] >= 0 && cols[r] < m.cols) o[r] = m(r, cols[r]);
    return out;
  }
};

}  // namespace prefopt
