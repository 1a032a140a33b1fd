// Batch preference losses over N pairs (default 2^20): the full preference_loss call (host-side
// validation, per-pair kernel via B::for_each, reduction, metrics) and, for scale, the bare
// per-pair operator in a loop. items/s = pairs per second.
//
//   build/bench/losses/prefopt_bench_losses --benchmark_filter=batch
//   /usr/bin/python3 bench/compare/losses_vs_torch.py   (same sizes in PyTorch, prints ratios)

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/all.hpp>

namespace {

namespace pl = prefopt::losses;

template <class T>
struct data {
  std::vector<T> cw, cl, rw, rl, nw, nl, kp, kr;
  explicit data(std::size_t n) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
      nw.push_back(T(1 + std::floor(200 * u(rng))));
      nl.push_back(T(1 + std::floor(200 * u(rng))));
      cw.push_back(T(-nw.back() * (0.2 + 2 * u(rng))));
      cl.push_back(T(-nl.back() * (0.2 + 2 * u(rng))));
      rw.push_back(T(cw.back() + 4 * (u(rng) - 0.5)));
      rl.push_back(T(cl.back() + 4 * (u(rng) - 0.5)));
      kp.push_back(T(-50 * u(rng)));
      kr.push_back(T(kp.back() - u(rng)));
    }
  }
  pl::preference_batch<T> batch() const {
    return {cw, cl, rw, rl, nw, nl, {}, {}, {}, kp, kr};
  }
};

/// The Eigen backend, named for what these rows measure: its memory is host memory
/// (prefopt::host_accessible), so validation reads the inputs in place instead of copying them
/// through B::to_host.
template <class T>
struct host_eigen : prefopt::eigen::backend<T> {
  static_assert(prefopt::host_accessible<prefopt::eigen::backend<T>>);
};

template <class T, class Loss, class B = prefopt::eigen::backend<T>>
void batch_loss(benchmark::State& state, Loss loss) {
  const data<T> d(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto out = pl::preference_loss<B>(loss, d.batch());
    benchmark::DoNotOptimize(out.loss);
    benchmark::DoNotOptimize(out.grad_chosen.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class T, class Loss>
void per_pair_loop(benchmark::State& state, Loss loss) {
  const data<T> d(static_cast<std::size_t>(state.range(0)));
  std::vector<T> gc(d.cw.size()), gr(d.cw.size());
  for (auto _ : state) {
    T total = 0;
    for (std::size_t i = 0; i < d.cw.size(); ++i) {
      const auto r = loss(pl::pair_input<T>{d.cw[i], d.cl[i], d.rw[i], d.rl[i], d.nw[i], d.nl[i]},
                          pl::batch_context<T>{T(0.5), T(0)});
      total += r.loss;
      gc[i] = r.d_chosen;
      gr[i] = r.d_rejected;
    }
    benchmark::DoNotOptimize(total);
    benchmark::DoNotOptimize(gc.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

constexpr long pairs = 1L << 20;

void batch_sigmoid_float(benchmark::State& s) { batch_loss<float>(s, pl::sigmoid<float>(0.1f)); }
void batch_sigmoid_double(benchmark::State& s) { batch_loss<double>(s, pl::sigmoid<double>(0.1)); }
void batch_sigmoid_float_in_place(benchmark::State& s) {
  batch_loss<float, pl::sigmoid<float>, host_eigen<float>>(s, pl::sigmoid<float>(0.1f));
}
void batch_kto_float_in_place(benchmark::State& s) {
  batch_loss<float, pl::kto<float>, host_eigen<float>>(s, pl::kto<float>(0.1f));
}
void batch_kto_float(benchmark::State& s) { batch_loss<float>(s, pl::kto<float>(0.1f)); }
void batch_kto_double(benchmark::State& s) { batch_loss<double>(s, pl::kto<double>(0.1)); }
void batch_ipo_float(benchmark::State& s) { batch_loss<float>(s, pl::ipo<float>(0.1f)); }
void batch_aot_float(benchmark::State& s) { batch_loss<float>(s, pl::aot<float>(0.1f)); }
void per_pair_sigmoid_float(benchmark::State& s) { per_pair_loop<float>(s, pl::sigmoid<float>(0.1f)); }
void per_pair_kto_float(benchmark::State& s) { per_pair_loop<float>(s, pl::kto<float>(0.1f)); }

}  // namespace

BENCHMARK(batch_sigmoid_float)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_sigmoid_double)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_sigmoid_float_in_place)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_kto_float_in_place)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_kto_float)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_kto_double)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_ipo_float)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(batch_aot_float)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(per_pair_sigmoid_float)->Arg(pairs)->Unit(benchmark::kMillisecond);
BENCHMARK(per_pair_kto_float)->Arg(pairs)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
