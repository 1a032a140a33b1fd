// Runtime instruction-set dispatch (prefopt/detail/simd.hpp): every level this CPU runs (AVX2,
// AVX-512) against the portable path (the backends' own Eigen / xsimd kernels, selected with
// set_isa_cap(portable)) and against references in double: the row kernels on odd lengths (V not
// a multiple of the vector width) and at every alignment, the vectorised exp and log1p on a grid
// of floats, sequence log-probs forward and backward with ragged masks, and the DPO batch kernel
// (values, gradients, metrics, thread counts, the error on a bad value).
//
// Levels the CPU lacks are not run (the portable comparison still is); the test prints which
// levels it checked.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/detail/simd.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/preference_loss.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <support/random.hpp>

#include "support/backends.hpp"

namespace {

using prefopt::index_t;
namespace simd = prefopt::detail::simd;

/// Restores the cap at scope exit.
struct isa_cap {
  simd::isa previous;
  explicit isa_cap(simd::isa level) : previous(simd::set_isa_cap(level)) {}
  ~isa_cap() { simd::set_isa_cap(previous); }
  isa_cap(const isa_cap&) = delete;
  isa_cap& operator=(const isa_cap&) = delete;
};

/// The dispatched levels this CPU runs.
std::vector<simd::isa> levels() {
  std::vector<simd::isa> out;
  for (simd::isa l : {simd::isa::avx2, simd::isa::avx512})
    if (static_cast<int>(l) <= static_cast<int>(simd::cpu_isa()) &&
        simd::kernels_for(l).max != nullptr)
      out.push_back(l);
  static bool printed = false;
  if (!printed) {
    std::printf("simd_dispatch: cpu level %s; dispatched levels checked:", simd::isa_name(simd::cpu_isa()));
    for (auto l : out) std::printf(" %s", simd::isa_name(l));
    std::printf("%s\n", out.empty() ? " none (portable only)" : "");
    printed = true;
  }
  return out;
}

/// Distance in ulps of the float `got` from the exact value `want` (subnormal spacing below
/// FLT_MIN).
double ulps(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(want)) return got == static_cast<float>(want) ? 0 : 1e30;
  const float w = static_cast<float>(std::fabs(want));
  const double spacing = w < std::numeric_limits<float>::min()
                             ? std::numeric_limits<float>::denorm_min()
                             : double(std::nextafter(w, std::numeric_limits<float>::infinity())) - w;
  return std::fabs(double(got) - want) / spacing;
}

// 8195 and 32003 reach scaled_exp's streamed path (rows >= 8192), whose aligned start depends on
// the output address: the offset loop below checks it gives the same bits at every alignment.
const std::vector<index_t> odd_lengths{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 2047, 2048, 2049, 5003, 8195, 32003};

std::vector<float> normal_row(index_t n, unsigned seed, double scale = 4.0) {
  prefopt_test::bits_rng rng(seed);
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = static_cast<float>(scale * rng.normal());
  return x;
}

}  // namespace

TEST_CASE("dispatched exp and log1p are within their documented ulp bounds", "[simd]") {
  for (simd::isa level : levels()) {
    INFO("level " << simd::isa_name(level));
    const auto k = simd::kernels_for(level);
    // Every 4099th float bit pattern in [-103.9, 88.7], both signs.
    std::vector<float> x;
    for (std::uint32_t b = 0; b < 0x42B17200u; b += 4099) x.push_back(std::bit_cast<float>(b));
    for (std::uint32_t b = 0x80000000u; b < 0xC2CF0000u; b += 4099) x.push_back(std::bit_cast<float>(b));
    std::vector<float> y(x.size());
    k.scaled_exp(x.data(), static_cast<index_t>(x.size()), 0.0f, 1.0f, y.data());
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, ulps(y[i], std::exp(double(x[i]))));
    CHECK(worst <= 1.02);
    // Special values.
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> s{-inf, inf, std::nanf(""), -200.0f, 89.0f, 0.0f, -0.0f, 88.72f, -103.97f};
    std::vector<float> e(s.size());
    k.scaled_exp(s.data(), static_cast<index_t>(s.size()), 0.0f, 1.0f, e.data());
    CHECK(e[0] == 0.0f);
    CHECK(e[1] == inf);
    CHECK(std::isnan(e[2]));
    CHECK(e[3] == 0.0f);
    CHECK(e[4] == inf);
    CHECK(e[5] == 1.0f);
    CHECK(e[6] == 1.0f);
    CHECK(ulps(e[7], std::exp(double(88.72f))) <= 1.02);
    CHECK(ulps(e[8], std::exp(double(-103.97f))) <= 1.02);
  }
