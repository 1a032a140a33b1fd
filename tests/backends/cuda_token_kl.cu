// prefopt::cuda::token_kl / token_kl_backward against the host prefopt::kl::token_kl (an
// independent implementation: a different split of the rows and merge order), on the cases of
// tests/kl/token_kl.cpp: every direction, masks and ignore_index, padded strides, gradients with
// respect to both models, extreme logits, -Inf semantics, odd vocabularies (1, 3, 37, 1031 and a
// row longer than a block), float and double, and the same errors with the same messages.
//
// The first test case needs no device (the checks that run before any CUDA call); every later
// one skips the whole executable without a usable CUDA device (tests/support/device_skip.hpp).
#include <catch2/catch.hpp>

#include <prefopt/backends/cuda/token_kl.cuh>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../support/random.hpp"
#include "support/device_skip.hpp"

namespace {

using prefopt::index_t;
using prefopt::kl::divergence;
namespace cu = prefopt::cuda;
constexpr double inf = std::numeric_limits<double>::infinity();

void require_device() {
  std::string reason;
  if (!cu::device_available(&reason))
    prefopt::testing::skip_for_missing_device("no usable CUDA device (" + reason + ")");
}

/// The shape of a padded token batch and the views of its buffers in memory space S (the host
/// batch and its device copy build their views here).
struct batch_shape {
  index_t B, T_, V, stride;
  template <class S, class T>
  prefopt::logits_view<const T, S> logits(const T* p) const {
    return {p, B, T_, V, T_ * stride, stride};
  }
  template <class S, class E>
  prefopt::matrix_view<const E, S> tokens(const E* p) const {
    return prefopt::matrix_view<const E, S>::contiguous(p, B, T_);
  }
};

/// A padded token batch on the host (padding NaN: never read) and its device copy.
template <class T>
struct batch : batch_shape {
  std::vector<T> policy, ref;
  std::vector<std::int64_t> labels;
  std::vector<std::uint8_t> mask;

  prefopt::logits_view<const T> hp() const { return logits<prefopt::host_space>(policy.data()); }
  prefopt::logits_view<const T> hr() const { return logits<prefopt::host_space>(ref.data()); }
  prefopt::matrix_view<const std::int64_t> hl() const {
    return tokens<prefopt::host_space>(labels.data());
  }
  prefopt::matrix_view<const std::uint8_t> hm() const {
    return tokens<prefopt::host_space>(mask.data());
  }
};

template <class T>
batch<T> random_batch(index_t B, index_t Tt, index_t V, std::uint64_t seed, double scale) {
  prefopt_test::bits_rng rng(seed);
  batch<T> tb{{B, Tt, V, V + 3}, {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(B * Tt * tb.stride);
  tb.policy.assign(n, std::numeric_limits<T>::quiet_NaN());
  tb.ref.assign(n, std::numeric_limits<T>::quiet_NaN());
  for (index_t r = 0; r < B * Tt; ++r)
    for (index_t v = 0; v < V; ++v) {
      const auto i = static_cast<std::size_t>(r * tb.stride + v);
      const double x = scale * rng.normal();
      tb.policy[i] = static_cast<T>(x);
      tb.ref[i] = static_cast<T>(x + 0.7 * scale * rng.normal());
    }
  tb.labels.resize(static_cast<std::size_t>(B * Tt));
  tb.mask.resize(tb.labels.size());
  for (index_t b = 0; b < B; ++b)
    for (index_t t = 0; t < Tt; ++t) {
      const auto i = static_cast<std::size_t>(b * Tt + t);
      tb.labels[i] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(V)));
      tb.mask[i] = t > b ? 1 : 0;
      if (t == Tt - 2 && b % 2 == 1) tb.labels[i] = -100;
    }
  return tb;
}

/// The device copy of a batch, with views of the same shapes and strides.
template <class T>
struct device_batch {
  cu::device_buffer<T> policy, ref;
  cu::device_buffer<std::int64_t> labels;
  cu::device_buffer<std::uint8_t> mask;
  batch_shape shape;
  explicit device_batch(const batch<T>& h)
      : policy(cu::upload(h.policy)), ref(cu::upload(h.ref)), labels(cu::upload(h.labels)),
        mask(cu::upload(h.mask)), shape(h) {}
  cu::device_logits_view<const T> p() const {
    return shape.logits<prefopt::device_space>(policy.data());
  }
  cu::device_logits_view<const T> r() const {
    return shape.logits<prefopt::device_space>(ref.data());
  }
  cu::device_matrix_view<const std::int64_t> l() const {
    return shape.tokens<prefopt::device_space>(labels.data());
  }
  cu::device_matrix_view<const std::uint8_t> m() const {
    return shape.tokens<prefopt::device_space>(mask.data());
  }
};

prefopt::kl::token_kl_options opts(divergence d, double beta = 0.5) {
  prefopt::kl::token_kl_options o;
  o.direction = d;
  o.beta = beta;
  return o;
}

template <class T>
void require_close(const std::vector<T>& got, const std::vector<T>& want, double rel, double abs) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("i " << i << " got " << got[i] << " want " << want[i]);
    REQUIRE(std::fabs(double(got[i]) - double(want[i])) <= rel * std::fabs(double(want[i])) + abs);
  }
}

