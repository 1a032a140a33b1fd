// sequence_logps_with_grad, the one-pass forward + backward: its results are those of
// sequence_logps followed by sequence_logps_backward (the forward's bit for bit on every host
// backend, float, double and 16-bit logits, every row length class of the row kernels; the
// gradient bit for bit or within its rounding bound), its gradient matches the
// analytic gradient written from the definition in long double, every element of the gradient
// buffer is written, and bad input is rejected before the gradient is touched where the separate
// calls would reject it.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <prefopt/core/half.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <span>
#include <support/random.hpp>
#include <vector>

#include "support/backends.hpp"
#include "support/isa_levels.hpp"

namespace {

using prefopt::index_t;
namespace simd = prefopt::detail::simd;

struct token_batch {
  index_t batch, time, vocab;
  std::vector<double> logits;        // [B, T, V]
  std::vector<std::int64_t> labels;  // [B, T]
  std::vector<std::uint8_t> mask;    // [B, T]
};

/// Sequence b has a prompt of b + 1 masked tokens, and every third sequence an ignore_index
/// label inside its completion.
token_batch random_batch(index_t batch, index_t time, index_t vocab, unsigned seed) {
  prefopt_test::bits_rng rng(seed);
  token_batch tb{batch, time, vocab, {}, {}, {}};
  tb.logits.resize(static_cast<std::size_t>(batch * time * vocab));
  for (auto& x : tb.logits) x = 3.0 * rng.normal();
  tb.labels.resize(static_cast<std::size_t>(batch * time));
  tb.mask.resize(tb.labels.size());
  for (index_t b = 0; b < batch; ++b)
    for (index_t t = 0; t < time; ++t) {
      const auto i = static_cast<std::size_t>(b * time + t);
      tb.labels[i] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(vocab)));
      tb.mask[i] = t > b ? 1 : 0;
      if (t == time - 2 && b % 3 == 2) tb.labels[i] = -100;
    }
  return tb;
}

template <class X>
struct inputs {
  std::vector<X> logits;
  prefopt::logits_view<const X> lv;
  prefopt::matrix_view<const std::int64_t> labels;
  prefopt::matrix_view<const std::uint8_t> mask;
  explicit inputs(const token_batch& tb)
      : logits(tb.logits.begin(), tb.logits.end()),
        lv(prefopt::logits_view<const X>::contiguous(logits.data(), tb.batch, tb.time, tb.vocab)),
        labels(prefopt::matrix_view<const std::int64_t>::contiguous(tb.labels.data(), tb.batch,
                                                                     tb.time)),
        mask(prefopt::matrix_view<const std::uint8_t>::contiguous(tb.mask.data(), tb.batch,
                                                                   tb.time)) {}
};

template <class B>
std::vector<typename B::scalar_type> host_matrix(const typename B::matrix_type& m) {
  const auto* p = B::data(m);
  return {p, p + B::rows(m) * B::cols(m)};
}

