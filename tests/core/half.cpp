// 16-bit logit storage (prefopt/core/half.hpp, prefopt/detail/simd_half.hpp) and sequence
// log-probs on bfloat16 / float16 logits (the host fused path, Eigen and xtensor).
//
// Oracles: conversions against references written from the formats' definitions (the value of
// every pattern from sign, exponent and mantissa; float -> 16 bits by choosing the nearer of the
// two neighbouring representable values in double, ties to the even pattern, overflow past the
// largest finite value plus half an ulp); log-probs against a long-double log-softmax of the same,
// already rounded, logit values; the gradient against central finite differences of that
// reference; the quantisation difference from float logits against its analytic bound.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include <prefopt/core/half.hpp>
#include <prefopt/detail/simd_half.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <support/random.hpp>

#include "support/backends.hpp"
#include "support/isa_levels.hpp"

namespace {

using prefopt::bfloat16;
using prefopt::float16;
using prefopt::index_t;
namespace simd = prefopt::detail::simd;

using prefopt_test::isa_cap;

/// portable, then the dispatched levels this CPU runs.
std::vector<simd::isa> all_levels() {
  std::vector<simd::isa> out{simd::isa::portable};
  for (simd::isa l : prefopt_test::cpu_dispatched_levels()) out.push_back(l);
  return out;
}

// ---- references from the definitions -------------------------------------------------------

/// Value of a binary format with `ebits` exponent and `mbits` mantissa bits (bias 2^(e-1) - 1).
double format_value(std::uint32_t bits, int ebits, int mbits) {
  const std::uint32_t sign = bits >> (ebits + mbits);
  const std::uint32_t e = (bits >> mbits) & ((1u << ebits) - 1u);
  const std::uint32_t m = bits & ((1u << mbits) - 1u);
  const int bias = (1 << (ebits - 1)) - 1;
  double v;
  if (e == (1u << ebits) - 1u)
    v = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  else if (e == 0)
    v = std::ldexp(static_cast<double>(m), 1 - bias - mbits);
  else
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -mbits), static_cast<int>(e) - bias);
  return sign ? -v : v;
}
double bf16_value(std::uint16_t h) { return format_value(h, 8, 7); }
double f16_value(std::uint16_t h) { return format_value(h, 5, 10); }

/// Round-to-nearest-even of a finite or infinite (not NaN) double onto a 16-bit format: the
/// non-negative patterns, in increasing order, are 0 .. max_finite; past the largest finite value
/// the next value is 2^emax+1 (even), which rounds to infinity.
std::uint16_t reference_round(double x, int ebits, int mbits) {
  const std::uint16_t sign = std::signbit(x) ? static_cast<std::uint16_t>(1u << (ebits + mbits)) : 0;
  const double a = std::fabs(x);
  const std::uint32_t inf_bits = ((1u << ebits) - 1u) << mbits;
  if (std::isinf(a)) return static_cast<std::uint16_t>(sign | inf_bits);
  auto value = [&](std::uint32_t k) {  // the pattern after the largest finite one is "2^(emax+1)"
    return k == inf_bits ? 2.0 * format_value(inf_bits - 1, ebits, mbits) /
                               (2.0 - std::ldexp(1.0, -mbits))
                         : format_value(k, ebits, mbits);
  };
  // Largest pattern k with value(k) <= a, by bisection over [0, inf_bits].
  std::uint32_t lo = 0, hi = inf_bits;
  if (a >= value(inf_bits)) return static_cast<std::uint16_t>(sign | inf_bits);
  while (hi - lo > 1) {
    const std::uint32_t mid = (lo + hi) / 2;
    (value(mid) <= a ? lo : hi) = mid;
  }
  const double dl = a - value(lo), dh = value(hi) - a;
  const std::uint32_t k = dl < dh ? lo : dh < dl ? hi : ((lo & 1u) == 0 ? lo : hi);
  return static_cast<std::uint16_t>(sign | k);
}

