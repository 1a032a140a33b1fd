// Exact token divergences: against a long-double reference written from the definitions,
// gradients against central finite differences, -Inf semantics, extreme logits, a 128k
// vocabulary, float against double, thread-count independence, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <prefopt/kl/token_kl.hpp>
#include <string>
#include <vector>

#include <support/random.hpp>

namespace {

using prefopt::index_t;
using prefopt::kl::divergence;
constexpr double inf = std::numeric_limits<double>::infinity();

// ---- the oracle: definitions in long double ---------------------------------------------
std::vector<long double> log_softmax_ld(const double* x, index_t n) {
  long double m = -INFINITY;
  for (index_t v = 0; v < n; ++v) m = std::max<long double>(m, x[v]);
  long double s = 0;
  for (index_t v = 0; v < n; ++v) s += std::exp(static_cast<long double>(x[v]) - m);
  std::vector<long double> out(static_cast<std::size_t>(n));
  for (index_t v = 0; v < n; ++v) out[v] = static_cast<long double>(x[v]) - m - std::log(s);
  return out;
}

/// KL(a || b) = sum a (log a - log b) with 0 log 0 = 0 (also for a weight that underflows
/// long double, e.g. exp(-2e4), whose term is below 1e-8000).
long double kl_ld(const std::vector<long double>& la, const std::vector<long double>& lb) {
  long double s = 0;
  for (std::size_t v = 0; v < la.size(); ++v) {
    const long double w = std::exp(la[v]);
    if (w > 0) s += w * (la[v] - lb[v]);
  }
  return s;
}

/// TRL generalized JSD: beta KL(q || m) + (1 - beta) KL(p || m), m = (1 - beta) p + beta q,
/// with TRL's end points (beta = 0: KL(q || p), beta = 1: KL(p || q)). The mixture is formed
/// from probabilities here, not in log space as in the kernel.
long double divergence_ld(const double* x, const double* y, index_t n, divergence d,
                          long double beta) {
  const auto lp = log_softmax_ld(x, n), lq = log_softmax_ld(y, n);
  if (d == divergence::forward || (d == divergence::jsd && beta == 1)) return kl_ld(lp, lq);
  if (d == divergence::reverse || (d == divergence::jsd && beta == 0)) return kl_ld(lq, lp);
  std::vector<long double> lm(lp.size());
  for (std::size_t v = 0; v < lp.size(); ++v)
    lm[v] = std::log((1 - beta) * std::exp(lp[v]) + beta * std::exp(lq[v]));
  return beta * kl_ld(lq, lm) + (1 - beta) * kl_ld(lp, lm);
}

// ---- a padded token batch with its own strides ------------------------------------------
struct batch {
  index_t B, T, V, stride;       // time stride >= V (padding filled with NaN: never read)
  std::vector<double> policy, ref;
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> mask;
  prefopt::logits_view<const double> pv() const {
    return {policy.data(), B, T, V, T * stride, stride};
  }
  prefopt::logits_view<const double> rv() const { return {ref.data(), B, T, V, T * stride, stride}; }
  prefopt::matrix_view<const std::int64_t> lv() const {
    return prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), B, T);
  }
  prefopt::matrix_view<const std::uint8_t> mv() const {
    return prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), B, T);
  }
  bool counted(index_t b, index_t p) const {
    const auto i = static_cast<std::size_t>(b * T + p + 1);
    return labels[i] != -100 && mask[i] != 0;
  }
};

batch random_batch(index_t B, index_t T, index_t V, std::uint64_t seed, double scale) {
  prefopt_test::bits_rng rng(seed);
  batch tb{B, T, V, V + 3, {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(B * T * tb.stride);
  tb.policy.assign(n, std::numeric_limits<double>::quiet_NaN());
  tb.ref.assign(n, std::numeric_limits<double>::quiet_NaN());
  for (index_t b = 0; b < B; ++b)
    for (index_t t = 0; t < T; ++t)
      for (index_t v = 0; v < V; ++v) {
        const auto i = static_cast<std::size_t>((b * T + t) * tb.stride + v);
        tb.policy[i] = scale * rng.normal();
        tb.ref[i] = tb.policy[i] + 0.7 * scale * rng.normal();  // related, not identical
      }
  tb.labels.resize(static_cast<std::size_t>(B * T));
  tb.mask.resize(tb.labels.size());
  for (index_t b = 0; b < B; ++b)
    for (index_t t = 0; t < T; ++t) {
      const auto i = static_cast<std::size_t>(b * T + t);
      tb.labels[i] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(V)));
      tb.mask[i] = t > b ? 1 : 0;                      // a prompt of b + 1 tokens
      if (t == T - 2 && b % 2 == 1) tb.labels[i] = -100;  // one ignored label in the completion
    }
  return tb;
}