/// The one-pass call against the two calls. The forward results agree bit for bit: the one-pass
/// row computes its log-sum-exp with the same maxima and the same float sums, merged in the same
/// order (dispatched_row_logsumexp_and_grad), and the label logit and per-sequence sums are read
/// and formed as in the forward. The gradient agrees bit for bit where the one-pass row falls back
/// to the backward's kernel (double, 16-bit rows, the portable level: the same row kernels on the
/// same values and the same coefficient; row kernels depend only on positions within a row, never
/// on addresses or threads). With a dispatched float level it is e_v * fl(-c exp(m_k - lse)) from
/// the forward's exps instead of -c exp(x_v - lse): the bound below is the rounding of the two
/// formulas (x_v - lse and x_v - m_k rounded once each, a 1-ulp exp, two products).
template <class B, class X>
void check_against_two_calls(const token_batch& tb, const prefopt::sequence_logps_options& options,
                             bool with_mean_gradient, bool gradient_bitwise) {
  using T = typename B::scalar_type;
  const inputs<X> in(tb);
  std::vector<T> gs_host(static_cast<std::size_t>(tb.batch)), gm_host(gs_host.size());
  for (std::size_t b = 0; b < gs_host.size(); ++b) {
    gs_host[b] = T(0.75) - T(0.5) * static_cast<T>(b);
    gm_host[b] = T(1.5) + static_cast<T>(b);
  }
  const auto gs = B::from_host(std::span<const T>(gs_host));
  const auto gm = B::from_host(std::span<const T>(gm_host));
  const auto* gm_ptr = with_mean_gradient ? &gm : nullptr;
  const auto size = static_cast<std::size_t>(tb.batch * tb.time * tb.vocab);
  // The one-pass call's buffer starts as garbage: every element must be written.
  std::vector<X> two(size), one(size, X(-7.0f));
  using grad_view = prefopt::logits_view<X>;
  const auto two_view = grad_view::contiguous(two.data(), tb.batch, tb.time, tb.vocab);
  const auto one_view = grad_view::contiguous(one.data(), tb.batch, tb.time, tb.vocab);
  const auto fwd = prefopt::sequence_logps<B>(in.lv, in.labels, in.mask, options);
  prefopt::sequence_logps_backward<B>(in.lv, in.labels, in.mask, fwd, gs, gm_ptr, two_view,
                                      options);
  const auto got = prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, in.mask, gs, gm_ptr,
                                                        one_view, options);
  CHECK(host_matrix<B>(got.token_logps) == host_matrix<B>(fwd.token_logps));
  const auto lse = host_matrix<B>(fwd.token_lse);
  CHECK(host_matrix<B>(got.token_lse) == lse);
  CHECK(B::to_host(got.sum) == B::to_host(fwd.sum));
  const auto count = B::to_host(fwd.count);
  CHECK(B::to_host(got.count) == count);
  CHECK(B::to_host(got.mean) == B::to_host(fwd.mean));
  std::size_t differ = 0, outside = 0;
  const index_t P = options.layout.predicted_positions(tb.time);
  for (index_t b = 0; b < tb.batch; ++b) {
    const auto ub = static_cast<std::size_t>(b);
    const double c = static_cast<double>(gs_host[ub]) +
                     (with_mean_gradient ? static_cast<double>(gm_host[ub]) / count[ub] : 0.0);
    for (index_t t = 0; t < tb.time; ++t)
      for (index_t v = 0; v < tb.vocab; ++v) {
        const auto i = static_cast<std::size_t>((b * tb.time + t) * tb.vocab + v);
        const auto g1 = static_cast<double>(static_cast<float>(one[i]));
        const auto g2 = static_cast<double>(static_cast<float>(two[i]));
        differ += g1 != g2;
        if (gradient_bitwise || g1 == g2) continue;
        // A differing element belongs to a counted row (others are exact zeros in both).
        const double z = static_cast<double>(static_cast<float>(in.logits[i])) -
                         static_cast<double>(lse[static_cast<std::size_t>(b * P + t)]);
        const double bound =
            0x1p-24 * ((2 * std::fabs(z) + 8) * std::fabs(c) * std::exp(z) + 2 * std::fabs(c));
        outside += std::fabs(g1 - g2) > bound;
      }
  }
  if (gradient_bitwise)
    CHECK(differ == 0);
  else
    CHECK(outside == 0);
}

}  // namespace

