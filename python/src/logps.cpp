// prefopt.sequence_logps and its fused backward over NumPy arrays / PyTorch CPU tensors.
//
// The forward keeps prefopt's saved per-position log-sum-exp in an opaque SequenceLogpsState, so
// the backward is one streaming pass over the logits that writes dL/dlogits straight into a
// caller-provided buffer (prefopt.torch hands it a fresh torch tensor): no softmax is ever
// materialised and no [batch, time, vocab] array is copied.

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/core/half.hpp>
#include <prefopt/logps/sequence_logps.hpp>

#include "arrays.hpp"
#include "module.hpp"

namespace prefopt::python {
namespace {

/// The backend for logits of element type T: float for the 16-bit storage types (computed in
/// float, docs/half_precision.md).
template <class T>
using backend = prefopt::eigen::backend<std::conditional_t<half_storage<T>, float, T>>;

/// The dtype a logits (or gradient) array of element type T must have.
template <class T, class A>
bool has_logits_dtype(const A& a) {
  if constexpr (half_storage<T>) {
    const auto d = a.dtype();
    const auto code = std::is_same_v<T, prefopt::bfloat16> ? nb::dlpack::dtype_code::Bfloat
                                                           : nb::dlpack::dtype_code::Float;
    return d.code == static_cast<std::uint8_t>(code) && d.bits == 16 && d.lanes == 1;
  } else {
    return has_dtype<T>(a);
  }
}

template <class T>
constexpr const char* logits_dtype_name() {
  if constexpr (std::is_same_v<T, prefopt::bfloat16>) return "bfloat16";
  else if constexpr (std::is_same_v<T, prefopt::float16>) return "float16";
  else return scalar_name<T>();
}

/// What the forward saved for the backward: prefopt's result (per-position log-sum-exp, counts)
/// and the shape and layout it was computed with.
struct sequence_logps_state {
  std::variant<sequence_logps_result<backend<float>>, sequence_logps_result<backend<double>>> saved;
  std::string logits_dtype;  // the forward's logits dtype (float32 and bfloat16 share `saved`)
  token_layout layout;
  index_t batch = 0, time = 0, vocab = 0;
};

template <class T>
struct type_tag {
  using type = T;
};

/// Calls f(type_tag<T>, type_tag<L>, type_tag<M>) for the dtypes of logits, labels and mask
/// (M = void: no mask). Masks of bool, uint8 or int8 are read as bytes (only != 0 matters).
template <class F>
auto dispatch(const in_array& logits, const in_array& labels, const std::optional<in_array>& mask,
              F&& f) {
  require_cpu("logits", logits);
  require_cpu("labels", labels);
  if (mask) require_cpu("mask", *mask);
  const auto with_mask = [&](auto t, auto l) {
    if (!mask) return f(t, l, type_tag<void>{});
    const auto d = mask->dtype();
    if (d.bits == 8 && d.lanes == 1 &&
        (d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bool) ||
         d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::UInt) ||
         d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Int)))
      return f(t, l, type_tag<std::uint8_t>{});
    if (has_dtype<std::int32_t>(*mask)) return f(t, l, type_tag<std::int32_t>{});
    if (has_dtype<std::int64_t>(*mask)) return f(t, l, type_tag<std::int64_t>{});
    value_error("mask", "expected dtype bool, uint8, int8, int32 or int64, got " + dtype_name(d));
  };
  const auto with_labels = [&](auto t) {
    if (has_dtype<std::int64_t>(labels)) return with_mask(t, type_tag<std::int64_t>{});
    if (has_dtype<std::int32_t>(labels)) return with_mask(t, type_tag<std::int32_t>{});
    value_error("labels", "expected dtype int64 or int32, got " + dtype_name(labels.dtype()));
  };
  if (has_dtype<float>(logits)) return with_labels(type_tag<float>{});
  if (has_dtype<double>(logits)) return with_labels(type_tag<double>{});
  if (has_logits_dtype<prefopt::bfloat16>(logits)) return with_labels(type_tag<prefopt::bfloat16>{});
  if (has_logits_dtype<prefopt::float16>(logits)) return with_labels(type_tag<prefopt::float16>{});
  value_error("logits", "expected dtype float32, float64, bfloat16 or float16, got " +
                            dtype_name(logits.dtype()));
}

/// `out` as the gradient buffer for logits `logits_in` of element type T: a CPU array of the
/// logits' dtype and shape.
template <class T>
logits_view<T> gradient_buffer(out_array& out, const in_array& logits_in) {
  require_cpu("out", out);
  if (!has_logits_dtype<T>(out))
    value_error("out", std::string("expected dtype ") + logits_dtype_name<T>() +
                           " (the logits'), got " + dtype_name(out.dtype()));
  if (out.ndim() != 3 || out.shape(0) != logits_in.shape(0) || out.shape(1) != logits_in.shape(1) ||
      out.shape(2) != logits_in.shape(2))
    value_error("out", "shape must equal the logits' " + shape_string(logits_in));
  return python::logits<T>("out", out);
}

template <class M>
using mask_t = std::conditional_t<std::is_void_v<M>, std::uint8_t, M>;

