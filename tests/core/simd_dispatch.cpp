// Runtime instruction-set dispatch (prefopt/detail/simd.hpp): every level this CPU runs (AVX2,
// AVX-512) against the portable path (the backends' own Eigen / xsimd kernels, selected with
// set_isa_cap(portable)) and against references in double: the row kernels on odd lengths (V not
// a multiple of the vector width) and at every alignment, the vectorised exp and log1p on a grid
// of floats, sequence log-probs forward and backward with ragged masks, the DPO batch kernel
// (values, gradients, metrics, thread counts, the error on a bad value), and the token-KL row
// kernels (kl::token_kl, token_kl_backward: every divergence against long-double definitions,
// thread counts and layouts bit for bit, rows with -Inf / NaN through the scalar kernel).
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
#include <prefopt/kl/token_kl.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/preference_loss.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <support/random.hpp>

#include "support/backends.hpp"
#include "support/isa_levels.hpp"

namespace {

using prefopt::index_t;
namespace simd = prefopt::detail::simd;

using prefopt_test::isa_cap;

/// The dispatched levels this CPU runs.
std::vector<simd::isa> levels() {
  const std::vector<simd::isa> out = prefopt_test::cpu_dispatched_levels();
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
      // sum_exp_store: sum_exp's sum bit for bit (the one-pass forward + backward relies on it for
      // a log-sum-exp identical to the forward's), and each stored exp(x - m) within 1 ulp of
      // exp of the float difference; nothing written after [0, c).
      std::vector<float> e(static_cast<std::size_t>(c) + 16, 7.0f);
      REQUIRE(std::bit_cast<std::uint32_t>(k.sum_exp_store(x.data(), c, m, e.data())) ==
              std::bit_cast<std::uint32_t>(got));
      double worst_e = 0;
      for (std::size_t i = 0; i < std::size_t(c); ++i)
        worst_e = std::max(worst_e, ulps(e[i], std::exp(double(x[i] - m))));
      CHECK(worst_e <= 1.02);
      for (std::size_t i = std::size_t(c); i < e.size(); ++i) REQUIRE(e[i] == 7.0f);
      // In place (e == x), as the kernel's contract allows.
      std::vector<float> in_place(x.begin(), x.begin() + c);
      REQUIRE(std::bit_cast<std::uint32_t>(k.sum_exp_store(in_place.data(), c, m, in_place.data())) ==
              std::bit_cast<std::uint32_t>(got));
      for (std::size_t i = 0; i < std::size_t(c); ++i)
        REQUIRE(std::bit_cast<std::uint32_t>(in_place[i]) == std::bit_cast<std::uint32_t>(e[i]));
      // scaled_copy: one float product per element (exact against the scalar product), streamed
      // or not, at every output offset of a 64-byte line; nothing written outside [0, n).
      for (bool stream : {false, true})
        for (int off = 0; off < 17; ++off) {
          std::vector<float> dst(x.size() + 40, 7.0f);
          k.scaled_copy(x.data(), n, -0.375f, dst.data() + off, stream);
          for (std::size_t i = 0; i < x.size(); ++i)
            REQUIRE(std::bit_cast<std::uint32_t>(dst[std::size_t(off) + i]) ==
                    std::bit_cast<std::uint32_t>(x[i] * -0.375f));
          for (int i = 0; i < off; ++i) REQUIRE(dst[std::size_t(i)] == 7.0f);
          for (std::size_t i = std::size_t(off) + x.size(); i < dst.size(); ++i)
            REQUIRE(dst[i] == 7.0f);
        }
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
    // The reusing form into one kept result: bit for bit the allocating form's (the allocating
    // form hands a fresh result to the reusing one, so both run this kernel on the same blocks;
    // a difference would be an output left stale), for 1 and 3 threads, in place once the sizes
    // match, after a rejected batch, and on a smaller batch (buffers replaced).
    pl::preference_loss_result<B> kept;
    const auto same = [](const pl::preference_loss_result<B>& a, const pl::preference_loss_result<B>& b) {
      CHECK(a.loss == b.loss);
      CHECK(a.per_pair.size() == b.per_pair.size());
      CHECK((a.per_pair.array() == b.per_pair.array()).all());
      CHECK((a.grad_chosen.array() == b.grad_chosen.array()).all());
      CHECK((a.grad_rejected.array() == b.grad_rejected.array()).all());
      CHECK(a.grad_nll.size() == b.grad_nll.size());
      CHECK(a.metrics.values() == b.metrics.values());
      CHECK(a.context.kl_baseline == b.context.kl_baseline);
      CHECK(a.context.delta == b.context.delta);
    };
    for (const int threads : {1, 3, 3}) {
      INFO("threads " << threads);
      if (kept.per_pair.size() > 0) {  // poisoned: every value must be written again
        const float nan = std::numeric_limits<float>::quiet_NaN();
        kept.per_pair.setConstant(nan);
        kept.grad_chosen.setConstant(nan);
        kept.grad_rejected.setConstant(nan);
        kept.loss = nan;
        kept.metrics = {nan, nan, nan, nan, nan, nan};
        kept.context = {nan, nan};
      }
      const float* before = kept.per_pair.data();
      pl::preference_loss_options<float> o;
      o.threads = threads;
      pl::preference_loss<B>(loss, batch, kept, o);
      same(kept, out);
      if (before != nullptr) CHECK(kept.per_pair.data() == before);
    }
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, b2, kept), Catch::Contains("ref_rejected_logps[9000]"));
    CHECK_THROWS_WITH(pl::preference_loss<B>(loss, b3, kept),
                      Catch::Contains("rejected_tokens[" + std::to_string(n - 1) + "]"));
    pl::preference_loss<B>(loss, batch, kept, pl::preference_loss_options<float>{});
    same(kept, out);
    const std::size_t m = n - 8200;  // one full block and a partial one
    const pl::preference_batch<float> smaller{std::span<const float>(cw).first(m), std::span<const float>(cl).first(m),
                                              std::span<const float>(rw).first(m), std::span<const float>(rl).first(m),
                                              std::span<const float>(nw).first(m), std::span<const float>(nl).first(m)};
    pl::preference_loss<B>(loss, smaller, kept);
    same(kept, pl::preference_loss<B>(loss, smaller));
    for (std::size_t i = 0; i < m; ++i)
      REQUIRE(kept.per_pair[Eigen::Index(i)] == Approx(want_loss[i]).epsilon(4e-7).margin(1e-7));
  }
}

