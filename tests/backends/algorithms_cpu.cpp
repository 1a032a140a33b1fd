// The algorithms (preference losses, unpaired KTO, the loss from logits, the runtime registry,
// the iterative Nash solvers and their batched form) on every host backend, compared with the
// Eigen backend through the shared bodies of algorithm_checks.hpp; the CUDA suite
// (cuda_algorithms.cu, cuda_registry.cu) runs the same bodies on device memory. A separate
// translation unit from backends_cpu.cpp so the two compile in parallel.
#include "algorithm_checks.hpp"
#include "loss_fixture_checks.hpp"

#include <support/backends.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

using namespace prefopt::testing;

namespace {

/// A memory space of the test's own: Eigen memory that the algorithms must treat as not
/// readable by the host.
struct emulated_device_space {};

/// What the emulated device saw: each B::require_accessible call (argument name, and how many
/// kernels had run before it), the kernels launched, and the buffers it must refuse (as the
/// CUDA backend refuses host memory).
struct device_log {
  std::vector<std::pair<std::string, long long>> checked;
  long long kernels = 0;
  std::vector<const void*> refused;
};
device_log& emulated_device() {
  static device_log log;
  return log;
}

/// Eigen seen as a device backend: its memory space is not host_space, so the algorithms take
/// the code paths the CUDA backend takes (inputs copied through B::for_each + B::to_host for
/// validation, flags converted on the backend, the fused log-probs with views in the backend's
/// space), and those paths are exercised on machines without a GPU. Its primitives and fused
/// operations forward to Eigen's on the same memory.
template <class T>
struct device_path_backend : prefopt::eigen::backend<T> {
  using base = prefopt::eigen::backend<T>;
  using memory_space = emulated_device_space;
  using vector_type = typename base::vector_type;
  using matrix_type = typename base::matrix_type;
  template <class U>
  using view = prefopt::matrix_view<U, emulated_device_space>;
  template <class U>
  using logits = prefopt::logits_view<U, emulated_device_space>;

  template <class U>
  static prefopt::matrix_view<U> on_host(view<U> v) {
    return {v.data, v.rows, v.cols, v.row_stride};
  }
  template <class U>
  static prefopt::logits_view<U> on_host(logits<U> v) {
    return {v.data, v.batch, v.time, v.vocab, v.batch_stride, v.time_stride};
  }

  static void require_accessible(const char* argument, const void* p) {
    auto& log = emulated_device();
    log.checked.emplace_back(argument, log.kernels);
    if (std::find(log.refused.begin(), log.refused.end(), p) != log.refused.end())
      prefopt::throw_invalid_argument(argument, p, "is not memory of the emulated device");
  }
  template <class F>
  static void for_each(prefopt::index_t n, F f) {
    ++emulated_device().kernels;
    base::for_each(n, f);
  }

  static vector_type row_max(view<const T> m) { return base::row_max(on_host(m)); }
  static vector_type row_logsumexp(view<const T> m) { return base::row_logsumexp(on_host(m)); }

  template <class L, class M>
  static prefopt::sequence_logps_result<device_path_backend> token_logps_forward(
      logits<const T> x, view<const L> labels, view<const M> mask,
      const prefopt::sequence_logps_options& options) {
    ++emulated_device().kernels;
    auto r = base::token_logps_forward(on_host(x), on_host(labels), on_host(mask), options);
    return {std::move(r.token_logps), std::move(r.token_lse), std::move(r.sum),
            std::move(r.count), std::move(r.mean)};
  }
  template <class L, class M>
  static void token_logps_backward(logits<const T> x, view<const L> labels, view<const M> mask,
                                   const matrix_type& token_lse, const vector_type& coeff,
                                   logits<T> grad, const prefopt::sequence_logps_options& options) {
    ++emulated_device().kernels;
    base::token_logps_backward(on_host(x), on_host(labels), on_host(mask), token_lse, coeff,
                               on_host(grad), options);
  }
};

}  // namespace

static_assert(prefopt::Backend<device_path_backend<float>>);
static_assert(!prefopt::host_accessible<device_path_backend<float>>);
static_assert(prefopt::fused_logps_backend<device_path_backend<double>>);

// Eigen itself is the reference, so it is not listed: the backends compared with it are xtensor
// (when found) and Eigen through the device code paths.
#ifdef PREFOPT_HAVE_XTENSOR
#define PREFOPT_ALGORITHM_BACKENDS                                                   \
  device_path_backend<float>, device_path_backend<double>,                            \
      prefopt::xtensor::backend<float>, prefopt::xtensor::backend<double>
#else
#define PREFOPT_ALGORITHM_BACKENDS device_path_backend<float>, device_path_backend<double>
#endif

