// The execution rules of prefopt::cuda (backends/cuda/include/prefopt/backends/cuda/memory.cuh):
// streams, the stream-ordered pool, pointer checks, error checking modes and where an error is
// reported.
//
// The first test cases need no device: they check the host-side logic (error classification,
// pointer classification, option parsing, RAII, the deferred messages, validation that runs before
// any CUDA call) and run everywhere. The later ones skip without a usable CUDA device
// (tests/support/device_skip.hpp). Test cases tagged [.] are hidden from ctest and run by
// bench/cuda/run_on_gpu.sh one process each: a fault poisons the CUDA context of its process, and
// the > 2^31-element case needs about 26 GB of device memory.
#include <catch2/catch.hpp>

#include <prefopt/backends/cuda.hpp>
#include <prefopt/backends/cuda/token_kl.cuh>
#include <prefopt/logps/sequence_logps.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/preference_loss.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "support/device_skip.hpp"

namespace {

namespace cu = prefopt::cuda;
using prefopt::index_t;
using Bf = cu::backend<float>;

void require_device() {
  std::string reason;
  if (!cu::device_available(&reason))
    prefopt::testing::skip_for_missing_device("no usable CUDA device (" + reason + ")");
}

/// Restores the process-wide checking mode at scope exit.
struct mode_guard {
  cu::error_checking saved = cu::checking_mode();
  ~mode_guard() { cu::set_checking_mode(saved); }
};

}  // namespace

// ---- host only -------------------------------------------------------------------------------

TEST_CASE("cuda runtime: asynchronous faults are told apart from launch errors", "[cuda]") {
  CHECK(cu::is_asynchronous_fault(cudaErrorIllegalAddress));
  CHECK(cu::is_asynchronous_fault(cudaErrorLaunchFailure));
  CHECK(cu::is_asynchronous_fault(cudaErrorMisalignedAddress));
  CHECK(cu::is_asynchronous_fault(cudaErrorAssert));
  CHECK_FALSE(cu::is_asynchronous_fault(cudaErrorInvalidConfiguration));
  CHECK_FALSE(cu::is_asynchronous_fault(cudaErrorLaunchOutOfResources));
  CHECK_FALSE(cu::is_asynchronous_fault(cudaErrorMemoryAllocation));
  CHECK_FALSE(cu::is_asynchronous_fault(cudaErrorNoKernelImageForDevice));
  // An earlier fault is reported as earlier work, with the last operation of the thread.
  cu::detail::last_operation = "prefopt::cuda::backend::for_each";
  const std::string m = cu::detail::earlier_work("launch of kernel k");
  CHECK_THAT(m, Catch::Contains("work queued before launch of kernel k") &&
                    Catch::Contains("asynchronous") &&
                    Catch::Contains("prefopt::cuda::backend::for_each"));
  cu::detail::last_operation = nullptr;
  CHECK_THAT(cu::detail::earlier_work("x"), Catch::Contains("no prefopt operation"));
  CHECK_THAT(std::string(cu::cuda_error("cudaMemcpyAsync", cudaErrorInvalidValue).what()),
             Catch::Equals("prefopt::cuda: cudaMemcpyAsync failed: cudaErrorInvalidValue "
                           "(invalid argument)"));
}

TEST_CASE("cuda runtime: pointer attributes other than this device's memory are rejected",
          "[cuda]") {
  cudaPointerAttributes a{};
  a.type = cudaMemoryTypeUnregistered;
  CHECK_THAT(cu::detail::device_pointer_problem(a, 0),
             Catch::StartsWith("is host memory unknown to CUDA; must be device memory of the "
                               "current device 0"));
  a.type = cudaMemoryTypeHost;
  CHECK_THAT(cu::detail::device_pointer_problem(a, 0), Catch::StartsWith("is page-locked host"));
  a.type = cudaMemoryTypeDevice;
  a.device = 1;
  CHECK(cu::detail::device_pointer_problem(a, 0) ==
        "is memory of CUDA device 1; must be device memory of the current device 0");
  CHECK(cu::detail::device_pointer_problem(a, 1).empty());
  a.type = cudaMemoryTypeManaged;
  CHECK(cu::detail::device_pointer_problem(a, 0).empty());
  CHECK_NOTHROW(cu::require_device_pointer("x", nullptr));  // null: an absent view, no CUDA call
}