/// Device forward and backward (both gradients, grad_sum and grad_mean) against the host.
template <class T>
void compare_with_host(const batch<T>& tb, const prefopt::kl::token_kl_options& o, double rel,
                       double abs, double grad_abs) {
  const device_batch<T> db(tb);
  const auto host = prefopt::kl::token_kl(tb.hp(), tb.hr(), tb.hl(), tb.hm(), o);
  const auto dev = cu::token_kl(db.p(), db.r(), db.l(), db.m(), o);
  REQUIRE(dev.batch == host.batch);
  REQUIRE(dev.positions == host.positions);
  require_close(cu::download(dev.token.data(), dev.token.size()), host.token, rel, abs);
  require_close(cu::download(dev.sum.data(), dev.sum.size()), host.sum, rel, abs);
  REQUIRE(cu::download(dev.count.data(), dev.count.size()) == host.count);
  require_close(cu::download(dev.mean.data(), dev.mean.size()), host.mean, rel, abs);

  std::vector<T> gs(static_cast<std::size_t>(tb.B)), gm(gs.size());
  for (std::size_t b = 0; b < gs.size(); ++b) gs[b] = T(0.7) - T(b), gm[b] = T(0.4) + T(b);
  const auto n = tb.policy.size();
  std::vector<T> hgp(n, T(-7)), hgr(n, T(-7));  // padding stays -7 on both sides
  const auto hview = [&](std::vector<T>& g) {
    return prefopt::logits_view<T>{g.data(), tb.B, tb.T_, tb.V, tb.T_ * tb.stride, tb.stride};
  };
  prefopt::kl::token_kl_backward(tb.hp(), tb.hr(), tb.hl(), tb.hm(), std::span<const T>(gs),
                                 std::span<const T>(gm), hview(hgp), hview(hgr), o);
  cu::device_buffer<T> dgp = cu::upload(std::vector<T>(n, T(-7)));
  cu::device_buffer<T> dgr = cu::upload(std::vector<T>(n, T(-7)));
  const auto dgs = cu::upload(gs), dgm = cu::upload(gm);
  const auto dview = [&](cu::device_buffer<T>& g) {
    return cu::device_logits_view<T>{g.data(), tb.B, tb.T_, tb.V, tb.T_ * tb.stride, tb.stride};
  };
  cu::token_kl_backward(db.p(), db.r(), db.l(), db.m(),
                        std::span<const T>(dgs.data(), gs.size()),
                        std::span<const T>(dgm.data(), gm.size()), dview(dgp), dview(dgr), o);
  // Gradients get their own absolute floor: where p (log p - log q) nearly cancels KL, the
  // difference is the last bits of the log-sum-exp, whose merge order differs.
  require_close(cu::download(dgp.data(), dgp.size()), hgp, rel, grad_abs);
  require_close(cu::download(dgr.data(), dgr.size()), hgr, rel, grad_abs);
}

