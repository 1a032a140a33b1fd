#pragma once
// First-order optimisers on a flat parameter vector, for the toy policies: plain SGD and Adam
// (Kingma & Ba 2015, with bias correction, as torch.optim.Adam without weight decay).

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "prefopt/core/errors.hpp"

namespace prefopt::selfplay {

enum class optimizer_kind { sgd, adam };

struct optimizer_options {
  optimizer_kind kind = optimizer_kind::adam;
  double learning_rate = 0.05;
  double beta1 = 0.9;  // Adam
  double beta2 = 0.999;
  double epsilon = 1e-8;

  void validate() const {
    require_positive_finite("learning_rate", learning_rate);
    require(beta1 >= 0.0 && beta1 < 1.0, "beta1", beta1, "must be in [0, 1)");
    require(beta2 >= 0.0 && beta2 < 1.0, "beta2", beta2, "must be in [0, 1)");
    require_positive_finite("epsilon", epsilon);
  }
};

class optimizer {
 public:
  optimizer() = default;
  optimizer(optimizer_options o, std::size_t parameters) : o_(o) {
    o_.validate();
    m_.assign(parameters, 0.0);
    v_.assign(parameters, 0.0);
  }
  /// Forget the moments (a new training run).
  void reset() {
    std::fill(m_.begin(), m_.end(), 0.0);
    std::fill(v_.begin(), v_.end(), 0.0);
    t_ = 0;
  }
  /// theta ← theta − update(grad).
  void step(std::span<double> theta, std::span<const double> grad) {
    require(theta.size() == m_.size() && grad.size() == m_.size(), "grad.size()", grad.size(),
            "must equal the number of parameters " + std::to_string(m_.size()));
    for (std::size_t i = 0; i < grad.size(); ++i)
      require(std::isfinite(grad[i]), "grad[" + std::to_string(i) + "]", grad[i], "must be finite");
    if (o_.kind == optimizer_kind::sgd) {
      for (std::size_t i = 0; i < theta.size(); ++i) theta[i] -= o_.learning_rate * grad[i];
      return;
    }
    ++t_;
    const double c1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
    for (std::size_t i = 0; i < theta.size(); ++i) {
      m_[i] = o_.beta1 * m_[i] + (1.0 - o_.beta1) * grad[i];
      v_[i] = o_.beta2 * v_[i] + (1.0 - o_.beta2) * grad[i] * grad[i];
      theta[i] -= o_.learning_rate * (m_[i] / c1) / (std::sqrt(v_[i] / c2) + o_.epsilon);
    }
  }
  [[nodiscard]] const optimizer_options& options() const { return o_; }

 private:
  optimizer_options o_;
  std::vector<double> m_, v_;
  long long t_ = 0;
};

}  // namespace prefopt::selfplay
