#pragma once
// Zero-copy views of NumPy arrays and PyTorch tensors (anything speaking DLPack), with the checks
// the C++ views cannot do themselves: device, dtype, rank and the unit stride of the innermost
// axis. Every failure is a Python ValueError whose message starts with the argument's name.
//
// Inputs are taken as nb::ndarray<nb::ro> with no other constraint, so nanobind never converts
// (copies) them behind the caller's back: a non-contiguous vocabulary axis or a float16 tensor is
// rejected with a message instead of being silently copied.
//
// matrix() and logits() return views in the memory space their template argument names
// (prefopt/core/memory_space.hpp): host_space (the default) accepts CPU arrays only, device_space
// accepts CUDA tensors only, so a CUDA tensor can only ever become a device view and a CPU array a
// host view. This build runs the CPU backends and asks for host views everywhere.

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <prefopt/core/memory_space.hpp>
#include <prefopt/core/views.hpp>

namespace prefopt::python {

namespace nb = nanobind;

using in_array = nb::ndarray<nb::ro>;  // read-only view of any dtype / shape / device
using out_array = nb::ndarray<>;       // writable view

[[noreturn]] inline void value_error(std::string_view argument, const std::string& what) {
  throw nb::value_error((std::string(argument) + ": " + what).c_str());
}

inline std::string dtype_name(nb::dlpack::dtype d) {
  std::string code;
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: code = "int"; break;
    case nb::dlpack::dtype_code::UInt: code = "uint"; break;
    case nb::dlpack::dtype_code::Float: code = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: code = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: code = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: code = "code" + std::to_string(d.code) + "_";
  }
  return code + std::to_string(d.bits) + (d.lanes != 1 ? "x" + std::to_string(d.lanes) : "");
}