namespace {

namespace kl = prefopt::kl;
using kl::divergence;

/// One token-KL row pair in long double, from the definitions (kl/divergence.hpp's header), and
/// the error scale of the float kernels. With u = 2^-24, p = softmax(x), q = softmax(y), the
/// centred logits zx = x - max x, zy = y - max y and c0 = log((1 - beta) / beta) (jsd; else 0):
/// every weight exp(zx) of the vector path carries a relative error e_v of at most ~u (1 + |zx|)
/// (1 ulp of exp plus the float rounding of its argument), every log-ratio zx - zy an absolute
/// u (|zx| + |zy|) (float differences; products and block sums of four in float add relative u's
/// of the same terms), and jsd's log p - log m an absolute u (1 + |c0| + |zx| + |zy|) (softplus in
/// float of a float argument). To first order, errors e_v in the weights of p and f_v in those of q move
/// forward KL = sum p lr - log(sum_x / sum_y) by sum_v p_v e_v (lr_v - KL - 1) + sum_v q_v f_v
/// (the normalisers' errors do not cancel, so the error does not shrink with the divergence: an
/// absolute error of order u), and reverse KL symmetrically; hence
///   value_scale = sum_v w_v (p_v (1 + |lp_v - lq_v - KLf|) + q_v (1 + |lq_v - lp_v - KLr|)),
///   w_v = 2 + |zx_v| + |zy_v| + |c0|.
/// Per element, the gradient's float factors p, q and the bracket each carry ~u w_v:
///   grad_scale_v = (w_v + log V) (p_v + q_v + |dD/dx_v| + |dD/dy_v|).
/// The tests require |error| <= 2 u scale (+ u |value| for the value's final rounding to float).
struct kl_reference {
  long double value = 0;
  double value_scale = 0;
  std::vector<long double> gx, gy;  // dD/dx, dD/dy
  std::vector<double> grad_scale;
};

kl_reference kl_row_reference(const float* x, const float* y, index_t n, divergence d, double beta) {
  using ld = long double;
  if (d == divergence::jsd && beta == 0.0) d = divergence::reverse;
  if (d == divergence::jsd && beta == 1.0) d = divergence::forward;
  ld mx = -INFINITY, my = -INFINITY;
  for (index_t v = 0; v < n; ++v) mx = std::max<ld>(mx, x[v]), my = std::max<ld>(my, y[v]);
  ld sx = 0, sy = 0;
  for (index_t v = 0; v < n; ++v) sx += std::exp(ld(x[v]) - mx), sy += std::exp(ld(y[v]) - my);
  std::vector<ld> lp(static_cast<std::size_t>(n)), lq(lp.size()), p(lp.size()), q(lp.size()), lm(lp.size());
  for (std::size_t v = 0; v < lp.size(); ++v) {
    lp[v] = ld(x[v]) - mx - std::log(sx);
    lq[v] = ld(y[v]) - my - std::log(sy);
    p[v] = std::exp(lp[v]);
    q[v] = std::exp(lq[v]);
    if (d == divergence::jsd) lm[v] = std::log((1 - ld(beta)) * p[v] + ld(beta) * q[v]);
  }
  ld klf = 0, klr = 0, kl_pm = 0, kl_qm = 0;
  for (std::size_t v = 0; v < lp.size(); ++v) {
    klf += p[v] * (lp[v] - lq[v]);
    klr += q[v] * (lq[v] - lp[v]);
    if (d == divergence::jsd) kl_pm += p[v] * (lp[v] - lm[v]), kl_qm += q[v] * (lq[v] - lm[v]);
  }
  kl_reference r;
  r.gx.resize(lp.size());
  r.gy.resize(lp.size());
  r.grad_scale.resize(lp.size());
  const double c0 = d == divergence::jsd ? std::fabs(std::log((1 - beta) / beta)) : 0.0;
  const double log_n = std::log(double(n));
  for (std::size_t v = 0; v < lp.size(); ++v) {
    switch (d) {
      case divergence::forward: r.gx[v] = p[v] * (lp[v] - lq[v] - klf), r.gy[v] = q[v] - p[v]; break;
      case divergence::reverse: r.gx[v] = p[v] - q[v], r.gy[v] = q[v] * (lq[v] - lp[v] - klr); break;
      case divergence::jsd:
        r.gx[v] = (1 - ld(beta)) * p[v] * (lp[v] - lm[v] - kl_pm);
        r.gy[v] = ld(beta) * q[v] * (lq[v] - lm[v] - kl_qm);
        break;
    }
    const double w = 2 + std::fabs(double(ld(x[v]) - mx)) + std::fabs(double(ld(y[v]) - my)) + c0;
    r.value_scale += w * double(p[v] * (1 + std::fabs(lp[v] - lq[v] - klf)) + q[v] * (1 + std::fabs(lq[v] - lp[v] - klr)));
    r.grad_scale[v] = (w + log_n) * double(p[v] + q[v] + std::fabs(r.gx[v]) + std::fabs(r.gy[v]));
  }
  r.value = d == divergence::forward ? klf : d == divergence::reverse ? klr : ld(beta) * kl_qm + (1 - ld(beta)) * kl_pm;
  return r;
}

/// A [B, T, V] float pair of logit tensors with rows of different kinds (see below), every label
/// counted except one, so that row r of the views is position p = r % T of sequence r / T.
struct kl_case {
  index_t B = 2, T = 7, V = 3001;  // V odd: the last vector of every row is partial
  std::vector<float> x, y;
  std::vector<std::int64_t> labels;
  kl_case(index_t vocab, std::uint64_t seed) : V(vocab) {
    prefopt_test::bits_rng rng(seed);
    x.resize(static_cast<std::size_t>(B * T * V));
    y.resize(x.size());
    for (index_t r = 0; r < B * T; ++r) {
      float* px = x.data() + r * V;
      float* py = y.data() + r * V;
      for (index_t v = 0; v < V; ++v) {
        const double a = rng.normal(), e = rng.normal();
        switch (r % 6) {
          case 0: px[v] = float(4 * a), py[v] = float(4 * a + e); break;             // related
          case 1: px[v] = float(3 * a), py[v] = float(3 * a + 1e-3 * e); break;      // nearly equal
          case 2: px[v] = float(1000 + 2 * a), py[v] = float(-500 + 2 * a + 0.3 * e); break;  // shifted
          case 3: px[v] = float(20 * a), py[v] = float(18 * a + 2 * e); break;       // peaked
          case 4: px[v] = float(0.5 * a), py[v] = float(2 * e); break;               // unrelated, flat
          default: px[v] = float(4 * a), py[v] = px[v]; break;                       // identical: 0
        }
      }
    }
    labels.assign(static_cast<std::size_t>(B * T), 0);
    labels[3] = -100;  // position 2 of sequence 0 does not count
  }
  prefopt::logits_view<const float> xv(const float* base = nullptr) const {
    return prefopt::logits_view<const float>::contiguous(base ? base : x.data(), B, T, V);
  }
  prefopt::logits_view<const float> yv(const float* base = nullptr) const {
    return prefopt::logits_view<const float>::contiguous(base ? base : y.data(), B, T, V);
  }
  prefopt::matrix_view<const std::int64_t> lv() const {
    return prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), B, T);
  }
};

