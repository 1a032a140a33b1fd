// Self-play trainers: tabular SPPO against the exact MWU step (game::sppo_update), convergence on
// rock-paper-scissors and random games, concentration on transitive games, determinism by seed,
// and the validation of the options.

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/selfplay/environments.hpp>
#include <prefopt/selfplay/game_metrics.hpp>
#include <prefopt/selfplay/oracles.hpp>
#include <prefopt/selfplay/tabular_policy.hpp>
#include <prefopt/selfplay/trainer.hpp>

namespace {
namespace sp = prefopt::selfplay;
using B = prefopt::eigen::backend<double>;
}  // namespace

TEST_CASE("tabular SPPO with exact P and full support reproduces game::sppo_update",
          "[selfplay][trainer][mwu]") {
  for (const double beta : {0.5, 2.0}) {
    const auto game = sp::random_game(5, 7);
    const sp::matrix_oracle oracle(game);
    sp::tabular_policy policy({5}, {.kind = sp::optimizer_kind::sgd, .learning_rate = 2.0});
    const std::vector<double> theta0{0.3, -0.2, 0.0, 0.5, -0.4};
    policy.set_logits(0, theta0);
    const int iterations = 4;
    const auto r = sp::train<B>(policy, oracle, 1,
                                {.algorithm = sp::method::sppo, .iterations = iterations, .beta = beta,
                                 .optimizer_steps = 400, .full_support = true,
                                 .exact_log_partition = true});
    // The oracle: hedge with eta = 1/beta, iterated from the same start.
    std::vector<double> pi = sp::tabular_policy({5}).distribution(0);
    {
      sp::tabular_policy p0({5});
      p0.set_logits(0, theta0);
      pi = p0.distribution(0);
    }
    for (int t = 0; t < iterations; ++t) pi = sp::mwu_step<B>(game, pi, 1.0 / beta);
    for (int y = 0; y < 5; ++y) CHECK(r.final_policy[0][y] == Approx(pi[y]).margin(1e-6));
  }
}