void require_close(double got, long double want, double rel, double abs = 0.0) {
  const double w = static_cast<double>(want);
  INFO("got " << got << " want " << w << " diff " << std::fabs(got - w));
  REQUIRE(std::fabs(got - w) <= rel * std::fabs(w) + abs);
}

prefopt::kl::token_kl_options opts(divergence d, double beta = 0.5, int threads = 0) {
  prefopt::kl::token_kl_options o;
  o.direction = d;
  o.beta = beta;
  o.threads = threads;
  return o;
}

}  // namespace

TEST_CASE("token_kl equals the long-double definition in every direction", "[kl]") {
  const batch tb = random_batch(3, 7, 37, 12, 2.0);
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.5}, std::pair{divergence::jsd, 0.1},
                         std::pair{divergence::jsd, 0.9}}) {
    INFO(prefopt::kl::to_string(d) << " beta " << beta);
    const auto r = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(d, beta));
    REQUIRE(r.positions == tb.T - 1);
    for (index_t b = 0; b < tb.B; ++b) {
      long double sum = 0;
      int n = 0;
      for (index_t p = 0; p < r.positions; ++p) {
        const double got = r.token[static_cast<std::size_t>(b * r.positions + p)];
        if (!tb.counted(b, p)) {
          REQUIRE(got == 0.0);
          continue;
        }
        const auto o = static_cast<std::size_t>((b * tb.T + p) * tb.stride);
        const long double want = divergence_ld(&tb.policy[o], &tb.ref[o], tb.V, d, beta);
        REQUIRE(want > 1e-3L);  // a real divergence, not a trivially zero one
        require_close(got, want, 1e-10);
        sum += want;
        ++n;
      }
      require_close(r.sum[b], sum, 1e-10);
      REQUIRE(r.count[b] == n);
      require_close(r.mean[b], sum / n, 1e-10);
    }
  }
}

TEST_CASE("token_kl: jsd at beta = 0 and 1 is reverse and forward KL (TRL's end points)", "[kl]") {
  const batch tb = random_batch(2, 5, 11, 3, 1.5);
  const auto fwd = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::forward));
  const auto rev = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::reverse));
  const auto j1 = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::jsd, 1.0));
  const auto j0 = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::jsd, 0.0));
  REQUIRE(j1.token == fwd.token);
  REQUIRE(j0.token == rev.token);
  REQUIRE(fwd.token != rev.token);
  // Interior JSD is bounded by the entropy-free bound -log(max(beta, 1 - beta)) per token.
  const auto jh = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::jsd, 0.5));
  for (double v : jh.token) REQUIRE(v <= std::log(2.0) + 1e-15);
}

TEST_CASE("token_kl: no mask counts every label that is not ignore_index", "[kl]") {
  batch tb = random_batch(2, 6, 9, 5, 1.0);
  const auto with = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), opts(divergence::forward));
  std::fill(tb.mask.begin(), tb.mask.end(), std::uint8_t{1});
  const auto all_ones = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::forward));
  REQUIRE(with.token == all_ones.token);
  REQUIRE(with.count[0] == 5);  // T - 1 positions, nothing ignored in sequence 0
  REQUIRE(with.count[1] == 4);  // one ignore_index label
}

TEST_CASE("token_kl_backward equals central finite differences", "[kl][gradient]") {
  batch tb = random_batch(2, 4, 6, 21, 1.5);
  const std::vector<double> gs{0.7, -1.3}, gm{0.4, 2.5};
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.3}}) {
    INFO(prefopt::kl::to_string(d));
    const auto o = opts(d, beta);
    const auto n = tb.policy.size();
    std::vector<double> gp(n, -7.0), gr(n, -7.0);  // every element must be written
    const prefopt::logits_view<double> gpv{gp.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
    const prefopt::logits_view<double> grv{gr.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
    prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs),
                                   std::span<const double>(gm), gpv, grv, o);
    const auto loss = [&] {
      const auto r = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), o);
      long double l = 0;
      for (index_t b = 0; b < tb.B; ++b) l += gs[b] * (long double)r.sum[b] + gm[b] * (long double)r.mean[b];
      return l;
    };
    const double h = 1e-5;
    double max_abs = 0;
    for (std::vector<double>* logits : {&tb.policy, &tb.ref}) {
      const std::vector<double>& g = logits == &tb.policy ? gp : gr;
      for (index_t b = 0; b < tb.B; ++b)
        for (index_t t = 0; t < tb.T; ++t)
          for (index_t v = 0; v < tb.V; ++v) {
            const auto i = static_cast<std::size_t>((b * tb.T + t) * tb.stride + v);
            const double x0 = (*logits)[i];
            (*logits)[i] = x0 + h;
            const long double up = loss();
            (*logits)[i] = x0 - h;
            const long double down = loss();
            (*logits)[i] = x0;
            const double fd = static_cast<double>((up - down) / (2 * h));
            INFO("b " << b << " t " << t << " v " << v << " analytic " << g[i] << " fd " << fd);
            REQUIRE(std::fabs(g[i] - fd) <= 1e-7 + 1e-6 * std::fabs(fd));
            max_abs = std::max(max_abs, std::fabs(g[i]));
          }
    }
    REQUIRE(max_abs > 1e-2);  // the check compared real gradients
    // Rows that do not count (and the last position) are zero, padding untouched.
    // b = 1, t = 0 does not count (a prompt of 2 tokens); t = T - 1 predicts nothing.
    for (index_t v = 0; v < tb.V; ++v) {
      REQUIRE(gp[static_cast<std::size_t>((1 * tb.T + 0) * tb.stride + v)] == 0.0);
      REQUIRE(gr[static_cast<std::size_t>((0 * tb.T + tb.T - 1) * tb.stride + v)] == 0.0);
    }
    REQUIRE(gp[static_cast<std::size_t>(tb.V)] == -7.0);
  }
}

