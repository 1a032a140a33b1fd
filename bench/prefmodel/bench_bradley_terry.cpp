// Google Benchmarks: Bradley-Terry Newton fit on aggregated counts and the 100-round multinomial
// bootstrap, on synthetic Arena-like data (M models, all pairs compared, ties 10%).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

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
      d.add(i, j, pm::outcome::model_a_wins, 1.0, wi);
      d.add(j, i, pm::outcome::model_a_wins, 1.0, per_pair - ties - wi);
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

// n items, `per_item` battles each on average between uniformly drawn pairs (a sparse graph),
// strengths ~ N(0, 1), ties 10%, plus a ring of ties so that the MLE exists.
pm::comparison_data<double> sparse_synthetic(long long n, long long per_item, unsigned seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> unif;
  std::vector<double> theta(static_cast<std::size_t>(n));
  for (double& t : theta) t = normal(rng);
  pm::comparison_data<double> d(n);
  for (long long i = 0; i < n; ++i) d.add(i, (i + 1) % n, pm::outcome::tie);
  for (long long b = 0; b < n * per_item / 2; ++b) {
    const long long i = static_cast<long long>(rng() % static_cast<unsigned long long>(n));
    long long j = static_cast<long long>(rng() % static_cast<unsigned long long>(n - 1));
    if (j >= i) ++j;
    const double p = 1 / (1 + std::exp(theta[j] - theta[i]));
    d.add(i, j, unif(rng) < 0.1 ? pm::outcome::tie : unif(rng) < p ? pm::outcome::model_a_wins : pm::outcome::model_b_wins);
  }
  return d;
}

// Dense Cholesky Newton vs sparse Newton-CG on the same data (the crossover behind
// bt_options::sparse_min_items), and the sparse path at 10^4 items / 10^6 battles.
void BM_bt_fit_method(benchmark::State& state) {
  const auto data = sparse_synthetic(state.range(0), state.range(1));
  pm::bt_options<double> opt;
  opt.standard_errors = false;
  opt.method = state.range(2) ? pm::bt_method::sparse : pm::bt_method::dense;
  opt.threads = 1;
  for (auto _ : state) benchmark::DoNotOptimize(pm::fit_bradley_terry(data, opt).theta.data());
  state.counters["pairs"] = static_cast<double>(data.pairs().size());
}
BENCHMARK(BM_bt_fit_method)
    ->Args({200, 100, 0})->Args({200, 100, 1})->Args({1000, 100, 0})->Args({1000, 100, 1})
    ->Args({10000, 200, 1})->Unit(benchmark::kMillisecond);

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
