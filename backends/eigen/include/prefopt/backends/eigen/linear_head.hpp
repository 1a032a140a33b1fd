#pragma once
// prefopt::eigen::linear_head_logps / linear_head_logps_backward: per-token log-probs through an
// LM head, [N, H] hidden states times a [V, H] weight, without materialising the [N, V] logits
// (prefopt/logps/linear_head.hpp states the definitions, shapes and options; docs/linear-head.md
// the cost). Host memory, float or double, Eigen's GEMM on Eigen::Map views of the caller's
// buffers.
//
// Loop order. Token chunks (options.token_chunk rows of hidden) outside, vocabulary chunks
// (options.vocab_chunk rows of W) inside; one [token_chunk, vocab_chunk] tile of logits is the
// only scratch (plus O(N) vectors).
//   forward:  tile = hidden_tc W_vc^T (GEMM), then per row the tile's log-sum-exp (the vectorised,
//             runtime-dispatched row kernel of the Eigen backend) folded into a running
//             log-sum-exp in double, and the label's logit picked when it falls in the chunk.
//   backward: tile = hidden_tc W_vc^T again; in place G = -g exp(tile - lse) (+ g at the label);
//             grad_hidden_tc (= or +=) G W_vc (GEMM); then grad_weight_vc (= or +=) G^T hidden_tc.
//
// Threads and determinism. Inside a tile the token rows are cut into fixed blocks of
// options.block_rows rows (logit GEMM, softmax, grad_hidden GEMM: every block touches its own
// rows only), and grad_weight's rows of the chunk into fixed blocks of the same size (one GEMM over
// the tile's tokens each). Threads (prefopt/detail/parallel.hpp) take whole blocks; a block's
// arithmetic (GEMM shapes, accumulation order over vocabulary and token chunks) depends on N, V,
// H and the options only. Results are therefore bit-identical for any options.threads (tested);
// they do depend on vocab_chunk, token_chunk and block_rows in the last bits.
//
// Validation before any work: shapes, strides and options; labels in [0, V) or ignore_index;
// every element of hidden and weight finite (one pass over each, about 1% of the GEMM time at
// H = 1024); outputs overlapping each other or an input. A counted row whose log-sum-exp or label
// logit overflows the type is reported after the pass (lowest row).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "prefopt/backends/eigen.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"
#include "prefopt/logps/linear_head.hpp"

