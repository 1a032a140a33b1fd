#pragma once
// prefopt::cuda::token_kl / token_kl_backward: the exact token divergences of
// prefopt/kl/token_kl.hpp (forward KL, reverse KL, TRL's generalized JSD) for logits, labels and
// mask in device memory. Same arguments as the host functions, with device_space views; same
// definitions, same counted positions (label shift, ignore_index, mask), same rejected input with
// the same messages.
//
// Why a separate name in prefopt::cuda and not an overload selected by the views' space: the host
// token_kl is not written over a backend (it reads views in place and returns std::vector), and
// its result type cannot hold device memory. The CUDA functions return device buffers, so the
// per-token values stay on the device for the next kernel of a training step.
//
// Method: one block of kernels::row_block threads per token row. Each thread folds its strided
// share of the two rows into a kl::detail::pair_state (the two online softmaxes of the host code:
// max and sum of exp for each distribution, plus the log-ratio accumulators), and the block merges
// the partial states in a fixed tree (kernels::block_reduce). jsd then reads the row a second time
// for the mixture terms. No softmax is stored; everything is accumulated in double whatever the
// logits type, as on the host. All per-element and per-row maths is the host's own PREFOPT_HD code
// (kl/divergence.hpp); only the order in which partial sums are merged differs, so results agree
// with the host to rounding (~1e-15 relative in double), not bit for bit.
//
// Streams: both functions take a cudaStream_t (default current_stream(), the legacy default stream
// unless a stream_scope is active) and queue every kernel, copy and allocation on it.
//
// Validation: shapes, strides and beta are checked on the host before anything touches the
// device, then every base pointer (cudaPointerGetAttributes: device memory of the current
// device); labels and mask are copied to the host (a [batch, time] integer copy, ~1/V of the
// logits traffic) for the label-range check before any kernel reads them. NaN / +Inf logits, rows
// of only -Inf and +Inf divergences are found by the kernels: each bad row stores its status and
// token, the lowest bad row index goes to the row of the device error flags (atomicMin), and the host turns it
// into the host code's prefopt::invalid_argument (kl::detail::throw_row_error), lowest row first.
//
// Include from a .cu translation unit compiled by nvcc (the prefopt::cuda target's flags).

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "prefopt/backends/cuda.hpp"
#include "prefopt/backends/cuda/kernels.cuh"
#include "prefopt/backends/cuda/memory.cuh"
#include "prefopt/kl/divergence.hpp"
#include "prefopt/kl/token_kl.hpp"

