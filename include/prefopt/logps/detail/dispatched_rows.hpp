#pragma once
// The row kernels of the fused sequence log-probs with runtime instruction-set dispatch
// (prefopt/detail/simd.hpp): for float rows on a CPU with AVX2+FMA or AVX-512, the dispatched
// kernels; otherwise the backend's portable kernels, passed in. Used by the Eigen and xtensor
// adapters for both the fused operations and the row_logsumexp primitive.

#include <type_traits>

#include "prefopt/config.hpp"
#include "prefopt/detail/simd.hpp"
#include "prefopt/logps/detail/online_logsumexp.hpp"

namespace prefopt::detail {

/// log sum exp of x[0, n): chunked_row_logsumexp over the active level's max and sum of exp, or
/// over the portable (chunk_max, chunk_sum_exp) when no level is active or T is not float.
template <class T, class PortableMax, class PortableSumExp>
T dispatched_row_logsumexp(const T* x, index_t n, PortableMax&& chunk_max,
                           PortableSumExp&& chunk_sum_exp) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::row_kernels k = simd::active_kernels();
    if (k.max != nullptr) return chunked_row_logsumexp(x, n, k.max, k.sum_exp);
  }
  return chunked_row_logsumexp(x, n, chunk_max, chunk_sum_exp);
}

/// out = scale * exp(x - shift) over [0, n): the active level's kernel, or `portable`.
template <class T, class Portable>
void dispatched_scaled_exp(const T* x, index_t n, T shift, T scale, T* out, Portable&& portable) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::row_kernels k = simd::active_kernels();
    if (k.scaled_exp != nullptr) return k.scaled_exp(x, n, shift, scale, out);
  }
  portable(x, n, shift, scale, out);
}

}  // namespace prefopt::detail