struct kl_run {
  kl::token_kl_result<float> fwd;
  std::vector<float> gx, gy;
};

kl_run run_token_kl(const kl_case& c, divergence d, double beta, int threads,
                    const float* xb = nullptr, const float* yb = nullptr) {
  kl::token_kl_options o;
  o.direction = d;
  o.beta = beta;
  o.threads = threads;
  kl_run out;
  out.fwd = kl::token_kl(c.xv(xb), c.yv(yb), c.lv(), o);
  out.gx.assign(c.x.size(), -1.0f);
  out.gy.assign(c.x.size(), -1.0f);
  const std::vector<float> gs{1.5f, -0.5f}, gm{0.25f, 2.0f};
  kl::token_kl_backward(c.xv(xb), c.yv(yb), c.lv(), prefopt::matrix_view<const std::uint8_t>{},
                        std::span<const float>(gs), std::span<const float>(gm),
                        prefopt::logits_view<float>::contiguous(out.gx.data(), c.B, c.T, c.V),
                        prefopt::logits_view<float>::contiguous(out.gy.data(), c.B, c.T, c.V), o);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
  return true;
}

}  // namespace

TEST_CASE("token_kl: dispatched float kernels against long-double definitions and the portable path",
          "[simd][kl]") {
  constexpr double u = 0x1.0p-24;
  for (index_t V : {index_t(1), index_t(7), index_t(17), index_t(3001), index_t(1024), index_t(40000)}) {
    const kl_case c(V, 11 + static_cast<std::uint64_t>(V));
    for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, {divergence::reverse, 0.5},
                           {divergence::jsd, 0.5}, {divergence::jsd, 0.1}, {divergence::jsd, 0.9}}) {
      INFO("V = " << V << ", " << kl::to_string(d) << ", beta " << beta);
      kl_run portable;
      {
        isa_cap cap(simd::isa::portable);
        portable = run_token_kl(c, d, beta, 2);
      }
      std::vector<simd::isa> all{simd::isa::portable};
      for (auto l : levels()) all.push_back(l);
      double worst_value = 0, worst_grad = 0;
      for (simd::isa level : all) {
        INFO("level " << simd::isa_name(level));
        isa_cap cap(level);
        const kl_run got = run_token_kl(c, d, beta, 2);
        const double coef[2] = {1.5 + 0.25 / 5, -0.5 + 2.0 / 6};  // c_b = grad_sum + grad_mean / count
        for (index_t b = 0; b < c.B; ++b)
          for (index_t p = 0; p < c.T - 1; ++p) {
            const index_t r = b * c.T + p;
            const bool counted = !(b == 0 && p == 2);
            const float tok = got.fwd.token[static_cast<std::size_t>(b * (c.T - 1) + p)];
            if (!counted) {
              REQUIRE(tok == 0.0f);
              continue;
            }
            const kl_reference ref = kl_row_reference(c.x.data() + r * V, c.y.data() + r * V, V, d, beta);
            const double err = std::fabs(double(tok) - double(ref.value));
            const double tol = 2 * u * ref.value_scale + u * double(ref.value) + 1e-300;
            INFO("row " << r << ": got " << tok << " want " << double(ref.value) << " tol " << tol);
            REQUIRE(err <= tol);
            worst_value = std::max(worst_value, err / tol);
            // Against the portable path: both within the bound of the same exact value.
            const float tp = portable.fwd.token[static_cast<std::size_t>(b * (c.T - 1) + p)];
            REQUIRE(std::fabs(double(tok) - double(tp)) <= 2 * tol);
            for (index_t v = 0; v < V; ++v) {
              const auto i = static_cast<std::size_t>(r * V + v);
              const double gt = std::fabs(coef[b]) * 2 * u * ref.grad_scale[std::size_t(v)] + 1e-37;
              const double ex = std::fabs(double(got.gx[i]) - coef[b] * double(ref.gx[std::size_t(v)]));
              const double ey = std::fabs(double(got.gy[i]) - coef[b] * double(ref.gy[std::size_t(v)]));
              if (!(ex <= gt && ey <= gt)) {
                INFO("token " << v << ": gx " << got.gx[i] << " want " << coef[b] * double(ref.gx[std::size_t(v)])
                              << ", gy " << got.gy[i] << " want " << coef[b] * double(ref.gy[std::size_t(v)])
                              << ", tol " << gt);
                REQUIRE(false);
              }
              worst_grad = std::max(worst_grad, std::max(ex, ey) / gt);
            }
          }
        // Positions that do not count: zero gradients.
        for (index_t v = 0; v < V; ++v) {
          REQUIRE(got.gx[std::size_t(2 * V + v)] == 0.0f);
          REQUIRE(got.gx[std::size_t((c.T - 1) * V + v)] == 0.0f);
        }
        std::printf("token_kl %s V=%lld %s beta=%g: worst error / bound: value %.3f, gradient %.3f\n",
                    simd::isa_name(level), static_cast<long long>(V), kl::to_string(d), beta,
                    worst_value, worst_grad);
        worst_value = worst_grad = 0;
      }
    }
  }
}

