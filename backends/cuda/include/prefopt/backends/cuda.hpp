#pragma once
// prefopt::cuda::backend<T>: the CUDA adapter of the prefopt::Backend concept. Containers live in
// device memory (device_buffer / device_matrix, RAII, deep-copy value semantics); data() returns
// device pointers, and every view handed to an algorithm (logits, labels, mask) is a view in
// prefopt::device_space (device_matrix_view / device_logits_view): a host view is a compile
// error. gather_cols' column pointer must point to device memory too. Include from a .cu translation unit compiled by nvcc with
// --extended-lambda and --expt-relaxed-constexpr (the prefopt::cuda target adds both).
//
// Execution: kernels run on the legacy default stream in issue order; results reach the host
// through the synchronising copies in to_host() / download(). Every CUDA call is checked and a
// failure throws prefopt::cuda::cuda_error naming the call (kernel launches name the kernel;
// faults inside a kernel surface at the next synchronising call, which names itself).
//
// Validation happens on the host before launch, as on the CPU backends. Labels and the mask are
// copied to the host for the label-range check (a [batch, time] integer copy, ~1/V of the logits
// traffic); non-finite rows are detected by the forward kernel and reported by the host with the
// same message and row order as the CPU backends.
//
// Fused operations: token_logps_forward runs one block per token row with an online (single
// pass) log-sum-exp and never writes a softmax; token_logps_backward recomputes the softmax from
// the saved log-sum-exp while writing the gradient (see cuda/kernels.cuh). Results are
// deterministic (fixed launch shapes and reduction trees) but not bit-identical to the CPU
// backends: per-thread partial sums are accumulated in the scalar type.

#include <cuda_runtime.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

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

/// Copies a strided device [rows, cols] view to the host, keeping its strides.
template <class U>
std::vector<U> download_view(device_matrix_view<const U> v) {
  if (v.data == nullptr || v.rows == 0) return {};
  return download(v.data, (v.rows - 1) * v.row_stride + v.cols);
}

/// The host copy of `v` (from download_view) as a host view with v's shape.
template <class U>
matrix_view<const U> rebase(device_matrix_view<const U> v, const std::vector<U>& host) {
  return {host.empty() ? nullptr : host.data(), v.rows, v.cols, v.row_stride};
}

/// Host-side label-range check of device labels / mask (a [batch, time] copy, ~1/V of the
/// logits traffic), before any launch that reads them.
template <class L, class M>
void validate_device_labels(device_matrix_view<const L> labels, device_matrix_view<const M> mask,
                            index_t vocab, const token_layout& layout) {
  const auto labels_h = download_view(labels);
  const auto mask_h = download_view(mask);
  prefopt::detail::validate_labels(rebase(labels, labels_h), rebase(mask, mask_h), vocab, layout);
}

}  // namespace detail

template <std::floating_point T>
struct backend {
  using scalar_type = T;
  using vector_type = device_buffer<T>;
  using matrix_type = device_matrix<T>;
  /// Views handed to this backend are device_matrix_view / device_logits_view.
  using memory_space = device_space;

  // ---- containers ---------------------------------------------------------------------------
  static vector_type zeros(index_t n) {
    primitive_checks::vector_size(n);
    vector_type v(n);
    v.fill_zero();
    return v;
  }
  static matrix_type zeros(index_t rows, index_t cols) {
    primitive_checks::matrix_shape(rows, cols);
    matrix_type m{vector_type(rows * cols), rows, cols};
    m.buffer.fill_zero();
    return m;
  }
  static index_t size(const vector_type& v) { return v.size(); }
  static index_t rows(const matrix_type& m) { return m.rows; }
  static index_t cols(const matrix_type& m) { return m.cols; }
  static T* data(vector_type& v) { return v.data(); }
  static const T* data(const vector_type& v) { return v.data(); }
  static T* data(matrix_type& m) { return m.buffer.data(); }
  static const T* data(const matrix_type& m) { return m.buffer.data(); }
  static vector_type from_host(std::span<const T> values) { return upload(values); }
  /// A row-major host matrix of rows x cols values, one host-to-device copy.
  static matrix_type from_host(index_t rows, index_t cols, std::span<const T> values) {
    primitive_checks::matrix_upload(rows, cols, values.size());
    return matrix_type{upload(values), rows, cols};
  }
  static std::vector<T> to_host(const vector_type& v) { return download(v.data(), v.size()); }
  static std::vector<T> to_host(const matrix_type& m) {
    return download(m.buffer.data(), m.rows * m.cols);
  }
  /// One element brought to the host (a synchronising 4- or 8-byte copy).
  static T to_host_element(const vector_type& v, index_t i) {
    primitive_checks::element_index(i, v.size());
    return download(v.data() + i, 1)[0];
  }
  /// Device view of an owned matrix.
  static device_matrix_view<const T> view(const matrix_type& m) {
    return device_matrix_view<const T>::contiguous(m.buffer.data(), m.rows, m.cols);
  }

