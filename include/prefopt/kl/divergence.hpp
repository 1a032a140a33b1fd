#pragma once
// Exact divergences between two categorical distributions given by their logits, one vocabulary
// row at a time: the row kernels behind prefopt::kl::token_kl (and LongPO's segment KL).
//
//   p = softmax(x) (the policy),  q = softmax(y) (the reference)
//   forward  KL(p || q) = sum_v p_v (log p_v - log q_v)
//   reverse  KL(q || p) = sum_v q_v (log q_v - log p_v)
//   jsd      beta KL(q || m) + (1 - beta) KL(p || m),  m = (1 - beta) p + beta q
//            (HF TRL GKDTrainer.generalized_jsd_loss with student = policy, teacher = reference;
//            the mixture is formed in log space, log m = logsumexp(log(1-beta) + log p,
//            log(beta) + log q). TRL special-cases beta = 0 as KL(teacher || student) and
//            beta = 1 as KL(student || teacher); the same is done here, so jsd with beta = 0 is
//            `reverse` and with beta = 1 is `forward`, exactly, although the formula above tends
//            to 0 at both ends.)
//
// Method. Forward and reverse KL take ONE streaming pass over the two rows with two online
// softmaxes: the row is consumed in chunks, each chunk's max and sums of exp(x - max) (and of
// exp(x - max) * (x - y)) are folded into running double accumulators. No softmax is stored.
// Every log-ratio is taken between the max-centred rows, (x_v - max x) - (y_v - max y), exact
// differences of nearby doubles, so adding a constant to a row changes nothing and a small KL
// between rows whose logits differ by thousands is still computed to ~1e-16 absolute. jsd needs both normalisers before it
// can form the mixture, so it reads the rows twice (still nothing stored). All arithmetic is in
// double whatever the logits type. (kl::token_kl runs float rows of finite logits through the
// dispatched vector kernels of kl/detail/dispatched_rows.hpp instead: the same algorithm with
// float elements and double accumulators.)
//
// Gradients (chain rule through both softmaxes):
//   forward  dKL/dx = p (log p - log q - KL),                 dKL/dy = q - p
//   reverse  dKL/dx = p - q,                                  dKL/dy = q (log q - log p - KL)
//   jsd      dJ/dx = (1-beta) p (log p - log m - KL(p||m)),   dJ/dy = beta q (log q - log m - KL(q||m))
//
// Infinite logits. NaN and +Inf are errors. -Inf is a token of probability 0 and is accepted
// wherever the divergence stays finite: in both rows at the same token, or in one row where that
// side's probability only appears as a weight (forward: x_v = -Inf; reverse: y_v = -Inf; jsd:
// anywhere). A token with probability 0 under the distribution in the *denominator* but not in
// the numerator (forward: y_v = -Inf < x_v; reverse: x_v = -Inf < y_v) makes the divergence +Inf;
// the kernels report it (row_status::support) instead of returning +Inf, because an infinite
// penalty turns every gradient of the step into NaN (Inf * 0) and silently destroys the update.

#include <algorithm>
#include <cmath>
#include <limits>

#include "prefopt/config.hpp"
#include "prefopt/core/numerics.hpp"