TEST_CASE("cuda runtime: error checking modes, streams and handles", "[cuda]") {
  CHECK(cu::parse_error_checking("immediate") == cu::error_checking::immediate);
  CHECK(cu::parse_error_checking("deferred") == cu::error_checking::deferred);
  CHECK(cu::parse_error_checking("debug") == cu::error_checking::debug);
  CHECK_FALSE(cu::parse_error_checking("Debug"));
  CHECK_FALSE(cu::parse_error_checking(""));
  {
    mode_guard g;
    cu::set_checking_mode(cu::error_checking::deferred);
    CHECK(cu::checking_mode() == cu::error_checking::deferred);
  }
  CHECK(cu::stream_from_handle(0) == nullptr);  // the legacy default stream
  CHECK(cu::current_stream() == nullptr);
  const cudaStream_t a = cu::stream_from_handle(0x1000), b = cu::stream_from_handle(0x2000);
  CHECK(reinterpret_cast<std::uintptr_t>(a) == 0x1000);
  {
    cu::stream_scope on_a(a);
    CHECK(cu::current_stream() == a);
    {
      cu::stream_scope on_b(b);
      CHECK(cu::current_stream() == b);
    }
    CHECK(cu::current_stream() == a);
  }
  CHECK(cu::current_stream() == nullptr);
  CHECK_FALSE(cu::take_destructor_error());
}

TEST_CASE("cuda runtime: a moved-from device_matrix is 0 x 0", "[cuda]") {
  // Empty buffers: no CUDA call is made.
  cu::device_matrix<float> a{cu::device_buffer<float>(), 3, 4};
  cu::device_matrix<float> b = std::move(a);
  CHECK(a.rows == 0);
  CHECK(a.cols == 0);
  CHECK(b.rows == 3);
  CHECK(b.cols == 4);
  cu::device_matrix<float> c;
  c = std::move(b);
  CHECK(b.rows == 0);
  CHECK(b.cols == 0);
  CHECK(c.rows == 3);
  CHECK(c.cols == 4);
  cu::device_buffer<float> x, y;
  x = std::move(y);
  CHECK(x.size() == 0);
}

TEST_CASE("cuda runtime: host copies of device labels and masks work for bool masks", "[cuda]") {
  // Compiles download_view / rebase for bool (std::vector<bool> has no data(); the copy is an
  // array); an absent view needs no CUDA call.
  const cu::device_matrix_view<const bool> none{};
  const auto h = cu::detail::download_view(none);
  CHECK(h.size == 0);
  const prefopt::matrix_view<const bool> v = cu::detail::rebase(none, h);
  CHECK(v.data == nullptr);
  const cu::device_matrix_view<const std::int64_t> no_labels{};
  CHECK(cu::detail::download_view(no_labels).size == 0);
}

TEST_CASE("cuda runtime: deferred flag reports name the position and the operation", "[cuda]") {
  const prefopt::token_layout layout{};  // shifted labels: label column = position + 1
  const cu::device_matrix_view<const std::int64_t> labels{};
  REQUIRE_THROWS_WITH(
      cu::detail::throw_logps_flags<float>(cu::error_flags{7, cu::no_flag, 0}, 3, layout, 10, labels,
                                           nullptr, nullptr, true, "prefopt::cuda::op", nullptr),
      Catch::StartsWith("labels[2, 2] = \"?\": must be in [0, vocab = 10) or equal ignore_index "
                        "= -100 (error_checking::deferred") &&
          Catch::Contains("raised by prefopt::cuda::op"));
  REQUIRE_THROWS_WITH(
      cu::detail::throw_logps_flags<float>(cu::error_flags{cu::no_flag, 4, 0}, 3, layout, 10, labels,
                                           nullptr, nullptr, true, "prefopt::cuda::op", nullptr),
      Catch::StartsWith("logits[1, 1, :] = \"?\": log-sum-exp or label logit is not finite") &&
          Catch::Contains("error_checking::deferred"));
  REQUIRE_THROWS_WITH(
      cu::detail::throw_logps_flags<float>(cu::error_flags{cu::no_flag, cu::no_flag, 2}, 3, layout,
                                           10, labels, nullptr, nullptr, true, "op", nullptr),
      Catch::StartsWith("completion tokens of sequence 2 = 0: a mean log-prob needs"));
}