TEST_CASE("token_kl: shift invariance and extreme logits", "[kl]") {
  prefopt_test::bits_rng rng(77);
  const index_t V = 50;
  std::vector<double> x(static_cast<std::size_t>(4 * V)), y(x.size());
  for (index_t v = 0; v < 2 * V; ++v) {
    x[v] = rng.uniform(-1e4, 1e4);  // rows 0, 1: independent extreme logits
    y[v] = rng.uniform(-1e4, 1e4);
    x[2 * V + v] = rng.normal();  // rows 2, 3: y = x + 5000 + noise: a tiny KL under a huge shift
    y[2 * V + v] = x[2 * V + v] + 5000.0 + 1e-3 * rng.normal();
  }
  const std::vector<std::int64_t> labels{0, 1, 0, 1};
  const auto pv = prefopt::logits_view<const double>::contiguous(x.data(), 2, 2, V);
  const auto rv = prefopt::logits_view<const double>::contiguous(y.data(), 2, 2, V);
  prefopt::kl::token_kl_options o;
  o.layout.shift_labels = false;
  const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 2, 2);
  // rows (0, 0), (0, 1), (1, 0), (1, 1); layout unshifted, every position counts
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.5}}) {
    o.direction = d;
    o.beta = beta;
    const auto r = prefopt::kl::token_kl(pv, rv, lv, o);
    for (index_t row = 0; row < 4; ++row) {
      const long double want = divergence_ld(&x[row * V], &y[row * V], V, d, beta);
      INFO(prefopt::kl::to_string(d) << " row " << row << " want " << (double)want);
      // 1e-10 relative, with an absolute floor of 1e-15 for the tiny-KL rows: their logits
      // differ by ~5000, whose double ulp (~1e-12) bounds how exactly any double kernel can
      // know the log-ratios; the KL itself (~3e-7) is still right to ~1e-9 relative.
      require_close(r.token[row], want, 1e-10, 1e-15);
      REQUIRE(std::isfinite(r.token[row]));
    }
    REQUIRE(divergence_ld(&x[2 * V], &y[2 * V], V, d, beta) < 1e-5L);  // the tiny-KL row is tiny
  }
}

TEST_CASE("token_kl: -Inf logits", "[kl][validation]") {
  const index_t V = 5;
  std::vector<double> x{0.5, -1.0, 2.0, 0.0, 1.0}, y{1.0, 0.0, -0.5, 0.25, -2.0};
  const std::vector<std::int64_t> labels{0, 2};
  const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 2);
  const auto run = [&](divergence d, double beta = 0.5) {
    // One predicted position: logits at t = 0 predict labels[1]; the second row is never read.
    std::vector<double> xx = x, yy = y;
    xx.resize(2 * V, std::numeric_limits<double>::quiet_NaN());
    yy.resize(2 * V, std::numeric_limits<double>::quiet_NaN());
    return prefopt::kl::token_kl(prefopt::logits_view<const double>::contiguous(xx.data(), 1, 2, V),
                                 prefopt::logits_view<const double>::contiguous(yy.data(), 1, 2, V),
                                 lv, opts(d, beta))
        .token[0];
  };
  SECTION("the same token forbidden by both: the divergence of the other tokens") {
    x[3] = -inf;
    y[3] = -inf;
    const std::vector<double> xr{0.5, -1.0, 2.0, 1.0}, yr{1.0, 0.0, -0.5, -2.0};
    for (auto d : {divergence::forward, divergence::reverse, divergence::jsd})
      require_close(run(d), divergence_ld(xr.data(), yr.data(), 4, d, 0.5), 1e-12);
  }
  SECTION("forbidden by the reference only: forward KL is +Inf and rejected, naming the token") {
    y[1] = -inf;
    REQUIRE_THROWS_MATCHES(run(divergence::forward), prefopt::invalid_argument,
                           Catch::Matchers::Message(
                               "ref_logits[0, 0, 1] = -inf: the reference gives probability 0 to a "
                               "token the policy gives probability > 0 (policy logit -1): "
                               "KL(policy || ref) is +Inf"));
    REQUIRE(std::isfinite(run(divergence::reverse)));  // q_v = 0 only weights: finite
    require_close(run(divergence::reverse), divergence_ld(x.data(), y.data(), V, divergence::reverse, 0), 1e-12);
    require_close(run(divergence::jsd, 0.3), divergence_ld(x.data(), y.data(), V, divergence::jsd, 0.3L), 1e-12);
    REQUIRE_THROWS_AS(run(divergence::jsd, 1.0), prefopt::invalid_argument);  // = forward
  }
  SECTION("forbidden by the policy only: reverse KL is rejected, forward is finite") {
    x[4] = -inf;
    REQUIRE_THROWS_WITH(run(divergence::reverse), Catch::Contains("policy_logits[0, 0, 4] = -inf") &&
                                                      Catch::Contains("KL(ref || policy) is +Inf"));
    require_close(run(divergence::forward), divergence_ld(x.data(), y.data(), V, divergence::forward, 0), 1e-12);
    REQUIRE(std::isfinite(run(divergence::jsd, 0.5)));
  }
  SECTION("NaN, +Inf and all -Inf rows are rejected") {
    x[2] = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_THROWS_WITH(run(divergence::jsd), Catch::StartsWith("policy_logits[0, 0, 2] = nan"));
    x[2] = 2.0;
    y[0] = inf;
    REQUIRE_THROWS_WITH(run(divergence::forward), Catch::StartsWith("ref_logits[0, 0, 0] = inf"));
    y = std::vector<double>(V, -inf);
    REQUIRE_THROWS_WITH(run(divergence::reverse), Catch::Contains("every logit of the row is -Inf"));
  }
}