bool is_nan_float(float x) { return x != x; }

/// Index of the first element where a and b differ, -1 if none (a REQUIRE on the whole vectors
/// would print millions of elements on failure).
template <class T>
long long first_mismatch(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return static_cast<long long>(i);
  return -1;
}

/// Floats to round: every midpoint between neighbouring 16-bit values and the floats next to it,
/// the boundaries around the largest finite value and the subnormals, and a regular sweep of all
/// float bit patterns.
std::vector<float> rounding_inputs(double (*value)(std::uint16_t), std::uint16_t inf_bits) {
  std::vector<float> out;
  for (std::uint32_t k = 0; k < inf_bits; ++k) {
    const double lo = value(static_cast<std::uint16_t>(k));
    const double hi = k + 1 < inf_bits ? value(static_cast<std::uint16_t>(k + 1))
                                       : 2.0 * lo - value(static_cast<std::uint16_t>(k - 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: 16-bit formats have few bits
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY),
                    static_cast<float>(lo)}) {
      out.push_back(x);
      out.push_back(-x);
    }
  }
  for (std::uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) out.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  for (float x : {0.0f, -0.0f, INFINITY, -INFINITY, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()})
    out.push_back(x);
  return out;
}

}  // namespace

TEST_CASE("16-bit storage types: layout", "[half]") {
  STATIC_REQUIRE(sizeof(bfloat16) == 2);
  STATIC_REQUIRE(sizeof(float16) == 2);
  STATIC_REQUIRE(std::is_trivially_copyable_v<bfloat16>);
  STATIC_REQUIRE(std::is_trivially_copyable_v<float16>);
  STATIC_REQUIRE(static_cast<float>(bfloat16(1.0f)) == 1.0f);
  STATIC_REQUIRE(bfloat16(1.0f).bits == 0x3F80);
  STATIC_REQUIRE(float16(1.0f).bits == 0x3C00);
  STATIC_REQUIRE(float16(65504.0f).bits == 0x7BFF);
}

TEST_CASE("16-bit -> float is exact for all 65536 patterns, and float -> 16-bit round-trips",
          "[half][conversion]") {
  for (std::uint32_t u = 0; u < 65536; ++u) {
    const auto h = static_cast<std::uint16_t>(u);
    INFO("pattern " << u);
    {
      const float f = static_cast<float>(bfloat16::from_bits(h));
      const double want = bf16_value(h);
      if (want != want) {
        REQUIRE(is_nan_float(f));
        REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
        REQUIRE(bfloat16(f).bits == (h | 0x0040u));  // payload kept, made quiet
      } else {
        REQUIRE(static_cast<double>(f) == want);
        REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
        REQUIRE(bfloat16(f).bits == h);
      }
    }
    {
      const float f = static_cast<float>(float16::from_bits(h));
      const double want = f16_value(h);
      if (want != want) {
        REQUIRE(is_nan_float(f));
        REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
        REQUIRE(float16(f).bits == (h | 0x0200u));
      } else {
        REQUIRE(static_cast<double>(f) == want);
        REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
        REQUIRE(float16(f).bits == h);
      }
    }
  }
}

