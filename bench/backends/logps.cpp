// Eigen vs xtensor: fused sequence_logps forward on N = 2048 token rows, V = 32000, float
// (a 262 MB logits tensor, so the run streams from DRAM like a real batch). Reports items/s
// (token rows) and bytes/s (logits read). Argument: thread count (0 = hardware concurrency).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/backends/xtensor.hpp>
#include <prefopt/logps/sequence_logps.hpp>

namespace {

constexpr prefopt::index_t tokens = 2048, vocab = 32000;

struct logps_data {
  std::vector<float> logits;
  std::vector<std::int64_t> labels;
  logps_data() : logits(static_cast<std::size_t>(tokens * vocab)), labels(tokens) {
    std::mt19937 gen(3);
    std::normal_distribution<float> dist(0.0f, 4.0f);
    for (auto& x : logits) x = dist(gen);
    for (auto& y : labels) y = static_cast<std::int64_t>(gen() % vocab);
  }
};

const logps_data& data() {
  static const logps_data d;
  return d;
}

template <class B>
void BM_sequence_logps_forward(benchmark::State& state) {
  const auto& d = data();
  // One sequence, no label shift: exactly `tokens` predicted rows.
  const auto lv = prefopt::logits_view<const float>::contiguous(d.logits.data(), 1, tokens, vocab);
  const auto lb = prefopt::matrix_view<const std::int64_t>::contiguous(d.labels.data(), 1, tokens);
  prefopt::sequence_logps_options opt;
  opt.layout.shift_labels = false;
  opt.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto out = prefopt::sequence_logps<B>(lv, lb, opt);
    benchmark::DoNotOptimize(B::data(out.sum));
  }
  state.SetItemsProcessed(state.iterations() * tokens);
  state.SetBytesProcessed(state.iterations() * tokens * vocab * static_cast<std::int64_t>(sizeof(float)));
}

}  // namespace

BENCHMARK_TEMPLATE(BM_sequence_logps_forward, prefopt::eigen::backend<float>)
    ->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_sequence_logps_forward, prefopt::xtensor::backend<float>)
    ->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