TEST_CASE("cuda runtime: the grid-size check runs before any CUDA call", "[cuda]") {
  static float fake[1];
  static std::int64_t fake_labels[1];
  // 2^20 sequences of 2^12 positions: more token rows than one grid dimension holds.
  const cu::device_logits_view<const float> logits{fake, index_t{1} << 20, index_t{1} << 12, 1, 0,
                                                   0};
  const cu::device_matrix_view<const std::int64_t> labels{fake_labels, index_t{1} << 20,
                                                          index_t{1} << 12, 0};
  REQUIRE_THROWS_WITH(Bf::token_logps_forward(logits, labels,
                                              cu::device_matrix_view<const bool>{}, {}),
                      Catch::StartsWith("logits.batch * positions = 4293918720: must fit one "
                                        "CUDA grid dimension"));
}

// ---- with a device ----------------------------------------------------------------------------

namespace {

/// A [B, T, V] batch in device memory: logits x[b, t, v] = sin(b + 3 t + 7 v), labels (v * 5 + t)
/// % V.
struct small_batch {
  index_t B = 3, T = 5, V = 37;
  std::vector<float> logits_h;
  std::vector<std::int64_t> labels_h;
  cu::device_buffer<float> logits;
  cu::device_buffer<std::int64_t> labels;
  explicit small_batch(cudaStream_t s = nullptr) {
    for (index_t b = 0; b < B; ++b)
      for (index_t t = 0; t < T; ++t) {
        labels_h.push_back((b * 5 + t) % V);
        for (index_t v = 0; v < V; ++v)
          logits_h.push_back(static_cast<float>(std::sin(double(b + 3 * t + 7 * v))));
      }
    logits = cu::upload(logits_h, s);
    labels = cu::upload(labels_h, s);
  }
  cu::device_logits_view<const float> x() const {
    return cu::device_logits_view<const float>::contiguous(logits.data(), B, T, V);
  }
  cu::device_matrix_view<const std::int64_t> y() const {
    return cu::device_matrix_view<const std::int64_t>::contiguous(labels.data(), B, T);
  }
};

}  // namespace

TEST_CASE("cuda runtime: every operation runs on the stream it is given", "[cuda]") {
  require_device();
  cudaStream_t s{};
  REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
  {
    const small_batch on_default;
    const auto want = prefopt::sequence_logps<Bf>(on_default.x(), on_default.y());
    const auto want_sum = Bf::to_host(want.sum);
    // Inputs written on s and used on s without any synchronisation in between: only stream
    // order makes them visible.
    const small_batch on_s(s);
    cu::stream_scope scope(s);
    const auto got = prefopt::sequence_logps<Bf>(on_s.x(), on_s.y());
    CHECK(got.sum.stream() == s);
    CHECK(Bf::to_host(got.sum) == want_sum);
    auto grad = prefopt::sequence_logps_backward<Bf>(
        on_s.x(), on_s.y(), cu::device_matrix_view<const std::uint8_t>{}, got,
        Bf::from_host(std::vector<float>(3, 1.0f)), nullptr);
    const auto g = Bf::to_host(grad);
    CHECK(g.size() == on_s.logits_h.size());
    // Explicit stream arguments, outside any scope's default.
    const auto explicit_s = Bf::token_logps_forward(
        on_s.x(), on_s.y(), cu::device_matrix_view<const bool>{}, {}, s);
    CHECK(Bf::to_host(explicit_s.sum, s) == want_sum);
    CHECK(Bf::sum(Bf::from_host(std::vector<float>{1, 2, 3}, s), s) == 6.0f);
  }
  REQUIRE(cudaStreamSynchronize(s) == cudaSuccess);
  REQUIRE(cudaStreamDestroy(s) == cudaSuccess);
  CHECK_FALSE(cu::take_destructor_error());
}