TEST_CASE("float -> 16-bit rounds to nearest even, overflows to infinity, keeps NaN",
          "[half][conversion]") {
  SECTION("bfloat16") {
    const auto inputs = rounding_inputs(bf16_value, 0x7F80);
    for (float x : inputs) {
      INFO("x = " << x << " bits " << std::bit_cast<std::uint32_t>(x));
      if (is_nan_float(x)) continue;
      REQUIRE(bfloat16(x).bits == reference_round(x, 8, 7));
    }
    // Ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 -> 1 (even); 1 + 3 * 2^-8 -> 1 + 2^-6.
    CHECK(bfloat16(1.0f + 0x1p-8f).bits == 0x3F80);
    CHECK(bfloat16(1.0f + 3 * 0x1p-8f).bits == 0x3F82);
    // Overflow: the largest float rounds to +inf (past max bf16 + half an ulp).
    CHECK(bfloat16(std::numeric_limits<float>::max()).bits == 0x7F80);
    CHECK(bfloat16(-std::numeric_limits<float>::max()).bits == 0xFF80);
  }
  SECTION("float16") {
    const auto inputs = rounding_inputs(f16_value, 0x7C00);
    for (float x : inputs) {
      INFO("x = " << x << " bits " << std::bit_cast<std::uint32_t>(x));
      if (is_nan_float(x)) continue;
      REQUIRE(float16(x).bits == reference_round(x, 5, 10));
    }
    CHECK(float16(65519.996f).bits == 0x7BFF);
    CHECK(float16(65520.0f).bits == 0x7C00);  // max + half an ulp: tie to even = infinity
    CHECK(float16(0x1p-25f).bits == 0x0000);  // half the smallest subnormal: tie to 0
    CHECK(float16(std::nextafter(0x1p-25f, 1.0f)).bits == 0x0001);
    CHECK(float16(3 * 0x1p-25f).bits == 0x0002);  // 1.5 subnormal ulps: tie to even (2)
  }
  SECTION("NaN stays NaN with its sign") {
    const float qnan = std::numeric_limits<float>::quiet_NaN();
    const float low_payload = std::bit_cast<float>(0x7F800001u);  // payload only in low bits
    for (float x : {qnan, -qnan, low_payload}) {
      CHECK(is_nan_float(static_cast<float>(bfloat16(x))));
      CHECK(is_nan_float(static_cast<float>(float16(x))));
      CHECK(std::signbit(static_cast<float>(bfloat16(x))) == std::signbit(x));
      CHECK(std::signbit(static_cast<float>(float16(x))) == std::signbit(x));
    }
  }
}

