#pragma once
// Device memory and execution rules of prefopt::cuda.
//
// - Streams. Every entry point takes a cudaStream_t, by default the legacy default stream (0), and
//   queues all its kernels, copies and memsets on it. Device buffers are allocated and freed in
//   stream order on the stream they were created with (cudaMallocFromPoolAsync / cudaFreeAsync,
//   from a memory pool prefopt keeps per device), so a call allocates nothing from the driver
//   once the pool has grown to the working set.
// - Errors. A failing CUDA call throws cuda_error naming the call. Faults raised while a kernel
//   runs are asynchronous: they surface at the next prefopt call (begin_operation queries the
//   stream without blocking), named as an earlier operation's error, together with the last
//   prefopt operation that queued work on this thread. error_checking::debug synchronises after
//   every operation instead, so a fault is reported by the call that caused it. A destructor
//   never throws: a failed cudaFreeAsync is stored and thrown by the next prefopt call.
// - Values: device_buffer has value semantics (copies are deep device-to-device copies, moves
//   steal), so backend containers behave like Eigen / xtensor ones.

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
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

/// The stream handle of a framework given as an integer, e.g. PyTorch's
/// torch.cuda.current_stream().cuda_stream (0 is the legacy default stream).
inline cudaStream_t stream_from_handle(std::uintptr_t handle) noexcept {
  return reinterpret_cast<cudaStream_t>(handle);
}

// ---- error checking mode ---------------------------------------------------------------------

/// How a prefopt::cuda call checks for errors.
///  immediate (default): host-side validation, one read of the call's device error flags (the
///    only synchronisation of a call), asynchronous faults reported at the next prefopt call.
///  deferred: no host read at all; the device error flags are copied to pinned memory and checked
///    by the next prefopt call that finds them ready, or by check_deferred().
///  debug: immediate, and the stream is synchronised and checked after every operation, so a
///    fault inside a kernel is reported by the call that launched it.
enum class error_checking { immediate, deferred, debug };

/// "immediate", "deferred" or "debug"; nullopt otherwise.
inline std::optional<error_checking> parse_error_checking(std::string_view s) {
  if (s == "immediate") return error_checking::immediate;
  if (s == "deferred") return error_checking::deferred;
  if (s == "debug") return error_checking::debug;
  return std::nullopt;
}

namespace detail {

/// The process-wide mode, initialised from the environment variable PREFOPT_CUDA_CHECKS
/// (immediate, deferred or debug; unset: immediate; anything else is rejected at first use).
inline std::atomic<int>& checking_mode_storage() {
  static std::atomic<int> mode{[] {
    const char* env = std::getenv("PREFOPT_CUDA_CHECKS");
    if (env == nullptr || *env == '\0') return static_cast<int>(error_checking::immediate);
    const auto m = parse_error_checking(env);
    if (!m)
      throw_invalid_argument("PREFOPT_CUDA_CHECKS", std::string(env),
                             "must be immediate, deferred or debug");
    return static_cast<int>(*m);
  }()};
  return mode;
}

}  // namespace detail

[[nodiscard]] inline error_checking checking_mode() {
  return static_cast<error_checking>(detail::checking_mode_storage().load());
}
inline void set_checking_mode(error_checking mode) {
  detail::checking_mode_storage().store(static_cast<int>(mode));
}

// ---- errors ----------------------------------------------------------------------------------

