#pragma once
// KL coefficient controllers (host): the gamma of a penalty gamma * KL, fixed or adapted towards
// a target KL as in Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"
// (sec. 2.2) and HF TRL's AdaptiveKLController / FixedKLController:
//
//   error = clip(current / target - 1, -0.2, 0.2)
//   gamma <- gamma * (1 + error * n_steps / horizon)
//
// `current` is the measured KL of the last batch (an estimate: it may be negative with k1) and
// `n_steps` the number of samples (TRL: the batch size) since the last update. TRL does not
// check its arguments; here a non-finite KL, a negative n_steps, or a step that would make the
// multiplier <= 0 (error = -0.2 with n_steps > 5 * horizon, which would flip the penalty's sign)
// throws prefopt::invalid_argument.

#include <algorithm>
#include <cmath>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"

namespace prefopt::kl {

/// gamma constant; update() only validates its arguments (so both controllers are
/// interchangeable in a training loop).
class fixed_kl_controller {
 public:
  explicit fixed_kl_controller(double coefficient) : value_(coefficient) {
    require(std::isfinite(coefficient) && coefficient >= 0.0, "coefficient", coefficient,
            "must be finite and >= 0");
  }
  [[nodiscard]] double value() const { return value_; }
  void update(double current_kl, index_t n_steps) {
    require_finite("current_kl", current_kl);
    require(n_steps >= 0, "n_steps", n_steps, "must be >= 0");
  }

 private:
  double value_;
};

/// Ziegler et al.'s proportional controller (TRL AdaptiveKLController(init_kl_coef, target,
/// horizon)).
class adaptive_kl_controller {
 public:
  adaptive_kl_controller(double init_coefficient, double target, double horizon)
      : value_(init_coefficient), target_(target), horizon_(horizon) {
    require(std::isfinite(init_coefficient) && init_coefficient >= 0.0, "init_coefficient",
            init_coefficient, "must be finite and >= 0");
    require_positive_finite("target", target);
    require_positive_finite("horizon", horizon);
  }
  [[nodiscard]] double value() const { return value_; }
  [[nodiscard]] double target() const { return target_; }
  [[nodiscard]] double horizon() const { return horizon_; }

  /// The clipped proportional error for a measured KL.
  [[nodiscard]] double error(double current_kl) const {
    return std::clamp(current_kl / target_ - 1.0, -0.2, 0.2);
  }

  void update(double current_kl, index_t n_steps) {
    require_finite("current_kl", current_kl);
    require(n_steps >= 0, "n_steps", n_steps, "must be >= 0");
    const double mult = 1.0 + error(current_kl) * static_cast<double>(n_steps) / horizon_;
    require(mult > 0.0, "n_steps", n_steps,
            "the multiplier 1 + error * n_steps / horizon = " + prefopt::detail::format_value(mult) +
                " must be > 0 (n_steps <= 5 * horizon)");
    value_ *= mult;
  }

 private:
  double value_, target_, horizon_;
};

}  // namespace prefopt::kl
