#pragma once
// A log-linear policy over response features with a prompt context:
//   π(y | x) = exp(wᵀ φ(x, y)) / Σ_y' exp(wᵀ φ(x, y')),   w ∈ R^d shared by every prompt,
// where φ(x, y) ∈ R^d are given features of response y in the context of prompt x (one n_x × d
// row-major matrix per prompt). It generalises across prompts through w, and with d < n it cannot
// represent every distribution (a restricted policy class, unlike tabular_policy). It learns only
// through step(): d log π(y | x) / dw = φ(x, y) − Σ_k π(k | x) φ(x, k), then SGD or Adam
// (selfplay/softmax_policy.hpp).

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/selfplay/concepts.hpp"
#include "prefopt/selfplay/optimizer.hpp"
#include "prefopt/selfplay/sampling.hpp"
#include "prefopt/selfplay/softmax_policy.hpp"

namespace prefopt::selfplay {

class loglinear_policy : public detail::softmax_policy<loglinear_policy> {
 public:
  /// features[x] is the n_x × d row-major matrix of prompt x; w starts at 0 (uniform policy).
  loglinear_policy(std::vector<std::vector<double>> features, index_t d, optimizer_options opt = {})
      : phi_(std::move(features)), d_(d) {
    require(d >= 1, "d", d, "must be >= 1");
    require(!phi_.empty(), "features.size()", 0, "need at least one prompt");
    for (std::size_t x = 0; x < phi_.size(); ++x) {
      const std::string at = "features[" + std::to_string(x) + "]";
      require(!phi_[x].empty() && phi_[x].size() % static_cast<std::size_t>(d) == 0, at + ".size()",
              phi_[x].size(), "must be a positive multiple of d = " + std::to_string(d));
      for (std::size_t i = 0; i < phi_[x].size(); ++i)
        require(std::isfinite(phi_[x][i]), at + "[" + std::to_string(i) + "]", phi_[x][i], "must be finite");
    }
    w_.assign(static_cast<std::size_t>(d), 0.0);
    opt_ = optimizer(opt, w_.size());
  }

  /// Features uniform in [−1, 1] from the seed, `responses_per_prompt[x]` × d per prompt.
  static loglinear_policy random_features(const std::vector<index_t>& responses_per_prompt, index_t d,
                                          std::uint64_t seed, optimizer_options opt = {}) {
    require(d >= 1, "d", d, "must be >= 1");
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);  // not the sampling stream of the same seed
    std::vector<std::vector<double>> phi;
    for (std::size_t x = 0; x < responses_per_prompt.size(); ++x) {
      require(responses_per_prompt[x] >= 1, "responses_per_prompt[" + std::to_string(x) + "]",
              responses_per_prompt[x], "must be >= 1");
      std::vector<double> f(static_cast<std::size_t>(responses_per_prompt[x] * d));
      for (double& v : f) v = 2.0 * uniform01(rng) - 1.0;
      phi.push_back(std::move(f));
    }
    return loglinear_policy(std::move(phi), d, opt);
  }

  [[nodiscard]] index_t dimension() const { return d_; }
  [[nodiscard]] std::span<const double> weights() const { return w_; }
  void set_weights(std::span<const double> w) {
    require(static_cast<index_t>(w.size()) == d_, "w.size()", w.size(), "must equal d = " + std::to_string(d_));
    for (std::size_t i = 0; i < w.size(); ++i)
      require(std::isfinite(w[i]), "w[" + std::to_string(i) + "]", w[i], "must be finite");
    w_.assign(w.begin(), w.end());
  }
  [[nodiscard]] index_t num_prompts() const { return static_cast<index_t>(phi_.size()); }
  [[nodiscard]] index_t num_responses(index_t x) const {
    check_prompt(x);
    return static_cast<index_t>(phi_[static_cast<std::size_t>(x)].size()) / d_;
  }
  /// wᵀ φ(x, y) for every response y of prompt x.
  [[nodiscard]] std::vector<double> logits(index_t x) const {
    const index_t n = num_responses(x);
    const auto& f = phi_[static_cast<std::size_t>(x)];
    std::vector<double> z(static_cast<std::size_t>(n), 0.0);
    for (index_t y = 0; y < n; ++y)
      for (index_t i = 0; i < d_; ++i) z[y] += f[y * d_ + i] * w_[i];
    return z;
  }
 private:
  friend class detail::softmax_policy<loglinear_policy>;
  // d (wᵀ φ(x, y)) / dw = φ(x, y).
  void add_logit_gradient(std::vector<double>& g, index_t x, index_t y, double c) const {
    const double* f = phi_[static_cast<std::size_t>(x)].data() + y * d_;
    for (index_t i = 0; i < d_; ++i) g[i] += c * f[i];
  }
  std::vector<double>& parameters() { return w_; }
  std::vector<std::vector<double>> phi_;
  index_t d_;
  std::vector<double> w_;
};

static_assert(EnumerablePolicy<loglinear_policy>);

}  // namespace prefopt::selfplay