TEST_CASE("dispatched conversions give the scalar bits at every level", "[half][conversion][simd]") {
  std::printf("half: cpu level %s, f16c %s\n", simd::isa_name(simd::cpu_isa()),
              simd::cpu_has_f16c() ? "yes" : "no");
  std::vector<std::uint16_t> all(65536 + 13);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i * 40503u);
  for (std::size_t i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  auto floats = rounding_inputs(bf16_value, 0x7F80);
  const auto more = rounding_inputs(f16_value, 0x7C00);
  floats.insert(floats.end(), more.begin(), more.end());
  floats.push_back(std::numeric_limits<float>::quiet_NaN());
  floats.push_back(std::bit_cast<float>(0xFF800001u));
  for (simd::isa level : all_levels()) {
    INFO("level " << simd::isa_name(level));
    const simd::half_kernels k = simd::half_kernels_for(level);
    // Every length's tail: offsets 0..16 so that the scalar tail and the vector body both run.
    for (index_t offset : {0, 1, 7, 15}) {
      const auto n = static_cast<index_t>(all.size()) - offset;
      std::vector<float> got(static_cast<std::size_t>(n)), want(got.size());
      k.widen_bf16(all.data() + offset, n, got.data());
      simd::widen_bf16_scalar(all.data() + offset, n, want.data());
      REQUIRE(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
      k.widen_f16(all.data() + offset, n, got.data());
      simd::widen_f16_scalar(all.data() + offset, n, want.data());
      REQUIRE(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
    for (index_t offset : {0, 3}) {
      const auto n = static_cast<index_t>(floats.size()) - offset;
      std::vector<std::uint16_t> got(static_cast<std::size_t>(n)), want(got.size());
      k.narrow_bf16(floats.data() + offset, n, got.data());
      simd::narrow_bf16_scalar(floats.data() + offset, n, want.data());
      REQUIRE(first_mismatch(got, want) == -1);
      k.narrow_f16(floats.data() + offset, n, got.data());
      simd::narrow_f16_scalar(floats.data() + offset, n, want.data());
      REQUIRE(first_mismatch(got, want) == -1);
    }
  }
}

// ---- sequence log-probs on 16-bit logits ----------------------------------------------------

namespace {

/// A batch with ragged masks and an ignored label; logits rounded to H, kept as H and as the
/// widened float values.
template <class H>
struct half_batch {
  index_t batch, time, vocab;
  std::vector<float> original;         // float logits before rounding
  std::vector<H> logits;               // rounded to H
  std::vector<float> widened;          // float(logits[i]), exactly
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> mask;

  half_batch(index_t b, index_t t, index_t v, unsigned seed, double scale)
      : batch(b), time(t), vocab(v) {
    prefopt_test::bits_rng rng(seed);
    original.resize(static_cast<std::size_t>(b * t * v));
    for (auto& x : original) x = static_cast<float>(scale * rng.normal());
    for (float x : original) logits.push_back(H(x));
    for (H h : logits) widened.push_back(static_cast<float>(h));
    labels.resize(static_cast<std::size_t>(b * t));
    mask.resize(labels.size());
    for (index_t s = 0; s < b; ++s)
      for (index_t p = 0; p < t; ++p) {
        const auto i = static_cast<std::size_t>(s * t + p);
        labels[i] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(v)));
        mask[i] = (p > s && p < t - s / 2) ? 1 : 0;
        if (p == t - 2 && s % 2 == 1) labels[i] = -100;
      }
  }
  auto lv() const { return prefopt::logits_view<const H>::contiguous(logits.data(), batch, time, vocab); }
  auto fv() const { return prefopt::logits_view<const float>::contiguous(widened.data(), batch, time, vocab); }
  auto ov() const { return prefopt::logits_view<const float>::contiguous(original.data(), batch, time, vocab); }
  auto yv() const { return prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), batch, time); }
  auto mv() const { return prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), batch, time); }
  bool counted(index_t s, index_t p) const {
    const auto i = static_cast<std::size_t>(s * time + p + 1);
    return labels[i] != -100 && mask[i] != 0;
  }
  /// long-double log-softmax of the widened (already rounded) row at the label.
  long double ref_logp(index_t s, index_t p, const std::vector<float>& x) const {
    const float* row = &x[static_cast<std::size_t>((s * time + p) * vocab)];
    long double m = row[0], sum = 0;
    for (index_t v = 1; v < vocab; ++v) m = std::max<long double>(m, row[v]);
    for (index_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<long double>(row[v]) - m);
    return row[labels[static_cast<std::size_t>(s * time + p + 1)]] - m - std::log(sum);
  }
};

template <class B>
std::vector<float> host_matrix(const typename B::matrix_type& m) {
  const float* d = B::data(m);
  return std::vector<float>(d, d + B::rows(m) * B::cols(m));
}

template <class H>
constexpr double unit_roundoff() {  // half an ulp relative: 2^-8 (bf16), 2^-11 (fp16)
  return std::is_same_v<H, bfloat16> ? 0x1p-8 : 0x1p-11;
}

}  // namespace

