#pragma once
// The two errors of the file readers (battle logs, evaluation files):
//   parse_error   what a reader throws for a malformed record: "source:line: reason", line() the
//                 1-based line the record starts on; prefmodel::battle_parse_error and
//                 eval::eval_parse_error are this type under their domain's name;
//   record_error  what the tokenizers and record checks below a reader throw: they do not know
//                 the file name (and a CSV field splitter not even the line), so the reader that
//                 does turns it into a parse_error, or counts the row as bad (skip_bad_rows).

#include <cstddef>
#include <string>

#include "prefopt/core/errors.hpp"

namespace prefopt::io {

/// A malformed record in an input file; line() is 1-based.
class parse_error : public invalid_argument {
 public:
  parse_error(const std::string& source, std::size_t line, const std::string& what)
      : invalid_argument(source + ":" + std::to_string(line) + ": " + what), line_(line) {}
  [[nodiscard]] std::size_t line() const { return line_; }

 private:
  std::size_t line_;
};

/// A record a tokenizer or a record check rejects. `line` is where the fault is when the thrower
/// knows it (the JSON parser counts lines), 0 when it is the caller's current record.
struct record_error {
  std::string message;
  std::size_t line = 0;
};

}  // namespace prefopt::io
