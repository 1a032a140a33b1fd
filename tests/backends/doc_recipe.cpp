// The backend of docs/backends.md ("Writing a new backend"), compiled from the page itself: CMake
// extracts the code block between <!-- recipe:begin --> and <!-- recipe:end --> into
// recipe_backend.hpp at configure time. The algorithms run on it without any edit of the
// library, each against an independent reference computed here: a naive long-double log-softmax
// for the sequence log-probs, DPO's closed form for the loss and its gradient, and the analytic
// mixed equilibrium of a 2 x 2 zero-sum game for the solver.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <prefopt/game/solve.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/preference_loss.hpp>
#include <support/random.hpp>

#include "recipe_backend.hpp"

using B = mylib::vector_backend<double>;
using prefopt::index_t;

static_assert(prefopt::host_accessible<B>);
static_assert(!prefopt::fused_logps_backend<B>);  // the recipe takes the generic path

TEST_CASE("the docs/backends.md recipe runs sequence_logps (generic path)", "[backends][recipe]") {
  const index_t batch = 2, time = 5, vocab = 7;
  prefopt_test::bits_rng gen(3);
  std::vector<double> logits(static_cast<std::size_t>(batch * time * vocab));
  for (auto& x : logits) x = 2.0 * gen.normal();
  const std::vector<std::int64_t> labels{3, 0, 6, -100, 2, 1, 1, 5, 4, 0};
  const auto r = prefopt::sequence_logps<B>(
      prefopt::logits_view<const double>::contiguous(logits.data(), batch, time, vocab),
      prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), batch, time));
  for (index_t b = 0; b < batch; ++b) {
    long double want = 0;
    int counted = 0;
    for (index_t t = 0; t + 1 < time; ++t) {
      const auto y = labels[static_cast<std::size_t>(b * time + t + 1)];
      if (y == -100) continue;
      const double* row = &logits[static_cast<std::size_t>((b * time + t) * vocab)];
      long double z = 0;
      for (index_t v = 0; v < vocab; ++v) z += std::exp(static_cast<long double>(row[v]));
      want += row[y] - std::log(z);
      ++counted;
    }
    INFO("sequence " << b);
    CHECK(r.sum[static_cast<std::size_t>(b)] == Approx(static_cast<double>(want)).epsilon(1e-13));
    CHECK(r.count[static_cast<std::size_t>(b)] == counted);
  }
  // The recipe's primitives reject bad arguments like the shipped adapters.
  CHECK_THROWS_AS(B::zeros(-1), prefopt::invalid_argument);
  CHECK_THROWS_AS(B::axpby(1.0, B::zeros(2), 1.0, B::zeros(3)), prefopt::invalid_argument);
}

TEST_CASE("the docs/backends.md recipe runs a DPO loss", "[backends][recipe]") {
  namespace pl = prefopt::losses;
  const std::vector<double> cw{-10.0, -4.0, -7.5}, cl{-11.0, -3.0, -9.0};
  const std::vector<double> rw{-10.5, -4.2, -7.0}, rl{-10.0, -3.5, -9.5};
  pl::preference_batch<double> in;
  in.chosen_logps = cw;
  in.rejected_logps = cl;
  in.ref_chosen_logps = rw;
  in.ref_rejected_logps = rl;
  const double beta = 0.1;
  const auto r = pl::preference_loss<B>(pl::sigmoid<double>(beta), in);
  // DPO: l_i = -log sigmoid(beta m_i), m_i = (cw - rw) - (cl - rl); mean over pairs;
  // dl/dcw_i = -beta sigmoid(-beta m_i) / n.
  long double loss = 0;
  for (std::size_t i = 0; i < cw.size(); ++i) {
    const long double m = (cw[i] - rw[i]) - (cl[i] - rl[i]);
    loss += std::log1p(std::exp(-beta * m));
    const long double g = -beta / (1 + std::exp(beta * m)) / 3;
    CHECK(r.grad_chosen[i] == Approx(static_cast<double>(g)).epsilon(1e-13));
    CHECK(r.grad_rejected[i] == Approx(static_cast<double>(-g)).epsilon(1e-13));
  }
  CHECK(r.loss == Approx(static_cast<double>(loss / 3)).epsilon(1e-13));
}

TEST_CASE("the docs/backends.md recipe runs a Nash solver", "[backends][recipe]") {
  // A = [[2, -1], [-1, 1]]: the row player's equilibrium mix makes both columns pay the same,
  // 2p - (1 - p) = -p + (1 - p) so p = 2/5; by symmetry of A the column mix is also 2/5; value 1/5.
  const prefopt::game::matrix_game<double> g(2, 2, {2.0, -1.0, -1.0, 1.0});
  const auto r = prefopt::game::solve<B>(prefopt::game::optimistic_mwu{.eta = 0.1, .iters = 20000}, g);
  const auto x = B::to_host(r.average.row_strategy), y = B::to_host(r.average.col_strategy);
  CHECK(x[0] == Approx(0.4).margin(2e-3));
  CHECK(y[0] == Approx(0.4).margin(2e-3));
  // Exploitability of the averages from the payoff itself: max_i (A y)_i - min_j (x^T A)_j.
  const double ay0 = 2 * y[0] - y[1], ay1 = -y[0] + y[1];
  const double xa0 = 2 * x[0] - x[1], xa1 = -x[0] + x[1];
  CHECK(std::max(ay0, ay1) - std::min(xa0, xa1) <= 5e-3);
  CHECK(r.average.value == Approx(0.2).margin(2e-3));
}