TEST_CASE("cuda runtime: host and foreign pointers are rejected before any kernel", "[cuda]") {
  require_device();
  const small_batch d;
  std::vector<float> host(d.logits_h);
  const auto host_view = cu::device_logits_view<const float>::contiguous(host.data(), 3, 5, 37);
  const cu::device_matrix_view<const bool> no_mask{};
  REQUIRE_THROWS_MATCHES(Bf::token_logps_forward(host_view, d.y(), no_mask, {}),
                         prefopt::invalid_argument,
                         Catch::Matchers::Predicate<prefopt::invalid_argument>([](const auto& e) {
                           const std::string m = e.what();
                           return m.rfind("logits.data = 0x", 0) == 0 &&
                                  m.find("is host memory unknown to CUDA") != std::string::npos;
                         }));
  float* pinned = nullptr;
  REQUIRE(cudaMallocHost(&pinned, sizeof(float) * 3 * 5 * 37) == cudaSuccess);
  const auto pinned_view = cu::device_logits_view<const float>::contiguous(pinned, 3, 5, 37);
  REQUIRE_THROWS_WITH(Bf::token_logps_forward(pinned_view, d.y(), no_mask, {}),
                      Catch::Contains("logits.data") && Catch::Contains("page-locked host"));
  std::vector<std::int64_t> labels_h(d.labels_h);
  const auto host_labels =
      cu::device_matrix_view<const std::int64_t>::contiguous(labels_h.data(), 3, 5);
  REQUIRE_THROWS_WITH(Bf::token_logps_forward(d.x(), host_labels, no_mask, {}),
                      Catch::StartsWith("labels.data = 0x"));
  REQUIRE_THROWS_WITH(cu::token_kl(d.x(), host_view, d.y()), Catch::StartsWith("ref_logits.data"));
  // Spans carry no memory space: preference_loss checks each one (B::require_accessible).
  const std::vector<float> chosen_h{-1.0f, -2.0f}, rejected_h{-3.0f, -1.5f};
  const auto chosen = cu::upload(chosen_h);
  const prefopt::losses::preference_batch<float> host_rejected{
      std::span<const float>(chosen.data(), 2), std::span<const float>(rejected_h)};
  prefopt::losses::preference_loss_options<float> reference_free;
  reference_free.reference_free = true;
  REQUIRE_THROWS_WITH(
      prefopt::losses::preference_loss<Bf>(prefopt::losses::sigmoid<float>(), host_rejected,
                                           reference_free),
      Catch::StartsWith("rejected_logps = 0x") && Catch::Contains("is host memory unknown to CUDA"));
  REQUIRE(cudaFreeHost(pinned) == cudaSuccess);
  // The context is still usable: nothing was launched.
  CHECK(Bf::to_host(prefopt::sequence_logps<Bf>(d.x(), d.y()).count) ==
        std::vector<float>{4, 4, 4});
}

TEST_CASE("cuda runtime: out-of-range labels are found on the device, now or deferred",
          "[cuda]") {
  require_device();
  mode_guard g;
  small_batch d;
  d.labels_h[7] = 99;  // b = 1, column 2: position 1
  d.labels = cu::upload(d.labels_h);
  const std::string expect =
      "labels[1, 2] = 99: must be in [0, vocab = 37) or equal ignore_index = -100";
  REQUIRE_THROWS_WITH(prefopt::sequence_logps<Bf>(d.x(), d.y()), expect);
  cu::set_checking_mode(cu::error_checking::deferred);
  // No host read: the call returns; the error surfaces at the next check.
  const auto r = Bf::token_logps_forward(d.x(), d.y(), cu::device_matrix_view<const bool>{}, {});
  REQUIRE_THROWS_WITH(cu::check_deferred(),
                      Catch::StartsWith("labels[1, 2] = \"?\"") &&
                          Catch::Contains("prefopt::cuda::backend::token_logps_forward"));
  CHECK_NOTHROW(cu::check_deferred());  // reported once
  (void)Bf::token_logps_forward(d.x(), d.y(), cu::device_matrix_view<const bool>{}, {});
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  // ... or at the next prefopt call that finds it complete.
  REQUIRE_THROWS_WITH(Bf::zeros(3), Catch::StartsWith("labels[1, 2] = \"?\""));
  cu::set_checking_mode(cu::error_checking::immediate);
  std::vector<float> ones(3, 1.0f);
  cu::device_buffer<float> grad(3 * 5 * 37);
  REQUIRE_THROWS_WITH(Bf::token_logps_backward(
                          d.x(), d.y(), cu::device_matrix_view<const bool>{}, r.token_lse,
                          Bf::from_host(ones),
                          cu::device_logits_view<float>::contiguous(grad.data(), 3, 5, 37), {}),
                      expect);
}

