#pragma once
// Writing JSON text: the two pieces the tools' --json outputs are assembled from.
//   json_string  a string literal escaped as Python's json.dumps(ensure_ascii=False) escapes it:
//                '"', '\\', \b \f \n \r \t by name, other control bytes as \u00XX; bytes >= 0x80
//                pass through, so UTF-8 names stay readable;
//   json_number  17 significant digits (every double round-trips); NaN and infinities, which
//                JSON cannot express, as null.

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace prefopt::io {

inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + '"';
}

inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace prefopt::io
