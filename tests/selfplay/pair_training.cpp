// selfplay/pair_training.hpp: one SGD step of train_on_pairs moves the weights by -lr times the
// gradient of the loss written out from its definition (DPO's -log σ(β Δ), LongPO's NLL per turn
// + λ·DPO, ORPO's reference-free odds ratio), with log-probs summed over each pair's turns,
// taken by central finite differences in long double; the frozen reference and the validation.

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/longpo.hpp>
#include <prefopt/losses/reference_free.hpp>
#include <prefopt/selfplay/loglinear_policy.hpp>
#include <prefopt/selfplay/pair_training.hpp>

namespace {
namespace sp = prefopt::selfplay;
using prefopt::index_t;
using backend = prefopt::eigen::backend<double>;
using turn = sp::pair_turn<>;

using ld = long double;

// 3 prompts x 4 responses, d = 3, fixed weights.
sp::loglinear_policy make_policy(double lr) {
  auto p = sp::loglinear_policy::random_features({4, 4, 4}, 3, 7, {.kind = sp::optimizer_kind::sgd, .learning_rate = lr});
  const std::vector<double> w = {0.3, -0.7, 0.4};
  p.set_weights(w);
  return p;
}

/// log π(y | x) at weights w, from the definition, in long double.
ld logp(const sp::loglinear_policy& p, const std::vector<ld>& w, index_t x, index_t y) {
  sp::loglinear_policy q = p;  // the features; logits recomputed below
  std::vector<ld> z;
  const auto n = p.num_responses(x);
  for (index_t k = 0; k < n; ++k) {
    std::vector<double> e(3, 0.0);
    ld s = 0;
    for (int i = 0; i < 3; ++i) {
      e.assign(3, 0.0);
      e[i] = 1.0;
      q.set_weights(e);
      s += w[i] * static_cast<ld>(q.logits(x)[k]);  // feature φ(x, k)_i
    }
    z.push_back(s);
  }
  ld m = z[0];
  for (ld v : z) m = std::max(m, v);
  ld sum = 0;
  for (ld v : z) sum += std::exp(v - m);
  return z[y] - m - std::log(sum);
}

/// Central finite differences of `loss(w)` at the policy's weights.
std::vector<ld> numeric_gradient(const sp::loglinear_policy& p, const std::function<ld(const std::vector<ld>&)>& loss) {
  std::vector<ld> w(p.weights().begin(), p.weights().end()), g(3);
  const ld h = 1e-6L;
  for (int i = 0; i < 3; ++i) {
    auto a = w, b = w;
    a[i] += h, b[i] -= h;
    g[i] = (loss(a) - loss(b)) / (2 * h);
  }
  return g;
}

const std::vector<turn> turns = {{0, 1, 2}, {1, 0, 3}, {2, 3, 1}, {0, 2, 0}};  // two pairs of two turns

/// Σ over a pair's turns of log π (chosen, rejected).
std::pair<ld, ld> pair_logps(const sp::loglinear_policy& p, const std::vector<ld>& w, std::size_t pair) {
  ld c = 0, r = 0;
  for (std::size_t k = 2 * pair; k < 2 * pair + 2; ++k) c += logp(p, w, turns[k].prompt, turns[k].chosen),
                                                         r += logp(p, w, turns[k].prompt, turns[k].rejected);
  return {c, r};
}

ld log_sigmoid(ld z) { return -std::log1p(std::exp(-z)); }

template <class Loss>
void check_one_step(const Loss& loss, const std::function<ld(const std::vector<ld>&)>& definition,
                    std::vector<double> ref_w, std::vector<double> ref_l) {
  const double lr = 1e-3;
  auto p = make_policy(lr);
  const auto g = numeric_gradient(p, definition);
  const std::vector<double> before(p.weights().begin(), p.weights().end());
  const auto history = sp::train_on_pairs<backend>(p, std::span<const turn>(turns), loss,
                                                   {.steps = 1, .turns_per_pair = 2}, ref_w, ref_l);
  REQUIRE(history.size() == 1);
  CHECK(history[0] == Approx(static_cast<double>(definition({before.begin(), before.end()}))).epsilon(1e-12));
  for (int i = 0; i < 3; ++i)
    CHECK((before[i] - p.weights()[i]) / lr == Approx(static_cast<double>(g[i])).epsilon(1e-6).margin(1e-9));
}

}  // namespace