/// Errors raised while a kernel runs (faults of device code). They are sticky: the context is
/// unusable afterwards and every later CUDA call returns them, so the call that sees one is not
/// necessarily the one that caused it.
[[nodiscard]] inline bool is_asynchronous_fault(cudaError_t e) noexcept {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

namespace detail {

/// The last prefopt operation that queued device work on this thread (a string literal).
inline thread_local const char* last_operation = nullptr;

inline std::string last_operation_text() {
  return last_operation ? std::string("the last prefopt operation that queued work on this "
                                      "thread was ") + last_operation
                        : std::string("no prefopt operation has queued work on this thread");
}

/// The first error of a device_buffer destructor (0: none), thrown by the next prefopt call.
inline std::atomic<int>& destructor_error() {
  static std::atomic<int> code{0};
  return code;
}

inline void store_destructor_error(cudaError_t e) noexcept {
  int none = 0;
  destructor_error().compare_exchange_strong(none, static_cast<int>(e));
}

/// The message of an asynchronous fault seen by `where` (a launch or a runtime call).
inline std::string earlier_work(const std::string& where) {
  return "work queued before " + where + " (an asynchronous error raised while earlier device "
         "work ran; " + last_operation_text() + ")";
}

}  // namespace detail

/// An error left by a device_buffer destructor (which never throws), cleared; nullopt if none.
/// The next prefopt call throws it otherwise.
inline std::optional<cudaError_t> take_destructor_error() noexcept {
  const int code = detail::destructor_error().exchange(0);
  if (code == 0) return std::nullopt;
  return static_cast<cudaError_t>(code);
}

inline void check(cudaError_t code, const char* call) {
  if (code != cudaSuccess) {
    // A failed runtime call also sets the thread's last-error state. Reset it, so a caller who
    // catches a recoverable failure (cudaErrorMemoryAllocation, cudaErrorInvalidValue) does not
    // see it again from the cudaGetLastError() of the next check_launch, blamed on that kernel.
    // Sticky errors (a fault inside a kernel) keep failing every later call regardless.
    (void)cudaGetLastError();
    if (is_asynchronous_fault(code)) throw cuda_error(detail::earlier_work(call), code);
    throw cuda_error(call, code);
  }
}

/// After a kernel launch: a configuration error is the launch's own and names the kernel. An
/// asynchronous fault seen here belongs to earlier work (it is sticky and returned by every
/// later call), so it is reported as such, not blamed on this kernel.
inline void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return;
  const std::string launch = std::string("launch of kernel ") + kernel;
  if (is_asynchronous_fault(e)) throw cuda_error(detail::earlier_work(launch), e);
  throw cuda_error(launch, e);
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

// ---- stream-ordered memory -------------------------------------------------------------------

namespace detail {

/// prefopt's memory pool of `device` (created once, release threshold unlimited: freed blocks
/// stay in the pool for the next call instead of returning to the driver at each
/// synchronisation), or nullptr when the device has no memory pools (then cudaMalloc is used).
inline cudaMemPool_t memory_pool(int device) {
  static std::mutex mutex;
  static std::map<int, cudaMemPool_t> pools;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto it = pools.find(device);
  if (it != pools.end()) return it->second;
  int supported = 0;
  check(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device),
        "cudaDeviceGetAttribute(cudaDevAttrMemoryPoolsSupported)");
  cudaMemPool_t pool = nullptr;
  if (supported) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    check(cudaMemPoolCreate(&pool, &props), "cudaMemPoolCreate");
    std::uint64_t keep = ~std::uint64_t{0};
    check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep),
          "cudaMemPoolSetAttribute(cudaMemPoolAttrReleaseThreshold)");
  }
  pools.emplace(device, pool);
  return pool;
}

inline int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

inline void* allocate(std::size_t bytes, cudaStream_t stream) {
  void* p = nullptr;
  if (cudaMemPool_t pool = memory_pool(current_device()))
    check(cudaMallocFromPoolAsync(&p, bytes, pool, stream), "cudaMallocFromPoolAsync");
  else
    check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}

/// Never throws; a failure is stored and thrown by the next prefopt call.
inline void deallocate(void* p, cudaStream_t stream) noexcept {
  if (p == nullptr) return;
  // cudaFreeAsync also frees cudaMalloc'ed memory (it synchronises then, as cudaFree does).
  const cudaError_t e = cudaFreeAsync(p, stream);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    store_destructor_error(e);
  }
}

}  // namespace detail

/// Returns the unused memory of prefopt's pool on the current device to the driver, keeping at
/// most `keep_bytes` (e.g. before a framework allocates a large tensor).
inline void trim_memory_pool(std::size_t keep_bytes = 0) {
  if (cudaMemPool_t pool = detail::memory_pool(detail::current_device()))
    check(cudaMemPoolTrimTo(pool, keep_bytes), "cudaMemPoolTrimTo");
}

