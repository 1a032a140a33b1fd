// Sequence log-probs: forward against a naive log-softmax, backward against finite differences,
// label shift / mask off-by-one, precision of long sums, thread determinism, and bad input.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <prefopt/logps/sequence_logps.hpp>
#include <support/random.hpp>
#include <random>
#include <span>
#include <vector>

#include "support/backends.hpp"

namespace {

using prefopt::index_t;

struct token_batch {
  index_t batch, time, vocab;
  std::vector<double> logits;          // [B, T, V]
  std::vector<std::int64_t> labels;    // [B, T]
  std::vector<std::uint8_t> mask;      // [B, T]
};

token_batch random_batch(index_t batch, index_t time, index_t vocab, unsigned seed,
                         double scale = 3.0) {
  prefopt_test::bits_rng rng(seed);
  const auto normal = [scale](prefopt_test::bits_rng& g) { return scale * g.normal(); };
  const auto token = [vocab](prefopt_test::bits_rng& g) {
    return static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(vocab)));
  };
  token_batch tb{batch, time, vocab, {}, {}, {}};
  tb.logits.resize(static_cast<std::size_t>(batch * time * vocab));
  for (auto& x : tb.logits) x = normal(rng);
  tb.labels.resize(static_cast<std::size_t>(batch * time));
  tb.mask.resize(tb.labels.size());
  for (index_t b = 0; b < batch; ++b)
    for (index_t t = 0; t < time; ++t) {
      const auto i = static_cast<std::size_t>(b * time + t);
      tb.labels[i] = token(rng);
      // prompt of b + 1 tokens, then completion; one -100 label inside the completion
      tb.mask[i] = t > b ? 1 : 0;
      if (t == time - 2 && b % 2 == 1) tb.labels[i] = -100;
    }
  return tb;
}

// Naive reference: full log-softmax in long double, explicit shift and mask.
std::vector<long double> naive_sums(const token_batch& tb, bool use_mask) {
  std::vector<long double> sums(static_cast<std::size_t>(tb.batch), 0.0L);
  for (index_t b = 0; b < tb.batch; ++b)
    for (index_t t = 0; t + 1 < tb.time; ++t) {
      const auto li = static_cast<std::size_t>(b * tb.time + t + 1);
      if (tb.labels[li] == -100 || (use_mask && tb.mask[li] == 0)) continue;
      const double* row = &tb.logits[static_cast<std::size_t>((b * tb.time + t) * tb.vocab)];
      long double m = row[0], s = 0;
      for (index_t v = 1; v < tb.vocab; ++v) m = std::max<long double>(m, row[v]);
      for (index_t v = 0; v < tb.vocab; ++v) s += std::exp(static_cast<long double>(row[v]) - m);
      sums[static_cast<std::size_t>(b)] += row[tb.labels[li]] - m - std::log(s);
    }
  return sums;
}
// The counted positions of the same definition.
std::vector<int> naive_counts(const token_batch& tb, bool use_mask) {
  std::vector<int> counts(static_cast<std::size_t>(tb.batch), 0);
  for (index_t b = 0; b < tb.batch; ++b)
    for (index_t t = 0; t + 1 < tb.time; ++t) {
      const auto li = static_cast<std::size_t>(b * tb.time + t + 1);
      if (tb.labels[li] != -100 && !(use_mask && tb.mask[li] == 0)) ++counts[static_cast<std::size_t>(b)];
    }
  return counts;
}

template <class T>
std::vector<T> cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

template <class T>
struct views {
  std::vector<T> logits;
  prefopt::logits_view<const T> lv;
  prefopt::matrix_view<const std::int64_t> labels;
  prefopt::matrix_view<const std::uint8_t> mask;
  explicit views(const token_batch& tb)
      : logits(cast<T>(tb.logits)),
        lv(prefopt::logits_view<const T>::contiguous(logits.data(), tb.batch, tb.time, tb.vocab)),
        labels(prefopt::matrix_view<const std::int64_t>::contiguous(tb.labels.data(), tb.batch,
                                                                     tb.time)),
        mask(prefopt::matrix_view<const std::uint8_t>::contiguous(tb.mask.data(), tb.batch,
                                                                   tb.time)) {}
};

template <class B>
std::vector<typename B::scalar_type> host(const typename B::vector_type& v) {
  return B::to_host(v);
}

}  // namespace

