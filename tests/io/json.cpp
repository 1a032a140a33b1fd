// io/json.hpp and io/json_writer.hpp. Expected values are written out by hand from RFC 8259; the
// writer's expected strings are what Python's json.dumps(s, ensure_ascii=False) prints.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <prefopt/io/json.hpp>
#include <prefopt/io/json_writer.hpp>
#include <string>

namespace io = prefopt::io;
using kind = io::json_value::kind;

namespace {

std::string error_of(const std::string& text, bool flat = false, std::size_t* line = nullptr) {
  try {
    io::json_parser p(text);
    if (flat) (void)p.parse_flat_object();
    else (void)p.parse_document();
  } catch (const io::record_error& e) {
    if (line) *line = e.line;
    return e.message;
  }
  FAIL("no error for " << text);
  return {};
}

}  // namespace

TEST_CASE("json_parser: values, escapes, surrogate pairs and the line of every value", "[io][json]") {
  const auto v = io::json_parser("{\"a\": [1, -2.5e1, true, null],\n \"b\\u00e9\": \"x\\\"\\n\\ud83d\\ude00\",\n\"c\": {}}")
                     .parse_document();
  REQUIRE(v.type == kind::object);
  CHECK(v.member_keys == std::vector<std::string>{"a", "b\xC3\xA9", "c"});
  const auto* a = v.find("a");
  REQUIRE(a);
  REQUIRE(a->items.size() == 4);
  CHECK(a->items[1].number == -25.0);
  CHECK(a->items[1].text == "-2.5e1");
  CHECK(a->items[2].literal_text() == std::string("true"));
  CHECK(a->items[3].type == kind::null);
  CHECK(v.find("b\xC3\xA9")->text == "x\"\n\xF0\x9F\x98\x80");  // U+1F600 in UTF-8
  CHECK(v.find("b\xC3\xA9")->line == 2);
  CHECK(v.find("c")->line == 3);
  CHECK(v.find("missing") == nullptr);
}

TEST_CASE("json_parser: syntax errors name what and where", "[io][json]") {
  std::size_t line = 0;
  CHECK(error_of("{\"a\": 1,\n \"b\" 2}", false, &line) == "malformed JSON: expected ':' at column 6");
  CHECK(line == 2);
  CHECK(error_of("[1, ]") == "malformed JSON: expected a value at column 5");
  CHECK(error_of("{a: 1}") == "malformed JSON: expected a string key at column 2");
  CHECK(error_of("\"abc") == "malformed JSON: unterminated string");
  CHECK(error_of("\"\\ud800x\"") == "malformed JSON: lone high surrogate");
  CHECK(error_of("1.") == "malformed JSON: digits expected after '.'");
  CHECK(error_of("1 2") == "malformed JSON: trailing characters after the JSON value");
  CHECK(error_of("{\"k\\u0001\": 1, \"k\\u0001\": 2}") == "duplicate key 'k\\x01'");
  CHECK(error_of(std::string(300, '[')) == "malformed JSON: nesting deeper than 256 levels");
  // NaN / Infinity only in the Python dialect.
  CHECK(error_of("NaN") == "malformed JSON: expected a value at column 1");
  const auto nan = io::json_parser("[NaN, -Infinity]", 1, {.non_finite_numbers = true}).parse_document();
  CHECK(std::isnan(nan.items[0].number));
  CHECK(nan.items[1].number == -std::numeric_limits<double>::infinity());
}

TEST_CASE("json_parser: flat objects reject nesting and name the key", "[io][json]") {
  const auto v = io::json_parser(" {\"x\": \"1\", \"y\": 2, \"z\": false} ").parse_flat_object();
  CHECK(v.member_keys.size() == 3);
  CHECK(error_of("{\"x\": [1]}", true) == "field 'x': nested objects/arrays are not supported");
  CHECK(error_of("[1]", true) == "malformed JSON: expected '{' at column 1");
  CHECK(error_of("{} x", true) == "malformed JSON: trailing characters after the JSON object");
}

TEST_CASE("parse_json_records: a JSON list or JSON lines, errors with file and line", "[io][json]") {
  CHECK(io::parse_json_records("  [{\"a\": 1}, 2]").size() == 2);
  const auto lines = io::parse_json_records("{\"a\": 1}\n\n  \n{\"a\": 2}\n");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].line == 4);
  CHECK(io::parse_json_records(" \n ").empty());
  CHECK_THROWS_WITH(io::parse_json_records("{}\n{\n", "f.jsonl"), "f.jsonl:2: malformed JSON: expected a string key at column 2");
}

TEST_CASE("json_string and json_number write what Python's json module writes", "[io][json]") {
  CHECK(io::json_string("plain") == "\"plain\"");
  CHECK(io::json_string("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(io::json_string("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
  CHECK(io::json_string(std::string("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\x7f\"");
  CHECK(io::json_string("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
  CHECK(io::json_number(0.1) == "0.10000000000000001");
  CHECK(io::json_number(-3) == "-3");
  CHECK(io::json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(io::json_number(std::numeric_limits<double>::infinity()) == "null");
  // What the writer writes the reader reads back unchanged.
  const std::string nasty("a\"\\\n\x01\xC3\xA9", 7);
  CHECK(io::json_parser(io::json_string(nasty)).parse_document().text == nasty);
}
