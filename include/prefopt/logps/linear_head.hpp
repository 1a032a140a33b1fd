#pragma once
// Per-token log-probs through a language model's output layer without the [N, V] logits: the
// options and the argument checks of the chunked fused linear head, shared by its CPU (Eigen GEMM,
// prefopt/backends/eigen/linear_head.hpp) and CUDA (cuBLAS, prefopt/backends/cuda/linear_head.cuh)
// implementations. This header needs no third-party library.
//
//   hidden  [N, H]  row-major (row_stride >= H), the final hidden states, one row per token
//   weight  [V, H]  row-major (row_stride >= H), the LM head as torch's nn.Linear stores it
//   labels  [N]     int32 or int64, ALREADY ALIGNED with the hidden rows: labels[n] is the token
//                   that row n predicts (the caller applies the usual shift by one); ignore_index
//                   (default -100) marks rows that count for nothing
//
//   logp[n] = h_n . w_{y_n} - logsumexp_v (h_n . w_v)          (0 for an ignored row)
//   backward, given g_n = dL/dlogp[n]:  G[n, v] = g_n (1[v = y_n] - softmax(h_n W^T)_v)
//                                       (G = 0 on ignored rows)
//       grad_hidden = G W     [N, H]      grad_weight = G^T hidden     [V, H]
//
// Both implementations walk the vocabulary in chunks of `vocab_chunk` rows of W and the tokens in
// chunks of `token_chunk` rows of hidden; the only scratch is one [token_chunk, vocab_chunk] logit
// tile plus O(N) vectors. The forward folds each tile into a running log-sum-exp per row (online
// log-sum-exp, in double); the backward recomputes each tile's logits and, from the saved
// log-sum-exp, its softmax, turns the tile into G in place and adds G W_chunk into grad_hidden and
// G^T hidden_chunk into grad_weight. docs/linear-head.md gives the API, the cost and the
// measurements.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt {

struct linear_head_options {
  std::int64_t ignore_index = -100;  // rows whose label equals it: logp 0, zero gradient
  /// Rows of W per chunk (logit tile columns). Default 2048: with token_chunk 1024 the float tile
  /// is 8 MiB, and the GEMMs are large enough for Eigen / cuBLAS to run near their peak.
  index_t vocab_chunk = 2048;
  /// Rows of hidden per chunk (logit tile rows); bounds the scratch whatever N is.
  index_t token_chunk = 1024;
  /// CPU only: the tile's rows are computed in fixed blocks of this many rows and grad_weight's
  /// rows in fixed blocks of the same size; threads take whole blocks. The arithmetic of every
  /// block depends on the sizes and these options only, never on the thread count.
  index_t block_rows = 128;
  int threads = 0;  // CPU: 0 = hardware concurrency; results are bit-identical for any value
};

