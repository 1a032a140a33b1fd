#pragma once
// SPPO's data step: from the scores of K sampled responses to one prompt, the pairwise
// probabilities and the training targets of the sppo / sppo_single losses, exactly as the
// reference pipeline computes them (uclaml/SPPO scripts/compute_prob.py), but in double:
//
//   P[i][j]           = 1 / (1 + exp(s_j − s_i))   for every i, j (P[i][i] = ½)
//   chosen  w         = argmax_i s_i,  rejected l = argmin_i s_i   (first index on ties, as numpy)
//   chosen_probs      = P[w][l]                    (sppo_single's target)
//   chosen_probs_win  = (1/K) Σ_j P[w][j]          (sppo's P̂_w, self-comparison included)
//   chosen_probs_lose = (1/K) Σ_j P[l][j]          (sppo's P̂_l)
//
// The scores come from PairRM's K × K matrix C of pairwise logits (C_ij > 0: i better than j)
// through llm_blender's get_scores_from_cmps with policy "max_logits":
//   s_i = (1/K) Σ_j (C_ij − C_ji)
// (llm_blender stores s as float32 and compute_prob.py then evaluates P in float32; here every
// step is double, so results differ from a float32 run by ~1e-7, and float32 ties may break
// differently.)

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::selfplay {

/// The targets of one prompt's K responses.
struct sppo_targets {
  index_t chosen = 0;                 // argmax of the scores (first on ties)
  index_t rejected = 0;               // argmin of the scores (first on ties)
  double chosen_probs = 0.5;          // P[chosen][rejected]
  double chosen_probs_win = 0.5;      // mean of row `chosen` of P
  double chosen_probs_lose = 0.5;     // mean of row `rejected` of P
  std::vector<double> probability;    // K × K, row-major
};

/// llm_blender's max_logits aggregation: s_i = (1/K) Σ_j (C_ij − C_ji) for a row-major K × K
/// matrix of pairwise logits (not required to be antisymmetric; the diagonal cancels).
inline std::vector<double> pairrm_scores(std::span<const double> logits, index_t k) {
  require(k >= 1, "K", k, "need at least one response");
  require_same_size("pairrm_logits.size()", static_cast<long long>(logits.size()), "K * K",
                    static_cast<long long>(k) * k);
  for (std::size_t i = 0; i < logits.size(); ++i)
    require(std::isfinite(logits[i]),
            "pairrm_logits[" + std::to_string(i / static_cast<std::size_t>(k)) + "][" +
                std::to_string(i % static_cast<std::size_t>(k)) + "]",
            logits[i], "must be finite");
  std::vector<double> s(static_cast<std::size_t>(k), 0.0);
  for (index_t i = 0; i < k; ++i) {
    double sum = 0.0;
    for (index_t j = 0; j < k; ++j) sum += logits[i * k + j] - logits[j * k + i];
    s[i] = sum / static_cast<double>(k);
  }
  return s;
}

/// compute_prob.py's probabilities and prepare_score's chosen / rejected targets.
inline sppo_targets compute_sppo_targets(std::span<const double> scores) {
  const index_t k = static_cast<index_t>(scores.size());
  require(k >= 1, "scores.size()", k, "need at least one response");
  for (index_t i = 0; i < k; ++i)
    require(std::isfinite(scores[i]), "scores[" + std::to_string(i) + "]", scores[i],
            "must be finite");
  sppo_targets t;
  for (index_t i = 1; i < k; ++i) {  // strict comparisons keep the first index on ties
    if (scores[i] > scores[t.chosen]) t.chosen = i;
    if (scores[i] < scores[t.rejected]) t.rejected = i;
  }
  t.probability.resize(static_cast<std::size_t>(k * k));
  // Literally 1 / (1 + exp(s_j − s_i)): exp overflows to +inf for a gap above ~709 and the
  // quotient is then exactly 0, as in numpy; no NaN is possible for finite scores.
  for (index_t i = 0; i < k; ++i)
    for (index_t j = 0; j < k; ++j)
      t.probability[i * k + j] = 1.0 / (1.0 + std::exp(scores[j] - scores[i]));
  auto row_mean = [&](index_t i) {
    double sum = 0.0;  // left to right, as numpy's sum over 5 elements (pairwise only from 8)
    for (index_t j = 0; j < k; ++j) sum += t.probability[i * k + j];
    return sum / static_cast<double>(k);
  };
  t.chosen_probs = t.probability[t.chosen * k + t.rejected];
  t.chosen_probs_win = row_mean(t.chosen);
  t.chosen_probs_lose = row_mean(t.rejected);
  return t;
}

}  // namespace prefopt::selfplay
