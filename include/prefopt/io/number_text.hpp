#pragma once
// Text -> number for the readers: a CSV cell or a JSON number token as a double.

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace prefopt::io {

/// The whole of `s` as a double (std::strtod's syntax, so also "inf", "nan" and hexadecimal,
/// which the callers then accept or reject with their own message), or nullopt for an empty
/// text, a leading '+' or white space, or trailing characters.
inline std::optional<double> parse_number(std::string_view s) {
  if (s.empty() || s.front() == '+' || std::isspace(static_cast<unsigned char>(s.front())))
    return std::nullopt;
  const std::string buf(s);  // strtod needs a terminated string
  char* end = nullptr;
  const double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return std::nullopt;
  return v;
}

}  // namespace prefopt::io
