#pragma once
// Shared helpers of the loss tests: the catalogue as registry entries with non-default
// hyper-parameters, and a tolerant comparison.

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <vector>

#include <prefopt/losses/registry.hpp>

namespace losses_test {

struct catalogue_entry {
  std::string_view name;
  prefopt::losses::hyper_parameters hp;
};

/// Every loss once, with hyper-parameters away from their defaults where that exercises more terms.
inline std::vector<catalogue_entry> catalogue() {
  using hp = prefopt::losses::hyper_parameters;
  return {{"sigmoid", hp{.beta = 0.3, .label_smoothing = 0.1}},
          {"robust", hp{.beta = 0.3, .label_smoothing = 0.2}},
          {"hinge", hp{.beta = 0.05}},
          {"ipo", hp{.beta = 0.4}},
          {"exo_pair", hp{.beta = 0.3, .label_smoothing = 0.05}},
          {"nca_pair", hp{.beta = 0.3}},
          {"bco_pair", hp{.beta = 0.3}},
          {"sppo_hard", hp{.beta = 0.5}},
          {"sppo", hp{.beta = 0.5}},
          {"aot", hp{.beta = 0.3, .label_smoothing = 0.1}},
          {"aot_unpaired", hp{.beta = 0.3}},
          {"apo_zero", hp{.beta = 0.3}},
          {"apo_down", hp{.beta = 0.3}},
          {"discopop", hp{.beta = 0.3, .tau = 0.5}},
          {"kto", hp{.beta = 0.3, .desirable_weight = 1.3, .undesirable_weight = 0.7}},
          {"orpo", hp{.lambda = 0.5}},
          {"simpo", hp{.beta = 2.0, .label_smoothing = 0.1, .gamma = 0.4}},
          {"cpo", hp{.beta = 0.3, .alpha = 0.5}},
          {"longpo", hp{.beta = 0.3, .lambda = 0.5}},
          {"rpo", hp{.beta = 0.3, .alpha = 0.7}},
          {"sft", hp{}}};
}

/// |a - b| <= rel * max(|a|, |b|) + abs_floor.
inline bool close(double a, double b, double rel, double abs_floor = 0.0) {
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b)) + abs_floor;
}

}  // namespace losses_test
