// The chunked fused linear head (prefopt/backends/eigen/linear_head.hpp) against an unfused
// reference written here from the definition in long double: explicit [N, V] logits, log-softmax,
// gather, and the gradients G = g (onehot - softmax), G W, G^T hidden, by explicit loops. Also:
// central finite differences of sum_n g_n logp_n for both gradients (double), bit-identical
// results for every thread count, every rejected input named in its message, and a PyTorch
// autograd fixture (tests/reference/linear_head/, float64).
#include <catch2/catch.hpp>

#include <prefopt/backends/eigen/linear_head.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "support/random.hpp"

namespace {

using prefopt::index_t;
using prefopt::linear_head_options;
using prefopt::matrix_view;
namespace pe = prefopt::eigen;
using ld = long double;

/// A problem with padded rows (row_stride = cols + pad; padding NaN, never read).
template <class T, class L = std::int64_t>
struct problem {
  index_t N, H, V, pad;
  std::vector<T> hidden, weight;
  std::vector<L> labels;
  std::vector<T> grad_logp;

  matrix_view<const T> h() const { return {hidden.data(), N, H, H + pad}; }
  matrix_view<const T> w() const { return {weight.data(), V, H, H + pad}; }
  std::span<const L> y() const { return labels; }
};

template <class T, class L = std::int64_t>
problem<T, L> make_problem(index_t N, index_t H, index_t V, std::uint64_t seed, double scale = 1.0,
                           double ignored_fraction = 0.2, index_t pad = 0) {
  prefopt_test::bits_rng rng(seed);
  problem<T, L> p{N, H, V, pad, {}, {}, {}, {}};
  const T nan = std::numeric_limits<T>::quiet_NaN();
  p.hidden.assign(static_cast<std::size_t>(N * (H + pad)), nan);
  p.weight.assign(static_cast<std::size_t>(V * (H + pad)), nan);
  for (index_t n = 0; n < N; ++n)
    for (index_t k = 0; k < H; ++k)
      p.hidden[static_cast<std::size_t>(n * (H + pad) + k)] = static_cast<T>(scale * rng.normal());
  for (index_t v = 0; v < V; ++v)
    for (index_t k = 0; k < H; ++k)
      p.weight[static_cast<std::size_t>(v * (H + pad) + k)] =
          static_cast<T>(rng.normal() / std::sqrt(static_cast<double>(H)));
  for (index_t n = 0; n < N; ++n) {
    p.labels.push_back(rng.uniform() < ignored_fraction ? L(-100)
                                                        : static_cast<L>(rng.below(static_cast<std::uint64_t>(V))));
    p.grad_logp.push_back(static_cast<T>(rng.uniform(-2.0, 2.0)));
  }
  return p;
}

/// The unfused reference in long double.
struct reference {
  std::vector<ld> logp, lse, grad_hidden, grad_weight;  // [N], [N], [N*H], [V*H]
};

template <class T, class L>
reference unfused(const problem<T, L>& p) {
  const index_t N = p.N, H = p.H, V = p.V;
  reference r;
  r.logp.assign(static_cast<std::size_t>(N), 0);
  r.lse.assign(static_cast<std::size_t>(N), 0);
  r.grad_hidden.assign(static_cast<std::size_t>(N * H), 0);
  r.grad_weight.assign(static_cast<std::size_t>(V * H), 0);
  const auto hv = p.h();
  const auto wv = p.w();
  std::vector<ld> logits(static_cast<std::size_t>(V));
  for (index_t n = 0; n < N; ++n) {
    ld m = -std::numeric_limits<ld>::infinity();
    for (index_t v = 0; v < V; ++v) {
      ld s = 0;
      for (index_t k = 0; k < H; ++k) s += static_cast<ld>(hv(n, k)) * static_cast<ld>(wv(v, k));
      logits[static_cast<std::size_t>(v)] = s;
      m = std::max(m, s);
    }
    ld z = 0;
    for (index_t v = 0; v < V; ++v) z += std::exp(logits[static_cast<std::size_t>(v)] - m);
    const ld lse = m + std::log(z);
    r.lse[static_cast<std::size_t>(n)] = lse;
    const auto y = static_cast<std::int64_t>(p.labels[static_cast<std::size_t>(n)]);
    if (y == -100) continue;
    r.logp[static_cast<std::size_t>(n)] = logits[static_cast<std::size_t>(y)] - lse;
    const ld g = static_cast<ld>(p.grad_logp[static_cast<std::size_t>(n)]);
    for (index_t v = 0; v < V; ++v) {
      const ld G = g * ((v == y ? 1.0L : 0.0L) - std::exp(logits[static_cast<std::size_t>(v)] - lse));
      for (index_t k = 0; k < H; ++k) {
        r.grad_hidden[static_cast<std::size_t>(n * H + k)] += G * static_cast<ld>(wv(v, k));
        r.grad_weight[static_cast<std::size_t>(v * H + k)] += G * static_cast<ld>(hv(n, k));
      }
    }
  }
  return r;
}

template <class T>
struct fused_out {
  std::vector<T> logp, lse, grad_hidden, grad_weight;
};

template <class T, class L>
fused_out<T> run_fused(const problem<T, L>& p, const linear_head_options& o, index_t out_pad = 0) {
  fused_out<T> f;
  auto fwd = pe::linear_head_logps<T, L>(p.h(), p.w(), p.y(), o);
  f.logp = fwd.logp;
  f.lse = fwd.lse;
  std::vector<T> gh(static_cast<std::size_t>(p.N * (p.H + out_pad)), T(-7));
  std::vector<T> gw(static_cast<std::size_t>(p.V * (p.H + out_pad)), T(-7));
  pe::linear_head_logps_backward<T, L>(p.h(), p.w(), p.y(), std::span<const T>(f.lse),
                                       std::span<const T>(p.grad_logp),
                                       {gh.data(), p.N, p.H, p.H + out_pad},
                                       {gw.data(), p.V, p.H, p.H + out_pad}, o);
  for (index_t n = 0; n < p.N; ++n)
    for (index_t k = 0; k < p.H; ++k) f.grad_hidden.push_back(gh[static_cast<std::size_t>(n * (p.H + out_pad) + k)]);
  for (index_t v = 0; v < p.V; ++v)
    for (index_t k = 0; k < p.H; ++k) f.grad_weight.push_back(gw[static_cast<std::size_t>(v * (p.H + out_pad) + k)]);
  if (out_pad > 0) {  // padding untouched
    for (index_t n = 0; n < p.N; ++n)
      for (index_t k = p.H; k < p.H + out_pad; ++k) CHECK(gh[static_cast<std::size_t>(n * (p.H + out_pad) + k)] == T(-7));
  }
  return f;
}

/// max |got - want| / (abs + rel * max |want|) <= 1 elementwise.
template <class T>
void check_close(const std::vector<T>& got, const std::vector<ld>& want, double abs, double rel,
                 const char* what) {
  REQUIRE(got.size() == want.size());
  ld scale = 0;
  for (ld w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    const ld err = std::fabs(static_cast<ld>(got[i]) - want[i]);
    INFO(what << "[" << i << "] got " << static_cast<double>(got[i]) << " want "
              << static_cast<double>(want[i]));
    REQUIRE(err <= static_cast<ld>(abs) + static_cast<ld>(rel) * scale);
  }
}

template <class T, class L>
void check_against_reference(const problem<T, L>& p, const linear_head_options& o, double tol,
                             index_t out_pad = 0) {
  const reference r = unfused(p);
  const fused_out<T> f = run_fused(p, o, out_pad);
  check_close(f.logp, r.logp, tol, tol, "logp");
  for (std::size_t n = 0; n < r.lse.size(); ++n)  // lse relative to its own size
    REQUIRE(std::fabs(static_cast<ld>(f.lse[n]) - r.lse[n]) <= tol * (1 + std::fabs(r.lse[n])));
  check_close(f.grad_hidden, r.grad_hidden, tol, tol, "grad_hidden");
  check_close(f.grad_weight, r.grad_weight, tol, tol, "grad_weight");
}

}  // namespace

