// Timing driver for the bench/compare/*_vs_torch.py scripts: runs one prefopt kernel on inputs
// the script wrote (raw little-endian binaries), prints its best time, and writes its outputs
// for the script to compare with PyTorch's.
//
//   prefopt_compare_driver probe      BYTES THREADS REPEATS
//       streaming read of a BYTES buffer on THREADS threads; prints "read_gbs=<GB/s>"
//   prefopt_compare_driver logps_fwd  DIR B T V THREADS REPEATS
//       DIR/logits.f32 [B, T, V], DIR/labels.i64 [B, T] -> DIR/out_token_logps.f32 [B, T-1]
//   prefopt_compare_driver logps_bwd  DIR B T V THREADS REPEATS
//       forward + backward with dL/dsum = 1 -> DIR/out_grad_rows.f32 (rows 0, 64, 128, ... of
//       the [B*T, V] gradient)
//   prefopt_compare_driver logps_fused DIR B T V THREADS REPEATS
//       the same through sequence_logps_with_grad (one pass over the logits)
//   prefopt_compare_driver head       DIR N H V THREADS REPEATS VOCAB_CHUNK TOKEN_CHUNK
//       chunked fused LM head (prefopt/backends/eigen/linear_head.hpp), forward + backward with
//       dL/dlogp = 1: DIR/hidden.f32 [N, H], DIR/weight.f32 [V, H], DIR/labels.i64 [N] ->
//       DIR/out_logp.f32 [N], DIR/out_grad_hidden.f32 [N, H], DIR/out_grad_weight_rows.f32 (rows
//       0, 64, 128, ... of the [V, H] gradient); also prints rss_inputs_kb (peak RSS, VmHWM, once inputs
//       and outputs are allocated) and peak_rss_kb (at the end)
//   prefopt_compare_driver sgemm      N H V THREADS REPEATS
//       Eigen's float GEMM on the head's shape, C [N, V] = A [N, H] B^T, rows split over THREADS
//       threads in equal blocks; prints "gflops=<rate> seconds=<best>"
//   prefopt_compare_driver kl_fwd     DIR B T V THREADS REPEATS
//       forward token KL(policy || ref): DIR/policy.f32, DIR/ref.f32 [B, T, V], DIR/labels.i64
//       [B, T] -> DIR/out_token_kl.f32 [B, T-1]
//   prefopt_compare_driver kl_bwd     DIR B T V THREADS REPEATS
//       forward + backward (dL/dsum = 1, gradient with respect to the policy logits only) ->
//       DIR/out_token_kl.f32 and DIR/out_grad_rows.f32 (rows 0, 64, 128, ... of [B*T, V])
//   prefopt_compare_driver kl_fused   DIR B T V THREADS REPEATS
//       the same forward + backward in one call (kl::token_kl_with_grad), same outputs
//   prefopt_compare_driver dpo        DIR N THREADS REPEATS
//       DIR/{cw,cl,rw,rl}.f32 [N], DPO (sigmoid, beta 0.1), mean -> DIR/out_loss.f32 [1],
//       DIR/out_grad_chosen.f32 [N]; the reusing preference_loss (one result kept across calls,
//       as a training loop keeps it)
//   prefopt_compare_driver dpo_alloc  DIR N THREADS REPEATS
//       the same with the allocating preference_loss (a fresh result every call)
//
// Each prints "prefopt_s=<best of REPEATS, after one warm-up> isa=<dispatched level>
// minflt_per_call=<minor page faults per timed call (getrusage), warm-up excluded>" on stdout.
// The level follows PREFOPT_ISA (portable, avx2, avx512; default: the best the CPU runs).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/backends/eigen/linear_head.hpp>
#include <prefopt/detail/simd.hpp>
#include <prefopt/kl/token_kl.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/preference_loss.hpp>
#include <prefopt/logps/sequence_logps.hpp>

#include <sys/resource.h>

namespace {

using prefopt::index_t;
using B = prefopt::eigen::backend<float>;
using clock_type = std::chrono::steady_clock;

template <class T>
std::vector<T> read_file(const std::string& path, std::size_t n) {
  std::vector<T> v(n);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)))) {
    std::cerr << "cannot read " << n << " values from " << path << "\n";
    std::exit(2);
  }
  return v;
}

template <class T>
void write_file(const std::string& path, const T* p, std::size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n * sizeof(T)));
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double minflt_per_call = 0;  // of the last best_of's timed calls