TEMPLATE_TEST_CASE("sequence_logps matches a naive log-softmax with shift and mask", "[logps]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  const auto tb = random_batch(3, 9, 37, 7);
  views<T> v(tb);
  for (bool use_mask : {true, false}) {
    auto r = use_mask ? prefopt::sequence_logps<B>(v.lv, v.labels, v.mask)
                      : prefopt::sequence_logps<B>(v.lv, v.labels);
    const auto want = naive_sums(tb, use_mask);
    const auto want_count = naive_counts(tb, use_mask);
    const auto sum = host<B>(r.sum), count = host<B>(r.count), mean = host<B>(r.mean);
    for (index_t b = 0; b < tb.batch; ++b) {
      const auto i = static_cast<std::size_t>(b);
      CHECK(sum[i] == Approx(static_cast<double>(want[i])).epsilon(tol));
      CHECK(count[i] == T(want_count[i]));
      CHECK(mean[i] == Approx(static_cast<double>(want[i]) / want_count[i]).epsilon(tol));
    }
    // Positions 0..T-2 predict labels 1..T-1. Sequence 1: label 7 is ignore_index (7 of 8
    // counted without the mask); its mask is 0 up to t = 1, hiding label 1 too (6 of 8).
    CHECK(want_count[1] == (use_mask ? 6 : 7));
    CHECK(B::rows(r.token_logps) == 3);
    CHECK(B::cols(r.token_logps) == 8);
  }
}

TEMPLATE_TEST_CASE("label shift: logit t predicts label t+1, never label t", "[logps]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  // V = 2, T = 3. Logits strongly predict token 1 at t=0 and token 0 at t=1; the last position
  // (t=2) has no label to predict and is huge to catch an off-by-one that reads it.
  std::vector<T> logits{T(-20), T(20), T(20), T(-20), T(1e4), T(-1e4)};
  std::vector<std::int64_t> labels{0, 1, 0};
  auto lv = prefopt::logits_view<const T>::contiguous(logits.data(), 1, 3, 2);
  auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 3);
  auto r = prefopt::sequence_logps<B>(lv, lab);
  const auto sum = host<B>(r.sum);
  // log-softmax of the right class at both positions: -log1p(exp(-40)) each
  CHECK(sum[0] == Approx(-2 * std::log1p(std::exp(-40.0))).margin(1e-12));
  CHECK(host<B>(r.count)[0] == T(2));
  // Without shift: labels at t predicted by logits t, including the huge last row.
  prefopt::sequence_logps_options no_shift;
  no_shift.layout.shift_labels = false;
  auto r2 = prefopt::sequence_logps<B>(lv, lab, no_shift);
  CHECK(host<B>(r2.count)[0] == T(3));
  CHECK(host<B>(r2.sum)[0] == Approx(-40.0 - 40.0 + 0.0).margin(1e-3));
}

TEMPLATE_TEST_CASE("mask is aligned with labels and shifted with them", "[logps]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const auto tb = random_batch(1, 5, 4, 3);
  views<T> v(tb);
  std::vector<std::uint8_t> only_last{0, 0, 0, 0, 1};  // only label 4, predicted by logit 3
  auto m = prefopt::matrix_view<const std::uint8_t>::contiguous(only_last.data(), 1, 5);
  auto r = prefopt::sequence_logps<B>(v.lv, v.labels, m);
  const double* row = &tb.logits[3 * 4];
  double mx = row[0], s = 0;
  for (int k = 1; k < 4; ++k) mx = std::max(mx, row[k]);
  for (int k = 0; k < 4; ++k) s += std::exp(row[k] - mx);
  CHECK(host<B>(r.sum)[0] ==
        Approx(row[tb.labels[4]] - mx - std::log(s)).epsilon(std::is_same_v<T, float> ? 1e-5 : 1e-12));
  CHECK(host<B>(r.count)[0] == T(1));
}

TEST_CASE("sequence_logps backward matches finite differences (double)", "[logps][gradient]") {
  using B = prefopt::eigen::backend<double>;
  auto tb = random_batch(2, 6, 5, 11, 1.0);
  views<double> v(tb);
  auto fwd = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask);
  // L = sum_b (a_b * sum_b + c_b * mean_b) with arbitrary weights
  B::vector_type gs(2), gm(2);
  gs << 0.7, -1.3;
  gm << 2.1, 0.4;
  auto grad = prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, &gm);
  auto objective = [&](const std::vector<double>& logits) {
    auto lv = prefopt::logits_view<const double>::contiguous(logits.data(), 2, 6, 5);
    auto r = prefopt::sequence_logps<B>(lv, v.labels, v.mask);
    return gs.dot(r.sum) + gm.dot(r.mean);
  };
  std::vector<double> x = v.logits;
  const double h = 1e-6;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double up = objective(x);
    x[i] = x0 - h;
    const double down = objective(x);
    x[i] = x0;
    const double fd = (up - down) / (2 * h);
    CHECK(grad(static_cast<index_t>(i) / 5, static_cast<index_t>(i) % 5) ==
          Approx(fd).margin(1e-8));
  }
  // masked positions and the final position get exactly zero gradient
  for (index_t v2 = 0; v2 < 5; ++v2) {
    CHECK(grad(5, v2) == 0.0);         // b = 0, t = T - 1
    CHECK(grad(6 + 0, v2) == 0.0);     // b = 1, t = 0 predicts label 1, masked (prompt)
  }
}

