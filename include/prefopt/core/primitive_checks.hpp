#pragma once
// The argument checks a backend primitive runs before it touches memory, shared by every adapter
// (Eigen, xtensor, CUDA, and yours) so that all backends reject the same arguments with the same
// prefopt::invalid_argument message. They read shapes and pointers only, never elements, so
// they are valid for views in any memory space.

#include <cstddef>
#include <cstdint>
#include <string>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt::primitive_checks {

/// B::zeros(n)
inline void vector_size(index_t n) { require(n >= 0, "n", n, "vector size must be >= 0"); }

/// B::zeros(rows, cols) and B::from_host(rows, cols, values)
inline void matrix_shape(index_t rows, index_t cols) {
  require(rows >= 0, "rows", rows, "must be >= 0");
  require(cols >= 0, "cols", cols, "must be >= 0");
}

/// B::from_host(rows, cols, values): the host span holds exactly rows x cols elements.
inline void matrix_upload(index_t rows, index_t cols, std::size_t values) {
  matrix_shape(rows, cols);
  require_same_size("values.size()", static_cast<long long>(values), "rows * cols",
                    static_cast<long long>(rows * cols));
}

/// B::to_host_element(v, i)
inline void element_index(index_t i, index_t size) {
  require(i >= 0 && i < size, "i", i, "must be in [0, v.size() = " + std::to_string(size) + ")");
}

/// B::axpby(a, x, b, y) and B::dot(x, y)
inline void same_size(index_t x_size, index_t y_size) {
  require_same_size("y.size()", y_size, "x.size()", x_size);
}

/// B::row_max(m): a max needs at least one column.
template <class T, class S>
void row_max(matrix_view<const T, S> m) {
  validate_matrix_view("m", m);
  require(m.cols >= 1, "m.cols", m.cols, "row_max needs at least one column");
}

/// B::gather_cols(m, cols)
template <class T, class S>
void gather_cols(matrix_view<const T, S> m, const std::int64_t* cols) {
  validate_matrix_view("m", m);
  require(cols != nullptr || m.rows == 0, "cols", "nullptr", "must point to m.rows column indices");
}

/// B::matvec(m, x): x has one entry per column.
inline void matvec(index_t m_cols, index_t x_size) {
  require_same_size("x.size()", x_size, "m.cols()", m_cols);
}

/// B::matvec_transposed(m, x): x has one entry per row.
inline void matvec_transposed(index_t m_rows, index_t x_size) {
  require_same_size("x.size()", x_size, "m.rows()", m_rows);
}

}  // namespace prefopt::primitive_checks
