#pragma once
// 16-bit floating-point *storage* types for logits: prefopt::bfloat16 (1 sign, 8 exponent, 7
// mantissa bits: the top half of a float) and prefopt::float16 (IEEE 754 binary16: 1, 5, 10).
// They hold bits and convert to and from float; there is no arithmetic on them. Every algorithm
// that accepts them widens to float, computes in float (and double where the float path does)
// and writes float results; only a gradient with respect to 16-bit logits is rounded back to the
// storage type (docs/half_precision.md).
//
// Conversions (constexpr, exact where the value is representable):
//   bfloat16 -> float   the 16 bits shifted into the top half of a float (exact; NaN kept bit for
//                       bit).
//   float -> bfloat16   round to nearest, ties to even; finite values past the largest bfloat16
//                       round to +-inf; NaN stays NaN with its sign and top payload bits and the
//                       quiet bit set (as x86's vcvtneps2bf16 does).
//   float16 -> float    exact for every pattern, subnormals included; a NaN keeps sign and
//                       payload and is made quiet (as x86's F16C vcvtph2ps does).
//   float -> float16    round to nearest, ties to even (IEEE 754), subnormal results included;
//                       |x| >= 65520 (the largest float16, 65504, plus half an ulp) gives +-inf;
//                       NaN as for bfloat16 (quiet bit 0x0200 set, payload truncated, as F16C's
//                       vcvtps2ph does).
// The runtime-dispatched SIMD conversions (prefopt/detail/simd_half.hpp) give the same bits as
// these functions for every input (tests/core/half.cpp).
//
// Layout: one std::uint16_t, trivially copyable, the same bits as CUDA's __nv_bfloat16 / __half
// and PyTorch's torch.bfloat16 / torch.float16 elements, so a pointer to such memory can be
// viewed as a prefopt::bfloat16* / float16* without a copy.

#include <bit>
#include <concepts>
#include <cstdint>
#include <type_traits>

namespace prefopt {

namespace detail {

constexpr float bf16_bits_to_float(std::uint16_t h) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

constexpr std::uint16_t float_to_bf16_bits(float x) noexcept {
  std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u)  // NaN: keep sign and top payload, set the quiet bit
    return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest, ties to even; overflow carries into inf
  return static_cast<std::uint16_t>(u >> 16);
}

constexpr float f16_bits_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  const std::uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) {  // inf, or NaN made quiet
    const std::uint32_t quiet = mant != 0 ? 0x00400000u : 0u;
    return std::bit_cast<float>(sign | 0x7F800000u | quiet | (mant << 13));
  }
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float magnitude = static_cast<float>(mant) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

constexpr std::uint16_t float_to_f16_bits(float x) noexcept {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u)  // NaN: quiet, top 10 payload bits kept
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x47800000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 2^16 (and inf)
  if (a >= 0x38800000u) {  // float16 normal range [2^-14, 2^16): rebias, round 13 bits away
    std::uint32_t h = ((a >> 23) - 112u) << 10 | ((a >> 13) & 0x3FFu);
    const std::uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry up to inf (0x7C00)
    return static_cast<std::uint16_t>(sign | h);
  }
  // Subnormal result: round(|x| * 2^24) to an integer, ties to even (0x400 = the smallest normal).
  const std::uint32_t e = a >> 23;  // biased exponent, < 113
  if (e < 102) return sign;         // |x| < 2^-25: rounds to zero (float subnormals included)
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;  // |x| = m * 2^(e - 150)
  const std::uint32_t shift = 126u - e;                 // in [14, 24]
  std::uint32_t q = m >> shift;
  const std::uint32_t rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

}  // namespace detail

/// bfloat16 storage: explicit conversions to and from float (see the top of this header).
struct bfloat16 {
  std::uint16_t bits;

  bfloat16() = default;
  constexpr explicit bfloat16(float x) noexcept : bits(detail::float_to_bf16_bits(x)) {}
  constexpr explicit operator float() const noexcept { return detail::bf16_bits_to_float(bits); }
  static constexpr bfloat16 from_bits(std::uint16_t b) noexcept {
    bfloat16 h{};
    h.bits = b;
    return h;
  }
};

/// IEEE binary16 storage: explicit conversions to and from float (see the top of this header).
struct float16 {
  std::uint16_t bits;

  float16() = default;
  constexpr explicit float16(float x) noexcept : bits(detail::float_to_f16_bits(x)) {}
  constexpr explicit operator float() const noexcept { return detail::f16_bits_to_float(bits); }
  static constexpr float16 from_bits(std::uint16_t b) noexcept {
    float16 h{};
    h.bits = b;
    return h;
  }
};

static_assert(sizeof(bfloat16) == 2 && alignof(bfloat16) == 2 &&
              std::is_trivially_copyable_v<bfloat16> && std::is_standard_layout_v<bfloat16>);
static_assert(sizeof(float16) == 2 && alignof(float16) == 2 &&
              std::is_trivially_copyable_v<float16> && std::is_standard_layout_v<float16>);

/// The 16-bit storage types (const excluded).
template <class T>
concept half_storage = std::same_as<T, bfloat16> || std::same_as<T, float16>;

}  // namespace prefopt
