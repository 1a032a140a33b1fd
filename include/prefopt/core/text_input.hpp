#pragma once
// Helpers for readers of user-supplied text files (battle logs, CSV tables, matrices) and the
// command-line tools built on them:
//   quote_text       (from core/errors.hpp) a cell quoted for an error message: short, one line,
//                    no raw control bytes, so a random binary file given by mistake cannot
//                    garble the terminal;
//   open_input_file  an input stream, or prefopt::invalid_argument naming the path when it does
//                    not exist, cannot be read or is a directory (std::ifstream opens a directory
//                    on Linux and then reads nothing, which readers used to report as an "empty
//                    file").

#include <filesystem>
#include <fstream>
#include <ios>
#include <string>
#include <system_error>

#include "prefopt/core/errors.hpp"

namespace prefopt {

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
