#pragma once
// Input validation. Every public entry point checks its arguments and throws
// prefopt::invalid_argument with a message that names the argument and the offending value, so a
// bad call fails loudly on the host instead of producing NaN or undefined behaviour. String
// values and cells read from files are quoted by quote_text, so a message is one printable line.
// A valid input that a numerical method cannot finish (a pivot limit) throws
// prefopt::numerical_error instead.

#include <cmath>
#include <cstddef>
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

/// A computation that was given valid input but could not finish to its stated accuracy, e.g. a
/// simplex that reached its pivot limit. Not bad input (that is invalid_argument): the caller may
/// retry with other options. Derives from std::runtime_error.
class numerical_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Length of the well-formed UTF-8 sequence of a printable character (U+00A0 and above) starting
/// at text[k], or 0 (an ASCII byte, a C1 control, a truncated, overlong or surrogate sequence).
inline std::size_t printable_utf8_length(std::string_view text, std::size_t k) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(k);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (RFC 3629 table)
  if (b0 == 0xC2) { len = 2; lo = 0xA0; }  // U+0080..U+009F are C1 control characters
  else if (b0 >= 0xC3 && b0 <= 0xDF) len = 2;
  else if (b0 == 0xE0) { len = 3; lo = 0xA0; }
  else if (b0 == 0xED) { len = 3; hi = 0x9F; }
  else if (b0 >= 0xE1 && b0 <= 0xEF) len = 3;
  else if (b0 == 0xF0) { len = 4; lo = 0x90; }
  else if (b0 >= 0xF1 && b0 <= 0xF3) len = 4;
  else if (b0 == 0xF4) { len = 4; hi = 0x8F; }
  else return 0;
  if (k + len > text.size()) return 0;
  if (byte(k + 1) < lo || byte(k + 1) > hi) return 0;
  for (std::size_t i = 2; i < len; ++i)
    if (byte(k + i) < 0x80 || byte(k + i) > 0xBF) return 0;
  return len;
}

}  // namespace detail

/// Default number of characters of a cell that an error message quotes.
inline constexpr std::size_t quoted_text_max_chars = 60;

/// `text` between `quote` characters for an error message. Printable ASCII and well-formed UTF-8
/// stay as they are; the quote, the backslash and every other byte are escaped C-style (\n, \r,
/// \t, \\, \', \", \xHH), so the result is one printable line. At most `max_chars` characters
/// of escaped text are shown (an escape and a UTF-8 character are never cut); a longer text is
/// followed by "... (N bytes)" with its full length.
inline std::string quote_text(std::string_view text, char quote = '"',
                              std::size_t max_chars = quoted_text_max_chars) {
  std::string out(1, quote);
  std::size_t shown = 0, k = 0;
  while (k < text.size()) {
    const char c = text[k];
    const auto u = static_cast<unsigned char>(c);
    std::string piece;
    std::size_t consumed = 1;
    if (c == quote || c == '\\') {
      piece = {'\\', c};
    } else if (c == '\n') {
      piece = "\\n";
    } else if (c == '\r') {
      piece = "\\r";
    } else if (c == '\t') {
      piece = "\\t";
    } else if (u >= 0x20 && u < 0x7F) {
      piece = std::string(1, c);
    } else if (const std::size_t len = detail::printable_utf8_length(text, k); len > 0) {
      piece = std::string(text.substr(k, len));
      consumed = len;
    } else {
      constexpr char hex[] = "0123456789abcdef";
      piece = {'\\', 'x', hex[u >> 4], hex[u & 0xF]};
    }
    // A UTF-8 character counts as one character of the budget, an escape as its length.
    const std::size_t width = consumed > 1 ? 1 : piece.size();
    if (shown + width > max_chars) break;
    out += piece;
    shown += width;
    k += consumed;
  }
  out += quote;
  if (k < text.size()) {
    out += "... (";
    out += std::to_string(text.size());
    out += " bytes)";
  }
  return out;
}

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
    // Escaped, so a message stays one printable line whatever the string holds; a longer cap
    // than for file cells, as these are mostly paths and names the caller chose.
    return quote_text(std::string_view(value), '"', 200);
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
