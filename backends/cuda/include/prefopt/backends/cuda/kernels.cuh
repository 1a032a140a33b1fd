#pragma once
// CUDA kernels of prefopt::cuda. All reductions use a fixed launch shape and a fixed tree order,
// so results are deterministic run to run (no atomics on values). Row kernels run one block of
// `row_block` threads per matrix row / token row; each thread streams its share of the row with
// 16-byte vector loads, and the block combines the per-thread partials in shared memory.
//
// The fused log-prob kernels never write a softmax: forward keeps an online (max, sum of
// exp(x - max)) pair per thread (Milakov & Gimelshein 2018) and merges the pairs with the same
// prefopt::detail::online_logsumexp the CPU backends use; backward recomputes exp(x - lse) from
// the saved log-sum-exp and writes the gradient in the same pass.

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "prefopt/backends/cuda/memory.cuh"
#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"
#include "prefopt/logps/detail/token_checks.hpp"

#if !defined(__CUDACC__)
#error "prefopt/backends/cuda/kernels.cuh must be compiled by nvcc (a .cu translation unit)"
#endif

namespace prefopt::cuda::kernels {

inline constexpr int row_block = 256;   // threads per row kernel block
inline constexpr int flat_block = 256;  // threads per element-wise / grid-stride block
inline constexpr int max_flat_blocks = 4096;

/// Accumulation type: the scalar type itself for float in the per-thread streaming loops (the
/// kernels are bandwidth-bound; partials are short), double for double.
template <class T>
using acc_t = T;

// ---- generic launches -------------------------------------------------------------------------

template <class F>
__global__ void for_each_kernel(index_t n, F f) {
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    f(i);
}

inline unsigned flat_grid(index_t n) {
  const index_t blocks = (n + flat_block - 1) / flat_block;
  return static_cast<unsigned>(blocks < max_flat_blocks ? (blocks > 0 ? blocks : 1) : max_flat_blocks);
}

/// Shared-memory tree reduction over a block of BLOCK threads; every thread gets the result.
/// V must be trivially constructible (it lives in __shared__ memory).
template <int BLOCK, class V, class Op>
__device__ V block_reduce(V v, V* smem, Op op) {
  static_assert(BLOCK > 0 && (BLOCK & (BLOCK - 1)) == 0,
                "block_reduce: BLOCK must be a power of two (the tree halves it) and equal to "
                "blockDim.x of the launch");
  smem[threadIdx.x] = v;
  __syncthreads();
  for (int s = BLOCK / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) smem[threadIdx.x] = op(smem[threadIdx.x], smem[threadIdx.x + s]);
    __syncthreads();
  }
  const V r = smem[0];
  __syncthreads();
  return r;
}

/// Sum of f(i) over [0, n) in double: each block writes one partial (stage 1), then one block
/// reduces the partials (stage 2, launched with n = number of partials).
template <class F>
__global__ void sum_kernel(index_t n, F f, double* partials) {
  __shared__ double smem[flat_block];
  double acc = 0;
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    acc += f(i);
  acc = block_reduce<flat_block>(acc, smem, [](double a, double b) { return a + b; });
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

struct read_double {
  const double* p;
  __device__ double operator()(index_t i) const { return p[i]; }
};

// ---- vectorised row streaming ------------------------------------------------------------------

/// 16-byte vector of T and its lane count.
template <class T>
struct vec16;
template <>
struct vec16<float> {
  using type = float4;
  static constexpr int lanes = 4;
};
template <>
struct vec16<double> {
  using type = double2;
  static constexpr int lanes = 2;
};

template <class F>
__device__ void for_lanes(const float4& v, F&& f) {
  f(v.x);
  f(v.y);
  f(v.z);
  f(v.w);
}
template <class F>
__device__ void for_lanes(const double2& v, F&& f) {
  f(v.x);
  f(v.y);
}
__device__ inline float lane_max(const float4& v) { return fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w)); }
__device__ inline double lane_max(const double2& v) { return fmax(v.x, v.y); }

