// Bandwidth of the fused CUDA sequence log-probs: forward reads every logit once, backward reads
// every logit and writes every gradient once, so bytes moved / time against the device's peak
// DRAM bandwidth says how close the kernels are to the memory roofline.
//
//   prefopt_bench_cuda_logps [--tokens N] [--vocab V] [--reps R]     (defaults 8192, 128256, 20)
//
// Peak bandwidth = 2 (double data rate) x memory clock x bus width, read with
// cudaDeviceGetAttribute (CUDA 13 removed cudaDeviceProp::memoryClockRate). Times are per call,
// cudaEvent-timed over R calls after one warm-up; the API figure includes the per-call checks
// (pointer attributes, the one read of the error flags) and the pool allocations of the results,
// the kernel figure only the fused kernel. Exit code 4 (with
// the reason) when no CUDA device is usable.
#include <prefopt/backends/cuda.hpp>
#include <prefopt/logps/sequence_logps.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using B = prefopt::cuda::backend<float>;
using prefopt::index_t;

struct event_timer {
  cudaEvent_t start{}, stop{};
  event_timer() {
    prefopt::cuda::check(cudaEventCreate(&start), "cudaEventCreate");
    prefopt::cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~event_timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  template <class F>
  double ms_per_call(int reps, F&& f) {
    f();  // warm-up
    prefopt::cuda::check(cudaEventRecord(start), "cudaEventRecord");
    for (int i = 0; i < reps; ++i) f();
    prefopt::cuda::check(cudaEventRecord(stop), "cudaEventRecord");
    prefopt::cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    prefopt::cuda::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return static_cast<double>(ms) / reps;
  }
};

void report(const char* what, double ms, double bytes, double peak) {
  const double gbs = bytes / (ms * 1e-3) / 1e9;
  std::printf("%-44s %8.3f ms  %8.1f GB/s  %5.3f of peak\n", what, ms, gbs, gbs / (peak / 1e9));
}

}  // namespace

int main(int argc, char** argv) {
  index_t tokens = 8192, vocab = 128256;
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--tokens" || a == "--vocab" || a == "--reps") && i + 1 < argc) {
      const long long v = std::atoll(argv[++i]);
      if (v <= 0) {
        std::fprintf(stderr, "%s must be a positive integer\n", a.c_str());
        return 2;
      }
      if (a == "--tokens") tokens = v;
      else if (a == "--vocab") vocab = v;
      else reps = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "usage: %s [--tokens N] [--vocab V] [--reps R]\n", argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  std::string reason;
  if (!prefopt::cuda::device_available(&reason)) {
    std::printf("SKIPPED: no usable CUDA device (%s)\n", reason.c_str());
    return 4;
  }
  int dev = 0, clock_khz = 0, bus_bits = 0;
  cudaDeviceProp prop{};
  prefopt::cuda::check(cudaGetDevice(&dev), "cudaGetDevice");
  prefopt::cuda::check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  prefopt::cuda::check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev),
                       "cudaDeviceGetAttribute(cudaDevAttrMemoryClockRate)");
  prefopt::cuda::check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev),
                       "cudaDeviceGetAttribute(cudaDevAttrGlobalMemoryBusWidth)");
  const double peak = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
  std::printf("device: %s (sm_%d%d), peak DRAM bandwidth %.1f GB/s (2 x %d MHz x %d-bit bus)\n",
              prop.name, prop.major, prop.minor, peak / 1e9, clock_khz / 1000, bus_bits);

  // One sequence of `tokens` positions, no label shift: exactly `tokens` token rows.
  const index_t n = tokens * vocab;
  prefopt::cuda::device_buffer<float> logits(n), grad(n);
  {
    float* x = logits.data();
    B::for_each(n, [=] __device__(index_t i) {  // a cheap hash: values in [-8, 8)
      std::uint64_t h = static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
      x[i] = static_cast<float>(h % 65536) * (16.0f / 65536.0f) - 8.0f;
    });
  }
  std::vector<std::int64_t> labels_h(static_cast<std::size_t>(tokens));
  std::mt19937_64 gen(7);
  for (auto& y : labels_h) y = static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(vocab));
  const auto labels_d = prefopt::cuda::upload(labels_h);
  const prefopt::cuda::device_logits_view<const float> lv{logits.data(), 1,     tokens,
                                                          vocab,         n,     vocab};
  const auto lb =
      prefopt::cuda::device_matrix_view<const std::int64_t>::contiguous(labels_d.data(), 1, tokens);
  const prefopt::cuda::device_matrix_view<const std::uint8_t> no_mask{};
  prefopt::sequence_logps_options opt;
  opt.layout.shift_labels = false;

  event_timer timer;
  const double bytes_fwd = static_cast<double>(n) * sizeof(float);
  prefopt::sequence_logps_result<B> fwd;
  const double api_ms = timer.ms_per_call(reps, [&] { fwd = prefopt::sequence_logps<B>(lv, lb, no_mask, opt); });
  char title[128];
  std::snprintf(title, sizeof title, "forward  N=%lld V=%lld float (API call)", static_cast<long long>(tokens),
                static_cast<long long>(vocab));
  report(title, api_ms, bytes_fwd, peak);

  auto flags = prefopt::cuda::make_error_flags(0);
  const double kernel_ms = timer.ms_per_call(reps, [&] {
    prefopt::cuda::kernels::token_logps_forward_kernel<<<static_cast<unsigned>(tokens),
                                                         prefopt::cuda::kernels::row_block>>>(
        lv, lb, no_mask, opt.layout, tokens, B::data(fwd.token_logps), B::data(fwd.token_lse),
        flags.data());
  });
  prefopt::cuda::check_launch("token_logps_forward_kernel");
  report("forward  fused kernel only", kernel_ms, bytes_fwd, peak);

  const auto grad_sum = B::from_host(std::vector<float>{1.0f});
  const prefopt::cuda::device_logits_view<float> gv{grad.data(), 1, tokens, vocab, n, vocab};
  const double bwd_ms = timer.ms_per_call(reps, [&] {
    prefopt::sequence_logps_backward<B>(lv, lb, no_mask, fwd, grad_sum, nullptr, gv, opt);
  });
  report("backward (read logits + write grad, API)", bwd_ms, 2 * bytes_fwd, peak);

  // Sanity: the first rows' log-sum-exp against a host recomputation.
  const auto lse = B::to_host(fwd.token_lse);
  double worst = 0;
  for (index_t r = 0; r < 4; ++r) {
    const auto row = prefopt::cuda::download(logits.data() + r * vocab, vocab);
    double m = -INFINITY, s = 0;
    for (float v : row) m = std::fmax(m, v);
    for (float v : row) s += std::exp(static_cast<double>(v) - m);
    worst = std::fmax(worst, std::fabs(lse[static_cast<std::size_t>(r)] - (m + std::log(s))));
  }
  std::printf("check: max |lse - host lse| over 4 rows = %.3g\n", worst);
  return worst < 1e-3 ? 0 : 1;
}