template <class A>
std::string shape_string(const A& a) {
  std::string s = "(";
  for (std::size_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

template <class T>
constexpr const char* scalar_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  else if constexpr (std::is_same_v<T, double>) return "float64";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else return "uint8";
}

/// The array must live in host memory. This build has only the CPU path: a CUDA tensor is
/// rejected by name rather than dereferenced (its pointer is not a host address).
template <class A>
void require_cpu(std::string_view argument, const A& a) {
  const int dev = a.device_type();
  if (dev == nb::device::cpu::value) return;
  if (dev == nb::device::cuda::value || dev == nb::device::cuda_managed::value)
    value_error(argument, "is a CUDA tensor (device cuda:" + std::to_string(a.device_id()) +
                              "); this build of prefopt runs on the CPU only: pass "
                              "tensor.cpu() (see docs/python.md, 'CUDA')");
  value_error(argument, "must be in CPU memory (DLPack device type " + std::to_string(dev) + ")");
}

/// The array must be CUDA device memory (a device view is about to be made of it).
template <class A>
void require_cuda(std::string_view argument, const A& a) {
  const int dev = a.device_type();
  if (dev == nb::device::cuda::value || dev == nb::device::cuda_managed::value) return;
  value_error(argument, "must be a CUDA tensor for a device view (DLPack device type " +
                            std::to_string(dev) + ")");
}

/// The array lives where a view in `Space` may point.
template <class Space, class A>
void require_space(std::string_view argument, const A& a) {
  if constexpr (std::is_same_v<Space, host_space>) {
    require_cpu(argument, a);
  } else {
    static_assert(std::is_same_v<Space, device_space>, "views are in host_space or device_space");
    require_cuda(argument, a);
  }
}

template <class T, class A>
bool has_dtype(const A& a) {
  return a.dtype() == nb::dtype<T>();
}

template <class A>
void require_ndim(std::string_view argument, const A& a, std::size_t ndim, std::string_view axes) {
  if (a.ndim() != ndim)
    value_error(argument, "expected " + std::to_string(ndim) + " dimension" +
                              (ndim == 1 ? "" : "s") + " " + std::string(axes) + ", got " +
                              std::to_string(a.ndim()) + " with shape " + shape_string(a));
}

/// Strides in elements; a size-1 axis may carry any stride (PyTorch reports arbitrary ones), so
/// it is replaced by the natural one. Negative strides (NumPy's a[::-1]) are rejected.
template <class A>
std::vector<index_t> checked_strides(std::string_view argument, const A& a) {
  std::vector<index_t> s(a.ndim());
  index_t natural = 1;
  for (std::size_t k = a.ndim(); k-- > 0;) {
    const auto n = static_cast<index_t>(a.shape(k));
    s[k] = n == 1 ? natural : static_cast<index_t>(a.stride(k));
    if (s[k] < 0)
      value_error(argument, "axis " + std::to_string(k) + " has a negative stride (" +
                                std::to_string(s[k]) + "); pass a copy (np.ascontiguousarray)");
    natural = s[k] * std::max<index_t>(n, 1);
  }
  if (a.ndim() > 0 && a.shape(a.ndim() - 1) > 1 && s.back() != 1)
    value_error(argument, "the last axis must be contiguous (stride 1), got stride " +
                              std::to_string(s.back()) + "; pass tensor.contiguous()");
  return s;
}

/// A 1-D contiguous array of T as a span.
template <class T>
std::span<const T> vector_span(std::string_view argument, const in_array& a) {
  require_cpu(argument, a);
  if (!has_dtype<T>(a))
    value_error(argument, std::string("expected dtype ") + scalar_name<T>() + " (like the other " +
                              "inputs), got " + dtype_name(a.dtype()));
  require_ndim(argument, a, 1, "[batch]");
  checked_strides(argument, a);
  return {static_cast<const T*>(a.data()), a.shape(0)};
}

/// A 2-D array whose rows are contiguous, as a view in `Space`.
template <class T, class Space = host_space>
matrix_view<const T, Space> matrix(std::string_view argument, const in_array& a,
                                   std::string_view axes) {
  require_space<Space>(argument, a);
  require_ndim(argument, a, 2, axes);
  const auto s = checked_strides(argument, a);
  const auto rows = static_cast<index_t>(a.shape(0)), cols = static_cast<index_t>(a.shape(1));
  if (rows > 1 && s[0] < cols)
    value_error(argument, "rows overlap (row stride " + std::to_string(s[0]) + " < " +
                              std::to_string(cols) + " columns)");
  return {static_cast<const T*>(a.data()), rows, cols, s[0]};
}

/// Logits [batch, time, vocab] with a contiguous vocabulary axis; batch and time strides free; a
/// view in `Space`.
template <class T, class Space = host_space, class A>
logits_view<T, Space> logits(std::string_view argument, const A& a) {
  require_space<Space>(argument, a);
  require_ndim(argument, a, 3, "[batch, time, vocab]");
  const auto s = checked_strides(argument, a);
  const auto batch = static_cast<index_t>(a.shape(0)), time = static_cast<index_t>(a.shape(1)),
             vocab = static_cast<index_t>(a.shape(2));
  if (vocab < 1) value_error(argument, "the vocabulary axis is empty");
  if (time > 1 && s[1] < vocab)
    value_error(argument, "positions overlap (time stride " + std::to_string(s[1]) + " < vocab " +
                              std::to_string(vocab) + ")");
  using E = std::remove_const_t<T>;
  return {static_cast<T*>(const_cast<E*>(static_cast<const E*>(a.data()))), batch, time, vocab,
          s[0], time > 1 ? s[1] : vocab};
}

/// CPU time of the process (benchmark helpers): unlike wall time it does not count the time this
/// process waits for a core on a shared machine. Python's time.process_time() reads the same clock.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// A new NumPy array owning a copy of `values` (small per-sequence / per-pair outputs).
template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> new_vector(const T* values, std::size_t n) {
  auto* owned = new std::vector<T>(values, values + n);
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(owned->data(), {n}, owner);
}

template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> new_vector(const std::vector<T>& v) {
  return new_vector(v.data(), v.size());
}

/// A NumPy array that takes over an owning vector (an Eigen vector of a result): no copy.
template <class V>
auto adopt_vector(V&& v) {
  using T = std::remove_cv_t<std::remove_reference_t<decltype(*v.data())>>;
  auto* owned = new std::remove_cvref_t<V>(std::move(v));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::remove_cvref_t<V>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(owned->data(), {static_cast<std::size_t>(owned->size())},
                                                owner);
}

}  // namespace prefopt::python