TEST_CASE("token_kl: a 128k vocabulary row, float against double", "[kl]") {
  const index_t V = 131072;
  prefopt_test::bits_rng rng(128);
  std::vector<float> xf(static_cast<std::size_t>(2 * V)), yf(xf.size());
  for (auto& v : xf) v = static_cast<float>(4.0 * rng.normal());
  for (std::size_t i = 0; i < yf.size(); ++i) yf[i] = xf[i] + static_cast<float>(rng.normal());
  const std::vector<double> xd(xf.begin(), xf.end()), yd(yf.begin(), yf.end());
  const std::vector<std::int64_t> labels{-100, 7};
  const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 2);
  for (auto d : {divergence::forward, divergence::reverse, divergence::jsd}) {
    const auto rd = prefopt::kl::token_kl(prefopt::logits_view<const double>::contiguous(xd.data(), 1, 2, V),
                                          prefopt::logits_view<const double>::contiguous(yd.data(), 1, 2, V),
                                          lv, opts(d, 0.5));
    const auto run_float = [&] {
      return prefopt::kl::token_kl(prefopt::logits_view<const float>::contiguous(xf.data(), 1, 2, V),
                                   prefopt::logits_view<const float>::contiguous(yf.data(), 1, 2, V),
                                   lv, opts(d, 0.5));
    };
    const long double want = divergence_ld(xd.data(), yd.data(), V, d, 0.5L);
    require_close(rd.token[0], want, 1e-10);
    {
      // Without the vector kernels, float inputs are read exactly and reduced in double: the
      // float result is the double one rounded once.
      namespace simd = prefopt::detail::simd;
      const simd::isa previous = simd::set_isa_cap(simd::isa::portable);
      const auto rf = run_float();
      simd::set_isa_cap(previous);
      REQUIRE(rf.token[0] == static_cast<float>(rd.token[0]));
    }
    // The dispatched float kernels (AVX2 / AVX-512 where the CPU has them): exp in float, an
    // absolute error of order 2^-24 (bound and its derivation: tests/core/simd_dispatch.cpp);
    // for this row that bound is about 1e-6.
    const auto rf = run_float();
    require_close(rf.token[0], want, 0.0, 1e-6);
    require_close(rf.sum[0], want, 0.0, 1e-6);
  }
}

TEST_CASE("token_kl: results do not depend on the thread count", "[kl]") {
  const batch tb = random_batch(4, 33, 70, 9, 2.0);
  for (auto d : {divergence::forward, divergence::jsd}) {
    const auto r1 = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(d, 0.5, 1));
    for (int threads : {2, 3, 7}) {
      const auto rt = prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(d, 0.5, threads));
      REQUIRE(rt.token == r1.token);
      REQUIRE(rt.sum == r1.sum);
      REQUIRE(rt.mean == r1.mean);
    }
    const auto n = tb.policy.size();
    std::vector<double> g1(n, 0.0), g3(n, 0.0);
    const std::vector<double> gs(4, 1.0);
    const auto view = [&](std::vector<double>& g) {
      return prefopt::logits_view<double>{g.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
    };
    prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs), {},
                                   view(g1), {}, opts(d, 0.5, 1));
    prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs), {},
                                   view(g3), {}, opts(d, 0.5, 3));
    for (std::size_t i = 0; i < n; ++i) REQUIRE((g1[i] == g3[i] || (std::isnan(g1[i]) && std::isnan(g3[i]))));
  }
}

