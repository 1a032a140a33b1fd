// Sequence log-probs throughput: N = 2048 predicted tokens (4 sequences x 512), V = 32000, float
// logits, and the same values rounded to bfloat16 (the _bf16 cases: float accumulation, gradient
// written in bfloat16). items = tokens; bytes = logits read (forward) or read + gradient written
// (forward + backward), in the logits' own element size.
//   build/bench/logps/prefopt_bench_logps --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <prefopt/backends/eigen.hpp>
#include <prefopt/core/half.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <random>
#include <vector>

namespace {

constexpr prefopt::index_t kBatch = 4, kTime = 513, kVocab = 32000;
constexpr prefopt::index_t kTokens = kBatch * (kTime - 1);

struct fixture {
  std::vector<float> logits;
  std::vector<prefopt::bfloat16> logits_bf16;  // the same values rounded to bfloat16
  std::vector<std::int64_t> labels;
  fixture() : logits(static_cast<std::size_t>(kBatch * kTime * kVocab)),
              labels(static_cast<std::size_t>(kBatch * kTime)) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.f, 2.f);
    for (auto& x : logits) x = normal(rng);
    std::uniform_int_distribution<std::int64_t> token(0, kVocab - 1);
    for (auto& y : labels) y = token(rng);
    logits_bf16.reserve(logits.size());
    for (float x : logits) logits_bf16.emplace_back(x);
  }
  auto logits_view_bf16() const {
    return prefopt::logits_view<const prefopt::bfloat16>::contiguous(logits_bf16.data(), kBatch,
                                                                     kTime, kVocab);
  }
  auto logits_view() const {
    return prefopt::logits_view<const float>::contiguous(logits.data(), kBatch, kTime, kVocab);
  }
  auto labels_view() const {
    return prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), kBatch, kTime);
  }
};

const fixture& data() {
  static const fixture f;
  return f;
}

void set_counters(benchmark::State& state, double bytes_per_iteration) {
  state.SetItemsProcessed(state.iterations() * kTokens);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes_per_iteration));
}

void BM_sequence_logps_forward(benchmark::State& state) {
  using B = prefopt::eigen::backend<float>;
  const auto& f = data();
  prefopt::sequence_logps_options options;
  options.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto r = prefopt::sequence_logps<B>(f.logits_view(), f.labels_view(), options);
    benchmark::DoNotOptimize(r.sum.data());
  }
  set_counters(state, double(kTokens) * kVocab * sizeof(float));
}

void BM_sequence_logps_forward_backward(benchmark::State& state) {
  using B = prefopt::eigen::backend<float>;
  const auto& f = data();
  prefopt::sequence_logps_options options;
  options.threads = static_cast<int>(state.range(0));
  std::vector<float> grad(f.logits.size());
  const auto gview = prefopt::logits_view<float>::contiguous(grad.data(), kBatch, kTime, kVocab);
  const B::vector_type grad_sum = B::vector_type::Ones(kBatch);
  const prefopt::matrix_view<const std::uint8_t> no_mask{};
  for (auto _ : state) {
    auto r = prefopt::sequence_logps<B>(f.logits_view(), f.labels_view(), options);
    prefopt::sequence_logps_backward<B>(f.logits_view(), f.labels_view(), no_mask, r, grad_sum,
                                        nullptr, gview, options);
    benchmark::DoNotOptimize(grad.data());
    benchmark::ClobberMemory();
  }
  // forward read + backward read + gradient write (the full [B, T, V] buffer)
  set_counters(state, double(kTokens) * kVocab * sizeof(float) * 2 +
                          double(kBatch * kTime) * kVocab * sizeof(float));
}

void BM_sequence_logps_forward_bf16(benchmark::State& state) {
  using B = prefopt::eigen::backend<float>;
  const auto& f = data();
  prefopt::sequence_logps_options options;
  options.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto r = prefopt::sequence_logps<B>(f.logits_view_bf16(), f.labels_view(), options);
    benchmark::DoNotOptimize(r.sum.data());
  }
  set_counters(state, double(kTokens) * kVocab * sizeof(prefopt::bfloat16));
}

void BM_sequence_logps_forward_backward_bf16(benchmark::State& state) {
  using B = prefopt::eigen::backend<float>;
  const auto& f = data();
  prefopt::sequence_logps_options options;
  options.threads = static_cast<int>(state.range(0));
  std::vector<prefopt::bfloat16> grad(f.logits.size());
  const auto gview =
      prefopt::logits_view<prefopt::bfloat16>::contiguous(grad.data(), kBatch, kTime, kVocab);
  const B::vector_type grad_sum = B::vector_type::Ones(kBatch);
  const prefopt::matrix_view<const std::uint8_t> no_mask{};
  for (auto _ : state) {
    auto r = prefopt::sequence_logps<B>(f.logits_view_bf16(), f.labels_view(), options);
    prefopt::sequence_logps_backward<B>(f.logits_view_bf16(), f.labels_view(), no_mask, r,
                                        grad_sum, nullptr, gview, options);
    benchmark::DoNotOptimize(grad.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, double(kTokens) * kVocab * sizeof(prefopt::bfloat16) * 2 +
                          double(kBatch * kTime) * kVocab * sizeof(prefopt::bfloat16));
}

}  // namespace

BENCHMARK(BM_sequence_logps_forward)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sequence_logps_forward_backward)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sequence_logps_forward_bf16)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sequence_logps_forward_backward_bf16)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
