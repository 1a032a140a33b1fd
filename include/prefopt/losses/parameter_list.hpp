#pragma once
// How a loss policy declares its hyper-parameters: once, in constructor-argument order, with their
// CLI / TRL names and defaults. The constructor takes its defaults from this declaration and the
// registry (registry.hpp) builds the loss from it, so a default is written in exactly one place:
//
//   static constexpr parameter_list parameters{{"beta", 0.1}, {"tau", 0.05}};
//   explicit discopop(T beta = T(parameters.default_of("beta")), T tau = T(parameters.default_of("tau")));
//
// (a loss whose hyper-parameters are exactly beta, or beta and label_smoothing, inherits such a
// constructor from detail::beta_loss / detail::smoothed_loss in pair.hpp.)
//
// A policy may also declare other names it answers to in the registry:
//   static constexpr std::array<std::string_view, 1> aliases{"dpo"};
// Light on purpose (no <optional>, no <variant>): every loss header includes it.

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace prefopt::losses {

/// One constructor argument of a loss.
struct parameter_declaration {
  std::string_view name;        // CLI / TRL name, e.g. "label_smoothing"
  double default_value = 0.0;   // converted to the loss's scalar type by the constructor
  std::string_view alias = {};  // another accepted spelling (orpo's lambda is TRL's "beta")
};

/// The hyper-parameters of a loss in constructor order. A literal type, so the registry can keep
/// a constexpr table of them; capacity is the most arguments any loss constructor takes.
class parameter_list {
 public:
  static constexpr std::size_t capacity = 4;

  constexpr parameter_list() = default;
  constexpr parameter_list(std::initializer_list<parameter_declaration> entries) {
    // A loss with more arguments than `capacity` fails here, at compile time.
    if (entries.size() > capacity) throw "parameter_list: raise capacity";
    for (const auto& e : entries) entries_[size_++] = e;
  }

  constexpr std::size_t size() const { return size_; }
  constexpr const parameter_declaration& operator[](std::size_t k) const { return entries_[k]; }
  constexpr const parameter_declaration* begin() const { return entries_.data(); }
  constexpr const parameter_declaration* end() const { return entries_.data() + size_; }

  /// The default of the argument called `name`; a name the list lacks does not compile.
  consteval double default_of(std::string_view name) const {
    for (const auto& e : *this)
      if (e.name == name) return e.default_value;
    throw "parameter_list::default_of: no hyper-parameter of that name";
  }

  /// Whether `name` is one of the arguments (or an alias of one).
  constexpr bool accepts(std::string_view name) const {
    for (const auto& e : *this)
      if (e.name == name || (!e.alias.empty() && e.alias == name)) return true;
    return false;
  }

 private:
  std::array<parameter_declaration, capacity> entries_{};
  std::size_t size_ = 0;
};

}  // namespace prefopt::losses
