#pragma once
// prefopt::cuda::backend<T>: the CUDA adapter of the prefopt::Backend concept. Containers live in
// device memory (device_buffer / device_matrix, RAII, deep-copy value semantics); data() returns
// device pointers, and every view handed to an algorithm (logits, labels, mask) is a view in
// prefopt::device_space (device_matrix_view / device_logits_view): a host view is a compile
// error. gather_cols' column pointer must point to device memory too. Include from a .cu translation unit compiled by nvcc with
// --extended-lambda and --expt-relaxed-constexpr (the prefopt::cuda target adds both).
//
// Execution: every member takes a cudaStream_t as its last argument, by default current_stream()
// (the legacy default stream 0 unless a stream_scope is active), and queues its kernels, copies
// and memsets on it; buffers come from a stream-ordered pool (cuda/memory.cuh). Results reach
// the host through to_host() / download(), which synchronise the stream. Every CUDA call is
// checked and a failure throws prefopt::cuda::cuda_error naming the call; a fault inside a
// kernel surfaces at the next prefopt call, or at the call itself under error_checking::debug.
//
// Validation: shapes and strides on the host, every base pointer with cudaPointerGetAttributes
// (device memory of the current device), before any kernel. Labels are range-checked by the
// kernels themselves (an out-of-range label is flagged, never used as an index), and non-finite
// rows are flagged by the forward kernel; the host reads the call's two flags once and reports
// the lowest flagged position with the CPU backends' message (error_checking::deferred defers
// even that read to a later call).
//
// Fused operations: token_logps_forward runs one block per token row with an online (single
// pass) log-sum-exp and never writes a softmax; token_logps_backward recomputes the softmax from
// the saved log-sum-exp while writing the gradient (see cuda/kernels.cuh). Results are
// deterministic (fixed launch shapes and reduction trees) but not bit-identical to the CPU
// backends: per-thread partial sums are accumulated in the scalar type. backend<float> also takes
// 16-bit logits (device_logits_view<const prefopt::bfloat16> / <const prefopt::float16>): float
// accumulation and results, the gradient rounded once to the storage type (cuda/half_kernels.cuh).

#include <cuda_runtime.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <span>
#include <type_traits>
#include <vector>

#include "prefopt/backends/cuda/half_kernels.cuh"
#include "prefopt/backends/cuda/kernels.cuh"
#include "prefopt/backends/cuda/memory.cuh"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/memory_space.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/primitive_checks.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/logps/detail/token_checks.hpp"
#include "prefopt/logps/types.hpp"

