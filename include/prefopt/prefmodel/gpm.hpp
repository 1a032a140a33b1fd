#pragma once
// The General Preference Model (GPM) with skew-symmetric preference embeddings
// (Zhang et al. 2024, "Beyond Bradley-Terry Models: A General Preference Model for Language
// Model Alignment", arXiv:2410.02197). Each item i has an embedding v_i in R^{2k};
//
//   score(i, j) = v_i^T R v_j,   R = blockdiag(lambda_1 J, ..., lambda_k J),  J = [[0, -1], [1, 0]]
//   P(i beats j) = sigma(score(i, j) / tau),   tau = 0.1 by default
//
// R is skew-symmetric, so score(j, i) = -score(i, j) and P + P^T = 1 hold exactly, and P(i, i)
// = 1/2. Unlike Bradley-Terry (rank one in this picture: score = theta_i - theta_j), a single
// 2-d block already represents cyclic preferences: three embeddings 120 degrees apart on a circle
// give rock-paper-scissors.
//
// fit_gpm fits the embeddings to comparison counts by full-batch gradient ascent on the mean
// log-likelihood (ties half, as for BT) minus an L2 penalty, with Armijo backtracking and step
// growth, from a seeded small random start (the origin is a saddle point).

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/prefmodel/comparisons.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"

namespace prefopt::prefmodel {

template <class T = double>
class gpm_model {
 public:
  gpm_model() = default;

  /// n items with 2k-dimensional embeddings (row-major n x 2k), block scales lambda (size k,
  /// empty = all ones) and temperature tau.
  gpm_model(index_t n, index_t k, std::vector<T> embeddings, std::vector<T> block_scales = {},
            T tau = T(0.1))
      : n_(n), k_(k), v_(std::move(embeddings)), lambda_(std::move(block_scales)), tau_(tau) {
    require(n >= 1, "n", n, "need at least one item");
    require(k >= 1, "k", k, "need at least one 2-d block");
    require_same_size("embeddings.size()", static_cast<long long>(v_.size()), "n * 2k", n * 2 * k);
    if (lambda_.empty()) lambda_.assign(static_cast<std::size_t>(k), T(1));
    require_same_size("block_scales.size()", static_cast<long long>(lambda_.size()), "k", k);
    require_positive_finite("tau", tau);
    for (T x : v_) require_finite("embeddings[i]", x);
    for (T x : lambda_) require_finite("block_scales[l]", x);
  }

  [[nodiscard]] index_t size() const { return n_; }
  [[nodiscard]] index_t blocks() const { return k_; }
  [[nodiscard]] T tau() const { return tau_; }
  [[nodiscard]] const std::vector<T>& embeddings() const { return v_; }
  [[nodiscard]] std::vector<T>& embeddings() { return v_; }
  [[nodiscard]] const std::vector<T>& block_scales() const { return lambda_; }

  /// v_i^T R v_j = h(v_i, v_j) - h(v_j, v_i) with h(a, b) = sum_l lambda_l a_{2l+1} b_{2l}
  /// ((J b)_0 = -b_1, (J b)_1 = b_0). Written as the difference of one function evaluated twice,
  /// so score(j, i) == -score(i, j) and score(i, i) == 0 hold bit for bit under any instruction
  /// set: the inline form a1 b0 - a0 b1 is contracted to fma(a1, b0, -a0 b1) when FMA is
  /// available (-march=x86-64-v3), which is neither antisymmetric nor zero on the diagonal.
  [[nodiscard]] T score(index_t i, index_t j) const {
    const T* a = v_.data() + i * 2 * k_;
    const T* b = v_.data() + j * 2 * k_;
    return half_score(a, b) - half_score(b, a);
  }

  [[nodiscard]] T probability(index_t i, index_t j) const { return sigmoid(score(i, j) / tau_); }

  [[nodiscard]] preference_matrix<T> preferences() const {
    std::vector<T> p(static_cast<std::size_t>(n_ * n_), T(0.5));
    for (index_t i = 0; i < n_; ++i)
      for (index_t j = i + 1; j < n_; ++j) {
        const T z = score(i, j) / tau_;
        p[i * n_ + j] = sigmoid(z);
        p[j * n_ + i] = sigmoid(-z);
      }
    return preference_matrix<T>(n_, std::move(p));
  }

  /// Adds d score(i, j) / d v_i = R v_j times `coef` to g_i and d/d v_j = -R v_i times coef to g_j.
  void accumulate_score_gradient(index_t i, index_t j, T coef, T* grad) const {
    const T* a = v_.data() + i * 2 * k_;
    const T* b = v_.data() + j * 2 * k_;
    T* ga = grad + i * 2 * k_;
    T* gb = grad + j * 2 * k_;
    for (index_t l = 0; l < k_; ++l) {
      const T c = coef * lambda_[l];
      ga[2 * l] -= c * b[2 * l + 1];
      ga[2 * l + 1] += c * b[2 * l];
      gb[2 * l] += c * a[2 * l + 1];
      gb[2 * l + 1] -= c * a[2 * l];
    }
  }

 private:
  T half_score(const T* a, const T* b) const {
    T s = T(0);
    for (index_t l = 0; l < k_; ++l) s += lambda_[l] * (a[2 * l + 1] * b[2 * l]);
    return s;
  }

