#pragma once
// Every loss of the registry, and unpaired KTO, on backend B against the PyTorch autograd
// fixtures of tests/reference/losses_reference.py (the same files tests/losses/fixtures.cpp reads
// on the Eigen backend): per-pair losses, gradients of the reduced loss with respect to
// chosen_logps, rejected_logps and chosen_nll, the reduced loss and the TRL metrics; for unpaired
// KTO the per-example losses and gradients, the KL baseline and the group rewards. Every input
// span lives in B's memory. An absolute reference for every backend suite, next to the
// comparisons with the Eigen backend in algorithm_checks.hpp.
//
// Tolerances: those of tests/losses/fixtures.cpp (double 1e-9 relative; float 2e-3 relative with
// a floor of 2e-4 of the row's scale plus 1e-7, since the float backend rounds the float64
// inputs). Gradient signs are checked wherever the reference is above the floor.
//
// Needs PREFOPT_LOSS_FIXTURE_DIR (tests/backends/CMakeLists.txt).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "algorithm_checks.hpp"
#include "fixture_io.hpp"

namespace prefopt::testing {

namespace fx = fixtures;
namespace pl = prefopt::losses;

/// One CSV file of the loss fixtures (tests/reference/losses/fixtures/).
inline loss_table::csv_table load_loss_fixture(const std::string& file) {
  return fx::load(PREFOPT_LOSS_FIXTURE_DIR, file);
}

template <class T>
struct loss_fixture_tolerance {
  static constexpr bool is_float = std::is_same_v<T, float>;
  static constexpr double rel = is_float ? 2e-3 : 1e-9;
  static constexpr double floor_factor = is_float ? 2e-4 : 1e-13;
  static constexpr double abs = is_float ? 1e-7 : 1e-300;
};

template <class B>
void check_loss_fixtures() {
  using T = typename B::scalar_type;
  using tol = loss_fixture_tolerance<T>;
  const auto cases = fx::rows_of(load_loss_fixture("cases.csv"));
  REQUIRE(cases.size() >= 42);
  std::size_t with_nll = 0, summed = 0;
  for (const auto& c : cases) {
    const std::string name = c.at("case");
    INFO("loss fixture " << name);
    const auto hp_of = [&](const char* k) {
      const auto& v = c.at(k);
      return v.empty() ? std::optional<double>{} : std::optional<double>(std::stod(v));
    };
    const pl::hyper_parameters hp{hp_of("beta"),  hp_of("label_smoothing"), hp_of("gamma"),
                                  hp_of("alpha"), hp_of("lambda"),          hp_of("tau"),
                                  hp_of("desirable_weight"), hp_of("undesirable_weight")};
    const auto loss = pl::make_loss<T>(c.at("loss"), hp);
    const pl::loss_traits tr = pl::traits_of(loss);
    const auto in = fx::numeric_columns(load_loss_fixture(c.at("dataset") + ".csv"));
    const auto typed = [&](const char* k) {
      const auto it = in.find(k);
      return it == in.end() ? std::vector<T>{} : std::vector<T>(it->second.begin(), it->second.end());
    };
    const bool nll_given = tr.has_nll && in.count("chosen_nll") != 0;
    const placed<B, T> cw(typed("chosen_logps")), cl(typed("rejected_logps")),
        rw(typed("ref_chosen_logps")), rl(typed("ref_rejected_logps")),
        nw(typed("chosen_tokens")), nl(typed("rejected_tokens")), pw(typed("chosen_win_rate")),
        pr(typed("rejected_win_rate")), nll(nll_given ? typed("chosen_nll") : std::vector<T>{}),
        kp(typed("kl_policy_logps")), kr(typed("kl_ref_logps"));
    const pl::preference_batch<T> batch{cw.span(), cl.span(), rw.span(), rl.span(),
                                        nw.span(), nl.span(), pw.span(), pr.span(),
                                        nll.span(), kp.span(), kr.span()};
    pl::preference_loss_options<T> options;
    options.reduce = c.at("reduction") == "sum" ? pl::reduction::sum : pl::reduction::mean;
    options.reference_free = c.at("reference_free") == "1";
    summed += options.reduce == pl::reduction::sum;
    const auto out = outcome_of<B>(pl::preference_loss<B>(loss, batch, options));

    const auto expected = fx::numeric_columns(load_loss_fixture(name + ".expected.csv"));
    const auto& el = expected.at("loss");
    const auto& egc = expected.at("grad_chosen");
    const auto& egr = expected.at("grad_rejected");
    REQUIRE(out.per_pair.size() == el.size());
    REQUIRE(out.grad_chosen.size() == el.size());
    REQUIRE(out.grad_rejected.size() == el.size());
    for (std::size_t i = 0; i < el.size(); ++i) {
      INFO("row " << i);
      const double grad_scale = std::max(std::fabs(egc[i]), std::fabs(egr[i]));
      const double loss_floor = tol::floor_factor * std::max(std::fabs(el[i]), grad_scale) + tol::abs;
      const double grad_floor = tol::floor_factor * grad_scale + tol::abs;
      CHECK(fx::close(out.per_pair[i], el[i], tol::rel, loss_floor));
      CHECK(fx::close(out.grad_chosen[i], egc[i], tol::rel, grad_floor));
      CHECK(fx::close(out.grad_rejected[i], egr[i], tol::rel, grad_floor));
      fx::check_sign(out.grad_chosen[i], egc[i], tol::abs);
      fx::check_sign(out.grad_rejected[i], egr[i], tol::abs);
    }
    if (nll_given) {
      ++with_nll;
      const auto egn = fx::numeric_columns(load_loss_fixture(name + ".grad_nll.csv")).at("grad_nll");
      REQUIRE(out.grad_nll.size() == egn.size());
      for (std::size_t i = 0; i < egn.size(); ++i) {
        INFO("grad_nll row " << i);
        CHECK(fx::close(out.grad_nll[i], egn[i], tol::rel, tol::floor_factor * std::fabs(egn[i]) + tol::abs));
        fx::check_sign(out.grad_nll[i], egn[i], tol::abs);
      }
    } else {
      CHECK(out.grad_nll.empty());
    }
    CHECK(fx::close(out.loss, std::stod(c.at("loss_reduced")), tol::rel, tol::abs));
    for (std::size_t k = 0; k < out.metrics.size(); ++k) {
      const std::string metric(pl::preference_metrics<T>::names[k]);
      INFO(metric);
      CHECK(fx::close(out.metrics[k], std::stod(c.at(metric)), tol::rel, tol::abs));
    }
  }
  CHECK(with_nll > 0);  // the fixtures exercise d/d chosen_nll and the sum reduction
  CHECK(summed > 0);
}

template <class B>
void check_kto_unpaired_fixtures() {
  using T = typename B::scalar_type;
  using tol = loss_fixture_tolerance<T>;
  const auto in = fx::numeric_columns(load_loss_fixture("kto_unpaired.csv"));
  const auto kl = fx::numeric_columns(load_loss_fixture("kto_unpaired_kl.csv"));
  const auto typed = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
  std::vector<std::uint8_t> desirable;
  for (const double d : in.at("desirable")) desirable.push_back(d != 0 ? 1 : 0);
  const placed<B, T> policy(typed(in.at("policy_logps"))), ref(typed(in.at("ref_logps"))),
      kp(typed(kl.at("kl_policy_logps"))), kr(typed(kl.at("kl_ref_logps")));
  const placed<B, std::uint8_t> des(desirable);
  const auto cases = fx::rows_of(load_loss_fixture("kto_unpaired_cases.csv"));
  REQUIRE(cases.size() == 2);
  for (const auto& f : cases) {
    const std::string name = f.at("case");
    INFO("kto fixture " << name);
    const pl::kto<T> loss(T(std::stod(f.at("beta"))), T(std::stod(f.at("desirable_weight"))),
                          T(std::stod(f.at("undesirable_weight"))));
    pl::preference_loss_options<T> options;
    options.reduce = f.at("reduction") == "sum" ? pl::reduction::sum : pl::reduction::mean;
    const auto r = pl::kto_loss<B>(loss, {policy.span(), ref.span(), des.span(), kp.span(), kr.span()},
                                   options);
    const auto per_example = host_vector<B>(r.per_example), grad = host_vector<B>(r.grad);
    const auto expected = fx::numeric_columns(load_loss_fixture(name + ".expected.csv"));
    const auto& el = expected.at("loss");
    const auto& eg = expected.at("grad");
    REQUIRE(per_example.size() == el.size());
    REQUIRE(grad.size() == el.size());
    const double floor = tol::abs;
    for (std::size_t i = 0; i < el.size(); ++i) {
      INFO("row " << i);
      CHECK(fx::close(per_example[i], el[i], tol::rel, floor));
      CHECK(fx::close(grad[i], eg[i], tol::rel, floor));
      fx::check_sign(grad[i], eg[i], floor);
    }
    CHECK(fx::close(r.loss, std::stod(f.at("loss_reduced")), tol::rel, tol::abs));
    CHECK(fx::close(r.kl_baseline, std::stod(f.at("kl_baseline")), tol::rel, tol::abs));
    CHECK(fx::close(r.rewards_chosen, std::stod(f.at("rewards_chosen")), tol::rel, tol::abs));
    CHECK(fx::close(r.rewards_rejected, std::stod(f.at("rewards_rejected")), tol::rel, tol::abs));
    CHECK(r.desirable_count == std::stoi(f.at("desirable_count")));
  }
}

}  // namespace prefopt::testing
