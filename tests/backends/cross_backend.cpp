// Cross-backend equality: Eigen and xtensor on identical random inputs, primitive by primitive,
// and the fused sequence log-probs forward and backward.
//
// Tolerances (documented in docs/backends.md, "Cross-backend agreement"):
//   bit-identical   zeros, shapes, transfer, for_each, gather_cols, row_max, log_sigmoid and
//                   softplus (both run prefopt's scalar numerics), token counts
//   <= 1 ulp        axpby; float sum, dot, row_sum (accumulated in double in different orders,
//                   rounded once to float)
//   1e-14 of sum |x_i| (double)
//                   sum, dot, row_sum in double: the summation orders differ
//   <= 4 ulp        exp, log (Eigen's and xsimd's vectorised exp/log are each within 1-2 ulp)
//   rel 2e-6 float / 1e-13 double
//                   row_logsumexp, token log-probs / log-sum-exps, sequence sums and means,
//                   gradients (relative to |c_b|): both sum exp(x - max) per 2048-element chunk
//                   in the scalar type, in a different lane order and with a different exp
//   rel 1e-5 float / 1e-13 double of sum |m_ij x_j|
//                   matvec, matvec_transposed (Eigen's GEMV kernel vs xtensor row dots)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/backends/xtensor.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "backend_checks.hpp"

// The target prefopt::xtensor must switch xtensor's assignments to xsimd.
#ifndef XTENSOR_USE_XSIMD
#error "prefopt::xtensor does not define XTENSOR_USE_XSIMD"
#endif

using namespace prefopt;
using prefopt::testing::normal_values;
using prefopt::testing::token_batch;

namespace {

template <class T>
double ulps(T a, T b) {
  if (a == b) return 0;
  if (!std::isfinite(a) || !std::isfinite(b)) return std::numeric_limits<double>::infinity();
  const T spacing = std::nextafter(std::max(std::fabs(a), std::fabs(b)),
                                   std::numeric_limits<T>::infinity()) -
                    std::max(std::fabs(a), std::fabs(b));
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(spacing);
}

template <class T>
constexpr double rel_tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;

template <class T>
void require_ulps(const std::vector<T>& a, const std::vector<T>& b, double max_ulps) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, ulps(a[i], b[i]));
  INFO("worst difference " << worst << " ulp");
  CHECK(worst <= max_ulps);
}

template <class T>
void require_close(const std::vector<T>& a, const std::vector<T>& b, double rel, double scale = 1) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;  // also equal infinities
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    worst = std::max(worst, d / (scale * std::max(1.0, std::fabs(static_cast<double>(a[i])))));
  }
  INFO("worst relative difference " << worst);
  CHECK(worst <= rel);
}

/// float reductions accumulate in double, so they agree to the final rounding; double reductions
/// differ by summation order, bounded relative to l1 = sum |terms|.
template <class T>
bool reductions_agree(T a, T b, double l1) {
  if constexpr (std::is_same_v<T, float>) return ulps(a, b) <= 1;
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) <= 1e-14 * l1;
}

template <class B>
std::vector<typename B::scalar_type> host(const typename B::vector_type& v) {
  return B::to_host(v);
}
template <class B>
std::vector<typename B::scalar_type> host(const typename B::matrix_type& m) {
  return std::vector<typename B::scalar_type>(B::data(m), B::data(m) + B::rows(m) * B::cols(m));
}

}  // namespace

