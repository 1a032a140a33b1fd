#pragma once
// sft: the negative log-likelihood of the chosen completion alone, L = NLL_w (TRL DPOTrainer
// loss_type="sft"). On its own it is supervised fine-tuning; in a loss list (combination.hpp,
// registry.hpp's make_loss_list) it is the NLL term of RPO / MPO-style mixtures.

#include <concepts>
#include <string_view>

#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

template <std::floating_point T>
class sft {
 public:
  using scalar_type = T;
  static constexpr std::string_view name = "sft";
  static constexpr loss_traits traits{.uses_reference = false, .has_nll = true};
  static constexpr parameter_list parameters{};  // none

  sft() = default;
  PREFOPT_HD T reward_scale() const { return T(1); }
  PREFOPT_HD pair_result<T> operator()(const pair_input<T>& p,
                                       const batch_context<T>& = {}) const {
    return {p.chosen_nll, T(0), T(0), T(1)};
  }
};

}  // namespace prefopt::losses
