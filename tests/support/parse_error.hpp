#pragma once
// The message of the prefopt::io::parse_error a reader throws on `text`, for tests that compare
// whole messages; a test failure when the reader accepts the text.
#include <catch2/catch.hpp>
#include <prefopt/io/parse_error.hpp>
#include <string>

namespace prefopt_test {

/// `read(text)` must throw prefopt::io::parse_error; returns its what().
template <class Read>
std::string parse_error_of(Read read, const std::string& text) {
  try {
    (void)read(text);
  } catch (const prefopt::io::parse_error& e) {
    return e.what();
  }
  FAIL("no error for " << text);
  return {};
}

}  // namespace prefopt_test