/// The mask as a view; an empty view (no mask) when M is void.
template <class M>
matrix_view<const mask_t<M>> mask_view(const std::optional<in_array>& mask) {
  if constexpr (std::is_void_v<M>) {
    return {};
  } else {
    return matrix<M>("mask", *mask, "[batch, time]");
  }
}

sequence_logps_options make_options(std::int64_t ignore_index, bool shift_labels, bool mean,
                                    int threads) {
  if (threads < 0) value_error("threads", "must be >= 0 (0 = all cores), got " + std::to_string(threads));
  sequence_logps_options o;
  o.layout.ignore_index = ignore_index;
  o.layout.shift_labels = shift_labels;
  o.compute_mean = mean;
  o.threads = threads;
  return o;
}

nb::tuple forward(const in_array& logits_in, const in_array& labels_in,
                  const std::optional<in_array>& mask_in, std::int64_t ignore_index,
                  bool shift_labels, bool compute_mean, int threads) {
  const auto options = make_options(ignore_index, shift_labels, compute_mean, threads);
  return dispatch(logits_in, labels_in, mask_in, [&](auto t, auto l, auto m) {
    using T = typename decltype(t)::type;
    using L = typename decltype(l)::type;
    using B = backend<T>;
    const auto lg = logits<const T>("logits", logits_in);
    const auto lb = matrix<L>("labels", labels_in, "[batch, time]");
    const auto mk = mask_view<typename decltype(m)::type>(mask_in);
    auto* state = new sequence_logps_state{};
    nb::object owner = nb::cast(state, nb::rv_policy::take_ownership);
    {
      nb::gil_scoped_release unlocked;
      state->saved = prefopt::sequence_logps<B>(lg, lb, mk, options);
    }
    state->layout = options.layout;
    state->logits_dtype = logits_dtype_name<T>();
    state->batch = lg.batch;
    state->time = lg.time;
    state->vocab = lg.vocab;
    const auto& r = std::get<sequence_logps_result<B>>(state->saved);
    std::vector<std::int64_t> count(static_cast<std::size_t>(lg.batch));
    for (index_t b = 0; b < lg.batch; ++b) count[b] = static_cast<std::int64_t>(r.count[b]);
    nb::object mean = compute_mean ? nb::cast(new_vector(r.mean.data(), r.mean.size())) : nb::none();
    return nb::make_tuple(new_vector(r.sum.data(), r.sum.size()), mean, new_vector(count), owner);
  });
}

void backward(const in_array& logits_in, const in_array& labels_in,
              const std::optional<in_array>& mask_in, const sequence_logps_state& state,
              const in_array& grad_sum_in, const std::optional<in_array>& grad_mean_in,
              out_array& out, int threads) {
  const auto options = make_options(state.layout.ignore_index, state.layout.shift_labels, false,
                                     threads);
  dispatch(logits_in, labels_in, mask_in, [&](auto t, auto l, auto m) {
    using T = typename decltype(t)::type;
    using L = typename decltype(l)::type;
    using B = backend<T>;
    const auto* saved = std::get_if<sequence_logps_result<B>>(&state.saved);
    if (saved == nullptr || state.logits_dtype != logits_dtype_name<T>())
      value_error("state", std::string("was computed for other logits: its dtype is not ") +
                               logits_dtype_name<T>());
    const auto lg = logits<const T>("logits", logits_in);
    if (lg.batch != state.batch || lg.time != state.time || lg.vocab != state.vocab)
      value_error("logits", "shape " + shape_string(logits_in) + " differs from the forward's (" +
                                std::to_string(state.batch) + ", " + std::to_string(state.time) +
                                ", " + std::to_string(state.vocab) + ")");
    const auto lb = matrix<L>("labels", labels_in, "[batch, time]");
    const auto mk = mask_view<typename decltype(m)::type>(mask_in);
    using S = typename B::scalar_type;  // T, or float for 16-bit logits
    const auto gs = vector_span<S>("grad_sum", grad_sum_in);
    typename B::vector_type grad_sum = B::from_host(gs), grad_mean;
    if (grad_mean_in) grad_mean = B::from_host(vector_span<S>("grad_mean", *grad_mean_in));
    const auto grad = gradient_buffer<T>(out, logits_in);
    nb::gil_scoped_release unlocked;
    prefopt::sequence_logps_backward<B>(lg, lb, mk, *saved, grad_sum,
                                        grad_mean_in ? &grad_mean : nullptr, grad, options);
  });
}

