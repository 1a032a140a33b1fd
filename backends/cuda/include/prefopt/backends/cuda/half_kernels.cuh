#pragma once
// The fused sequence log-prob kernels on 16-bit logits (prefopt::bfloat16 -> __nv_bfloat16,
// prefopt::float16 -> __half: the same 16 bits, so device memory holding either is viewed as the
// other without a copy). Same launch shape, row split and reduction tree as the float kernels of
// kernels.cuh; each element is loaded with __bfloat162float / __half2float and everything after
// is float: the online (max, sum of exp) pair per thread, the block merge, the log-sum-exp, the
// label log-prob and the gradient, which is rounded once to the storage type with
// __float2bfloat16_rn / __float2half_rn. Loads are scalar (2-byte): the kernels are kept simple;
// vectorised 16-byte loads of 8 halves are a possible speed-up, not done.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <limits>

#include "prefopt/backends/cuda/kernels.cuh"
#include "prefopt/core/half.hpp"

namespace prefopt::cuda::kernels {

/// The CUDA type with prefopt's 16-bit storage type's bits.
template <class H>
struct device_storage;
template <>
struct device_storage<prefopt::bfloat16> {
  using type = __nv_bfloat16;
};
template <>
struct device_storage<prefopt::float16> {
  using type = __half;
};
static_assert(sizeof(__nv_bfloat16) == sizeof(prefopt::bfloat16) &&
              alignof(__nv_bfloat16) == alignof(prefopt::bfloat16));
static_assert(sizeof(__half) == sizeof(prefopt::float16) &&
              alignof(__half) == alignof(prefopt::float16));

__device__ inline float load_float(__nv_bfloat16 h) { return __bfloat162float(h); }
__device__ inline float load_float(__half h) { return __half2float(h); }
__device__ inline void store_float(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
__device__ inline void store_float(__half* p, float x) { *p = __float2half_rn(x); }

/// block_row_lse of kernels.cuh on a 16-bit row, element by element, in float.
template <int BLOCK, class D>
__device__ lse_pair<float> block_row_lse_half(const D* x, index_t n, lse_pair<float>* smem) {
  constexpr float neg_inf = -std::numeric_limits<float>::infinity();
  float m = neg_inf, s = 0.0f;
  for (index_t i = threadIdx.x; i < n; i += BLOCK) {
    const float v = load_float(x[i]);
    if (v > m) {
      s *= exp_shifted(m - v);
      m = v;
    }
    if (m == neg_inf) {
      if (v != v) s += v;  // while m is -inf only a NaN adds (and poisons)
    } else {
      s += exp_shifted(v - m);
    }
  }
  return block_reduce<BLOCK>(lse_pair<float>{m, s}, smem, merge_pairs<float>);
}

/// token_logps_forward_kernel of kernels.cuh on 16-bit logits D; float outputs.
template <class D, class L, class M>
__global__ void __launch_bounds__(row_block)
    half_token_logps_forward_kernel(device_logits_view<const D> logits,
                                    device_matrix_view<const L> labels,
                                    device_matrix_view<const M> mask, token_layout layout,
                                    index_t P, float* token_logps, float* token_lse,
                                    error_flags* flags) {
  __shared__ lse_pair<float> smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t b = r / P, p = r % P, col = layout.label_column(p);
  if (!prefopt::detail::position_counted(labels.row(b), mask.data ? mask.row(b) : nullptr, col,
                                         layout.ignore_index)) {
    if (threadIdx.x == 0) token_logps[r] = token_lse[r] = 0.0f;
    return;
  }
  const index_t y = checked_label(labels(b, col), logits.vocab);
  if (y < 0) {
    if (threadIdx.x == 0) {
      token_logps[r] = token_lse[r] = 0.0f;
      atomicMin(&flags->label, static_cast<unsigned long long>(r));
    }
    return;
  }
  const D* x = logits.row(b, p);
  const lse_pair<float> pair = block_row_lse_half<row_block>(x, logits.vocab, smem);
  if (threadIdx.x == 0) {
    const float lse = pair.max + prefopt::detail::log_(pair.sum);
    const float lp = load_float(x[y]) - lse;
    token_logps[r] = lp;
    token_lse[r] = lse;
    if (!(prefopt::detail::isfinite_(lse) && prefopt::detail::isfinite_(lp)))
      atomicMin(&flags->row, static_cast<unsigned long long>(r));
  }
}

/// token_logps_backward_kernel of kernels.cuh on 16-bit logits D: the gradient
/// c (1[v == y] - exp(x - lse)) in float, rounded once to D.
template <class D, class L, class M>
__global__ void __launch_bounds__(row_block)
    half_token_logps_backward_kernel(device_logits_view<const D> logits,
                                     device_matrix_view<const L> labels,
                                     device_matrix_view<const M> mask, token_layout layout,
                                     index_t P, const float* token_lse, const float* coeff,
                                     device_logits_view<D> grad, error_flags* flags) {
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t Tt = logits.time, n = logits.vocab;
  const index_t b = r / Tt, t = r % Tt, col = t < P ? layout.label_column(t) : 0;
  bool counted = t < P && prefopt::detail::position_counted(
                              labels.row(b), mask.data ? mask.row(b) : nullptr, col,
                              layout.ignore_index);
  const index_t y = counted ? checked_label(labels(b, col), n) : -1;
  if (counted && y < 0) {
    if (threadIdx.x == 0) atomicMin(&flags->label, static_cast<unsigned long long>(r));
    counted = false;
  }
  const float c = counted ? coeff[b] : 0.0f;
  const float lse = counted ? token_lse[b * P + t] : 0.0f;
  const D* x = logits.row(b, t);
  D* g = grad.row(b, t);
  for (index_t v = threadIdx.x; v < n; v += row_block) {
    const float value =
        counted ? c * ((v == y ? 1.0f : 0.0f) - exp_shifted(load_float(x[v]) - lse)) : 0.0f;
    store_float(g + v, value);
  }
}

/// The same view over the CUDA type with the same bits.
template <class H>
device_logits_view<const typename device_storage<H>::type> as_device_storage(
    device_logits_view<const H> v) {
  return {reinterpret_cast<const typename device_storage<H>::type*>(v.data), v.batch, v.time,
          v.vocab, v.batch_stride, v.time_stride};
}
template <class H>
device_logits_view<typename device_storage<H>::type> as_device_storage_out(device_logits_view<H> v) {
  return {reinterpret_cast<typename device_storage<H>::type*>(v.data), v.batch, v.time, v.vocab,
          v.batch_stride, v.time_stride};
}

}  // namespace prefopt::cuda::kernels
