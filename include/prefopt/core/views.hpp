#pragma once
// Non-owning views of user memory for token-level batches. A caller holding PyTorch / NumPy /
// Eigen / device buffers wraps them without copying. The pointer lives in the memory space named
// by the view's second template parameter (host_space by default, device_space for CUDA memory;
// prefopt/core/memory_space.hpp); an algorithm only accepts views in its backend's space.
//
// Layout conventions (the ones HF TRL uses):
//   logits  [B, T, V]  the vocabulary axis is contiguous; batch and time strides are free.
//   labels  [B, T]     token ids aligned with the *inputs*: with label shifting (the default) the
//                      logit at position t predicts labels[t + 1], so P = T - 1 positions are
//                      predicted per row; labels equal to ignore_index (-100) contribute nothing.
//   mask    [B, T]     optional completion mask aligned with labels (non-zero = completion token);
//                      it is shifted together with the labels.

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/memory_space.hpp"

namespace prefopt {

/// Strided 2-D view (row stride free, column stride 1) of memory in `Space`.
template <class T, class Space = host_space>
struct matrix_view {
  using memory_space = Space;
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t row_stride = 0;  // elements between row starts; >= cols

  static constexpr matrix_view contiguous(T* data, index_t rows, index_t cols) {
    return {data, rows, cols, cols};
  }
  PREFOPT_HD T* row(index_t r) const { return data + r * row_stride; }
  PREFOPT_HD T& operator()(index_t r, index_t c) const { return data[r * row_stride + c]; }
  [[nodiscard]] constexpr bool empty() const { return data == nullptr; }
  /// Same memory, read-only element type (the space never changes implicitly).
  constexpr operator matrix_view<const T, Space>() const  // NOLINT(google-explicit-constructor)
    requires(!std::is_const_v<T>)
  {
    return {data, rows, cols, row_stride};
  }
};

/// Logits [batch, time, vocab] with the vocabulary axis contiguous, in memory of `Space`.
template <class T, class Space = host_space>
struct logits_view {
  using memory_space = Space;
  T* data = nullptr;
  index_t batch = 0;
  index_t time = 0;
  index_t vocab = 0;
  index_t batch_stride = 0;  // elements between consecutive sequences
  index_t time_stride = 0;   // elements between consecutive positions; >= vocab

  static constexpr logits_view contiguous(T* data, index_t batch, index_t time, index_t vocab) {
    return {data, batch, time, vocab, time * vocab, vocab};
  }
  PREFOPT_HD T* row(index_t b, index_t t) const { return data + b * batch_stride + t * time_stride; }
  /// The positions of one sequence as a [time, vocab] matrix view.
  constexpr matrix_view<T, Space> sequence(index_t b) const {
    return {data + b * batch_stride, time, vocab, time_stride};
  }
  constexpr operator logits_view<const T, Space>() const  // NOLINT(google-explicit-constructor)
    requires(!std::is_const_v<T>)
  {
    return {data, batch, time, vocab, batch_stride, time_stride};
  }
};

/// How token rows map to predictions.
struct token_layout {
  bool shift_labels = true;                 // logit t predicts label t+1 (causal LM)
  std::int64_t ignore_index = ignore_index_default;

  /// Number of predicted positions per sequence for `time` input positions.
  [[nodiscard]] constexpr index_t predicted_positions(index_t time) const {
    return shift_labels ? (time > 0 ? time - 1 : 0) : time;
  }
  /// Label column read for predicted position p.
  [[nodiscard]] PREFOPT_HD constexpr index_t label_column(index_t p) const {
    return shift_labels ? p + 1 : p;
  }
};

/// Shape checks every primitive taking a matrix_view runs first (negative extents, a row stride
/// shorter than a row, a null pointer with elements to read). `name` is the argument's name.
template <class T, class S>
void validate_matrix_view(std::string_view name, matrix_view<T, S> m) {
  const auto field = [name](const char* member) { return std::string(name) + member; };
  if (m.rows < 0) throw_invalid_argument(field(".rows"), m.rows, "must be >= 0");
  if (m.cols < 0) throw_invalid_argument(field(".cols"), m.cols, "must be >= 0");
  if (m.rows > 1 && m.row_stride < m.cols)
    throw_invalid_argument(field(".row_stride"), m.row_stride, "must be >= cols (rows must not overlap)");
  if (m.data == nullptr && m.rows * m.cols > 0)
    throw_invalid_argument(field(".data"), "nullptr", "must point to rows x cols elements");
}

/// An output logits view must give every (sequence, position) row its own memory, or threads and
/// CUDA blocks writing different rows would race. Accepted: batch-major ([B, T, V], the default)
/// and time-major ([T, B, V]) layouts, with any padding.
template <class T, class S>
void validate_output_logits(std::string_view name, logits_view<T, S> g) {
  if (g.batch * g.time == 0) return;
  // Batch-major: one sequence's rows lie within batch_stride. Time-major: one position's rows
  // (one per sequence) lie within time_stride, so batch_stride must separate them even when
  // there is a single position (time = 1 with batch_stride = 0 would alias every sequence).
  const bool batch_major = g.batch <= 1 || g.batch_stride >= (g.time - 1) * g.time_stride + g.vocab;
  const bool time_major = (g.batch <= 1 || g.batch_stride >= g.vocab) &&
                          (g.time <= 1 || g.time_stride >= (g.batch - 1) * g.batch_stride + g.vocab);
  if (!(batch_major || time_major))
    throw_invalid_argument(std::string(name) + ".batch_stride", g.batch_stride,
                           "output rows overlap: strides must describe a batch-major or time-major "
                           "layout with time_stride = " +
                               std::to_string(g.time_stride) + ", vocab = " + std::to_string(g.vocab));
}

/// Validates that the views describe a consistent batch (shapes and strides), naming the
/// argument at fault. Labels / mask contents are validated by the kernels that read them.
template <class T, class L, class M, class S>
void validate_token_batch(logits_view<const T, S> logits, matrix_view<const L, S> labels,
                          matrix_view<const M, S> mask) {
  require(logits.data != nullptr || logits.batch * logits.time * logits.vocab == 0, "logits.data",
          "nullptr", "must point to the logits");
  require(logits.batch >= 0, "logits.batch", logits.batch, "must be >= 0");
  require(logits.time >= 0, "logits.time", logits.time, "must be >= 0");
  require(logits.vocab >= 1, "logits.vocab", logits.vocab, "must be >= 1");
  require(logits.time_stride >= logits.vocab, "logits.time_stride", logits.time_stride,
          "must be >= vocab (the vocabulary axis is contiguous)");
  require(logits.batch_stride >= 0, "logits.batch_stride", logits.batch_stride, "must be >= 0");
  require(labels.data != nullptr || labels.rows * labels.cols == 0, "labels.data", "nullptr",
          "must point to the labels");
  require_same_size("labels.rows", labels.rows, "logits.batch", logits.batch);
  require_same_size("labels.cols", labels.cols, "logits.time", logits.time);
  require(labels.row_stride >= labels.cols, "labels.row_stride", labels.row_stride,
          "must be >= labels.cols");
  if (!mask.empty()) {
    require_same_size("mask.rows", mask.rows, "logits.batch", logits.batch);
    require_same_size("mask.cols", mask.cols, "logits.time", logits.time);
    require(mask.row_stride >= mask.cols, "mask.row_stride", mask.row_stride,
            "must be >= mask.cols");
  }
}

}  // namespace prefopt