TEST_CASE("linear head: chunked forward and backward equal the unfused reference", "[linear_head]") {
  const auto p = make_problem<double>(23, 9, 37, 1, 2.0, 0.2, 3);
  const auto pf = make_problem<float>(23, 9, 37, 1, 2.0, 0.2, 3);
  // Chunk sizes that divide V = 37 (37, 1) and that do not (2, 5, 16), larger than V (64);
  // token chunks of 1, 7 (not dividing 23) and more than N; blocks of 1, 3 and 128 rows.
  for (index_t vc : {index_t(1), index_t(2), index_t(5), index_t(16), index_t(37), index_t(64)})
    for (index_t tc : {index_t(1), index_t(7), index_t(100)})
      for (index_t br : {index_t(1), index_t(3), index_t(128)}) {
        linear_head_options o;
        o.vocab_chunk = vc;
        o.token_chunk = tc;
        o.block_rows = br;
        o.threads = 2;
        INFO("vocab_chunk " << vc << " token_chunk " << tc << " block_rows " << br);
        check_against_reference(p, o, 1e-12);
        check_against_reference(pf, o, 2e-5);
      }
}

TEST_CASE("linear head: padded outputs, int32 labels, default options", "[linear_head]") {
  check_against_reference(make_problem<double, std::int32_t>(40, 17, 300, 2, 1.0, 0.3, 2), {},
                          1e-12, 5);
  check_against_reference(make_problem<float, std::int32_t>(40, 17, 300, 2, 1.0, 0.3, 0), {},
                          2e-5, 1);
}