/// The one-pass forward + backward: (sum, mean or None, count), dL/dlogits written into `out`.
nb::tuple with_grad(const in_array& logits_in, const in_array& labels_in,
                    const std::optional<in_array>& mask_in, const in_array& grad_sum_in,
                    const std::optional<in_array>& grad_mean_in, out_array& out,
                    std::int64_t ignore_index, bool shift_labels, bool compute_mean, int threads) {
  const auto options = make_options(ignore_index, shift_labels, compute_mean, threads);
  return dispatch(logits_in, labels_in, mask_in, [&](auto t, auto l, auto m) {
    using T = typename decltype(t)::type;
    using L = typename decltype(l)::type;
    using B = backend<T>;
    using S = typename B::scalar_type;  // T, or float for 16-bit logits
    const auto lg = logits<const T>("logits", logits_in);
    const auto lb = matrix<L>("labels", labels_in, "[batch, time]");
    const auto mk = mask_view<typename decltype(m)::type>(mask_in);
    typename B::vector_type grad_sum = B::from_host(vector_span<S>("grad_sum", grad_sum_in));
    typename B::vector_type grad_mean;
    if (grad_mean_in) grad_mean = B::from_host(vector_span<S>("grad_mean", *grad_mean_in));
    const auto grad = gradient_buffer<T>(out, logits_in);
    sequence_logps_result<B> r;
    {
      nb::gil_scoped_release unlocked;
      r = prefopt::sequence_logps_with_grad<B>(lg, lb, mk, grad_sum,
                                               grad_mean_in ? &grad_mean : nullptr, grad, options);
    }
    std::vector<std::int64_t> count(static_cast<std::size_t>(lg.batch));
    for (index_t b = 0; b < lg.batch; ++b) count[b] = static_cast<std::int64_t>(r.count[b]);
    nb::object mean = compute_mean ? nb::cast(new_vector(r.mean.data(), r.mean.size())) : nb::none();
    return nb::make_tuple(new_vector(r.sum.data(), r.sum.size()), mean, new_vector(count));
  });
}

/// Seconds per forward + backward of the C++ API on these buffers (no mask, int64 labels,
/// threads = 1), looped inside the extension: the baseline of bench/python/overhead.py.
double cpp_seconds_sequence_logps(const in_array& logits_in, const in_array& labels_in,
                                  out_array& out, int repeats) {
  if (repeats < 1) value_error("repeats", "must be >= 1");
  if (!has_dtype<float>(logits_in) || !has_dtype<float>(out) || !has_dtype<std::int64_t>(labels_in))
    value_error("logits", "the benchmark helper takes float32 logits and out, int64 labels");
  using B = backend<float>;
  const auto lg = logits<const float>("logits", logits_in);
  const auto lb = matrix<std::int64_t>("labels", labels_in, "[batch, time]");
  const auto grad = python::logits<float>("out", out);
  const auto options = make_options(ignore_index_default, true, false, 1);
  const matrix_view<const std::uint8_t> no_mask{};
  const typename B::vector_type ones = B::vector_type::Ones(lg.batch);
  nb::gil_scoped_release unlocked;
  const double start = process_cpu_seconds();
  for (int k = 0; k < repeats; ++k) {
    const auto fwd = prefopt::sequence_logps<B>(lg, lb, no_mask, options);
    prefopt::sequence_logps_backward<B>(lg, lb, no_mask, fwd, ones, nullptr, grad, options);
  }
  return (process_cpu_seconds() - start) / repeats;
}

}  // namespace

void bind_logps(nb::module_& m) {
  nb::class_<sequence_logps_state>(
      m, "SequenceLogpsState",
      "What sequence_logps_forward saved for sequence_logps_backward (per-position log-sum-exp "
      "and token counts). Opaque.")
      .def_prop_ro("shape", [](const sequence_logps_state& s) {
        return nb::make_tuple(s.batch, s.time, s.vocab);
      });

  m.def("sequence_logps_forward", &forward, nb::arg("logits"), nb::arg("labels"),
        nb::arg("mask") = nb::none(), nb::kw_only(), nb::arg("ignore_index") = ignore_index_default,
        nb::arg("shift_labels") = true, nb::arg("compute_mean") = true, nb::arg("threads") = 0,
        "(sum, mean or None, count, state): sequence log-probs and the state for the backward.");
  m.def("sequence_logps_backward", &backward, nb::arg("logits"), nb::arg("labels"),
        nb::arg("mask").none(), nb::arg("state"), nb::arg("grad_sum"),
        nb::arg("grad_mean").none(), nb::arg("out"), nb::kw_only(), nb::arg("threads") = 0,
        "Writes dL/dlogits into `out` (same shape and dtype as logits, vocabulary axis "
        "contiguous) from dL/dsum [batch] and optionally dL/dmean [batch].");
  m.def("sequence_logps_with_grad", &with_grad, nb::arg("logits"), nb::arg("labels"),
        nb::arg("mask").none(), nb::arg("grad_sum"), nb::arg("grad_mean").none(), nb::arg("out"),
        nb::kw_only(), nb::arg("ignore_index") = ignore_index_default,
        nb::arg("shift_labels") = true, nb::arg("compute_mean") = true, nb::arg("threads") = 0,
        "(sum, mean or None, count): the forward, with dL/dlogits for the given dL/dsum "
        "[batch] (and optionally dL/dmean [batch]) written into `out` in the same pass over the "
        "logits.");
  m.def("_cpp_seconds_sequence_logps", &cpp_seconds_sequence_logps, nb::arg("logits"),
        nb::arg("labels"), nb::arg("out"), nb::arg("repeats"),
        "Benchmark helper: seconds per C++ sequence_logps forward + backward.");
}

}  // namespace prefopt::python
