#pragma once
// Opening and reading the text files every reader and command-line tool takes:
//   open_input_file  an input stream, or prefopt::invalid_argument naming the path when it does
//                    not exist, cannot be read or is a directory (std::ifstream opens a directory
//                    on Linux and then reads nothing, which readers used to report as an "empty
//                    file");
//   read_text_file   a whole file as a string, without a leading UTF-8 byte order mark (Excel
//                    and some Windows editors write one);
//   has_jsonl_extension  whether a path names a JSON-lines file (.jsonl, .ndjson), which is how
//                    the readers that take CSV or JSONL choose.

#include <filesystem>
#include <fstream>
#include <ios>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "prefopt/core/errors.hpp"

namespace prefopt::io {

/// The UTF-8 encoding of U+FEFF, which some editors put at the start of a text file.
inline constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

/// Removes a leading UTF-8 byte order mark from `text`.
inline void strip_utf8_bom(std::string& text) {
  if (text.rfind(utf8_bom, 0) == 0) text.erase(0, utf8_bom.size());
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

/// The whole file at `path` without a leading byte order mark; errors as open_input_file.
inline std::string read_text_file(const std::string& path) {
  std::ifstream in = open_input_file(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  strip_utf8_bom(text);
  return text;
}

/// True for a path ending in ".jsonl" or ".ndjson" (read as JSON lines; anything else as CSV).
[[nodiscard]] inline bool has_jsonl_extension(std::string_view path) {
  return path.ends_with(".jsonl") || path.ends_with(".ndjson");
}

}  // namespace prefopt::io