/// Owning, contiguous device array of n elements of a trivially copyable type, allocated and
/// freed in the order of the stream it was created with (stream()).
template <class T>
class device_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds trivially copyable types");

 public:
  using value_type = T;
  device_buffer() = default;
  explicit device_buffer(index_t n, cudaStream_t stream = 0) : size_(n), stream_(stream) {
    if (n > 0) data_ = static_cast<T*>(detail::allocate(bytes(), stream));
  }
  device_buffer(const device_buffer& other) : device_buffer(other.size_, other.stream_) {
    if (size_ > 0)
      check(cudaMemcpyAsync(data_, other.data_, bytes(), cudaMemcpyDeviceToDevice, stream_),
            "cudaMemcpyAsync(device to device)");
  }
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
        stream_(other.stream_) {}
  device_buffer& operator=(const device_buffer& other) {
    if (this != &other) *this = device_buffer(other);
    return *this;
  }
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      detail::deallocate(data_, stream_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      stream_ = other.stream_;
    }
    return *this;
  }
  ~device_buffer() { detail::deallocate(data_, stream_); }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] index_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept {
    return static_cast<std::size_t>(size_) * sizeof(T);
  }
  /// The stream the buffer is allocated and freed on.
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

  void fill_zero() { fill_zero(stream_); }
  void fill_zero(cudaStream_t stream) {
    if (size_ > 0) check(cudaMemsetAsync(data_, 0, bytes(), stream), "cudaMemsetAsync");
  }
  /// Host to device on `stream`. From pageable memory the call returns once `src` has been read.
  void copy_from_host(const T* src, index_t n, cudaStream_t stream = 0) {
    if (n > 0)
      check(cudaMemcpyAsync(data_, src, static_cast<std::size_t>(n) * sizeof(T),
                            cudaMemcpyHostToDevice, stream),
            "cudaMemcpyAsync(host to device)");
  }
  /// Device to host on `stream`; returns when `dst` holds the values (synchronises the stream).
  void copy_to_host(T* dst, index_t n, cudaStream_t stream = 0) const {
    if (n > 0) {
      check(cudaMemcpyAsync(dst, data_, static_cast<std::size_t>(n) * sizeof(T),
                            cudaMemcpyDeviceToHost, stream),
            "cudaMemcpyAsync(device to host)");
      check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
  }

 private:
  T* data_ = nullptr;
  index_t size_ = 0;
  cudaStream_t stream_ = 0;
};

/// Copies host values into a new device buffer (labels, masks, logits), on `stream`.
template <class T>
device_buffer<std::remove_const_t<T>> upload(std::span<T> values, cudaStream_t stream = 0) {
  device_buffer<std::remove_const_t<T>> out(static_cast<index_t>(values.size()), stream);
  out.copy_from_host(values.data(), out.size(), stream);
  return out;
}
template <class T>
device_buffer<T> upload(const std::vector<T>& values, cudaStream_t stream = 0) {
  return upload(std::span<const T>(values), stream);
}

/// Copies n device elements starting at `src` to the host, on `stream` (synchronises it).
template <class T>
std::vector<T> download(const T* src, index_t n, cudaStream_t stream = 0) {
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0) {
    check(cudaMemcpyAsync(out.data(), src, static_cast<std::size_t>(n) * sizeof(T),
                          cudaMemcpyDeviceToHost, stream),
          "cudaMemcpyAsync(device to host)");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  }
  return out;
}

/// Views of device memory (prefopt/core/memory_space.hpp): what every view handed to
/// prefopt::cuda::backend must be.
template <class T>
using device_matrix_view = prefopt::matrix_view<T, device_space>;
template <class T>
using device_logits_view = prefopt::logits_view<T, device_space>;

/// Owning row-major device matrix. A moved-from matrix is empty: 0 x 0, no buffer.
template <class T>
struct device_matrix {
  device_buffer<T> buffer;
  index_t rows = 0;
  index_t cols = 0;

  device_matrix() = default;
  device_matrix(device_buffer<T> b, index_t r, index_t c)
      : buffer(std::move(b)), rows(r), cols(c) {}
  device_matrix(const device_matrix&) = default;
  device_matrix& operator=(const device_matrix&) = default;
  device_matrix(device_matrix&& other) noexcept
      : buffer(std::move(other.buffer)), rows(std::exchange(other.rows, 0)),
        cols(std::exchange(other.cols, 0)) {}
  device_matrix& operator=(device_matrix&& other) noexcept {
    buffer = std::move(other.buffer);
    rows = std::exchange(other.rows, 0);
    cols = std::exchange(other.cols, 0);
    return *this;
  }
};

// ---- streams of the generic algorithms -------------------------------------------------------

namespace detail {
inline thread_local cudaStream_t scoped_stream = nullptr;
}

/// The stream the backend's operations default to on this thread: the legacy default stream (0)
/// unless a stream_scope is active. Backend-generic algorithms (sequence_logps, the losses, the
/// game solvers) call the backend without a stream argument, so they run on this one.
[[nodiscard]] inline cudaStream_t current_stream() noexcept { return detail::scoped_stream; }