TEST_CASE("linear head: V = 1, N = 1, all rows ignored, N = 0", "[linear_head]") {
  linear_head_options o;
  o.vocab_chunk = 3;
  // V = 1: logp = 0 exactly, softmax = 1, so every gradient is 0.
  auto p1 = make_problem<double>(5, 4, 1, 3, 1.0, 0.0);
  check_against_reference(p1, o, 1e-14);
  const auto f1 = run_fused(p1, o);
  for (double x : f1.logp) CHECK(x == 0.0);
  check_against_reference(make_problem<double>(1, 6, 11, 4, 1.0, 0.0), o, 1e-12);
  check_against_reference(make_problem<float>(1, 6, 11, 4, 1.0, 0.0), o, 2e-5);
  // All ignored: logp 0 and both gradients exactly 0.
  auto pi = make_problem<double>(6, 5, 9, 5, 1.0, 1.0);
  const auto fi = run_fused(pi, o);
  for (double x : fi.logp) CHECK(x == 0.0);
  for (double x : fi.grad_hidden) CHECK(x == 0.0);
  for (double x : fi.grad_weight) CHECK(x == 0.0);
  // N = 0: nothing to do, grad_weight zeroed.
  std::vector<float> w(12, 1.0f), gw(12, 5.0f);
  const std::vector<std::int64_t> none;
  std::vector<float> empty;
  pe::linear_head_logps<float, std::int64_t>({nullptr, 0, 4, 4}, {w.data(), 3, 4, 4}, none,
                                             std::span<float>(empty), std::span<float>(empty));
  pe::linear_head_logps_backward<float, std::int64_t>(
      {nullptr, 0, 4, 4}, {w.data(), 3, 4, 4}, none, std::span<const float>(empty),
      std::span<const float>(empty), {nullptr, 0, 4, 4}, {gw.data(), 3, 4, 4});
  for (float x : gw) CHECK(x == 0.0f);
}

