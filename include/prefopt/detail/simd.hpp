#pragma once
// Runtime instruction-set dispatch for the host float kernels that dominate a training step: the
// row kernels of the fused sequence log-probs (max, sum of exp(x - m), the same storing the exps,
// scale * exp(x - shift), scale * e), the token-KL kernels and the DPO (sigmoid) batch-loss
// kernel. A plain build (no -march) runs AVX2+FMA or AVX-512 code on
// a CPU that has it, chosen once per process by __builtin_cpu_supports; everything else uses the
// backend's own portable kernels (Eigen packet math or xsimd: SSE2 on x86-64, NEON on ARM).
//
//   isa cpu_isa()          the best level this CPU runs: portable, avx2 (AVX2 + FMA) or avx512
//                          (AVX-512 F/BW/DQ/VL)
//   isa active_isa()       cpu_isa() capped by the environment variable PREFOPT_ISA (portable,
//                          avx2, avx512; read once) and by set_isa_cap()
//   isa set_isa_cap(isa)   caps the level for the rest of the process (tests and benchmarks
//                          compare paths in one run); returns the previous cap
//
// How: the kernels of prefopt/detail/simd_kernels.inc are compiled twice, each copy under a
// function target pragma (GCC: #pragma GCC target, Clang: #pragma clang attribute), into the
// namespaces simd::avx2 and simd::avx512; the width-specific operations are the two small
// structs `V` below. No -m flag is needed and no instruction beyond SSE2 runs unless the CPU check
// passed. Compiled only for x86-64 with GCC or Clang outside nvcc (PREFOPT_SIMD_X86); MSVC, ARM
// and CUDA translation units see the portable path only. Define PREFOPT_NO_SIMD_DISPATCH to turn
// the dispatch off at compile time.
//
// Determinism: each kernel walks a row from its first element with unaligned loads; the last
// partial vector is read with a masked load, so an element's position in the row (never its
// address) decides the instructions that compute it, and reductions combine lanes in an order
// fixed by the length (scaled_exp, element-wise, may start its streamed stores at the first
// vector-aligned output element: the split changes no value). Different levels (and the
// portable path) round differently in the last bits; tests/core/simd_dispatch.cpp bounds the
// differences.
//
// exp: Cody-Waite reduction by ln 2 (two constants), a degree-6 polynomial (Cephes expf) on
// |r| <= ln2 / 2, and a scaling by 2^n in two steps so that results down to the smallest
// subnormal are formed by one rounding. Max error 1 ulp against the correctly rounded exp on
// every float in [-103, 88.7] (measured exhaustively, docs/performance.md); exp(-inf) = 0,
// exp(x > 88.73) = +inf, NaN propagates. log (used on [1, 2] by log1p): Cephes logf, max error
// 1 ulp on [1, 2].

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "prefopt/config.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__) && \
    !defined(__HIPCC__) && !defined(PREFOPT_NO_SIMD_DISPATCH)
#define PREFOPT_SIMD_X86 1
#include <immintrin.h>
#else
#define PREFOPT_SIMD_X86 0
#endif

namespace prefopt::detail::simd {

enum class isa : int { portable = 0, avx2 = 1, avx512 = 2 };

/// Rows at least this long (32 KiB of float) are written by the dispatched gradient kernels with
/// non-temporal stores: a logit-gradient row of an LM vocabulary is written once and not read
/// again soon, and streaming it skips the read-for-ownership of every line, a third of the
/// backward's memory traffic (read x, write out). Shorter rows stay in cache for whoever reads
/// them next.
inline constexpr index_t gradient_stream_min = 8192;

inline const char* isa_name(isa level) {
  switch (level) {
    case isa::avx512: return "avx512";
    case isa::avx2: return "avx2";
    default: return "portable";
  }
}

/// The best level this CPU runs (cached).
inline isa cpu_isa() noexcept {
#if PREFOPT_SIMD_X86
  static const isa level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
      return isa::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return isa::avx2;
    return isa::portable;
  }();
  return level;
#else
  return isa::portable;
#endif
}

inline std::atomic<int>& isa_cap_storage() noexcept {
  static std::atomic<int> cap{[] {
    const char* env = std::getenv("PREFOPT_ISA");  // NOLINT(concurrency-mt-unsafe): read once
    if (env == nullptr) return static_cast<int>(isa::avx512);
    if (std::strcmp(env, "portable") == 0) return static_cast<int>(isa::portable);
    if (std::strcmp(env, "avx2") == 0) return static_cast<int>(isa::avx2);
    return static_cast<int>(isa::avx512);
  }()};
  return cap;
}