template <class F>
double best_of(int repeats, F&& f) {
  f();  // warm-up (page faults, thread start)
  double best = 1e300;
  const long faults = minor_faults();
  for (int r = 0; r < repeats; ++r) {
    const auto s = clock_type::now();
    f();
    best = std::min(best, std::chrono::duration<double>(clock_type::now() - s).count());
  }
  minflt_per_call = repeats > 0 ? double(minor_faults() - faults) / repeats : 0.0;
  return best;
}

void report(double seconds) {
  std::printf("prefopt_s=%.6g isa=%s minflt_per_call=%.1f\n", seconds,
              prefopt::detail::simd::isa_name(prefopt::detail::simd::active_isa()), minflt_per_call);
}

int probe(std::size_t bytes, int threads, int repeats) {
  const std::size_t n = bytes / sizeof(std::uint64_t);
  std::vector<std::uint64_t> buf(n);
  prefopt::detail::parallel_blocks(static_cast<index_t>(n), threads, 1 << 16, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) buf[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i) * 2654435761u;
  });
  std::atomic<std::uint64_t> sink{0};
  const double s = best_of(repeats, [&] {
    prefopt::detail::parallel_blocks(static_cast<index_t>(n), threads, 1 << 16, [&](index_t b, index_t e) {
      std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;  // integer sums vectorise with SSE2 alone
      index_t i = b;
      for (; i + 4 <= e; i += 4) {
        a0 += buf[static_cast<std::size_t>(i)];
        a1 += buf[static_cast<std::size_t>(i + 1)];
        a2 += buf[static_cast<std::size_t>(i + 2)];
        a3 += buf[static_cast<std::size_t>(i + 3)];
      }
      for (; i < e; ++i) a0 += buf[static_cast<std::size_t>(i)];
      sink += a0 ^ a1 ^ a2 ^ a3;
    });
  });
  std::printf("read_gbs=%.4g seconds=%.6g sink=%llu\n", double(bytes) / s / 1e9, s,
              static_cast<unsigned long long>(sink.load() & 1u));
  return 0;
}

enum class logps_mode { forward, two_calls, one_pass };

int logps(const std::string& dir, index_t b, index_t t, index_t v, int threads, int repeats,
          logps_mode mode) {
  const auto logits = read_file<float>(dir + "/logits.f32", static_cast<std::size_t>(b * t * v));
  const auto labels = read_file<std::int64_t>(dir + "/labels.i64", static_cast<std::size_t>(b * t));
  const auto lv = prefopt::logits_view<const float>::contiguous(logits.data(), b, t, v);
  const auto yv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), b, t);
  const prefopt::matrix_view<const std::uint8_t> no_mask{};
  prefopt::sequence_logps_options options;
  options.threads = threads;
  prefopt::sequence_logps_result<B> fwd;
  if (mode == logps_mode::forward) {
    report(best_of(repeats, [&] { fwd = prefopt::sequence_logps<B>(lv, yv, no_mask, options); }));
    write_file(dir + "/out_token_logps.f32", fwd.token_logps.data(),
               static_cast<std::size_t>(fwd.token_logps.size()));
    return 0;
  }
  std::vector<float> grad(logits.size());
  const auto gv = prefopt::logits_view<float>::contiguous(grad.data(), b, t, v);
  const B::vector_type grad_sum = B::vector_type::Ones(b);
  report(best_of(repeats, [&] {
    if (mode == logps_mode::one_pass) {
      fwd = prefopt::sequence_logps_with_grad<B>(lv, yv, no_mask, grad_sum, nullptr, gv, options);
    } else {
      fwd = prefopt::sequence_logps<B>(lv, yv, no_mask, options);
      prefopt::sequence_logps_backward<B>(lv, yv, no_mask, fwd, grad_sum, nullptr, gv, options);
    }
  }));
  std::vector<float> rows;
  for (index_t r = 0; r < b * t; r += 64)
    rows.insert(rows.end(), grad.begin() + r * v, grad.begin() + (r + 1) * v);
  write_file(dir + "/out_grad_rows.f32", rows.data(), rows.size());
  return 0;
}

