#pragma once
// A tabular softmax policy: one logit per (prompt, response), π(y | x) = softmax(θ_x)_y. It learns
// only through step(): the chain rule d log π(y | x) / dθ_x,k = 1[k = y] − π(k | x) turns the
// loss's dL/d log π into dL/dθ, and SGD or Adam applies it. No closed-form update.

#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/selfplay/concepts.hpp"
#include "prefopt/selfplay/optimizer.hpp"
#include "prefopt/selfplay/sampling.hpp"

namespace prefopt::selfplay {

class tabular_policy {
 public:
  using prompt_type = index_t;
  using response_type = index_t;

  /// Uniform policy over `responses_per_prompt[x]` responses for each prompt x.
  tabular_policy(std::vector<index_t> responses_per_prompt, optimizer_options opt = {})
      : sizes_(std::move(responses_per_prompt)) {
    require(!sizes_.empty(), "responses_per_prompt.size()", 0, "need at least one prompt");
    std::size_t total = 0;
    for (std::size_t x = 0; x < sizes_.size(); ++x) {
      require(sizes_[x] >= 1, "responses_per_prompt[" + std::to_string(x) + "]", sizes_[x],
              "must be >= 1");
      offset_.push_back(total);
      total += static_cast<std::size_t>(sizes_[x]);
    }
    theta_.assign(total, 0.0);
    opt_ = optimizer(opt, total);
  }

  [[nodiscard]] index_t num_prompts() const { return static_cast<index_t>(sizes_.size()); }
  [[nodiscard]] index_t num_responses(index_t x) const {
    check_prompt(x);
    return sizes_[static_cast<std::size_t>(x)];
  }
  /// The logits θ_x (any finite values; only differences matter).
  void set_logits(index_t x, std::span<const double> logits) {
    const index_t n = num_responses(x);
    require(static_cast<index_t>(logits.size()) == n, "logits.size()", logits.size(),
            "must equal num_responses = " + std::to_string(n));
    for (std::size_t y = 0; y < logits.size(); ++y) {
      require(std::isfinite(logits[y]), "logits[" + std::to_string(y) + "]", logits[y], "must be finite");
      theta_[offset_[static_cast<std::size_t>(x)] + y] = logits[y];
    }
  }
  [[nodiscard]] std::span<const double> logits(index_t x) const {
    const index_t n = num_responses(x);
    return {theta_.data() + offset_[static_cast<std::size_t>(x)], static_cast<std::size_t>(n)};
  }

  [[nodiscard]] std::vector<double> distribution(index_t x) const {
    const auto t = logits(x);
    const double lse = logsumexp(t.data(), static_cast<index_t>(t.size()));
    std::vector<double> p(t.size());
    for (std::size_t y = 0; y < t.size(); ++y) p[y] = std::exp(t[y] - lse);
    return p;
  }
  [[nodiscard]] std::vector<index_t> sample(index_t x, index_t k, std::mt19937_64& rng) const {
    require(k >= 1, "k", k, "must be >= 1");
    const auto p = distribution(x);
    std::vector<index_t> ys(static_cast<std::size_t>(k));
    for (auto& y : ys) y = sample_index(p, rng);
    return ys;
  }
  [[nodiscard]] std::vector<double> log_probs(index_t x, std::span<const index_t> ys) const {
    const auto t = logits(x);
    const double lse = logsumexp(t.data(), static_cast<index_t>(t.size()));
    std::vector<double> out;
    out.reserve(ys.size());
    for (index_t y : ys) {
      check_response(x, y);
      out.push_back(t[static_cast<std::size_t>(y)] - lse);
    }
    return out;
  }
  /// One optimiser step on the loss whose derivatives with respect to log π(y | x) are `grads`.
  void step(std::span<const logp_gradient<index_t, index_t>> grads) {
    std::vector<double> g(theta_.size(), 0.0);
    std::vector<double> coefficient_sum(sizes_.size(), 0.0);
    for (const auto& e : grads) {
      check_response(e.prompt, e.response);
      require(std::isfinite(e.d_logp), "d_logp", e.d_logp, "must be finite");
      g[offset_[static_cast<std::size_t>(e.prompt)] + static_cast<std::size_t>(e.response)] += e.d_logp;
      coefficient_sum[static_cast<std::size_t>(e.prompt)] += e.d_logp;
    }
    for (std::size_t x = 0; x < sizes_.size(); ++x) {
      if (coefficient_sum[x] == 0.0) continue;
      const auto p = distribution(static_cast<index_t>(x));  // − π_k Σ dL/dlogp, the softmax term
      for (std::size_t k = 0; k < p.size(); ++k) g[offset_[x] + k] -= p[k] * coefficient_sum[x];
    }
    opt_.step(theta_, g);
  }
  void reset_optimizer() { opt_.reset(); }

 private:
  void check_prompt(index_t x) const {
    require(x >= 0 && static_cast<std::size_t>(x) < sizes_.size(), "prompt", x,
            "must index one of the policy's " + std::to_string(sizes_.size()) + " prompts");
  }
  void check_response(index_t x, index_t y) const {
    const index_t n = num_responses(x);
    require(y >= 0 && y < n, "response", y, "must be in [0, " + std::to_string(n) + ")");
  }
  std::vector<index_t> sizes_;
  std::vector<std::size_t> offset_;
  std::vector<double> theta_;
  optimizer opt_;
};

static_assert(EnumerablePolicy<tabular_policy>);

}  // namespace prefopt::selfplay