TEST_CASE("token_kl rejects bad input", "[kl][validation]") {
  batch tb = random_batch(2, 4, 6, 1, 1.0);
  using Catch::Matchers::Message;
  SECTION("vocabularies differ") {
    auto rv = tb.rv();
    rv.vocab = 5;
    REQUIRE_THROWS_MATCHES(prefopt::kl::token_kl(tb.pv(), rv, tb.lv(), tb.mv()), prefopt::invalid_argument,
                           Message("ref_logits.vocab = 5: must equal policy_logits.vocab = 6"));
  }
  SECTION("batch sizes differ") {
    auto rv = tb.rv();
    rv.batch = 1;
    REQUIRE_THROWS_WITH(prefopt::kl::token_kl(tb.pv(), rv, tb.lv(), tb.mv()),
                        Catch::StartsWith("ref_labels.rows = 2: must equal logits.batch = 1"));
  }
  SECTION("a counted label outside the vocabulary") {
    tb.labels[7] = 6;  // b = 1, t = 3: counted (mask 1)
    REQUIRE_THROWS_MATCHES(prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv()), prefopt::invalid_argument,
                           Message("labels[1, 3] = 6: must be in [0, vocab = 6) or equal ignore_index = -100"));
  }
  SECTION("jsd beta outside [0, 1]") {
    for (double beta : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()})
      REQUIRE_THROWS_WITH(prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), opts(divergence::jsd, beta)),
                          Catch::StartsWith("options.beta = "));
  }
  SECTION("a sequence without counted positions and compute_mean") {
    std::fill(tb.mask.begin() + 4, tb.mask.end(), std::uint8_t{0});
    REQUIRE_THROWS_WITH(prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv()),
                        Catch::StartsWith("completion tokens of sequence 1 = 0"));
    auto o = opts(divergence::forward);
    o.compute_mean = false;
    REQUIRE(prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), o).sum[1] == 0.0);
  }
  SECTION("NaN in a row that does not count is never read") {
    // b = 1, t = 0 predicts labels[1, 1], whose mask is 0 (a prompt of 2 tokens)
    tb.policy[static_cast<std::size_t>(1 * tb.T * tb.stride)] = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_NOTHROW(prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv()));
  }
  SECTION("backward: gradient sizes and buffers") {
    const std::vector<double> one(1, 1.0), two(2, 1.0), bad{1.0, std::numeric_limits<double>::infinity()};
    std::vector<double> g(tb.policy.size());
    const prefopt::logits_view<double> gv{g.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
    REQUIRE_THROWS_WITH(prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(),
                                                       std::span<const double>(one), {}, gv, {}),
                        Catch::StartsWith("grad_sum.size() = 1: must equal logits.batch = 2"));
    REQUIRE_THROWS_WITH(prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(),
                                                       std::span<const double>(bad), {}, gv, {}),
                        Catch::StartsWith("grad_sum[1] = inf: must be finite"));
    auto small = gv;
    small.vocab = 5;
    REQUIRE_THROWS_WITH(prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(),
                                                       std::span<const double>(two), {}, small, {}),
                        Catch::StartsWith("grad_policy.vocab = 5: must equal policy_logits.vocab = 6"));
  }
}