TEST_CASE("linear head: extreme logits (large-norm hidden states) do not overflow", "[linear_head]") {
  // |logits| up to ~2e4 (float and double): exp would overflow without the max shift.
  linear_head_options o;
  o.vocab_chunk = 7;
  for (double scale : {300.0, 3000.0}) {
    INFO("scale " << scale);
    check_against_reference(make_problem<double>(9, 8, 29, 6, scale, 0.1), o, 1e-12);
    // float: logits of size L carry an absolute rounding error of ~L * 2^-24 per product.
    auto pf = make_problem<float>(9, 8, 29, 6, scale, 0.1);
    const reference r = unfused(pf);
    const auto f = run_fused(pf, o);
    for (std::size_t n = 0; n < f.logp.size(); ++n) {
      REQUIRE(std::isfinite(f.logp[n]));
      REQUIRE(std::isfinite(f.lse[n]));
      CHECK(std::fabs(static_cast<ld>(f.logp[n]) - r.logp[n]) <= 1e-5 * (1 + std::fabs(r.lse[n])));
    }
    for (float x : f.grad_hidden) REQUIRE(std::isfinite(x));
    for (float x : f.grad_weight) REQUIRE(std::isfinite(x));
  }
}

TEST_CASE("linear head: gradients equal central finite differences", "[linear_head]") {
  auto p = make_problem<double>(6, 5, 13, 8, 1.5, 0.2, 1);
  linear_head_options o;
  o.vocab_chunk = 4;
  o.token_chunk = 4;
  o.block_rows = 3;
  const auto f = run_fused(p, o);
  auto objective = [&] {
    const auto r = pe::linear_head_logps<double, std::int64_t>(p.h(), p.w(), p.y(), o);
    double s = 0;
    for (std::size_t n = 0; n < r.logp.size(); ++n) s += p.grad_logp[n] * r.logp[n];
    return s;
  };
  const double eps = 1e-6;
  auto fd = [&](double& x) {
    const double x0 = x;
    x = x0 + eps;
    const double up = objective();
    x = x0 - eps;
    const double down = objective();
    x = x0;
    return (up - down) / (2 * eps);
  };
  for (index_t n = 0; n < p.N; ++n)
    for (index_t k = 0; k < p.H; ++k) {
      INFO("hidden(" << n << ", " << k << ")");
      const double num = fd(p.hidden[static_cast<std::size_t>(n * (p.H + 1) + k)]);
      CHECK(f.grad_hidden[static_cast<std::size_t>(n * p.H + k)] == Approx(num).margin(1e-7));
    }
  for (index_t v = 0; v < p.V; ++v)
    for (index_t k = 0; k < p.H; ++k) {
      INFO("weight(" << v << ", " << k << ")");
      const double num = fd(p.weight[static_cast<std::size_t>(v * (p.H + 1) + k)]);
      CHECK(f.grad_weight[static_cast<std::size_t>(v * p.H + k)] == Approx(num).margin(1e-7));
    }
}

TEST_CASE("linear head: equals PyTorch autograd (fixture)", "[linear_head]") {
  std::ifstream in(PREFOPT_LINEAR_HEAD_FIXTURE);
  REQUIRE(in);
  index_t N = 0, H = 0, V = 0;
  in >> N >> H >> V;
  auto read = [&](index_t n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) in >> x;
    return v;
  };
  problem<double> p{N, H, V, 0, read(N * H), read(V * H), {}, {}};
  for (index_t n = 0; n < N; ++n) {
    std::int64_t y = 0;
    in >> y;
    p.labels.push_back(y);
  }
  p.grad_logp = read(N);
  const auto logp = read(N), gh = read(N * H), gw = read(V * H);
  REQUIRE(in);
  auto to_ld = [](const std::vector<double>& v) { return std::vector<ld>(v.begin(), v.end()); };
  linear_head_options o;
  o.vocab_chunk = 4;  // 13 = 4 + 4 + 4 + 1
  o.token_chunk = 3;
  const auto f = run_fused(p, o);
  check_close(f.logp, to_ld(logp), 1e-12, 1e-12, "logp");
  check_close(f.grad_hidden, to_ld(gh), 1e-12, 1e-12, "grad_hidden");
  check_close(f.grad_weight, to_ld(gw), 1e-12, 1e-12, "grad_weight");
  // float: the inputs are float32 values, so only the float arithmetic differs.
  problem<float> pf{N, H, V, 0, {}, {}, p.labels, {}};
  for (double x : p.hidden) pf.hidden.push_back(static_cast<float>(x));
  for (double x : p.weight) pf.weight.push_back(static_cast<float>(x));
  for (double x : p.grad_logp) pf.grad_logp.push_back(static_cast<float>(x));
  const auto ff = run_fused(pf, o);
  check_close(ff.logp, to_ld(logp), 2e-5, 2e-6, "logp (float)");
  check_close(ff.grad_hidden, to_ld(gh), 2e-5, 2e-6, "grad_hidden (float)");
  check_close(ff.grad_weight, to_ld(gw), 2e-5, 2e-6, "grad_weight (float)");
}