/// The message of the exception f throws (prefopt::invalid_argument), or "" if none.
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const prefopt::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cuda token_kl: shape and option checks run before any device access", "[cuda][kl]") {
  // A fake device address: nothing may be read through it, the checks must throw first.
  static float fake[2];
  const auto pv = cu::device_logits_view<const float>::contiguous(fake, 2, 4, 6);
  const auto lv = cu::device_matrix_view<const std::int64_t>::contiguous(
      reinterpret_cast<const std::int64_t*>(fake), 2, 4);
  using Catch::Matchers::Message;
  auto rv = pv;
  rv.vocab = 5;
  rv.time_stride = 6;
  REQUIRE_THROWS_MATCHES(cu::token_kl(pv, rv, lv), prefopt::invalid_argument,
                         Message("ref_logits.vocab = 5: must equal policy_logits.vocab = 6"));
  rv = pv;
  rv.batch = 1;
  REQUIRE_THROWS_WITH(cu::token_kl(pv, rv, lv),
                      Catch::StartsWith("ref_labels.rows = 2: must equal logits.batch = 1"));
  REQUIRE_THROWS_WITH(cu::token_kl(pv, pv, lv, opts(divergence::jsd, 1.5)),
                      Catch::StartsWith("options.beta = 1.5"));
  const cu::device_matrix_view<const std::uint8_t> no_mask{};
  static float g[1];
  const auto gv = cu::device_logits_view<float>::contiguous(g, 2, 4, 5);
  REQUIRE_THROWS_WITH(cu::token_kl_backward(pv, pv, lv, no_mask,
                                            std::span<const float>(fake, 2), {}, gv, {}),
                      Catch::StartsWith(
                          "grad_policy.vocab = 5: must equal policy_logits.vocab = 6"));
  const auto gv6 = cu::device_logits_view<float>::contiguous(g, 2, 4, 6);
  REQUIRE_THROWS_WITH(cu::token_kl_backward(pv, pv, lv, no_mask,
                                            std::span<const float>(fake, 1), {}, gv6, {}),
                      Catch::StartsWith("grad_sum.size() = 1: must equal logits.batch = 2"));
}

TEST_CASE("cuda token_kl equals the host token_kl in every direction", "[cuda][kl]") {
  require_device();
  for (auto [d, beta] : {std::pair{divergence::forward, 0.5}, std::pair{divergence::reverse, 0.5},
                         std::pair{divergence::jsd, 0.5}, std::pair{divergence::jsd, 0.1},
                         std::pair{divergence::jsd, 0.9}, std::pair{divergence::jsd, 0.0},
                         std::pair{divergence::jsd, 1.0}}) {
    INFO(prefopt::kl::to_string(d) << " beta " << beta);
    for (index_t V : {1, 3, 37, 1031}) {
      INFO("V " << V);
      const auto seed = static_cast<std::uint64_t>(12 + V);
      compare_with_host(random_batch<double>(3, 7, V, seed, 2.0), opts(d, beta), 1e-12, 1e-15,
                        1e-13);
      compare_with_host(random_batch<float>(3, 7, V, seed, 2.0), opts(d, beta), 1e-6, 1e-7, 1e-7);
    }
  }
}

TEST_CASE("cuda token_kl: no mask, unshifted labels, a long row", "[cuda][kl]") {
  require_device();
  batch<double> tb = random_batch<double>(2, 6, 4099, 5, 1.0);  // V > 16 blocks of threads
  const device_batch<double> db(tb);
  const auto host = prefopt::kl::token_kl(tb.hp(), tb.hr(), tb.hl(), opts(divergence::jsd, 0.3));
  const auto dev = cu::token_kl(db.p(), db.r(), db.l(), opts(divergence::jsd, 0.3));
  require_close(cu::download(dev.token.data(), dev.token.size()), host.token, 1e-12, 1e-15);
  REQUIRE(cu::download(dev.count.data(), dev.count.size()) == host.count);
  auto o = opts(divergence::reverse);
  o.layout.shift_labels = false;
  compare_with_host(tb, o, 1e-12, 1e-15, 1e-13);
  o.compute_mean = false;
  const auto nomean = cu::token_kl(db.p(), db.r(), db.l(), db.m(), o);
  REQUIRE(nomean.mean.size() == 0);
}

TEST_CASE("cuda token_kl: extreme logits and a tiny KL under a huge shift", "[cuda][kl]") {
  require_device();
  prefopt_test::bits_rng rng(77);
  batch<double> tb = random_batch<double>(2, 2, 50, 1, 1.0);
  for (index_t v = 0; v < 50; ++v) {
    for (index_t row : {0, 1}) {  // independent logits in [-1e4, 1e4]
      tb.policy[static_cast<std::size_t>(row * tb.stride + v)] = rng.uniform(-1e4, 1e4);
      tb.ref[static_cast<std::size_t>(row * tb.stride + v)] = rng.uniform(-1e4, 1e4);
    }
    for (index_t row : {2, 3}) {  // y = x + 5000 + noise
      const double x = rng.normal();
      tb.policy[static_cast<std::size_t>(row * tb.stride + v)] = x;
      tb.ref[static_cast<std::size_t>(row * tb.stride + v)] = x + 5000.0 + 1e-3 * rng.normal();
    }
  }
  std::fill(tb.mask.begin(), tb.mask.end(), std::uint8_t{1});
  for (auto d : {divergence::forward, divergence::reverse, divergence::jsd}) {
    auto o = opts(d);
    o.layout.shift_labels = false;
    // Logits of size 1e4: the log-sum-exp is known to ulp(1e4) ~ 2e-12, which bounds how
    // closely any two double implementations agree on p and on the gradient.
    compare_with_host(tb, o, 1e-10, 1e-15, 1e-9);
  }
}