namespace prefopt::cuda {

namespace detail {

/// A host copy of a strided device [rows, cols] view, kept with its strides (an array, not a
/// std::vector, so that bool masks work too).
template <class U>
struct host_copy {
  std::unique_ptr<U[]> values;
  index_t size = 0;
};

/// Copies a strided device [rows, cols] view to the host on `stream`, keeping its strides.
template <class U>
host_copy<U> download_view(device_matrix_view<const U> v, cudaStream_t stream = 0) {
  host_copy<U> out;
  if (v.data == nullptr || v.rows == 0) return out;
  out.size = (v.rows - 1) * v.row_stride + v.cols;
  out.values = std::make_unique<U[]>(static_cast<std::size_t>(out.size));
  check(cudaMemcpyAsync(out.values.get(), v.data, static_cast<std::size_t>(out.size) * sizeof(U),
                        cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(device to host)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  return out;
}

/// The host copy of `v` (from download_view) as a host view with v's shape.
template <class U>
matrix_view<const U> rebase(device_matrix_view<const U> v, const host_copy<U>& host) {
  return {host.values.get(), v.rows, v.cols, v.row_stride};
}

/// The CPU backends' error for flags raised by the log-prob kernels, whose rows are
/// r = b * row_len + position: label errors first (validate_labels runs first on the host), then
/// non-finite rows, then empty sequences. `deferred`: reported by a later call, so no device memory of this one is read.
template <class T, class L>
[[noreturn]] void throw_logps_flags(const error_flags& f, index_t row_len, const token_layout& layout,
                                    index_t vocab, device_matrix_view<const L> labels,
                                    const T* token_logps, const T* token_lse, bool deferred,
                                    const char* operation, cudaStream_t stream) {
  const std::string later =
      std::string(" (error_checking::deferred: found by a later call; value not read back; "
                  "raised by ") + operation + ")";
  if (f.label != no_flag) {
    const auto r = static_cast<index_t>(f.label);
    const index_t b = r / row_len, col = layout.label_column(r % row_len);
    const std::string name = "labels[" + std::to_string(b) + ", " + std::to_string(col) + "]";
    const std::string requirement = "must be in [0, vocab = " + std::to_string(vocab) +
                                    ") or equal ignore_index = " +
                                    std::to_string(layout.ignore_index);
    if (deferred) throw_invalid_argument(name, "?", requirement + later);
    throw_invalid_argument(
        name, static_cast<long long>(download(labels.row(b) + col, 1, stream)[0]), requirement);
  }
  if (f.row == no_flag)  // only an empty sequence (checked after the rows, as on the host)
    prefopt::detail::throw_empty_sequence(static_cast<index_t>(f.sequence));
  const auto r = static_cast<index_t>(f.row);
  if (deferred)
    throw_invalid_argument("logits[" + std::to_string(r / row_len) + ", " +
                               std::to_string(r % row_len) + ", :]",
                           "?",
                           "log-sum-exp or label logit is not finite (NaN or +Inf in the row, or "
                           "-Inf at the label); logits must be finite" + later);
  const T lse = download(token_lse + r, 1, stream)[0];
  const T lp = download(token_logps + r, 1, stream)[0];
  prefopt::detail::throw_non_finite_logits(r / row_len, r % row_len,
                                           prefopt::detail::isfinite_(lse) ? lp : lse);
}

}  // namespace detail

template <std::floating_point T>
struct backend {
  using scalar_type = T;
  using vector_type = device_buffer<T>;
  using matrix_type = device_matrix<T>;
  /// Views handed to this backend are device_matrix_view / device_logits_view.
  using memory_space = device_space;
  /// token_logps_forward rejects empty sequences itself when a mean is asked for (flagged by the
  /// sums kernel, reported with the other flags), so sequence_logps reads no counts back.
  static constexpr bool fused_forward_checks_empty_sequences = true;

  // ---- containers ---------------------------------------------------------------------------
  static vector_type zeros(index_t n, cudaStream_t stream = current_stream()) {
    primitive_checks::vector_size(n);
    operation op("prefopt::cuda::backend::zeros", stream);
    vector_type v(n, stream);
    v.fill_zero(stream);
    op.end();
    return v;
  }
  static matrix_type zeros(index_t rows, index_t cols, cudaStream_t stream = current_stream()) {
    primitive_checks::matrix_shape(rows, cols);
    operation op("prefopt::cuda::backend::zeros", stream);
    matrix_type m{vector_type(rows * cols, stream), rows, cols};
    m.buffer.fill_zero(stream);
    op.end();
    return m;
  }
  /// A rows x cols matrix whose values are not set (no memset): for outputs that a kernel writes
  /// in full, e.g. the owned gradient of sequence_logps_backward (optional, not in the concept).
  static matrix_type uninitialized(index_t rows, index_t cols,
                                   cudaStream_t stream = current_stream()) {
    primitive_checks::matrix_shape(rows, cols);
    operation op("prefopt::cuda::backend::uninitialized", stream);
    matrix_type m{vector_type(rows * cols, stream), rows, cols};
    op.end();
    return m;
  }
  /// The Backend concept's pointer check for spans (which carry no memory space): device memory
  /// of the current device, or invalid_argument naming `argument` (cudaPointerGetAttributes).
  static void require_accessible(const char* argument, const void* p) {
    require_device_pointer(argument, p);
  }
  static index_t size(const vector_type& v) { return v.size(); }
  static index_t rows(const matrix_type& m) { return m.rows; }
  static index_t cols(const matrix_type& m) { return m.cols; }
  static T* data(vector_type& v) { return v.data(); }
  static const T* data(const vector_type& v) { return v.data(); }
  static T* data(matrix_type& m) { return m.buffer.data(); }
  static const T* data(const matrix_type& m) { return m.buffer.data(); }
  static vector_type from_host(std::span<const T> values, cudaStream_t stream = current_stream()) {
    operation op("prefopt::cuda::backend::from_host", stream);
    vector_type v = upload(values, stream);
    op.end();
    return v;
  }
  /// A row-major host matrix of rows x cols values, one host-to-device copy.
  static matrix_type from_host(index_t rows, index_t cols, std::span<const T> values,
                               cudaStream_t stream = current_stream()) {
    primitive_checks::matrix_upload(rows, cols, values.size());
    operation op("prefopt::cuda::backend::from_host", stream);
    matrix_type m{upload(values, stream), rows, cols};
    op.end();
    return m;
  }
  static std::vector<T> to_host(const vector_type& v, cudaStream_t stream = current_stream()) {
    operation op("prefopt::cuda::backend::to_host", stream);
    auto h = download(v.data(), v.size(), stream);
    op.end();
    return h;
  }
  static std::vector<T> to_host(const matrix_type& m, cudaStream_t stream = current_stream()) {
    operation op("prefopt::cuda::backend::to_host", stream);
    auto h = download(m.buffer.data(), m.rows * m.cols, stream);
    op.end();
    return h;
  }
  /// One element brought to the host (a 4- or 8-byte copy; synchronises the stream).
  static T to_host_element(const vector_type& v, index_t i,
                           cudaStream_t stream = current_stream()) {
    primitive_checks::element_index(i, v.size());
    operation op("prefopt::cuda::backend::to_host_element", stream);
    const T x = download(v.data() + i, 1, stream)[0];
    op.end();
    return x;
  }
  /// Device view of an owned matrix.
  static device_matrix_view<const T> view(const matrix_type& m) {
    return device_matrix_view<const T>::contiguous(m.buffer.data(), m.rows, m.cols);
  }

  // ---- launch -------------------------------------------------------------------------------
  /// Runs f(i) for i in [0, n) on the device; f must be a __device__ or PREFOPT_HD callable
  /// (an extended lambda capturing device pointers by value).
  template <class F>
  static void for_each(index_t n, F f, cudaStream_t stream = current_stream()) {
    if (n <= 0) return;
    operation op("prefopt::cuda::backend::for_each", stream);
    kernels::for_each_kernel<<<kernels::flat_grid(n), kernels::flat_block, 0, stream>>>(n, f);
    check_launch("prefopt::cuda::kernels::for_each_kernel");
    op.end();
  }

  // ---- element-wise: the same PREFOPT_HD scalar code as the CPU backends ---------------------
  static vector_type log(const vector_type& v, cudaStream_t stream = current_stream()) {
    return map(v, [] __device__(T x) { return prefopt::detail::log_(x); }, stream);
  }
  // Optional exp, log_sigmoid, softplus (tests and users; no algorithm calls them).
  static vector_type exp(const vector_type& v, cudaStream_t stream = current_stream()) {
    return map(v, [] __device__(T x) { return prefopt::detail::exp_(x); }, stream);
  }
  static vector_type log_sigmoid(const vector_type& v, cudaStream_t stream = current_stream()) {
    return map(v, [] __device__(T x) { return prefopt::log_sigmoid(x); }, stream);
  }
  static vector_type softplus(const vector_type& v, cudaStream_t stream = current_stream()) {
    return map(v, [] __device__(T x) { return prefopt::softplus(x); }, stream);
  }
  static vector_type axpby(T a, const vector_type& x, T b, const vector_type& y,
                           cudaStream_t stream = current_stream()) {
    primitive_checks::same_size(x.size(), y.size());
    operation op("prefopt::cuda::backend::axpby", stream);
    vector_type out(x.size(), stream);
    T* o = out.data();
    const T* xp = x.data();
    const T* yp = y.data();
    for_each(x.size(), [=] __device__(index_t i) { o[i] = a * xp[i] + b * yp[i]; }, stream);
    op.end();
    return out;
  }

  // ---- reductions (accumulated in double, fixed order) --------------------------------------
  static T sum(const vector_type& v, cudaStream_t stream = current_stream()) {
    const T* p = v.data();
    return static_cast<T>(
        reduce(v.size(), [=] __device__(index_t i) { return double(p[i]); }, stream));
  }
  static T dot(const vector_type& x, const vector_type& y,
               cudaStream_t stream = current_stream()) {
    primitive_checks::same_size(x.size(), y.size());
    const T* xp = x.data();
    const T* yp = y.data();
    return static_cast<T>(reduce(
        x.size(), [=] __device__(index_t i) { return double(xp[i]) * double(yp[i]); }, stream));
  }
  static vector_type row_max(device_matrix_view<const T> m,
                             cudaStream_t stream = current_stream()) {
    primitive_checks::row_max(m);
    return per_row("prefopt::cuda::backend::row_max", m, stream, kernels::row_max_kernel<T>,
                   "prefopt::cuda::kernels::row_max_kernel");
  }
  static vector_type row_logsumexp(device_matrix_view<const T> m,
                                   cudaStream_t stream = current_stream()) {
    validate_matrix_view("m", m);
    return per_row("prefopt::cuda::backend::row_logsumexp", m, stream,
                   kernels::row_logsumexp_kernel<T>,
                   "prefopt::cuda::kernels::row_logsumexp_kernel");
  }
  // Optional row_sum and gather_cols (tests and users: no algorithm calls them on a device
  // backend; the generic log-prob path that uses gather_cols is host-only).
  static vector_type row_sum(device_matrix_view<const T> m,
                             cudaStream_t stream = current_stream()) {
    validate_matrix_view("m", m);
    return per_row("prefopt::cuda::backend::row_sum", m, stream, kernels::row_sum_kernel<T>,
                   "prefopt::cuda::kernels::row_sum_kernel");
  }
  /// `cols` is a device pointer to m.rows column indices.
  static vector_type gather_cols(device_matrix_view<const T> m, const std::int64_t* cols,
                                 cudaStream_t stream = current_stream()) {
    primitive_checks::gather_cols(m, cols);
    require_device_pointer("m.data", m.data);
    require_device_pointer("cols", cols);
    operation op("prefopt::cuda::backend::gather_cols", stream);
    vector_type out(m.rows, stream);
    T* o = out.data();
    for_each(m.rows, [=] __device__(index_t r) {
      const std::int64_t c = cols[r];
      o[r] = (c >= 0 && c < m.cols) ? m(r, c) : T(0);
    }, stream);
    op.end();
    return out;
  }

  // ---- linear algebra -----------------------------------------------------------------------
  static vector_type matvec(const matrix_type& m, const vector_type& x,
                            cudaStream_t stream = current_stream()) {
    primitive_checks::matvec(m.cols, x.size());
    return written_by("prefopt::cuda::backend::matvec", m.rows, stream, [&](T* out) {
      kernels::matvec_kernel<<<grid_rows(m.rows), kernels::row_block, 0, stream>>>(
          view(m), x.data(), out);
      check_launch("prefopt::cuda::kernels::matvec_kernel");
    });
  }
  static vector_type matvec_transposed(const matrix_type& m, const vector_type& x,
                                       cudaStream_t stream = current_stream()) {
    primitive_checks::matvec_transposed(m.rows, x.size());
    const auto blocks =
        static_cast<unsigned>((m.cols + kernels::flat_block - 1) / kernels::flat_block);
    return written_by("prefopt::cuda::backend::matvec_transposed", m.cols, stream, [&](T* out) {
      kernels::matvec_transposed_kernel<<<blocks, kernels::flat_block, 0, stream>>>(
          view(m), x.data(), out);
      check_launch("prefopt::cuda::kernels::matvec_transposed_kernel");
    });
  }

  // ---- fused sequence log-probs -------------------------------------------------------------
  /// The forward of sequence_logps on `stream`: no host copy of the labels (the kernel checks
  /// their range), stream-ordered buffers, and one read of the error flags (none under
  /// error_checking::deferred).
  template <class L, class M>
  static sequence_logps_result<backend> token_logps_forward(
      device_logits_view<const T> logits, device_matrix_view<const L> labels,
      device_matrix_view<const M> mask, const sequence_logps_options& options,
      cudaStream_t stream = current_stream()) {
    return token_logps_forward_on(logits, labels, mask, options, stream);
  }

  /// The same on 16-bit logits (prefopt::bfloat16 / float16; backend<float> only): float
  /// accumulation and float results (cuda/half_kernels.cuh).
  template <half_storage H, class L, class M>
    requires std::same_as<T, float>
  static sequence_logps_result<backend> token_logps_forward(
      device_logits_view<const H> logits, device_matrix_view<const L> labels,
      device_matrix_view<const M> mask, const sequence_logps_options& options,
      cudaStream_t stream = current_stream()) {
    return token_logps_forward_on(logits, labels, mask, options, stream);
  }

  /// The forward behind both overloads; X is T or a 16-bit storage type (T = float). Public only
  /// for the same reason as map() below.
  template <class X, class L, class M>
  static sequence_logps_result<backend> token_logps_forward_on(
      device_logits_view<const X> logits, device_matrix_view<const L> labels,
      device_matrix_view<const M> mask, const sequence_logps_options& options,
      cudaStream_t stream) {
    const token_layout layout = options.layout;
    const index_t B = logits.batch, P = layout.predicted_positions(logits.time);
    require(B * P <= std::numeric_limits<int>::max(), "logits.batch * positions", B * P,
            "must fit one CUDA grid dimension (2^31 - 1 token rows)");
    if (B * P > 0) require_device_pointers(logits.data, labels.data, mask.data);
    static constexpr const char* name = "prefopt::cuda::backend::token_logps_forward";
    operation op(name, stream);
    // Every element of every output is written by the kernels: no memset.
    sequence_logps_result<backend> out{matrix_type{vector_type(B * P, stream), B, P},
                                       matrix_type{vector_type(B * P, stream), B, P},
                                       vector_type(B, stream), vector_type(B, stream),
                                       vector_type(0, stream)};
    if (B * P > 0) {
      auto flags = make_error_flags(stream);
      if constexpr (std::is_same_v<X, T>) {
        kernels::token_logps_forward_kernel<<<static_cast<unsigned>(B * P), kernels::row_block, 0,
                                              stream>>>(logits, labels, mask, layout, P,
                                                        data(out.token_logps), data(out.token_lse),
                                                        flags.data());
        check_launch("prefopt::cuda::kernels::token_logps_forward_kernel");
      } else {
        kernels::half_token_logps_forward_kernel<<<static_cast<unsigned>(B * P),
                                                   kernels::row_block, 0, stream>>>(
            kernels::as_device_storage(logits), labels, mask, layout, P, data(out.token_logps),
            data(out.token_lse), flags.data());
        check_launch("prefopt::cuda::kernels::half_token_logps_forward_kernel");
      }
      kernels::sequence_sums_kernel<<<static_cast<unsigned>(B), kernels::row_block, 0, stream>>>(
          data(out.token_logps), labels, mask, layout, P, data(out.sum), data(out.count),
          static_cast<T*>(nullptr), options.compute_mean ? &flags.data()->sequence : nullptr);
      check_launch("prefopt::cuda::kernels::sequence_sums_kernel");
      const T* lp = data(out.token_logps);
      const T* lse = data(out.token_lse);
      read_error_flags(name, flags, stream, [=](const error_flags& f, bool deferred) {
        detail::throw_logps_flags(f, P, layout, logits.vocab, labels, lp, lse, deferred, name,
                                  stream);
      });
    } else if (B > 0) {  // no positions: every sum and count is 0
      if (options.compute_mean) prefopt::detail::throw_empty_sequence(0);
      out.sum.fill_zero(stream);
      out.count.fill_zero(stream);
    }
    op.end();
    return out;
  }

  /// The backward of sequence_logps on `stream`: the kernel checks the labels' range as the
  /// forward does (one read of the flag; none under error_checking::deferred).
  template <class L, class M>
  static void token_logps_backward(device_logits_view<const T> logits,
                                   device_matrix_view<const L> labels,
                                   device_matrix_view<const M> mask, const matrix_type& token_lse,
                                   const vector_type& coeff, device_logits_view<T> grad,
                                   const sequence_logps_options& options,
                                   cudaStream_t stream = current_stream()) {
    token_logps_backward_on(logits, labels, mask, token_lse, coeff, grad, options, stream);
  }

  /// The same on 16-bit logits (backend<float> only): the gradient computed in float and
  /// rounded once to the storage type.
  template <half_storage H, class L, class M>
    requires std::same_as<T, float>
  static void token_logps_backward(device_logits_view<const H> logits,
                                   device_matrix_view<const L> labels,
                                   device_matrix_view<const M> mask, const matrix_type& token_lse,
                                   const vector_type& coeff, device_logits_view<H> grad,
                                   const sequence_logps_options& options,
                                   cudaStream_t stream = current_stream()) {
    token_logps_backward_on(logits, labels, mask, token_lse, coeff, grad, options, stream);
  }

  /// The backward behind both overloads (public for the same reason as map() below).
  template <class X, class L, class M>
  static void token_logps_backward_on(device_logits_view<const X> logits,
                                      device_matrix_view<const L> labels,
                                      device_matrix_view<const M> mask,
                                      const matrix_type& token_lse, const vector_type& coeff,
                                      device_logits_view<X> grad,
                                      const sequence_logps_options& options, cudaStream_t stream) {
    const index_t rows = logits.batch * logits.time;
    if (rows == 0) return;
    require(rows <= std::numeric_limits<int>::max(), "logits.batch * logits.time", rows,
            "must fit one CUDA grid dimension (2^31 - 1 token rows)");
    require_device_pointers(logits.data, labels.data, mask.data);
    require_device_pointer("grad_logits.data", grad.data);
    static constexpr const char* name = "prefopt::cuda::backend::token_logps_backward";
    operation op(name, stream);
    const token_layout layout = options.layout;
    const index_t P = layout.predicted_positions(logits.time);
    auto flags = make_error_flags(stream);
    if constexpr (std::is_same_v<X, T>) {
      kernels::token_logps_backward_kernel<<<static_cast<unsigned>(rows), kernels::row_block, 0,
                                             stream>>>(logits, labels, mask, layout, P,
                                                       data(token_lse), coeff.data(), grad,
                                                       flags.data());
      check_launch("prefopt::cuda::kernels::token_logps_backward_kernel");
    } else {
      kernels::half_token_logps_backward_kernel<<<static_cast<unsigned>(rows), kernels::row_block,
                                                  0, stream>>>(
          kernels::as_device_storage(logits), labels, mask, layout, P, data(token_lse),
          coeff.data(), kernels::as_device_storage_out(grad), flags.data());
      check_launch("prefopt::cuda::kernels::half_token_logps_backward_kernel");
    }
    const index_t Tt = logits.time, V = logits.vocab;
    read_error_flags(name, flags, stream, [=](const error_flags& f, bool deferred) {
      detail::throw_logps_flags<T>(f, Tt, layout, V, labels, nullptr, nullptr, deferred, name,
                                   stream);
    });
    op.end();
  }

  // Public only because nvcc's extended lambdas may not live in private member functions.
  template <class F>
  static vector_type map(const vector_type& v, F f, cudaStream_t stream = current_stream()) {
    operation op("prefopt::cuda::backend::map", stream);
    vector_type out(v.size(), stream);
    T* o = out.data();
    const T* x = v.data();
    for_each(v.size(), [=] __device__(index_t i) { o[i] = f(x[i]); }, stream);
    op.end();
    return out;
  }
  template <class F>
  static double reduce(index_t n, F f, cudaStream_t stream = current_stream()) {
    if (n <= 0) return 0.0;
    operation op("prefopt::cuda::backend::reduce", stream);
    const unsigned blocks = kernels::flat_grid(n);
    device_buffer<double> partials(blocks, stream), total(1, stream);
    kernels::sum_kernel<<<blocks, kernels::flat_block, 0, stream>>>(n, f, partials.data());
    check_launch("prefopt::cuda::kernels::sum_kernel");
    kernels::sum_kernel<<<1, kernels::flat_block, 0, stream>>>(
        static_cast<index_t>(blocks), kernels::read_double{partials.data()}, total.data());
    check_launch("prefopt::cuda::kernels::sum_kernel");
    double out = 0;
    total.copy_to_host(&out, 1, stream);
    op.end();
    return out;
  }

 private:
  template <class X, class L, class M>
  static void require_device_pointers(const X* logits, const L* labels, const M* mask) {
    require_device_pointer("logits.data", logits);
    require_device_pointer("labels.data", labels);
    require_device_pointer("mask.data", mask);
  }
  static unsigned grid_rows(index_t rows) {
    require(rows <= std::numeric_limits<int>::max(), "rows", rows,
            "must fit one CUDA grid dimension (2^31 - 1)");
    return static_cast<unsigned>(rows);
  }
  /// A new vector of n elements on `stream`, every one written by launch(data) (not run when
  /// n = 0), as the operation `name`.
  template <class Launch>
  static vector_type written_by(const char* name, index_t n, cudaStream_t stream, Launch launch) {
    operation op(name, stream);
    vector_type out(n, stream);
    if (n > 0) launch(out.data());
    op.end();
    return out;
  }
  /// One block per row of m: kernel(m, out) on `stream`.
  static vector_type per_row(const char* name, device_matrix_view<const T> m,
                             cudaStream_t stream, void (*kernel)(device_matrix_view<const T>, T*),
                             const char* kernel_name) {
    if (m.rows > 0) require_device_pointer("m.data", m.data);
    return written_by(name, m.rows, stream, [&](T* out) {
      kernel<<<grid_rows(m.rows), kernels::row_block, 0, stream>>>(m, out);
      check_launch(kernel_name);
    });
  }
};

static_assert(Backend<backend<float>> && Backend<backend<double>>);
// A device backend must take the fused path (the generic one reads labels on the host and is
// refused for device memory); this fails here if a signature stops matching.
static_assert(fused_logps_backend<backend<float>> && fused_logps_backend<backend<double>> &&
              fused_logps_backend<backend<float>, std::int32_t, bool>);
static_assert(fused_half_logps_backend<backend<float>, bfloat16> &&
              fused_half_logps_backend<backend<float>, float16> &&
              !fused_half_logps_backend<backend<double>, bfloat16>);

}  // namespace prefopt::cuda
