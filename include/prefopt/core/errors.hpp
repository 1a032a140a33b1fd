#pragma once
// Input validation. Every public entry point checks its arguments and throws
// prefopt::invalid_argument with a message that names the argument and the offending value, so a
// bad call fails loudly on the host instead of producing NaN or undefined behaviour.

#include <cmath>
#include <concepts>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace prefopt {

/// The one exception type for bad input. Derives from std::invalid_argument so generic handlers
/// keep working.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

template <class T>
std::string format_value(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream os;
    os.precision(std::numeric_limits<T>::max_digits10);
    os << value;
    return os.str();
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    // Built by append: GCC 12 emits a false -Wrestrict for "lit" + std::string&& (PR 105329).
    std::string quoted(1, '"');
    quoted.append(std::string_view(value));
    quoted.push_back('"');
    return quoted;
  } else {
    std::ostringstream os;
    os << value;
    return os.str();
  }
}

}  // namespace detail

/// Throws prefopt::invalid_argument: "<argument> = <value>: <requirement>".
template <class T>
[[noreturn]] void throw_invalid_argument(std::string_view argument, const T& value,
                                         std::string_view requirement) {
  std::string message(argument);
  message += " = ";
  message += detail::format_value(value);
  message += ": ";
  message += requirement;
  throw invalid_argument(message);
}

/// Checks `condition`; on failure throws naming `argument`, its `value` and the `requirement`.
template <class T>
void require(bool condition, std::string_view argument, const T& value,
             std::string_view requirement) {
  if (!condition) throw_invalid_argument(argument, value, requirement);
}

/// Finite and strictly positive (hyper-parameters such as beta, temperatures, step sizes).
template <std::floating_point T>
void require_positive_finite(std::string_view argument, T value) {
  require(std::isfinite(value) && value > T(0), argument, value, "must be finite and > 0");
}

/// Finite (any sign).
template <std::floating_point T>
void require_finite(std::string_view argument, T value) {
  require(std::isfinite(value), argument, value, "must be finite");
}

/// Two extents that must agree, e.g. the batch sizes of chosen and rejected inputs.
inline void require_same_size(std::string_view argument, long long value,
                              std::string_view reference_name, long long expected) {
  if (value != expected) {
    std::string req = "must equal ";
    req += reference_name;
    req += " = ";
    req += std::to_string(expected);
    throw_invalid_argument(argument, value, req);
  }
}

}  // namespace prefopt
