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
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

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

/// Whether the space-separated list `words` contains `word`.
inline bool has_word(std::string_view words, std::string_view word) {
  for (std::size_t start = 0; start <= words.size();) {
    const std::size_t end = std::min(words.find(' ', start), words.size());
    if (words.substr(start, end - start) == word) return true;
    start = end + 1;
  }
  return false;
}

/// Rejects every hyper-parameter that is set but not in `allowed` (a space-separated list).
inline void check_allowed(std::string_view loss, const hyper_parameters& hp,
                          std::string_view allowed) {
  const auto check = [&](std::string_view name, const std::optional<double>& v) {
    if (v && !has_word(allowed, name))
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

/// The hyper-parameters (space-separated CLI / TRL names) the loss called `name` takes; throws
/// for an unknown name, listing the valid ones.
inline std::string_view hyper_parameter_names(std::string_view name) {
  struct entry {
    std::string_view loss, parameters;
  };
  static constexpr entry table[] = {
      {"sigmoid", "beta label_smoothing"}, {"robust", "beta label_smoothing"},
      {"hinge", "beta"},                   {"ipo", "beta"},
      {"exo_pair", "beta label_smoothing"}, {"nca_pair", "beta"},
      {"bco_pair", "beta"},                {"sppo_hard", "beta"},
      {"sppo", "beta"},                    {"aot", "beta label_smoothing"},
      {"aot_pair", "beta label_smoothing"}, {"aot_unpaired", "beta label_smoothing"},
      {"apo_zero", "beta"},                {"apo_down", "beta"},
      {"discopop", "beta tau"},            {"kto", "beta desirable_weight undesirable_weight"},
      {"orpo", "lambda beta"},             {"simpo", "beta gamma label_smoothing"},
      {"cpo", "beta alpha label_smoothing"}, {"longpo", "beta lambda"},
      {"rpo", "beta alpha label_smoothing"}, {"sft", ""}};
  static_assert(std::size(table) == loss_names.size());
  for (const auto& e : table)
    if (e.loss == name) return e.parameters;
  throw_invalid_argument("loss", name, "unknown loss; valid names: " + detail::join_names());
}

/// The loss called `name` with hyper-parameters `hp` (validated by the loss's constructor).
template <std::floating_point T>
any_loss<T> make_loss(std::string_view name, const hyper_parameters& hp = {}) {
  using detail::value_or;
  detail::check_allowed(name, hp, hyper_parameter_names(name));
  const T beta = value_or(hp.beta, T(0.1));
  const T eps = value_or(hp.label_smoothing, T(0));
  if (name == "sigmoid") return sigmoid<T>(beta, eps);
  if (name == "robust") return robust<T>(beta, eps);
  if (name == "hinge") return hinge<T>(beta);
  if (name == "ipo") return ipo<T>(beta);
  if (name == "exo_pair") return exo_pair<T>(beta, value_or(hp.label_smoothing, T(1e-3)));
  if (name == "nca_pair") return nca_pair<T>(beta);
  if (name == "bco_pair") return bco_pair<T>(beta);
  if (name == "sppo_hard") return sppo_hard<T>(beta);
  if (name == "sppo") return sppo<T>(value_or(hp.beta, T(0.001)));
  if (name == "aot") return aot<T>(beta, eps);
  if (name == "aot_pair" || name == "aot_unpaired") return aot_unpaired<T>(beta, eps);
  if (name == "apo_zero") return apo_zero<T>(beta);
  if (name == "apo_down") return apo_down<T>(beta);
  if (name == "discopop") return discopop<T>(beta, value_or(hp.tau, T(0.05)));
  if (name == "kto")
    return kto<T>(beta, value_or(hp.desirable_weight, T(1)), value_or(hp.undesirable_weight, T(1)));
  if (name == "orpo") {
    // TRL's ORPOConfig calls lambda "beta"; accept either spelling, not both.
    if (hp.beta && hp.lambda)
      throw_invalid_argument("beta", *hp.beta, "orpo: give lambda or beta (its TRL name), not both");
    return orpo<T>(hp.lambda ? static_cast<T>(*hp.lambda) : beta);
  }
  if (name == "simpo") return simpo<T>(value_or(hp.beta, T(2)), value_or(hp.gamma, T(0.5)), eps);
  if (name == "cpo") return cpo<T>(beta, value_or(hp.alpha, T(1)), eps);
  if (name == "longpo") return longpo<T>(value_or(hp.beta, T(0.01)), value_or(hp.lambda, T(0.01)));
  if (name == "rpo") return rpo<T>(beta, value_or(hp.alpha, T(1)), eps);
  return sft<T>();  // the table above knows no other name
}

/// What the runtime-selected loss reads (for tools deciding which inputs are required).
template <std::floating_point T>
loss_traits traits_of(const any_loss<T>& loss) {
  return std::visit([](const auto& l) { return std::decay_t<decltype(l)>::traits; }, loss);
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

/// One term of a runtime loss list (TRL's loss_type=[...] with loss_weights=[...], MPO).
template <std::floating_point T>
struct weighted_loss {
  T weight;
  any_loss<T> loss;
};

/// Parses "sigmoid,bco_pair,sft" with one weight per name (all 1 when `weights` is empty). Each
/// hyper-parameter in `hp` goes to every term that has it, and must be had by at least one term.
/// aot / aot_unpaired cannot be combined with other losses (they reorder the pairs).
template <std::floating_point T>
std::vector<weighted_loss<T>> make_loss_list(std::string_view names, std::span<const double> weights,
                                             const hyper_parameters& hp = {}) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= names.size();) {
    const std::size_t end = std::min(names.find(',', start), names.size());
    parts.push_back(names.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() == 1 && weights.empty()) return {{T(1), make_loss<T>(parts[0], hp)}};
  if (!weights.empty())
    require_same_size("loss weights", static_cast<long long>(weights.size()), "number of losses",
                      static_cast<long long>(parts.size()));
  // Each term receives the hyper-parameters it has; each given one must belong to some term.
  static constexpr std::pair<std::string_view, std::optional<double> hyper_parameters::*> fields[] = {
      {"beta", &hyper_parameters::beta},
      {"label_smoothing", &hyper_parameters::label_smoothing},
      {"gamma", &hyper_parameters::gamma},
      {"alpha", &hyper_parameters::alpha},
      {"lambda", &hyper_parameters::lambda},
      {"tau", &hyper_parameters::tau},
      {"desirable_weight", &hyper_parameters::desirable_weight},
      {"undesirable_weight", &hyper_parameters::undesirable_weight}};
  std::vector<weighted_loss<T>> out;
  std::array<bool, std::size(fields)> used{};
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string_view allowed = hyper_parameter_names(parts[k]);
    hyper_parameters own{};
    // orpo also answers to "beta" (TRL's name for its lambda); when lambda is given, a beta in a
    // list belongs to the other terms instead of clashing with it inside orpo.
    const bool beta_is_not_orpos = parts.size() > 1 && parts[k] == "orpo" && hp.lambda;
    for (std::size_t f = 0; f < std::size(fields); ++f) {
      if (!(hp.*fields[f].second) || !detail::has_word(allowed, fields[f].first)) continue;
      if (beta_is_not_orpos && fields[f].first == "beta") continue;
      own.*fields[f].second = hp.*fields[f].second;
      used[f] = true;
    }
    const T w = weights.empty() ? T(1) : static_cast<T>(weights[k]);
    require(std::isfinite(w) && w >= T(0), "loss weights[" + std::to_string(k) + "]", w,
            "must be finite and >= 0");
    out.push_back({w, make_loss<T>(parts[k], own)});
    if (parts.size() > 1 && detail::is_sorted_coupling(traits_of(out.back().loss).batch))
      throw_invalid_argument("loss", parts[k],
                             "aot / aot_unpaired sort the batch and cannot be combined");
  }
  for (std::size_t f = 0; f < std::size(fields); ++f)
    if ((hp.*fields[f].second) && !used[f])
      throw_invalid_argument(fields[f].first, *(hp.*fields[f].second),
                             "not a hyper-parameter of any of \"" + std::string(names) + "\"");
  return out;
}

/// The batch API on a loss list: every reduction is linear, so the result is the weighted sum of
/// each term's result (each with its own batch coupling). Metrics are those of the first term.
template <class B>
preference_loss_result<B> preference_loss(
    const std::vector<weighted_loss<typename B::scalar_type>>& losses,
    const preference_batch<typename B::scalar_type>& batch,
    const preference_loss_options<typename B::scalar_type>& options = {}) {
  using T = typename B::scalar_type;
  require(!losses.empty(), "losses.size()", 0, "a loss list needs at least one loss");
  preference_loss_result<B> out;
  for (std::size_t k = 0; k < losses.size(); ++k) {
    auto r = preference_loss<B>(losses[k].loss, batch, options);
    const T w = losses[k].weight;
    if (k == 0) {
      out = std::move(r);
      out.loss *= w;
      out.per_pair = B::axpby(w, out.per_pair, T(0), out.per_pair);
      out.grad_chosen = B::axpby(w, out.grad_chosen, T(0), out.grad_chosen);
      out.grad_rejected = B::axpby(w, out.grad_rejected, T(0), out.grad_rejected);
      if (B::size(out.grad_nll) > 0) out.grad_nll = B::axpby(w, out.grad_nll, T(0), out.grad_nll);
      continue;
    }
    out.loss += w * r.loss;
    out.per_pair = B::axpby(T(1), out.per_pair, w, r.per_pair);
    out.grad_chosen = B::axpby(T(1), out.grad_chosen, w, r.grad_chosen);
    out.grad_rejected = B::axpby(T(1), out.grad_rejected, w, r.grad_rejected);
    if (B::size(r.grad_nll) > 0) {
      out.grad_nll = B::size(out.grad_nll) > 0 ? B::axpby(T(1), out.grad_nll, w, r.grad_nll)
                                               : B::axpby(w, r.grad_nll, T(0), r.grad_nll);
    }
    if (r.context.kl_baseline != T(0)) out.context.kl_baseline = r.context.kl_baseline;
    if (r.context.delta != T(0)) out.context.delta = r.context.delta;
  }
  return out;
}


}  // namespace prefopt::losses
