#pragma once
// Row kernels of the fused sequence log-probs on 16-bit logits (prefopt::bfloat16, float16): the
// row is widened to float by the dispatched conversions (prefopt/detail/simd_half.hpp) and handed
// to the backend's float row kernels, so every float operation is the one the float path performs
// on the widened values (results bit-identical to float logits holding the same values).
//
//   half_row_logsumexp  widens the whole row into a per-thread float buffer (V floats, reused),
//                       then the backend's float row log-sum-exp.
//   half_row_grad       per chunk of logsumexp_chunk elements (a multiple of every vector width,
//                       so each element meets the same instructions as in the float row): widen,
//                       g = -c exp(x - lse) by the backend's float kernel, + c at the label, then
//                       one rounding to the storage type.
//   half_row_logsumexp_and_grad
//                       both, widening the row once (the fused forward + backward).

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/half.hpp"
#include "prefopt/detail/simd_half.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"

namespace prefopt::detail {

/// dst[i] = float(src[i]) over [0, n) with the active level's conversion.
template <half_storage H>
void widen_row(const H* src, index_t n, float* dst) {
  const simd::half_kernels k = simd::active_half_kernels();
  const auto* bits = reinterpret_cast<const std::uint16_t*>(src);
  if constexpr (std::is_same_v<H, bfloat16>)
    k.widen_bf16(bits, n, dst);
  else
    k.widen_f16(bits, n, dst);
}

/// dst[i] = H(src[i]) (round to nearest even) over [0, n) with the active level's conversion.
template <half_storage H>
void narrow_row(const float* src, index_t n, H* dst) {
  const simd::half_kernels k = simd::active_half_kernels();
  auto* bits = reinterpret_cast<std::uint16_t*>(dst);
  if constexpr (std::is_same_v<H, bfloat16>)
    k.narrow_bf16(src, n, bits);
  else
    k.narrow_f16(src, n, bits);
}

/// The calling thread's float buffer for one widened row of n elements (reused across calls).
inline float* widened_row_buffer(index_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < static_cast<std::size_t>(n)) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

/// log sum exp of the 16-bit row x[0, n) by the float kernel `row_lse(const float*, n)`.
template <half_storage H, class FloatRowLse>
float half_row_logsumexp(const H* x, index_t n, FloatRowLse&& row_lse) {
  float* w = widened_row_buffer(n);
  widen_row(x, n, w);
  return row_lse(static_cast<const float*>(w), n);
}

/// g = H(c * (1[v == y] - exp(x_v - lse))) over the row [0, n), chunk by chunk: `chunk(start,
/// len)` gives the widened x[start, start + len), `scaled_exp(x, len, shift, scale, out)` is the
/// float kernel (out = scale * exp(x - shift)).
template <half_storage H, class WidenedChunk, class FloatScaledExp>
void half_row_grad_chunks(index_t n, float lse, float c, index_t y, H* g, WidenedChunk&& chunk,
                          FloatScaledExp&& scaled_exp) {
  alignas(64) float gb[logsumexp_chunk];
  for (index_t start = 0; start < n; start += logsumexp_chunk) {
    const index_t len = std::min(logsumexp_chunk, n - start);
    scaled_exp(chunk(start, len), len, lse, -c, static_cast<float*>(gb));
    if (y >= start && y < start + len) gb[y - start] += c;
    narrow_row(static_cast<const float*>(gb), len, g + start);
  }
}

/// The backward's row: each chunk widened into a local buffer, then half_row_grad_chunks.
template <half_storage H, class FloatScaledExp>
void half_row_grad(const H* x, index_t n, float lse, float c, index_t y, H* g,
                   FloatScaledExp&& scaled_exp) {
  alignas(64) float xb[logsumexp_chunk];
  half_row_grad_chunks(
      n, lse, c, y, g,
      [&](index_t start, index_t len) {
        widen_row(x + start, len, xb);
        return static_cast<const float*>(xb);
      },
      scaled_exp);
}

/// Forward and backward of one row in one visit (sequence_logps_with_grad): the row is widened
/// once, its log-sum-exp taken, and the gradient formed from the same widened floats. Values are
/// those of half_row_logsumexp then half_row_grad: the same float kernels on the same floats
/// (scaled_exp is element-wise, so where its input sits in memory changes nothing).
template <half_storage H, class FloatRowLse, class FloatScaledExp>
float half_row_logsumexp_and_grad(const H* x, index_t n, float c, index_t y, H* g,
                                  FloatRowLse&& row_lse, FloatScaledExp&& scaled_exp) {
  float* w = widened_row_buffer(n);
  widen_row(x, n, w);
  const float lse = row_lse(static_cast<const float*>(w), n);
  half_row_grad_chunks(
      n, lse, c, y, g,
      [w](index_t start, index_t) { return static_cast<const float*>(w + start); }, scaled_exp);
  return lse;
}

}  // namespace prefopt::detail