namespace {

/// A host backend without the fused operations (declaring the names hides the inherited mixin
/// members): sequence_logps takes the generic path, as it would for a user's host backend.
template <class B>
struct generic_path_backend : B {
  static void token_logps_forward() = delete;
  static void token_logps_backward() = delete;
};

}  // namespace

static_assert(prefopt::fused_logps_backend<prefopt::eigen::backend<float>>);
static_assert(!prefopt::fused_logps_backend<generic_path_backend<prefopt::eigen::backend<float>>>);

TEMPLATE_TEST_CASE("a host backend without fused operations takes the generic path", "[logps]",
                   PREFOPT_TEST_BACKENDS) {
  using B = generic_path_backend<TestType>;
  using T = typename B::scalar_type;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  const auto tb = random_batch(3, 7, 50, 5);
  views<T> v(tb);
  const auto fwd = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask);
  const auto want = naive_sums(tb, true);
  const auto sum = host<B>(fwd.sum);
  for (std::size_t b = 0; b < want.size(); ++b)
    CHECK(sum[b] == Approx(static_cast<double>(want[b])).epsilon(tol));
  CHECK(host<B>(fwd.count) == std::vector<T>{T(6), T(4), T(4)});
  // Backward against the analytic gradient c_b (1[v = y] - softmax(x)_v) in long double.
  const std::vector<T> cs{T(1), T(-2), T(0.5)};
  const auto gs = B::from_host(std::span<const T>(cs));
  const auto grad = prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, nullptr);
  for (index_t b = 0; b < tb.batch; ++b)
    for (index_t t = 0; t < tb.time; ++t) {
      const auto li = static_cast<std::size_t>(b * tb.time + t + 1);
      const bool counted = t + 1 < tb.time && tb.labels[li] != -100 && tb.mask[li] != 0;
      const double* row = &tb.logits[static_cast<std::size_t>((b * tb.time + t) * tb.vocab)];
      long double m = row[0], z = 0;
      for (index_t k = 1; k < tb.vocab; ++k) m = std::max<long double>(m, row[k]);
      for (index_t k = 0; k < tb.vocab; ++k) z += std::exp(static_cast<long double>(row[k]) - m);
      for (index_t k = 0; k < tb.vocab; ++k) {
        const long double p = std::exp(static_cast<long double>(row[k]) - m) / z;
        const long double g =
            counted ? cs[static_cast<std::size_t>(b)] * ((tb.labels[li] == k ? 1.0L : 0.0L) - p)
                    : 0.0L;
        INFO("b = " << b << ", t = " << t << ", v = " << k);
        CHECK(B::data(grad)[(b * tb.time + t) * tb.vocab + k] ==
              Approx(static_cast<double>(g)).margin(tol));
      }
    }
}

TEST_CASE("results are bit-identical for any thread count", "[logps][threads]") {
  using B = prefopt::eigen::backend<float>;
  const auto tb = random_batch(4, 33, 300, 21);
  views<float> v(tb);
  prefopt::sequence_logps_options one, many;
  one.threads = 1;
  many.threads = 7;
  auto a = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask, one);
  auto b = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask, many);
  // Exact: threads only partition the rows; each row is reduced by one thread in a fixed order.
  CHECK((a.token_logps.array() == b.token_logps.array()).all());
  CHECK((a.sum.array() == b.sum.array()).all());
  B::vector_type gs = B::vector_type::Ones(4);
  auto ga = prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, a, gs, nullptr, one);
  auto gb = prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, a, gs, nullptr, many);
  CHECK((ga.array() == gb.array()).all());
}