TEMPLATE_TEST_CASE("sequence_logps_with_grad equals sequence_logps then sequence_logps_backward",
                   "[logps][with_grad]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  // Row lengths: below one vector, an odd length spanning chunks of the log-sum-exp, and one
  // long enough for the streamed gradient stores (simd::gradient_stream_min), none a multiple of
  // the vector width. Every dispatched level this CPU runs, and the portable path.
  std::vector<simd::isa> levels{simd::isa::portable};
  for (simd::isa l : prefopt_test::cpu_dispatched_levels()) levels.push_back(l);
  for (simd::isa level : levels) {
    prefopt_test::isa_cap cap(level);
    const bool bitwise = !std::is_same_v<T, float> || level == simd::isa::portable;
    for (index_t vocab : {index_t{5}, index_t{4133}, index_t{8195}}) {
      const auto tb = random_batch(3, 5, vocab, static_cast<unsigned>(vocab));
      for (int threads : {1, 3}) {
        for (bool shift : {true, false}) {
          for (bool mean_gradient : {false, true}) {
            INFO("level " << simd::isa_name(level) << ", V = " << vocab << ", threads = "
                          << threads << ", shift = " << shift << ", grad_mean = "
                          << mean_gradient);
            prefopt::sequence_logps_options o;
            o.threads = threads;
            o.layout.shift_labels = shift;
            check_against_two_calls<B, T>(tb, o, mean_gradient, bitwise);
          }
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("sequence_logps_with_grad on 16-bit logits equals the two calls",
                   "[logps][with_grad][half]", prefopt::bfloat16, prefopt::float16) {
  using H = TestType;
  for (index_t vocab : {index_t{37}, index_t{8195}}) {
    auto tb = random_batch(2, 6, vocab, 3);
    for (auto& x : tb.logits) x = static_cast<float>(H(static_cast<float>(x)));
    for (int threads : {1, 2}) {
      INFO("V = " << vocab << ", threads = " << threads);
      prefopt::sequence_logps_options o;
      o.threads = threads;
      check_against_two_calls<prefopt::eigen::backend<float>, H>(tb, o, true, true);
#ifdef PREFOPT_HAVE_XTENSOR
      check_against_two_calls<prefopt::xtensor::backend<float>, H>(tb, o, false, true);
#endif
    }
  }
}

TEMPLATE_TEST_CASE("sequence_logps_with_grad: the analytic gradient in long double",
                   "[logps][with_grad][gradient]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  const auto tb = random_batch(3, 7, 61, 9);
  const inputs<T> in(tb);
  // L = sum_b gs_b * sum_b + gm_b * mean_b: dL/dlogits[b, t, v] = c_b (1[v = y] - softmax_v)
  // with c_b = gs_b + gm_b / count_b, at counted positions (label t + 1), zero elsewhere.
  const std::vector<T> gs_host{T(1), T(-2), T(0.5)}, gm_host{T(3), T(0.25), T(-1)};
  const auto gs = B::from_host(std::span<const T>(gs_host));
  const auto gm = B::from_host(std::span<const T>(gm_host));
  std::vector<T> grad(tb.logits.size(), T(123));
  const auto r = prefopt::sequence_logps_with_grad<B>(
      in.lv, in.labels, in.mask, gs, &gm,
      prefopt::logits_view<T>::contiguous(grad.data(), tb.batch, tb.time, tb.vocab));
  const auto sums = B::to_host(r.sum), means = B::to_host(r.mean);
  for (index_t b = 0; b < tb.batch; ++b) {
    auto counted = [&](index_t t) {
      const auto li = static_cast<std::size_t>(b * tb.time + t + 1);
      return t + 1 < tb.time && tb.labels[li] != -100 && tb.mask[li] != 0;
    };
    int count = 0;
    long double sum = 0;
    for (index_t t = 0; t < tb.time; ++t) count += counted(t);
    const long double c = gs_host[static_cast<std::size_t>(b)] +
                          static_cast<long double>(gm_host[static_cast<std::size_t>(b)]) / count;
    for (index_t t = 0; t < tb.time; ++t) {
      const double* row = &tb.logits[static_cast<std::size_t>((b * tb.time + t) * tb.vocab)];
      long double m = row[0], z = 0;
      for (index_t v = 1; v < tb.vocab; ++v) m = std::max<long double>(m, row[v]);
      for (index_t v = 0; v < tb.vocab; ++v) z += std::exp(static_cast<long double>(row[v]) - m);
      const std::int64_t y =
          t + 1 < tb.time ? tb.labels[static_cast<std::size_t>(b * tb.time + t + 1)] : -1;
      if (counted(t)) sum += row[y] - m - std::log(z);
      for (index_t v = 0; v < tb.vocab; ++v) {
        const long double p = std::exp(static_cast<long double>(row[v]) - m) / z;
        const long double want = counted(t) ? c * ((v == y ? 1.0L : 0.0L) - p) : 0.0L;
        INFO("b = " << b << ", t = " << t << ", v = " << v);
        const T got = grad[static_cast<std::size_t>((b * tb.time + t) * tb.vocab + v)];
        CHECK(static_cast<double>(got) ==
              Approx(static_cast<double>(want)).margin(tol * (1 + std::fabs(double(c)))));
      }
    }
    CHECK(sums[static_cast<std::size_t>(b)] == Approx(static_cast<double>(sum)).epsilon(tol * 10));
    CHECK(means[static_cast<std::size_t>(b)] ==
          Approx(static_cast<double>(sum / count)).epsilon(tol * 10));
  }
}

namespace {

/// A host backend without any fused operation: sequence_logps_with_grad runs the generic
/// forward and backward one after the other.
template <class B>
struct two_pass_backend : B {
  static void token_logps_forward() = delete;
  static void token_logps_backward() = delete;
  static void token_logps_forward_backward() = delete;
};

}  // namespace

static_assert(!prefopt::fused_logps_with_grad_backend<
              two_pass_backend<prefopt::eigen::backend<float>>, float>);

TEST_CASE("sequence_logps_with_grad on a backend without the one-pass operation",
          "[logps][with_grad]") {
  using B = two_pass_backend<prefopt::eigen::backend<double>>;
  const auto tb = random_batch(2, 5, 9, 4);
  const inputs<double> in(tb);
  const std::vector<double> gs_host{0.5, -1.0};
  const auto gs = B::from_host(std::span<const double>(gs_host));
  std::vector<double> grad(tb.logits.size(), 9.0);
  const auto r = prefopt::sequence_logps_with_grad<B>(
      in.lv, in.labels, in.mask, gs, nullptr,
      prefopt::logits_view<double>::contiguous(grad.data(), 2, 5, 9));
  // Against the fused Eigen backend's two calls (its own tests check it against the definition).
  using E = prefopt::eigen::backend<double>;
  const auto fwd = prefopt::sequence_logps<E>(in.lv, in.labels, in.mask);
  const auto want = prefopt::sequence_logps_backward<E>(in.lv, in.labels, in.mask, fwd, gs, nullptr);
  for (std::size_t i = 0; i < grad.size(); ++i)
    CHECK(grad[i] == Approx(want.data()[i]).margin(1e-14));
  CHECK(r.sum(0) == Approx(fwd.sum(0)).epsilon(1e-14));
  CHECK(r.mean(1) == Approx(fwd.mean(1)).epsilon(1e-14));
}

TEMPLATE_TEST_CASE("sequence_logps_with_grad rejects bad input", "[logps][with_grad][validation]",
                   PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  using Catch::Contains;
  const auto tb = random_batch(2, 4, 6, 1);
  const inputs<T> in(tb);
  const auto gs = B::from_host(std::vector<T>{T(1), T(1)});
  std::vector<T> grad(tb.logits.size(), T(5));
  const auto gv = prefopt::logits_view<T>::contiguous(grad.data(), 2, 4, 6);
  const auto untouched = [&] {
    for (T g : grad)
      if (g != T(5)) return false;
    return true;
  };
  SECTION("upstream gradients of the wrong size") {
    const auto three = B::zeros(3);
    CHECK_THROWS_WITH(prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, in.mask, three,
                                                           nullptr, gv),
                      Contains("grad_sum.size() = 3"));
    CHECK_THROWS_WITH(prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, in.mask, gs, &three,
                                                           gv),
                      Contains("grad_mean->size() = 3"));
    CHECK(untouched());
  }
  SECTION("a gradient buffer of the wrong shape, or none") {
    const auto short_view = prefopt::logits_view<T>::contiguous(grad.data(), 2, 4, 5);
    CHECK_THROWS_WITH(prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, in.mask, gs, nullptr,
                                                           short_view),
                      Contains("grad_logits.vocab = 5"));
    const prefopt::logits_view<T> none{nullptr, 2, 4, 6, 24, 6};
    CHECK_THROWS_WITH(
        prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, in.mask, gs, nullptr, none),
        Contains("grad_logits.data"));
    CHECK(untouched());
  }
  SECTION("a label outside [0, V)") {
    auto labels = tb.labels;
    labels[3] = 6;
    const auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 4);
    CHECK_THROWS_WITH(
        prefopt::sequence_logps_with_grad<B>(in.lv, lab, in.mask, gs, nullptr, gv),
        Contains("labels[0, 3] = 6") && Contains("vocab = 6"));
    CHECK(untouched());
  }
  SECTION("an empty sequence when a mean is asked for") {
    std::vector<std::uint8_t> mask(tb.mask.size(), 1);
    for (int t = 0; t < 4; ++t) mask[4 + t] = 0;
    const auto m = prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), 2, 4);
    CHECK_THROWS_WITH(prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, m, gs, nullptr, gv),
                      Contains("completion tokens of sequence 1 = 0"));
    prefopt::sequence_logps_options sums_only;
    sums_only.compute_mean = false;
    CHECK_THROWS_WITH(
        prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, m, gs, &gs, gv, sums_only),
        Contains("completion tokens of sequence 1 = 0"));
    CHECK(untouched());
    // Sums only, no mean gradient: an empty sequence is fine, and its rows get zero gradient.
    const auto r = prefopt::sequence_logps_with_grad<B>(in.lv, in.labels, m, gs, nullptr, gv,
                                                        sums_only);
    CHECK(B::to_host(r.sum)[1] == T(0));
    for (index_t i = 4 * 6; i < 8 * 6; ++i) CHECK(grad[static_cast<std::size_t>(i)] == T(0));
  }
  SECTION("NaN and +Inf logits: the forward's error") {
    for (T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
      auto logits = in.logits;
      logits[static_cast<std::size_t>((1 * 4 + 2) * 6 + 3)] = bad;  // b = 1, t = 2 (counted)
      const auto lv = prefopt::logits_view<const T>::contiguous(logits.data(), 2, 4, 6);
      CHECK_THROWS_WITH(
          prefopt::sequence_logps_with_grad<B>(lv, in.labels, in.mask, gs, nullptr, gv),
          Contains("logits[1, 2, :]"));
    }
  }
}
