#pragma once
// A tabular softmax policy: one logit per (prompt, response), π(y | x) = softmax(θ_x)_y. It learns
// only through step(): the chain rule d log π(y | x) / dθ_x,k = 1[k = y] − π(k | x) turns the
// loss's dL/d log π into dL/dθ, and SGD or Adam applies it (selfplay/softmax_policy.hpp). No
// closed-form update.

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/selfplay/concepts.hpp"
#include "prefopt/selfplay/optimizer.hpp"
#include "prefopt/selfplay/softmax_policy.hpp"

namespace prefopt::selfplay {

class tabular_policy : public detail::softmax_policy<tabular_policy> {
 public:
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

 private:
  friend class detail::softmax_policy<tabular_policy>;
  // d θ_x,y / dθ is the unit vector of entry (x, y).
  void add_logit_gradient(std::vector<double>& g, index_t x, index_t y, double c) const {
    g[offset_[static_cast<std::size_t>(x)] + static_cast<std::size_t>(y)] += c;
  }
  std::vector<double>& parameters() { return theta_; }
  std::vector<index_t> sizes_;
  std::vector<std::size_t> offset_;
  std::vector<double> theta_;
};

static_assert(EnumerablePolicy<tabular_policy>);

}  // namespace prefopt::selfplay