TEST_CASE("long float sequences are summed in double", "[logps][precision]") {
  // 100k tokens whose float log-probs are identical: a float running sum would drift by ~1e-3
  // relative; the double accumulator returns n * logp to float rounding of the final value.
  using B = prefopt::eigen::backend<float>;
  const index_t T = 100001, V = 3;
  std::vector<float> logits(static_cast<std::size_t>(T * V));
  for (index_t t = 0; t < T; ++t) {
    logits[static_cast<std::size_t>(t * V)] = 0.1f;
    logits[static_cast<std::size_t>(t * V + 1)] = 0.7f;
    logits[static_cast<std::size_t>(t * V + 2)] = -0.4f;
  }
  std::vector<std::int64_t> labels(static_cast<std::size_t>(T), 1);
  auto r = prefopt::sequence_logps<B>(
      prefopt::logits_view<const float>::contiguous(logits.data(), 1, T, V),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, T));
  const double per_token = static_cast<double>(r.token_logps(0, 0));
  CHECK(static_cast<double>(r.sum[0]) == Approx(per_token * 100000.0).epsilon(1e-7));
}

TEMPLATE_TEST_CASE("extreme logits stay finite", "[logps][extreme]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  std::vector<T> logits{T(1e4), T(-1e4), T(0), T(-1e4), T(1e4), T(1e4)};
  std::vector<std::int64_t> labels{-100, 1, 0};
  auto r = prefopt::sequence_logps<B>(
      prefopt::logits_view<const T>::contiguous(logits.data(), 1, 3, 2),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 3));
  CHECK(host<B>(r.sum)[0] == Approx(-2e4).epsilon(1e-6));  // t=0 predicts 1: -2e4; t=1 predicts 0
  CHECK(std::isfinite(host<B>(r.sum)[0]));
}

TEMPLATE_TEST_CASE("bad input is rejected with prefopt::invalid_argument", "[logps][validation]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const auto tb = random_batch(2, 4, 6, 1);
  views<T> v(tb);
  using Catch::Contains;
  SECTION("label outside [0, V)") {
    auto labels = tb.labels;
    labels[3] = 6;
    auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 4);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(v.lv, lab, v.mask),
                      Contains("labels[0, 3] = 6") && Contains("vocab = 6"));
    labels[3] = -1;
    CHECK_THROWS_AS(prefopt::sequence_logps<B>(v.lv, lab, v.mask), prefopt::invalid_argument);
  }
  SECTION("masked-out labels are not validated (never read)") {
    auto labels = tb.labels;
    labels[0] = 999;  // position 0 is never predicted under shift
    labels[4] = 999;  // b = 1, t = 0: masked prompt
    auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 4);
    CHECK_NOTHROW(prefopt::sequence_logps<B>(v.lv, lab, v.mask));
  }
  SECTION("NaN and +Inf logits") {
    for (T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
      auto logits = v.logits;
      logits[static_cast<std::size_t>((1 * 4 + 2) * 6 + 3)] = bad;  // b=1, t=2 (counted)
      auto lv = prefopt::logits_view<const T>::contiguous(logits.data(), 2, 4, 6);
      CHECK_THROWS_WITH(prefopt::sequence_logps<B>(lv, v.labels, v.mask),
                        Contains("logits[1, 2, :]"));
    }
  }
  SECTION("labels without data") {
    const prefopt::matrix_view<const std::int64_t> no_labels{nullptr, 2, 4, 4};
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(v.lv, no_labels, v.mask),
                      Contains("labels.data"));
  }
  SECTION("shape mismatches") {
    auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(tb.labels.data(), 2, 3);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(v.lv, lab, v.mask),
                      Contains("labels.cols = 3") && Contains("logits.time = 4"));
    auto m = prefopt::matrix_view<const std::uint8_t>::contiguous(tb.mask.data(), 1, 4);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(v.lv, v.labels, m), Contains("mask.rows = 1"));
  }
  SECTION("a sequence with zero completion tokens when a mean is requested") {
    std::vector<std::uint8_t> mask(tb.mask.size(), 1);
    for (int t = 0; t < 4; ++t) mask[4 + t] = 0;
    auto m = prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), 2, 4);
    CHECK_THROWS_WITH(prefopt::sequence_logps<B>(v.lv, v.labels, m),
                      Contains("completion tokens of sequence 1 = 0"));
    prefopt::sequence_logps_options sums_only;
    sums_only.compute_mean = false;
    auto r = prefopt::sequence_logps<B>(v.lv, v.labels, m, sums_only);
    CHECK(host<B>(r.sum)[1] == T(0));
    CHECK(B::size(r.mean) == 0);
  }
  SECTION("backward with a wrong gradient size") {
    auto fwd = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask);
    auto gs = B::zeros(3);
    CHECK_THROWS_WITH(prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, nullptr),
                      Contains("grad_sum.size() = 3"));
  }
}