  index_t n_ = 0, k_ = 0;
  std::vector<T> v_, lambda_;
  T tau_ = T(0.1);
};

template <class T = double>
struct gpm_options {
  index_t blocks = 1;       // k: embedding dimension 2k
  T tau = T(0.1);
  T l2 = T(1e-4);           // penalty (l2 / 2) |V|^2 on the mean log-likelihood scale
  index_t max_iterations = 5000;
  T tolerance = T(1e-9);    // stop when max |gradient| falls below
  T init_scale = T(0.1);
  std::uint64_t seed = 0;
};

template <class T = double>
struct gpm_fit_result {
  gpm_model<T> model;
  T log_likelihood = 0;  // total, ties half
  T objective = 0;       // mean log-likelihood - penalty
  T gradient_norm = 0;
  index_t iterations = 0;
  bool converged = false;
};

namespace detail {

/// Mean log-likelihood per unit weight minus the penalty, and its gradient.
template <class T>
T gpm_objective(const gpm_model<T>& m, const comparison_data<T>& data, std::type_identity_t<T> l2,
                std::vector<T>& grad, std::type_identity_t<T>* total_ll) {
  std::fill(grad.begin(), grad.end(), T(0));
  T ll = T(0);
  const T total = data.total_weight();
  for (const auto& r : data.pairs()) {
    const T a = r.wins_i + r.ties / 2, b = r.wins_j + r.ties / 2;
    const T z = m.score(r.i, r.j) / m.tau();
    ll += a * log_sigmoid(z) + b * log_sigmoid(-z);
    m.accumulate_score_gradient(r.i, r.j, (a - (a + b) * sigmoid(z)) / (m.tau() * total), grad.data());
  }
  if (total_ll) *total_ll = ll;
  T sq = T(0);
  const auto& v = m.embeddings();
  for (std::size_t q = 0; q < v.size(); ++q) {
    sq += v[q] * v[q];
    grad[q] -= l2 * v[q];
  }
  return ll / total - l2 / 2 * sq;
}

/// Standard normal draw from a 64-bit engine by Box-Muller on 53-bit uniforms (portable, unlike
/// std::normal_distribution whose algorithm is implementation-defined).
inline double portable_normal(std::mt19937_64& rng) {
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586476925286766559 * u2);
}

}  // namespace detail

/// Fits GPM embeddings to comparison counts (see the header comment).
template <class T>
gpm_fit_result<T> fit_gpm(const comparison_data<T>& data, const gpm_options<T>& opt = {}) {
  const index_t n = data.num_items();
  require(n >= 2, "data.num_items()", n, "need at least two items");
  require(data.total_weight() > T(0), "data.total_weight()", data.total_weight(), "need comparisons");
  require(opt.blocks >= 1, "blocks", opt.blocks, "must be >= 1");
  require_positive_finite("tau", opt.tau);
  require(std::isfinite(opt.l2) && opt.l2 >= T(0), "l2", opt.l2, "must be finite and >= 0");
  require(opt.max_iterations >= 1, "max_iterations", opt.max_iterations, "must be >= 1");
  require_positive_finite("tolerance", opt.tolerance);
  require_positive_finite("init_scale", opt.init_scale);

  std::mt19937_64 rng(opt.seed);
  std::vector<T> v(static_cast<std::size_t>(n * 2 * opt.blocks));
  for (T& x : v) x = opt.init_scale * static_cast<T>(detail::portable_normal(rng));
  gpm_fit_result<T> res;
  res.model = gpm_model<T>(n, opt.blocks, std::move(v), {}, opt.tau);
  std::vector<T> g(res.model.embeddings().size()), g_try(g.size());
  T f = detail::gpm_objective(res.model, data, opt.l2, g, nullptr);
  T step = T(1);
  for (index_t it = 0; it < opt.max_iterations; ++it) {
    T gg = T(0), gmax = T(0);
    for (T x : g) {
      gg += x * x;
      gmax = std::max(gmax, std::fabs(x));
    }
    res.iterations = it;
    if (gmax < opt.tolerance) {
      res.converged = true;
      break;
    }
    gpm_model<T> trial = res.model;
    T f_try = f;
    for (int halvings = 0; halvings < 60; ++halvings, step /= 2) {
      auto& tv = trial.embeddings();
      const auto& cv = res.model.embeddings();
      for (std::size_t q = 0; q < tv.size(); ++q) tv[q] = cv[q] + step * g[q];
      f_try = detail::gpm_objective(trial, data, opt.l2, g_try, nullptr);
      if (f_try >= f + T(1e-4) * step * gg) break;
    }
    if (!(f_try > f)) {  // no further ascent in floating point
      res.converged = gmax < std::sqrt(opt.tolerance);
      break;
    }
    res.model = std::move(trial);
    f = f_try;
    g.swap(g_try);
    step *= T(1.5);
  }
  res.objective = detail::gpm_objective(res.model, data, opt.l2, g, &res.log_likelihood);
  res.gradient_norm = T(0);
  for (T x : g) res.gradient_norm = std::max(res.gradient_norm, std::fabs(x));
  return res;
}

}  // namespace prefopt::prefmodel