TEST_CASE("train_on_pairs: DPO's step is the gradient of -log sigma(beta Delta) over summed turns", "[selfplay][pairs]") {
  const std::vector<double> rw = {-2.5, -3.1}, rl = {-2.9, -2.2};
  const ld beta = 0.7L;
  auto p = make_policy(1e-3);
  check_one_step(prefopt::losses::sigmoid<double>(0.7),
                 [&](const std::vector<ld>& w) {
                   ld s = 0;
                   for (std::size_t k = 0; k < 2; ++k) {
                     const auto [c, r] = pair_logps(p, w, k);
                     s += -log_sigmoid(beta * ((c - rw[k]) - (r - rl[k])));
                   }
                   return s / 2;
                 },
                 rw, rl);
}

TEST_CASE("train_on_pairs: LongPO's step adds the NLL per turn to lambda times DPO", "[selfplay][pairs]") {
  const std::vector<double> rw = {-1.5, -4.0}, rl = {-3.0, -2.0};
  const ld beta = 0.5L, lambda = 0.3L;
  auto p = make_policy(1e-3);
  check_one_step(prefopt::losses::longpo<double>(0.5, 0.3),
                 [&](const std::vector<ld>& w) {
                   ld s = 0;
                   for (std::size_t k = 0; k < 2; ++k) {
                     const auto [c, r] = pair_logps(p, w, k);
                     s += -c / 2 - lambda * log_sigmoid(beta * ((c - rw[k]) - (r - rl[k])));
                   }
                   return s / 2;
                 },
                 rw, rl);
}

TEST_CASE("train_on_pairs: ORPO ignores the reference and takes means per turn", "[selfplay][pairs]") {
  const ld lambda = 0.2L;
  auto p = make_policy(1e-3);
  auto log_odds = [](ld m) { return m - std::log1p(-std::exp(m)); };
  check_one_step(prefopt::losses::orpo<double>(0.2),
                 [&](const std::vector<ld>& w) {
                   ld s = 0;
                   for (std::size_t k = 0; k < 2; ++k) {
                     const auto [c, r] = pair_logps(p, w, k);
                     s += -c / 2 - lambda * log_sigmoid(log_odds(c / 2) - log_odds(r / 2));
                   }
                   return s / 2;
                 },
                 {}, {});
}

TEST_CASE("train_on_pairs: without a reference the initial policy is the frozen reference", "[selfplay][pairs]") {
  auto p = make_policy(0.05);
  const auto history = sp::train_on_pairs<backend>(p, std::span<const turn>(turns), prefopt::losses::sigmoid<double>(0.1),
                                                   {.steps = 50, .turns_per_pair = 2});
  CHECK(history[0] == Approx(std::log(2.0)).epsilon(1e-14));  // Delta = 0 at the start
  CHECK(history.back() < history[0]);
  index_t calls = 0;
  auto q = make_policy(0.05);
  (void)sp::train_on_pairs<backend>(q, std::span<const turn>(turns.data(), 1), prefopt::losses::sigmoid<double>(0.1),
                                    {.steps = 3}, {}, {}, [&](index_t s) { CHECK(s == ++calls); });
  CHECK(calls == 3);
}

TEST_CASE("train_on_pairs: validation", "[selfplay][pairs]") {
  auto p = make_policy(0.05);
  const prefopt::losses::sigmoid<double> dpo(0.1);
  const std::span<const turn> t(turns);
  CHECK_THROWS_WITH(sp::train_on_pairs<backend>(p, t.first(3), dpo, {.turns_per_pair = 2}),
                    "turns.size() = 3: must be a positive multiple of turns_per_pair = 2");
  CHECK_THROWS_WITH(sp::train_on_pairs<backend>(p, t, dpo, {.steps = 0}), "steps = 0: must be >= 1");
  CHECK_THROWS_WITH(sp::train_on_pairs<backend>(p, t, dpo, {.turns_per_pair = 0}), "turns_per_pair = 0: must be >= 1");
  const std::vector<double> one = {0.0};
  CHECK_THROWS_WITH(sp::train_on_pairs<backend>(p, t, dpo, {.turns_per_pair = 2}, one, one),
                    "ref_chosen.size() = 1: must equal pairs = 2");
  const std::vector<turn> bad = {{0, 0, 9}};
  CHECK_THROWS_WITH(sp::train_on_pairs<backend>(p, std::span<const turn>(bad), dpo, {}), "response = 9: must be in [0, 4)");
}