TEMPLATE_TEST_CASE("sequence_logps on 16-bit logits: float accumulation on the rounded values",
                   "[half][logps]", bfloat16, float16) {
  using H = TestType;
  const half_batch<H> hb(3, 9, 4099, 11, 3.0);  // V not a multiple of any vector width
  auto check_backend = [&]<class B>(B*) {
    std::vector<float> portable;  // the portable level's token log-probs (the first level run)
    for (simd::isa level : all_levels()) {
      INFO("level " << simd::isa_name(level));
      isa_cap cap(level);
      const auto r = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv());
      const auto f = prefopt::sequence_logps<B>(hb.fv(), hb.yv(), hb.mv());
      const auto tl = host_matrix<B>(r.token_logps);
      // Levels agree with the portable path within the float path's documented 2e-6 relative
      // (docs/performance.md), here on 16-bit logits.
      if (portable.empty()) portable = tl;
      for (std::size_t i = 0; i < tl.size(); ++i)
        CHECK(tl[i] == Approx(portable[i]).epsilon(2e-6).margin(2e-6));
      // Against the long-double reference on the same values: float accumulation only. The bound
      // is the float path's (tests/core/sequence_logps.cpp): 2e-5 relative on sums, and per token
      // 4e-6 (|lse| <= 12 here) absolute.
      const index_t P = hb.time - 1;
      for (index_t s = 0; s < hb.batch; ++s) {
        long double sum = 0;
        int n = 0;
        for (index_t p = 0; p < P; ++p) {
          const float got = tl[static_cast<std::size_t>(s * P + p)];
          if (!hb.counted(s, p)) {
            CHECK(got == 0.0f);
            continue;
          }
          const long double want = hb.ref_logp(s, p, hb.widened);
          CHECK(std::fabs(static_cast<double>(got - want)) <= 4e-6);
          sum += want;
          ++n;
        }
        CHECK(B::to_host(r.sum)[static_cast<std::size_t>(s)] ==
              Approx(static_cast<double>(sum)).epsilon(2e-5));
        CHECK(B::to_host(r.count)[static_cast<std::size_t>(s)] == static_cast<float>(n));
        CHECK(B::to_host(r.mean)[static_cast<std::size_t>(s)] ==
              Approx(static_cast<double>(sum) / n).epsilon(2e-5));
      }
      // The design property: the same float operations as float logits holding the same values.
      CHECK((host_matrix<B>(f.token_logps) == tl));
      CHECK((B::to_host(f.sum) == B::to_host(r.sum)));
      CHECK((host_matrix<B>(f.token_lse) == host_matrix<B>(r.token_lse)));
    }
  };
  check_backend(static_cast<prefopt::eigen::backend<float>*>(nullptr));
#ifdef PREFOPT_HAVE_XTENSOR
  check_backend(static_cast<prefopt::xtensor::backend<float>*>(nullptr));
#endif
}

TEMPLATE_TEST_CASE("16-bit logits: the difference from float logits is the quantisation, within "
                   "its bound",
                   "[half][logps][accuracy]", bfloat16, float16) {
  using H = TestType;
  using B = prefopt::eigen::backend<float>;
  // |logp(x~) - logp(x)| <= |x~_y - x_y| + max_v |x~_v - x_v| (log-sum-exp is 1-Lipschitz in the
  // max norm) <= 2 u max|x|, u the unit roundoff. Checked per token on the measured max|dx|.
  const half_batch<H> hb(4, 65, 32000, 3, 2.0);
  const auto r = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv());
  const auto f = prefopt::sequence_logps<B>(hb.ov(), hb.yv(), hb.mv());
  const index_t P = hb.time - 1, V = hb.vocab;
  double worst = 0, mean_abs = 0, max_ratio = 0;
  int n = 0;
  for (index_t s = 0; s < hb.batch; ++s)
    for (index_t p = 0; p < P; ++p) {
      if (!hb.counted(s, p)) continue;
      double dx = 0, xmax = 0;
      for (index_t v = 0; v < V; ++v) {
        const auto i = static_cast<std::size_t>((s * hb.time + p) * V + v);
        dx = std::max(dx, std::fabs(static_cast<double>(hb.widened[i]) - hb.original[i]));
        xmax = std::max(xmax, std::fabs(static_cast<double>(hb.original[i])));
      }
      CHECK(dx <= unit_roundoff<H>() * xmax);
      const double d = std::fabs(static_cast<double>(r.token_logps(s, p)) - f.token_logps(s, p));
      CHECK(d <= 2 * dx + 1e-5);  // + both paths' float accumulation
      worst = std::max(worst, d);
      max_ratio = std::max(max_ratio, d / (2 * unit_roundoff<H>() * xmax));
      mean_abs += d;
      ++n;
    }
  std::printf("half: %s logits, N(0, 2^2), V = 32000: |logp - logp(float)| max %.3g, mean %.3g "
              "over %d tokens (max / bound %.3f); |sum difference| max %.3g\n",
              std::is_same_v<H, bfloat16> ? "bfloat16" : "float16", worst, mean_abs / n, n,
              max_ratio,
              static_cast<double>((r.sum - f.sum).cwiseAbs().maxCoeff()));
}