TEST_CASE("cuda runtime: a fault is reported by the next prefopt call with the operation that "
          "launched it",
          "[.][cuda_fault]") {
  require_device();
  int* bad = reinterpret_cast<int*>(0x8);
  Bf::for_each(1, [=] __device__(index_t) { *bad = 1; });  // returns: the fault is asynchronous
  (void)cudaDeviceSynchronize();  // the fault has happened (the error is sticky)
  REQUIRE_THROWS_MATCHES(Bf::zeros(4), cu::cuda_error,
                         Catch::Matchers::Predicate<cu::cuda_error>([](const auto& e) {
                           const std::string m = e.what();
                           return m.find("work queued before prefopt::cuda::backend::zeros") !=
                                      std::string::npos &&
                                  m.find("the last prefopt operation that queued work on this "
                                         "thread was prefopt::cuda::backend::for_each") !=
                                      std::string::npos &&
                                  e.code() == cudaErrorIllegalAddress;
                         }));
}

TEST_CASE("cuda runtime: error_checking::debug reports a fault from the call that caused it",
          "[.][cuda_fault_debug]") {
  require_device();
  cu::set_checking_mode(cu::error_checking::debug);
  int* bad = reinterpret_cast<int*>(0x8);
  REQUIRE_THROWS_WITH(Bf::for_each(1, [=] __device__(index_t) { *bad = 1; }),
                      Catch::StartsWith("prefopt::cuda: prefopt::cuda::backend::for_each (checked "
                                        "by error_checking::debug) failed: "
                                        "cudaErrorIllegalAddress"));
}

TEST_CASE("cuda runtime: offsets beyond 2^31 elements (B * T * V > 2^31)", "[.][cuda_large]") {
  require_device();
  // 1 sequence, 3 positions (2 predicted), V = 2^30 + 3: the logits of rows 1 and 2 start past
  // 2^31 elements. Every logit is 0 but the label logits of row 1, which are 5.
  const index_t T = 3, V = (index_t{1} << 30) + 3;
  cu::device_buffer<float> logits(T * V), grad(T * V);
  logits.fill_zero();
  const std::vector<std::int64_t> labels_h{0, 0, V - 2};  // labels of positions 0, 1 (shifted)
  const auto labels = cu::upload(labels_h);
  const float five = 5;
  const index_t at = 1 * V + (V - 2);  // row 1 at its label (labels[0, 2] under the shift)
  REQUIRE(at > (index_t{1} << 31));
  REQUIRE(cudaMemcpy(logits.data() + at, &five, sizeof(float), cudaMemcpyHostToDevice) ==
          cudaSuccess);
  const auto x = cu::device_logits_view<const float>::contiguous(logits.data(), 1, T, V);
  const auto y = cu::device_matrix_view<const std::int64_t>::contiguous(labels.data(), 1, T);
  const auto r = prefopt::sequence_logps<Bf>(x, y);
  const auto lp = Bf::to_host(r.token_logps);
  const double lse0 = std::log(double(V)), lse1 = std::log(double(V - 1) + std::exp(5.0));
  CHECK(std::fabs(lp[0] - (0 - lse0)) < 1e-5 * lse0);
  CHECK(std::fabs(lp[1] - (5 - lse1)) < 1e-5 * lse1);
  prefopt::sequence_logps_backward<Bf>(x, y, cu::device_matrix_view<const std::uint8_t>{}, r,
                                       Bf::from_host(std::vector<float>{1.0f}), nullptr,
                                       cu::device_logits_view<float>::contiguous(grad.data(), 1, T,
                                                                                 V));
  const double p1 = std::exp(5.0 - lse1);
  CHECK(std::fabs(cu::download(grad.data() + at, 1)[0] - (1 - p1)) < 1e-5);
  CHECK(std::fabs(cu::download(grad.data() + 2 * V - 1, 1)[0] + std::exp(-lse1)) < 1e-9);
  CHECK(cu::download(grad.data() + 2 * V + 5, 1)[0] == 0.0f);  // last position: not predicted
  CHECK(cu::download(grad.data() + 3 * V - 1, 1)[0] == 0.0f);
}