TEMPLATE_TEST_CASE("backward writes a time-major gradient and rejects overlapping output rows",
                   "[logps][validation]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const auto tb = random_batch(3, 5, 7, 17);
  views<T> v(tb);
  const auto fwd = prefopt::sequence_logps<B>(v.lv, v.labels, v.mask);
  const auto gs = B::from_host(std::vector<T>{T(1), T(-0.5), T(2)});
  const auto want = prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, nullptr);
  // [T, B, V] layout: batch_stride = V, time_stride = B * V.
  std::vector<T> time_major(static_cast<std::size_t>(3 * 5 * 7), T(-999));
  prefopt::logits_view<T> tm{time_major.data(), 3, 5, 7, 7, 3 * 7};
  prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, nullptr, tm);
  // Exact equality on purpose: both calls run the same row kernel on the same logits row, and the
  // CPU row kernels decide how an element is computed by its position in the row, never by the
  // output's address (eigen.hpp, detail::scaled_exp; xtensor.hpp likewise). Eigen's expression
  // evaluation used to peel unaligned leading elements onto scalar std::exp, which made these
  // differ in the last bit on AVX-512 machines.
  for (index_t b = 0; b < 3; ++b)
    for (index_t t = 0; t < 5; ++t)
      for (index_t k = 0; k < 7; ++k)
        CHECK(tm.row(b, t)[k] == B::data(want)[(b * 5 + t) * 7 + k]);
  // Every sequence aliased onto the same rows: a race, not a layout.
  std::vector<T> small(static_cast<std::size_t>(5 * 7));
  prefopt::logits_view<T> aliased{small.data(), 3, 5, 7, 0, 7};
  CHECK_THROWS_WITH(
      prefopt::sequence_logps_backward<B>(v.lv, v.labels, v.mask, fwd, gs, nullptr, aliased),
      Catch::Contains("grad_logits.batch_stride = 0") && Catch::Contains("overlap"));
  // A single position (time = 1): batch_stride = 0 puts both sequences' rows on one row. Seen as
  // time-major it used to pass, because the time-major check ignored batch_stride when time <= 1.
  auto one = random_batch(2, 1, 4, 5);
  one.mask.assign(2, 1);  // random_batch masks position 0 as prompt
  views<T> v1(one);
  prefopt::sequence_logps_options no_shift;
  no_shift.layout.shift_labels = false;
  const auto fwd1 = prefopt::sequence_logps<B>(v1.lv, v1.labels, v1.mask, no_shift);
  const auto gs1 = B::from_host(std::vector<T>{T(1), T(-1)});
  std::vector<T> one_row(4);
  prefopt::logits_view<T> aliased_t1{one_row.data(), 2, 1, 4, 0, 4};
  CHECK_THROWS_WITH(prefopt::sequence_logps_backward<B>(v1.lv, v1.labels, v1.mask, fwd1, gs1,
                                                        nullptr, aliased_t1, no_shift),
                    Catch::Contains("grad_logits.batch_stride = 0") && Catch::Contains("overlap"));
  // The same buffer shape with rows one vocab apart is a valid layout (batch_stride = vocab).
  std::vector<T> two_rows(8);
  prefopt::logits_view<T> separate{two_rows.data(), 2, 1, 4, 4, 4};
  CHECK_NOTHROW(prefopt::sequence_logps_backward<B>(v1.lv, v1.labels, v1.mask, fwd1, gs1, nullptr,
                                                    separate, no_shift));
}

TEMPLATE_TEST_CASE("row primitives validate their matrix view", "[primitives][validation]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  std::vector<T> x{T(1), T(2), T(3), T(4), T(5), T(6)};
  const std::int64_t cols[] = {0, 1};
  using view = prefopt::matrix_view<const T>;
  const view negative_rows{x.data(), -1, 3, 3};
  const view short_stride{x.data(), 2, 3, 2};
  const view null_data{nullptr, 2, 3, 3};
  CHECK_THROWS_WITH(B::row_sum(negative_rows), Catch::Contains("m.rows = -1"));
  CHECK_THROWS_WITH(B::row_max(short_stride), Catch::Contains("m.row_stride = 2"));
  CHECK_THROWS_WITH(B::row_logsumexp(null_data), Catch::Contains("m.data"));
  CHECK_THROWS_WITH(B::gather_cols(view{x.data(), 2, 3, 3}, nullptr), Catch::Contains("cols"));
  CHECK_THROWS_AS(B::gather_cols(short_stride, cols), prefopt::invalid_argument);
  // An empty view is fine and gives an empty result.
  CHECK(B::size(B::row_logsumexp(view{nullptr, 0, 3, 3})) == 0);
  CHECK(B::to_host(B::gather_cols(view{x.data(), 2, 3, 3}, cols)) == std::vector<T>{T(1), T(5)});
}
