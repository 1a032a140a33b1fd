#pragma once
// LongPO's short-to-long constraint (Chen et al. 2025, "LongPO: Long Context Self-Evolution of
// Large Language Models through Short-to-Long Preference Optimization"; DAMO-NLP-SG/LongPO,
// train/longdpo_trainer.py). The per-pair loss itself is prefopt::losses::longpo
// (NLL + lambda * sigmoid-DPO(beta)); this header supplies the pieces around it:
//
// 1. sum_reference_turns: the reference log-prob of one long multi-turn sample is the sum of
//    its pair_num per-turn log-probs, each computed by the reference on the *short* context of
//    that turn (LongPOMTLMUlyssesTrainer.get_batch_loss_metrics:
//    reference_chosen_logps.view(-1, pair_num).sum(dim=1), the same for rejected).
// 2. longpo_nll_labels: which tokens the NLL term covers. The release trainer
//    (LongPOMTLMUlyssesTrainer.long_concatenated_forward) takes the cross-entropy with
//    labels = the chosen *input ids*, i.e. the whole chosen sequence, prompt included; its mask
//    `input_ids[:, 1:] != -100` never fires, so padding positions count too when the chosen
//    sequence is shorter than the rejected one. The older trainers used the completion labels.
//    nll_span::whole_sequence reproduces the release choice but, given an attention mask, drops
//    padding; nll_span::completion gives the completion labels back unchanged.
// 3. segment_kl: the development trainer's exact token-KL variant
//    (LongSFTJointUlyssesTrainer.calculate_kl_divergence), loss = sft + beta * segment_kl with
//    segment_kl[b] = (1/n) sum_i mean_j KL(pi_theta(.|long)[start1_i + j] || pi_ref(.|short_i)[start2_i + j])
//    where the i-th run of non-zero policy_mask[b] is paired with reference sample b*n + i, whose
//    valid region runs from the first to the last non-zero of its mask, over
//    min(run length, region length) positions. As in the trainer the positions are *not*
//    shifted: row t of the logits is compared where mask[t] is set (LongPO passes
//    labels != -100), and when fewer runs than n exist the remaining samples add nothing but n
//    still divides.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/kl/detail/sequences.hpp"
#include "prefopt/kl/divergence.hpp"
#include "prefopt/kl/token_kl.hpp"