#if PREFOPT_SIMD_X86
  if (simd::cpu_isa() != simd::isa::portable) {
    // log1p on [0, 1] (the DPO kernel's log(1 + exp(-|z|))).
    std::vector<float> t;
    for (std::uint32_t b = 0; b <= 0x3F800000u; b += 1021) t.push_back(std::bit_cast<float>(b));
    std::vector<float> l(t.size());
    simd::avx2::log1p_unit(t.data(), static_cast<index_t>(t.size()), l.data());
    double worst = 0;
    for (std::size_t i = 0; i < t.size(); ++i) worst = std::max(worst, ulps(l[i], std::log1p(double(t[i]))));
    CHECK(worst <= 1.3);
  }
#endif
}

TEST_CASE("dispatched row kernels agree with the portable ones on odd lengths and any alignment",
          "[simd][logps]") {
  using E = prefopt::eigen::backend<float>;
  for (simd::isa level : levels()) {
    INFO("level " << simd::isa_name(level));
    const auto k = simd::kernels_for(level);
    for (index_t n : odd_lengths) {
      INFO("n = " << n);
      const auto x = normal_row(n, static_cast<unsigned>(n));
      // max: exact (no NaN in the row).
      CHECK(k.max(x.data(), n) == *std::max_element(x.begin(), x.end()));
      const float m = k.max(x.data(), n);
      // sum of exp(x - m) over one chunk, against double and against the portable kernel.
      const index_t c = std::min(n, prefopt::detail::logsumexp_chunk);
      double want = 0;
      for (index_t i = 0; i < c; ++i) want += std::exp(double(x[std::size_t(i)]) - m);
      const float got = k.sum_exp(x.data(), c, m);
      CHECK(got == Approx(want).epsilon(2e-6));
      CHECK(got == Approx(prefopt::eigen::detail::sum_exp_shifted(x.data(), c, m)).epsilon(4e-6));
      // Row log-sum-exp through the Eigen adapter, dispatched vs portable.
      const float lse = E::fused_row_logsumexp(x.data(), n);
      float lse_portable;
      {
        isa_cap cap(simd::isa::portable);
        lse_portable = E::fused_row_logsumexp(x.data(), n);
      }
      CHECK(lse == Approx(lse_portable).epsilon(2e-6).margin(2e-6));
      // scale * exp(x - shift): each element within 2 ulp of the exact scale * exp(z), z the float
      // difference x - shift (the kernel subtracts in float, as the portable kernels do).
      std::vector<float> g(x.size());
      k.scaled_exp(x.data(), n, lse, -0.75f, g.data());
      double worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        worst = std::max(worst, ulps(g[i], -0.75 * std::exp(double(x[i] - lse))));
      CHECK(worst <= 2.0);
      // Position, not address: the same row at every offset of a 64-byte line gives the same bits.
      std::vector<float> buf(x.size() + 32), out(x.size() + 32);
      for (int off = 1; off < 17; ++off) {
        std::copy(x.begin(), x.end(), buf.begin() + off);
        const float* r = buf.data() + off;
        REQUIRE(k.max(r, n) == m);
        REQUIRE(std::bit_cast<std::uint32_t>(k.sum_exp(r, c, m)) == std::bit_cast<std::uint32_t>(got));
        k.scaled_exp(r, n, lse, -0.75f, out.data() + 32 - off);
        for (std::size_t i = 0; i < x.size(); ++i)
          REQUIRE(std::bit_cast<std::uint32_t>(out[std::size_t(32 - off) + i]) == std::bit_cast<std::uint32_t>(g[i]));
      }
      // scaled_exp writes [0, n) and nothing after it.
      std::vector<float> guard(x.size() + 16, 7.0f);
      k.scaled_exp(x.data(), n, lse, 1.0f, guard.data());
      for (std::size_t i = x.size(); i < guard.size(); ++i) REQUIRE(guard[i] == 7.0f);
    }
  }
}

