// prefopt::cuda::linear_head_logps / linear_head_logps_backward (cuBLAS GEMMs, device kernels)
// against an unfused reference written here from the definition in double on the host
// (explicit logits, log-softmax, gather, G = g (onehot - softmax), G W, G^T hidden): chunk sizes
// that do and do not divide V, padded strides, ignored rows, int32 and int64 labels, V = 1,
// large-norm hidden states, float and double; and the host-side rejections with the CPU messages.
//
// The first test case needs no device (checks that run before any CUDA call); every later one
// skips the whole executable without a usable CUDA device (tests/support/device_skip.hpp).
#include <catch2/catch.hpp>

#include <prefopt/backends/cuda/linear_head.cuh>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../support/random.hpp"
#include "support/device_skip.hpp"

namespace {

using prefopt::index_t;
using prefopt::linear_head_options;
namespace cu = prefopt::cuda;
using ld = double;  // the reference's accumulator (nvcc treats long double as double in device code and warns)
template <class T>
using dview = prefopt::matrix_view<T, prefopt::device_space>;

void require_device() {
  std::string reason;
  if (!cu::device_available(&reason))
    prefopt::testing::skip_for_missing_device("no usable CUDA device (" + reason + ")");
}

template <class T, class L>
struct problem {
  index_t N, H, V, stride;  // hidden and weight rows padded to `stride` (padding NaN)
  std::vector<T> hidden, weight, grad_logp;
  std::vector<L> labels;
};

template <class T, class L>
problem<T, L> make_problem(index_t N, index_t H, index_t V, std::uint64_t seed, double scale) {
  prefopt_test::bits_rng rng(seed);
  problem<T, L> p{N, H, V, H + 2, {}, {}, {}, {}};
  p.hidden.assign(static_cast<std::size_t>(N * p.stride), std::numeric_limits<T>::quiet_NaN());
  p.weight.assign(static_cast<std::size_t>(V * p.stride), std::numeric_limits<T>::quiet_NaN());
  for (index_t n = 0; n < N; ++n)
    for (index_t k = 0; k < H; ++k)
      p.hidden[static_cast<std::size_t>(n * p.stride + k)] = static_cast<T>(scale * rng.normal());
  for (index_t v = 0; v < V; ++v)
    for (index_t k = 0; k < H; ++k)
      p.weight[static_cast<std::size_t>(v * p.stride + k)] =
          static_cast<T>(rng.normal() / std::sqrt(static_cast<double>(H)));
  for (index_t n = 0; n < N; ++n) {
    p.labels.push_back(rng.uniform() < 0.2 ? L(-100) : static_cast<L>(rng.below(static_cast<std::uint64_t>(V))));
    p.grad_logp.push_back(static_cast<T>(rng.uniform(-2.0, 2.0)));
  }
  return p;
}

struct reference {
  std::vector<ld> logp, grad_hidden, grad_weight;
};

template <class T, class L>
reference unfused(const problem<T, L>& p) {
  reference r{std::vector<ld>(static_cast<std::size_t>(p.N)),
              std::vector<ld>(static_cast<std::size_t>(p.N * p.H)),
              std::vector<ld>(static_cast<std::size_t>(p.V * p.H))};
  std::vector<ld> z(static_cast<std::size_t>(p.V));
  auto h = [&](index_t n, index_t k) { return static_cast<ld>(p.hidden[static_cast<std::size_t>(n * p.stride + k)]); };
  auto w = [&](index_t v, index_t k) { return static_cast<ld>(p.weight[static_cast<std::size_t>(v * p.stride + k)]); };
  for (index_t n = 0; n < p.N; ++n) {
    const auto y = static_cast<std::int64_t>(p.labels[static_cast<std::size_t>(n)]);
    if (y == -100) continue;
    ld m = -std::numeric_limits<ld>::infinity();
    for (index_t v = 0; v < p.V; ++v) {
      ld s = 0;
      for (index_t k = 0; k < p.H; ++k) s += h(n, k) * w(v, k);
      z[static_cast<std::size_t>(v)] = s;
      m = std::max(m, s);
    }
    ld sum = 0;
    for (ld x : z) sum += std::exp(x - m);
    const ld lse = m + std::log(sum);
    r.logp[static_cast<std::size_t>(n)] = z[static_cast<std::size_t>(y)] - lse;
    const ld g = p.grad_logp[static_cast<std::size_t>(n)];
    for (index_t v = 0; v < p.V; ++v) {
      const ld G = g * ((v == y ? 1.0 : 0.0) - std::exp(z[static_cast<std::size_t>(v)] - lse));
      for (index_t k = 0; k < p.H; ++k) {
        r.grad_hidden[static_cast<std::size_t>(n * p.H + k)] += G * w(v, k);
        r.grad_weight[static_cast<std::size_t>(v * p.H + k)] += G * h(n, k);
      }
    }
  }
  return r;
}

template <class T>
void check_close(const std::vector<T>& got, index_t rows, index_t cols, index_t stride,
                 const std::vector<ld>& want, double tol, const char* what) {
  ld scale = 0;
  for (ld x : want) scale = std::max(scale, std::fabs(x));
  for (index_t r = 0; r < rows; ++r)
    for (index_t c = 0; c < cols; ++c) {
      const ld g = got[static_cast<std::size_t>(r * stride + c)];
      const ld x = want[static_cast<std::size_t>(r * cols + c)];
      INFO(what << "(" << r << ", " << c << ") got " << static_cast<double>(g) << " want " << static_cast<double>(x));
      REQUIRE(std::fabs(g - x) <= tol * (1 + scale));
    }
}

template <class T, class L>
void check_case(index_t N, index_t H, index_t V, std::uint64_t seed, double scale,
                const linear_head_options& o, double tol) {
  const auto p = make_problem<T, L>(N, H, V, seed, scale);
  const reference r = unfused(p);
  auto hidden = cu::upload(p.hidden);
  auto weight = cu::upload(p.weight);
  auto labels = cu::upload(p.labels);
  auto grad_logp = cu::upload(p.grad_logp);
  cu::device_buffer<T> logp(N), lse(N), gh(N * p.stride), gw(V * p.stride);
  const dview<const T> hv{hidden.data(), N, H, p.stride}, wv{weight.data(), V, H, p.stride};
  cu::linear_head_logps<T, L>(hv, wv, labels.data(), logp.data(), lse.data(), o);
  cu::linear_head_logps_backward<T, L>(hv, wv, labels.data(), lse.data(), grad_logp.data(),
                                       {gh.data(), N, H, p.stride}, {gw.data(), V, H, p.stride}, o);
  check_close(cu::download(logp.data(), N), N, 1, 1, r.logp, tol, "logp");
  check_close(cu::download(gh.data(), N * p.stride), N, H, p.stride, r.grad_hidden, tol, "grad_hidden");
  check_close(cu::download(gw.data(), V * p.stride), V, H, p.stride, r.grad_weight, tol, "grad_weight");
}

}  // namespace