namespace prefopt::kl {

/// Which divergence between the policy p and the reference q.
enum class divergence {
  forward,  // KL(p || q) = KL(policy || reference), the RLHF / DPO direction
  reverse,  // KL(q || p) = KL(reference || policy)
  jsd,      // TRL's generalized JSD with weight beta on the reference (teacher)
};

inline const char* to_string(divergence d) {
  switch (d) {
    case divergence::forward: return "forward";
    case divergence::reverse: return "reverse";
    case divergence::jsd: return "jsd";
  }
  return "?";
}

/// Outcome of one row.
enum class row_status {
  ok,
  policy_not_finite,  // NaN or +Inf in the policy row, or every policy logit -Inf
  ref_not_finite,     // the same for the reference row
  support,            // +Inf divergence: see the header comment; `where` is the token
};

/// Everything the gradient pass needs about one row, all in double.
struct row_stats {
  double value = 0;     // the divergence
  double lse_p = 0;     // log-sum-exp of the policy row
  double lse_q = 0;     // log-sum-exp of the reference row
  double max_p = 0;     // max of the policy row
  double max_q = 0;     // max of the reference row
  double offset = 0;    // log p_v - log q_v = ((x_v - max_p) - (y_v - max_q)) - offset
  double kl_pm = 0;     // jsd: KL(p || m)
  double kl_qm = 0;     // jsd: KL(q || m)
  row_status status = row_status::ok;
  index_t where = -1;   // the offending token (support), or the first non-finite one
};

// The per-element and per-row maths below is PREFOPT_HD: the host kernels here and the CUDA
// kernels (backends/cuda/include/prefopt/backends/cuda/token_kl.cuh) run the very same code, so
// the two implementations differ only in how a row is split and in the order partial states are
// merged.
namespace detail {

inline constexpr index_t divergence_chunk = 1024;
inline constexpr double neg_inf = -std::numeric_limits<double>::infinity();

/// TRL's end points: jsd with beta = 0 is `reverse` and with beta = 1 is `forward`, exactly.
PREFOPT_HD inline divergence effective_direction(divergence dir, double beta) {
  if (dir == divergence::jsd && beta == 0.0) return divergence::reverse;
  if (dir == divergence::jsd && beta == 1.0) return divergence::forward;
  return dir;
}

/// The running state of the two online softmaxes of a row pair. For the policy side:
///   max_x, sum_x = sum exp(x - max_x), both_x = the same sum over tokens finite in both rows,
///   acc_x = sum exp(x - max_x) * ((x - max_x) - (y - max_y))   (tokens finite in both rows)
/// and symmetrically for the reference. Log-ratios are taken between max-centred logits, which
/// is exact for logits of any size (x - max_x and y - max_y are exact differences of nearby
/// doubles), so the result is invariant under adding a constant to a row.
struct pair_state {
  double max_x = neg_inf, sum_x = 0, both_x = 0, acc_x = 0;
  double max_y = neg_inf, sum_y = 0, both_y = 0, acc_y = 0;

