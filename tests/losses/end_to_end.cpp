// End to end: logits -> sequence log-probs -> loss -> dL/dlogits, checked against central finite
// differences of the whole chain (double, tiny vocabulary), for losses on sums, means and NLL.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/from_logits.hpp>
#include <prefopt/losses/registry.hpp>
#include <support/random.hpp>

#include "support.hpp"
#include "support/backends.hpp"

namespace {
namespace pl = prefopt::losses;
using B = prefopt::eigen::backend<double>;

template <class T>
struct chain_t {
  static constexpr prefopt::index_t N = 3, Tw = 5, Tl = 4, V = 4;
  std::vector<T> chosen_logits, rejected_logits;
  std::vector<std::int64_t> chosen_labels, rejected_labels;
  std::vector<std::uint8_t> chosen_mask, rejected_mask;
  std::vector<T> ref_chosen{-4.0, -5.5, -3.0}, ref_rejected{-4.5, -3.0, -6.0};
  std::vector<T> kl_policy{-5, -6, -7}, kl_ref{-5.5, -6.2, -6.0};

  explicit chain_t(unsigned seed) {
    prefopt_test::bits_rng rng(seed);
    const auto tok = [&] { return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(V))); };
    for (prefopt::index_t i = 0; i < N * Tw * V; ++i) chosen_logits.push_back(T(1.5 * rng.normal()));
    for (prefopt::index_t i = 0; i < N * Tl * V; ++i) rejected_logits.push_back(T(1.5 * rng.normal()));
    for (prefopt::index_t i = 0; i < N * Tw; ++i) chosen_labels.push_back(tok());
    for (prefopt::index_t i = 0; i < N * Tl; ++i) rejected_labels.push_back(tok());
    // Prompt position 1 is masked out of the completion; one label is ignore_index.
    for (prefopt::index_t i = 0; i < N * Tw; ++i) chosen_mask.push_back(i % Tw == 1 ? 0 : 1);
    for (prefopt::index_t i = 0; i < N * Tl; ++i) rejected_mask.push_back(1);
    rejected_labels[2] = -100;
  }

  template <class Backend = B, class Loss>
  pl::logits_loss_result<Backend> run(const Loss& loss) const {
    pl::preference_logits<T, std::int64_t, std::uint8_t> in;
    in.chosen_logits = prefopt::logits_view<const T>::contiguous(chosen_logits.data(), N, Tw, V);
    in.rejected_logits = prefopt::logits_view<const T>::contiguous(rejected_logits.data(), N, Tl, V);
    in.chosen_labels = prefopt::matrix_view<const std::int64_t>::contiguous(chosen_labels.data(), N, Tw);
    in.rejected_labels = prefopt::matrix_view<const std::int64_t>::contiguous(rejected_labels.data(), N, Tl);
    in.chosen_mask = prefopt::matrix_view<const std::uint8_t>::contiguous(chosen_mask.data(), N, Tw);
    in.rejected_mask = prefopt::matrix_view<const std::uint8_t>::contiguous(rejected_mask.data(), N, Tl);
    in.ref_chosen_logps = ref_chosen;
    in.ref_rejected_logps = ref_rejected;
    in.kl_policy_logps = kl_policy;
    in.kl_ref_logps = kl_ref;
    return pl::preference_loss_from_logits<Backend>(loss, in);
  }
};
using chain = chain_t<double>;

template <class Loss>
void check_chain(const Loss& loss, const std::string& name) {
  chain c(17);
  const auto out = c.run(loss);
  REQUIRE(out.grad_chosen_logits.rows() == chain::N * chain::Tw);
  REQUIRE(out.grad_rejected_logits.rows() == chain::N * chain::Tl);
  const auto check = [&](std::vector<double>& logits, const B::matrix_type& grad) {
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const double x = logits[i], h = 1e-5;
      logits[i] = x + h;
      const double up = c.run(loss).pairs.loss;
      logits[i] = x - h;
      const double down = c.run(loss).pairs.loss;
      logits[i] = x;
      INFO(name << " logit " << i);
      CHECK(losses_test::close(grad.data()[i], (up - down) / (2 * h), 1e-6, 1e-9));
    }
  };
  check(c.chosen_logits, out.grad_chosen_logits);
  check(c.rejected_logits, out.grad_rejected_logits);
}

}  // namespace