TEMPLATE_TEST_CASE("16-bit logits backward: the float gradient rounded once, against finite "
                   "differences",
                   "[half][logps][gradient]", bfloat16, float16) {
  using H = TestType;
  using B = prefopt::eigen::backend<float>;
  const half_batch<H> hb(2, 5, 37, 5, 2.0);
  const index_t P = hb.time - 1, V = hb.vocab;
  const B::vector_type grad_sum = (B::vector_type(2) << 0.75f, -1.25f).finished();
  const B::vector_type grad_mean = (B::vector_type(2) << 2.0f, 0.5f).finished();
  for (simd::isa level : all_levels()) {
    INFO("level " << simd::isa_name(level));
    isa_cap cap(level);
    const auto fwd = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv());
    std::vector<H> grad(hb.logits.size(), H(123.0f));
    prefopt::sequence_logps_backward<B>(
        hb.lv(), hb.yv(), hb.mv(), fwd, grad_sum, &grad_mean,
        prefopt::logits_view<H>::contiguous(grad.data(), hb.batch, hb.time, V));
    // Exactly the float path's gradient on the widened logits, rounded once to H.
    const auto ffwd = prefopt::sequence_logps<B>(hb.fv(), hb.yv(), hb.mv());
    const auto fgrad = prefopt::sequence_logps_backward<B>(hb.fv(), hb.yv(), hb.mv(), ffwd,
                                                           grad_sum, &grad_mean);
    for (std::size_t i = 0; i < grad.size(); ++i) REQUIRE(grad[i].bits == H(fgrad.data()[i]).bits);
    // Against central differences of the long-double objective L = sum_b (gs_b S_b + gm_b S_b / n_b)
    // on the widened values.
    std::vector<float> x = hb.widened;
    auto objective = [&](const std::vector<float>& xs, index_t s) {
      long double sum = 0;
      int n = 0;
      for (index_t p = 0; p < P; ++p)
        if (hb.counted(s, p)) {
          sum += hb.ref_logp(s, p, xs);
          ++n;
        }
      return static_cast<long double>(grad_sum(s)) * sum +
             static_cast<long double>(grad_mean(s)) * sum / n;
    };
    for (index_t s = 0; s < hb.batch; ++s)
      for (index_t t = 0; t < hb.time; ++t)
        for (index_t v = 0; v < V; ++v) {
          const auto i = static_cast<std::size_t>((s * hb.time + t) * V + v);
          const float x0 = x[i];
          const float h = 1.0f / 64;  // exact steps: x0 +- h is a float
          x[i] = x0 + h;
          const long double up = objective(x, s);
          x[i] = x0 - h;
          const long double down = objective(x, s);
          x[i] = x0;
          const double fd = static_cast<double>((up - down) / (2 * h));
          const double got = static_cast<double>(static_cast<float>(grad[i]));
          // rounding to H (u |g|) + float evaluation + the O(h^2) truncation of the difference
          CHECK(std::fabs(got - fd) <= unit_roundoff<H>() * std::fabs(fd) * 1.01 + 2e-4);
        }
  }
}