/// Makes `stream` the current stream of this thread until the scope ends (scopes nest).
class stream_scope {
 public:
  explicit stream_scope(cudaStream_t stream) noexcept
      : previous_(std::exchange(detail::scoped_stream, stream)) {}
  stream_scope(const stream_scope&) = delete;
  stream_scope& operator=(const stream_scope&) = delete;
  ~stream_scope() { detail::scoped_stream = previous_; }

 private:
  cudaStream_t previous_;
};

// ---- pointer checks --------------------------------------------------------------------------

namespace detail {

/// Why memory with attributes `a` is not usable by kernels on `device`; empty if it is (device
/// memory of that device, or managed memory).
inline std::string device_pointer_problem(const cudaPointerAttributes& a, int device) {
  switch (a.type) {
    case cudaMemoryTypeDevice:
      if (a.device == device) return {};
      return "is memory of CUDA device " + std::to_string(a.device) +
             "; must be device memory of the current device " + std::to_string(device);
    case cudaMemoryTypeManaged:
      return {};
    case cudaMemoryTypeHost:
      return "is page-locked host memory; must be device memory of the current device " +
             std::to_string(device);
    default:
      return "is host memory unknown to CUDA; must be device memory of the current device " +
             std::to_string(device) + " (cudaMalloc, a CUDA tensor's data_ptr())";
  }
}

}  // namespace detail

/// Throws prefopt::invalid_argument naming `argument` unless `p` is null or points to memory of
/// the current device (cudaPointerGetAttributes; no synchronisation). A host pointer handed to a
/// kernel would fault and poison the context, or, on systems with HMM, run silently over PCIe.
inline void require_device_pointer(const char* argument, const void* p) {
  if (p == nullptr) return;
  cudaPointerAttributes a{};
  const cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (e == cudaErrorInvalidValue) {  // drivers that do not know the pointer at all
    (void)cudaGetLastError();
    a.type = cudaMemoryTypeUnregistered;
  } else {
    check(e, "cudaPointerGetAttributes");
  }
  const std::string problem = detail::device_pointer_problem(a, detail::current_device());
  if (!problem.empty()) throw_invalid_argument(argument, p, problem);
}

// ---- operations: errors surfaced by the next call, debug synchronisation --------------------

/// Per-call device error flags: the lowest flagged label position, row and sequence (kernels
/// atomicMin into them; all bits set = none).
struct error_flags {
  unsigned long long label;
  unsigned long long row;
  unsigned long long sequence;  // a sequence without counted positions, when a mean is asked for
};
inline constexpr unsigned long long no_flag = ~0ull;

