#pragma once
// Helpers for readers of user-supplied text files (battle logs, CSV tables, matrices) and the
// command-line tools built on them:
//   quote_text       a cell quoted for an error message: short, one line, no raw control bytes,
//                    so a random binary file given by mistake cannot garble the terminal;
//   open_input_file  an input stream, or prefopt::invalid_argument naming the path when it does
//                    not exist, cannot be read or is a directory (std::ifstream opens a directory
//                    on Linux and then reads nothing, which readers used to report as an "empty
//                    file").

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <ios>
#include <string>
#include <string_view>
#include <system_error>

#include "prefopt/core/errors.hpp"

namespace prefopt {

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

/// Opens `path` for reading in binary mode (the readers handle "\r\n" themselves); throws
/// prefopt::invalid_argument naming the path when it is a directory or cannot be opened.
inline std::ifstream open_input_file(const std::string& path) {
  std::error_code ec;  // an unreadable parent directory is reported by the open below
  require(!std::filesystem::is_directory(path, ec), "path", path,
          "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "path", path, "cannot open file");
  return in;
}

}  // namespace prefopt
