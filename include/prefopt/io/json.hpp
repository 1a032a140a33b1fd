#pragma once
// A strict JSON reader (RFC 8259 grammar) for the input files: battle logs (JSONL, one flat
// object per line) and alpaca_eval's annotation files (a JSON list of objects whose fields may be
// nested). Every value remembers the 1-based line it starts on, so a reader can report a bad
// record as "file:line: reason"; syntax errors are io::record_error carrying that line (and the
// column where the parser stopped). Not a general-purpose JSON library: no streaming, objects
// keep their members in file order and reject duplicate keys.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/core/errors.hpp"
#include "prefopt/io/number_text.hpp"
#include "prefopt/io/parse_error.hpp"

namespace prefopt::io {

struct json_value {
  enum class kind { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;              // string value, or the literal number text
  std::vector<json_value> items;  // array
  // Object members in file order, as two parallel vectors: std::pair<std::string, json_value>
  // would need json_value complete inside its own definition (clang + libstdc++ reject it).
  std::vector<std::string> member_keys;
  std::vector<json_value> member_values;
  std::size_t line = 1;

  [[nodiscard]] const json_value* find(std::string_view key) const {
    for (std::size_t i = 0; i < member_keys.size(); ++i)
      if (member_keys[i] == key) return &member_values[i];
    return nullptr;
  }
  [[nodiscard]] const char* type_name() const {
    switch (type) {
      case kind::null: return "null";
      case kind::boolean: return "a boolean";
      case kind::number: return "a number";
      case kind::string: return "a string";
      case kind::array: return "an array";
      case kind::object: return "an object";
    }
    return "?";
  }
  /// A true / false / null value as written ("true", "false", "null"), for messages.
  [[nodiscard]] const char* literal_text() const {
    return type == kind::null ? "null" : boolean ? "true" : "false";
  }
};

/// Appends the UTF-8 encoding of code point `cp` (< 0x110000) to `s`.
inline void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// What the parser accepts beyond RFC 8259.
struct json_dialect {
  /// NaN, Infinity and -Infinity as numbers: Python's json.dump writes them for non-finite floats
  /// (alpaca_eval stores a failed annotation's preference as NaN).
  bool non_finite_numbers = false;
};

class json_parser {
 public:
  /// `first_line`: line number of text[0] (JSONL parses one line at a time).
  explicit json_parser(std::string_view text, std::size_t first_line = 1, json_dialect dialect = {})
      : s_(text), line_(first_line), dialect_(dialect) {}

  /// Exactly one value filling the whole text (surrounding whitespace allowed).
  json_value parse_document() {
    ws();
    json_value v = value(0);
    ws();
    if (k_ != s_.size()) fail("trailing characters after the JSON value");
    return v;
  }

  /// One object filling the whole text whose members are strings, numbers, true, false or null
  /// (a battle-log row); a nested object or array is rejected naming its key.
  json_value parse_flat_object() {
    ws();
    json_value v = object(0, true);
    ws();
    if (k_ != s_.size()) fail("trailing characters after the JSON object");
    return v;
  }

 private:
  static constexpr int max_depth = 256;  // no stack overflow on hostile input

  [[noreturn]] void fail(const std::string& what) const {
    throw record_error{"malformed JSON: " + what, line_};
  }
  [[nodiscard]] std::string at_column(std::size_t k) const {
    return " at column " + std::to_string(k - line_start_ + 1);
  }
  char peek() const { return k_ < s_.size() ? s_[k_] : '\0'; }
  void ws() {
    while (k_ < s_.size()) {
      const char c = s_[k_];
      if (c == '\n') {
        ++line_;
        line_start_ = k_ + 1;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        break;
      }
      ++k_;
    }
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'" + at_column(k_));
    ++k_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(k_, word.size()) != word) return false;
    k_ += word.size();
    return true;
  }

  /// An object starting at '{'; `flat`: its members must not be objects or arrays.
  json_value object(int depth, bool flat) {
    json_value v;
    v.line = line_;
    v.type = json_value::kind::object;
    expect('{');
    comma_separated('}', [&] {
      if (peek() != '"') fail("expected a string key" + at_column(k_));
      const std::size_t key_line = line_;
      std::string key = string_value();
      ws();
      expect(':');
      ws();
      for (const auto& k : v.member_keys)
        if (k == key) throw record_error{"duplicate key " + quote_text(key, '\''), key_line};
      if (flat && (peek() == '{' || peek() == '['))
        throw record_error{"field " + quote_text(key, '\'') + ": nested objects/arrays are not supported",
                           line_};
      v.member_values.push_back(value(depth + 1));
      v.member_keys.push_back(std::move(key));
    });
    return v;
  }