namespace prefopt::eigen {

/// Owned forward outputs: logp [N] and the saved log-sum-exp [N] the backward needs.
template <class T>
struct linear_head_result {
  std::vector<T> logp;
  std::vector<T> lse;
};

namespace detail {

template <class T>
using head_rm = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using head_cmap = Eigen::Map<const head_rm<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using head_map = Eigen::Map<head_rm<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
head_cmap<T> rows_of(matrix_view<const T> m, index_t r0, index_t n) {
  return head_cmap<T>(m.row(r0), n, m.cols, Eigen::OuterStride<>(m.row_stride));
}
template <class T>
head_map<T> rows_of(matrix_view<T> m, index_t r0, index_t n) {
  return head_map<T>(m.row(r0), n, m.cols, Eigen::OuterStride<>(m.row_stride));
}

/// Throws naming the first non-finite element of m.
template <class T>
void require_all_finite(const char* name, matrix_view<const T> m) {
  for (index_t r = 0; r < m.rows; ++r) {
    if (rows_of(m, r, 1).allFinite()) continue;
    for (index_t c = 0; c < m.cols; ++c)
      if (!std::isfinite(m(r, c)))
        throw_invalid_argument(std::string(name) + "(" + std::to_string(r) + ", " +
                                   std::to_string(c) + ")",
                               m(r, c), "must be finite");
  }
}

template <class T, class L>
void validate_head_inputs(matrix_view<const T> hidden, matrix_view<const T> weight,
                          std::span<const L> labels, const linear_head_options& o) {
  prefopt::detail::validate_linear_head_shapes(hidden, weight, labels, o);
  prefopt::detail::validate_head_labels(labels, weight.rows, o.ignore_index);
  require_all_finite("hidden", hidden);
  require_all_finite("weight", weight);
}

/// Calls f(t0, tn, v0, vn) for every (token chunk, vocabulary chunk) tile, token chunks outside.
template <class F>
void for_each_tile(index_t N, index_t V, const linear_head_options& o, F&& f) {
  for (index_t t0 = 0; t0 < N; t0 += o.token_chunk)
    for (index_t v0 = 0; v0 < V; v0 += o.vocab_chunk)
      f(t0, std::min(o.token_chunk, N - t0), v0, std::min(o.vocab_chunk, V - v0));
}

/// Runs block(b0, bn) on the fixed blocks of block_rows rows covering [0, n), threads taking
/// whole blocks.
template <class F>
void for_each_block(index_t n, const linear_head_options& o, F&& block) {
  const index_t blocks = (n + o.block_rows - 1) / o.block_rows;
  prefopt::detail::parallel_blocks(blocks, o.threads, 1, [&](index_t k0, index_t k1) {
    for (index_t k = k0; k < k1; ++k) {
      const index_t b0 = k * o.block_rows;
      block(b0, std::min(o.block_rows, n - b0));
    }
  });
}

}  // namespace detail

/// Forward: writes logp [N] and lse [N] (the per-row log-sum-exp the backward reuses; also written
/// for ignored rows, whose logp is 0).
template <std::floating_point T, class L>
void linear_head_logps(matrix_view<const T> hidden, matrix_view<const T> weight,
                       std::span<const L> labels, std::span<T> logp, std::span<T> lse,
                       const linear_head_options& options = {}) {
  detail::validate_head_inputs(hidden, weight, labels, options);
  const index_t N = hidden.rows, V = weight.rows;
  prefopt::detail::validate_head_vector("logp", logp, N);
  prefopt::detail::validate_head_vector("lse", lse, N);
  prefopt::detail::require_no_overlap(
      {prefopt::detail::range_of("logp", logp), prefopt::detail::range_of("lse", lse)},
      {prefopt::detail::range_of("hidden", hidden), prefopt::detail::range_of("weight", weight),
       prefopt::detail::range_of("labels", labels)});
  if (N == 0) return;

  const index_t tile_rows = std::min(options.token_chunk, N);
  const index_t tile_cols = std::min(options.vocab_chunk, V);
  detail::head_rm<T> tile(tile_rows, tile_cols);
  std::vector<prefopt::detail::online_logsumexp<double>> run(static_cast<std::size_t>(N));
  std::vector<double> picked(static_cast<std::size_t>(N), 0.0);
  detail::for_each_tile(N, V, options, [&](index_t t0, index_t tn, index_t v0, index_t vn) {
    const auto w = detail::rows_of(weight, v0, vn);
    detail::for_each_block(tn, options, [&](index_t b0, index_t bn) {
      detail::head_map<T> s(tile.data() + b0 * tile_cols, bn, vn, Eigen::OuterStride<>(tile_cols));
      s.noalias() = detail::rows_of(hidden, t0 + b0, bn) * w.transpose();
      for (index_t i = 0; i < bn; ++i) {
        const index_t n = t0 + b0 + i;
        const T* x = s.data() + i * tile_cols;
        // The chunk's log-sum-exp c is the partial (max c, sum 1) of the row's online state.
        run[static_cast<std::size_t>(n)].merge(
            static_cast<double>(backend<T>::fused_row_logsumexp(x, vn)), 1.0);
        const auto y = static_cast<std::int64_t>(labels[static_cast<std::size_t>(n)]);
        if (y != options.ignore_index && y >= v0 && y < v0 + vn)
          picked[static_cast<std::size_t>(n)] = static_cast<double>(x[y - v0]);
      }
    });
  });
  for (index_t n = 0; n < N; ++n) {
    const auto k = static_cast<std::size_t>(n);
    const bool counted = static_cast<std::int64_t>(labels[k]) != options.ignore_index;
    const double l = run[k].value();
    lse[k] = static_cast<T>(l);
    logp[k] = counted ? static_cast<T>(picked[k] - l) : T(0);
    if (counted && !(std::isfinite(lse[k]) && std::isfinite(static_cast<T>(picked[k]))))
      prefopt::detail::throw_non_finite_head_row(n, std::isfinite(lse[k]) ? logp[k] : lse[k]);
  }
}

/// Forward returning owned vectors.
template <std::floating_point T, class L>
linear_head_result<T> linear_head_logps(matrix_view<const T> hidden, matrix_view<const T> weight,
                                        std::span<const L> labels,
                                        const linear_head_options& options = {}) {
  linear_head_result<T> out{std::vector<T>(static_cast<std::size_t>(std::max<index_t>(hidden.rows, 0))),
                            std::vector<T>(static_cast<std::size_t>(std::max<index_t>(hidden.rows, 0)))};
  linear_head_logps(hidden, weight, labels, std::span<T>(out.logp), std::span<T>(out.lse), options);
  return out;
}

/// Backward: given grad_logp [N] = dL/dlogp and the forward's lse [N], OVERWRITES grad_hidden
/// [N, H] and grad_weight [V, H] (row-major, row_stride >= H) with dL/dhidden and dL/dweight.
template <std::floating_point T, class L>
void linear_head_logps_backward(matrix_view<const T> hidden, matrix_view<const T> weight,
                                std::span<const L> labels, std::span<const T> lse,
                                std::span<const T> grad_logp, matrix_view<T> grad_hidden,
                                matrix_view<T> grad_weight,
                                const linear_head_options& options = {}) {
  namespace pd = prefopt::detail;
  detail::validate_head_inputs(hidden, weight, labels, options);
  const index_t N = hidden.rows, V = weight.rows, H = hidden.cols;
  pd::validate_head_vector("lse", lse, N);
  pd::validate_head_vector("grad_logp", grad_logp, N);
  pd::validate_head_matrix("grad_hidden", grad_hidden, 0);
  pd::validate_head_matrix("grad_weight", grad_weight, 1);
  require_same_size("grad_hidden.rows", grad_hidden.rows, "hidden.rows", N);
  require_same_size("grad_hidden.cols", grad_hidden.cols, "hidden.cols", H);
  require_same_size("grad_weight.rows", grad_weight.rows, "weight.rows", V);
  require_same_size("grad_weight.cols", grad_weight.cols, "weight.cols", H);
  for (index_t n = 0; n < N; ++n) {
    const auto k = static_cast<std::size_t>(n);
    require_finite("grad_logp[" + std::to_string(n) + "]", grad_logp[k]);
    if (static_cast<std::int64_t>(labels[k]) != options.ignore_index)
      require_finite("lse[" + std::to_string(n) + "]", lse[k]);
  }
  pd::require_no_overlap(
      {pd::range_of("grad_hidden", grad_hidden), pd::range_of("grad_weight", grad_weight)},
      {pd::range_of("hidden", hidden), pd::range_of("weight", weight),
       pd::range_of("labels", labels), pd::range_of("lse", lse),
       pd::range_of("grad_logp", grad_logp)});
  if (N == 0) {
    detail::rows_of(grad_weight, 0, V).setZero();
    return;
  }

  const index_t tile_rows = std::min(options.token_chunk, N);
  const index_t tile_cols = std::min(options.vocab_chunk, V);
  detail::head_rm<T> tile(tile_rows, tile_cols);
  detail::for_each_tile(N, V, options, [&](index_t t0, index_t tn, index_t v0, index_t vn) {
    const auto w = detail::rows_of(weight, v0, vn);
    // Token blocks: logits, G in place, grad_hidden rows.
    detail::for_each_block(tn, options, [&](index_t b0, index_t bn) {
      detail::head_map<T> s(tile.data() + b0 * tile_cols, bn, vn, Eigen::OuterStride<>(tile_cols));
      s.noalias() = detail::rows_of(hidden, t0 + b0, bn) * w.transpose();
      for (index_t i = 0; i < bn; ++i) {
        const auto k = static_cast<std::size_t>(t0 + b0 + i);
        T* x = s.data() + i * tile_cols;
        const auto y = static_cast<std::int64_t>(labels[k]);
        if (y == options.ignore_index) {
          std::fill_n(x, vn, T(0));
          continue;
        }
        const T g = grad_logp[k];
        backend<T>::fused_row_scaled_exp(x, vn, lse[k], -g, x);
        if (y >= v0 && y < v0 + vn) x[y - v0] += g;
      }
      auto gh = detail::rows_of(grad_hidden, t0 + b0, bn);
      if (v0 == 0) gh.noalias() = s * w;
      else gh.noalias() += s * w;
    });
    // Weight blocks: grad_weight rows of this chunk, one GEMM over the chunk's tokens each.
    const auto h = detail::rows_of(hidden, t0, tn);
    detail::for_each_block(vn, options, [&](index_t c0, index_t cn) {
      const detail::head_cmap<T> g(tile.data() + c0, tn, cn, Eigen::OuterStride<>(tile_cols));
      auto gw = detail::rows_of(grad_weight, v0 + c0, cn);
      if (t0 == 0) gw.noalias() = g.transpose() * h;
      else gw.noalias() += g.transpose() * h;
    });
  });
}

}  // namespace prefopt::eigen
