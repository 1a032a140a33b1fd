#pragma once
// The error every evaluation file reader throws for a malformed record: "file:line: reason".

#include "prefopt/io/parse_error.hpp"

namespace prefopt::eval {

/// A malformed record in an input file; line() is 1-based. The readers of all domains share the
/// type (io::parse_error), so one handler catches a bad battle log and a bad annotation file.
using eval_parse_error = io::parse_error;

}  // namespace prefopt::eval
