// compare_jsonl ACTUAL.jsonl EXPECTED.jsonl TOL — the ctest oracle check of sppo_targets: the two
// files must hold the same number of records, each with the same keys in the same order, equal
// strings, booleans and array lengths, and numbers that agree to TOL (absolute for |expected| <= 1,
// relative above). Prints the number of records and the largest difference; exit 1 on mismatch.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include <prefopt/io/json.hpp>
#include <prefopt/io/text_input.hpp>

namespace {
namespace json = prefopt::io;
using kind = json::json_value::kind;

double max_diff = 0.0;

void compare(const json::json_value& a, const json::json_value& e, const std::string& at, double tol) {
  auto fail = [&](const std::string& why) {
    std::cerr << "compare_jsonl: " << at << ": " << why << '\n';
    std::exit(1);
  };
  if (a.type != e.type) fail(std::string("type ") + a.type_name() + " != " + e.type_name());
  switch (e.type) {
    case kind::number: {
      const double d = std::fabs(a.number - e.number) / std::max(1.0, std::fabs(e.number));
      max_diff = std::max(max_diff, d);
      if (!(d <= tol)) fail(a.text + " != " + e.text);
      break;
    }
    case kind::string:
      if (a.text != e.text) fail("strings differ");
      break;
    case kind::boolean:
      if (a.boolean != e.boolean) fail("booleans differ");
      break;
    case kind::array:
      if (a.items.size() != e.items.size()) fail("array lengths differ");
      for (std::size_t i = 0; i < e.items.size(); ++i)
        compare(a.items[i], e.items[i], at + "[" + std::to_string(i) + "]", tol);
      break;
    case kind::object:
      if (a.member_keys != e.member_keys) fail("keys differ");
      for (std::size_t i = 0; i < e.member_keys.size(); ++i)
        compare(a.member_values[i], e.member_values[i], at + "." + e.member_keys[i], tol);
      break;
    case kind::null:
      break;
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: compare_jsonl ACTUAL.jsonl EXPECTED.jsonl TOL\n";
    return 2;
  }
  try {
    const auto actual = json::parse_json_records(json::read_text_file(argv[1]));
    const auto expected = json::parse_json_records(json::read_text_file(argv[2]));
    const double tol = std::strtod(argv[3], nullptr);
    if (actual.size() != expected.size()) {
      std::cerr << "compare_jsonl: " << actual.size() << " records, expected " << expected.size() << '\n';
      return 1;
    }
    for (std::size_t r = 0; r < expected.size(); ++r)
      compare(actual[r], expected[r], "record " + std::to_string(r + 1), tol);
    std::cout << "compare_jsonl: " << expected.size() << " records match, max difference "
              << max_diff << '\n';
    return 0;
  } catch (const json::record_error& e) {
    std::cerr << "compare_jsonl: line " << e.line << ": " << e.message << '\n';
  } catch (const std::exception& e) {
    std::cerr << "compare_jsonl: " << e.what() << '\n';
  }
  return 1;
}
