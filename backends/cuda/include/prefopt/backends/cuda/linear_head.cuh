#pragma once
// prefopt::cuda::linear_head_logps / linear_head_logps_backward: the chunked fused LM head of
// prefopt/logps/linear_head.hpp (definitions, shapes, options) for hidden states, weight and labels
// in device memory, float or double. The CPU version is prefopt/backends/eigen/linear_head.hpp;
// this one has the same loop order and scratch, with cuBLAS for the three GEMMs of a tile:
//
//   forward, per tile (token chunk tc, vocabulary chunk vc):
//     tile = hidden_tc W_vc^T                 cublas<T>gemm
//     head_lse_kernel: one block per row, block max and sum of exp(x - max) in double, folded into
//     the row's running (max, sum) (the host's online log-sum-exp), label logit picked
//   then head_finish_kernel: lse, logp; a counted row with a non-finite lse or label logit is
//   flagged (lowest row, error_flags.row) and reported by the call's one read of its flags.
//   backward, per tile: tile = hidden_tc W_vc^T; head_grad_kernel turns it into
//     G = g (1[v = y] - exp(tile - lse)) (0 on ignored rows) in place;
//     grad_hidden_tc (= or +=) G W_vc, grad_weight_vc (= or +=) G^T hidden_tc   cublas<T>gemm
//
// Row-major matrices are handed to column-major cuBLAS as their transposes (a row-major [r, c]
// matrix with row stride ld is a column-major [c, r] matrix with leading dimension ld), so no
// copy or transpose is made. cuBLAS runs in its default math mode (no TF32 for float).
//
// Streams and memory follow the backend's conventions (prefopt/backends/cuda/memory.cuh): every
// call takes a cudaStream_t (default current_stream()), queues its kernels, GEMMs (cublasSetStream)
// and pool allocations (one [token_chunk, vocab_chunk] tile and O(N) doubles) on it, checks every
// base pointer first, and is one `operation` (error_checking modes). cuBLAS handles: one per host
// thread and device, created on first use and never destroyed (destroying them at exit could run
// after the CUDA runtime has shut down).
//
// Validation: shapes, strides, options and overlapping outputs on the host, as the CPU version;
// labels are copied to the host ([N] integers) and checked there before any kernel reads them.
// Unlike the CPU version, hidden, weight, lse and grad_logp are not scanned for non-finite values
// (that would be a device pass and a synchronisation); non-finite hidden states or weights surface
// as the forward's non-finite row error.
//
// Linking: the program must link cuBLAS (CMake: CUDA::cublas from find_package(CUDAToolkit); the
// prefopt::cuda target does not add it, since the rest of the backend does not need it).
// Include from a .cu translation unit compiled by nvcc.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/backends/cuda/kernels.cuh"
#include "prefopt/backends/cuda/memory.cuh"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/logps/linear_head.hpp"

namespace prefopt::cuda {

namespace detail {

inline void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("prefopt::cuda: ") + call + " failed with cuBLAS status " +
                             std::to_string(static_cast<int>(s)));
}

/// This thread's cuBLAS handle for the current device, bound to `stream`.
inline cublasHandle_t cublas_handle(cudaStream_t stream) {
  thread_local std::map<int, cublasHandle_t> handles;
  const int device = current_device();
  cublasHandle_t& h = handles[device];
  if (h == nullptr) check_cublas(cublasCreate(&h), "cublasCreate");
  check_cublas(cublasSetStream(h, stream), "cublasSetStream");
  return h;
}

inline void gemm(cublasHandle_t h, cublasOperation_t a_op, cublasOperation_t b_op, index_t m,
                 index_t n, index_t k, float beta_, const float* a, index_t lda, const float* b,
                 index_t ldb, float* c, index_t ldc) {
  const float alpha = 1.0f;
  check_cublas(cublasSgemm(h, a_op, b_op, static_cast<int>(m), static_cast<int>(n),
                           static_cast<int>(k), &alpha, a, static_cast<int>(lda), b,
                           static_cast<int>(ldb), &beta_, c, static_cast<int>(ldc)),
               "cublasSgemm");
}
inline void gemm(cublasHandle_t h, cublasOperation_t a_op, cublasOperation_t b_op, index_t m,
                 index_t n, index_t k, double beta_, const double* a, index_t lda, const double* b,
                 index_t ldb, double* c, index_t ldc) {
  const double alpha = 1.0;
  check_cublas(cublasDgemm(h, a_op, b_op, static_cast<int>(m), static_cast<int>(n),
                           static_cast<int>(k), &alpha, a, static_cast<int>(lda), b,
                           static_cast<int>(ldb), &beta_, c, static_cast<int>(ldc)),
               "cublasDgemm");
}

