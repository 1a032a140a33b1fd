// prefopt::cuda::backend<float> on 16-bit logits (prefopt::bfloat16 / float16, viewed on the
// device as __nv_bfloat16 / __half): sequence log-probs forward and backward against a
// long-double log-softmax of the same, already rounded, logit values (an oracle independent of
// both the CUDA and the CPU kernels), the gradient's single rounding to the storage type, and the
// same errors as the float path. Part of prefopt_tests_cuda: without a usable CUDA device every
// case prints the skip marker (tests/support/device_skip.hpp).
#include <catch2/catch.hpp>

#include <prefopt/backends/cuda.hpp>
#include <prefopt/logps/sequence_logps.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../support/random.hpp"
#include "cuda_support.hpp"

namespace {

using prefopt::index_t;
namespace cu = prefopt::cuda;
using prefopt::testing::skip_without_device;

template <class H>
constexpr double unit_roundoff() {
  return std::is_same_v<H, prefopt::bfloat16> ? 0x1p-8 : 0x1p-11;
}

template <class H>
struct half_case {
  index_t B, Tt, V;
  std::vector<H> logits;
  std::vector<float> widened;
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> mask;
  half_case(index_t b, index_t t, index_t v, std::uint64_t seed) : B(b), Tt(t), V(v) {
    prefopt_test::bits_rng rng(seed);
    for (index_t i = 0; i < b * t * v; ++i) {
      logits.push_back(H(static_cast<float>(3.0 * rng.normal())));
      widened.push_back(static_cast<float>(logits.back()));
    }
    for (index_t s = 0; s < b; ++s)
      for (index_t p = 0; p < t; ++p) {
        labels.push_back(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(v))));
        mask.push_back(p > s ? 1 : 0);
        if (p == t - 2 && s % 2 == 1) labels.back() = -100;
      }
  }
  bool counted(index_t s, index_t p) const {
    const auto i = static_cast<std::size_t>(s * Tt + p + 1);
    return labels[i] != -100 && mask[i] != 0;
  }
  /// log-softmax at the label, and softmax, of the widened row (long double).
  long double logp(index_t s, index_t p) const {
    const float* row = &widened[static_cast<std::size_t>((s * Tt + p) * V)];
    long double m = row[0], sum = 0;
    for (index_t v = 1; v < V; ++v) m = std::max<long double>(m, row[v]);
    for (index_t v = 0; v < V; ++v) sum += std::exp(static_cast<long double>(row[v]) - m);
    return row[labels[static_cast<std::size_t>(s * Tt + p + 1)]] - m - std::log(sum);
  }
  long double lse(index_t s, index_t p) const {
    const float* row = &widened[static_cast<std::size_t>((s * Tt + p) * V)];
    return row[labels[static_cast<std::size_t>(s * Tt + p + 1)]] - logp(s, p);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("cuda: sequence_logps on 16-bit logits against a long-double reference",
                   "[cuda][logps][half]", prefopt::bfloat16, prefopt::float16) {
  skip_without_device();
  using H = TestType;
  using B = cu::backend<float>;
  for (index_t V : {37, 1031, 5003}) {  // odd sizes; 5003 > one block's 256 threads many times
    INFO("V " << V);
    const half_case<H> hc(3, 7, V, 17 + static_cast<std::uint64_t>(V));
    const auto x = cu::upload(hc.logits);
    const auto y = cu::upload(hc.labels);
    const auto m = cu::upload(hc.mask);
    const auto lv = cu::device_logits_view<const H>::contiguous(x.data(), hc.B, hc.Tt, V);
    const auto yv = cu::device_matrix_view<const std::int64_t>::contiguous(y.data(), hc.B, hc.Tt);
    const auto mv = cu::device_matrix_view<const std::uint8_t>::contiguous(m.data(), hc.B, hc.Tt);
    const auto fwd = prefopt::sequence_logps<B>(lv, yv, mv);
    const index_t P = hc.Tt - 1;
    const auto tl = cu::download(B::data(fwd.token_logps), hc.B * P);
    const auto sums = B::to_host(fwd.sum);
    const auto counts = B::to_host(fwd.count);
    // Float accumulation with the hardware exp2: 1e-5 absolute per token (|lse| <= 15 here).
    for (index_t s = 0; s < hc.B; ++s) {
      long double want_sum = 0;
      int n = 0;
      for (index_t p = 0; p < P; ++p) {
        const float got = tl[static_cast<std::size_t>(s * P + p)];
        if (!hc.counted(s, p)) {
          CHECK(got == 0.0f);
          continue;
        }
        const long double want = hc.logp(s, p);
        CHECK(std::fabs(static_cast<double>(got - want)) <= 1e-5);
        want_sum += want;
        ++n;
      }
      CHECK(sums[static_cast<std::size_t>(s)] == Approx(static_cast<double>(want_sum)).epsilon(1e-5));
      CHECK(counts[static_cast<std::size_t>(s)] == static_cast<float>(n));
    }
    // Backward: c_b (1[v == y] - softmax_v), rounded once to H.
    const std::vector<float> gs_h{0.5f, -1.0f, 2.0f}, gm_h{1.5f, 0.0f, -0.25f};
    const auto gs = B::from_host(std::span<const float>(gs_h));
    const auto gm = B::from_host(std::span<const float>(gm_h));
    auto g = cu::device_buffer<H>(hc.B * hc.Tt * V);
    prefopt::sequence_logps_backward<B>(lv, yv, mv, fwd, gs, &gm,
                                        cu::device_logits_view<H>::contiguous(g.data(), hc.B, hc.Tt, V));
    const auto grad = cu::download(g.data(), hc.B * hc.Tt * V);
    for (index_t s = 0; s < hc.B; ++s) {
      const double c = gs_h[static_cast<std::size_t>(s)] +
                       gm_h[static_cast<std::size_t>(s)] / counts[static_cast<std::size_t>(s)];
      for (index_t t = 0; t < hc.Tt; ++t) {
        const bool counted = t < P && hc.counted(s, t);
        const long double lse = counted ? hc.lse(s, t) : 0;
        const std::int64_t label =
            counted ? hc.labels[static_cast<std::size_t>(s * hc.Tt + t + 1)] : -1;
        for (index_t v = 0; v < V; ++v) {
          const auto i = static_cast<std::size_t>((s * hc.Tt + t) * V + v);
          const double got = static_cast<float>(grad[i]);
          if (!counted) {
            REQUIRE(got == 0.0);
            continue;
          }
          const double want = c * ((v == label ? 1.0 : 0.0) -
                                   static_cast<double>(std::exp(hc.widened[i] - lse)));
          REQUIRE(std::fabs(got - want) <= unit_roundoff<H>() * std::fabs(want) * 1.01 + 1e-5);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("cuda: 16-bit logits reject NaN / +Inf rows and bad labels with the CPU "
                   "messages",
                   "[cuda][logps][half][validation]", prefopt::bfloat16, prefopt::float16) {
  skip_without_device();
  using H = TestType;
  using B = cu::backend<float>;
  half_case<H> hc(2, 4, 6, 1);
  const auto yv_of = [&](const cu::device_buffer<std::int64_t>& y) {
    return cu::device_matrix_view<const std::int64_t>::contiguous(y.data(), 2, 4);
  };
  const auto y = cu::upload(hc.labels);
  const auto m = cu::upload(hc.mask);
  const auto mv = cu::device_matrix_view<const std::uint8_t>::contiguous(m.data(), 2, 4);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto logits = hc.logits;
    logits[static_cast<std::size_t>((1 * 4 + 2) * 6 + 3)] = H(bad);  // b = 1, t = 2 (counted)
    const auto x = cu::upload(logits);
    const auto lv = cu::device_logits_view<const H>::contiguous(x.data(), 2, 4, 6);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(lv, yv_of(y), mv),
                      Catch::Contains("logits[1, 2, :]"));
  }
  auto labels = hc.labels;
  labels[3] = 6;
  const auto bad_y = cu::upload(labels);
  const auto x = cu::upload(hc.logits);
  const auto lv = cu::device_logits_view<const H>::contiguous(x.data(), 2, 4, 6);
  CHECK_THROWS_WITH(prefopt::sequence_logps<B>(lv, yv_of(bad_y), mv),
                    Catch::Contains("labels[0, 3] = 6"));
}
