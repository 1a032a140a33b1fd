#pragma once
// JSON output helpers shared by the example CLIs that write --json files (winrate,
// scorer_metrics): a string literal with '"', '\\' and control bytes escaped (bytes >= 0x80 pass
// through, so UTF-8 names stay readable), and a number with 17 significant digits (round-trips).
#include <cstdio>
#include <string>

namespace prefopt::examples {

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace prefopt::examples