/// The level the dispatched kernels use now.
inline isa active_isa() noexcept {
  const int cap = isa_cap_storage().load(std::memory_order_relaxed);
  const int cpu = static_cast<int>(cpu_isa());
  return static_cast<isa>(cap < cpu ? cap : cpu);
}

/// Caps the level (never above cpu_isa()); returns the previous cap.
inline isa set_isa_cap(isa level) noexcept {
  return static_cast<isa>(isa_cap_storage().exchange(static_cast<int>(level)));
}

/// Per-block sums of the DPO (sigmoid) batch kernel, accumulated in double in a fixed order.
struct sigmoid_block_sums {
  double loss = 0;        // sum of per-pair losses
  double chosen = 0;      // sum of (l_w - ref_w)
  double rejected = 0;    // sum of (l_l - ref_l)
  double accurate = 0;    // pairs with (l_w - ref_w) > (l_l - ref_l)
  double logps_w = 0;     // sum of l_w
  double logps_l = 0;     // sum of l_l
  bool finite = true;     // every input finite (and token counts, when given, finite and > 0)
};

/// Arguments of the sigmoid batch kernel over pairs [begin, end).
struct sigmoid_block_args {
  const float *cw, *cl, *rw, *rl;  // rw / rl may be null (no reference: 0)
  const float *nw, *nl;            // token counts, only validated (may be null)
  float beta, eps, scale;
  float *per, *gc, *gr;
};

/// One chunk of a token-KL row pair (prefopt/kl/detail/dispatched_rows.hpp): the chunk's maxima
/// and, relative to them, the sums of exp(x - max_x), exp(x - max_x) * lr, exp(y - max_y) and
/// -exp(y - max_y) * lr, lr = (x - max_x) - (y - max_y); the same state as the scalar chunk loop
/// of kl::row_divergence for a chunk whose logits are all finite. Terms in float, summed in float
/// over blocks of four vectors and in double across blocks.
struct kl_chunk_sums {
  float max_x = 0, max_y = 0;
  double sum_x = 0, acc_x = 0, sum_y = 0, acc_y = 0;
};

/// The per-row constants of the token-KL gradient and jsd kernels (all from kl::row_stats), in
/// float: zx = x - max_x, zy = y - max_y, p = exp(zx - log_sx), q = exp(zy - log_sy),
/// d = (zx - zy) - k:
///   mode 0 (forward KL):  gx = c p d,  gy = c (q - p);  k = offset + KL   (d = log p/q - KL)
///   mode 1 (reverse KL):  gx = c (p - q),  gy = -c q d;  k = offset - KL  (-d = log q/p - KL)
///   mode 2 (jsd):         u = d with k = offset - log((1-beta)/beta) (u = log((1-beta) p) -
///     log(beta q)), wp = w1 - softplus(-u) = log p - log m, wq = w2 - softplus(u) = log q - log m,
///     gx = cx p (wp - kl_pm),  gy = cy q (wq - kl_qm)
struct kl_row_args {
  float max_x = 0, max_y = 0, log_sx = 0, log_sy = 0;
  float k = 0;
  int mode = 0;
  float c = 0, cx = 0, cy = 0;   // c (modes 0, 1); cx = (1 - beta) c, cy = beta c (jsd)
  float w1 = 0, w2 = 0;          // jsd: -log(1 - beta), -log(beta)
  float kl_pm = 0, kl_qm = 0;    // jsd gradient
};

}  // namespace prefopt::detail::simd

#if PREFOPT_SIMD_X86

// ---- AVX2 + FMA --------------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace prefopt::detail::simd::avx2 {

