#pragma once
// Sequence log-probs on backend B against the PyTorch autograd fixtures of
// tests/reference/logps/logps_reference.py (TRL's get_batch_logps with the completion mask:
// token log-probs, per-sequence sums, counts and means, and the gradient of a weighted sum of
// sums and means with respect to the logits). An absolute reference, computed outside prefopt,
// for every backend suite; the inputs are float-representable, so a float backend reads exactly
// the reference's logits. Tolerances: those of backend_checks.hpp against its long-double
// reference (the PyTorch values are float64, within ~1e-15 of it).
//
// Needs PREFOPT_LOGPS_FIXTURE_DIR (tests/backends/CMakeLists.txt).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend_checks.hpp"
#include "fixture_io.hpp"

namespace prefopt::testing {

template <class B>
void check_logps_fixtures() {
  using T = typename B::scalar_type;
  namespace fx = fixtures;
  const std::string dir = PREFOPT_LOGPS_FIXTURE_DIR;
  const auto cases = fx::rows_of(fx::load(dir, "cases.csv"));
  REQUIRE(cases.size() == 3);
  bool saw_shift = false, saw_no_shift = false, saw_mask = false;
  for (const auto& c : cases) {
    const std::string name = c.at("case");
    INFO("logps fixture " << name);
    const index_t batch = std::stoi(c.at("batch")), time = std::stoi(c.at("time")),
                  vocab = std::stoi(c.at("vocab"));
    const bool shift = c.at("shift") == "1", use_mask = c.at("mask") == "1";
    (shift ? saw_shift : saw_no_shift) = true;
    saw_mask |= use_mask;
    const auto tokens = fx::numeric_columns(fx::load(dir, name + ".tokens.csv"));
    const auto seq = fx::numeric_columns(fx::load(dir, name + ".sequences.csv"));
    const auto grad = fx::numeric_columns(fx::load(dir, name + ".grad.csv"));
    const auto rows = static_cast<std::size_t>(batch * time);
    REQUIRE(tokens.at("label").size() == rows);
    REQUIRE(grad.at("g_0").size() == rows);
    REQUIRE(seq.at("sum").size() == static_cast<std::size_t>(batch));

    std::vector<T> logits(rows * static_cast<std::size_t>(vocab));
    std::vector<std::int64_t> labels(rows);
    std::vector<std::uint8_t> mask;
    if (use_mask) mask.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      labels[r] = static_cast<std::int64_t>(tokens.at("label")[r]);
      if (use_mask) mask[r] = static_cast<std::uint8_t>(tokens.at("mask")[r] != 0);
      for (index_t v = 0; v < vocab; ++v)
        logits[r * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(v)] =
            static_cast<T>(tokens.at("x_" + std::to_string(v))[r]);
    }
    const auto d_logits = placement<B>::upload(logits);
    const auto d_labels = placement<B>::upload(labels);
    const auto d_mask = placement<B>::upload(mask);
    const logits_in<B, const T> lv{d_logits.data(), batch, time, vocab, time * vocab, vocab};
    const auto lb = view_in<B, const std::int64_t>::contiguous(d_labels.data(), batch, time);
    view_in<B, const std::uint8_t> mk{};
    if (use_mask) mk = view_in<B, const std::uint8_t>::contiguous(d_mask.data(), batch, time);
    sequence_logps_options opt;
    opt.layout.shift_labels = shift;
    opt.layout.ignore_index = std::stoll(c.at("ignore_index"));

    const double rel = tolerance<T>::rel, abs = tolerance<T>::abs;
    const auto fwd = sequence_logps<B>(lv, lb, mk, opt);
    const index_t P = shift ? time - 1 : time;
    const auto logp = download_matrix<B>(fwd.token_logps);
    const auto sum = B::to_host(fwd.sum), count = B::to_host(fwd.count), mean = B::to_host(fwd.mean);
    REQUIRE(logp.size() == static_cast<std::size_t>(batch * P));
    REQUIRE(sum.size() == static_cast<std::size_t>(batch));
    REQUIRE(mean.size() == static_cast<std::size_t>(batch));
    for (index_t b = 0; b < batch; ++b) {
      INFO("sequence " << b);
      const auto bs = static_cast<std::size_t>(b);
      for (index_t p = 0; p < P; ++p) {
        INFO("position " << p);
        const double want = tokens.at("logp")[static_cast<std::size_t>(b * time + p)];
        CHECK(fx::close(logp[static_cast<std::size_t>(b * P + p)], want, rel, abs));
      }
      CHECK(static_cast<double>(count[bs]) == seq.at("count")[bs]);
      CHECK(fx::close(sum[bs], seq.at("sum")[bs], rel, abs));
      CHECK(fx::close(mean[bs], seq.at("mean")[bs], rel, abs));
    }

    std::vector<T> ws(static_cast<std::size_t>(batch)), wm(ws.size());
    for (std::size_t b = 0; b < ws.size(); ++b) {
      ws[b] = static_cast<T>(seq.at("w_sum")[b]);
      wm[b] = static_cast<T>(seq.at("w_mean")[b]);
    }
    const auto grad_sum = B::from_host(std::span<const T>(ws));
    const auto grad_mean = B::from_host(std::span<const T>(wm));
    const auto g = download_matrix<B>(sequence_logps_backward<B>(lv, lb, mk, fwd, grad_sum, &grad_mean, opt));
    REQUIRE(g.size() == logits.size());
    std::size_t nonzero = 0;
    for (index_t b = 0; b < batch; ++b) {
      const auto bs = static_cast<std::size_t>(b);
      // The upstream coefficient of every token of sequence b: the gradient's scale.
      const double scale = std::fabs(seq.at("w_sum")[bs] + seq.at("w_mean")[bs] / seq.at("count")[bs]);
      for (index_t t = 0; t < time; ++t)
        for (index_t v = 0; v < vocab; ++v) {
          const auto r = static_cast<std::size_t>(b * time + t);
          const double want = grad.at("g_" + std::to_string(v))[r];
          const double got = g[r * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(v)];
          INFO("gradient b " << b << " t " << t << " v " << v);
          CHECK(fx::close(got, want, rel, abs * std::max(1.0, scale)));
          fx::check_sign(got, want, abs * std::max(1.0, scale));
          nonzero += want != 0;
        }
    }
    CHECK(nonzero > 0);
  }
  CHECK((saw_shift && saw_no_shift && saw_mask));
}

}  // namespace prefopt::testing