// ---- token_kl_with_grad: the fused forward + backward ------------------------------------
namespace {

/// The gradient of D(b, p) with respect to both rows, from the definitions in long double
/// (docs/kl.md's table), with 0 * (-Inf) = 0 for a token of probability 0.
void divergence_gradient_ld(const double* x, const double* y, index_t n, divergence d, long double beta,
                            std::vector<long double>& gx, std::vector<long double>& gy) {
  const auto lp = log_softmax_ld(x, n), lq = log_softmax_ld(y, n);
  gx.assign(lp.size(), 0.0L);
  gy.assign(lp.size(), 0.0L);
  if (d == divergence::jsd && beta == 1) d = divergence::forward;
  if (d == divergence::jsd && beta == 0) d = divergence::reverse;
  const auto term = [](long double w, long double a) { return w == 0 ? 0.0L : w * a; };
  if (d == divergence::forward || d == divergence::reverse) {
    const bool fwd = d == divergence::forward;
    const auto& la = fwd ? lp : lq;  // KL(a || b)
    const auto& lb = fwd ? lq : lp;
    const long double kl = kl_ld(la, lb);
    auto& ga = fwd ? gx : gy;
    auto& gb = fwd ? gy : gx;
    for (std::size_t v = 0; v < lp.size(); ++v) {
      const long double a = std::exp(la[v]), b = std::exp(lb[v]);
      ga[v] = term(a, la[v] - lb[v] - kl);
      gb[v] = b - a;
    }
    return;
  }
  std::vector<long double> lm(lp.size());
  for (std::size_t v = 0; v < lp.size(); ++v)
    lm[v] = std::log((1 - beta) * std::exp(lp[v]) + beta * std::exp(lq[v]));
  const long double kl_pm = kl_ld(lp, lm), kl_qm = kl_ld(lq, lm);
  for (std::size_t v = 0; v < lp.size(); ++v) {
    gx[v] = (1 - beta) * term(std::exp(lp[v]), lp[v] - lm[v] - kl_pm);
    gy[v] = beta * term(std::exp(lq[v]), lq[v] - lm[v] - kl_qm);
  }
}

/// A batch's logits in float or double, same layout (padding NaN as in `batch`).
template <class S>
struct typed_logits {
  std::vector<S> policy, ref;
  explicit typed_logits(const batch& tb)
      : policy(tb.policy.begin(), tb.policy.end()), ref(tb.ref.begin(), tb.ref.end()) {}
  prefopt::logits_view<const S> pv(const batch& tb) const {
    return {policy.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
  }
  prefopt::logits_view<const S> rv(const batch& tb) const {
    return {ref.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
  }
};

template <class S>
prefopt::logits_view<S> grad_view(std::vector<S>& g, const batch& tb) {
  if (g.empty()) return {};
  return {g.data(), tb.B, tb.T, tb.V, tb.T * tb.stride, tb.stride};
}

template <class S>
bool same_values(const std::vector<S>& a, const std::vector<S>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;  // NaN: padding
  return true;
}

/// token_kl followed by token_kl_backward against token_kl_with_grad on the same arguments.
template <class S>
void require_fused_equals_separate(const batch& tb, const typed_logits<S>& lg, divergence d, double beta,
                                   bool want_policy, bool want_ref) {
  const std::vector<S> gs{S(0.7), S(-1.3), S(0.25)}, gm{S(0.4), S(2.5), S(-1.0)};
  const auto n = lg.policy.size();
  auto o = opts(d, beta, 1);
  std::vector<S> gp1(want_policy ? n : 0, S(-7)), gr1(want_ref ? n : 0, S(-7));
  const auto r1 = prefopt::kl::token_kl(lg.pv(tb), lg.rv(tb), tb.lv(), tb.mv(), o);
  prefopt::kl::token_kl_backward(lg.pv(tb), lg.rv(tb), tb.lv(), tb.mv(), std::span<const S>(gs),
                                 std::span<const S>(gm), grad_view(gp1, tb), grad_view(gr1, tb), o);
  for (int threads : {1, 3}) {
    INFO("threads " << threads << " policy " << want_policy << " ref " << want_ref);
    o.threads = threads;
    std::vector<S> gp(want_policy ? n : 0, S(-7)), gr(want_ref ? n : 0, S(-7));
    const auto r = prefopt::kl::token_kl_with_grad(lg.pv(tb), lg.rv(tb), tb.lv(), tb.mv(), std::span<const S>(gs),
                                                   std::span<const S>(gm), grad_view(gp, tb), grad_view(gr, tb), o);
    // Bit for bit, with ==: every counted row runs the same row kernels (dispatched_row_divergence,
    // then dispatched_row_gradient with the same coefficient) in the same order as the two calls,
    // each row on one thread, and the sums are reduced after the join in the same order.
    REQUIRE(r.batch == r1.batch);
    REQUIRE(r.positions == r1.positions);
    REQUIRE(r.token == r1.token);
    REQUIRE(r.sum == r1.sum);
    REQUIRE(r.count == r1.count);
    REQUIRE(r.mean == r1.mean);
    REQUIRE(same_values(gp, gp1));
    REQUIRE(same_values(gr, gr1));
  }
}

}  // namespace

TEST_CASE("token_kl_with_grad is token_kl then token_kl_backward, bit for bit", "[kl][fused]") {
  // Ragged mask (a prompt of b + 1 tokens), an ignored label, padded strides, V = 1031 (not a
  // multiple of any vector width), and one row whose models forbid the same token (-Inf): that
  // row takes the scalar double kernel on the float path, the others the dispatched kernels.
  batch tb = random_batch(3, 9, 1031, 41, 2.0);
  const auto forbid = static_cast<std::size_t>((2 * tb.T + 5) * tb.stride + 17);
  tb.policy[forbid] = -inf;
  tb.ref[forbid] = -inf;
  const typed_logits<double> logits_d(tb);
  const typed_logits<float> logits_f(tb);
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.3}, std::pair{divergence::jsd, 1.0}}) {
    INFO(prefopt::kl::to_string(d) << " beta " << beta);
    for (auto [wp, wr] : {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}}) {
      require_fused_equals_separate(tb, logits_d, d, beta, wp, wr);
      require_fused_equals_separate(tb, logits_f, d, beta, wp, wr);
    }
  }
}

