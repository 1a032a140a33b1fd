#pragma once
// Table-driven error checks for the text readers: each case's input must make the reader throw,
// with a message containing the case's expected text.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>

namespace prefopt_test {

/// An input a reader must reject, and what its message must contain.
struct rejected_input {
  std::string text;
  std::string message;
};

/// `read(text)` must throw for every case, with a what() containing that case's message.
template <class Read>
void check_rejects(Read read, std::initializer_list<rejected_input> cases) {
  for (const rejected_input& c : cases) {
    INFO("input: " << c.text);
    CHECK_THROWS_WITH(read(c.text), Catch::Contains(c.message));
  }
}

}  // namespace prefopt_test
