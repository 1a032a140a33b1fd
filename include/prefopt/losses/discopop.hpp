#pragma once
// DiscoPOP, the log-ratio modulated loss (Chris Lu et al. 2024, "Discovering Preference
// Optimization Algorithms with and for LLMs", eq. 5), TRL DPOTrainer loss_type="discopop":
//   m = sigma(z / tau),  L = (1 - m)(-log sigma(z)) + m exp(-z),  tau = 0.05 by default.
// The modulation m is differentiated (not detached), as in TRL. m exp(-z) is evaluated as
// exp(-z + log sigma(z/tau)) so that |z| in the thousands neither overflows exp(-z) nor forms
// inf * 0 (for tau < 1 the exponent is <= 0 whenever z < 0).
//   dL/dz = -(1 - m) sigma(-z) - m exp(-z) + m(1 - m)/tau (exp(-z) + log sigma(z)).

#include <cmath>
#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class discopop : public detail::beta_policy<T> {
 public:
  static constexpr std::string_view name = "discopop";
  static constexpr loss_traits traits{};
  static constexpr parameter_list parameters{{"beta", 0.1}, {"tau", 0.05}};

  explicit discopop(T beta = T(parameters.default_of("beta")), T tau = T(parameters.default_of("tau"))) : detail::beta_policy<T>(beta), tau_(tau) {
    require_positive_finite("tau", tau);
  }
  PREFOPT_HD T tau() const { return tau_; }

  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    const T z = this->beta_ * detail::margin(p), s = z / tau_;
    const T log_m = log_sigmoid(s), log_1m = log_sigmoid(-s);
    const T one_minus_m = prefopt::sigmoid(-s);
    const T logistic = -log_sigmoid(z);
    const T m_exp = prefopt::detail::exp_(log_m - z);                 // m exp(-z)
    const T mm_exp = prefopt::detail::exp_(log_m + log_1m - z);       // m (1 - m) exp(-z)
    const T mm = prefopt::detail::exp_(log_m + log_1m);               // m (1 - m)
    const T value = one_minus_m * logistic + m_exp;
    const T slope = -one_minus_m * prefopt::sigmoid(-z) - m_exp + (mm_exp - mm * logistic) / tau_;
    return detail::margin_result(value, slope, this->beta_);
  }

 private:
  T tau_;
};

}  // namespace prefopt::losses
