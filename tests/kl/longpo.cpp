// LongPO's short-to-long pieces: per-turn reference sums, NLL label spans, the segment token-KL
// (against a long-double reference of the trainer's loop, gradients by finite differences), and
// the composed per-pair loss.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <prefopt/kl/longpo.hpp>
#include <prefopt/losses/longpo.hpp>
#include <vector>

#include <support/random.hpp>

using prefopt::index_t;

namespace {
long double kl_rows_ld(const double* x, const double* y, index_t V) {
  long double mx = x[0], my = y[0], sx = 0, sy = 0;
  for (index_t v = 1; v < V; ++v) mx = std::max<long double>(mx, x[v]), my = std::max<long double>(my, y[v]);
  for (index_t v = 0; v < V; ++v) sx += std::exp(x[v] - mx), sy += std::exp(y[v] - my);
  long double kl = 0;
  for (index_t v = 0; v < V; ++v) {
    const long double lp = x[v] - mx - std::log(sx), lq = y[v] - my - std::log(sy);
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}
}  // namespace

TEST_CASE("sum_reference_turns sums pair_num consecutive turns", "[kl][longpo]") {
  const std::vector<double> ref{-1.0, -2.5, -0.25, -4.0, -3.0, -0.5};
  REQUIRE(prefopt::kl::sum_reference_turns(std::span<const double>(ref), 3) == std::vector<double>{-3.75, -7.5});
  REQUIRE(prefopt::kl::sum_reference_turns(std::span<const double>(ref), 2) == std::vector<double>{-3.5, -4.25, -3.5});
  REQUIRE(prefopt::kl::sum_reference_turns(std::span<const double>(ref), 1) == ref);
  REQUIRE_THROWS_WITH(prefopt::kl::sum_reference_turns(std::span<const double>(ref), 4),
                      "ref_logps.size() = 6: must be a multiple of pair_num = 4");
  REQUIRE_THROWS_WITH(prefopt::kl::sum_reference_turns(std::span<const double>(ref), 0), "pair_num = 0: must be >= 1");
  const std::vector<double> bad{-1.0, std::numeric_limits<double>::quiet_NaN()};
  REQUIRE_THROWS_WITH(prefopt::kl::sum_reference_turns(std::span<const double>(bad), 2), "ref_logps[1] = nan: must be finite");
}

TEST_CASE("LongPO loss: NLL + lambda * DPO against the summed short-context reference", "[kl][longpo]") {
  // One long sample with 3 turns: reference log-probs of each turn on its short context.
  const std::vector<double> ref_w{-10.0, -12.0, -8.0}, ref_l{-11.0, -13.5, -9.5};
  const auto rw = prefopt::kl::sum_reference_turns(std::span<const double>(ref_w), 3)[0];  // -30
  const auto rl = prefopt::kl::sum_reference_turns(std::span<const double>(ref_l), 3)[0];  // -34
  prefopt::losses::pair_input<double> p;
  p.chosen_logps = -28.0;
  p.rejected_logps = -35.0;
  p.ref_chosen_logps = rw;
  p.ref_rejected_logps = rl;
  p.chosen_nll = 1.25;
  for (double lambda : {0.01, 0.1}) {  // README's lambda, argument.py's default
    const auto r = prefopt::losses::longpo<double>(0.01, lambda)(p);
    // z = beta ((l_w - ref_w) - (l_l - ref_l)) = 0.01 (2 + 1) = 0.03
    REQUIRE(r.loss == Approx(1.25 + lambda * std::log1p(std::exp(-0.03))).epsilon(1e-14));
  }
}

TEST_CASE("longpo_nll_labels: completion labels or the whole chosen sequence", "[kl][longpo]") {
  const std::vector<std::int64_t> ids{5, 6, 7, 8, 0, 0}, labels{-100, -100, 7, 8, -100, -100};
  const std::vector<std::uint8_t> attn{1, 1, 1, 1, 0, 0};
  const auto iv = prefopt::matrix_view<const std::int64_t>::contiguous(ids.data(), 1, 6);
  const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 6);
  const auto av = prefopt::matrix_view<const std::uint8_t>::contiguous(attn.data(), 1, 6);
  REQUIRE(prefopt::kl::longpo_nll_labels(iv, lv, prefopt::kl::nll_span::completion, av) == labels);
  REQUIRE(prefopt::kl::longpo_nll_labels(iv, lv, prefopt::kl::nll_span::whole_sequence, av) ==
          std::vector<std::int64_t>{5, 6, 7, 8, -100, -100});
  // Without an attention mask every position counts, padding included (the release trainer).
  REQUIRE(prefopt::kl::longpo_nll_labels(iv, lv, prefopt::kl::nll_span::whole_sequence,
                                         prefopt::matrix_view<const std::uint8_t>{}) == ids);
  const auto short_labels = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, 5);
  REQUIRE_THROWS_WITH(prefopt::kl::longpo_nll_labels(iv, short_labels, prefopt::kl::nll_span::completion,
                                                     prefopt::matrix_view<const std::uint8_t>{}),
                      "labels.cols = 5: must equal input_ids.cols = 6");
}