namespace detail {

/// A deferred check: the flags of an operation, copied to page-locked memory on its stream.
struct pending_check {
  const char* operation = nullptr;
  error_flags* host = nullptr;  // page-locked
  cudaEvent_t ready = nullptr;  // recorded after the copy
  std::function<void(const error_flags&)> report;
};

/// This thread's page-locked flag slots and events, reused call after call (one cudaMallocHost
/// and one cudaEventCreate per slot, ever), and its queue of deferred checks.
struct check_slots {
  std::vector<pending_check> free, pending;
  ~check_slots() {
    for (auto* list : {&free, &pending})
      for (auto& c : *list) {
        const cudaError_t a = cudaFreeHost(c.host);
        const cudaError_t b = cudaEventDestroy(c.ready);
        // At process exit the runtime may be gone already (cudaErrorCudartUnloading).
        if (a != cudaSuccess && a != cudaErrorCudartUnloading) store_destructor_error(a);
        if (b != cudaSuccess && b != cudaErrorCudartUnloading) store_destructor_error(b);
      }
  }
  pending_check take() {
    if (!free.empty()) {
      pending_check c = std::move(free.back());
      free.pop_back();
      return c;
    }
    pending_check c;
    check(cudaMallocHost(&c.host, sizeof(error_flags)), "cudaMallocHost");
    check(cudaEventCreateWithFlags(&c.ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    return c;
  }
};

inline check_slots& slots() {
  thread_local check_slots s;
  return s;
}

/// Reports the deferred checks that are complete (all of them, waiting, if `wait`), oldest first;
/// throws the first flagged one.
inline void poll_deferred(bool wait) {
  auto& s = slots();
  for (std::size_t i = 0; i < s.pending.size();) {
    pending_check& c = s.pending[i];
    const cudaError_t e = wait ? cudaEventSynchronize(c.ready) : cudaEventQuery(c.ready);
    if (e == cudaErrorNotReady) {
      (void)cudaGetLastError();
      ++i;
      continue;
    }
    check(e, wait ? "cudaEventSynchronize" : "cudaEventQuery");
    const error_flags f = *c.host;
    auto report = std::move(c.report);
    s.free.push_back(std::move(c));
    s.pending.erase(s.pending.begin() + static_cast<std::ptrdiff_t>(i));
    if (f.label != no_flag || f.row != no_flag || f.sequence != no_flag) report(f);
  }
}

}  // namespace detail

/// Waits for the deferred checks of this thread and throws the error of the first flagged one
/// (error_checking::deferred: the way to check at a point of the caller's choosing).
inline void check_deferred() { detail::poll_deferred(true); }

/// The start of a prefopt::cuda operation that queues work on `stream`, after its host-side
/// validation: throws a destructor's stored error, a completed deferred check's error, or an
/// asynchronous fault of earlier work (found without blocking: cudaStreamQuery), then records
/// `operation` (a string literal) as the last operation of this thread.
inline void begin_operation(const char* operation, cudaStream_t stream) {
  if (const auto e = take_destructor_error())
    throw cuda_error(std::string("cudaFreeAsync / cudaFreeHost in a destructor (stored, reported "
                                 "at the start of ") + operation + ")",
                     *e);
  detail::poll_deferred(false);
  const bool debug = checking_mode() == error_checking::debug;
  const cudaError_t e = debug ? cudaStreamSynchronize(stream) : cudaStreamQuery(stream);
  if (e != cudaSuccess && e != cudaErrorNotReady) {
    (void)cudaGetLastError();
    throw cuda_error(detail::earlier_work(operation), e);
  }
  if (e == cudaErrorNotReady) (void)cudaGetLastError();
  detail::last_operation = operation;
}

/// The end of an operation: in error_checking::debug mode synchronises `stream` and reports a
/// fault as this operation's (begin_operation synchronised before it started).
inline void end_operation(const char* operation, cudaStream_t stream) {
  if (checking_mode() != error_checking::debug) return;
  cudaError_t e = cudaStreamSynchronize(stream);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw cuda_error(std::string(operation) + " (checked by error_checking::debug)", e);
  }
}

namespace detail {
inline thread_local int operation_depth = 0;
}

/// One prefopt::cuda entry point on `stream`: begin_operation at construction and
/// end_operation at end(), for the outermost operation only (an entry point that calls another
/// is one operation, named by the outer one).
class operation {
 public:
  operation(const char* name, cudaStream_t stream)
      : name_(name), stream_(stream), outer_(detail::operation_depth == 0) {
    if (outer_) begin_operation(name, stream);
    ++detail::operation_depth;
  }
  operation(const operation&) = delete;
  operation& operator=(const operation&) = delete;
  ~operation() { --detail::operation_depth; }
  void end() {
    if (outer_) end_operation(name_, stream_);
  }
  [[nodiscard]] const char* name() const noexcept { return name_; }

 private:
  const char* name_;
  cudaStream_t stream_;
  bool outer_;
};

/// Error flags set to "none" on `stream` (stream-ordered pool memory, one memset).
inline device_buffer<error_flags> make_error_flags(cudaStream_t stream) {
  device_buffer<error_flags> f(1, stream);
  check(cudaMemsetAsync(f.data(), 0xFF, sizeof(error_flags), stream), "cudaMemsetAsync");
  return f;
}

/// Reads the flags of `operation` once (immediate, debug: page-locked copy, the call's one
/// synchronisation) and calls report(flags, false) if any is set; in deferred mode queues the copy
/// and returns, and report(flags, true) runs at a later prefopt call (it must not read device
/// memory of this call then, which may be freed).
template <class Report>
void read_error_flags(const char* operation, const device_buffer<error_flags>& flags,
                      cudaStream_t stream, Report report) {
  auto& s = detail::slots();
  detail::pending_check c = s.take();
  check(cudaMemcpyAsync(c.host, flags.data(), sizeof(error_flags), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(device to host)");
  if (checking_mode() == error_checking::deferred) {
    check(cudaEventRecord(c.ready, stream), "cudaEventRecord");
    c.operation = operation;
    c.report = [report](const error_flags& f) mutable { report(f, true); };
    s.pending.push_back(std::move(c));
    if (s.pending.size() > 64) detail::poll_deferred(true);  // bounded queue
    return;
  }
  const cudaError_t e = cudaStreamSynchronize(stream);
  const error_flags f = *c.host;
  s.free.push_back(std::move(c));
  check(e, "cudaStreamSynchronize");
  if (f.label != no_flag || f.row != no_flag || f.sequence != no_flag) report(f, false);
}

}  // namespace prefopt::cuda
