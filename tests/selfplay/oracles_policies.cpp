// Preference oracles (matrix, Bradley-Terry, GPM, PairRM-style) against their definitions and
// their input validation; the tabular and log-linear policies' gradients against finite
// differences of the log-probabilities; the optimisers against their update formulas; sampling.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <prefopt/selfplay/environments.hpp>
#include <prefopt/selfplay/loglinear_policy.hpp>
#include <prefopt/selfplay/oracles.hpp>
#include <prefopt/selfplay/sampling.hpp>
#include <prefopt/selfplay/tabular_policy.hpp>

namespace {
namespace sp = prefopt::selfplay;
using prefopt::index_t;
using pair = sp::response_pair<index_t>;

double logistic(double z) { return 1.0 / (1.0 + std::exp(-z)); }

/// A PreferenceOracle that answers 1.5 (invalid), for set_probabilities' range check.
struct broken_oracle {
  using prompt_type = index_t;
  using response_type = index_t;
  std::vector<double> probabilities(index_t, std::span<const pair> pairs) const {
    return std::vector<double>(pairs.size(), 1.5);
  }
};
static_assert(sp::PreferenceOracle<broken_oracle>);

}  // namespace

TEST_CASE("matrix_oracle reads P and validates it", "[selfplay][oracle]") {
  const auto game = sp::random_game(4, 3);
  const sp::matrix_oracle o(game);
  const std::vector<pair> q{{0, 1}, {2, 3}, {3, 2}, {1, 1}};
  const auto p = o.probabilities(0, q);
  CHECK(p[0] == game(0, 1));
  CHECK(p[1] == game(2, 3));
  CHECK(p[1] + p[2] == Approx(1.0).margin(1e-15));
  CHECK(p[3] == 0.5);
  CHECK_THROWS_WITH(o.probabilities(1, q), Catch::Contains("prompt = 1"));
  CHECK_THROWS_WITH(o.probabilities(0, std::vector<pair>{{0, 4}}), Catch::Contains("pair.second = 4"));
  // P + Pᵀ = 1 and [0, 1] are required (preference_matrix's checks).
  CHECK_THROWS_WITH(sp::matrix_oracle(prefopt::prefmodel::preference_matrix<double>(2, {0.5, 0.7, 0.7, 0.5})),
                    Catch::Contains("must equal 1"));
  CHECK_THROWS_WITH(sp::matrix_oracle(prefopt::prefmodel::preference_matrix<double>(2, {0.5, 1.2, -0.2, 0.5})),
                    Catch::Contains("must lie in [0, 1]"));
  CHECK_THROWS_AS(sp::matrix_oracle(std::vector<prefopt::prefmodel::preference_matrix<double>>{}),
                  prefopt::invalid_argument);
}

TEST_CASE("bradley_terry_oracle is sigma(theta_i - theta_j)", "[selfplay][oracle]") {
  const sp::bradley_terry_oracle o({{0.0, 1.5, -2.0}, {3.0, 3.0}});
  const auto p = o.probabilities(0, std::vector<pair>{{1, 2}, {2, 1}, {0, 0}});
  CHECK(p[0] == Approx(logistic(3.5)).epsilon(1e-15));
  CHECK(p[1] == Approx(logistic(-3.5)).epsilon(1e-15));
  CHECK(p[2] == 0.5);
  CHECK(o.probabilities(1, std::vector<pair>{{0, 1}})[0] == 0.5);
  CHECK_THROWS_WITH(sp::bradley_terry_oracle({{0.0, NAN}}), Catch::Contains("theta[0][1] = nan"));
  CHECK_THROWS_WITH(sp::bradley_terry_oracle({{0.0}, {}}), Catch::Contains("theta[1].size()"));
  CHECK_THROWS_WITH(o.probabilities(1, std::vector<pair>{{0, 2}}), Catch::Contains("pair.second = 2"));
}