  /// The items of an object or array after its opening bracket, up to and including `close`:
  /// `item` parses one (at a non-blank character), separated by ','.
  template <class Item>
  void comma_separated(char close, Item&& item) {
    ws();
    if (peek() == close) {
      ++k_;
      return;
    }
    for (;;) {
      ws();
      item();
      ws();
      if (peek() != ',') break;
      ++k_;
    }
    expect(close);
  }

  json_value value(int depth) {
    if (depth > max_depth) fail("nesting deeper than 256 levels");
    const char c = peek();
    if (c == '{') return object(depth, false);
    json_value v;
    v.line = line_;
    if (c == '[') {
      v.type = json_value::kind::array;
      ++k_;
      comma_separated(']', [&] { v.items.push_back(value(depth + 1)); });
      return v;
    }
    if (c == '"') {
      v.type = json_value::kind::string;
      v.text = string_value();
      return v;
    }
    if (literal("true")) {
      v.type = json_value::kind::boolean;
      v.boolean = true;
      return v;
    }
    if (literal("false")) {
      v.type = json_value::kind::boolean;
      return v;
    }
    if (literal("null")) return v;
    if (dialect_.non_finite_numbers && literal("NaN")) {
      v.type = json_value::kind::number;
      v.number = std::numeric_limits<double>::quiet_NaN();
      v.text = "NaN";
      return v;
    }
    v.type = json_value::kind::number;
    v.number = number_value(v.text);
    return v;
  }

  unsigned hex4() {
    if (k_ + 4 > s_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int d = 0; d < 4; ++d) {
      const char c = s_[k_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string string_value() {
    expect('"');
    std::string out;
    for (;;) {
      if (k_ >= s_.size()) fail("unterminated string");
      const char c = s_[k_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = k_ < s_.size() ? s_[k_++] : '\0';
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // surrogate pair
            if (!literal("\\u")) fail("lone high surrogate");
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  double number_value(std::string& text) {
    const std::size_t start = k_;
    auto digits = [&] {
      const std::size_t d0 = k_;
      while (k_ < s_.size() && s_[k_] >= '0' && s_[k_] <= '9') ++k_;
      return k_ - d0;
    };
    if (peek() == '-') ++k_;
    if (dialect_.non_finite_numbers && literal("Infinity")) {
      text = std::string(s_.substr(start, k_ - start));
      return s_[start] == '-' ? -std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::infinity();
    }
    if (peek() == '0') ++k_;
    else if (digits() == 0) fail("expected a value" + at_column(start));
    if (peek() == '.') {
      ++k_;
      if (digits() == 0) fail("digits expected after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++k_;
      if (peek() == '+' || peek() == '-') ++k_;
      if (digits() == 0) fail("digits expected in exponent");
    }
    text = std::string(s_.substr(start, k_ - start));
    return *parse_number(text);  // the grammar above is a subset of strtod's
  }

  std::string_view s_;
  std::size_t k_ = 0;
  std::size_t line_;
  std::size_t line_start_ = 0;  // offset of the current line's first character
  json_dialect dialect_;
};

/// The records of a JSON file holding a list of values, or of a JSONL file (one value per
/// non-blank line). JSONL is recognised by the first non-blank character not being '['.
inline std::vector<json_value> parse_json_records(std::string_view text, json_dialect dialect = {}) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  if (text[first] == '[') {
    json_value doc = json_parser(text, 1, dialect).parse_document();
    return std::move(doc.items);
  }
  std::vector<json_value> out;
  std::size_t line = 1, pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view row = text.substr(pos, end - pos);
    if (row.find_first_not_of(" \t\r") != std::string_view::npos)
      out.push_back(json_parser(row, line, dialect).parse_document());
    ++line;
    pos = end + 1;
  }
  return out;
}

/// The same for a file: a syntax error is a parse_error naming `source` and the line.
inline std::vector<json_value> parse_json_records(std::string_view text, const std::string& source,
                                                  json_dialect dialect = {}) {
  try {
    return parse_json_records(text, dialect);
  } catch (const record_error& e) {
    throw parse_error(source, e.line, e.message);
  }
}

}  // namespace prefopt::io
