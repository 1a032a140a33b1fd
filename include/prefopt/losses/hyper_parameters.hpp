#pragma once
// The runtime hyper-parameter set of the registry: every hyper-parameter any loss takes, by its
// CLI / TRL name, each optional (unset = the loss's declared default). hyper_parameter_fields is
// the one list of those names; the registry's validation, loss lists, the loss_table tool and
// the Python binding all walk it instead of spelling the names again.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "prefopt/core/errors.hpp"

namespace prefopt::losses {

/// Hyper-parameters by their CLI / TRL names; unset ones take the loss's default.
struct hyper_parameters {
  std::optional<double> beta{};
  std::optional<double> label_smoothing{};
  std::optional<double> gamma{};
  std::optional<double> alpha{};
  std::optional<double> lambda{};
  std::optional<double> tau{};
  std::optional<double> desirable_weight{};
  std::optional<double> undesirable_weight{};
};

/// A field of hyper_parameters and its name.
struct hyper_parameter_field {
  // Through an alias: nvcc's front end re-emits a bare pointer-to-member declarator with
  // parentheses that g++ then warns about (-Wparentheses).
  using member_pointer = std::optional<double> hyper_parameters::*;
  std::string_view name;
  member_pointer member;
};

/// Every field of hyper_parameters, in declaration order.
inline constexpr std::array<hyper_parameter_field, 8> hyper_parameter_fields{{
    {"beta", &hyper_parameters::beta},
    {"label_smoothing", &hyper_parameters::label_smoothing},
    {"gamma", &hyper_parameters::gamma},
    {"alpha", &hyper_parameters::alpha},
    {"lambda", &hyper_parameters::lambda},
    {"tau", &hyper_parameters::tau},
    {"desirable_weight", &hyper_parameters::desirable_weight},
    {"undesirable_weight", &hyper_parameters::undesirable_weight},
}};

namespace detail {
/// The index in hyper_parameter_fields of `name`, or fields.size() when there is none.
constexpr std::size_t hyper_parameter_index(std::string_view name) {
  std::size_t k = 0;
  while (k < hyper_parameter_fields.size() && hyper_parameter_fields[k].name != name) ++k;
  return k;
}
}  // namespace detail

/// Sets the hyper-parameter called `name` (a TRL name such as "label_smoothing") to `value`;
/// throws invalid_argument naming it when no loss has a hyper-parameter of that name.
inline void set_hyper_parameter(hyper_parameters& hp, std::string_view name, double value) {
  const std::size_t k = detail::hyper_parameter_index(name);
  if (k == hyper_parameter_fields.size()) {
    std::string valid;
    for (const auto& f : hyper_parameter_fields) {
      if (!valid.empty()) valid += ", ";
      valid += f.name;
    }
    throw_invalid_argument("hyper-parameter", name, "not a hyper-parameter of any loss; valid names: " + valid);
  }
  hp.*hyper_parameter_fields[k].member = value;
}

}  // namespace prefopt::losses