TEST_CASE("gpm_oracle is sigma(v_i^T R v_j / tau)", "[selfplay][oracle]") {
  // One 2-d block, lambda = 2, tau = 0.5: score(i, j) = 2 (a_1 b_0 - a_0 b_1).
  const std::vector<double> v{1.0, 0.0, -0.5, 0.8, 0.3, -0.9};
  const sp::gpm_oracle o({prefopt::prefmodel::gpm_model<double>(3, 1, v, {2.0}, 0.5)});
  for (index_t i = 0; i < 3; ++i)
    for (index_t j = 0; j < 3; ++j) {
      const double score = 2.0 * (v[2 * i + 1] * v[2 * j] - v[2 * i] * v[2 * j + 1]);
      CHECK(o.probabilities(0, std::vector<pair>{{i, j}})[0] == Approx(logistic(score / 0.5)).epsilon(1e-14));
    }
  const auto full = sp::full_preference_matrix(o, 0, 3);  // validates P + Pᵀ = 1
  CHECK(full(0, 1) + full(1, 0) == Approx(1.0).margin(1e-15));
  CHECK_THROWS_AS(prefopt::prefmodel::gpm_model<double>(3, 1, {1.0, 0.0, NAN, 0, 0, 0}), prefopt::invalid_argument);
}

