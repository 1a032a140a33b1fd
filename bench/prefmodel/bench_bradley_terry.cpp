// Google Benchmarks: Bradley-Terry Newton fit on aggregated counts and the 100-round multinomial
// bootstrap, on synthetic Arena-like data (M models, all pairs compared, ties 10%).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include <prefopt/prefmodel/bootstrap.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>

namespace pm = prefopt::prefmodel;

namespace {

// Every pair of m models compared `per_pair` times under BT strengths ~ N(0, 1).
pm::comparison_data<double> synthetic(long long m, long long per_pair, unsigned seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> theta(static_cast<std::size_t>(m));
  for (double& t : theta) t = normal(rng);
  pm::comparison_data<double> d(m);
  for (long long i = 0; i < m; ++i)
    for (long long j = i + 1; j < m; ++j) {
      const long long ties = std::binomial_distribution<long long>(per_pair, 0.1)(rng);
      const double p = 1 / (1 + std::exp(theta[j] - theta[i]));
      const long long wi = std::binomial_distribution<long long>(per_pair - ties, p)(rng);
      d.add(i, j, pm::outcome::first_wins, 1.0, wi);
      d.add(j, i, pm::outcome::first_wins, 1.0, per_pair - ties - wi);
      d.add(i, j, pm::outcome::tie, 1.0, ties);
    }
  return d;
}

void BM_bt_fit(benchmark::State& state) {
  const auto data = synthetic(state.range(0), state.range(1));
  pm::bt_options<double> opt;
  opt.standard_errors = state.range(2) != 0;
  for (auto _ : state) benchmark::DoNotOptimize(pm::fit_bradley_terry(data, opt).theta.data());
  state.counters["pairs"] = static_cast<double>(data.pairs().size());
  state.counters["battles"] = static_cast<double>(data.total_battles());
}
BENCHMARK(BM_bt_fit)->Args({100, 40, 0})->Args({100, 40, 1})->Args({200, 200, 0})->Unit(benchmark::kMillisecond);

void BM_bt_fit_davidson(benchmark::State& state) {
  const auto data = synthetic(state.range(0), state.range(1));
  pm::bt_options<double> opt;
  opt.ties = pm::tie_model::davidson;
  opt.standard_errors = false;
  for (auto _ : state) benchmark::DoNotOptimize(pm::fit_bradley_terry(data, opt).theta.data());
}
BENCHMARK(BM_bt_fit_davidson)->Args({100, 40})->Unit(benchmark::kMillisecond);

void BM_bt_bootstrap_100(benchmark::State& state) {
  const auto data = synthetic(state.range(0), state.range(1));
  pm::bootstrap_options<double> opt;
  opt.rounds = 100;
  opt.threads = static_cast<int>(state.range(2));
  for (auto _ : state) benchmark::DoNotOptimize(pm::bootstrap_bradley_terry(data, opt).lower.data());
  state.counters["battles"] = static_cast<double>(data.total_battles());
}
BENCHMARK(BM_bt_bootstrap_100)->Args({100, 40, 1})->Args({100, 40, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