TEST_CASE("token_kl_with_grad equals the long-double definitions (ragged mask, odd V, -Inf rows)",
          "[kl][fused][gradient]") {
  batch tb = random_batch(3, 6, 1031, 57, 1.5);
  // Row (1, 2): both models forbid token 100 (every direction finite). Row (2, 4): the policy
  // alone forbids token 9 (finite for forward KL and jsd only, so set per direction below).
  const auto both = static_cast<std::size_t>((1 * tb.T + 2) * tb.stride + 100);
  const auto policy_only = static_cast<std::size_t>((2 * tb.T + 4) * tb.stride + 9);
  tb.policy[both] = -inf;
  tb.ref[both] = -inf;
  const std::vector<double> gs{0.7, -1.3, 0.25}, gm{0.4, 2.5, -1.0};
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.3}}) {
    INFO(prefopt::kl::to_string(d) << " beta " << beta);
    const double x_keep = tb.policy[policy_only];
    if (d != divergence::reverse) tb.policy[policy_only] = -inf;
    const auto n = tb.policy.size();
    std::vector<double> gp(n, -7.0), gr(n, -7.0);
    const auto r = prefopt::kl::token_kl_with_grad(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs),
                                                   std::span<const double>(gm), grad_view(gp, tb),
                                                   grad_view(gr, tb), opts(d, beta, 2));
    double max_abs = 0;
    for (index_t b = 0; b < tb.B; ++b) {
      long double sum = 0;
      int count = 0;
      for (index_t p = 0; p + 1 < tb.T; ++p) count += tb.counted(b, p);
      const long double c = gs[b] + gm[b] / static_cast<long double>(count);
      for (index_t t = 0; t < tb.T; ++t) {
        const auto o = static_cast<std::size_t>((b * tb.T + t) * tb.stride);
        const bool counted = t + 1 < tb.T && tb.counted(b, t);
        std::vector<long double> wx, wy;
        if (counted) {
          const long double want = divergence_ld(&tb.policy[o], &tb.ref[o], tb.V, d, beta);
          require_close(r.token[static_cast<std::size_t>(b * r.positions + t)], want, 1e-10);
          sum += want;
          divergence_gradient_ld(&tb.policy[o], &tb.ref[o], tb.V, d, beta, wx, wy);
        }
        for (index_t v = 0; v < tb.V; ++v) {
          const long double ex = counted ? c * wx[static_cast<std::size_t>(v)] : 0.0L;
          const long double ey = counted ? c * wy[static_cast<std::size_t>(v)] : 0.0L;
          INFO("b " << b << " t " << t << " v " << v << " gx " << gp[o + v] << " want " << (double)ex
                    << " gy " << gr[o + v] << " want " << (double)ey);
          REQUIRE(std::fabs(gp[o + v] - static_cast<double>(ex)) <= 1e-14 + 1e-9 * std::fabs(static_cast<double>(ex)));
          REQUIRE(std::fabs(gr[o + v] - static_cast<double>(ey)) <= 1e-14 + 1e-9 * std::fabs(static_cast<double>(ey)));
          max_abs = std::max({max_abs, std::fabs(gp[o + v]), std::fabs(gr[o + v])});
        }
        for (index_t v = tb.V; v < tb.stride; ++v) {  // padding untouched
          REQUIRE(gp[o + v] == -7.0);
          REQUIRE(gr[o + v] == -7.0);
        }
      }
      require_close(r.sum[b], sum, 1e-10);
      REQUIRE(r.count[b] == count);
      require_close(r.mean[b], sum / count, 1e-10);
    }
    REQUIRE(max_abs > 1e-2);  // real gradients were compared
    // The forbidden tokens have zero policy gradient (p_v = 0) in forward KL and jsd.
    REQUIRE(gp[both] == 0.0);
    if (d != divergence::reverse) REQUIRE(gp[policy_only] == 0.0);
    tb.policy[policy_only] = x_keep;
  }
}