TEMPLATE_TEST_CASE("Eigen and xtensor agree on every primitive", "[backends][cross]", float,
                   double) {
  using T = TestType;
  using E = eigen::backend<T>;
  using X = xtensor::backend<T>;
  const auto xs = normal_values<T>(4099, 6.0, 101), ys = normal_values<T>(4099, 6.0, 102);
  std::vector<T> pos(xs.size());
  std::transform(xs.begin(), xs.end(), pos.begin(), [](T x) { return std::fabs(x) + T(1e-2); });
  const auto ex = E::from_host(std::span<const T>(xs)), ey = E::from_host(std::span<const T>(ys));
  const auto ep = E::from_host(std::span<const T>(pos));
  const auto xx = X::from_host(std::span<const T>(xs)), xy = X::from_host(std::span<const T>(ys));
  const auto xp = X::from_host(std::span<const T>(pos));

  CHECK(host<X>(xx) == xs);
  CHECK(host<X>(X::zeros(5)) == host<E>(E::zeros(5)));
  CHECK(host<X>(X::zeros(3, 4)) == host<E>(E::zeros(3, 4)));
  require_ulps(host<E>(E::exp(ep)), host<X>(X::exp(xp)), 4);
  require_ulps(host<E>(E::log(ep)), host<X>(X::log(xp)), 4);
  CHECK(host<E>(E::log_sigmoid(ex)) == host<X>(X::log_sigmoid(xx)));
  CHECK(host<E>(E::softplus(ex)) == host<X>(X::softplus(xx)));
  require_ulps(host<E>(E::axpby(T(0.3), ex, T(-1.7), ey)), host<X>(X::axpby(T(0.3), xx, T(-1.7), xy)),
               1);
  double l1_sum = 0, l1_dot = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    l1_sum += std::fabs(static_cast<double>(xs[i]));
    l1_dot += std::fabs(static_cast<double>(xs[i]) * static_cast<double>(ys[i]));
  }
  CHECK(reductions_agree(E::sum(ex), X::sum(xx), l1_sum));
  CHECK(reductions_agree(E::dot(ex, ey), X::dot(xx, xy), l1_dot));

  {  // for_each through raw pointers
    auto ev = E::zeros(100);
    auto xv = X::zeros(100);
    T* ed = E::data(ev);
    T* xd = X::data(xv);
    E::for_each(100, [=](index_t i) { ed[i] = T(i) * T(0.5); });
    X::for_each(100, [=](index_t i) { xd[i] = T(i) * T(0.5); });
    CHECK(host<E>(ev) == host<X>(xv));
  }

  // Strided rows spanning several online-softmax chunks, with a -inf entry per row.
  const index_t rows = 9, cols = 5000, stride = 5011;
  auto m = normal_values<T>(static_cast<std::size_t>(rows * stride), 5.0, 103);
  for (index_t r = 0; r < rows; ++r) m[static_cast<std::size_t>(r * stride + 3 * r)] = -INFINITY;
  const matrix_view<const T> mv{m.data(), rows, cols, stride};
  CHECK(host<E>(E::row_max(mv)) == host<X>(X::row_max(mv)));
  require_close(host<E>(E::row_logsumexp(mv)), host<X>(X::row_logsumexp(mv)), rel_tol<T>);
  const auto f = normal_values<T>(static_cast<std::size_t>(rows * stride), 5.0, 104);
  const matrix_view<const T> fv{f.data(), rows, cols, stride};
  {
    const auto re = host<E>(E::row_sum(fv)), rx = host<X>(X::row_sum(fv));
    for (index_t i = 0; i < rows; ++i) {
      double l1 = 0;
      for (index_t j = 0; j < cols; ++j) l1 += std::fabs(static_cast<double>(f[i * stride + j]));
      CHECK(reductions_agree(re[i], rx[i], l1));
    }
  }
  const std::vector<std::int64_t> idx{0, 4999, 5000, -1, 7, 123, 4096, 2048, -100};
  CHECK(host<E>(E::gather_cols(mv, idx.data())) == host<X>(X::gather_cols(mv, idx.data())));

  // matvec / matvec_transposed on a 64 x 300 matrix filled through data().
  const index_t r = 64, c = 300;
  const auto mh = normal_values<T>(static_cast<std::size_t>(r * c), 1.0, 105);
  auto em = E::zeros(r, c);
  auto xm = X::zeros(r, c);
  std::copy(mh.begin(), mh.end(), E::data(em));
  std::copy(mh.begin(), mh.end(), X::data(xm));
  CHECK(E::rows(em) == X::rows(xm));
  CHECK(E::cols(em) == X::cols(xm));
  const auto vc = normal_values<T>(static_cast<std::size_t>(c), 1.0, 106);
  const auto vr = normal_values<T>(static_cast<std::size_t>(r), 1.0, 107);
  const double lin_tol = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  // Scale: sum_j |m_ij x_j| <= sqrt(c) * |row| * |x| ~ c for unit normals.
  require_close(host<E>(E::matvec(em, E::from_host(std::span<const T>(vc)))),
                host<X>(X::matvec(xm, X::from_host(std::span<const T>(vc)))), lin_tol,
                static_cast<double>(c));
  require_close(host<E>(E::matvec_transposed(em, E::from_host(std::span<const T>(vr)))),
                host<X>(X::matvec_transposed(xm, X::from_host(std::span<const T>(vr)))), lin_tol,
                static_cast<double>(r));
}

