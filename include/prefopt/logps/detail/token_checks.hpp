#pragma once
// Which token positions count, and the host-side checks and messages every sequence log-prob
// path (generic, CPU fused, CUDA) shares, so that all backends reject the same inputs with the
// same words and in the same order.

#include <cstdint>
#include <string>
#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt::detail {

template <class L, class M>
PREFOPT_HD inline bool position_counted(const L* label_row, const M* mask_row, index_t column,
                                        std::int64_t ignore_index) {
  if (static_cast<std::int64_t>(label_row[column]) == ignore_index) return false;
  return mask_row == nullptr || mask_row[column] != M(0);
}

/// Host scan of labels (host memory): every counted label must be a valid vocabulary id.
template <class L, class M>
void validate_labels(matrix_view<const L> labels, matrix_view<const M> mask, index_t vocab,
                     const token_layout& layout) {
  static_assert(std::is_integral_v<L>, "labels must have an integral type");
  const index_t positions = layout.predicted_positions(labels.cols);
  for (index_t b = 0; b < labels.rows; ++b) {
    const L* lrow = labels.row(b);
    const M* mrow = mask.empty() ? nullptr : mask.row(b);
    for (index_t p = 0; p < positions; ++p) {
      const index_t col = layout.label_column(p);
      if (!position_counted(lrow, mrow, col, layout.ignore_index)) continue;
      const auto y = static_cast<long long>(lrow[col]);
      if (y < 0 || y >= vocab) {
        throw_invalid_argument("labels[" + std::to_string(b) + ", " + std::to_string(col) + "]", y,
                               "must be in [0, vocab = " + std::to_string(vocab) +
                                   ") or equal ignore_index = " +
                                   std::to_string(layout.ignore_index));
      }
    }
  }
}

[[noreturn]] inline void throw_non_finite_logits(index_t b, index_t p, double value) {
  throw_invalid_argument("logits[" + std::to_string(b) + ", " + std::to_string(p) + ", :]", value,
                         "log-sum-exp or label logit is not finite (NaN or +Inf in the row, or "
                         "-Inf at the label); logits must be finite");
}

[[noreturn]] inline void throw_empty_sequence(index_t b) {
  throw_invalid_argument("completion tokens of sequence " + std::to_string(b), 0,
                         "a mean log-prob needs at least one counted token (label != "
                         "ignore_index and mask != 0)");
}

/// Read-only view of the same memory, whether or not the caller's element type was const.
template <class T, class S>
constexpr matrix_view<const std::remove_const_t<T>, S> as_const(matrix_view<T, S> v) {
  return {v.data, v.rows, v.cols, v.row_stride};
}

}  // namespace prefopt::detail