namespace prefopt::cuda {

/// token_kl's result in device memory: per-token values [batch, positions] (row-major, 0 where a
/// position does not count) and the per-sequence sum, count and mean [batch] (mean empty unless
/// compute_mean), as prefopt::kl::token_kl_result holds them on the host.
template <class T>
struct token_kl_result {
  index_t batch = 0;
  index_t positions = 0;
  device_buffer<T> token;
  device_buffer<T> sum;
  device_buffer<T> count;
  device_buffer<T> mean;
};

namespace kernels {

/// One thread's (or a merged group's) share of a row pair: the kl::detail::pair_state fields
/// plus the lowest offending token. Plain data, since it lives in __shared__ memory.
struct kl_partial {
  double max_x, sum_x, both_x, acc_x, max_y, sum_y, both_y, acc_y;
  long long bad;  // lowest token with a non-ok status, or no_bad
  int status;     // its kl::row_status
};

inline constexpr long long kl_no_bad = std::numeric_limits<long long>::max();

__device__ inline kl::detail::pair_state to_state(const kl_partial& p) {
  kl::detail::pair_state s;
  s.max_x = p.max_x, s.sum_x = p.sum_x, s.both_x = p.both_x, s.acc_x = p.acc_x;
  s.max_y = p.max_y, s.sum_y = p.sum_y, s.both_y = p.both_y, s.acc_y = p.acc_y;
  return s;
}

__device__ inline kl_partial to_partial(const kl::detail::pair_state& s, long long bad,
                                        int status) {
  return {s.max_x, s.sum_x, s.both_x, s.acc_x, s.max_y, s.sum_y, s.both_y, s.acc_y, bad, status};
}

__device__ inline kl_partial merge_partials(kl_partial a, kl_partial b) {
  kl::detail::pair_state s = to_state(a);
  s.merge(to_state(b));
  // The lowest offending token wins: the one the host's left-to-right scan reports.
  return b.bad < a.bad ? to_partial(s, b.bad, b.status) : to_partial(s, a.bad, a.status);
}

struct kl_sums {
  double pm, qm;
};

/// The row statistics of (x, y)[0, n) under the effective direction `dir`, computed by the whole
/// block (every thread gets them); status != ok marks a rejected row.
template <int BLOCK, class T>
__device__ kl::row_stats block_row_divergence(const T* x, const T* y, index_t n,
                                              kl::divergence dir, double beta, double log_1mb,
                                              double log_b, kl_partial* smem) {
  using kl::detail::neg_inf;
  kl::detail::pair_state st;
  long long bad = kl_no_bad;
  int status = static_cast<int>(kl::row_status::ok);
  for (index_t v = threadIdx.x; v < n; v += BLOCK) {
    const double a = static_cast<double>(x[v]), b = static_cast<double>(y[v]);
    const kl::row_status s = kl::detail::check_element(a, b, dir);
    if (s != kl::row_status::ok) {
      bad = v;  // this thread's first; later tokens of the thread are larger
      status = static_cast<int>(s);
      break;
    }
    // A one-token chunk: its own max, so its exp is 1 and its log-ratio term is 0.
    const double sx = a > neg_inf ? 1.0 : 0.0, sy = b > neg_inf ? 1.0 : 0.0;
    const double both = sx * sy;
    st.merge(a, sx, both, 0.0, b, sy, both, 0.0);
  }
  const kl_partial all = block_reduce<BLOCK>(to_partial(st, bad, status), smem, merge_partials);
  kl::row_stats r;
  if (all.bad != kl_no_bad) {
    r.status = static_cast<kl::row_status>(all.status);
    r.where = static_cast<index_t>(all.bad);
    return r;
  }
  kl::detail::finish_row(to_state(all), dir, r);
  if (r.status != kl::row_status::ok || dir != kl::divergence::jsd) return r;
  // jsd: the second pass over the row (the mixture needs both normalisers).
  double pm = 0, qm = 0;
  for (index_t v = threadIdx.x; v < n; v += BLOCK)
    kl::detail::add_jsd_terms(static_cast<double>(x[v]), static_cast<double>(y[v]), r, log_1mb,
                              log_b, pm, qm);
  // kl_sums shares the partials' shared memory (it is smaller; block_reduce synchronised).
  const kl_sums sums = block_reduce<BLOCK>(kl_sums{pm, qm}, reinterpret_cast<kl_sums*>(smem),
                                           [](kl_sums u, kl_sums w) {
                                             return kl_sums{u.pm + w.pm, u.qm + w.qm};
                                           });
  kl::detail::finish_jsd(r, sums.pm, sums.qm, beta);
  return r;
}

/// Per-direction constants of a launch (dir already mapped by effective_direction).
struct kl_params {
  kl::divergence dir;
  double beta, log_1mb, log_b;
};

__device__ inline void record_bad_row(const kl::row_stats& r, index_t row, int* status,
                                      long long* where, unsigned long long* first_bad) {
  status[row] = static_cast<int>(r.status);
  where[row] = static_cast<long long>(r.where);
  atomicMin(first_bad, static_cast<unsigned long long>(row));
}

/// One block per predicted row r = b * P + p: the divergence in double (values) and rounded
/// (token). Rows that do not count write zeros and never read their logits.
template <class T, class L, class M>
__global__ void __launch_bounds__(row_block)
    token_kl_forward_kernel(device_logits_view<const T> policy, device_logits_view<const T> ref,
                            device_matrix_view<const L> labels, device_matrix_view<const M> mask,
                            token_layout layout, index_t P, kl_params k, double* values, T* token,
                            int* status, long long* where, unsigned long long* first_bad) {
  __shared__ kl_partial smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t b = r / P, p = r % P;
  if (!prefopt::detail::position_counted(labels.row(b), mask.data ? mask.row(b) : nullptr,
                                         layout.label_column(p), layout.ignore_index)) {
    if (threadIdx.x == 0) values[r] = 0, token[r] = T(0);
    return;
  }
  const kl::row_stats s = block_row_divergence<row_block>(
      policy.row(b, p), ref.row(b, p), policy.vocab, k.dir, k.beta, k.log_1mb, k.log_b, smem);
  if (threadIdx.x != 0) return;
  values[r] = s.value;
  token[r] = static_cast<T>(s.value);
  if (s.status != kl::row_status::ok) record_bad_row(s, r, status, where, first_bad);
}

/// One block per input position (b, t): the gradient of coeff[b] * D(b, t) with respect to the
/// requested logits (a view with null data is not written). Every element of a requested row is
/// written: zero where the position does not count (including the last one under label shift)
/// or the row is rejected.
template <class T, class L, class M>
__global__ void __launch_bounds__(row_block)
    token_kl_backward_kernel(device_logits_view<const T> policy, device_logits_view<const T> ref,
                             device_matrix_view<const L> labels, device_matrix_view<const M> mask,
                             token_layout layout, index_t P, kl_params k, const double* coeff,
                             device_logits_view<T> grad_policy, device_logits_view<T> grad_ref,
                             int* status, long long* where, unsigned long long* first_bad) {
  __shared__ kl_partial smem[row_block];
  const auto r = static_cast<index_t>(blockIdx.x);
  const index_t Tt = policy.time, n = policy.vocab;
  const index_t b = r / Tt, t = r % Tt;
  T* gx = grad_policy.data ? grad_policy.row(b, t) : nullptr;
  T* gy = grad_ref.data ? grad_ref.row(b, t) : nullptr;
  const auto zero_rows = [&] {
    for (index_t v = threadIdx.x; v < n; v += row_block) {
      if (gx) gx[v] = T(0);
      if (gy) gy[v] = T(0);
    }
  };
  const bool counted = t < P && prefopt::detail::position_counted(
                                    labels.row(b), mask.data ? mask.row(b) : nullptr,
                                    layout.label_column(t), layout.ignore_index);
  if (!counted) {
    zero_rows();
    return;
  }
  const T* x = policy.row(b, t);
  const T* y = ref.row(b, t);
  const kl::row_stats s =
      block_row_divergence<row_block>(x, y, n, k.dir, k.beta, k.log_1mb, k.log_b, smem);
  if (s.status != kl::row_status::ok) {
    zero_rows();
    if (threadIdx.x == 0) record_bad_row(s, r, status, where, first_bad);
    return;
  }
  const double c = coeff[b];
  for (index_t v = threadIdx.x; v < n; v += row_block) {
    double dx, dy;
    kl::detail::element_gradient(static_cast<double>(x[v]), static_cast<double>(y[v]), k.dir,
                                 k.beta, s, k.log_1mb, k.log_b, dx, dy);
    if (gx) gx[v] = static_cast<T>(c * dx);
    if (gy) gy[v] = static_cast<T>(c * dy);
  }
}

}  // namespace kernels

namespace detail {

inline kernels::kl_params kl_launch_params(const kl::token_kl_options& o) {
  const kl::divergence dir = kl::detail::effective_direction(o.direction, o.beta);
  // Computed once on the host with the host's std::log1p / std::log, as row_divergence does.
  const bool jsd = dir == kl::divergence::jsd;
  return {dir, o.beta, jsd ? std::log1p(-o.beta) : 0.0, jsd ? std::log(o.beta) : 0.0};
}

/// Host copies of device labels and mask, label-range checked (before any kernel reads them).
template <class L, class M>
struct host_token_batch {
  host_copy<L> labels_h;
  host_copy<M> mask_h;
  matrix_view<const L> labels;
  matrix_view<const M> mask;
};

template <class L, class M>
void download_checked_labels(device_matrix_view<const L> labels, device_matrix_view<const M> mask,
                             index_t vocab, const token_layout& layout,
                             host_token_batch<L, M>& out, cudaStream_t stream) {
  out.labels_h = download_view(labels, stream);
  out.mask_h = download_view(mask, stream);
  out.labels = rebase(labels, out.labels_h);
  out.mask = rebase(mask, out.mask_h);
  prefopt::detail::validate_labels(out.labels, out.mask, vocab, layout);
}

/// If a kernel flagged a row, throws the host code's error for the lowest one. Rows are
/// r = b * row_len + position.
template <class T>
void throw_flagged_row(const device_buffer<error_flags>& flags, const device_buffer<int>& status,
                       const device_buffer<long long>& where, device_logits_view<const T> policy,
                       device_logits_view<const T> ref, index_t row_len, cudaStream_t stream) {
  error_flags f{};
  flags.copy_to_host(&f, 1, stream);
  if (f.row == no_flag) return;
  const auto r = static_cast<index_t>(f.row);
  const index_t b = r / row_len, p = r % row_len;
  kl::row_stats s;
  s.status = static_cast<kl::row_status>(download(status.data() + r, 1, stream)[0]);
  s.where = static_cast<index_t>(download(where.data() + r, 1, stream)[0]);
  double xw = 0, yw = 0;
  if (s.where >= 0) {
    xw = static_cast<double>(download(policy.row(b, p) + s.where, 1, stream)[0]);
    yw = static_cast<double>(download(ref.row(b, p) + s.where, 1, stream)[0]);
  }
  kl::detail::throw_row_error(s, b, p, xw, yw);
}

/// A label or mask view as the const view the checks and kernels read.
template <class E>
device_matrix_view<const std::remove_const_t<E>> as_const_view(device_matrix_view<E> v) {
  return {v.data, v.rows, v.cols, v.row_stride};
}

/// The inputs of token_kl and token_kl_backward as the const views the kernels read, with their
/// shapes and options checked (host only) and, after that, their base pointers.
template <class T, class U, class L, class M>
struct kl_inputs {
  using S = std::remove_const_t<T>;
  static_assert(std::is_same_v<S, std::remove_const_t<U>>,
                "token_kl / token_kl_backward: policy and reference logits must have the same "
                "element type");
  device_logits_view<const S> policy, ref;
  device_matrix_view<const std::remove_const_t<L>> labels;
  device_matrix_view<const std::remove_const_t<M>> mask;
  kl_inputs(device_logits_view<T> p, device_logits_view<U> r, device_matrix_view<L> l,
            device_matrix_view<M> m, const kl::token_kl_options& options)
      : policy(p), ref(r), labels(as_const_view(l)), mask(as_const_view(m)) {
    kl::detail::validate_kl_shapes(policy, ref, labels, mask, options);
  }
  void require_device_pointers() const {
    if (policy.batch * policy.time == 0) return;
    require_device_pointer("policy_logits.data", policy.data);
    require_device_pointer("ref_logits.data", ref.data);
    require_device_pointer("labels.data", labels.data);
    require_device_pointer("mask.data", mask.data);
  }
};

inline void require_grid_rows(const char* name, index_t rows) {
  require(rows <= std::numeric_limits<int>::max(), name, rows,
          "must fit one CUDA grid dimension (2^31 - 1 token rows)");
}

}  // namespace detail

/// Forward pass on the device: the divergence of every counted position and its per-sequence
/// sum and mean (prefopt::kl::token_kl for device views), queued on `stream`. Pass an empty mask
/// ({}) to count every label that is not ignore_index. options.threads is ignored. Labels and
/// mask are copied to the host for the label-range and empty-sequence checks (a [batch, time]
/// integer copy), so this call synchronises the stream.
template <class T, class U, class L, class M>
token_kl_result<std::remove_const_t<T>> token_kl(device_logits_view<T> policy_in,
                                                 device_logits_view<U> ref_in,
                                                 device_matrix_view<L> labels_in,
                                                 device_matrix_view<M> mask_in,
                                                 const kl::token_kl_options& options = {},
                                                 cudaStream_t stream = current_stream()) {
  const detail::kl_inputs<T, U, L, M> in(policy_in, ref_in, labels_in, mask_in, options);
  using S = typename detail::kl_inputs<T, U, L, M>::S;
  const index_t B = in.policy.batch, P = options.layout.predicted_positions(in.policy.time);
  detail::require_grid_rows("policy_logits.batch * positions", B * P);
  in.require_device_pointers();
  static constexpr const char* name = "prefopt::cuda::token_kl";
  operation op(name, stream);
  detail::host_token_batch<std::remove_const_t<L>, std::remove_const_t<M>> host;
  detail::download_checked_labels(in.labels, in.mask, in.policy.vocab, options.layout, host,
                                  stream);

  token_kl_result<S> out;
  out.batch = B;
  out.positions = P;
  out.token = device_buffer<S>(B * P, stream);
  out.sum = device_buffer<S>(B, stream);
  out.count = device_buffer<S>(B, stream);
  out.mean = device_buffer<S>(options.compute_mean ? B : 0, stream);
  device_buffer<double> values(B * P, stream);
  if (B * P > 0) {
    auto flags = make_error_flags(stream);
    device_buffer<int> status(B * P, stream);
    device_buffer<long long> where(B * P, stream);
    kernels::token_kl_forward_kernel<<<static_cast<unsigned>(B * P), kernels::row_block, 0,
                                       stream>>>(
        in.policy, in.ref, in.labels, in.mask, options.layout, P,
        detail::kl_launch_params(options), values.data(), out.token.data(), status.data(),
        where.data(), &flags.data()->row);
    check_launch("prefopt::cuda::kernels::token_kl_forward_kernel");
    detail::throw_flagged_row(flags, status, where, in.policy, in.ref, P, stream);
  }
  // After the row errors, as on the host.
  if (options.compute_mean)
    for (index_t b = 0; b < B; ++b) {
      bool any = false;
      for (index_t p = 0; p < P && !any; ++p)
        any = kl::detail::kl_position_counted(host.labels, host.mask, b, p, options.layout);
      if (!any) prefopt::detail::throw_empty_sequence(b);
    }
  if (B > 0) {
    kernels::sequence_sums_kernel<<<static_cast<unsigned>(B), kernels::row_block, 0, stream>>>(
        values.data(), in.labels, in.mask, options.layout, P, out.sum.data(), out.count.data(),
        options.compute_mean ? out.mean.data() : nullptr, nullptr);
    check_launch("prefopt::cuda::kernels::sequence_sums_kernel");
  }
  op.end();
  return out;
}

/// Forward pass without a completion mask.
template <class T, class U, class L>
token_kl_result<std::remove_const_t<T>> token_kl(device_logits_view<T> policy,
                                                 device_logits_view<U> ref,
                                                 device_matrix_view<L> labels,
                                                 const kl::token_kl_options& options = {},
                                                 cudaStream_t stream = current_stream()) {
  return token_kl(policy, ref, labels, device_matrix_view<const std::uint8_t>{}, options, stream);
}

/// Backward pass on the device (prefopt::kl::token_kl_backward for device views), queued on
/// `stream`. grad_sum and grad_mean are spans over DEVICE memory (batch elements; grad_mean
/// empty: none), e.g. the gradient buffers of the next operation; they are copied to the host
/// (with the labels and mask) for the finiteness check and the per-sequence coefficient
/// c_b = grad_sum[b] + grad_mean[b] / count[b], so this call synchronises the stream. A gradient
/// view with null data is not requested; every element of a requested one is written.
template <class T, class U, class L, class M>
void token_kl_backward(device_logits_view<T> policy_in, device_logits_view<U> ref_in,
                       device_matrix_view<L> labels_in, device_matrix_view<M> mask_in,
                       std::span<const std::remove_const_t<T>> grad_sum,
                       std::span<const std::remove_const_t<T>> grad_mean,
                       device_logits_view<std::remove_const_t<T>> grad_policy,
                       device_logits_view<std::remove_const_t<T>> grad_ref,
                       const kl::token_kl_options& options = {},
                       cudaStream_t stream = current_stream()) {
  // Everything that needs no device access first, so it is checked without a device too.
  const detail::kl_inputs<T, U, L, M> in(policy_in, ref_in, labels_in, mask_in, options);
  using S = typename detail::kl_inputs<T, U, L, M>::S;
  const index_t B = in.policy.batch, Tt = in.policy.time, V = in.policy.vocab;
  const index_t P = options.layout.predicted_positions(Tt);
  kl::detail::validate_kl_gradient_output("grad_policy", grad_policy, B, Tt, V);
  kl::detail::validate_kl_gradient_output("grad_ref", grad_ref, B, Tt, V);
  kl::detail::validate_kl_grad_sizes(grad_sum.size(), grad_mean.size(), B);
  detail::require_grid_rows("policy_logits.batch * policy_logits.time", B * Tt);
  in.require_device_pointers();
  if (!grad_sum.empty()) require_device_pointer("grad_sum", grad_sum.data());
  if (!grad_mean.empty()) require_device_pointer("grad_mean", grad_mean.data());
  if (B * Tt > 0) {
    require_device_pointer("grad_policy.data", grad_policy.data);
    require_device_pointer("grad_ref.data", grad_ref.data);
  }
  static constexpr const char* name = "prefopt::cuda::token_kl_backward";
  operation op(name, stream);
  detail::host_token_batch<std::remove_const_t<L>, std::remove_const_t<M>> host;
  detail::download_checked_labels(in.labels, in.mask, V, options.layout, host, stream);
  const auto gs = download(grad_sum.data(), static_cast<index_t>(grad_sum.size()), stream);
  const auto gm = download(grad_mean.data(), static_cast<index_t>(grad_mean.size()), stream);
  const std::vector<double> coeff = kl::detail::kl_coefficients(
      host.labels, host.mask, std::span<const S>(gs), std::span<const S>(gm), B, P,
      options.layout);
  // Rows are checked even when no gradient is requested, as on the host.
  if (B * Tt == 0) {
    op.end();
    return;
  }
  const device_buffer<double> coeff_d = upload(coeff, stream);
  auto flags = make_error_flags(stream);
  device_buffer<int> status(B * Tt, stream);
  device_buffer<long long> where(B * Tt, stream);
  kernels::token_kl_backward_kernel<<<static_cast<unsigned>(B * Tt), kernels::row_block, 0,
                                      stream>>>(
      in.policy, in.ref, in.labels, in.mask, options.layout, P, detail::kl_launch_params(options),
      coeff_d.data(), grad_policy, grad_ref, status.data(), where.data(), &flags.data()->row);
  check_launch("prefopt::cuda::kernels::token_kl_backward_kernel");
  detail::throw_flagged_row(flags, status, where, in.policy, in.ref, Tt, stream);
  op.end();
}

}  // namespace prefopt::cuda