TEMPLATE_TEST_CASE("Eigen and xtensor agree on sequence_logps forward and backward",
                   "[backends][cross][logps]", float, double) {
  using T = TestType;
  using E = eigen::backend<T>;
  using X = xtensor::backend<T>;
  for (const bool with_mask : {false, true}) {
    const token_batch<T> h(5, 7, 4133, with_mask, true, 111 + with_mask, 6.0);
    const logits_view<const T> lv{h.logits.data(), h.batch, h.time, h.vocab, h.batch_stride,
                                  h.time_stride};
    const auto lb = matrix_view<const std::int64_t>::contiguous(h.labels.data(), h.batch, h.time);
    matrix_view<const std::uint8_t> mk;
    if (with_mask) mk = matrix_view<const std::uint8_t>::contiguous(h.mask.data(), h.batch, h.time);
    const auto fe = sequence_logps<E>(lv, lb, mk);
    const auto fx = sequence_logps<X>(lv, lb, mk);
    require_close(host<E>(fe.token_logps), host<X>(fx.token_logps), rel_tol<T>);
    require_close(host<E>(fe.token_lse), host<X>(fx.token_lse), rel_tol<T>);
    require_close(host<E>(fe.sum), host<X>(fx.sum), rel_tol<T>);
    require_close(host<E>(fe.mean), host<X>(fx.mean), rel_tol<T>);
    CHECK(host<E>(fe.count) == host<X>(fx.count));

    std::vector<T> gs(static_cast<std::size_t>(h.batch)), gm(gs.size());
    for (std::size_t b = 0; b < gs.size(); ++b) {
      gs[b] = T(0.5) + T(b);
      gm[b] = T(2) - T(b);
    }
    const auto es = E::from_host(std::span<const T>(gs)), em = E::from_host(std::span<const T>(gm));
    const auto xs = X::from_host(std::span<const T>(gs)), xm = X::from_host(std::span<const T>(gm));
    // |c_b| <= |gs| + |gm| <= 5: the gradient tolerance is relative to that scale.
    require_close(host<E>(sequence_logps_backward<E>(lv, lb, mk, fe, es, &em)),
                  host<X>(sequence_logps_backward<X>(lv, lb, mk, fx, xs, &xm)), rel_tol<T>, 5.0);
  }
}

TEST_CASE("xtensor view() and logits() wrap containers, adaptors and strided views without copying",
          "[backends][xtensor]") {
  using X = xtensor::backend<double>;
  xt::xtensor<double, 2> m = xt::reshape_view(xt::arange<double>(0.0, 20.0), {4, 5});
  const auto v = X::view(m);
  CHECK(v.data == m.data());
  CHECK((v.rows == 4 && v.cols == 5 && v.row_stride == 5));
  // A row range: same memory, offset by one row.
  const auto rows = xt::view(m, xt::range(1, 3), xt::all());
  const auto rv = X::view(rows);
  CHECK(rv.data == m.data() + 5);
  CHECK((rv.rows == 2 && rv.cols == 5 && rv.row_stride == 5));
  CHECK(X::to_host(X::row_sum(rv)) == std::vector<double>{35, 60});
  // A column range keeps the row stride of the parent.
  const auto cols = xt::view(m, xt::all(), xt::range(1, 4));
  const auto cv = X::view(cols);
  CHECK(cv.data == m.data() + 1);
  CHECK((cv.rows == 4 && cv.cols == 3 && cv.row_stride == 5));
  CHECK(X::to_host(X::row_max(cv)) == std::vector<double>{3, 8, 13, 18});
  // A transpose has a strided column axis: rejected, naming the stride.
  CHECK_THROWS_WITH(X::view(xt::transpose(m)), Catch::Contains("e.strides()[1] = 5"));

  // logits() over an adaptor of caller memory, compared with the hand-built view.
  std::vector<double> buf = normal_values<double>(2 * 3 * 7, 2.0, 121);
  const std::vector<std::int64_t> labels{1, 2, 3, 4, 5, 6};
  auto adapted = xt::adapt(buf.data(), buf.size(), xt::no_ownership(), std::array<std::size_t, 3>{2, 3, 7});
  const auto lv = X::logits(adapted);
  CHECK(lv.data == buf.data());
  CHECK((lv.batch == 2 && lv.time == 3 && lv.vocab == 7 && lv.time_stride == 7 && lv.batch_stride == 21));
  const auto lb = matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 3);
  const auto a = sequence_logps<X>(lv, lb);
  const auto b = sequence_logps<X>(logits_view<const double>::contiguous(buf.data(), 2, 3, 7), lb);
  // Exact: the adaptor's view and the hand-built view are the same memory and shape, so the same
  // row kernels run on the same rows.
  CHECK(host<X>(a.sum) == host<X>(b.sum));
  CHECK_THROWS_WITH(X::logits(m), Catch::Contains("e.dimension() = 2"));
}
