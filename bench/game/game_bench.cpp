// Iterative-solver throughput: iterations/s on one n = 1000 preference game and games·iterations/s
// on a batch of 10 000 5 x 5 games; LP solve time at n = 100 / 300.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/game/solve.hpp>

namespace {

using B = prefopt::eigen::backend<double>;
namespace game = prefopt::game;

game::matrix_game<double> random_preference_game(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(static_cast<std::size_t>(n) * n, 0.5);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      const double v = u(rng);
      p[i * n + j] = v, p[j * n + i] = 1.0 - v;
    }
  return game::matrix_game<double>::from_preferences({n, p});
}

template <class Policy>
void BM_iterations(benchmark::State& state) {
  const auto g = random_preference_game(static_cast<int>(state.range(0)), 1);
  const auto a = game::detail::upload_matrix<B>(g.rows(), g.cols(), std::span<const double>(g.values()));
  const Policy policy{.eta = 1.0, .iters = 100};
  for (auto _ : state) {
    auto r = game::solve<B>(policy, a, true, 0.5);
    benchmark::DoNotOptimize(r.last.exploitability);
  }
  state.counters["iters/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * policy.iters),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_iterations<game::hedge>)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_iterations<game::optimistic_mwu>)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_iterations<game::extragradient>)->Arg(1000)->Unit(benchmark::kMillisecond);

template <class Policy>
void BM_batch_5x5(benchmark::State& state) {
  const auto count = static_cast<prefopt::index_t>(state.range(0));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(count * 25));
  for (double& x : v) x = u(rng);
  const game::matrix_game_batch<double> batch(count, 5, 5, v);
  const Policy policy{.eta = 0.2, .iters = 100};
  for (auto _ : state) {
    auto r = game::solve_batch<B>(policy, batch);
    benchmark::DoNotOptimize(r.last.exploitability.data());
  }
  state.counters["game-iters/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * count * policy.iters),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_batch_5x5<game::hedge>)->Arg(10'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_batch_5x5<game::optimistic_mwu>)->Arg(10'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_batch_5x5<game::extragradient>)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_lp(benchmark::State& state) {
  const auto g = random_preference_game(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    auto r = game::solve(game::lp{}, g);
    benchmark::DoNotOptimize(r.value);
  }
}
BENCHMARK(BM_lp)->Arg(100)->Arg(300)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