TEST_CASE("token_kl: dispatched results depend only on positions (threads, layouts, fallback rows)",
          "[simd][kl]") {
  kl_case c(1037, 77);  // 1037 = one full chunk of 1024 and a partial one of 13
  // Row 7 holds a -Inf in both models (allowed) and so takes the scalar double kernel.
  c.x[std::size_t(7 * c.V + 500)] = -std::numeric_limits<float>::infinity();
  c.y[std::size_t(7 * c.V + 500)] = -std::numeric_limits<float>::infinity();
  for (simd::isa level : levels()) {
    INFO("level " << simd::isa_name(level));
    for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, {divergence::reverse, 0.5}, {divergence::jsd, 0.3}}) {
      INFO(kl::to_string(d));
      kl_run portable;
      {
        isa_cap cap(simd::isa::portable);
        portable = run_token_kl(c, d, beta, 1);
      }
      isa_cap cap(level);
      const kl_run one = run_token_kl(c, d, beta, 1);
      for (int threads : {2, 3, 5}) {
        const kl_run t = run_token_kl(c, d, beta, threads);
        REQUIRE(same_bits(t.fwd.token, one.fwd.token));
        REQUIRE(t.fwd.sum == one.fwd.sum);
        REQUIRE(same_bits(t.gx, one.gx));
        REQUIRE(same_bits(t.gy, one.gy));
      }
      // The same tensors at every float offset of a 64-byte line.
      std::vector<float> bx(c.x.size() + 16), by(c.y.size() + 16);
      for (int off = 1; off < 16; off += 3) {
        std::copy(c.x.begin(), c.x.end(), bx.begin() + off);
        std::copy(c.y.begin(), c.y.end(), by.begin() + 15 - off);
        const kl_run t = run_token_kl(c, d, beta, 2, bx.data() + off, by.data() + 15 - off);
        REQUIRE(same_bits(t.fwd.token, one.fwd.token));
        REQUIRE(same_bits(t.gx, one.gx));
        REQUIRE(same_bits(t.gy, one.gy));
      }
      // The -Inf row ran the scalar kernel: bit-identical to the portable path.
      REQUIRE(one.fwd.token[6] == portable.fwd.token[6]);  // row 7 = sequence 1, position 0
      for (index_t v = 0; v < c.V; ++v) {
        REQUIRE(one.gx[std::size_t(7 * c.V + v)] == portable.gx[std::size_t(7 * c.V + v)]);
        REQUIRE(one.gy[std::size_t(7 * c.V + v)] == portable.gy[std::size_t(7 * c.V + v)]);
      }
      // ... and a vector row does differ from it in the last bits (the vector path did run).
      bool differs = false;
      for (index_t v = 0; v < c.V; ++v) differs = differs || one.gx[std::size_t(v)] != portable.gx[std::size_t(v)];
      CHECK(differs);
    }
    // Rejections: the scalar kernel's messages, lowest row first, under the vector level too.
    isa_cap cap(level);
    kl_case bad = c;
    bad.x[std::size_t(8 * bad.V + 1030)] = std::numeric_limits<float>::quiet_NaN();   // second chunk
    bad.y[std::size_t(9 * bad.V + 3)] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(run_token_kl(bad, divergence::forward, 0.5, 3), Catch::StartsWith("policy_logits[1, 1, 1030] = nan"));
    bad = c;
    bad.y[std::size_t(1 * bad.V + 40)] = -std::numeric_limits<float>::infinity();  // ref forbids, policy not
    CHECK_THROWS_WITH(run_token_kl(bad, divergence::forward, 0.5, 2), Catch::StartsWith("ref_logits[0, 1, 40] = -inf"));
    CHECK_NOTHROW(run_token_kl(bad, divergence::reverse, 0.5, 2));  // fine the other way round
    bad = c;
    std::fill_n(bad.y.begin() + 4 * bad.V, bad.V, -std::numeric_limits<float>::infinity());
    CHECK_THROWS_WITH(run_token_kl(bad, divergence::jsd, 0.5, 2), Catch::Contains("every logit of the row is -Inf"));
  }
}