  /// Folds in a chunk with maxima (cx, cy) and sums taken relative to them.
  PREFOPT_HD void merge(double cx, double sx, double bx, double ax, double cy, double sy,
                        double by, double ay) {
    using prefopt::detail::exp_;
    using prefopt::detail::max_;
    const double nx = sx > 0 ? max_(max_x, cx) : max_x;
    const double ny = sy > 0 ? max_(max_y, cy) : max_y;
    // Old terms: re-centre from (max_x, max_y) to (nx, ny), then rescale.
    if (sum_x > 0) {
      const double f = exp_(max_x - nx);
      if (both_x > 0) acc_x += both_x * ((max_x - nx) - (max_y - ny));
      sum_x *= f, both_x *= f, acc_x *= f;
    }
    if (sum_y > 0) {
      const double f = exp_(max_y - ny);
      if (both_y > 0) acc_y += both_y * ((max_y - ny) - (max_x - nx));
      sum_y *= f, both_y *= f, acc_y *= f;
    }
    // The chunk's terms, from (cx, cy) to (nx, ny).
    if (sx > 0) {
      const double g = exp_(cx - nx);
      if (bx > 0) ax += bx * ((cx - nx) - (cy - ny));
      sum_x += g * sx, both_x += g * bx, acc_x += g * ax;
    }
    if (sy > 0) {
      const double g = exp_(cy - ny);
      if (by > 0) ay += by * ((cy - ny) - (cx - nx));
      sum_y += g * sy, both_y += g * by, acc_y += g * ay;
    }
    max_x = nx;
    max_y = ny;
  }
  /// Folds in another state (a CUDA thread's partial).
  PREFOPT_HD void merge(const pair_state& o) {
    merge(o.max_x, o.sum_x, o.both_x, o.acc_x, o.max_y, o.sum_y, o.both_y, o.acc_y);
  }
};

PREFOPT_HD inline bool bad_logit(double v) {
  return v != v || v == std::numeric_limits<double>::infinity();
}

/// Whether the token pair (a, b) = (x_v, y_v) is accepted under `dir` (the effective
/// direction): NaN / +Inf are errors, and a -Inf in the denominator distribution only (see the
/// header comment) makes the divergence +Inf. Checked in this order, policy first.
PREFOPT_HD inline row_status check_element(double a, double b, divergence dir) {
  if (bad_logit(a)) return row_status::policy_not_finite;
  if (bad_logit(b)) return row_status::ref_not_finite;
  if ((dir == divergence::forward && b == neg_inf && a > neg_inf) ||
      (dir == divergence::reverse && a == neg_inf && b > neg_inf))
    return row_status::support;
  return row_status::ok;
}

/// The row statistics from the merged state: normalisers, and the value for forward and
/// reverse KL (jsd needs a second pass, finish_jsd). An empty side (every logit -Inf) is an
/// error with where = -1.
PREFOPT_HD inline void finish_row(const pair_state& st, divergence dir, row_stats& r) {
  using prefopt::detail::log_;
  using prefopt::detail::max_;
  if (st.sum_x == 0) {
    r.status = row_status::policy_not_finite;
    return;
  }
  if (st.sum_y == 0) {
    r.status = row_status::ref_not_finite;
    return;
  }
  r.max_p = st.max_x;
  r.max_q = st.max_y;
  r.lse_p = st.max_x + log_(st.sum_x);
  r.lse_q = st.max_y + log_(st.sum_y);
  r.offset = log_(st.sum_x / st.sum_y);
  if (dir == divergence::forward) r.value = max_(0.0, st.acc_x / st.sum_x - r.offset);
  if (dir == divergence::reverse) r.value = max_(0.0, st.acc_y / st.sum_y + r.offset);
}

/// jsd's log m_v from log p_v and log q_v (either may be -inf, not both).
PREFOPT_HD inline double log_mixture(double lp, double lq, double log_1mb, double log_b) {
  using prefopt::detail::max_;
  using prefopt::detail::min_;
  const double a = log_1mb + lp, b = log_b + lq;
  const double m = max_(a, b);
  if (m == neg_inf) return neg_inf;
  return m + prefopt::detail::log1p_(prefopt::detail::exp_(min_(a, b) - m));
}

/// jsd's second pass, one token: adds its terms of KL(p || m) and KL(q || m).
PREFOPT_HD inline void add_jsd_terms(double a, double b, const row_stats& r, double log_1mb,
                                     double log_b, double& kl_pm, double& kl_qm) {
  const double lp = a - r.lse_p, lq = b - r.lse_q;
  const double lm = log_mixture(lp, lq, log_1mb, log_b);
  if (lp > neg_inf) kl_pm += prefopt::detail::exp_(lp) * (lp - lm);
  if (lq > neg_inf) kl_qm += prefopt::detail::exp_(lq) * (lq - lm);
}

PREFOPT_HD inline void finish_jsd(row_stats& r, double kl_pm, double kl_qm, double beta) {
  r.kl_pm = prefopt::detail::max_(0.0, kl_pm);
  r.kl_qm = prefopt::detail::max_(0.0, kl_qm);
  r.value = beta * r.kl_qm + (1 - beta) * r.kl_pm;
}

/// d divergence / d x_v and / d y_v of one token (`dir` the effective direction; log_1mb and
/// log_b = log(1 - beta) and log(beta), read for jsd only).
PREFOPT_HD inline void element_gradient(double a, double b, divergence dir, double beta,
                                        const row_stats& r, double log_1mb, double log_b,
                                        double& dx, double& dy) {
  const double lp = a - r.lse_p, lq = b - r.lse_q;
  const double p = a > neg_inf ? prefopt::detail::exp_(lp) : 0.0;
  const double q = b > neg_inf ? prefopt::detail::exp_(lq) : 0.0;
  dx = 0;
  dy = 0;
  if (dir == divergence::jsd) {
    const double lm = log_mixture(lp, lq, log_1mb, log_b);
    if (p > 0) dx = (1 - beta) * p * ((lp - lm) - r.kl_pm);
    if (q > 0) dy = beta * q * ((lq - lm) - r.kl_qm);
  } else {
    // log p_v - log q_v from the max-centred logits (finite whenever its weight is non-zero).
    const double log_ratio =
        (a > neg_inf && b > neg_inf) ? ((a - r.max_p) - (b - r.max_q)) - r.offset : 0.0;
    if (dir == divergence::forward) {
      if (p > 0) dx = p * (log_ratio - r.value);
      dy = q - p;
    } else {
      dx = p - q;
      if (q > 0) dy = q * (-log_ratio - r.value);
    }
  }
}

}  // namespace detail

/// Divergence of one row pair: x (policy) and y (reference), n tokens each, contiguous.
/// `beta` is read for jsd only and must lie in [0, 1] (checked by the callers).
template <class T>
row_stats row_divergence(const T* x, const T* y, index_t n, divergence dir, double beta) {
  using detail::neg_inf;
  dir = detail::effective_direction(dir, beta);
  row_stats r;
  detail::pair_state st;
  for (index_t start = 0; start < n; start += detail::divergence_chunk) {
    const index_t end = std::min(n, start + detail::divergence_chunk);
    double cx = neg_inf, cy = neg_inf;
    for (index_t v = start; v < end; ++v) {
      const double a = static_cast<double>(x[v]), b = static_cast<double>(y[v]);
      const row_status s = detail::check_element(a, b, dir);
      if (s != row_status::ok) {
        r.status = s;
        r.where = v;
        return r;
      }
      cx = std::max(cx, a);
      cy = std::max(cy, b);
    }
    double sx = 0, bx = 0, ax = 0, sy = 0, by = 0, ay = 0;
    for (index_t v = start; v < end; ++v) {
      const double a = static_cast<double>(x[v]), b = static_cast<double>(y[v]);
      const double ex = a > neg_inf ? std::exp(a - cx) : 0.0;
      const double ey = b > neg_inf ? std::exp(b - cy) : 0.0;
      sx += ex;
      sy += ey;
      if (a > neg_inf && b > neg_inf) {
        const double lr = (a - cx) - (b - cy);  // log-ratio up to the chunk's constant
        bx += ex;
        by += ey;
        ax += ex * lr;
        ay -= ey * lr;
      }
    }
    st.merge(cx, sx, bx, ax, cy, sy, by, ay);
  }
  detail::finish_row(st, dir, r);
  if (r.status != row_status::ok || dir != divergence::jsd) return r;
  // Second pass: the mixture needs both normalisers.
  const double log_1mb = std::log1p(-beta), log_b = std::log(beta);
  double kl_pm = 0, kl_qm = 0;
  for (index_t v = 0; v < n; ++v)
    detail::add_jsd_terms(static_cast<double>(x[v]), static_cast<double>(y[v]), r, log_1mb, log_b,
                          kl_pm, kl_qm);
  detail::finish_jsd(r, kl_pm, kl_qm, beta);
  return r;
}

/// Gradient of c * divergence of one row, given its row_stats (status ok). Writes n elements to
/// gx (d/dx, the policy logits) and / or gy (d/dy, the reference logits); either may be null.
template <class T>
void row_divergence_gradient(const T* x, const T* y, index_t n, divergence dir, double beta,
                             const row_stats& r, double c, T* gx, T* gy) {
  dir = detail::effective_direction(dir, beta);
  const double log_1mb = dir == divergence::jsd ? std::log1p(-beta) : 0.0;
  const double log_b = dir == divergence::jsd ? std::log(beta) : 0.0;
  for (index_t v = 0; v < n; ++v) {
    double dx, dy;
    detail::element_gradient(static_cast<double>(x[v]), static_cast<double>(y[v]), dir, beta, r,
                             log_1mb, log_b, dx, dy);
    if (gx) gx[v] = static_cast<T>(c * dx);
    if (gy) gy[v] = static_cast<T>(c * dy);
  }
}

}  // namespace prefopt::kl