TEMPLATE_TEST_CASE("16-bit logits: bad input is rejected", "[half][logps][validation]", bfloat16,
                   float16) {
  using H = TestType;
  using B = prefopt::eigen::backend<float>;
  using Catch::Contains;
  const half_batch<H> hb(2, 4, 6, 1, 1.0);
  SECTION("NaN and +Inf logits in a counted row") {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      auto logits = hb.logits;
      logits[static_cast<std::size_t>((1 * 4 + 2) * 6 + 3)] = H(bad);  // b = 1, t = 2 (counted)
      const auto lv = prefopt::logits_view<const H>::contiguous(logits.data(), 2, 4, 6);
      CHECK_THROWS_WITH(prefopt::sequence_logps<B>(lv, hb.yv(), hb.mv()), Contains("logits[1, 2, :]"));
    }
  }
  SECTION("a value that overflowed to infinity when rounded to the storage type") {
    auto logits = hb.logits;
    logits[static_cast<std::size_t>((1 * 4 + 2) * 6 + 1)] = H(1e6f);  // fp16: inf; bf16: finite
    const auto lv = prefopt::logits_view<const H>::contiguous(logits.data(), 2, 4, 6);
    if constexpr (std::is_same_v<H, float16>)
      CHECK_THROWS_WITH(prefopt::sequence_logps<B>(lv, hb.yv(), hb.mv()), Contains("logits[1, 2, :]"));
    else
      CHECK_NOTHROW(prefopt::sequence_logps<B>(lv, hb.yv(), hb.mv()));
  }
  SECTION("label outside [0, V), forward and backward") {
    auto labels = hb.labels;
    labels[3] = 6;
    const auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 4);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(hb.lv(), lab, hb.mv()), Contains("labels[0, 3] = 6"));
    const auto fwd = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv());
    std::vector<H> grad(hb.logits.size());
    const B::vector_type gs = B::vector_type::Ones(2);
    CHECK_THROWS_WITH(prefopt::sequence_logps_backward<B>(
                          hb.lv(), lab, hb.mv(), fwd, gs, nullptr,
                          prefopt::logits_view<H>::contiguous(grad.data(), 2, 4, 6)),
                      Contains("labels[0, 3] = 6"));
  }
  SECTION("gradient buffer of the wrong shape") {
    const auto fwd = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv());
    std::vector<H> grad(hb.logits.size());
    const B::vector_type gs = B::vector_type::Ones(2);
    CHECK_THROWS_WITH(prefopt::sequence_logps_backward<B>(
                          hb.lv(), hb.yv(), hb.mv(), fwd, gs, nullptr,
                          prefopt::logits_view<H>::contiguous(grad.data(), 2, 4, 5)),
                      Contains("grad_logits.vocab = 5"));
  }
}

TEST_CASE("16-bit logits: results do not depend on the thread count", "[half][logps][threads]") {
  using B = prefopt::eigen::backend<float>;
  const half_batch<bfloat16> hb(3, 17, 1031, 9, 3.0);
  prefopt::sequence_logps_options one, many;
  one.threads = 1;
  many.threads = 3;
  const auto a = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv(), one);
  const auto c = prefopt::sequence_logps<B>(hb.lv(), hb.yv(), hb.mv(), many);
  CHECK((a.token_logps.array() == c.token_logps.array()).all());
  CHECK((a.sum.array() == c.sum.array()).all());
  const B::vector_type gs = B::vector_type::Ones(3);
  std::vector<bfloat16> g1(hb.logits.size()), g3(g1.size());
  prefopt::sequence_logps_backward<B>(hb.lv(), hb.yv(), hb.mv(), a, gs, nullptr,
                                      prefopt::logits_view<bfloat16>::contiguous(g1.data(), 3, 17, 1031), one);
  prefopt::sequence_logps_backward<B>(hb.lv(), hb.yv(), hb.mv(), a, gs, nullptr,
                                      prefopt::logits_view<bfloat16>::contiguous(g3.data(), 3, 17, 1031), many);
  for (std::size_t i = 0; i < g1.size(); ++i) REQUIRE(g1[i].bits == g3[i].bits);
}