  // ---- launch -------------------------------------------------------------------------------
  /// Runs f(i) for i in [0, n) on the device; f must be a __device__ or PREFOPT_HD callable
  /// (an extended lambda capturing device pointers by value).
  template <class F>
  static void for_each(index_t n, F f) {
    if (n <= 0) return;
    kernels::for_each_kernel<<<kernels::flat_grid(n), kernels::flat_block>>>(n, f);
    check_launch("prefopt::cuda::kernels::for_each_kernel");
  }

  // ---- element-wise: the same PREFOPT_HD scalar code as the CPU backends ---------------------
  static vector_type log(const vector_type& v) {
    return map(v, [] __device__(T x) { return prefopt::detail::log_(x); });
  }
  // Optional exp, log_sigmoid, softplus (tests and users; no algorithm calls them).
  static vector_type exp(const vector_type& v) {
    return map(v, [] __device__(T x) { return prefopt::detail::exp_(x); });
  }
  static vector_type log_sigmoid(const vector_type& v) {
    return map(v, [] __device__(T x) { return prefopt::log_sigmoid(x); });
  }
  static vector_type softplus(const vector_type& v) {
    return map(v, [] __device__(T x) { return prefopt::softplus(x); });
  }
  static vector_type axpby(T a, const vector_type& x, T b, const vector_type& y) {
    primitive_checks::same_size(x.size(), y.size());
    vector_type out(x.size());
    T* o = out.data();
    const T* xp = x.data();
    const T* yp = y.data();
    for_each(x.size(), [=] __device__(index_t i) { o[i] = a * xp[i] + b * yp[i]; });
    return out;
  }

  // ---- reductions (accumulated in double, fixed order) --------------------------------------
  static T sum(const vector_type& v) {
    const T* p = v.data();
    return static_cast<T>(reduce(v.size(), [=] __device__(index_t i) { return double(p[i]); }));
  }
  static T dot(const vector_type& x, const vector_type& y) {
    primitive_checks::same_size(x.size(), y.size());
    const T* xp = x.data();
    const T* yp = y.data();
    return static_cast<T>(
        reduce(x.size(), [=] __device__(index_t i) { return double(xp[i]) * double(yp[i]); }));
  }
  static vector_type row_max(device_matrix_view<const T> m) {
    primitive_checks::row_max(m);
    return per_row(m, [](unsigned rows, device_matrix_view<const T> v, T* out) {
      kernels::row_max_kernel<<<rows, kernels::row_block>>>(v, out);
      check_launch("prefopt::cuda::kernels::row_max_kernel");
    });
  }
  static vector_type row_logsumexp(device_matrix_view<const T> m) {
    validate_matrix_view("m", m);
    return per_row(m, [](unsigned rows, device_matrix_view<const T> v, T* out) {
      kernels::row_logsumexp_kernel<<<rows, kernels::row_block>>>(v, out);
      check_launch("prefopt::cuda::kernels::row_logsumexp_kernel");
    });
  }
  // Optional row_sum and gather_cols (tests and users: no algorithm calls them on a device
  // backend; the generic log-prob path that uses gather_cols is host-only).
  static vector_type row_sum(device_matrix_view<const T> m) {
    validate_matrix_view("m", m);
    return per_row(m, [](unsigned rows, device_matrix_view<const T> v, T* out) {
      kernels::row_sum_kernel<<<rows, kernels::row_block>>>(v, out);
      check_launch("prefopt::cuda::kernels::row_sum_kernel");
    });
  }
  /// `cols` is a device pointer to m.rows column indices.
  static vector_type gather_cols(device_matrix_view<const T> m, const std::int64_t* cols) {
    primitive_checks::gather_cols(m, cols);
    vector_type out(m.rows);
    T* o = out.data();
    for_each(m.rows, [=] __device__(index_t r) {
      const std::int64_t c = cols[r];
      o[r] = (c >= 0 && c < m.cols) ? m(r, c) : T(0);
    });
    return out;
  }

  // ---- linear algebra -----------------------------------------------------------------------
  static vector_type matvec(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec(m.cols, x.size());
    vector_type out = zeros(m.rows);
    if (m.rows > 0) {
      kernels::matvec_kernel<<<grid_rows(m.rows), kernels::row_block>>>(view(m), x.data(),
                                                                          out.data());
      check_launch("prefopt::cuda::kernels::matvec_kernel");
    }
    return out;
  }
  static vector_type matvec_transposed(const matrix_type& m, const vector_type& x) {
    primitive_checks::matvec_transposed(m.rows, x.size());
    vector_type out = zeros(m.cols);
    if (m.cols > 0) {
      const auto blocks = static_cast<unsigned>((m.cols + kernels::flat_block - 1) / kernels::flat_block);
      kernels::matvec_transposed_kernel<<<blocks, kernels::flat_block>>>(view(m), x.data(),
                                                                          out.data());
      check_launch("prefopt::cuda::kernels::matvec_transposed_kernel");
    }
    return out;
  }

