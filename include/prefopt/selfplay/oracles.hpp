#pragma once
// Preference oracles over the finite response sets of the toy environments (prompt x = an index,
// response y = an index 0 .. n_x − 1), four ways:
//
//   matrix_oracle          P(y ≻ y' | x) read from a validated preference matrix per prompt
//   bradley_terry_oracle   σ(θ_x,y − θ_x,y') from Bradley–Terry scores (e.g. fit_bradley_terry)
//   gpm_oracle             a General Preference Model per prompt (prefmodel/gpm.hpp)
//   pairrm_oracle          PairRM-style: a pairwise logit C(y, y') that need not be
//                          antisymmetric, turned into probabilities through llm_blender's
//                          max_logits scores, as SPPO's pipeline does (selfplay/sppo_targets.hpp)
//
// `set_probabilities(oracle, x, ys)` gives the K × K matrix among a set of sampled responses, the
// input of SPPO's data step. For pairrm_oracle it aggregates the scores over that set, exactly as
// llm_blender ranks K candidates together (so it depends on the set, as in the reference
// pipeline); the others are pairwise.

#include <cmath>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/prefmodel/gpm.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"
#include "prefopt/selfplay/concepts.hpp"
#include "prefopt/selfplay/sppo_targets.hpp"

namespace prefopt::selfplay {

namespace detail {
inline void require_prompt(index_t x, std::size_t prompts) {
  require(x >= 0 && static_cast<std::size_t>(x) < prompts, "prompt", x,
          "must index one of the oracle's " + std::to_string(prompts) + " prompts");
}
inline void require_response(index_t y, index_t n, const char* which) {
  require(y >= 0 && y < n, which, y, "must index one of the prompt's " + std::to_string(n) + " responses");
}
}  // namespace detail

/// Common shape of the index-based oracles: number of responses of each prompt.
class indexed_oracle_base {
 public:
  using prompt_type = index_t;
  using response_type = index_t;
  [[nodiscard]] index_t num_prompts() const { return static_cast<index_t>(sizes_.size()); }
  [[nodiscard]] index_t num_responses(index_t x) const {
    detail::require_prompt(x, sizes_.size());
    return sizes_[static_cast<std::size_t>(x)];
  }

 protected:
  std::vector<index_t> sizes_;
  /// Records the number of responses of each per-prompt model (at least one prompt).
  template <class PerPrompt>
  void set_sizes(const std::vector<PerPrompt>& per_prompt) {
    require(!per_prompt.empty(), "per_prompt.size()", 0, "need at least one prompt");
    for (const auto& m : per_prompt) sizes_.push_back(m.size());
  }
  void check_pair(index_t x, const response_pair<index_t>& p) const {
    const index_t n = num_responses(x);
    detail::require_response(p.first, n, "pair.first");
    detail::require_response(p.second, n, "pair.second");
  }
  /// probability(p) of each pair of prompt x, each pair validated (x included) before it is read.
  template <class Probability>
  std::vector<double> each_pair(index_t x, std::span<const response_pair<index_t>> pairs,
                                Probability probability) const {
    std::vector<double> out;
    out.reserve(pairs.size());
    for (const auto& p : pairs) {
      check_pair(x, p);
      out.push_back(probability(p));
    }
    return out;
  }
};

/// P(y ≻ y' | x) = P_x(y, y') from one preference matrix per prompt (validated on construction:
/// entries in [0, 1], P + Pᵀ = 1, diagonal ½).
class matrix_oracle : public indexed_oracle_base {
 public:
  explicit matrix_oracle(std::vector<prefmodel::preference_matrix<double>> per_prompt)
      : p_(std::move(per_prompt)) {
    set_sizes(p_);
  }
  explicit matrix_oracle(prefmodel::preference_matrix<double> single)
      : matrix_oracle(std::vector<prefmodel::preference_matrix<double>>{std::move(single)}) {}

  [[nodiscard]] std::vector<double> probabilities(index_t x,
                                                  std::span<const response_pair<index_t>> pairs) const {
    return each_pair(x, pairs, [&](const response_pair<index_t>& p) {
      return p_[static_cast<std::size_t>(x)](p.first, p.second);
    });
  }
  [[nodiscard]] const prefmodel::preference_matrix<double>& matrix(index_t x) const {
    detail::require_prompt(x, p_.size());
    return p_[static_cast<std::size_t>(x)];
  }