/// Calls scalar(x) / vector(v) over this thread's share of row x[0, n): a scalar head up to
/// 16-byte alignment, 16-byte streaming loads (four in flight per thread), a scalar tail.
template <int BLOCK, class T, class Scalar, class Vector>
__device__ void stream_row(const T* x, index_t n, Scalar&& scalar, Vector&& vector) {
  using V = typename vec16<T>::type;
  constexpr int W = vec16<T>::lanes;
  const auto misalign = static_cast<index_t>(reinterpret_cast<std::uintptr_t>(x) % 16);
  index_t head = misalign == 0 ? 0 : (16 - misalign) / static_cast<index_t>(sizeof(T));
  if (head > n) head = n;
  const index_t tid = threadIdx.x;
  for (index_t i = tid; i < head; i += BLOCK) scalar(x[i]);
  const V* xv = reinterpret_cast<const V*>(x + head);
  const index_t nvec = (n - head) / W;
  index_t k = tid;
  for (; k + 3 * BLOCK < nvec; k += 4 * BLOCK) {
    const V v0 = __ldcs(xv + k), v1 = __ldcs(xv + k + BLOCK), v2 = __ldcs(xv + k + 2 * BLOCK),
            v3 = __ldcs(xv + k + 3 * BLOCK);
    vector(v0);
    vector(v1);
    vector(v2);
    vector(v3);
  }
  for (; k < nvec; k += BLOCK) vector(__ldcs(xv + k));
  for (index_t i = head + nvec * W + tid; i < n; i += BLOCK) scalar(x[i]);
}

/// (max, sum of exp(x - max)) pair in shared memory.
template <class A>
struct lse_pair {
  A max, sum;
};

template <class A>
__device__ lse_pair<A> merge_pairs(lse_pair<A> a, lse_pair<A> b) {
  prefopt::detail::online_logsumexp<A> o;
  o.max = a.max;
  o.sum = a.sum;
  o.merge(b.max, b.sum);
  return {o.max, o.sum};
}

/// exp(d) for d = x - max <= 0 (or NaN): float as exp2f(d * log2(e)), one multiply and the
/// hardware exp2 (d is formed first, so its rounding error is relative to |x - max|, not to
/// |max|); double as exp.
template <class A>
__device__ inline A exp_shifted(A d) {
  if constexpr (std::is_same_v<A, float>)
    return exp2f(d * 1.44269504088896340736f);
  else
    return prefopt::detail::exp_(d);
}

/// Block-wide online log-sum-exp of row x[0, n); every thread gets the merged pair.
/// Per thread: raise the running max to the max of each vector first, then add its exps, so one
/// exp per element (plus a rescale when the max grows). The -inf test is made once per vector,
/// on the max: while it is -inf every element seen is -inf (adds nothing) or NaN (poisons);
/// otherwise exp(-inf - max) = 0 needs no test. NaN poisons the sum either way.
template <int BLOCK, class T>
__device__ lse_pair<acc_t<T>> block_row_lse(const T* x, index_t n, lse_pair<acc_t<T>>* smem) {
  using A = acc_t<T>;
  constexpr A neg_inf = -std::numeric_limits<A>::infinity();
  A m = neg_inf, s = A(0);
  auto raise = [&](A cand) {
    if (cand > m) {
      s *= exp_shifted(m - cand);
      m = cand;
    }
  };
  auto add = [&](T v) { s += exp_shifted(static_cast<A>(v) - m); };
  auto add_nan = [&](T v) {  // while m is -inf: only a NaN adds (and poisons)
    if (v != v) s += static_cast<A>(v);
  };
  stream_row<BLOCK>(
      x, n,
      [&](T v) {
        raise(static_cast<A>(v));
        if (m == neg_inf)
          add_nan(v);
        else
          add(v);
      },
      [&](const typename vec16<T>::type& v) {
        raise(static_cast<A>(lane_max(v)));
        if (m == neg_inf)
          for_lanes(v, add_nan);
        else
          for_lanes(v, add);
      });
  return block_reduce<BLOCK>(lse_pair<A>{m, s}, smem, merge_pairs<A>);
}

// ---- row primitives ----------------------------------------------------------------------------

template <class T>
__global__ void __launch_bounds__(row_block) row_logsumexp_kernel(device_matrix_view<const T> m, T* out) {
  __shared__ lse_pair<acc_t<T>> smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  const lse_pair<acc_t<T>> p = block_row_lse<row_block>(m.row(r), m.cols, smem);
  if (threadIdx.x == 0) out[r] = static_cast<T>(p.max + prefopt::detail::log_(p.sum));
}

template <class T>
__global__ void __launch_bounds__(row_block) row_sum_kernel(device_matrix_view<const T> m, T* out) {
  __shared__ double smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  double acc = 0;
  const T* x = m.row(r);
  for (index_t c = threadIdx.x; c < m.cols; c += row_block) acc += static_cast<double>(x[c]);
  acc = block_reduce<row_block>(acc, smem, [](double a, double b) { return a + b; });
  if (threadIdx.x == 0) out[r] = static_cast<T>(acc);
}

