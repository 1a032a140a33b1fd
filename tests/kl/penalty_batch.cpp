// with_kl_penalty through the batch API on every CPU backend: the penalised batch loss and its
// gradients equal the unpenalised ones plus gamma times the estimator's mean and derivatives
// (computed here from the definitions), for a loss on sums (DPO) and one on token means (IPO).
#include <catch2/catch.hpp>

#include <cmath>
#include <prefopt/kl/penalty.hpp>
#include <prefopt/losses/all.hpp>
#include <vector>

#include "support/backends.hpp"

namespace pl = prefopt::losses;

TEMPLATE_TEST_CASE("with_kl_penalty composes with preference_loss<B>", "[kl][penalty]", PREFOPT_TEST_BACKENDS) {
  using B = TestType;
  using T = typename B::scalar_type;
  const std::vector<T> cw{-12.0, -30.5, -7.25, -18.0}, cl{-15.5, -28.0, -9.0, -18.5},
      rw{-12.75, -31.0, -7.0, -17.5}, rl{-14.0, -29.5, -8.0, -19.0}, nw{4, 9, 2, 6}, nl{5, 8, 3, 6};
  const pl::preference_batch<T> batch{cw, cl, rw, rl, nw, nl};
  const T gamma = T(0.2);
  const auto check = [&](const auto& loss) {
    const auto base = pl::preference_loss<B>(loss, batch);
    const prefopt::kl::with_kl_penalty pen(loss, gamma, prefopt::kl::estimator::k3);
    const auto out = pl::preference_loss<B>(pen, batch);
    const auto gw0 = B::to_host(base.grad_chosen), gl0 = B::to_host(base.grad_rejected);
    const auto gw = B::to_host(out.grad_chosen), gl = B::to_host(out.grad_rejected);
    double extra = 0;
    const double n = static_cast<double>(cw.size());
    for (std::size_t i = 0; i < cw.size(); ++i) {
      const double lw = double(rw[i]) - double(cw[i]), ll = double(rl[i]) - double(cl[i]);  // log r
      extra += (std::exp(lw) - 1 - lw) + (std::exp(ll) - 1 - ll);
      // mean reduction: each pair's derivative is divided by N
      REQUIRE(double(gw[i]) == Approx(double(gw0[i]) + gamma * (1 - std::exp(lw)) / n).epsilon(1e-5).margin(1e-7));
      REQUIRE(double(gl[i]) == Approx(double(gl0[i]) + gamma * (1 - std::exp(ll)) / n).epsilon(1e-5).margin(1e-7));
    }
    REQUIRE(double(out.loss) == Approx(double(base.loss) + gamma * extra / n).epsilon(1e-5));
  };
  check(pl::sigmoid<T>(T(0.1)));
  check(pl::ipo<T>(T(0.5)));
}