 private:
  std::vector<prefmodel::preference_matrix<double>> p_;
};

/// Bradley–Terry: P(y ≻ y' | x) = σ(θ_x,y − θ_x,y'), one finite score vector per prompt.
class bradley_terry_oracle : public indexed_oracle_base {
 public:
  explicit bradley_terry_oracle(std::vector<std::vector<double>> theta) : theta_(std::move(theta)) {
    require(!theta_.empty(), "theta.size()", 0, "need at least one prompt");
    for (std::size_t x = 0; x < theta_.size(); ++x) {
      require(!theta_[x].empty(), "theta[" + std::to_string(x) + "].size()", 0,
              "need at least one response");
      for (std::size_t y = 0; y < theta_[x].size(); ++y)
        require(std::isfinite(theta_[x][y]),
                "theta[" + std::to_string(x) + "][" + std::to_string(y) + "]", theta_[x][y],
                "must be finite");
      sizes_.push_back(static_cast<index_t>(theta_[x].size()));
    }
  }
  [[nodiscard]] std::vector<double> probabilities(index_t x,
                                                  std::span<const response_pair<index_t>> pairs) const {
    return each_pair(x, pairs, [&](const response_pair<index_t>& p) {
      const auto& t = theta_[static_cast<std::size_t>(x)];
      return sigmoid(t[p.first] - t[p.second]);
    });
  }

 private:
  std::vector<std::vector<double>> theta_;
};

/// A General Preference Model per prompt: P(y ≻ y' | x) = σ(v_yᵀ R v_y' / τ) (skew-symmetric
/// score, so P + Pᵀ = 1 by construction; gpm_model validates its embeddings).
class gpm_oracle : public indexed_oracle_base {
 public:
  explicit gpm_oracle(std::vector<prefmodel::gpm_model<double>> per_prompt)
      : models_(std::move(per_prompt)) {
    set_sizes(models_);
  }
  [[nodiscard]] std::vector<double> probabilities(index_t x,
                                                  std::span<const response_pair<index_t>> pairs) const {
    return each_pair(x, pairs, [&](const response_pair<index_t>& p) {
      return models_[static_cast<std::size_t>(x)].probability(p.first, p.second);
    });
  }

 private:
  std::vector<prefmodel::gpm_model<double>> models_;
};

/// PairRM-style: `logit(x, y, y')` is a pairwise comparator's logit that y beats y' (PairRM
/// evaluates both orders and they need not be antisymmetric). As llm_blender does, probabilities
/// come from scores aggregated over the compared set: for a set {y_1..y_K},
/// s_i = (1/K) Σ_j (C_ij − C_ji) and P(y_i ≻ y_j) = σ(s_i − s_j) (compute_prob.py). A lone pair is
/// the set of two: P(y ≻ y') = σ(C(y, y') − C(y', y)).
class pairrm_oracle : public indexed_oracle_base {
 public:
  using logit_fn = std::function<double(index_t x, index_t y, index_t y2)>;
  pairrm_oracle(std::vector<index_t> responses_per_prompt, logit_fn logit)
      : logit_(std::move(logit)) {
    require(!responses_per_prompt.empty(), "responses_per_prompt.size()", 0,
            "need at least one prompt");
    require(static_cast<bool>(logit_), "logit", "empty", "needs a comparator");
    for (std::size_t x = 0; x < responses_per_prompt.size(); ++x)
      require(responses_per_prompt[x] >= 1, "responses_per_prompt[" + std::to_string(x) + "]",
              responses_per_prompt[x], "must be >= 1");
    sizes_ = std::move(responses_per_prompt);
  }
  /// A fixed K × K logit matrix per prompt (row-major), e.g. PairRM's output on a fixed set.
  static pairrm_oracle from_logit_matrices(std::vector<std::vector<double>> c) {
    std::vector<index_t> sizes;
    for (std::size_t x = 0; x < c.size(); ++x) {
      const auto k = static_cast<index_t>(std::lround(std::sqrt(static_cast<double>(c[x].size()))));
      require(k >= 1 && static_cast<std::size_t>(k * k) == c[x].size(),
              "c[" + std::to_string(x) + "].size()", c[x].size(), "must be K * K for some K >= 1");
      pairrm_scores(c[x], k);  // validates: finite entries
      sizes.push_back(k);
    }
    auto shared = std::make_shared<std::vector<std::vector<double>>>(std::move(c));
    return pairrm_oracle(sizes, [shared, sizes](index_t x, index_t y, index_t y2) {
      return (*shared)[static_cast<std::size_t>(x)][static_cast<std::size_t>(y * sizes[x] + y2)];
    });
  }