struct V {
  using reg = __m256;
  using ireg = __m256i;
  using mask = __m256;
  using dreg = __m256d;  // half a reg of floats, widened
  static constexpr int N = 8;
  static inline reg set1(float x) { return _mm256_set1_ps(x); }
  static inline reg load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  /// Non-temporal store; p must be 32-byte aligned.
  static inline void stream(float* p, reg v) { _mm256_stream_ps(p, v); }
  static inline ireg tail_bits(int k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline mask tail_mask(int k) { return _mm256_castsi256_ps(tail_bits(k)); }
  /// Lanes [0, k) from p, the others `fill`; lanes >= k are not read.
  static inline reg load_tail(const float* p, int k, float fill) {
    const ireg m = tail_bits(k);
    return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static inline void store_tail(float* p, int k, reg v) { _mm256_maskstore_ps(p, tail_bits(k), v); }
  static inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static inline reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static inline reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static inline reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static inline reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static inline reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  /// max / min returning the second operand when either is NaN (x86 semantics).
  static inline reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static inline reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static inline reg abs(reg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static inline reg neg(reg a) { return _mm256_xor_ps(_mm256_set1_ps(-0.0f), a); }
  static inline mask ge(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static inline mask gt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static inline mask lt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static inline mask mask_and(mask a, mask b) { return _mm256_and_ps(a, b); }
  static inline mask mask_all() { return _mm256_castsi256_ps(_mm256_set1_epi32(-1)); }
  static inline bool all(mask m) { return _mm256_movemask_ps(m) == 0xFF; }
  /// m ? a : b
  static inline reg select(mask m, reg a, reg b) { return _mm256_blendv_ps(b, a, m); }
  static inline ireg to_bits(reg a) { return _mm256_castps_si256(a); }
  static inline reg from_bits(ireg a) { return _mm256_castsi256_ps(a); }
  static inline ireg isub(ireg a, ireg b) { return _mm256_sub_epi32(a, b); }
  static inline ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static inline ireg iset1(int x) { return _mm256_set1_epi32(x); }
  static inline ireg srai1(ireg a) { return _mm256_srai_epi32(a, 1); }
  static inline ireg srli23(ireg a) { return _mm256_srli_epi32(a, 23); }
  static inline ireg slli23(ireg a) { return _mm256_slli_epi32(a, 23); }
  static inline ireg iand(ireg a, ireg b) { return _mm256_and_si256(a, b); }
  static inline ireg ior(ireg a, ireg b) { return _mm256_or_si256(a, b); }
  static inline reg cvt_int(ireg a) { return _mm256_cvtepi32_ps(a); }
  static inline void lanes(reg v, float* out) { _mm256_storeu_ps(out, v); }
  // Double lanes (for sums accumulated in double).
  static inline dreg dzero() { return _mm256_setzero_pd(); }
  static inline dreg dlo(reg a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
  static inline dreg dhi(reg a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
  static inline dreg dadd(dreg a, dreg b) { return _mm256_add_pd(a, b); }
  static inline dreg dsub(dreg a, dreg b) { return _mm256_sub_pd(a, b); }
  static inline int dcount_gt(dreg a, dreg b) {
    return __builtin_popcount(static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_GT_OQ))));
  }
  static constexpr int DN = 4;
  static inline void dlanes(dreg v, double* out) { _mm256_storeu_pd(out, v); }
  static inline dreg dfmadd(dreg a, dreg b, dreg c) { return _mm256_fmadd_pd(a, b, c); }
};

#include "prefopt/detail/simd_kernels.inc"

}  // namespace prefopt::detail::simd::avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---- AVX-512 F/BW/DQ/VL --------------------------------------------------------------------------
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
// GCC 12 reports -W(maybe-)uninitialized inside its own AVX-512 intrinsics (the `__Y = __Y`
// placeholder of _mm512_undefined_*, a known false positive); silence only that, only here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace prefopt::detail::simd::avx512 {

struct V {
  using reg = __m512;
  using ireg = __m512i;
  using mask = __mmask16;
  using dreg = __m512d;
  static constexpr int N = 16;
  static inline reg set1(float x) { return _mm512_set1_ps(x); }
  static inline reg load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  /// Non-temporal store; p must be 64-byte aligned.
  static inline void stream(float* p, reg v) { _mm512_stream_ps(p, v); }
  static inline mask tail_mask(int k) { return static_cast<mask>((1u << k) - 1u); }
  static inline reg load_tail(const float* p, int k, float fill) {
    return _mm512_mask_loadu_ps(set1(fill), tail_mask(k), p);
  }
  static inline void store_tail(float* p, int k, reg v) { _mm512_mask_storeu_ps(p, tail_mask(k), v); }
  static inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static inline reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static inline reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static inline reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static inline reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static inline reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static inline reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static inline reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static inline reg abs(reg a) { return _mm512_abs_ps(a); }
  static inline reg neg(reg a) { return _mm512_xor_ps(_mm512_set1_ps(-0.0f), a); }
  static inline mask ge(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static inline mask gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static inline mask lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static inline mask mask_and(mask a, mask b) { return static_cast<mask>(a & b); }
  static inline mask mask_all() { return static_cast<mask>(0xFFFF); }
  static inline bool all(mask m) { return m == 0xFFFF; }
  static inline reg select(mask m, reg a, reg b) { return _mm512_mask_blend_ps(m, b, a); }
  static inline ireg to_bits(reg a) { return _mm512_castps_si512(a); }
  static inline reg from_bits(ireg a) { return _mm512_castsi512_ps(a); }
  static inline ireg isub(ireg a, ireg b) { return _mm512_sub_epi32(a, b); }
  static inline ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static inline ireg iset1(int x) { return _mm512_set1_epi32(x); }
  static inline ireg srai1(ireg a) { return _mm512_srai_epi32(a, 1); }
  static inline ireg srli23(ireg a) { return _mm512_srli_epi32(a, 23); }
  static inline ireg slli23(ireg a) { return _mm512_slli_epi32(a, 23); }
  static inline ireg iand(ireg a, ireg b) { return _mm512_and_si512(a, b); }
  static inline ireg ior(ireg a, ireg b) { return _mm512_or_si512(a, b); }
  static inline reg cvt_int(ireg a) { return _mm512_cvtepi32_ps(a); }
  static inline void lanes(reg v, float* out) { _mm512_storeu_ps(out, v); }
  static inline dreg dzero() { return _mm512_setzero_pd(); }
  static inline dreg dlo(reg a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
  static inline dreg dhi(reg a) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)); }
  static inline dreg dadd(dreg a, dreg b) { return _mm512_add_pd(a, b); }
  static inline dreg dsub(dreg a, dreg b) { return _mm512_sub_pd(a, b); }
  static inline int dcount_gt(dreg a, dreg b) {
    return __builtin_popcount(static_cast<unsigned>(_mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)));
  }
  static constexpr int DN = 8;
  static inline void dlanes(dreg v, double* out) { _mm512_storeu_pd(out, v); }
  static inline dreg dfmadd(dreg a, dreg b, dreg c) { return _mm512_fmadd_pd(a, b, c); }
};