TEST_CASE("dL/dlogits equals finite differences through the whole chain", "[losses][end_to_end]") {
  check_chain(pl::sigmoid<double>(0.5, 0.1), "sigmoid");
  check_chain(pl::ipo<double>(0.5), "ipo (token means)");
  check_chain(pl::orpo<double>(0.5), "orpo (means, log1mexp, NLL)");
  check_chain(pl::cpo<double>(0.3, 0.7), "cpo (NLL)");
  check_chain(pl::kto<double>(0.5), "kto");
  check_chain(pl::aot_unpaired<double>(0.5), "aot_unpaired (sorting)");
  check_chain(pl::longpo<double>(0.5, 0.3), "longpo");
}

TEMPLATE_TEST_CASE("the chain's sums and metrics match sequence_logps + preference_loss",
                   "[losses][end_to_end]", PREFOPT_TEST_BACKENDS) {
  using Bk = TestType;
  using T = typename Bk::scalar_type;
  chain_t<T> c(5);
  const pl::sigmoid<T> dpo(T(0.2));
  const auto out = c.template run<Bk>(dpo);
  const auto cw = Bk::to_host(out.chosen.sum), cl = Bk::to_host(out.rejected.sum);
  const auto direct =
      pl::preference_loss<Bk>(dpo, pl::preference_batch<T>{cw, cl, c.ref_chosen, c.ref_rejected});
  CHECK(out.pairs.loss == Approx(direct.loss).epsilon(1e-6));
  // The sums themselves, against a naive log-softmax (logit row p predicts label column p + 1).
  const auto naive_sum = [](const std::vector<T>& logits, const std::vector<std::int64_t>& labels,
                            const std::vector<std::uint8_t>& mask, prefopt::index_t n,
                            prefopt::index_t len) {
    const prefopt::index_t V = chain::V;
    double s = 0;
    for (prefopt::index_t p = 0; p + 1 < len; ++p) {
      const std::int64_t y = labels[static_cast<std::size_t>(n * len + p + 1)];
      if (y == -100 || mask[static_cast<std::size_t>(n * len + p + 1)] == 0) continue;
      const T* row = logits.data() + (n * len + p) * V;
      double z = 0;
      for (prefopt::index_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]));
      s += static_cast<double>(row[y]) - std::log(z);
    }
    return s;
  };
  for (prefopt::index_t n = 0; n < chain::N; ++n) {
    const auto k = static_cast<std::size_t>(n);
    CHECK(cw[k] == Approx(naive_sum(c.chosen_logits, c.chosen_labels, c.chosen_mask, n, chain::Tw))
                       .epsilon(1e-5));
    CHECK(cl[k] == Approx(naive_sum(c.rejected_logits, c.rejected_labels, c.rejected_mask, n, chain::Tl))
                       .epsilon(1e-5));
  }
  CHECK(out.pairs.metrics.logps_chosen == Approx(direct.metrics.logps_chosen).epsilon(1e-6));
  // Counted tokens: the mask removes input position 1 (label column 1 -> predicted position 0).
  CHECK(Bk::to_host(out.chosen.count)[0] == T(chain::Tw - 2));
  CHECK(Bk::to_host(out.rejected.count)[0] == T(chain::Tl - 2));  // ignore_index at column 2
  // dL/dlogits of a sum-reduced DPO loss is c_b (onehot - softmax): each counted row sums to 0.
  const auto& g = out.grad_chosen_logits;
  const T* gd = Bk::data(g);
  for (prefopt::index_t r = 0; r < Bk::rows(g); ++r) {
    double row_sum = 0;
    for (prefopt::index_t v = 0; v < Bk::cols(g); ++v) row_sum += gd[r * Bk::cols(g) + v];
    CHECK(std::abs(row_sum) < 1e-5);
  }
}
