#pragma once
// Checks shared by the fuzz targets. A violated check calls std::abort(), which libFuzzer reports
// as a crash and saves the input; an exception escaping LLVMFuzzerTestOneInput is reported the
// same way, so each target catches exactly the exception types its reader documents.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

inline void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

/// An error message must be one short printable line: no control bytes (quote_text escapes every
/// cell), bounded length whatever the input (cells are cut to 60 characters).
inline void check_message(std::string_view message, std::size_t max_size = 512) {
  check(!message.empty(), "empty error message");
  check(message.size() <= max_size, "error message too long", message.substr(0, 200));
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && u != 0x7f, "control byte in an error message", message);
  }
}

}  // namespace fuzz