TEMPLATE_TEST_CASE("preference_loss matches Eigen for every batch coupling", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_losses_match_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss into a kept result equals the allocating form and Eigen",
                   "[backends][losses]", PREFOPT_ALGORITHM_BACKENDS) {
  check_reused_result_matches_allocating<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss validates backend inputs on the host", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_preference_loss_validation<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches Eigen", "[backends][losses]", PREFOPT_ALGORITHM_BACKENDS) {
  check_kto_unpaired_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("preference_loss_from_logits matches Eigen end to end",
                   "[backends][losses][logps]", PREFOPT_ALGORITHM_BACKENDS) {
  check_from_logits_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve with hedge, optimistic_mwu and extragradient matches Eigen",
                   "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("solve_batch matches Eigen", "[backends][game]", PREFOPT_ALGORITHM_BACKENDS) {
  check_solve_batch_matches_eigen<TestType>();
}

TEMPLATE_TEST_CASE("a runtime loss list from the registry matches Eigen", "[backends][losses]",
                   PREFOPT_ALGORITHM_BACKENDS) {
  check_loss_list_matches_eigen<TestType>();
}

// The absolute reference: the PyTorch autograd fixtures, on Eigen too (the reference of the
// comparisons above) and through the device code paths.
#define PREFOPT_FIXTURE_BACKENDS \
  prefopt::eigen::backend<float>, prefopt::eigen::backend<double>, PREFOPT_ALGORITHM_BACKENDS

TEMPLATE_TEST_CASE("every loss matches the PyTorch autograd fixtures", "[backends][losses][fixtures]",
                   PREFOPT_FIXTURE_BACKENDS) {
  check_loss_fixtures<TestType>();
}

TEMPLATE_TEST_CASE("unpaired kto_loss matches the PyTorch fixtures", "[backends][losses][fixtures]",
                   PREFOPT_FIXTURE_BACKENDS) {
  check_kto_unpaired_fixtures<TestType>();
}

// Spans carry no memory space in their type, so the algorithms must hand every span's pointer
// to B::require_accessible before any kernel reads it (the CUDA backend then rejects host memory
// with invalid_argument instead of faulting). The emulated device logs the checks and refuses
// one buffer at a time.
TEMPLATE_TEST_CASE("every span input is checked by B::require_accessible before any kernel",
                   "[backends][losses][memory]", device_path_backend<float>,
                   device_path_backend<double>) {
  using B = TestType;
  using T = typename B::scalar_type;
  auto& device = emulated_device();
  const auto in = make_loss_inputs<T>(8, 21);
  const prefopt::losses::preference_batch<T> batch{in.cw, in.cl, in.rw, in.rl, in.nw, in.nl,
                                          in.pw, in.pl, in.nll, in.kp, in.kr};
  const std::vector<std::pair<std::string, const void*>> fields{
      {"chosen_logps", in.cw.data()},       {"rejected_logps", in.cl.data()},
      {"ref_chosen_logps", in.rw.data()},   {"ref_rejected_logps", in.rl.data()},
      {"chosen_tokens", in.nw.data()},      {"rejected_tokens", in.nl.data()},
      {"chosen_win_rates", in.pw.data()},   {"rejected_win_rates", in.pl.data()},
      {"chosen_nll", in.nll.data()},        {"kl_policy_logps", in.kp.data()},
      {"kl_ref_logps", in.kr.data()}};

  SECTION("preference_loss checks all eleven spans, by name, before its first kernel") {
    device = {};
    const auto r = prefopt::losses::preference_loss<B>(prefopt::losses::kto<T>(), batch);
    CHECK(std::isfinite(static_cast<double>(r.loss)));
    for (const auto& field : fields) {
      const std::string& name = field.first;  // clang 14 cannot capture a structured binding
      INFO(name);
      const auto hit = std::find_if(device.checked.begin(), device.checked.end(),
                                    [&](const auto& c) { return c.first == name; });
      REQUIRE(hit != device.checked.end());
      CHECK(hit->second == 0);  // no kernel had run when it was checked
    }
    CHECK(device.kernels > 0);
  }
  SECTION("a refused span is an invalid_argument naming it, and no kernel runs") {
    for (const auto& [name, pointer] : fields) {
      INFO(name);
      device = {};
      device.refused = {pointer};
      CHECK_THROWS_WITH(prefopt::losses::preference_loss<B>(prefopt::losses::sigmoid<T>(), batch),
                        Catch::StartsWith(name) && Catch::Contains("emulated device"));
      CHECK(device.kernels == 0);
    }
  }
  SECTION("unpaired KTO checks its five spans, the desirable flags included") {
    const prefopt::losses::kto_batch<T> unpaired{in.cw, in.rw, in.desirable, in.kp, in.kr};
    const std::vector<std::pair<std::string, const void*>> unpaired_fields{
        {"policy_logps", in.cw.data()}, {"ref_logps", in.rw.data()},
        {"desirable", in.desirable.data()}, {"kl_policy_logps", in.kp.data()},
        {"kl_ref_logps", in.kr.data()}};
    for (const auto& [name, pointer] : unpaired_fields) {
      INFO(name);
      device = {};
      device.refused = {pointer};
      CHECK_THROWS_WITH(prefopt::losses::kto_loss<B>(prefopt::losses::kto<T>(), unpaired),
                        Catch::StartsWith(name) && Catch::Contains("emulated device"));
      CHECK(device.kernels == 0);
    }
  }
  SECTION("preference_loss_from_logits checks its spans before the log-prob kernels") {
    const logits_inputs<T> h;
    const uploaded_batch<B, T, std::int64_t> dw(h.chosen), dl(h.rejected);
    const placed<B, T> rw(h.extras.rw), rl(h.extras.rl), pw(h.extras.pw), pl(h.extras.pl),
        kp(h.extras.kp), kr(h.extras.kr);
    const prefopt::losses::preference_logits<T, std::int64_t, std::uint8_t, typename B::memory_space> lin{
        dw.lv,     dw.lb,     dw.mk,     dl.lv,     dl.lb,     dl.mk,
        rw.span(), rl.span(), pw.span(), pl.span(), kp.span(), kr.span()};
    prefopt::sequence_logps_options seq;
    seq.layout = h.chosen.layout;
    for (const auto& [name, pointer] :
         std::vector<std::pair<std::string, const void*>>{{"ref_chosen_logps", rw.span().data()},
                                                          {"kl_ref_logps", kr.span().data()}}) {
      INFO(name);
      device = {};
      device.refused = {pointer};
      CHECK_THROWS_WITH(prefopt::losses::preference_loss_from_logits<B>(prefopt::losses::kto<T>(), lin, {}, seq),
                        Catch::StartsWith(name) && Catch::Contains("emulated device"));
      CHECK(device.kernels == 0);
    }
  }
  device = {};
}
