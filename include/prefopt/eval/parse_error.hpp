#pragma once
// The error every evaluation file reader throws for a malformed record: "file:line: reason".

#include <cstddef>
#include <string>

#include "prefopt/core/errors.hpp"

namespace prefopt::eval {

/// A malformed record in an input file; line() is 1-based.
class eval_parse_error : public invalid_argument {
 public:
  eval_parse_error(const std::string& source, std::size_t line, const std::string& what)
      : invalid_argument(source + ":" + std::to_string(line) + ": " + what), line_(line) {}
  [[nodiscard]] std::size_t line() const { return line_; }

 private:
  std::size_t line_;
};

}  // namespace prefopt::eval
