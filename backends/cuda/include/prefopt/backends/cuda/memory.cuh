#pragma once
// Device memory for prefopt::cuda: CUDA errors as exceptions naming the failing call, and an RAII
// buffer with value semantics (copies are deep device-to-device copies, moves steal), so backend
// containers behave like Eigen / xtensor ones.

#include <cuda_runtime.h>

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt::cuda {

/// A CUDA runtime call failed; what() names the call and the CUDA error.
class cuda_error : public std::runtime_error {
 public:
  cuda_error(const std::string& call, cudaError_t code)
      : std::runtime_error("prefopt::cuda: " + call + " failed: " + cudaGetErrorName(code) +
                           " (" + cudaGetErrorString(code) + ")"),
        code_(code) {}
  [[nodiscard]] cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

inline void check(cudaError_t code, const char* call) {
  if (code != cudaSuccess) {
    // A failed runtime call also sets the thread's last-error state. Reset it, so a caller who
    // catches a recoverable failure (cudaErrorMemoryAllocation, cudaErrorInvalidValue) does not
    // see it again from the cudaGetLastError() of the next check_launch, blamed on that kernel.
    // Sticky errors (a fault inside a kernel) keep failing every later call regardless.
    (void)cudaGetLastError();
    throw cuda_error(call, code);
  }
}

/// After a kernel launch: configuration errors surface here, with the kernel's name. Errors
/// raised while the kernel runs surface at the next synchronising call (a copy to the host),
/// which names itself.
inline void check_launch(const char* kernel) {
  check(cudaGetLastError(), (std::string("launch of kernel ") + kernel).c_str());
}

/// Whether a CUDA device can be used; otherwise `reason` says why (no driver, no device, ...).
inline bool device_available(std::string* reason = nullptr) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (reason) {
      *reason = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) +
                                       " (" + cudaGetErrorString(e) + ")"
                                 : std::string("no CUDA device present");
    }
    (void)cudaGetLastError();  // reset the last-error state so later checks start clean
    return false;
  }
  return true;
}

/// Owning, contiguous device array of n elements of a trivially copyable type.
template <class T>
class device_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds trivially copyable types");

 public:
  using value_type = T;
  device_buffer() = default;
  explicit device_buffer(index_t n) : size_(n) {
    if (n > 0) check(cudaMalloc(&data_, bytes()), "cudaMalloc");
  }
  device_buffer(const device_buffer& other) : device_buffer(other.size_) {
    if (size_ > 0)
      check(cudaMemcpy(data_, other.data_, bytes(), cudaMemcpyDeviceToDevice),
            "cudaMemcpy(device to device)");
  }
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  device_buffer& operator=(const device_buffer& other) {
    if (this != &other) *this = device_buffer(other);
    return *this;
  }
  device_buffer& operator=(device_buffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~device_buffer() {
    // Never throws from a destructor; a failure must not linger in the last-error state either.
    if (data_ && cudaFree(data_) != cudaSuccess) (void)cudaGetLastError();
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] index_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept {
    return static_cast<std::size_t>(size_) * sizeof(T);
  }

  void fill_zero() {
    if (size_ > 0) check(cudaMemset(data_, 0, bytes()), "cudaMemset");
  }
  void copy_from_host(const T* src, index_t n) {
    if (n > 0) check(cudaMemcpy(data_, src, static_cast<std::size_t>(n) * sizeof(T),
                                cudaMemcpyHostToDevice),
                     "cudaMemcpy(host to device)");
  }
  void copy_to_host(T* dst, index_t n) const {
    if (n > 0) check(cudaMemcpy(dst, data_, static_cast<std::size_t>(n) * sizeof(T),
                                cudaMemcpyDeviceToHost),
                     "cudaMemcpy(device to host)");
  }

 private:
  T* data_ = nullptr;
  index_t size_ = 0;
};

/// Copies host values into a new device buffer (labels, masks, logits).
template <class T>
device_buffer<std::remove_const_t<T>> upload(std::span<T> values) {
  device_buffer<std::remove_const_t<T>> out(static_cast<index_t>(values.size()));
  out.copy_from_host(values.data(), out.size());
  return out;
}
template <class T>
device_buffer<T> upload(const std::vector<T>& values) {
  return upload(std::span<const T>(values));
}

/// Copies n device elements starting at `src` to the host.
template <class T>
std::vector<T> download(const T* src, index_t n) {
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0)
    check(cudaMemcpy(out.data(), src, static_cast<std::size_t>(n) * sizeof(T),
                     cudaMemcpyDeviceToHost),
          "cudaMemcpy(device to host)");
  return out;
}

/// Views of device memory (prefopt/core/memory_space.hpp): what every view handed to
/// prefopt::cuda::backend must be.
template <class T>
using device_matrix_view = prefopt::matrix_view<T, device_space>;
template <class T>
using device_logits_view = prefopt::logits_view<T, device_space>;

/// Owning row-major device matrix.
template <class T>
struct device_matrix {
  device_buffer<T> buffer;
  index_t rows = 0;
  index_t cols = 0;
};

}  // namespace prefopt::cuda