TEST_CASE("cuda token_kl: -Inf logits and rejected rows, with the host's messages", "[cuda][kl]") {
  require_device();
  batch<double> tb = random_batch<double>(2, 4, 6, 3, 1.0);
  const auto row = [&](index_t b, index_t t) {
    return static_cast<std::size_t>((b * tb.T_ + t) * tb.stride);
  };
  // b = 0, t = 1 counts (mask of labels[0, 2] is 1); token 3 forbidden by both models.
  tb.policy[row(0, 1) + 3] = -inf;
  tb.ref[row(0, 1) + 3] = -inf;
  for (auto d : {divergence::forward, divergence::reverse, divergence::jsd})
    compare_with_host(tb, opts(d), 1e-12, 1e-15, 1e-13);
  // A NaN in a row that does not count (b = 1, t = 0) is never read.
  tb.policy[row(1, 0)] = std::numeric_limits<double>::quiet_NaN();
  compare_with_host(tb, opts(divergence::forward), 1e-12, 1e-15, 1e-13);

  const auto same_error = [&](const batch<double>& bad, divergence d, double beta,
                              const std::string& expect) {
    const device_batch<double> db(bad);
    const auto o = opts(d, beta);
    const std::string host = message_of(
        [&] { (void)prefopt::kl::token_kl(bad.hp(), bad.hr(), bad.hl(), bad.hm(), o); });
    const std::string dev =
        message_of([&] { (void)cu::token_kl(db.p(), db.r(), db.l(), db.m(), o); });
    INFO("host: " << host << "\ndevice: " << dev);
    REQUIRE(host.find(expect) != std::string::npos);
    REQUIRE(dev == host);
    const std::vector<double> one(static_cast<std::size_t>(bad.B), 1.0);
    const auto done = cu::upload(one);
    cu::device_buffer<double> g(static_cast<index_t>(bad.policy.size()));
    const cu::device_logits_view<double> gv{g.data(), bad.B, bad.T_, bad.V, bad.T_ * bad.stride,
                                            bad.stride};
    const std::string host_b = message_of([&] {
      std::vector<double> hg(bad.policy.size());
      prefopt::kl::token_kl_backward(
          bad.hp(), bad.hr(), bad.hl(), bad.hm(), std::span<const double>(one), {},
          prefopt::logits_view<double>{hg.data(), bad.B, bad.T_, bad.V, bad.T_ * bad.stride,
                                       bad.stride},
          {}, o);
    });
    const std::string dev_b = message_of([&] {
      cu::token_kl_backward(db.p(), db.r(), db.l(), db.m(),
                            std::span<const double>(done.data(), one.size()), {}, gv, {}, o);
    });
    REQUIRE(host_b.find(expect) != std::string::npos);
    REQUIRE(dev_b == host_b);
  };
  batch<double> bad = tb;
  bad.ref[row(0, 1) + 1] = -inf;  // forbidden by the reference only
  same_error(bad, divergence::forward, 0.5, "KL(policy || ref) is +Inf");
  same_error(bad, divergence::jsd, 1.0, "KL(policy || ref) is +Inf");
  compare_with_host(bad, opts(divergence::reverse), 1e-12, 1e-15, 1e-13);  // finite
  compare_with_host(bad, opts(divergence::jsd, 0.3), 1e-12, 1e-15, 1e-13);
  bad = tb;
  bad.policy[row(0, 1) + 4] = -inf;  // forbidden by the policy only
  same_error(bad, divergence::reverse, 0.5, "KL(ref || policy) is +Inf");
  compare_with_host(bad, opts(divergence::forward), 1e-12, 1e-15, 1e-13);
  bad = tb;
  bad.policy[row(0, 2) + 2] = std::numeric_limits<double>::quiet_NaN();
  bad.ref[row(0, 1) + 5] = inf;  // the lower row is reported first
  same_error(bad, divergence::jsd, 0.5, "ref_logits[0, 1, 5] = inf");
  bad = tb;
  bad.policy[row(0, 2) + 2] = std::numeric_limits<double>::quiet_NaN();
  same_error(bad, divergence::jsd, 0.5, "policy_logits[0, 2, 2] = nan");
  bad = tb;
  for (index_t v = 0; v < tb.V; ++v) bad.ref[row(1, 2) + static_cast<std::size_t>(v)] = -inf;
  same_error(bad, divergence::reverse, 0.5, "every logit of the row is -Inf");
}

