#pragma once
// Numerically stable scalar functions used by every loss and kernel. All are PREFOPT_HD so the
// identical code runs on the host and inside CUDA kernels, and all are exact to a few ulp and
// finite over |x| <= 1e4 (and far beyond) for float and double; tests/core/numerics.cpp checks
// the extremes against long-double references.
//
// Conventions: log_sigmoid(x) = -softplus(-x); log1mexp(a) = log(1 - exp(a)) for a <= 0
// (Maechler 2012, "Accurately computing log(1 - exp(-|a|))").

#include <cmath>
#include <limits>

#include "prefopt/config.hpp"

namespace prefopt {

namespace detail {
// std:: maths is not available in the device pass of nvcc; CUDA provides overloaded ::exp etc.
#if PREFOPT_IN_DEVICE_CODE
template <class T> PREFOPT_HD inline T exp_(T x) { return ::exp(x); }
template <class T> PREFOPT_HD inline T log_(T x) { return ::log(x); }
template <class T> PREFOPT_HD inline T log1p_(T x) { return ::log1p(x); }
template <class T> PREFOPT_HD inline T expm1_(T x) { return ::expm1(x); }
template <class T> PREFOPT_HD inline T fabs_(T x) { return ::fabs(x); }
template <class T> PREFOPT_HD inline bool isfinite_(T x) { return ::isfinite(x); }
#else
template <class T> inline T exp_(T x) { return std::exp(x); }
template <class T> inline T log_(T x) { return std::log(x); }
template <class T> inline T log1p_(T x) { return std::log1p(x); }
template <class T> inline T expm1_(T x) { return std::expm1(x); }
template <class T> inline T fabs_(T x) { return std::fabs(x); }
template <class T> inline bool isfinite_(T x) { return std::isfinite(x); }
#endif
template <class T> PREFOPT_HD constexpr T max_(T a, T b) { return a < b ? b : a; }
template <class T> PREFOPT_HD constexpr T min_(T a, T b) { return b < a ? b : a; }
template <class T> PREFOPT_HD constexpr T ln2() { return T(0.693147180559945309417232121458176568L); }
}  // namespace detail

/// softplus(x) = log(1 + exp(x)). Never overflows: for x > 0 uses x + log1p(exp(-x)).
template <class T>
PREFOPT_HD inline T softplus(T x) {
  if (x > T(0)) return x + detail::log1p_(detail::exp_(-x));
  return detail::log1p_(detail::exp_(x));
}

/// log sigmoid(x) = -softplus(-x); ~x for x << 0, ~-exp(-x) for x >> 0, never -inf for finite x
/// beyond underflow of the result itself.
template <class T>
PREFOPT_HD inline T log_sigmoid(T x) {
  return -softplus(-x);
}

/// sigmoid(x) = 1 / (1 + exp(-x)), evaluated on the branch where exp cannot overflow.
template <class T>
PREFOPT_HD inline T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + detail::exp_(-x));
  const T e = detail::exp_(x);
  return e / (T(1) + e);
}

/// log(1 - exp(a)) for a <= 0 (e.g. log(1 - p) from log p). -inf at a = 0; NaN for a > 0
/// (a probability above one), which callers validate on the host.
template <class T>
PREFOPT_HD inline T log1mexp(T a) {
  if (a > -detail::ln2<T>()) return detail::log_(-detail::expm1_(a));
  return detail::log1p_(-detail::exp_(a));
}

/// log(exp(a) + exp(b)) without overflow; -inf when both are -inf.
template <class T>
PREFOPT_HD inline T logsumexp(T a, T b) {
  const T m = detail::max_(a, b);
  if (m == -std::numeric_limits<T>::infinity()) return m;
  return m + detail::log1p_(detail::exp_(-detail::fabs_(a - b)));
}

/// log(sum_i exp(x[i])) over n values: one max pass, one sum pass; the sum is accumulated in
/// double (or wider) so long rows keep full precision. n = 0 gives -inf (empty sum).
template <class T>
PREFOPT_HD inline T logsumexp(const T* x, long long n) {
  using acc_t = decltype(T() + double());
  if (n <= 0) return -std::numeric_limits<T>::infinity();
  T m = x[0];
  for (long long i = 1; i < n; ++i) m = detail::max_(m, x[i]);
  if (m == -std::numeric_limits<T>::infinity() || !detail::isfinite_(m)) {
    // max_ drops a NaN that follows -inf or +inf, which must still make the result NaN.
    for (long long i = 0; i < n; ++i)
      if (x[i] != x[i]) return x[i];
    return m;
  }
  acc_t s = 0;
  for (long long i = 0; i < n; ++i) s += detail::exp_(acc_t(x[i]) - acc_t(m));
  return T(acc_t(m) + detail::log_(s));
}

}  // namespace prefopt
