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