namespace detail {

/// Elements spanned by a row-major view (0 when empty).
template <class T, class S>
index_t view_extent(const matrix_view<T, S>& m) {
  return m.rows == 0 || m.cols == 0 ? 0 : (m.rows - 1) * m.row_stride + m.cols;
}

/// A named byte range [begin, begin + bytes) of one argument.
struct argument_range {
  const char* name;
  const void* begin;
  std::size_t bytes;
};

template <class T, class S>
argument_range range_of(const char* name, const matrix_view<T, S>& m) {
  return {name, static_cast<const void*>(m.data),
          static_cast<std::size_t>(view_extent(m)) * sizeof(T)};
}
template <class T>
argument_range range_of(const char* name, std::span<T> s) {
  return {name, static_cast<const void*>(s.data()), s.size_bytes()};
}

inline bool overlap(const argument_range& a, const argument_range& b) {
  if (a.bytes == 0 || b.bytes == 0) return false;
  const std::less<const char*> lt;
  const auto* a0 = static_cast<const char*>(a.begin);
  const auto* b0 = static_cast<const char*>(b.begin);
  return lt(a0, b0 + b.bytes) && lt(b0, a0 + a.bytes);
}

/// Each output must not overlap any other output or any input.
inline void require_no_overlap(std::initializer_list<argument_range> outputs,
                               std::initializer_list<argument_range> inputs) {
  for (auto o = outputs.begin(); o != outputs.end(); ++o) {
    for (auto p = o + 1; p != outputs.end(); ++p)
      if (overlap(*o, *p))
        throw_invalid_argument(std::string(o->name) + ".data", o->begin,
                               std::string("must not overlap ") + p->name);
    for (const auto& i : inputs)
      if (overlap(*o, i))
        throw_invalid_argument(std::string(o->name) + ".data", o->begin,
                               std::string("must not overlap the input ") + i.name);
  }
}

template <class T, class S>
void validate_head_matrix(const char* name, const matrix_view<T, S>& m, index_t min_rows) {
  const std::string n(name);
  require(m.rows >= min_rows, n + ".rows", m.rows,
          min_rows > 0 ? "must be >= 1" : "must be >= 0");
  require(m.cols >= 1, n + ".cols", m.cols, "must be >= 1");
  require(m.row_stride >= m.cols, n + ".row_stride", m.row_stride, "must be >= cols");
  require(m.data != nullptr || m.rows == 0, n + ".data", "nullptr",
          "must point to rows * row_stride elements");
}

/// Shapes, strides and options shared by the forward and the backward (host and CUDA).
template <class T, class S, class L>
void validate_linear_head_shapes(matrix_view<const T, S> hidden, matrix_view<const T, S> weight,
                                 std::span<const L> labels, const linear_head_options& o) {
  static_assert(std::is_same_v<L, std::int32_t> || std::is_same_v<L, std::int64_t>,
                "prefopt linear head: labels are int32 or int64");
  validate_head_matrix("hidden", hidden, 0);
  validate_head_matrix("weight", weight, 1);
  require_same_size("weight.cols", weight.cols, "hidden.cols", hidden.cols);
  require_same_size("labels.size()", static_cast<long long>(labels.size()), "hidden.rows",
                    hidden.rows);
  require(o.vocab_chunk >= 1, "options.vocab_chunk", o.vocab_chunk, "must be >= 1");
  require(o.token_chunk >= 1, "options.token_chunk", o.token_chunk, "must be >= 1");
  require(o.block_rows >= 1, "options.block_rows", o.block_rows, "must be >= 1");
  require(o.threads >= 0, "options.threads", o.threads, "must be >= 0 (0: hardware concurrency)");
}

/// Every label in [0, V) or equal to ignore_index (host memory).
template <class L>
void validate_head_labels(std::span<const L> labels, index_t vocab, std::int64_t ignore_index) {
  for (std::size_t n = 0; n < labels.size(); ++n) {
    const auto y = static_cast<std::int64_t>(labels[n]);
    if (y == ignore_index) continue;
    if (y < 0 || y >= vocab)
      throw_invalid_argument("labels[" + std::to_string(n) + "]", y,
                             "must be in [0, weight.rows = " + std::to_string(vocab) +
                                 ") or equal ignore_index = " + std::to_string(ignore_index));
  }
}

template <class T>
void validate_head_vector(const char* name, std::span<T> v, index_t n) {
  require_same_size(std::string(name) + ".size()", static_cast<long long>(v.size()),
                    "hidden.rows", n);
  require(v.data() != nullptr || n == 0, std::string(name) + ".data()", "nullptr",
          "must point to hidden.rows elements");
}

/// A counted row whose log-sum-exp or label logit is not finite (overflowing logits).
template <class T>
[[noreturn]] void throw_non_finite_head_row(index_t row, T value) {
  throw_invalid_argument("logits of hidden row " + std::to_string(row), value,
                         "the log-sum-exp and the label's logit must be finite (the hidden "
                         "states or the weight are too large for the logits' type)");
}

}  // namespace detail

}  // namespace prefopt