#include "prefopt/detail/simd_kernels.inc"

}  // namespace prefopt::detail::simd::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

#endif  // PREFOPT_SIMD_X86

namespace prefopt::detail::simd {

/// One level's kernels (function pointers; null for `portable`).
using sum_exp_fn = float (*)(const float*, index_t, float);
using max_fn = float (*)(const float*, index_t);
struct row_kernels {
  max_fn max = nullptr;
  sum_exp_fn sum_exp = nullptr;
  void (*scaled_exp)(const float*, index_t, float, float, float*) = nullptr;
  void (*sigmoid_block)(const sigmoid_block_args&, index_t, index_t, sigmoid_block_sums&) = nullptr;
  bool (*kl_chunk)(const float*, const float*, index_t, kl_chunk_sums&) = nullptr;
  void (*jsd_sums)(const float*, const float*, index_t, const kl_row_args&, double&, double&) = nullptr;
  void (*kl_gradient)(const float*, const float*, index_t, const kl_row_args&, float*, float*) = nullptr;
  float (*sum_exp_store)(const float*, index_t, float, float*) = nullptr;
  void (*scaled_copy)(const float*, index_t, float, float*, bool) = nullptr;
};

/// The kernels of `level` (all null for `portable`, or for a level this build cannot dispatch).
inline row_kernels kernels_for(isa level) {
#if PREFOPT_SIMD_X86
  switch (level) {
    case isa::avx512:
      return {avx512::row_max,       avx512::sum_exp_shifted, avx512::scaled_exp,
              avx512::sigmoid_block, avx512::kl_chunk,        avx512::jsd_sums,
              avx512::kl_gradient,   avx512::sum_exp_store,   avx512::scaled_copy};
    case isa::avx2:
      return {avx2::row_max,       avx2::sum_exp_shifted, avx2::scaled_exp,
              avx2::sigmoid_block, avx2::kl_chunk,        avx2::jsd_sums,
              avx2::kl_gradient,   avx2::sum_exp_store,   avx2::scaled_copy};
    default: break;
  }
#else
  (void)level;
#endif
  return {};
}

/// The kernels of the active level.
inline row_kernels active_kernels() { return kernels_for(active_isa()); }

}  // namespace prefopt::detail::simd
