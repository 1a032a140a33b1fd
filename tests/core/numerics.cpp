// Stable scalar numerics: exactness against long-double references and finiteness at extremes.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <prefopt/core/numerics.hpp>

namespace {

template <class T>
double ulp_distance(T got, long double want) {
  const T w = static_cast<T>(want);
  if (got == w) return 0.0;
  const T spacing = std::nextafter(w, std::numeric_limits<T>::infinity()) - w;
  return std::fabs(static_cast<double>(got) - static_cast<double>(want)) / static_cast<double>(spacing);
}

long double ref_softplus(long double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
long double ref_sigmoid(long double x) { return 1.0L / (1.0L + std::exp(-x)); }

}  // namespace

TEMPLATE_TEST_CASE("softplus, log_sigmoid and sigmoid are exact to a few ulp over |x| <= 1e4",
                   "[numerics]", float, double) {
  using T = TestType;
  for (long double x = -1e4L; x <= 1e4L; x += 0.731L) {
    const T xt = static_cast<T>(x);
    const long double xe = xt;  // the exactly representable input
    CHECK(ulp_distance(prefopt::softplus(xt), ref_softplus(xe)) <= 4.0);
    CHECK(ulp_distance(prefopt::log_sigmoid(xt), -ref_softplus(-xe)) <= 4.0);
    const long double s = ref_sigmoid(xe);
    if (s > 1e-30L) CHECK(ulp_distance(prefopt::sigmoid(xt), s) <= 4.0);
    CHECK(std::isfinite(prefopt::softplus(xt)));
    CHECK(std::isfinite(prefopt::log_sigmoid(xt)));
    CHECK(std::isfinite(prefopt::sigmoid(xt)));
  }
}

TEMPLATE_TEST_CASE("numerics at the extremes", "[numerics]", float, double) {
  using T = TestType;
  CHECK(prefopt::softplus(T(1e4)) == T(1e4));
  CHECK(prefopt::softplus(T(-1e4)) == T(0));
  CHECK(prefopt::log_sigmoid(T(-1e4)) == T(-1e4));
  CHECK(prefopt::log_sigmoid(T(1e4)) == T(0));
  CHECK(prefopt::sigmoid(T(-1e4)) == T(0));
  CHECK(prefopt::sigmoid(T(1e4)) == T(1));
  CHECK(prefopt::sigmoid(T(0)) == T(0.5));
  CHECK(prefopt::log_sigmoid(T(0)) == Approx(-std::log(2.0)).epsilon(1e-7));
  // log_sigmoid(30) ~ -9.36e-14: a naive log(sigmoid(x)) would return 0 in float.
  CHECK(prefopt::log_sigmoid(T(30)) == Approx(-9.357622968840175e-14).epsilon(1e-6));
}

TEMPLATE_TEST_CASE("log1mexp matches log(1 - exp(a)) on both branches", "[numerics]", float,
                   double) {
  using T = TestType;
  for (long double a = -1e4L; a < 0; a = a * 0.83L) {
    const T at = static_cast<T>(a);
    if (at >= T(0)) break;
    const long double ae = at;
    // Long-double reference (64-bit mantissa) on the branch where it is itself accurate.
    const long double want = ae > -0.693147180559945309L ? std::log(-std::expm1(ae)) : std::log1p(-std::exp(ae));
    CHECK(ulp_distance(prefopt::log1mexp(at), want) <= 4.0);
    if (a > -1e-30L) break;
  }
  CHECK(prefopt::log1mexp(T(0)) == -std::numeric_limits<T>::infinity());
  CHECK(std::isnan(prefopt::log1mexp(T(0.5))));
  // Tiny |a|: log(1 - exp(-1e-20)) = log(1e-20) exactly to first order.
  CHECK(prefopt::log1mexp(T(-1e-20)) == Approx(std::log(1e-20)).epsilon(1e-6));
}

TEMPLATE_TEST_CASE("logsumexp of pairs and ranges", "[numerics]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  CHECK(prefopt::logsumexp(T(1e4), T(1e4)) == Approx(1e4 + std::log(2.0)));
  CHECK(prefopt::logsumexp(T(-1e4), T(-1e4)) == Approx(-1e4 + std::log(2.0)));
  CHECK(prefopt::logsumexp(-inf, -inf) == -inf);
  CHECK(prefopt::logsumexp(-inf, T(3)) == T(3));
  const T xs[] = {T(1e4), T(-1e4), T(1e4 - 1), T(0)};
  CHECK(prefopt::logsumexp(xs, 4) == Approx(1e4 + std::log1p(std::exp(-1.0))));
  CHECK(prefopt::logsumexp(xs, 0) == -inf);
  const T with_nan[] = {T(0), std::numeric_limits<T>::quiet_NaN()};
  CHECK(std::isnan(prefopt::logsumexp(with_nan, 2)));
  const T nan_after_inf[] = {-inf, std::numeric_limits<T>::quiet_NaN()};
  CHECK(std::isnan(prefopt::logsumexp(nan_after_inf, 2)));
  const T nan_after_plus_inf[] = {inf, std::numeric_limits<T>::quiet_NaN()};
  CHECK(std::isnan(prefopt::logsumexp(nan_after_plus_inf, 2)));
}