TEST_CASE("kl_gradient: streamed long rows give the same bits at every output alignment", "[simd][kl]") {
  // Rows of at least simd::gradient_stream_min tokens are written with non-temporal stores after a
  // masked head up to the first aligned element of the first requested gradient. The kernel is
  // element-wise, so the streamed row must equal, bit for bit, the same row written in pieces
  // shorter than the threshold (plain stores), at every offset of either output, and nothing
  // outside [0, n) may be written.
  for (simd::isa level : levels()) {
    INFO("level " << simd::isa_name(level));
    isa_cap cap(level);
    const auto k = simd::kernels_for(level);
    for (index_t n : {index_t(8192), index_t(8195), index_t(9001)}) {
      const auto x = normal_row(n, static_cast<unsigned>(n) + 1), y = normal_row(n, static_cast<unsigned>(n) + 2);
      for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, {divergence::reverse, 0.5}, {divergence::jsd, 0.3}}) {
        INFO("n = " << n << ", " << kl::to_string(d));
        bool vectorised = false;
        const kl::row_stats s = kl::detail::dispatched_row_divergence(x.data(), y.data(), n, d, beta, vectorised);
        REQUIRE(vectorised);
        const simd::kl_row_args a = kl::detail::kl_vector_args(s, d, beta, -1.25);
        std::vector<float> wx(static_cast<std::size_t>(n)), wy(wx.size());
        for (index_t start = 0; start < n; start += 4096) {
          const index_t len = std::min<index_t>(4096, n - start);
          k.kl_gradient(x.data() + start, y.data() + start, len, a, wx.data() + start, wy.data() + start);
        }
        for (int ox = 0; ox < 16; ox += 3)
          for (int oy : {0, 5}) {
            INFO("offsets " << ox << ", " << oy);
            std::vector<float> bx(wx.size() + 32, 7.0f), by(wy.size() + 32, 7.0f);
            for (int which = 0; which < 3; ++which) {  // both, gx only, gy only
              std::fill(bx.begin(), bx.end(), 7.0f);
              std::fill(by.begin(), by.end(), 7.0f);
              float* gx = which != 2 ? bx.data() + 8 + ox : nullptr;
              float* gy = which != 1 ? by.data() + 8 + oy : nullptr;
              k.kl_gradient(x.data(), y.data(), n, a, gx, gy);
              for (std::size_t i = 0; i < bx.size(); ++i) {
                const bool in_x = gx != nullptr && i >= std::size_t(8 + ox) && i < std::size_t(8 + ox) + wx.size();
                const bool in_y = gy != nullptr && i >= std::size_t(8 + oy) && i < std::size_t(8 + oy) + wy.size();
                const float want_x = in_x ? wx[i - std::size_t(8 + ox)] : 7.0f;
                const float want_y = in_y ? wy[i - std::size_t(8 + oy)] : 7.0f;
                if (std::bit_cast<std::uint32_t>(bx[i]) != std::bit_cast<std::uint32_t>(want_x) ||
                    std::bit_cast<std::uint32_t>(by[i]) != std::bit_cast<std::uint32_t>(want_y)) {
                  INFO("which " << which << " element " << i << ": gx " << bx[i] << " want " << want_x << ", gy "
                                << by[i] << " want " << want_y);
                  REQUIRE(false);
                }
              }
            }
          }
      }
    }
  }
}
