#pragma once
// Runtime-dispatched conversions between 16-bit logit storage (prefopt::bfloat16, float16;
// prefopt/core/half.hpp) and float, for the fused log-prob rows on 16-bit logits. A block of its
// own next to prefopt/detail/simd.hpp (same levels, same PREFOPT_ISA cap, same compile-time
// switches), kept out of simd_kernels.inc: these kernels are not written over V.
//
//   widen_bf16(src, n, dst)    dst[i] = float(src[i]): AVX2 loads 8 uint16, zero-extends them to
//                              32 bits (vpmovzxwd) and shifts left by 16; AVX-512 the same on 16.
//   widen_f16(src, n, dst)     F16C vcvtph2ps (AVX2 level: needs the CPU's F16C bit as well) or
//                              AVX-512F's 16-lane form.
//   narrow_bf16(src, n, dst)   round to nearest even in integer lanes (u + 0x7FFF + lsb) >> 16,
//                              NaN lanes (u >> 16) | 0x40; packed with vpackusdw.
//   narrow_f16(src, n, dst)    vcvtps2ph with round-to-nearest-even.
//
// Every function gives the bits of the scalar conversions in core/half.hpp for every input (they
// are exact or correctly rounded, so there is nothing for an instruction set to change), which
// tests/core/half.cpp checks on all 65536 patterns and on the float rounding boundaries. The last
// n % width elements go through the scalar conversions.

#include <cstdint>

#include "prefopt/config.hpp"
#include "prefopt/core/half.hpp"
#include "prefopt/detail/simd.hpp"

namespace prefopt::detail::simd {

/// Scalar (portable) conversions over [0, n).
inline void widen_bf16_scalar(const std::uint16_t* src, index_t n, float* dst) {
  for (index_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(src[i]);
}
inline void widen_f16_scalar(const std::uint16_t* src, index_t n, float* dst) {
  for (index_t i = 0; i < n; ++i) dst[i] = f16_bits_to_float(src[i]);
}
inline void narrow_bf16_scalar(const float* src, index_t n, std::uint16_t* dst) {
  for (index_t i = 0; i < n; ++i) dst[i] = float_to_bf16_bits(src[i]);
}
inline void narrow_f16_scalar(const float* src, index_t n, std::uint16_t* dst) {
  for (index_t i = 0; i < n; ++i) dst[i] = float_to_f16_bits(src[i]);
}

}  // namespace prefopt::detail::simd

#if PREFOPT_SIMD_X86
#include <cpuid.h>

// ---- AVX2 + F16C -------------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace prefopt::detail::simd::avx2_half {

inline void widen_bf16(const std::uint16_t* src, index_t n, float* dst) {
  index_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  }
  widen_bf16_scalar(src + i, n - i, dst + i);
}

inline void widen_f16(const std::uint16_t* src, index_t n, float* dst) {
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  widen_f16_scalar(src + i, n - i, dst + i);
}

inline void narrow_bf16(const float* src, index_t n, std::uint16_t* dst) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7FFF),
                quiet = _mm256_set1_epi32(0x0040);
  index_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)), 16);
    const __m256i nan_bits = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
    const __m256i r = _mm256_blendv_epi8(rounded, nan_bits, is_nan);  // lanes in [0, 0xFFFF]
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_castsi256_si128(packed));
  }
  narrow_bf16_scalar(src + i, n - i, dst + i);
}

inline void narrow_f16(const float* src, index_t n, std::uint16_t* dst) {
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  narrow_f16_scalar(src + i, n - i, dst + i);
}

}  // namespace prefopt::detail::simd::avx2_half

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---- AVX-512 F/BW/DQ/VL ------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace prefopt::detail::simd::avx512_half {

inline void widen_bf16(const std::uint16_t* src, index_t n, float* dst) {
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  widen_bf16_scalar(src + i, n - i, dst + i);
}

inline void widen_f16(const std::uint16_t* src, index_t n, float* dst) {
  index_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  widen_f16_scalar(src + i, n - i, dst + i);
}

inline void narrow_bf16(const float* src, index_t n, std::uint16_t* dst) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF),
                quiet = _mm512_set1_epi32(0x0040);
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i u = _mm512_castps_si512(_mm512_loadu_ps(src + i));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
    const __m512i nan_bits = _mm512_or_si512(_mm512_srli_epi32(u, 16), quiet);
    const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i r = _mm512_mask_blend_epi32(is_nan, rounded, nan_bits);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(r));
  }
  narrow_bf16_scalar(src + i, n - i, dst + i);
}

inline void narrow_f16(const float* src, index_t n, std::uint16_t* dst) {
  index_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  narrow_f16_scalar(src + i, n - i, dst + i);
}

}  // namespace prefopt::detail::simd::avx512_half

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#endif  // PREFOPT_SIMD_X86

namespace prefopt::detail::simd {

/// One level's conversions (never null: the portable level gets the scalar loops).
struct half_kernels {
  void (*widen_bf16)(const std::uint16_t*, index_t, float*) = widen_bf16_scalar;
  void (*widen_f16)(const std::uint16_t*, index_t, float*) = widen_f16_scalar;
  void (*narrow_bf16)(const float*, index_t, std::uint16_t*) = narrow_bf16_scalar;
  void (*narrow_f16)(const float*, index_t, std::uint16_t*) = narrow_f16_scalar;
};

/// Whether this CPU has F16C (the AVX2 level's float16 conversions need it; AVX-512F has its own).
inline bool cpu_has_f16c() noexcept {
#if PREFOPT_SIMD_X86
  // CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c"); the
  // OS's YMM state, which the AVX2 level needs as well, is checked by cpu_isa().
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
  }();
  return has;
#else
  return false;
#endif
}

/// The conversions of `level` (the scalar ones for `portable`, for a level this build cannot
/// dispatch, or when the CPU lacks F16C).
inline half_kernels half_kernels_for(isa level) {
#if PREFOPT_SIMD_X86
  if (cpu_has_f16c()) {
    switch (level) {
      case isa::avx512:
        return {avx512_half::widen_bf16, avx512_half::widen_f16, avx512_half::narrow_bf16,
                avx512_half::narrow_f16};
      case isa::avx2:
        return {avx2_half::widen_bf16, avx2_half::widen_f16, avx2_half::narrow_bf16,
                avx2_half::narrow_f16};
      default: break;
    }
  }
#else
  (void)level;
#endif
  return {};
}

/// The conversions of the active level (prefopt::detail::simd::active_isa()).
inline half_kernels active_half_kernels() { return half_kernels_for(active_isa()); }

}  // namespace prefopt::detail::simd
