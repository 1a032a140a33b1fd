// prefopt.linear_head_logps / linear_head_logps_backward: the chunked fused LM head
// (prefopt/backends/eigen/linear_head.hpp) over NumPy arrays / PyTorch CPU tensors, read and
// written in place. The library's own checks (shapes, labels, finiteness, overlaps) raise
// ValueError with its messages.

#include <cstdint>
#include <span>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>

#include <prefopt/backends/eigen/linear_head.hpp>

#include "arrays.hpp"
#include "module.hpp"

namespace prefopt::python {
namespace {

template <class T>
struct type_tag {
  using type = T;
};

/// Calls f(type_tag<T>, type_tag<L>) for the dtypes of hidden (float32 / float64) and labels
/// (int64 / int32).
template <class F>
auto dispatch_head(const in_array& hidden, const in_array& labels, F&& f) {
  require_cpu("hidden", hidden);
  require_cpu("labels", labels);
  const auto with_labels = [&](auto t) {
    if (has_dtype<std::int64_t>(labels)) return f(t, type_tag<std::int64_t>{});
    if (has_dtype<std::int32_t>(labels)) return f(t, type_tag<std::int32_t>{});
    value_error("labels", "expected dtype int64 or int32, got " + dtype_name(labels.dtype()));
  };
  if (has_dtype<float>(hidden)) return with_labels(type_tag<float>{});
  if (has_dtype<double>(hidden)) return with_labels(type_tag<double>{});
  value_error("hidden", "expected dtype float32 or float64, got " + dtype_name(hidden.dtype()));
}

template <class T>
matrix_view<const T> typed_matrix(const char* name, const in_array& a, const char* axes) {
  require_cpu(name, a);
  if (!has_dtype<T>(a))
    value_error(name, std::string("expected dtype ") + scalar_name<T>() + " (hidden's), got " +
                          dtype_name(a.dtype()));
  return matrix<T>(name, a, axes);
}

/// A writable 2-D array of T with contiguous rows.
template <class T>
matrix_view<T> out_matrix(const char* name, out_array& a, const char* axes) {
  require_cpu(name, a);
  if (!has_dtype<T>(a))
    value_error(name, std::string("expected dtype ") + scalar_name<T>() + " (hidden's), got " +
                          dtype_name(a.dtype()));
  require_ndim(name, a, 2, axes);
  const auto s = checked_strides(name, a);
  return {static_cast<T*>(a.data()), static_cast<index_t>(a.shape(0)),
          static_cast<index_t>(a.shape(1)), s[0]};
}

template <class L>
std::span<const L> label_span(const in_array& a) {
  require_ndim("labels", a, 1, "[N]");
  checked_strides("labels", a);
  return {static_cast<const L*>(a.data()), a.shape(0)};
}

linear_head_options make_options(std::int64_t ignore_index, std::int64_t vocab_chunk,
                                  std::int64_t token_chunk, int threads) {
  linear_head_options o;
  o.ignore_index = ignore_index;
  o.vocab_chunk = vocab_chunk;
  o.token_chunk = token_chunk;
  o.threads = threads;
  return o;
}

nb::tuple forward(const in_array& hidden_in, const in_array& weight_in, const in_array& labels_in,
                  std::int64_t ignore_index, std::int64_t vocab_chunk, std::int64_t token_chunk,
                  int threads) {
  const auto o = make_options(ignore_index, vocab_chunk, token_chunk, threads);
  return dispatch_head(hidden_in, labels_in, [&](auto t, auto l) {
    using T = typename decltype(t)::type;
    using L = typename decltype(l)::type;
    const auto h = typed_matrix<T>("hidden", hidden_in, "[N, H]");
    const auto w = typed_matrix<T>("weight", weight_in, "[V, H]");
    const auto y = label_span<L>(labels_in);
    eigen::linear_head_result<T> r;
    {
      nb::gil_scoped_release unlocked;
      r = eigen::linear_head_logps<T, L>(h, w, y, o);
    }
    return nb::make_tuple(new_vector(r.logp), new_vector(r.lse));
  });
}

void backward(const in_array& hidden_in, const in_array& weight_in, const in_array& labels_in,
              const in_array& lse_in, const in_array& grad_logp_in, out_array& grad_hidden_out,
              out_array& grad_weight_out, std::int64_t ignore_index, std::int64_t vocab_chunk,
              std::int64_t token_chunk, int threads) {
  const auto o = make_options(ignore_index, vocab_chunk, token_chunk, threads);
  dispatch_head(hidden_in, labels_in, [&](auto t, auto l) {
    using T = typename decltype(t)::type;
    using L = typename decltype(l)::type;
    const auto h = typed_matrix<T>("hidden", hidden_in, "[N, H]");
    const auto w = typed_matrix<T>("weight", weight_in, "[V, H]");
    const auto y = label_span<L>(labels_in);
    const auto lse = vector_span<T>("lse", lse_in);
    const auto g = vector_span<T>("grad_logp", grad_logp_in);
    const auto gh = out_matrix<T>("grad_hidden", grad_hidden_out, "[N, H]");
    const auto gw = out_matrix<T>("grad_weight", grad_weight_out, "[V, H]");
    nb::gil_scoped_release unlocked;
    eigen::linear_head_logps_backward<T, L>(h, w, y, lse, g, gh, gw, o);
  });
}

}  // namespace

void bind_linear_head(nb::module_& m) {
  const linear_head_options d;
  m.def("linear_head_logps", &forward, nb::arg("hidden"), nb::arg("weight"), nb::arg("labels"),
        nb::kw_only(), nb::arg("ignore_index") = d.ignore_index,
        nb::arg("vocab_chunk") = d.vocab_chunk, nb::arg("token_chunk") = d.token_chunk,
        nb::arg("threads") = d.threads,
        "(logp [N], lse [N]): per-token log-probs through the LM head, hidden [N, H] @ weight "
        "[V, H].T, labels [N] already aligned with the rows (-100 = ignored), without the [N, V] "
        "logits. lse is what linear_head_logps_backward needs.");
  m.def("linear_head_logps_backward", &backward, nb::arg("hidden"), nb::arg("weight"),
        nb::arg("labels"), nb::arg("lse"), nb::arg("grad_logp"), nb::arg("grad_hidden"),
        nb::arg("grad_weight"), nb::kw_only(), nb::arg("ignore_index") = d.ignore_index,
        nb::arg("vocab_chunk") = d.vocab_chunk, nb::arg("token_chunk") = d.token_chunk,
        nb::arg("threads") = d.threads,
        "Overwrites grad_hidden [N, H] and grad_weight [V, H] (dtype of hidden, rows contiguous) "
        "with dL/dhidden and dL/dweight from grad_logp = dL/dlogp [N].");
}

}  // namespace prefopt::python