TEST_CASE("cuda token_kl: label and sequence errors, with the host's messages", "[cuda][kl]") {
  require_device();
  batch<double> tb = random_batch<double>(2, 4, 6, 1, 1.0);
  const auto both = [&](const batch<double>& b, const std::string& expect) {
    const device_batch<double> db(b);
    const std::string host =
        message_of([&] { (void)prefopt::kl::token_kl(b.hp(), b.hr(), b.hl(), b.hm()); });
    const std::string dev = message_of([&] { (void)cu::token_kl(db.p(), db.r(), db.l(), db.m()); });
    INFO("host: " << host << "\ndevice: " << dev);
    REQUIRE(host.rfind(expect, 0) == 0);
    REQUIRE(dev == host);
  };
  batch<double> bad = tb;
  bad.labels[7] = 6;
  both(bad, "labels[1, 3] = 6: must be in [0, vocab = 6) or equal ignore_index = -100");
  bad = tb;
  std::fill(bad.mask.begin() + 4, bad.mask.end(), std::uint8_t{0});
  both(bad, "completion tokens of sequence 1 = 0");
  const device_batch<double> db(tb);
  const std::vector<double> nan2{1.0, std::numeric_limits<double>::quiet_NaN()};
  const auto dn = cu::upload(nan2);
  cu::device_buffer<double> g(static_cast<index_t>(tb.policy.size()));
  const cu::device_logits_view<double> gv{g.data(), tb.B, tb.T_, tb.V, tb.T_ * tb.stride,
                                          tb.stride};
  REQUIRE_THROWS_WITH(cu::token_kl_backward(db.p(), db.r(), db.l(), db.m(),
                                            std::span<const double>(dn.data(), 2), {}, gv, {}),
                      Catch::StartsWith("grad_sum[1] = nan: must be finite"));
}

TEST_CASE("cuda token_kl: a bool mask counts the same positions as the uint8 mask",
          "[cuda][kl]") {
  require_device();
  // Instantiates token_kl / token_kl_backward for bool masks (their host copies of the mask
  // once failed to compile for bool: std::vector<bool> has no data()).
  const batch<double> tb = random_batch<double>(2, 5, 9, 4, 1.0);
  const device_batch<double> db(tb);
  std::unique_ptr<bool[]> mask_b(new bool[tb.mask.size()]);
  for (std::size_t i = 0; i < tb.mask.size(); ++i) mask_b[i] = tb.mask[i] != 0;
  cu::device_buffer<bool> mask_d(static_cast<index_t>(tb.mask.size()));
  mask_d.copy_from_host(mask_b.get(), mask_d.size());
  const auto mv = db.shape.tokens<prefopt::device_space>(mask_d.data());
  const auto want = cu::token_kl(db.p(), db.r(), db.l(), db.m());
  const auto got = cu::token_kl(db.p(), db.r(), db.l(), mv);
  REQUIRE(cu::download(got.token.data(), got.token.size()) ==
          cu::download(want.token.data(), want.token.size()));
  REQUIRE(cu::download(got.count.data(), got.count.size()) ==
          cu::download(want.count.data(), want.count.size()));
  const std::vector<double> one(2, 1.0);
  const auto gs = cu::upload(one);
  cu::device_buffer<double> g1(static_cast<index_t>(tb.policy.size())), g2(g1.size());
  const auto gview = [&](cu::device_buffer<double>& g) {
    return cu::device_logits_view<double>{g.data(), tb.B, tb.T_, tb.V, tb.T_ * tb.stride,
                                          tb.stride};
  };
  g1.fill_zero();
  g2.fill_zero();
  cu::token_kl_backward(db.p(), db.r(), db.l(), db.m(), std::span<const double>(gs.data(), 2), {},
                        gview(g1), {});
  cu::token_kl_backward(db.p(), db.r(), db.l(), mv, std::span<const double>(gs.data(), 2), {},
                        gview(g2), {});
  REQUIRE(cu::download(g1.data(), g1.size()) == cu::download(g2.data(), g2.size()));
}