TEST_CASE("sequence_logps: the dispatched path agrees with the portable one (ragged masks, odd V)",
          "[simd][logps]") {
  using B = prefopt::eigen::backend<float>;
  const index_t batch = 3, time = 11, vocab = 3001;  // V odd: the last vector of a row is partial
  prefopt_test::bits_rng rng(5);
  std::vector<float> logits(static_cast<std::size_t>(batch * time * vocab));
  for (auto& v : logits) v = static_cast<float>(3.0 * rng.normal());
  logits[17] = -std::numeric_limits<float>::infinity();  // a forbidden token
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch * time));
  std::vector<std::uint8_t> mask(labels.size());
  for (index_t b = 0; b < batch; ++b)
    for (index_t t = 0; t < time; ++t) {
      const auto i = static_cast<std::size_t>(b * time + t);
      labels[i] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(vocab)));
      mask[i] = (t > 2 * b && t < time - b) ? 1 : 0;  // ragged prompt and padding
      if (t == 5 && b == 1) labels[i] = -100;
    }
  const auto lv = prefopt::logits_view<const float>::contiguous(logits.data(), batch, time, vocab);
  const auto yv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), batch, time);
  const auto mv = prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), batch, time);
  const B::vector_type grad_sum = B::vector_type::Constant(batch, 0.5f);
  const B::vector_type grad_mean = B::vector_type::Constant(batch, -2.0f);
  auto run = [&](simd::isa level) {
    isa_cap cap(level);
    auto fwd = prefopt::sequence_logps<B>(lv, yv, mv);
    auto grad = prefopt::sequence_logps_backward<B>(lv, yv, mv, fwd, grad_sum, &grad_mean);
    return std::pair{fwd, grad};
  };
  const auto [pf, pg] = run(simd::isa::portable);
  for (simd::isa level : levels()) {
    INFO("level " << simd::isa_name(level));
    const auto [f, g] = run(level);
    for (index_t i = 0; i < f.token_logps.size(); ++i) {
      CHECK(f.token_logps(i) == Approx(pf.token_logps(i)).epsilon(2e-6).margin(2e-6));
      CHECK(f.token_lse(i) == Approx(pf.token_lse(i)).epsilon(2e-6).margin(2e-6));
    }
    for (index_t b = 0; b < batch; ++b) {
      CHECK(f.sum(b) == Approx(pf.sum(b)).epsilon(2e-6));
      CHECK(f.count(b) == pf.count(b));
    }
    for (index_t i = 0; i < g.size(); ++i)
      REQUIRE(g.data()[i] == Approx(pg.data()[i]).margin(2e-6 * 2.5));  // |c_b| <= 2.5
    // Threads only partition the rows: bit-identical under the dispatched level too.
    isa_cap cap(level);
    prefopt::sequence_logps_options one, many;
    one.threads = 1;
    many.threads = 3;
    const auto a = prefopt::sequence_logps<B>(lv, yv, mv, one), c = prefopt::sequence_logps<B>(lv, yv, mv, many);
    CHECK((a.token_logps.array() == c.token_logps.array()).all());
    CHECK((a.sum.array() == c.sum.array()).all());
  }
}