  // ---- fused sequence log-probs -------------------------------------------------------------
  template <class L, class M>
  static sequence_logps_result<backend> token_logps_forward(device_logits_view<const T> logits,
                                                            device_matrix_view<const L> labels,
                                                            device_matrix_view<const M> mask,
                                                            const sequence_logps_options& options) {
    const token_layout layout = options.layout;
    detail::validate_device_labels(labels, mask, logits.vocab, layout);
    const index_t B = logits.batch, P = layout.predicted_positions(logits.time);
    sequence_logps_result<backend> out{zeros(B, P), zeros(B, P), zeros(B), zeros(B), zeros(0)};
    if (B * P > 0) {
      require(B * P <= std::numeric_limits<int>::max(), "logits.batch * positions", B * P,
              "must fit one CUDA grid dimension (2^31 - 1 token rows)");
      constexpr auto none = std::numeric_limits<unsigned long long>::max();
      device_buffer<unsigned long long> first_bad(1);
      first_bad.copy_from_host(&none, 1);
      kernels::token_logps_forward_kernel<<<static_cast<unsigned>(B * P), kernels::row_block>>>(
          logits, labels, mask, layout, P, data(out.token_logps), data(out.token_lse),
          first_bad.data());
      check_launch("prefopt::cuda::kernels::token_logps_forward_kernel");
      unsigned long long bad = none;
      first_bad.copy_to_host(&bad, 1);
      if (bad != none) {
        const auto r = static_cast<index_t>(bad);
        const T lse = download(data(out.token_lse) + r, 1)[0];
        const T lp = download(data(out.token_logps) + r, 1)[0];
        prefopt::detail::throw_non_finite_logits(r / P, r % P,
                                                 prefopt::detail::isfinite_(lse) ? lp : lse);
      }
    }
    if (B > 0) {
      kernels::sequence_sums_kernel<<<static_cast<unsigned>(B), kernels::row_block>>>(
          data(out.token_logps), labels, mask, layout, P, data(out.sum), data(out.count));
      check_launch("prefopt::cuda::kernels::sequence_sums_kernel");
    }
    return out;
  }

  template <class L, class M>
  static void token_logps_backward(device_logits_view<const T> logits,
                                   device_matrix_view<const L> labels,
                                   device_matrix_view<const M> mask, const matrix_type& token_lse,
                                   const vector_type& coeff, device_logits_view<T> grad,
                                   const sequence_logps_options& options) {
    const index_t rows = logits.batch * logits.time;
    if (rows == 0) return;
    // Same check as the forward pass, so every backend rejects the same labels.
    detail::validate_device_labels(labels, mask, logits.vocab, options.layout);
    require(rows <= std::numeric_limits<int>::max(), "logits.batch * logits.time", rows,
            "must fit one CUDA grid dimension (2^31 - 1 token rows)");
    const index_t P = options.layout.predicted_positions(logits.time);
    kernels::token_logps_backward_kernel<<<static_cast<unsigned>(rows), kernels::row_block>>>(
        logits, labels, mask, options.layout, P, data(token_lse), coeff.data(), grad);
    check_launch("prefopt::cuda::kernels::token_logps_backward_kernel");
  }

  // Public only because nvcc's extended lambdas may not live in private member functions.
  template <class F>
  static vector_type map(const vector_type& v, F f) {
    vector_type out(v.size());
    T* o = out.data();
    const T* x = v.data();
    for_each(v.size(), [=] __device__(index_t i) { o[i] = f(x[i]); });
    return out;
  }
  template <class F>
  static double reduce(index_t n, F f) {
    if (n <= 0) return 0.0;
    const unsigned blocks = kernels::flat_grid(n);
    device_buffer<double> partials(blocks), total(1);
    kernels::sum_kernel<<<blocks, kernels::flat_block>>>(n, f, partials.data());
    check_launch("prefopt::cuda::kernels::sum_kernel");
    kernels::sum_kernel<<<1, kernels::flat_block>>>(static_cast<index_t>(blocks),
                                                     kernels::read_double{partials.data()},
                                                     total.data());
    check_launch("prefopt::cuda::kernels::sum_kernel");
    double out = 0;
    total.copy_to_host(&out, 1);
    return out;
  }

 private:
  static unsigned grid_rows(index_t rows) {
    require(rows <= std::numeric_limits<int>::max(), "rows", rows,
            "must fit one CUDA grid dimension (2^31 - 1)");
    return static_cast<unsigned>(rows);
  }
  template <class Launch>
  static vector_type per_row(device_matrix_view<const T> m, Launch launch) {
    vector_type out(m.rows);
    if (m.rows > 0) launch(grid_rows(m.rows), m, out.data());
    return out;
  }
};

static_assert(Backend<backend<float>> && Backend<backend<double>>);
// A device backend must take the fused path (the generic one reads labels on the host and is
// refused for device memory); this fails here if a signature stops matching.
static_assert(fused_logps_backend<backend<float>> && fused_logps_backend<backend<double>> &&
              fused_logps_backend<backend<float>, std::int32_t, bool>);

}  // namespace prefopt::cuda
