#pragma once
// Runtime registry: a loss name in TRL's loss_type spelling (plus a few extras) and optional
// hyper-parameters -> a loss object, for command-line tools, configuration files and bindings.
//
//   auto loss = prefopt::losses::make_loss<double>("ipo", {.beta = 0.5});
//   auto out  = prefopt::losses::preference_loss<B>(loss, batch);     // std::visit inside
//
// One source of truth: every table here (accepted names, the any_loss variant, constructors,
// hyper-parameter validation, the valid choices an error message lists) is generated from the
// type list registered_losses and from what each policy declares about itself: `name`, optional
// `aliases`, and `parameters` (names and defaults, in constructor order; see parameter_list.hpp).
// Unknown names and hyper-parameters the chosen loss does not have are rejected with
// prefopt::invalid_argument; the message lists the valid choices. Only this header needs
// <variant>: the umbrella-free per-loss headers stay light.

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "prefopt/core/errors.hpp"
#include "prefopt/losses/all.hpp"
#include "prefopt/losses/hyper_parameters.hpp"
#include "prefopt/losses/parameter_list.hpp"

namespace prefopt::losses {

/// A list of loss policy types.
template <class... Ls>
struct loss_list {
  static constexpr std::size_t size = sizeof...(Ls);
};

/// Every loss the registry knows, in the order of loss_names. Registering a loss is one entry
/// here (plus the #include of its header, through all.hpp).
template <std::floating_point T>
using registered_losses =
    loss_list<sigmoid<T>, robust<T>, hinge<T>, ipo<T>, exo_pair<T>, nca_pair<T>, bco_pair<T>,
              sppo_hard<T>, sppo<T>, sppo_single<T>, aot<T>, aot_unpaired<T>, apo_zero<T>, apo_down<T>,
              discopop<T>, kto<T>, orpo<T>, simpo<T>, cpo<T>, longpo<T>, rpo<T>, sft<T>>;

namespace detail {

template <std::size_t, class T>
using repeat_type = T;

template <class L, std::size_t... K>
constexpr bool constructible_from_parameters(std::index_sequence<K...>) {
  return std::is_constructible_v<L, repeat_type<K, typename L::scalar_type>...>;
}

/// Every declared name (and alias) is a field of hyper_parameters.
constexpr bool declares_known_names(const parameter_list& ps) {
  for (const auto& p : ps) {
    if (hyper_parameter_index(p.name) == hyper_parameter_fields.size()) return false;
    if (!p.alias.empty() && hyper_parameter_index(p.alias) == hyper_parameter_fields.size())
      return false;
  }
  return true;
}

}  // namespace detail

/// What the registry needs of a loss besides preference_loss_policy: a `parameters` declaration
/// naming fields of hyper_parameters, and a constructor taking them in declaration order.
template <class L>
concept registrable_loss =
    preference_loss_policy<L> && std::same_as<std::remove_cv_t<decltype(L::parameters)>, parameter_list> &&
    detail::declares_known_names(L::parameters) &&
    detail::constructible_from_parameters<L>(std::make_index_sequence<L::parameters.size()>{});

namespace detail {

template <class L>
constexpr auto aliases_of() {
  if constexpr (requires { L::aliases; }) return L::aliases;
  else return std::array<std::string_view, 0>{};
}

/// One accepted name and the position in registered_losses of the loss it selects.
struct registry_entry {
  std::string_view name;
  std::size_t loss;
};

template <class L, std::size_t N>
constexpr void add_names(std::array<registry_entry, N>& out, std::size_t& next, std::size_t loss) {
  static_assert(registrable_loss<L>, "a registered loss declares `parameters` (parameter_list.hpp) "
                                     "in the order its constructor takes them");
  out[next++] = {L::name, loss};
  for (const auto alias : aliases_of<L>()) out[next++] = {alias, loss};
}

template <class... Ls>
consteval auto make_name_table(loss_list<Ls...>) {
  constexpr std::size_t total = ((1 + aliases_of<Ls>().size()) + ...);
  std::array<registry_entry, total> out{};
  std::size_t next = 0, loss = 0;
  (add_names<Ls>(out, next, loss++), ...);
  return out;
}

/// Every accepted name, each loss's canonical name first and then its aliases.
inline constexpr auto name_table = make_name_table(registered_losses<double>{});

template <std::size_t N>
consteval bool names_are_distinct(const std::array<registry_entry, N>& t) {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      if (t[i].name == t[j].name) return false;
  return true;
}
static_assert(names_are_distinct(name_table), "two registered losses answer to the same name");

template <class... Ls>
consteval auto make_parameter_table(loss_list<Ls...>) {
  return std::array<parameter_list, sizeof...(Ls)>{Ls::parameters...};
}
/// The declared hyper-parameters of each registered loss, by position in registered_losses.
inline constexpr auto parameter_table = make_parameter_table(registered_losses<double>{});

template <class... Ls>
consteval auto make_canonical_names(loss_list<Ls...>) {
  return std::array<std::string_view, sizeof...(Ls)>{Ls::name...};
}

template <class List>
struct variant_of;
template <class... Ls>
struct variant_of<loss_list<Ls...>> {
  using type = std::variant<Ls...>;
};

}  // namespace detail

/// Every accepted name: each loss's own name followed by its aliases ("dpo" is sigmoid,
/// "aot_pair" TRL's spelling of aot_unpaired).
inline constexpr auto loss_names = [] {
  std::array<std::string_view, detail::name_table.size()> out{};
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = detail::name_table[k].name;
  return out;
}();

/// One name per registered loss (what loss_name() returns), in registered_losses order.
inline constexpr auto canonical_loss_names = detail::make_canonical_names(registered_losses<double>{});

/// A loss chosen at run time: one of registered_losses<T>. A named type (not a bare
/// std::variant alias) so diagnostics say any_loss<T>; std::get, std::holds_alternative and
/// std::visit work on it as on the variant it derives from (or on as_variant()).
template <std::floating_point T>
class any_loss : public detail::variant_of<registered_losses<T>>::type {
 public:
  using variant_type = typename detail::variant_of<registered_losses<T>>::type;
  using variant_type::variant_type;
  const variant_type& as_variant() const noexcept { return *this; }
};

namespace detail {

/// Comma-separated list of every accepted loss name.
inline std::string join_loss_names() {
  std::string s;
  for (const auto n : loss_names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

/// Position in registered_losses of the loss called `name` (or an alias of it); throws for an
/// unknown name, listing the valid ones. Past this call a name always selects a loss.
inline std::size_t registered_index(std::string_view name) {
  for (const auto& e : name_table)
    if (e.name == name) return e.loss;
  throw_invalid_argument("loss", name, "unknown loss; valid names: " + join_loss_names());
}

/// "beta label_smoothing" (each parameter, then its alias); `none` when there are none.
inline std::string parameter_names_text(const parameter_list& ps, std::string_view none) {
  std::string s;
  for (const auto& p : ps) {
    if (!s.empty()) s += ' ';
    s += p.name;
    if (!p.alias.empty()) {
      s += ' ';
      s += p.alias;
    }
  }
  return s.empty() ? std::string(none) : s;
}

/// Rejects every hyper-parameter that is set but not declared by the loss called `loss`.
inline void reject_foreign(std::string_view loss, const parameter_list& ps, const hyper_parameters& hp) {
  for (const auto& f : hyper_parameter_fields)
    if (const auto& v = hp.*f.member; v && !ps.accepts(f.name))
      throw_invalid_argument(f.name, *v,
                             "not a hyper-parameter of loss \"" + std::string(loss) +
                                 "\" (it takes: " + parameter_names_text(ps, "none") + ")");
}

/// The value of declared parameter `p`: given under its name or its alias (not both), else its
/// declared default.
template <class T>
T resolve_parameter(std::string_view loss, const hyper_parameters& hp, const parameter_declaration& p) {
  const auto& given = hp.*hyper_parameter_fields[hyper_parameter_index(p.name)].member;
  if (!p.alias.empty()) {
    const auto& alias = hp.*hyper_parameter_fields[hyper_parameter_index(p.alias)].member;
    if (alias && given)
      throw_invalid_argument(p.alias, *alias,
                             std::string(loss) + ": give " + std::string(p.name) + " or " +
                                 std::string(p.alias) + " (another name for it), not both");
    if (alias) return static_cast<T>(*alias);
  }
  return static_cast<T>(given ? *given : p.default_value);
}

template <class L, std::size_t... K>
L construct_from([[maybe_unused]] std::string_view name, [[maybe_unused]] const hyper_parameters& hp,
                 std::index_sequence<K...>) {  // sft declares no parameters
  return L(resolve_parameter<typename L::scalar_type>(name, hp, L::parameters[K])...);
}

/// Builds L from `hp` (the loss's constructor validates the values).
template <class L>
any_loss<typename L::scalar_type> construct(std::string_view name, const hyper_parameters& hp) {
  reject_foreign(name, L::parameters, hp);
  return any_loss<typename L::scalar_type>(
      std::in_place_type<L>, construct_from<L>(name, hp, std::make_index_sequence<L::parameters.size()>{}));
}

template <std::floating_point T, class... Ls>
consteval auto make_constructors(loss_list<Ls...>) {
  using constructor = any_loss<T> (*)(std::string_view, const hyper_parameters&);
  return std::array<constructor, sizeof...(Ls)>{&construct<Ls>...};
}

}  // namespace detail

/// The hyper-parameters (space-separated CLI / TRL names; orpo: "lambda beta", beta being TRL's
/// name for its lambda) the loss called `name` takes; throws for an unknown name.
inline std::string_view hyper_parameter_names(std::string_view name) {
  static const auto texts = [] {
    std::array<std::string, registered_losses<double>::size> out;
    for (std::size_t k = 0; k < out.size(); ++k)
      out[k] = detail::parameter_names_text(detail::parameter_table[k], "");
    return out;
  }();
  return texts[detail::registered_index(name)];
}

/// The canonical name of the loss an accepted name selects ("dpo" -> "sigmoid").
inline std::string_view canonical_name(std::string_view name) {
  return canonical_loss_names[detail::registered_index(name)];
}

/// The declared hyper-parameters (names, defaults, aliases) of the loss called `name`.
inline const parameter_list& declared_parameters(std::string_view name) {
  return detail::parameter_table[detail::registered_index(name)];
}

/// The loss called `name` with hyper-parameters `hp` (validated by the loss's constructor).
template <std::floating_point T>
any_loss<T> make_loss(std::string_view name, const hyper_parameters& hp = {}) {
  static constexpr auto constructors = detail::make_constructors<T>(registered_losses<T>{});
  return constructors[detail::registered_index(name)](name, hp);
}

/// What the runtime-selected loss reads (for tools deciding which inputs are required).
template <std::floating_point T>
loss_traits traits_of(const any_loss<T>& loss) {
  return std::visit([](const auto& l) { return std::decay_t<decltype(l)>::traits; }, loss.as_variant());
}

/// The registry name of the loss held by `loss` (its canonical name, never an alias).
template <std::floating_point T>
std::string_view loss_name(const any_loss<T>& loss) {
  return std::visit([](const auto& l) { return std::string_view(std::decay_t<decltype(l)>::name); },
                    loss.as_variant());
}

/// The batch API on a runtime-selected loss.
template <class B>
preference_loss_result<B> preference_loss(const any_loss<typename B::scalar_type>& loss,
                                          const preference_batch<typename B::scalar_type>& batch,
                                          const preference_loss_options<typename B::scalar_type>& options = {}) {
  return std::visit([&](const auto& l) { return preference_loss<B>(l, batch, options); },
                    loss.as_variant());
}

/// The same into a caller-kept result, reusing its buffers (the reusing form of
/// preference_loss.hpp: same values, same errors; `out` unspecified but valid after a throw).
template <class B>
void preference_loss(const any_loss<typename B::scalar_type>& loss,
                     const preference_batch<typename B::scalar_type>& batch,
                     preference_loss_result<B>& out,
                     const preference_loss_options<typename B::scalar_type>& options = {}) {
  std::visit([&](const auto& l) { preference_loss<B>(l, batch, out, options); }, loss.as_variant());
}

/// One term of a runtime loss list (TRL's loss_type=[...] with loss_weights=[...], MPO).
template <std::floating_point T>
struct weighted_loss {
  T weight;
  any_loss<T> loss;
};

/// Parses "sigmoid,bco_pair,sft" with one weight per name (all 1 when `weights` is empty). Each
/// hyper-parameter in `hp` goes to every term that has it, and must be had by at least one term;
/// a term takes a hyper-parameter under an alias (orpo's "beta") only when its own name (orpo's
/// "lambda") is not given, so that beta can go to the other terms. aot / aot_unpaired cannot be
/// combined with other losses (they reorder the pairs).
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
  const auto given = [&](std::string_view field) {
    return (hp.*hyper_parameter_fields[detail::hyper_parameter_index(field)].member).has_value();
  };
  std::vector<weighted_loss<T>> out;
  std::array<bool, hyper_parameter_fields.size()> used{};
  for (std::size_t k = 0; k < parts.size(); ++k) {
    hyper_parameters own{};
    for (const auto& p : detail::parameter_table[detail::registered_index(parts[k])]) {
      std::string_view field = p.name;
      if (!given(field) && !p.alias.empty() && given(p.alias)) field = p.alias;
      if (!given(field)) continue;
      const std::size_t f = detail::hyper_parameter_index(field);
      own.*hyper_parameter_fields[f].member = hp.*hyper_parameter_fields[f].member;
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
  for (std::size_t f = 0; f < hyper_parameter_fields.size(); ++f)
    if (const auto& v = hp.*hyper_parameter_fields[f].member; v && !used[f])
      throw_invalid_argument(hyper_parameter_fields[f].name, *v,
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