/// Peak resident set of this process in KiB: VmHWM of /proc/self/status (reset by exec, unlike
/// getrusage's ru_maxrss, which keeps the high-water mark of the process that exec'd us).
long peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int head(const std::string& dir, index_t n, index_t h, index_t v, int threads, int repeats,
         index_t vocab_chunk, index_t token_chunk) {
  const auto hidden = read_file<float>(dir + "/hidden.f32", static_cast<std::size_t>(n * h));
  const auto weight = read_file<float>(dir + "/weight.f32", static_cast<std::size_t>(v * h));
  const auto labels = read_file<std::int64_t>(dir + "/labels.i64", static_cast<std::size_t>(n));
  std::vector<float> logp(static_cast<std::size_t>(n)), lse(logp.size()), ones(logp.size(), 1.0f);
  std::vector<float> gh(hidden.size()), gw(weight.size());
  // Touch every output page, so the baseline counts what the caller owns anyway.
  std::fill(gh.begin(), gh.end(), 0.0f);
  std::fill(gw.begin(), gw.end(), 0.0f);
  const long rss_inputs = peak_rss_kb();
  prefopt::linear_head_options o;
  o.threads = threads;
  o.vocab_chunk = vocab_chunk;
  o.token_chunk = token_chunk;
  const auto hv = prefopt::matrix_view<const float>::contiguous(hidden.data(), n, h);
  const auto wv = prefopt::matrix_view<const float>::contiguous(weight.data(), v, h);
  const std::span<const std::int64_t> y(labels);
  const double s = best_of(repeats, [&] {
    prefopt::eigen::linear_head_logps(hv, wv, y, std::span<float>(logp), std::span<float>(lse), o);
    prefopt::eigen::linear_head_logps_backward(
        hv, wv, y, std::span<const float>(lse), std::span<const float>(ones),
        prefopt::matrix_view<float>::contiguous(gh.data(), n, h),
        prefopt::matrix_view<float>::contiguous(gw.data(), v, h), o);
  });
  std::printf("prefopt_s=%.6g isa=%s rss_inputs_kb=%ld peak_rss_kb=%ld\n", s,
              prefopt::detail::simd::isa_name(prefopt::detail::simd::active_isa()), rss_inputs,
              peak_rss_kb());
  write_file(dir + "/out_logp.f32", logp.data(), logp.size());
  write_file(dir + "/out_grad_hidden.f32", gh.data(), gh.size());
  std::vector<float> rows;
  for (index_t r = 0; r < v; r += 64) rows.insert(rows.end(), gw.begin() + r * h, gw.begin() + (r + 1) * h);
  write_file(dir + "/out_grad_weight_rows.f32", rows.data(), rows.size());
  return 0;
}

int sgemm(index_t n, index_t h, index_t v, int threads, int repeats) {
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const M a = M::Random(n, h), b = M::Random(v, h);
  M c(n, v);
  const index_t t = std::max(1, threads);
  const double s = best_of(repeats, [&] {
    prefopt::detail::parallel_blocks(t, threads, 1, [&](index_t k0, index_t k1) {
      for (index_t k = k0; k < k1; ++k) {
        const index_t r0 = n * k / t, r1 = n * (k + 1) / t;
        c.middleRows(r0, r1 - r0).noalias() = a.middleRows(r0, r1 - r0) * b.transpose();
      }
    });
  });
  std::printf("gflops=%.6g seconds=%.6g check=%g\n", 2.0 * double(n) * double(h) * double(v) / s / 1e9,
              s, double(c(0, 0)));
  return 0;
}