template <class T>
__global__ void __launch_bounds__(row_block) row_max_kernel(device_matrix_view<const T> m, T* out) {
  __shared__ T smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  T acc = -std::numeric_limits<T>::infinity();
  const T* x = m.row(r);
  for (index_t c = threadIdx.x; c < m.cols; c += row_block) acc = x[c] > acc ? x[c] : acc;
  acc = block_reduce<row_block>(acc, smem, [](T a, T b) { return b > a ? b : a; });
  if (threadIdx.x == 0) out[r] = acc;
}

/// out = m x: one block per row, dot product in double.
template <class T>
__global__ void __launch_bounds__(row_block) matvec_kernel(device_matrix_view<const T> m, const T* x, T* out) {
  __shared__ double smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  double acc = 0;
  const T* row = m.row(r);
  for (index_t c = threadIdx.x; c < m.cols; c += row_block)
    acc += static_cast<double>(row[c]) * static_cast<double>(x[c]);
  acc = block_reduce<row_block>(acc, smem, [](double a, double b) { return a + b; });
  if (threadIdx.x == 0) out[r] = static_cast<T>(acc);
}

/// out = m^T x: one thread per column walking the rows (coalesced across the warp), in double.
template <class T>
__global__ void matvec_transposed_kernel(device_matrix_view<const T> m, const T* x, T* out) {
  const index_t c = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= m.cols) return;
  double acc = 0;
  for (index_t r = 0; r < m.rows; ++r) acc += static_cast<double>(m(r, c)) * static_cast<double>(x[r]);
  out[c] = static_cast<T>(acc);
}

// ---- fused sequence log-probs ------------------------------------------------------------------

/// A counted label as an index into a row of `vocab` logits, or -1 when it is out of range.
template <class L>
__device__ index_t checked_label(L label, index_t vocab) {
  const auto y = static_cast<long long>(label);
  return y >= 0 && y < vocab ? static_cast<index_t>(y) : index_t{-1};
}

/// One block per predicted token row r = b * P + p. Rows that are not counted write zeros and
/// never read their logits. A counted row whose label is out of range writes zeros and records
/// the lowest such row in flags->label; a non-finite log-sum-exp or label log-prob records the
/// lowest such row in flags->row (the host turns them into prefopt::invalid_argument).
template <class T, class L, class M>
__global__ void __launch_bounds__(row_block)
    token_logps_forward_kernel(device_logits_view<const T> logits, device_matrix_view<const L> labels,
                               device_matrix_view<const M> mask, token_layout layout, index_t P,
                               T* token_logps, T* token_lse, error_flags* flags) {
  __shared__ lse_pair<acc_t<T>> smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t b = r / P, p = r % P, col = layout.label_column(p);
  if (!prefopt::detail::position_counted(labels.row(b), mask.data ? mask.row(b) : nullptr, col,
                                         layout.ignore_index)) {
    if (threadIdx.x == 0) token_logps[r] = token_lse[r] = T(0);
    return;
  }
  const index_t y = checked_label(labels(b, col), logits.vocab);
  if (y < 0) {  // out of range: flagged, never used as an index
    if (threadIdx.x == 0) {
      token_logps[r] = token_lse[r] = T(0);
      atomicMin(&flags->label, static_cast<unsigned long long>(r));
    }
    return;
  }
  const T* x = logits.row(b, p);
  const lse_pair<acc_t<T>> pair = block_row_lse<row_block>(x, logits.vocab, smem);
  if (threadIdx.x == 0) {
    const T lse = static_cast<T>(pair.max + prefopt::detail::log_(pair.sum));
    const T lp = x[y] - lse;
    token_logps[r] = lp;
    token_lse[r] = lse;
    if (!(prefopt::detail::isfinite_(lse) && prefopt::detail::isfinite_(lp)))
      atomicMin(&flags->row, static_cast<unsigned long long>(r));
  }
}