  [[nodiscard]] double logit(index_t x, index_t y, index_t y2) const {
    const double c = logit_(x, y, y2);
    require(std::isfinite(c), "logit(" + std::to_string(x) + ", " + std::to_string(y) + ", " +
                                  std::to_string(y2) + ")",
            c, "the comparator must return a finite logit");
    return c;
  }
  [[nodiscard]] std::vector<double> probabilities(index_t x,
                                                  std::span<const response_pair<index_t>> pairs) const {
    return each_pair(x, pairs, [&](const response_pair<index_t>& p) {
      return sigmoid(logit(x, p.first, p.second) - logit(x, p.second, p.first));
    });
  }
  /// llm_blender's scores of a compared set (max_logits).
  [[nodiscard]] std::vector<double> set_scores(index_t x, std::span<const index_t> ys) const {
    const index_t k = static_cast<index_t>(ys.size());
    std::vector<double> c(static_cast<std::size_t>(k * k));
    for (index_t i = 0; i < k; ++i) {
      detail::require_response(ys[i], num_responses(x), "ys[i]");
      for (index_t j = 0; j < k; ++j) c[i * k + j] = i == j ? 0.0 : logit(x, ys[i], ys[j]);
    }
    return pairrm_scores(c, k);
  }

 private:
  logit_fn logit_;
};

template <class O>
concept set_scoring_oracle = requires(const O& o, const typename O::prompt_type& x,
                                      std::span<const typename O::response_type> ys) {
  { o.set_scores(x, ys) } -> std::same_as<std::vector<double>>;
};

/// The K × K matrix P(y_i ≻ y_j | x) among a set of responses (row-major), as SPPO's data step
/// sees it: compute_prob.py's σ(s_i − s_j) for set-scoring oracles, pairwise queries otherwise.
template <PreferenceOracle O>
std::vector<double> set_probabilities(const O& oracle, const typename O::prompt_type& x,
                                      std::span<const typename O::response_type> ys) {
  const std::size_t k = ys.size();
  if constexpr (set_scoring_oracle<O>) {
    return compute_sppo_targets(oracle.set_scores(x, ys)).probability;
  } else {
    std::vector<response_pair<typename O::response_type>> pairs;
    pairs.reserve(k * k);
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = 0; j < k; ++j) pairs.push_back({ys[i], ys[j]});
    std::vector<double> p = oracle.probabilities(x, pairs);
    require(p.size() == k * k, "oracle.probabilities().size()", p.size(), "must equal the number of pairs");
    for (std::size_t i = 0; i < p.size(); ++i)
      require(p[i] >= 0.0 && p[i] <= 1.0, "oracle probability", p[i], "must lie in [0, 1]");
    return p;
  }
}

/// The whole preference matrix of prompt x over its responses 0 .. n − 1 (validated: P + Pᵀ = 1
/// within `tolerance`), the game the metrics are measured in.
template <PreferenceOracle O>
prefmodel::preference_matrix<double> full_preference_matrix(const O& oracle, index_t x, index_t n,
                                                            double tolerance = 1e-9) {
  std::vector<index_t> all(static_cast<std::size_t>(n));
  for (index_t y = 0; y < n; ++y) all[y] = y;
  return prefmodel::preference_matrix<double>(n, set_probabilities(oracle, x, std::span<const index_t>(all)),
                                              tolerance);
}

static_assert(PreferenceOracle<matrix_oracle> && PreferenceOracle<bradley_terry_oracle> &&
              PreferenceOracle<gpm_oracle> && PreferenceOracle<pairrm_oracle>);

}  // namespace prefopt::selfplay