int token_kl(const std::string& dir, index_t b, index_t t, index_t v, int threads, int repeats,
             bool backward, bool fused) {
  const auto n = static_cast<std::size_t>(b * t * v);
  const auto policy = read_file<float>(dir + "/policy.f32", n), ref = read_file<float>(dir + "/ref.f32", n);
  const auto labels = read_file<std::int64_t>(dir + "/labels.i64", static_cast<std::size_t>(b * t));
  const auto pv = prefopt::logits_view<const float>::contiguous(policy.data(), b, t, v);
  const auto rv = prefopt::logits_view<const float>::contiguous(ref.data(), b, t, v);
  const auto yv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), b, t);
  const prefopt::matrix_view<const std::uint8_t> no_mask{};
  prefopt::kl::token_kl_options options;  // forward KL(policy || ref)
  options.threads = threads;
  options.compute_mean = false;
  prefopt::kl::token_kl_result<float> fwd;
  std::vector<float> grad(backward ? n : 0);
  const std::vector<float> grad_sum(static_cast<std::size_t>(b), 1.0f);
  const auto gv = prefopt::logits_view<float>::contiguous(grad.data(), b, t, v);
  report(best_of(repeats, [&] {
    if (fused) {
      fwd = prefopt::kl::token_kl_with_grad(pv, rv, yv, no_mask, std::span<const float>(grad_sum), {},
                                            gv, prefopt::logits_view<float>{}, options);
      return;
    }
    fwd = prefopt::kl::token_kl(pv, rv, yv, no_mask, options);
    if (backward)
      prefopt::kl::token_kl_backward(pv, rv, yv, no_mask, std::span<const float>(grad_sum), {},
                                     gv, prefopt::logits_view<float>{}, options);
  }));
  write_file(dir + "/out_token_kl.f32", fwd.token.data(), fwd.token.size());
  if (backward) {
    std::vector<float> rows;
    for (index_t r = 0; r < b * t; r += 64)
      rows.insert(rows.end(), grad.begin() + r * v, grad.begin() + (r + 1) * v);
    write_file(dir + "/out_grad_rows.f32", rows.data(), rows.size());
  }
  return 0;
}

int dpo(const std::string& dir, std::size_t n, int threads, int repeats, bool reuse) {
  namespace pl = prefopt::losses;
  const auto cw = read_file<float>(dir + "/cw.f32", n), cl = read_file<float>(dir + "/cl.f32", n),
             rw = read_file<float>(dir + "/rw.f32", n), rl = read_file<float>(dir + "/rl.f32", n);
  const pl::sigmoid<float> loss(0.1f);
  const pl::preference_batch<float> batch{cw, cl, rw, rl};
  pl::preference_loss_options<float> options;
  options.threads = threads;
  pl::preference_loss_result<B> out;  // kept across calls: the reusing form writes into it
  if (reuse)
    report(best_of(repeats, [&] { pl::preference_loss<B>(loss, batch, out, options); }));
  else
    report(best_of(repeats, [&] { out = pl::preference_loss<B>(loss, batch, options); }));
  write_file(dir + "/out_loss.f32", &out.loss, 1);
  write_file(dir + "/out_grad_chosen.f32", out.grad_chosen.data(), n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  auto num = [&](std::size_t i) { return std::stoll(a.at(i)); };
  try {
    if (!a.empty() && a[0] == "probe" && a.size() == 4)
      return probe(static_cast<std::size_t>(num(1)), int(num(2)), int(num(3)));
    if (!a.empty() && (a[0] == "logps_fwd" || a[0] == "logps_bwd" || a[0] == "logps_fused") &&
        a.size() == 7)
      return logps(a[1], num(2), num(3), num(4), int(num(5)), int(num(6)),
                   a[0] == "logps_fwd"   ? logps_mode::forward
                   : a[0] == "logps_bwd" ? logps_mode::two_calls
                                         : logps_mode::one_pass);
    if (!a.empty() && a[0] == "head" && a.size() == 9)
      return head(a[1], num(2), num(3), num(4), int(num(5)), int(num(6)), num(7), num(8));
    if (!a.empty() && a[0] == "sgemm" && a.size() == 6)
      return sgemm(num(1), num(2), num(3), int(num(4)), int(num(5)));
    if (!a.empty() && (a[0] == "kl_fwd" || a[0] == "kl_bwd" || a[0] == "kl_fused") && a.size() == 7)
      return token_kl(a[1], num(2), num(3), num(4), int(num(5)), int(num(6)), a[0] != "kl_fwd",
                      a[0] == "kl_fused");
    if (!a.empty() && (a[0] == "dpo" || a[0] == "dpo_alloc") && a.size() == 5)
      return dpo(a[1], static_cast<std::size_t>(num(2)), int(num(3)), int(num(4)), a[0] == "dpo");
  } catch (const std::exception& e) {
    std::cerr << "prefopt_compare_driver: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: prefopt_compare_driver probe BYTES THREADS REPEATS | "
               "logps_fwd|logps_bwd|logps_fused|kl_fwd|kl_bwd|kl_fused DIR B T V "
               "THREADS REPEATS | head DIR N H V THREADS REPEATS VOCAB_CHUNK TOKEN_CHUNK | sgemm N H V THREADS "
               "REPEATS | dpo|dpo_alloc DIR N THREADS REPEATS\n";
  return 2;
}