TEST_CASE("segment_kl follows LongPO's calculate_kl_divergence, with gradients", "[kl][longpo]") {
  prefopt_test::bits_rng rng(8);
  const index_t V = 4, S1 = 10, S2 = 6;
  std::vector<double> x(S1 * V), y(3 * S2 * V);
  for (auto& v : x) v = 1.5 * rng.normal();
  for (auto& v : y) v = 1.5 * rng.normal();
  // Policy runs: [2, 5) and [7, 9). Reference samples: valid [1, 5) and [0, 3) (a hole at 1).
  std::vector<std::uint8_t> pm{0, 0, 1, 1, 1, 0, 0, 1, 1, 0};
  std::vector<std::uint8_t> rm{0, 1, 1, 1, 1, 0,   //
                               1, 0, 1, 0, 0, 0,   //
                               0, 0, 1, 1, 0, 0};  // third sample (n = 3 only)
  const auto pv = [&] { return prefopt::logits_view<const double>::contiguous(x.data(), 1, S1, V); };
  const auto pmv = prefopt::matrix_view<const std::uint8_t>::contiguous(pm.data(), 1, S1);
  // Oracle: the trainer's loop by hand: run 0 with sample 0 over min(3, 4) = 3 positions, run 1
  // with sample 1 over min(2, 3) = 2 positions; means, summed, divided by n.
  const auto oracle = [&](index_t n) {
    long double seg0 = 0, seg1 = 0;
    for (index_t j = 0; j < 3; ++j) seg0 += kl_rows_ld(&x[(2 + j) * V], &y[(0 * S2 + 1 + j) * V], V);
    for (index_t j = 0; j < 2; ++j) seg1 += kl_rows_ld(&x[(7 + j) * V], &y[(1 * S2 + 0 + j) * V], V);
    return (seg0 / 3 + seg1 / 2) / n;
  };
  for (index_t n : {2, 3}) {
    INFO("n = " << n);
    const auto rv = prefopt::logits_view<const double>::contiguous(y.data(), n, S2, V);
    const auto rmv = prefopt::matrix_view<const std::uint8_t>::contiguous(rm.data(), n, S2);
    std::vector<double> g(x.size(), 5.0);
    const std::vector<double> gk{0.7};
    const auto kl = prefopt::kl::segment_kl(pv(), pmv, rv, rmv, n, std::span<const double>(gk),
                                            prefopt::logits_view<double>::contiguous(g.data(), 1, S1, V));
    REQUIRE(kl[0] == Approx(static_cast<double>(oracle(n))).epsilon(1e-12));
    const double h = 1e-6;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i];
      x[i] = x0 + h;
      const double up = prefopt::kl::segment_kl(pv(), pmv, rv, rmv, n)[0];
      x[i] = x0 - h;
      const double down = prefopt::kl::segment_kl(pv(), pmv, rv, rmv, n)[0];
      x[i] = x0;
      REQUIRE(g[i] == Approx(0.7 * (up - down) / (2 * h)).margin(1e-8));
    }
  }
  // A reference sample without any valid position is an error (the trainer would crash).
  std::fill(rm.begin() + S2, rm.begin() + 2 * S2, std::uint8_t{0});
  REQUIRE_THROWS_WITH(prefopt::kl::segment_kl(pv(), pmv, prefopt::logits_view<const double>::contiguous(y.data(), 2, S2, V),
                                              prefopt::matrix_view<const std::uint8_t>::contiguous(rm.data(), 2, S2), 2),
                      Catch::StartsWith("ref_mask[1, :] = 0: the reference sample has no valid position"));
  REQUIRE_THROWS_WITH(prefopt::kl::segment_kl(pv(), pmv, prefopt::logits_view<const double>::contiguous(y.data(), 3, S2, V),
                                              prefopt::matrix_view<const std::uint8_t>::contiguous(rm.data(), 3, S2), 2),
                      "ref_logits.batch = 3: must equal policy_logits.batch * n = 2");
}