TEST_CASE("pairrm_oracle aggregates a non-antisymmetric comparator as llm_blender", "[selfplay][oracle]") {
  // C(i, j): not antisymmetric (C + Cᵀ != 0), non-zero diagonal (ignored).
  const std::vector<double> c{0.4, 2.0, -1.0, 0.5,  //
                              1.0, -0.2, 0.3, -2.0,  //
                              0.0, 1.1, 0.9, 0.7,  //
                              -0.6, 1.8, -0.4, 0.0};
  const auto o = sp::pairrm_oracle::from_logit_matrices({c});
  // A lone pair: the set of two, sigma(C_ij - C_ji).
  CHECK(o.probabilities(0, std::vector<pair>{{0, 1}})[0] == Approx(logistic(2.0 - 1.0)).epsilon(1e-15));
  // A set {3, 0, 2}: s_i = (1/3) Σ_j (C_ij − C_ji) over the set (self excluded), P = σ(s_i − s_j).
  const std::vector<index_t> set{3, 0, 2};
  std::vector<double> s(3, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (i != j) s[i] += (c[set[i] * 4 + set[j]] - c[set[j] * 4 + set[i]]) / 3.0;
  const auto p = sp::set_probabilities(o, 0, std::span<const index_t>(set));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(p[i * 3 + j] == Approx(1.0 / (1.0 + std::exp(s[j] - s[i]))).epsilon(1e-14));
  // Through the aggregation P + Pᵀ = 1 holds, so the full matrix is a valid game.
  const auto full = sp::full_preference_matrix(o, 0, 4);
  CHECK(full(1, 3) + full(3, 1) == Approx(1.0).margin(1e-15));
  // Validation: sizes, finite logits, a comparator that returns NaN.
  CHECK_THROWS_WITH(sp::pairrm_oracle::from_logit_matrices({{1.0, 2.0, 3.0}}), Catch::Contains("c[0].size() = 3"));
  CHECK_THROWS_WITH(sp::pairrm_oracle::from_logit_matrices({{0.0, INFINITY, 1.0, 0.0}}),
                    Catch::Contains("pairrm_logits[0][1] = inf"));
  const sp::pairrm_oracle nan_oracle({3}, [](index_t, index_t, index_t) { return NAN; });
  CHECK_THROWS_WITH(nan_oracle.probabilities(0, std::vector<pair>{{0, 1}}), Catch::Contains("logit(0, 0, 1) = nan"));
  CHECK_THROWS_AS(sp::pairrm_oracle({0}, [](index_t, index_t, index_t) { return 0.0; }), prefopt::invalid_argument);
}

TEST_CASE("set_probabilities rejects an oracle answer outside [0, 1]", "[selfplay][oracle]") {
  const std::vector<index_t> ys{0, 1};
  CHECK_THROWS_WITH(sp::set_probabilities(broken_oracle{}, 0, std::span<const index_t>(ys)),
                    Catch::Contains("oracle probability = 1.5"));
}

namespace {

/// Checks policy.step's chain rule: with SGD (lr = 1) and L = Σ_i c_i log π(y_i | x_i), the
/// parameter change must be −dL/dparams, compared with central differences of log_probs.
template <class Policy, class GetParams, class SetParams>
void check_step_gradient(Policy& policy, GetParams get, SetParams set,
                         const std::vector<sp::logp_gradient<index_t, index_t>>& terms) {
  auto objective = [&]() {
    double l = 0.0;
    for (const auto& t : terms) {
      const index_t y[1] = {t.response};
      l += t.d_logp * policy.log_probs(t.prompt, std::span<const index_t>(y, 1))[0];
    }
    return l;
  };
  const std::vector<double> theta = get();
  std::vector<double> fd(theta.size());
  const double h = 1e-6;
  for (std::size_t i = 0; i < theta.size(); ++i) {
    auto plus = theta, minus = theta;
    plus[i] += h, minus[i] -= h;
    set(plus);
    const double lp = objective();
    set(minus);
    const double lm = objective();
    fd[i] = (lp - lm) / (2 * h);
  }
  set(theta);
  policy.step(terms);
  const std::vector<double> after = get();
  for (std::size_t i = 0; i < theta.size(); ++i) CHECK(theta[i] - after[i] == Approx(fd[i]).margin(1e-7));
}

}  // namespace

TEST_CASE("tabular_policy: softmax log-probs and the chain rule of step()", "[selfplay][policy][gradient]") {
  sp::tabular_policy policy({3, 4}, {.kind = sp::optimizer_kind::sgd, .learning_rate = 1.0});
  policy.set_logits(0, std::vector<double>{0.2, -1.0, 0.5});
  policy.set_logits(1, std::vector<double>{1.0, 0.0, -0.3, 2.0});
  const index_t ys[2] = {2, 0};
  const auto lp = policy.log_probs(0, std::span<const index_t>(ys, 2));
  const double lse = std::log(std::exp(0.2) + std::exp(-1.0) + std::exp(0.5));
  CHECK(lp[0] == Approx(0.5 - lse).epsilon(1e-15));
  CHECK(lp[1] == Approx(0.2 - lse).epsilon(1e-15));
  auto get = [&] {
    std::vector<double> t;
    for (index_t x = 0; x < 2; ++x)
      for (double v : policy.logits(x)) t.push_back(v);
    return t;
  };
  auto set = [&](const std::vector<double>& t) {
    policy.set_logits(0, std::span<const double>(t.data(), 3));
    policy.set_logits(1, std::span<const double>(t.data() + 3, 4));
  };
  check_step_gradient(policy, get, set, {{0, 2, 0.7}, {0, 1, -1.3}, {1, 3, 0.4}, {1, 3, 0.2}, {1, 0, -0.9}});
  CHECK_THROWS_WITH(policy.set_logits(0, std::vector<double>{0.0, 1.0}), Catch::Contains("logits.size() = 2"));
  CHECK_THROWS_WITH(policy.set_logits(0, std::vector<double>{0.0, NAN, 1.0}), Catch::Contains("logits[1] = nan"));
  CHECK_THROWS_WITH(policy.log_probs(0, std::vector<index_t>{3}), Catch::Contains("response = 3"));
  CHECK_THROWS_WITH(policy.distribution(2), Catch::Contains("prompt = 2"));
  const std::vector<sp::logp_gradient<index_t, index_t>> nan_grad{{0, 0, NAN}};
  CHECK_THROWS_WITH(policy.step(nan_grad), Catch::Contains("d_logp = nan"));
  CHECK_THROWS_AS(sp::tabular_policy({0}), prefopt::invalid_argument);
}

TEST_CASE("loglinear_policy: log-probs from features and the chain rule of step()",
          "[selfplay][policy][gradient]") {
  // Two prompts sharing w in R^2; features phi(x, y) row-major n_x × 2.
  const std::vector<std::vector<double>> phi{{1.0, 0.0, 0.5, -1.0, -0.3, 0.8}, {0.2, 0.2, -1.0, 0.4}};
  sp::loglinear_policy policy(phi, 2, {.kind = sp::optimizer_kind::sgd, .learning_rate = 1.0});
  policy.set_weights(std::vector<double>{0.7, -0.4});
  const auto p = policy.distribution(0);
  double z[3], norm = 0;
  for (int y = 0; y < 3; ++y) z[y] = 0.7 * phi[0][2 * y] - 0.4 * phi[0][2 * y + 1], norm += std::exp(z[y]);
  for (int y = 0; y < 3; ++y) CHECK(p[y] == Approx(std::exp(z[y]) / norm).epsilon(1e-14));
  auto get = [&] {
    const auto w = policy.weights();
    return std::vector<double>(w.begin(), w.end());
  };
  auto set = [&](const std::vector<double>& w) { policy.set_weights(w); };
  check_step_gradient(policy, get, set, {{0, 2, 0.7}, {0, 1, -1.3}, {1, 1, 0.4}, {1, 0, -0.9}});
  CHECK_THROWS_WITH(sp::loglinear_policy({{1.0, 2.0, 3.0}}, 2), Catch::Contains("features[0].size() = 3"));
  CHECK_THROWS_WITH(sp::loglinear_policy({{1.0, NAN}}, 2), Catch::Contains("features[0][1] = nan"));
  CHECK_THROWS_WITH(policy.set_weights(std::vector<double>{1.0}), Catch::Contains("w.size() = 1"));
}

TEST_CASE("Adam's first steps follow the bias-corrected update", "[selfplay][optimizer]") {
  sp::optimizer opt({.kind = sp::optimizer_kind::adam, .learning_rate = 0.1}, 2);
  std::vector<double> theta{1.0, -2.0};
  const std::vector<double> g1{0.5, -3.0}, g2{-1.0, 2.0};
  opt.step(theta, g1);
  // t = 1: m̂ = g, v̂ = g², step = lr g / (|g| + eps).
  CHECK(theta[0] == Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
  CHECK(theta[1] == Approx(-2.0 + 0.1 * 3.0 / (3.0 + 1e-8)).epsilon(1e-14));
  opt.step(theta, g2);
  for (int i = 0; i < 2; ++i) {
    const double m = (0.9 * 0.1 * g1[i] + 0.1 * g2[i]) / (1 - 0.81);
    const double v = (0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i]) / (1 - 0.999 * 0.999);
    const double before = i == 0 ? 1.0 - 0.1 * 0.5 / (0.5 + 1e-8) : -2.0 + 0.1 * 3.0 / (3.0 + 1e-8);
    CHECK(theta[i] == Approx(before - 0.1 * m / (std::sqrt(v) + 1e-8)).epsilon(1e-12));
  }
  CHECK_THROWS_WITH(sp::optimizer({.learning_rate = -1.0}, 2), Catch::Contains("learning_rate = -1"));
  CHECK_THROWS_WITH(sp::optimizer({.beta1 = 1.0}, 2), Catch::Contains("beta1 = 1"));
  CHECK_THROWS_WITH(opt.step(theta, std::vector<double>{1.0}), Catch::Contains("grad.size() = 1"));
}

TEST_CASE("sampling from raw bits: frequencies match the distribution, seeds replay",
          "[selfplay][sampling]") {
  const std::vector<double> p{0.1, 0.0, 0.6, 0.3};
  std::mt19937_64 rng(5);
  std::vector<int> count(4, 0);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[sp::sample_index(p, rng)];
  CHECK(count[1] == 0);
  for (int y = 0; y < 4; ++y) CHECK(count[y] / double(n) == Approx(p[y]).margin(0.01));
  std::mt19937_64 a(9), b(9);
  for (int i = 0; i < 100; ++i) CHECK(sp::sample_index(p, a) == sp::sample_index(p, b));
  // The environments are valid games and deterministic by seed.
  CHECK(sp::random_game(6, 2).values() == sp::random_game(6, 2).values());
  CHECK(sp::random_game(6, 2).values() != sp::random_game(6, 3).values());
  CHECK(sp::transitive_game(5)(4, 0) == Approx(logistic(4.0)).epsilon(1e-15));
  CHECK_THROWS_AS(sp::random_game(1, 0), prefopt::invalid_argument);
}