/// tile [tn, vn] (row stride ld) = hidden rows [t0, t0 + tn) times W rows [v0, v0 + vn)^T.
template <class T>
void tile_logits(cublasHandle_t h, matrix_view<const T, device_space> hidden,
                 matrix_view<const T, device_space> weight, index_t t0, index_t tn, index_t v0,
                 index_t vn, T* tile, index_t ld) {
  // Column-major: tile^T [vn, tn] = W_vc [vn, H] (W's column-major form is [H, vn]: op T) times
  // hidden_tc^T [H, tn] (hidden's column-major form, op N).
  gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, vn, tn, hidden.cols, T(0), weight.row(v0), weight.row_stride,
       hidden.row(t0), hidden.row_stride, tile, ld);
}

/// cuBLAS takes int extents and leading dimensions.
template <class T, class S>
void require_int_extents(const char* name, const matrix_view<T, S>& m) {
  constexpr index_t limit = std::numeric_limits<int>::max();
  require(m.rows <= limit && m.row_stride <= limit, std::string(name) + ".rows",
          m.rows, "rows and row_stride must fit cuBLAS's int");
}

}  // namespace detail

namespace kernels {

/// One block per tile row: folds the row's log-sum-exp over [0, vn) into (run_max, run_sum) and
/// picks the label's logit when it lies in [v0, v0 + vn).
template <int BLOCK, class T, class L>
__global__ void head_lse_kernel(const T* tile, index_t ld, index_t vn, index_t t0, index_t v0,
                                const L* labels, long long ignore_index, double* run_max,
                                double* run_sum, double* picked) {
  __shared__ double smem[BLOCK];
  const index_t r = blockIdx.x;
  const T* x = tile + r * ld;
  double m = -std::numeric_limits<double>::infinity();
  for (index_t v = threadIdx.x; v < vn; v += BLOCK) {
    const double e = static_cast<double>(x[v]);
    m = (e > m || e != e) ? e : m;  // NaN wins and poisons the row
  }
  m = block_reduce<BLOCK>(m, smem, [](double a, double b) { return (b > a || b != b) ? b : a; });
  double s = 0;
  if (m != -std::numeric_limits<double>::infinity())
    for (index_t v = threadIdx.x; v < vn; v += BLOCK) s += ::exp(static_cast<double>(x[v]) - m);
  s = block_reduce<BLOCK>(s, smem, [](double a, double b) { return a + b; });
  if (threadIdx.x == 0) {
    const index_t n = t0 + r;
    prefopt::detail::online_logsumexp<double> acc{run_max[n], run_sum[n]};
    acc.merge(m, s);
    run_max[n] = acc.max;
    run_sum[n] = acc.sum;
    const auto y = static_cast<long long>(labels[n]);
    if (y != ignore_index && y >= v0 && y < v0 + vn) picked[n] = static_cast<double>(x[y - v0]);
  }
}

template <class T, class L>
__global__ void head_finish_kernel(index_t N, const double* run_max, const double* run_sum,
                                   const double* picked, const L* labels, long long ignore_index,
                                   T* logp, T* lse, unsigned long long* bad_row) {
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t n = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += stride) {
    const double l = run_max[n] + ::log(run_sum[n]);
    const bool counted = static_cast<long long>(labels[n]) != ignore_index;
    lse[n] = static_cast<T>(l);
    logp[n] = counted ? static_cast<T>(picked[n] - l) : T(0);
    if (counted && !(::isfinite(static_cast<T>(l)) && ::isfinite(static_cast<T>(picked[n]))))
      atomicMin(bad_row, static_cast<unsigned long long>(n));
  }
}

/// In place over the [tn, vn] tile: G = g (1[v0 + c = y] - exp(x - lse)), 0 on ignored rows.
template <class T, class L>
__global__ void head_grad_kernel(T* tile, index_t ld, index_t tn, index_t vn, index_t t0,
                                 index_t v0, const L* labels, long long ignore_index, const T* lse,
                                 const T* grad_logp) {
  const index_t total = tn * vn;
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const index_t r = i / vn, c = i % vn, n = t0 + r;
    T* x = tile + r * ld + c;
    const auto y = static_cast<long long>(labels[n]);
    if (y == ignore_index) {
      *x = T(0);
      continue;
    }
    const T g = grad_logp[n];
    *x = (v0 + c == y ? g : T(0)) - g * prefopt::detail::exp_(*x - lse[n]);
  }
}

template <class A>
__global__ void head_init_kernel(index_t N, A* run_max, A* run_sum, A* picked) {
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t n = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += stride) {
    run_max[n] = -std::numeric_limits<A>::infinity();
    run_sum[n] = 0;
    picked[n] = 0;
  }
}

}  // namespace kernels

