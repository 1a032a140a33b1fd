// Chunked fused LM head (prefopt/backends/eigen/linear_head.hpp), float: forward, and forward +
// backward (grad_hidden and grad_weight), on N tokens x H = 1024 x V = 32000. The counter
// "GFLOPs" counts 2 N V H per GEMM pass (forward: 1 pass; forward + backward: 4). Small N keeps
// a run short; bench/compare/linear_head_vs_torch.py times the N = 2048 case against torch.
//   build/bench/logps/prefopt_bench_linear_head --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <prefopt/backends/eigen/linear_head.hpp>
#include <random>
#include <span>
#include <vector>

namespace {

constexpr prefopt::index_t kHidden = 1024, kVocab = 32000;

struct fixture {
  prefopt::index_t n;
  std::vector<float> hidden, weight, logp, lse, ones, grad_hidden, grad_weight;
  std::vector<std::int64_t> labels;
  explicit fixture(prefopt::index_t tokens)
      : n(tokens), hidden(static_cast<std::size_t>(n * kHidden)),
        weight(static_cast<std::size_t>(kVocab * kHidden)), logp(static_cast<std::size_t>(n)),
        lse(logp.size()), ones(logp.size(), 1.0f), grad_hidden(hidden.size()),
        grad_weight(weight.size()), labels(logp.size()) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (auto& x : hidden) x = normal(rng);
    for (auto& x : weight) x = normal(rng) / 16.0f;
    std::uniform_int_distribution<std::int64_t> token(0, kVocab - 1);
    for (auto& y : labels) y = token(rng);
  }
  auto h() const { return prefopt::matrix_view<const float>::contiguous(hidden.data(), n, kHidden); }
  auto w() const { return prefopt::matrix_view<const float>::contiguous(weight.data(), kVocab, kHidden); }
};

void run(benchmark::State& state, bool backward) {
  fixture f(state.range(0));
  prefopt::linear_head_options o;
  o.threads = static_cast<int>(state.range(1));
  const std::span<const std::int64_t> y(f.labels);
  for (auto _ : state) {
    prefopt::eigen::linear_head_logps(f.h(), f.w(), y, std::span<float>(f.logp), std::span<float>(f.lse), o);
    if (backward)
      prefopt::eigen::linear_head_logps_backward(
          f.h(), f.w(), y, std::span<const float>(f.lse), std::span<const float>(f.ones),
          prefopt::matrix_view<float>::contiguous(f.grad_hidden.data(), f.n, kHidden),
          prefopt::matrix_view<float>::contiguous(f.grad_weight.data(), kVocab, kHidden), o);
    benchmark::DoNotOptimize(f.logp.data());
    benchmark::ClobberMemory();
  }
  const double flops = (backward ? 8.0 : 2.0) * double(f.n) * kVocab * kHidden;
  state.counters["GFLOPs"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * f.n);
}

void BM_linear_head_forward(benchmark::State& state) { run(state, false); }
void BM_linear_head_forward_backward(benchmark::State& state) { run(state, true); }

}  // namespace

BENCHMARK(BM_linear_head_forward)->Args({256, 1})->Args({256, 2})->ArgNames({"tokens", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_head_forward_backward)->Args({256, 1})->Args({256, 2})->ArgNames({"tokens", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
