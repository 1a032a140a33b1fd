#pragma once
// Runtime registry: a loss name in TRL's loss_type spelling (plus a few extras) and optional
// hyper-parameters -> a loss object, for command-line tools and configuration files.
//
//   auto loss = prefopt::losses::make_loss<double>("ipo", {.beta = 0.5});
//   auto out  = prefopt::losses::preference_loss<B>(loss, batch);     // std::visit inside
//
// Unknown names and hyper-parameters the chosen loss does not have are rejected with
// prefopt::invalid_argument; the message lists the valid choices.

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "prefopt/core/errors.hpp"
#include "prefopt/losses/all.hpp"

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

template <std::floating_point T>
using any_loss =
    std::variant<sigmoid<T>, robust<T>, hinge<T>, ipo<T>, exo_pair<T>, nca_pair<T>, bco_pair<T>,
                 sppo_hard<T>, sppo<T>, aot<T>, aot_unpaired<T>, apo_zero<T>, apo_down<T>,
                 discopop<T>, kto<T>, orpo<T>, simpo<T>, cpo<T>, longpo<T>, rpo<T>, sft<T>>;

/// Every accepted name ("aot_pair" is TRL's spelling of aot_unpaired).
inline constexpr std::array<std::string_view, 22> loss_names{
    "sigmoid", "robust",   "hinge",        "ipo",      "exo_pair", "nca_pair",
    "bco_pair", "sppo_hard", "sppo",        "aot",      "aot_pair", "aot_unpaired",
    "apo_zero", "apo_down", "discopop",     "kto",      "orpo",     "simpo",
    "cpo",      "longpo",   "rpo",          "sft"};

namespace detail {

inline std::string join_names() {
  std::string s;
  for (auto n : loss_names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

/// Rejects every hyper-parameter that is set but not in `allowed` (a space-separated list).
inline void check_allowed(std::string_view loss, const hyper_parameters& hp,
                          std::string_view allowed) {
  const auto check = [&](std::string_view name, const std::optional<double>& v) {
    if (!v) return;
    bool found = false;
    for (std::size_t start = 0; start <= allowed.size() && !found;) {
      const std::size_t end = std::min(allowed.find(' ', start), allowed.size());
      found = allowed.substr(start, end - start) == name;
      start = end + 1;
    }
    if (!found)
      throw_invalid_argument(name, *v,
                             "not a hyper-parameter of loss \"" + std::string(loss) +
                                 "\" (it takes: " +
                                 (allowed.empty() ? std::string("none") : std::string(allowed)) +
                                 ")");
  };
  check("beta", hp.beta);
  check("label_smoothing", hp.label_smoothing);
  check("gamma", hp.gamma);
  check("alpha", hp.alpha);
  check("lambda", hp.lambda);
  check("tau", hp.tau);
  check("desirable_weight", hp.desirable_weight);
  check("undesirable_weight", hp.undesirable_weight);
}

template <class T>
T value_or(const std::optional<double>& v, T fallback) {
  return v ? static_cast<T>(*v) : fallback;
}

}  // namespace detail

/// The loss called `name` with hyper-parameters `hp` (validated by the loss's constructor).
template <std::floating_point T>
any_loss<T> make_loss(std::string_view name, const hyper_parameters& hp = {}) {
  using detail::check_allowed;
  using detail::value_or;
  const T beta = value_or(hp.beta, T(0.1));
  const T eps = value_or(hp.label_smoothing, T(0));
  const auto beta_only = [&]() { check_allowed(name, hp, "beta"); };
  const auto beta_eps = [&]() { check_allowed(name, hp, "beta label_smoothing"); };
  if (name == "sigmoid") return beta_eps(), sigmoid<T>(beta, eps);
  if (name == "robust") return beta_eps(), robust<T>(beta, eps);
  if (name == "hinge") return beta_only(), hinge<T>(beta);
  if (name == "ipo") return beta_only(), ipo<T>(beta);
  if (name == "exo_pair") return beta_eps(), exo_pair<T>(beta, value_or(hp.label_smoothing, T(1e-3)));
  if (name == "nca_pair") return beta_only(), nca_pair<T>(beta);
  if (name == "bco_pair") return beta_only(), bco_pair<T>(beta);
  if (name == "sppo_hard") return beta_only(), sppo_hard<T>(beta);
  if (name == "sppo") return beta_only(), sppo<T>(value_or(hp.beta, T(0.001)));
  if (name == "aot") return beta_eps(), aot<T>(beta, eps);
  if (name == "aot_pair" || name == "aot_unpaired") return beta_eps(), aot_unpaired<T>(beta, eps);
  if (name == "apo_zero") return beta_only(), apo_zero<T>(beta);
  if (name == "apo_down") return beta_only(), apo_down<T>(beta);
  if (name == "discopop")
    return check_allowed(name, hp, "beta tau"), discopop<T>(beta, value_or(hp.tau, T(0.05)));
  if (name == "kto") {
    check_allowed(name, hp, "beta desirable_weight undesirable_weight");
    return kto<T>(beta, value_or(hp.desirable_weight, T(1)), value_or(hp.undesirable_weight, T(1)));
  }
  if (name == "orpo") {
    // TRL's ORPOConfig calls lambda "beta"; accept either spelling, not both.
    check_allowed(name, hp, "lambda beta");
    if (hp.beta && hp.lambda)
      throw_invalid_argument("beta", *hp.beta, "orpo: give lambda or beta (its TRL name), not both");
    return orpo<T>(hp.lambda ? static_cast<T>(*hp.lambda) : beta);
  }
  if (name == "simpo") {
    check_allowed(name, hp, "beta gamma label_smoothing");
    return simpo<T>(value_or(hp.beta, T(2)), value_or(hp.gamma, T(0.5)), eps);
  }
  if (name == "cpo") {
    check_allowed(name, hp, "beta alpha label_smoothing");
    return cpo<T>(beta, value_or(hp.alpha, T(1)), eps);
  }
  if (name == "longpo") {
    check_allowed(name, hp, "beta lambda");
    return longpo<T>(value_or(hp.beta, T(0.01)), value_or(hp.lambda, T(0.01)));
  }
  if (name == "rpo") {
    check_allowed(name, hp, "beta alpha label_smoothing");
    return rpo<T>(beta, value_or(hp.alpha, T(1)), eps);
  }
  if (name == "sft") return check_allowed(name, hp, ""), sft<T>();
  throw_invalid_argument("loss", name, "unknown loss; valid names: " + detail::join_names());
}

/// The registry name of the loss held by `loss`.
template <std::floating_point T>
std::string_view loss_name(const any_loss<T>& loss) {
  return std::visit([](const auto& l) { return std::string_view(std::decay_t<decltype(l)>::name); },
                    loss);
}

/// The batch API on a runtime-selected loss.
template <class B>
preference_loss_result<B> preference_loss(const any_loss<typename B::scalar_type>& loss,
                                          const preference_batch<typename B::scalar_type>& batch,
                                          const preference_loss_options<typename B::scalar_type>& options = {}) {
  return std::visit([&](const auto& l) { return preference_loss<B>(l, batch, options); }, loss);
}

/// What the runtime-selected loss reads (for tools deciding which inputs are required).
template <std::floating_point T>
loss_traits traits_of(const any_loss<T>& loss) {
  return std::visit([](const auto& l) { return std::decay_t<decltype(l)>::traits; }, loss);
}

}  // namespace prefopt::losses