namespace detail {

/// The checks both entry points start with; returns the labels copied to the host (checked).
template <class T, class L>
void validate_device_head(matrix_view<const T, device_space> hidden,
                          matrix_view<const T, device_space> weight, const L* labels,
                          const linear_head_options& o, cudaStream_t stream) {
  const index_t N = hidden.rows;
  require(labels != nullptr || N == 0, "labels", "nullptr", "must point to hidden.rows labels");
  prefopt::detail::validate_linear_head_shapes(hidden, weight,
                                               std::span<const L>(labels, static_cast<std::size_t>(N)), o);
  require_int_extents("hidden", hidden);
  require_int_extents("weight", weight);
  require(o.vocab_chunk <= std::numeric_limits<int>::max() / 2 &&
              o.token_chunk <= std::numeric_limits<int>::max() / 2,
          "options.vocab_chunk", o.vocab_chunk, "chunks must fit cuBLAS's int");
  require_device_pointer("hidden.data", hidden.data);
  require_device_pointer("weight.data", weight.data);
  require_device_pointer("labels", labels);
  if (N == 0) return;
  std::vector<L> host(static_cast<std::size_t>(N));
  check(cudaMemcpyAsync(host.data(), labels, static_cast<std::size_t>(N) * sizeof(L),
                        cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(labels, device to host)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  prefopt::detail::validate_head_labels(std::span<const L>(host), weight.rows, o.ignore_index);
}

template <class T>
prefopt::detail::argument_range device_range(const char* name, const T* p, index_t n) {
  return {name, static_cast<const void*>(p), static_cast<std::size_t>(n) * sizeof(T)};
}

}  // namespace detail

/// Forward: writes logp [N] and lse [N] (device pointers; lse is what the backward reuses).
template <class T, class L>
void linear_head_logps(matrix_view<const T, device_space> hidden,
                       matrix_view<const T, device_space> weight, const L* labels, T* logp, T* lse,
                       const linear_head_options& options = {},
                       cudaStream_t stream = current_stream()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  static constexpr const char* name = "prefopt::cuda::linear_head_logps";
  const index_t N = hidden.rows, V = weight.rows;
  require((logp != nullptr && lse != nullptr) || N == 0, "logp / lse", "nullptr",
          "must point to hidden.rows elements each");
  detail::validate_device_head(hidden, weight, labels, options, stream);
  prefopt::detail::require_no_overlap(
      {detail::device_range("logp", logp, N), detail::device_range("lse", lse, N)},
      {prefopt::detail::range_of("hidden", hidden), prefopt::detail::range_of("weight", weight),
       detail::device_range("labels", labels, N)});
  require_device_pointer("logp", logp);
  require_device_pointer("lse", lse);
  operation op(name, stream);
  if (N == 0) {
    op.end();
    return;
  }
  const index_t tile_rows = std::min(options.token_chunk, N), tile_cols = std::min(options.vocab_chunk, V);
  device_buffer<T> tile(tile_rows * tile_cols, stream);
  device_buffer<double> run_max(N, stream), run_sum(N, stream), picked(N, stream);
  kernels::head_init_kernel<<<kernels::flat_grid(N), kernels::flat_block, 0, stream>>>(
      N, run_max.data(), run_sum.data(), picked.data());
  check_launch("prefopt::cuda::kernels::head_init_kernel");
  cublasHandle_t h = detail::cublas_handle(stream);
  for (index_t t0 = 0; t0 < N; t0 += options.token_chunk) {
    const index_t tn = std::min(options.token_chunk, N - t0);
    for (index_t v0 = 0; v0 < V; v0 += options.vocab_chunk) {
      const index_t vn = std::min(options.vocab_chunk, V - v0);
      detail::tile_logits(h, hidden, weight, t0, tn, v0, vn, tile.data(), tile_cols);
      kernels::head_lse_kernel<kernels::row_block>
          <<<static_cast<unsigned>(tn), kernels::row_block, 0, stream>>>(
              tile.data(), tile_cols, vn, t0, v0, labels, options.ignore_index, run_max.data(),
              run_sum.data(), picked.data());
      check_launch("prefopt::cuda::kernels::head_lse_kernel");
    }
  }
  auto flags = make_error_flags(stream);
  kernels::head_finish_kernel<<<kernels::flat_grid(N), kernels::flat_block, 0, stream>>>(
      N, run_max.data(), run_sum.data(), picked.data(), labels, options.ignore_index, logp, lse,
      &flags.data()->row);
  check_launch("prefopt::cuda::kernels::head_finish_kernel");
  read_error_flags(name, flags, stream, [](const error_flags& f, bool) {
    prefopt::detail::throw_non_finite_head_row(static_cast<index_t>(f.row),
                                               std::numeric_limits<double>::quiet_NaN());
  });
  op.end();
}

/// Backward: OVERWRITES grad_hidden [N, H] and grad_weight [V, H] (device, row-major) with
/// dL/dhidden and dL/dweight, given grad_logp [N] = dL/dlogp and the forward's lse [N].
template <class T, class L>
void linear_head_logps_backward(matrix_view<const T, device_space> hidden,
                                matrix_view<const T, device_space> weight, const L* labels,
                                const T* lse, const T* grad_logp,
                                matrix_view<T, device_space> grad_hidden,
                                matrix_view<T, device_space> grad_weight,
                                const linear_head_options& options = {},
                                cudaStream_t stream = current_stream()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  static constexpr const char* name = "prefopt::cuda::linear_head_logps_backward";
  namespace pd = prefopt::detail;
  const index_t N = hidden.rows, V = weight.rows, H = hidden.cols;
  require((lse != nullptr && grad_logp != nullptr) || N == 0, "lse / grad_logp", "nullptr",
          "must point to hidden.rows elements each");
  detail::validate_device_head(hidden, weight, labels, options, stream);
  pd::validate_head_matrix("grad_hidden", grad_hidden, 0);
  pd::validate_head_matrix("grad_weight", grad_weight, 1);
  require_same_size("grad_hidden.rows", grad_hidden.rows, "hidden.rows", N);
  require_same_size("grad_hidden.cols", grad_hidden.cols, "hidden.cols", H);
  require_same_size("grad_weight.rows", grad_weight.rows, "weight.rows", V);
  require_same_size("grad_weight.cols", grad_weight.cols, "weight.cols", H);
  detail::require_int_extents("grad_hidden", grad_hidden);
  detail::require_int_extents("grad_weight", grad_weight);
  pd::require_no_overlap(
      {pd::range_of("grad_hidden", grad_hidden), pd::range_of("grad_weight", grad_weight)},
      {pd::range_of("hidden", hidden), pd::range_of("weight", weight),
       detail::device_range("labels", labels, N), detail::device_range("lse", lse, N),
       detail::device_range("grad_logp", grad_logp, N)});
  require_device_pointer("lse", lse);
  require_device_pointer("grad_logp", grad_logp);
  require_device_pointer("grad_hidden.data", grad_hidden.data);
  require_device_pointer("grad_weight.data", grad_weight.data);
  operation op(name, stream);
  if (N == 0) {
    check(cudaMemset2DAsync(grad_weight.data, static_cast<std::size_t>(grad_weight.row_stride) * sizeof(T), 0,
                            static_cast<std::size_t>(H) * sizeof(T), static_cast<std::size_t>(V), stream),
          "cudaMemset2DAsync(grad_weight)");
    op.end();
    return;
  }
  const index_t tile_rows = std::min(options.token_chunk, N), tile_cols = std::min(options.vocab_chunk, V);
  device_buffer<T> tile(tile_rows * tile_cols, stream);
  cublasHandle_t h = detail::cublas_handle(stream);
  for (index_t t0 = 0; t0 < N; t0 += options.token_chunk) {
    const index_t tn = std::min(options.token_chunk, N - t0);
    for (index_t v0 = 0; v0 < V; v0 += options.vocab_chunk) {
      const index_t vn = std::min(options.vocab_chunk, V - v0);
      detail::tile_logits(h, hidden, weight, t0, tn, v0, vn, tile.data(), tile_cols);
      kernels::head_grad_kernel<<<kernels::flat_grid(tn * vn), kernels::flat_block, 0, stream>>>(
          tile.data(), tile_cols, tn, vn, t0, v0, labels, options.ignore_index, lse, grad_logp);
      check_launch("prefopt::cuda::kernels::head_grad_kernel");
      // grad_hidden_tc^T [H, tn] (=|+=) W_vc^T [H, vn] (W's column-major form, op N) times
      // G^T [vn, tn] (the tile's column-major form, op N).
      detail::gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, H, tn, vn, v0 == 0 ? T(0) : T(1), weight.row(v0),
                   weight.row_stride, tile.data(), tile_cols, grad_hidden.row(t0),
                   grad_hidden.row_stride);
      // grad_weight_vc^T [H, vn] (=|+=) hidden_tc^T [H, tn] (op N) times G [tn, vn] (op T).
      detail::gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, H, vn, tn, t0 == 0 ? T(0) : T(1), hidden.row(t0),
                   hidden.row_stride, tile.data(), tile_cols, grad_weight.row(v0),
                   grad_weight.row_stride);
    }
  }
  op.end();
}

}  // namespace prefopt::cuda
