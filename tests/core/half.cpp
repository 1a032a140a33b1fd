// 16-bit logit storage (prefopt/core/half.hpp, prefopt/detail/simd_half.hpp).
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

namespace {

using prefopt::bfloat16;
using prefopt::float16;
using prefopt::index_t;
namespace simd = prefopt::detail::simd;

struct isa_cap {
  simd::isa previous;
  explicit isa_cap(simd::isa level) : previous(simd::set_isa_cap(level)) {}
  ~isa_cap() { simd::set_isa_cap(previous); }
  isa_cap(const isa_cap&) = delete;
  isa_cap& operator=(const isa_cap&) = delete;
};

/// portable, then the dispatched levels this CPU runs.
std::vector<simd::isa> all_levels() {
  std::vector<simd::isa> out{simd::isa::portable};
  for (simd::isa l : {simd::isa::avx2, simd::isa::avx512})
    if (static_cast<int>(l) <= static_cast<int>(simd::cpu_isa()) &&
        simd::kernels_for(l).max != nullptr)
      out.push_back(l);
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
      REQUIRE(got == want);
      k.narrow_f16(floats.data() + offset, n, got.data());
      simd::narrow_f16_scalar(floats.data() + offset, n, want.data());
      REQUIRE(got == want);
    }
  }
}

