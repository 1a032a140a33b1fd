#pragma once
// What the softmax policies over indexed responses (tabular_policy, loglinear_policy) share:
// π(y | x) = softmax(z_x)_y over per-prompt logits z_x, sampling, log-probs, and the optimiser
// step through the softmax's chain rule,
//   dL/dθ = Σ_e dL/dlog π(y_e | x_e) (dz_x,y_e/dθ − Σ_k π(k | x_e) dz_x,k/dθ),
// written once here. A policy (the Derived of this CRTP base) supplies its logits and how one logit's
// gradient reaches its parameters:
//   num_prompts(), num_responses(x), logits(x)        (public, any contiguous range of double)
//   add_logit_gradient(g, x, y, c): g += c · dz_x,y/dθ
//   parameters(): the std::vector<double> the optimiser updates (the size of g)

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

namespace prefopt::selfplay::detail {

template <class Derived>
class softmax_policy {
 public:
  using prompt_type = index_t;
  using response_type = index_t;

  [[nodiscard]] std::vector<double> distribution(index_t x) const {
    const auto z = self().logits(x);
    const double lse = logsumexp(z.data(), static_cast<index_t>(z.size()));
    std::vector<double> p(z.size());
    for (std::size_t y = 0; y < z.size(); ++y) p[y] = std::exp(z[y] - lse);
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
    const auto z = self().logits(x);
    const double lse = logsumexp(z.data(), static_cast<index_t>(z.size()));
    std::vector<double> out;
    out.reserve(ys.size());
    for (index_t y : ys) {
      check_response(x, y);
      out.push_back(z[static_cast<std::size_t>(y)] - lse);
    }
    return out;
  }
  /// One optimiser step on the loss whose derivatives with respect to log π(y | x) are `grads`.
  void step(std::span<const logp_gradient<index_t, index_t>> grads) {
    std::vector<double>& theta = self().parameters();
    std::vector<double> g(theta.size(), 0.0);
    std::vector<double> coefficient_sum(static_cast<std::size_t>(self().num_prompts()), 0.0);
    for (const auto& e : grads) {
      check_response(e.prompt, e.response);
      require(std::isfinite(e.d_logp), "d_logp", e.d_logp, "must be finite");
      self().add_logit_gradient(g, e.prompt, e.response, e.d_logp);
      coefficient_sum[static_cast<std::size_t>(e.prompt)] += e.d_logp;
    }
    for (std::size_t x = 0; x < coefficient_sum.size(); ++x) {
      if (coefficient_sum[x] == 0.0) continue;
      const auto p = distribution(static_cast<index_t>(x));  // − Σ_k π(k | x) dz_x,k/dθ Σ dL/dlogp
      for (std::size_t k = 0; k < p.size(); ++k)
        self().add_logit_gradient(g, static_cast<index_t>(x), static_cast<index_t>(k),
                                  -(coefficient_sum[x] * p[k]));
    }
    opt_.step(theta, g);
  }
  void reset_optimizer() { opt_.reset(); }

 protected:
  softmax_policy() = default;
  void check_prompt(index_t x) const {
    const auto prompts = static_cast<std::size_t>(self().num_prompts());
    require(x >= 0 && static_cast<std::size_t>(x) < prompts, "prompt", x,
            "must index one of the policy's " + std::to_string(prompts) + " prompts");
  }
  void check_response(index_t x, index_t y) const {
    const index_t n = self().num_responses(x);
    require(y >= 0 && y < n, "response", y, "must be in [0, " + std::to_string(n) + ")");
  }
  optimizer opt_;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace prefopt::selfplay::detail
