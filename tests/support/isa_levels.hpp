#pragma once
// The instruction-set levels of prefopt/detail/simd.hpp as the tests use them: a scoped cap on
// the dispatched level, and the dispatched levels this CPU runs (levels it lacks are not run).
#include <vector>

#include <prefopt/detail/simd.hpp>

namespace prefopt_test {

/// Caps the dispatched level for its scope and restores the previous cap at scope exit.
struct isa_cap {
  prefopt::detail::simd::isa previous;
  explicit isa_cap(prefopt::detail::simd::isa level)
      : previous(prefopt::detail::simd::set_isa_cap(level)) {}
  ~isa_cap() { prefopt::detail::simd::set_isa_cap(previous); }
  isa_cap(const isa_cap&) = delete;
  isa_cap& operator=(const isa_cap&) = delete;
};

/// The dispatched levels (avx2, avx512) this CPU runs and this build compiled.
inline std::vector<prefopt::detail::simd::isa> cpu_dispatched_levels() {
  namespace simd = prefopt::detail::simd;
  std::vector<simd::isa> out;
  for (simd::isa l : {simd::isa::avx2, simd::isa::avx512})
    if (static_cast<int>(l) <= static_cast<int>(simd::cpu_isa()) &&
        simd::kernels_for(l).max != nullptr)
      out.push_back(l);
  return out;
}

}  // namespace prefopt_test