TEST_CASE("DPO batch kernel: dispatched and portable agree with the per-pair policy", "[simd][losses]") {
  namespace pl = prefopt::losses;
  using B = prefopt::eigen::backend<float>;
  const std::size_t n = 2 * 8192 + 13;  // three blocks, the last one partial and odd
  prefopt_test::bits_rng rng(9);
  std::vector<float> cw(n), cl(n), rw(n), rl(n), nw(n), nl(n);
  for (std::size_t i = 0; i < n; ++i) {
    nw[i] = float(1 + rng.below(200));
    nl[i] = float(1 + rng.below(200));
    cw[i] = float(-nw[i] * (0.2 + 2 * rng.uniform()));
    cl[i] = float(-nl[i] * (0.2 + 2 * rng.uniform()));
    rw[i] = float(cw[i] + 40 * (rng.uniform() - 0.5));  // |z| up to ~8 with beta = 0.1
    rl[i] = float(cl[i] + 40 * (rng.uniform() - 0.5));
  }
  cw[7] = rw[7];
  cl[7] = rl[7];  // z = 0
  const pl::sigmoid<float> loss(0.1f, 0.1f);
  const pl::preference_batch<float> batch{cw, cl, rw, rl, nw, nl};
  auto run = [&](simd::isa level, int threads, pl::reduction r = pl::reduction::mean) {
    isa_cap cap(level);
    pl::preference_loss_options<float> o;
    o.threads = threads;
    o.reduce = r;
    return pl::preference_loss<B>(loss, batch, o);
  };
  // Reference: the policy per pair, sums in double.
  double total = 0;
  std::vector<float> want_loss(n), want_gc(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto p = loss(pl::pair_input<float>{cw[i], cl[i], rw[i], rl[i]});
    want_loss[i] = p.loss;
    want_gc[i] = p.d_chosen / float(n);
    total += p.loss;
  }
  std::vector<simd::isa> all{simd::isa::portable};
  for (auto l : levels()) all.push_back(l);
  for (simd::isa level : all) {
    INFO("level " << simd::isa_name(level));
    const auto out = run(level, 1);
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(out.per_pair[Eigen::Index(i)] == Approx(want_loss[i]).epsilon(4e-7).margin(1e-7));
      REQUIRE(out.grad_chosen[Eigen::Index(i)] == Approx(want_gc[i]).epsilon(4e-7).margin(1e-12));
      REQUIRE(out.grad_rejected[Eigen::Index(i)] == -out.grad_chosen[Eigen::Index(i)]);
    }
    CHECK(out.loss == Approx(total / double(n)).epsilon(1e-6));
    CHECK(out.grad_nll.size() == 0);
    // Metrics against the generic path's definition (a combination runs the generic driver).
    const auto generic = pl::preference_loss<B>(pl::weighted_sum<pl::sigmoid<float>>({1.0f}, loss), batch);
    const auto mv = out.metrics.values(), gv = generic.metrics.values();
    for (std::size_t j = 0; j < mv.size(); ++j) CHECK(mv[j] == Approx(gv[j]).epsilon(1e-6));
    CHECK(out.loss == Approx(generic.loss).epsilon(1e-6));
    // Thread counts: bit-identical.
    const auto three = run(level, 3);
    CHECK(three.loss == out.loss);
    CHECK((three.per_pair.array() == out.per_pair.array()).all());
    CHECK((three.grad_chosen.array() == out.grad_chosen.array()).all());
    CHECK(three.metrics.values() == out.metrics.values());
    // A bad value: the generic validation's message (lowest index).
    std::vector<float> bad = rl;
    bad[n - 2] = std::numeric_limits<float>::quiet_NaN();
    bad[9000] = std::numeric_limits<float>::infinity();
    pl::preference_batch<float> b2 = batch;
    b2.ref_rejected_logps = bad;
    isa_cap cap(level);
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, b2), Catch::Contains("ref_rejected_logps[9000]"));
    std::vector<float> tokens = nl;
    tokens[n - 1] = 0.0f;
    pl::preference_batch<float> b3 = batch;
    b3.rejected_tokens = tokens;
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, b3), Catch::Contains("rejected_tokens[" + std::to_string(n - 1) + "]"));
  }
}