TEST_CASE("cuda linear head: shape and option errors before any CUDA call", "[cuda][linear_head]") {
  using Catch::Contains;
  const float* fake = reinterpret_cast<const float*>(std::uintptr_t{256});
  const std::int64_t* labels = reinterpret_cast<const std::int64_t*>(std::uintptr_t{512});
  float* out = reinterpret_cast<float*>(std::uintptr_t{1024});
  const dview<const float> h{fake, 4, 3, 2}, good{fake, 4, 3, 3}, w{fake, 5, 3, 3};
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(h, w, labels, out, out + 8)),
                    Contains("hidden.row_stride = 2"));
  linear_head_options o;
  o.vocab_chunk = 0;
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(good, w, labels, out, out + 8, o)),
                    Contains("options.vocab_chunk = 0"));
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(good, w, nullptr, out, out + 8)),
                    Contains("labels = \"nullptr\"") && Contains("must point to hidden.rows labels"));
}

TEST_CASE("cuda linear head: equals the unfused reference", "[cuda][linear_head]") {
  require_device();
  for (index_t vc : {index_t(1), index_t(5), index_t(37), index_t(2048)})
    for (index_t tc : {index_t(1), index_t(7), index_t(1024)}) {
      linear_head_options o;
      o.vocab_chunk = vc;
      o.token_chunk = tc;
      INFO("vocab_chunk " << vc << " token_chunk " << tc);
      check_case<double, std::int64_t>(23, 9, 37, 1, 2.0, o, 1e-12);
      check_case<float, std::int32_t>(23, 9, 37, 1, 2.0, o, 2e-5);
    }
  check_case<double, std::int64_t>(5, 4, 1, 2, 1.0, {}, 1e-13);          // V = 1
  check_case<double, std::int32_t>(1, 6, 11, 3, 1.0, {}, 1e-12);         // N = 1
  check_case<double, std::int64_t>(9, 8, 29, 4, 3000.0, {}, 1e-12);      // large-norm hidden
  check_case<float, std::int64_t>(300, 64, 3000, 5, 1.0, {}, 2e-5);      // several blocks
}

TEST_CASE("cuda linear head: bad labels and overlapping outputs are rejected", "[cuda][linear_head]") {
  require_device();
  using Catch::Contains;
  auto p = make_problem<float, std::int64_t>(4, 3, 5, 6, 1.0);
  p.labels[2] = 5;
  auto hidden = cu::upload(p.hidden);
  auto weight = cu::upload(p.weight);
  auto labels = cu::upload(p.labels);
  cu::device_buffer<float> logp(4), lse(4);
  const dview<const float> hv{hidden.data(), 4, 3, p.stride}, wv{weight.data(), 5, 3, p.stride};
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(hv, wv, labels.data(), logp.data(), lse.data())),
                    Contains("labels[2] = 5"));
  p.labels[2] = 1;
  labels = cu::upload(p.labels);
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(hv, wv, labels.data(), logp.data(), logp.data())),
                    Contains("must not overlap lse"));
  std::vector<float> host(4);
  CHECK_THROWS_WITH((cu::linear_head_logps<float, std::int64_t>(hv, wv, labels.data(), host.data(), lse.data())),
                    Contains("logp"));
}