TEST_CASE("token_kl_with_grad rejects what token_kl and token_kl_backward reject, in the same order",
          "[kl][fused][validation]") {
  batch tb = random_batch(2, 4, 6, 1, 1.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> gs{1.0, -0.5}, gm{};
  prefopt::kl::token_kl_options o = opts(divergence::forward, 0.5, 2);
  prefopt::logits_view<double> gpv, grv;
  std::vector<double> gp(tb.policy.size(), -7.0), gr(tb.ref.size(), -7.0);
  const auto reset = [&] {
    gs = {1.0, -0.5};
    gm.clear();
    o = opts(divergence::forward, 0.5, 2);
    gpv = grad_view(gp, tb);
    grv = grad_view(gr, tb);
  };
  // The message of the first error of the two separate calls, and of the fused one; the fused
  // call must write no gradient element when it rejects its arguments before the pass.
  const auto separate = [&]() -> std::string {
    try {
      (void)prefopt::kl::token_kl(tb.pv(), tb.rv(), tb.lv(), tb.mv(), o);
      std::vector<double> scratch_p(gp.size()), scratch_r(gr.size());
      auto sp = gpv, sr = grv;
      if (sp.data) sp.data = scratch_p.data();
      if (sr.data) sr.data = scratch_r.data();
      prefopt::kl::token_kl_backward(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs),
                                     std::span<const double>(gm), sp, sr, o);
    } catch (const prefopt::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  const auto fused = [&]() -> std::string {
    std::fill(gp.begin(), gp.end(), -7.0);
    std::fill(gr.begin(), gr.end(), -7.0);
    try {
      (void)prefopt::kl::token_kl_with_grad(tb.pv(), tb.rv(), tb.lv(), tb.mv(), std::span<const double>(gs),
                                            std::span<const double>(gm), gpv, grv, o);
    } catch (const prefopt::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  const auto untouched = [&] {
    return std::all_of(gp.begin(), gp.end(), [](double v) { return v == -7.0; }) &&
           std::all_of(gr.begin(), gr.end(), [](double v) { return v == -7.0; });
  };
  const auto require_same = [&](const std::string& prefix, bool before_pass) {
    const std::string want = separate(), got = fused();
    INFO("separate: " << want << "\nfused: " << got);
    REQUIRE(want.rfind(prefix, 0) == 0);  // the expected error, naming the argument and value
    REQUIRE(got == want);
    if (before_pass) REQUIRE(untouched());
  };
  reset();
  REQUIRE(separate().empty());
  REQUIRE(fused().empty());

  SECTION("grad_sum of the wrong size") {
    gs = {1.0};
    require_same("grad_sum.size() = 1: must equal logits.batch = 2", true);
  }
  SECTION("grad_mean of the wrong size") {
    gm = {1.0, 2.0, 3.0};
    require_same("grad_mean.size() = 3: must equal logits.batch = 2", true);
  }
  SECTION("NaN grad_sum, infinite grad_mean") {
    gs[1] = nan;
    require_same("grad_sum[1] = nan: must be finite", true);
    gs[1] = 1.0;
    gm = {std::numeric_limits<double>::infinity(), 1.0};
    require_same("grad_mean[0] = inf: must be finite", true);
  }
  SECTION("gradient buffers of the wrong shape or overlapping rows") {
    gpv.vocab = 5;
    require_same("grad_policy.vocab = 5: must equal policy_logits.vocab = 6", true);
    reset();
    grv.batch_stride = tb.stride;  // sequence 1 would overlap sequence 0
    require_same("grad_ref.batch_stride = ", true);
  }
  SECTION("grad_mean with a sequence that counts nothing (compute_mean off)") {
    std::fill(tb.mask.begin() + 4, tb.mask.end(), std::uint8_t{0});
    o.compute_mean = false;
    gm = {1.0, 1.0};
    require_same("completion tokens of sequence 1 = 0", true);
  }
  SECTION("compute_mean with a sequence that counts nothing") {
    std::fill(tb.mask.begin() + 4, tb.mask.end(), std::uint8_t{0});
    require_same("completion tokens of sequence 1 = 0", false);
  }
  SECTION("input checks: vocabularies, labels, beta") {
    auto rv = tb.rv();
    rv.vocab = 5;
    gpv = {};
    grv = {};
    const std::string fused_vocab = [&]() -> std::string {
      try {
        (void)prefopt::kl::token_kl_with_grad(tb.pv(), rv, tb.lv(), tb.mv(), std::span<const double>(gs), {},
                                              gpv, grv, o);
      } catch (const prefopt::invalid_argument& e) {
        return e.what();
      }
      return "";
    }();
    REQUIRE(fused_vocab == "ref_logits.vocab = 5: must equal policy_logits.vocab = 6");
    reset();
    tb.labels[7] = 6;
    require_same("labels[1, 3] = 6: must be in [0, vocab = 6)", true);
    tb.labels[7] = 0;
    o = opts(divergence::jsd, 1.5, 2);
    require_same("options.beta = 1.5", true);
  }
  SECTION("a NaN logit in a counted row: the row error comes first, before a bad grad_sum") {
    tb.policy[static_cast<std::size_t>((1 * tb.T + 2) * tb.stride + 3)] = nan;  // b = 1, t = 2: counted
    require_same("policy_logits[1, 2, 3] = nan", false);
    gs = {1.0};  // token_kl would have thrown first: the row error, and no gradient written
    require_same("policy_logits[1, 2, 3] = nan", true);
    gs = {1.0, nan};
    require_same("policy_logits[1, 2, 3] = nan", true);
  }
  SECTION("a token only the reference forbids, in forward KL") {
    tb.ref[static_cast<std::size_t>((0 * tb.T + 1) * tb.stride + 4)] = -inf;  // b = 0, t = 1: counted
    require_same("ref_logits[0, 1, 4] = -inf: the reference gives probability 0", false);
  }
}