// == is right here: every block's arithmetic is fixed by the sizes and the chunk options (fixed
// blocks, fixed accumulation order), and threads only choose which thread runs which block.
TEST_CASE("linear head: results are bit-identical for every thread count", "[linear_head]") {
  const auto p = make_problem<float>(301, 33, 517, 9, 1.0, 0.1);
  linear_head_options o;
  o.vocab_chunk = 128;
  o.token_chunk = 100;
  o.block_rows = 16;
  o.threads = 1;
  const auto one = run_fused(p, o);
  for (int t : {2, 3, 5, 8}) {
    o.threads = t;
    const auto f = run_fused(p, o);
    INFO("threads " << t);
    CHECK(f.logp == one.logp);
    CHECK(f.lse == one.lse);
    CHECK(f.grad_hidden == one.grad_hidden);
    CHECK(f.grad_weight == one.grad_weight);
  }
}

TEST_CASE("linear head: bad inputs are rejected naming the argument", "[linear_head]") {
  using Catch::Contains;
  auto p = make_problem<float>(4, 3, 5, 10, 1.0, 0.0);
  std::vector<float> logp(4), lse(4), gl(4, 1.0f), gh(12), gw(15);
  const matrix_view<float> ghv{gh.data(), 4, 3, 3}, gwv{gw.data(), 5, 3, 3};
  auto fwd = [&](matrix_view<const float> h, matrix_view<const float> w,
                 std::span<const std::int64_t> y, linear_head_options o = {}) {
    pe::linear_head_logps<float, std::int64_t>(h, w, y, std::span<float>(logp),
                                               std::span<float>(lse), o);
  };
  auto bwd = [&](matrix_view<float> gh_, matrix_view<float> gw_, std::span<const float> g) {
    pe::linear_head_logps_backward<float, std::int64_t>(p.h(), p.w(), p.y(),
                                                        std::span<const float>(lse), g, gh_, gw_);
  };
  fwd(p.h(), p.w(), p.y());  // fine
  bwd(ghv, gwv, gl);         // fine

  CHECK_THROWS_WITH(fwd({p.hidden.data(), 4, 3, 2}, p.w(), p.y()),
                    Contains("hidden.row_stride = 2") && Contains("must be >= cols"));
  CHECK_THROWS_WITH(fwd(p.h(), {p.weight.data(), 5, 2, 3}, p.y()),
                    Contains("weight.cols = 2") && Contains("hidden.cols = 3"));
  CHECK_THROWS_WITH(fwd(p.h(), {p.weight.data(), 0, 3, 3}, p.y()), Contains("weight.rows = 0"));
  CHECK_THROWS_WITH(fwd(p.h(), p.w(), std::span<const std::int64_t>(p.labels).first(3)),
                    Contains("labels.size() = 3") && Contains("hidden.rows = 4"));
  auto bad = p.labels;
  bad[2] = 5;
  CHECK_THROWS_WITH(fwd(p.h(), p.w(), bad), Contains("labels[2] = 5") && Contains("[0, weight.rows = 5)"));
  bad[2] = -1;
  CHECK_THROWS_WITH(fwd(p.h(), p.w(), bad), Contains("labels[2] = -1"));
  bad[2] = -100;
  CHECK_NOTHROW(fwd(p.h(), p.w(), bad));
  for (auto [field, msg] : {std::pair{0, "options.vocab_chunk = 0"}, std::pair{1, "options.token_chunk = 0"},
                            std::pair{2, "options.block_rows = 0"}, std::pair{3, "options.threads = -1"}}) {
    linear_head_options o;
    if (field == 0) o.vocab_chunk = 0;
    if (field == 1) o.token_chunk = 0;
    if (field == 2) o.block_rows = 0;
    if (field == 3) o.threads = -1;
    CHECK_THROWS_WITH(fwd(p.h(), p.w(), p.y(), o), Contains(msg));
  }
  {
    auto q = p;
    q.hidden[1 * 3 + 2] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(fwd(q.h(), q.w(), q.y()), Contains("hidden(1, 2) = nan") && Contains("finite"));
    q = p;
    q.weight[4 * 3 + 0] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(fwd(q.h(), q.w(), q.y()), Contains("weight(4, 0) = inf"));
  }
  // Overflowing logits (finite inputs): float max squared.
  {
    auto q = p;
    for (auto& x : q.hidden) x = 1e30f;
    for (auto& x : q.weight) x = 1e30f;
    CHECK_THROWS_WITH(fwd(q.h(), q.w(), q.y()), Contains("logits of hidden row 0"));
  }
  CHECK_THROWS_WITH((pe::linear_head_logps<float, std::int64_t>(p.h(), p.w(), p.y(),
                                                               std::span<float>(logp).first(3),
                                                               std::span<float>(lse))),
                    Contains("logp.size() = 3"));
  CHECK_THROWS_WITH((pe::linear_head_logps<float, std::int64_t>(p.h(), p.w(), p.y(),
                                                               std::span<float>(logp),
                                                               std::span<float>(logp))),
                    Contains("logp.data") && Contains("must not overlap lse"));
  CHECK_THROWS_WITH((pe::linear_head_logps<float, std::int64_t>(
                        p.h(), p.w(), p.y(), std::span<float>(p.hidden.data(), 4), std::span<float>(lse))),
                    Contains("must not overlap the input hidden"));
  // Backward (lse from a good forward again: the overflow case above wrote lse[0] = inf).
  fwd(p.h(), p.w(), p.y());
  CHECK_THROWS_WITH(bwd({gh.data(), 3, 3, 3}, gwv, gl), Contains("grad_hidden.rows = 3"));
  CHECK_THROWS_WITH(bwd(ghv, {gw.data(), 5, 2, 3}, gl), Contains("grad_weight.cols = 2"));
  CHECK_THROWS_WITH(bwd(ghv, {gw.data(), 5, 3, 2}, gl), Contains("grad_weight.row_stride = 2"));
  CHECK_THROWS_WITH(bwd(ghv, gwv, std::span<const float>(gl).first(2)), Contains("grad_logp.size() = 2"));
  {
    auto g2 = gl;
    g2[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(bwd(ghv, gwv, g2), Contains("grad_logp[3] = nan"));
    auto l2 = lse;
    l2[1] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH((pe::linear_head_logps_backward<float, std::int64_t>(
                          p.h(), p.w(), p.y(), std::span<const float>(l2), gl, ghv, gwv)),
                      Contains("lse[1] = inf"));
  }
  std::vector<float> both(27);
  CHECK_THROWS_WITH(bwd({both.data(), 4, 3, 3}, {both.data() + 10, 5, 3, 3}, gl),
                    Contains("grad_hidden.data") && Contains("must not overlap grad_weight"));
  CHECK_THROWS_WITH(bwd({p.weight.data(), 4, 3, 3}, gwv, gl),
                    Contains("must not overlap the input weight"));
  CHECK_THROWS_WITH(bwd(ghv, {gw.data(), 1, 3, 3}, gl), Contains("grad_weight.rows = 1"));
}