/// Per-sequence sum (in double), count and, if `mean` is not null, mean of the counted per-token
/// values [batch, P] (token log-probs; token KL's double values); one block per sequence, fixed
/// reduction tree. A sequence without counted positions gets mean 0, and if `empty` is not null
/// the lowest such sequence is recorded there (atomicMin).
template <class V, class T, class L, class M>
__global__ void __launch_bounds__(row_block)
    sequence_sums_kernel(const V* values, device_matrix_view<const L> labels,
                         device_matrix_view<const M> mask, token_layout layout, index_t P, T* sum,
                         T* count, T* mean, unsigned long long* empty) {
  __shared__ double smem[row_block];
  const auto b = static_cast<index_t>(blockIdx.x);
  double s = 0, n = 0;
  for (index_t p = threadIdx.x; p < P; p += row_block) {
    if (!prefopt::detail::position_counted(labels.row(b), mask.data ? mask.row(b) : nullptr,
                                           layout.label_column(p), layout.ignore_index))
      continue;
    s += static_cast<double>(values[b * P + p]);
    n += 1;
  }
  auto add = [](double x, double y) { return x + y; };
  s = block_reduce<row_block>(s, smem, add);
  n = block_reduce<row_block>(n, smem, add);
  if (threadIdx.x == 0) {
    sum[b] = static_cast<T>(s);
    count[b] = static_cast<T>(n);
    if (mean) mean[b] = n > 0 ? static_cast<T>(s / n) : T(0);
    if (empty && n == 0) atomicMin(empty, static_cast<unsigned long long>(b));
  }
}

/// One block per input position (b, t): grad = c_b * (1[v == y] - exp(x - lse)) for counted
/// rows, zero otherwise (including the last position under label shift, and a row whose label is
/// out of range, flagged in flags->label as the forward does). Reads the logits once
/// and writes the gradient once; 16-byte loads and stores when both rows share an alignment.
template <class T, class L, class M>
__global__ void __launch_bounds__(row_block)
    token_logps_backward_kernel(device_logits_view<const T> logits, device_matrix_view<const L> labels,
                                device_matrix_view<const M> mask, token_layout layout, index_t P,
                                const T* token_lse, const T* coeff, device_logits_view<T> grad,
                                error_flags* flags) {
  using V = typename vec16<T>::type;
  constexpr int W = vec16<T>::lanes;
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t Tt = logits.time, n = logits.vocab;
  const index_t b = r / Tt, t = r % Tt, col = t < P ? layout.label_column(t) : 0;
  bool counted = t < P && prefopt::detail::position_counted(
                              labels.row(b), mask.data ? mask.row(b) : nullptr, col,
                              layout.ignore_index);
  const index_t y = counted ? checked_label(labels(b, col), n) : -1;
  if (counted && y < 0) {  // out of range: flagged, the row is written as zeros
    if (threadIdx.x == 0) atomicMin(&flags->label, static_cast<unsigned long long>(r));
    counted = false;
  }
  const T c = counted ? coeff[b] : T(0);
  const T lse = counted ? token_lse[b * P + t] : T(0);
  const T* x = logits.row(b, t);
  T* g = grad.row(b, t);
  auto value = [&](index_t v, T xv) {
    return counted ? c * ((v == y ? T(1) : T(0)) - exp_shifted(xv - lse)) : T(0);
  };
  const auto mx = static_cast<index_t>(reinterpret_cast<std::uintptr_t>(x) % 16);
  const auto mg = static_cast<index_t>(reinterpret_cast<std::uintptr_t>(g) % 16);
  index_t head = n;  // different alignments: all scalar
  if (mx == mg) {
    head = mx == 0 ? 0 : (16 - mx) / static_cast<index_t>(sizeof(T));
    if (head > n) head = n;
  }
  for (index_t v = threadIdx.x; v < head; v += row_block) g[v] = value(v, counted ? x[v] : T(0));
  const index_t nvec = (n - head) / W;
  const V* xv = reinterpret_cast<const V*>(x + head);
  V* gv = reinterpret_cast<V*>(g + head);
  for (index_t k = threadIdx.x; k < nvec; k += row_block) {
    V in{};
    if (counted) in = __ldcs(xv + k);
    V out;
    const index_t v0 = head + k * W;
    if constexpr (W == 4) {
      out = {value(v0, in.x), value(v0 + 1, in.y), value(v0 + 2, in.z), value(v0 + 3, in.w)};
    } else {
      out = {value(v0, in.x), value(v0 + 1, in.y)};
    }
    __stcs(gv + k, out);
  }
  for (index_t v = head + nvec * W + threadIdx.x; v < n; v += row_block)
    g[v] = value(v, counted ? x[v] : T(0));
}

}  // namespace prefopt::cuda::kernels
