#pragma once
// Sample-based KL estimators from the log-probabilities of sampled tokens (Schulman 2020,
// "Approximating KL Divergence", http://joschu.net/blog/kl-approx.html). For a token y sampled
// from the policy pi, with log r = log pi_ref(y) - log pi(y):
//
//   k1 = -log r                 unbiased for KL(pi || pi_ref); high variance, can be negative
//   k2 = (log r)^2 / 2          biased (its mean is an f-divergence that agrees with KL to second
//                               order as pi_ref -> pi); low variance, >= 0
//   k3 = (r - 1) - log r        unbiased for KL(pi || pi_ref); >= 0; low variance when pi_ref is
//                               close to pi (the GRPO / DeepSeekMath per-token penalty)
//
// Each value comes with its derivative with respect to the policy log-prob log pi(y) (the
// reference is a constant): dk1 = 1, dk2 = -log r, dk3 = 1 - r. This is the derivative of the
// sampled value, which is what a trainer back-propagates through the penalty; it is not an
// unbiased estimate of the gradient of the KL itself (docs/kl.md).
//
// k3 is evaluated as expm1(log r) - log r, exact for small |log r|. log r > 709 overflows
// double (88 in float); the host batch API rejects such a token rather than returning +Inf.

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/kl/detail/sequences.hpp"

namespace prefopt::kl {

enum class estimator { k1, k2, k3 };

inline const char* to_string(estimator k) {
  switch (k) {
    case estimator::k1: return "k1";
    case estimator::k2: return "k2";
    case estimator::k3: return "k3";
  }
  return "?";
}

/// An estimate and its derivative with respect to the policy log-prob.
template <class T>
struct estimate {
  T value;
  T d_logp;
};

/// One token (or one sequence, with summed log-probs): `logp` = log pi(y), `ref_logp` = log
/// pi_ref(y). Device-safe; no validation.
template <class T>
PREFOPT_HD inline estimate<T> estimate_kl(estimator k, T logp, T ref_logp) {
  const T lr = ref_logp - logp;  // log r
  switch (k) {
    case estimator::k1: return {-lr, T(1)};
    case estimator::k2: return {T(0.5) * lr * lr, -lr};
    case estimator::k3:
    default: {
      const T rm1 = prefopt::detail::expm1_(lr);  // r - 1
      return {rm1 - lr, -rm1};
    }
  }
}

/// Per-token estimates of a batch and their per-sequence reductions (host memory).
template <class T>
struct estimate_result {
  index_t batch = 0, positions = 0;
  std::vector<T> token;    // [batch, positions]; 0 where a position does not count
  std::vector<T> d_token;  // [batch, positions]; d token / d logp, 0 where not counted
  std::vector<T> sum, count, mean;  // [batch]; mean empty unless compute_mean
};

/// Estimates for token log-probs `logps` and `ref_logps` [B, P] (e.g. sequence_logps'
/// token_logps of the sampled completion under both models) and an optional mask [B, P]
/// (non-zero = counted; empty = all). Counted log-probs must be finite and <= 0; positions that
/// do not count are not read. Sums are accumulated in double.
template <class T, class U, class M>
estimate_result<std::remove_const_t<T>> estimate_tokens(matrix_view<T> logps, matrix_view<U> ref_logps,
                                                        matrix_view<M> mask, estimator k,
                                                        bool compute_mean = true) {
  using S = std::remove_const_t<T>;
  static_assert(std::is_same_v<S, std::remove_const_t<U>>, "estimate_tokens: one scalar type");
  static_assert(std::is_floating_point_v<S>, "estimate_tokens: float or double");
  validate_matrix_view("logps", logps);
  detail::validate_matrix_view_like("ref_logps", ref_logps, "logps", logps);
  if (!mask.empty()) detail::validate_matrix_view_like("mask", mask, "logps", logps);
  const index_t B = logps.rows, P = logps.cols;
  estimate_result<S> out;
  out.batch = B;
  out.positions = P;
  out.token.assign(static_cast<std::size_t>(B * P), S(0));
  out.d_token.assign(out.token.size(), S(0));
  detail::reduce_sequences(out, B, P, compute_mean, [&](index_t b, index_t p) -> std::optional<double> {
    if (!mask.empty() && mask(b, p) == 0) return std::nullopt;
    const auto at = [&](const char* name) {
      return std::string(name) + "[" + std::to_string(b) + ", " + std::to_string(p) + "]";
    };
    const S lp = logps(b, p), rl = ref_logps(b, p);
    require(std::isfinite(lp) && lp <= S(0), at("logps"), lp, "must be a finite log-prob (<= 0)");
    require(std::isfinite(rl) && rl <= S(0), at("ref_logps"), rl,
            "must be a finite log-prob (<= 0); a sampled token the reference forbids has "
            "infinite KL");
    const auto e = estimate_kl<double>(k, static_cast<double>(lp), static_cast<double>(rl));
    const S value = static_cast<S>(e.value), slope = static_cast<S>(e.d_logp);
    require(std::isfinite(value) && std::isfinite(slope), at("ref_logps"), rl,
            std::string(to_string(k)) + " overflows: log r = ref_logps - logps is too large for "
                                        "the scalar type");
    const auto i = static_cast<std::size_t>(b * P + p);
    out.token[i] = value;
    out.d_token[i] = slope;
    return e.value;
  }, [](index_t empty) {
    throw_invalid_argument("counted positions of sequence " + std::to_string(empty), 0,
                           "a mean estimate needs at least one counted token");
  });
  return out;
}

/// Without a mask: every position counts.
template <class T, class U>
auto estimate_tokens(matrix_view<T> logps, matrix_view<U> ref_logps, estimator k,
                     bool compute_mean = true) {
  return estimate_tokens(logps, ref_logps, matrix_view<const std::uint8_t>{}, k, compute_mean);
}

/// dL/dlogps [B, P] for L depending on the estimates through grad_sum = dL/dsum [B] and
/// grad_mean = dL/dmean [B] (empty: none): c_b * d_token[b, p], c_b = grad_sum + grad_mean / count.
template <class S>
std::vector<S> estimate_backward(const estimate_result<S>& r, std::span<const S> grad_sum,
                                 std::span<const S> grad_mean = {}) {
  require_same_size("grad_sum.size()", static_cast<long long>(grad_sum.size()), "batch", r.batch);
  if (!grad_mean.empty()) {
    require_same_size("grad_mean.size()", static_cast<long long>(grad_mean.size()), "batch",
                      r.batch);
  }
  std::vector<S> g(r.d_token.size(), S(0));
  for (index_t b = 0; b < r.batch; ++b) {
    const auto bi = static_cast<std::size_t>(b);
    require_finite("grad_sum[" + std::to_string(b) + "]", grad_sum[bi]);
    S c = grad_sum[bi];
    if (!grad_mean.empty()) {
      require_finite("grad_mean[" + std::to_string(b) + "]", grad_mean[bi]);
      if (r.count[bi] == S(0))
        throw_invalid_argument("counted positions of sequence " + std::to_string(b), 0,
                               "grad_mean needs at least one counted token");
      c += grad_mean[bi] / r.count[bi];
    }
    for (index_t p = 0; p < r.positions; ++p) {
      const auto i = static_cast<std::size_t>(b * r.positions + p);
      g[i] = c * r.d_token[i];
    }
  }
  return g;
}

}  // namespace prefopt::kl