namespace prefopt::kl {

/// out[i] = sum_{j < pair_num} ref_logps[i * pair_num + j] (consecutive turns of one sample, as
/// torch's view(-1, pair_num)); summed in double.
template <class T>
std::vector<T> sum_reference_turns(std::span<const T> ref_logps, index_t pair_num) {
  require(pair_num >= 1, "pair_num", pair_num, "must be >= 1");
  require(static_cast<index_t>(ref_logps.size()) % pair_num == 0, "ref_logps.size()",
          ref_logps.size(), "must be a multiple of pair_num = " + std::to_string(pair_num));
  std::vector<T> out(ref_logps.size() / static_cast<std::size_t>(pair_num));
  for (std::size_t i = 0; i < out.size(); ++i) {
    double s = 0;
    for (index_t j = 0; j < pair_num; ++j) {
      const std::size_t k = i * static_cast<std::size_t>(pair_num) + static_cast<std::size_t>(j);
      require_finite("ref_logps[" + std::to_string(k) + "]", ref_logps[k]);
      s += static_cast<double>(ref_logps[k]);
    }
    out[i] = static_cast<T>(s);
  }
  return out;
}

enum class nll_span { completion, whole_sequence };

/// Labels [B, T] (row-major, int64) for the NLL term, to hand to sequence_logps (whose mean is
/// -NLL). `labels` are the completion labels (ignore_index outside the completion); `input_ids`
/// the chosen sequence; `attention_mask` (optional) marks real tokens, and padding gets
/// ignore_index under whole_sequence.
template <class L, class M>
std::vector<std::int64_t> longpo_nll_labels(matrix_view<const L> input_ids, matrix_view<const L> labels,
                                            nll_span span, matrix_view<const M> attention_mask = {},
                                            std::int64_t ignore_index = ignore_index_default) {
  validate_matrix_view("input_ids", input_ids);
  detail::validate_matrix_view_like("labels", labels, "input_ids", input_ids);
  if (!attention_mask.empty())
    detail::validate_matrix_view_like("attention_mask", attention_mask, "input_ids", input_ids);
  std::vector<std::int64_t> out(static_cast<std::size_t>(input_ids.rows * input_ids.cols));
  for (index_t b = 0; b < input_ids.rows; ++b)
    for (index_t t = 0; t < input_ids.cols; ++t) {
      std::int64_t v;
      if (span == nll_span::completion) {
        v = static_cast<std::int64_t>(labels(b, t));
      } else {
        const bool real = attention_mask.empty() || attention_mask(b, t) != M(0);
        v = real ? static_cast<std::int64_t>(input_ids(b, t)) : ignore_index;
      }
      out[static_cast<std::size_t>(b * input_ids.cols + t)] = v;
    }
  return out;
}

/// LongPO's segment KL [B] (see the header comment), optionally with the gradient of
/// sum_b grad_kl[b] * segment_kl[b] with respect to the policy logits (every element written;
/// skipped when grad_policy.data is null or grad_kl is empty). `ref_logits` holds B * n short
/// samples, sample b * n + i being the i-th turn of long sample b.
template <class T, class U, class M>
std::vector<std::remove_const_t<T>> segment_kl(logits_view<T> policy_in, matrix_view<M> policy_mask,
                                               logits_view<U> ref_in, matrix_view<M> ref_mask, index_t n,
                                               std::span<const std::remove_const_t<T>> grad_kl = {},
                                               logits_view<std::remove_const_t<T>> grad_policy = {}) {
  using S = std::remove_const_t<T>;
  static_assert(std::is_same_v<S, std::remove_const_t<U>>, "segment_kl: one scalar type");
  const logits_view<const S> policy = policy_in;
  const logits_view<const S> ref = ref_in;
  require(n >= 1, "n", n, "must be >= 1 (short samples per long sample)");
  require(policy.data != nullptr || policy.batch * policy.time * policy.vocab == 0, "policy_logits.data",
          "nullptr", "must point to the logits");
  require(ref.data != nullptr || ref.batch * ref.time * ref.vocab == 0, "ref_logits.data", "nullptr",
          "must point to the logits");
  require(policy.vocab >= 1 && policy.time_stride >= policy.vocab, "policy_logits.time_stride",
          policy.time_stride, "must be >= vocab >= 1");
  require(ref.time_stride >= ref.vocab, "ref_logits.time_stride", ref.time_stride, "must be >= vocab");
  require_same_size("ref_logits.vocab", ref.vocab, "policy_logits.vocab", policy.vocab);
  require_same_size("ref_logits.batch", ref.batch, "policy_logits.batch * n", policy.batch * n);
  validate_matrix_view("policy_mask", policy_mask);
  validate_matrix_view("ref_mask", ref_mask);
  require_same_size("policy_mask.rows", policy_mask.rows, "policy_logits.batch", policy.batch);
  require_same_size("policy_mask.cols", policy_mask.cols, "policy_logits.time", policy.time);
  require_same_size("ref_mask.rows", ref_mask.rows, "ref_logits.batch", ref.batch);
  require_same_size("ref_mask.cols", ref_mask.cols, "ref_logits.time", ref.time);
  const bool want_grad = grad_policy.data != nullptr && !grad_kl.empty();
  if (want_grad) {
    require_same_size("grad_kl.size()", static_cast<long long>(grad_kl.size()), "policy_logits.batch",
                      policy.batch);
    require_same_size("grad_policy.batch", grad_policy.batch, "policy_logits.batch", policy.batch);
    require_same_size("grad_policy.time", grad_policy.time, "policy_logits.time", policy.time);
    require_same_size("grad_policy.vocab", grad_policy.vocab, "policy_logits.vocab", policy.vocab);
    validate_output_logits("grad_policy", grad_policy);
    for (index_t b = 0; b < policy.batch; ++b)
      for (index_t t = 0; t < policy.time; ++t) std::fill_n(grad_policy.row(b, t), policy.vocab, S(0));
  }
  std::vector<S> out(static_cast<std::size_t>(policy.batch), S(0));
  std::vector<S> row_grad(static_cast<std::size_t>(policy.vocab));
  for (index_t b = 0; b < policy.batch; ++b) {
    double kl_b = 0;
    index_t t = 0;  // scan position in the policy mask
    for (index_t i = 0; i < n; ++i) {
      while (t < policy.time && policy_mask(b, t) == M(0)) ++t;  // the next run
      if (t >= policy.time) break;
      const index_t start1 = t;
      while (t < policy.time && policy_mask(b, t) != M(0)) ++t;
      const index_t end1 = t;
      const index_t r = b * n + i;
      index_t start2 = -1, end2 = -1;
      for (index_t u = 0; u < ref.time; ++u)
        if (ref_mask(r, u) != M(0)) {
          if (start2 < 0) start2 = u;
          end2 = u + 1;
        }
      if (start2 < 0)
        throw_invalid_argument("ref_mask[" + std::to_string(r) + ", :]", 0,
                               "the reference sample has no valid position (LongPO takes the first "
                               "and last non-zero)");
      const index_t len = std::min(end1 - start1, end2 - start2);
      double seg = 0;
      std::vector<row_stats> stats(static_cast<std::size_t>(len));
      for (index_t j = 0; j < len; ++j) {
        const S* x = policy.row(b, start1 + j);
        const S* y = ref.row(r, start2 + j);
        row_stats s = row_divergence(x, y, policy.vocab, divergence::forward, 0.5);
        if (s.status != row_status::ok) {
          const double xw = s.where >= 0 ? static_cast<double>(x[s.where]) : 0.0;
          const double yw = s.where >= 0 ? static_cast<double>(y[s.where]) : 0.0;
          try {
            detail::throw_row_error(s, b, start1 + j, xw, yw);
          } catch (const invalid_argument& e) {
            throw invalid_argument(std::string(e.what()) + " (ref sample " + std::to_string(r) +
                                   ", position " + std::to_string(start2 + j) + ")");
          }
        }
        seg += s.value;
        stats[static_cast<std::size_t>(j)] = s;
      }
      kl_b += seg / static_cast<double>(len);
      if (want_grad) {
        const double c = static_cast<double>(grad_kl[static_cast<std::size_t>(b)]) /
                         (static_cast<double>(n) * static_cast<double>(len));
        for (index_t j = 0; j < len; ++j) {
          row_divergence_gradient(policy.row(b, start1 + j), ref.row(r, start2 + j), policy.vocab,
                                  divergence::forward, 0.5, stats[static_cast<std::size_t>(j)], c,
                                  row_grad.data(), static_cast<S*>(nullptr));
          S* g = grad_policy.row(b, start1 + j);
          for (index_t v = 0; v < policy.vocab; ++v) g[v] += row_grad[static_cast<std::size_t>(v)];
        }
      }
    }
    out[static_cast<std::size_t>(b)] = static_cast<S>(kl_b / static_cast<double>(n));
  }
  return out;
}

}  // namespace prefopt::kl
