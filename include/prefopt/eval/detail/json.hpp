#pragma once
// A small strict JSON reader (RFC 8259) for the evaluation inputs: alpaca_eval annotation files
// are a JSON list of objects whose fields may themselves be nested (raw judge completions, lists
// of rubric scores). Every value remembers the 1-based line it starts on, so a bad record is
// reported as "file:line: reason". Not a general-purpose JSON library: no writer, no streaming.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/prefmodel/battle_io.hpp"  // parse_number, append_utf8

namespace prefopt::eval::detail {

/// A malformed input: `line` is 1-based; the reader of a file prefixes the file name.
struct json_error {
  std::size_t line;
  std::string message;
};

struct json_value {
  enum class kind { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;                                   // string value, or the literal number text
  std::vector<json_value> items;                      // array
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
};

class json_parser {
 public:
  /// `first_line`: line number of text[0] (JSONL parses one line at a time).
  explicit json_parser(std::string_view text, std::size_t first_line = 1)
      : s_(text), line_(first_line) {}

  /// Parses exactly one value filling the whole text (surrounding whitespace allowed).
  json_value parse_document() {
    ws();
    json_value v = value(0);
    ws();
    if (k_ != s_.size()) fail("trailing characters after the JSON value");
    return v;
  }

 private:
  static constexpr int max_depth = 256;  // no stack overflow on hostile input

  [[noreturn]] void fail(const std::string& what) const { throw json_error{line_, "malformed JSON: " + what}; }
  char peek() const { return k_ < s_.size() ? s_[k_] : '\0'; }
  void ws() {
    while (k_ < s_.size()) {
      const char c = s_[k_];
      if (c == '\n') ++line_;
      else if (c != ' ' && c != '\t' && c != '\r') break;
      ++k_;
    }
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++k_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(k_, word.size()) != word) return false;
    k_ += word.size();
    return true;
  }

  json_value value(int depth) {
    if (depth > max_depth) fail("nesting deeper than 256 levels");
    json_value v;
    v.line = line_;
    const char c = peek();
    if (c == '{') {
      v.type = json_value::kind::object;
      ++k_;
      ws();
      if (peek() == '}') {
        ++k_;
        return v;
      }
      for (;;) {
        ws();
        if (peek() != '"') fail("expected a string key");
        std::string key = string_value();
        for (const auto& k : v.member_keys)
          if (k == key) throw json_error{line_, "duplicate key '" + key + "'"};
        ws();
        expect(':');
        ws();
        v.member_values.push_back(value(depth + 1));
        v.member_keys.push_back(std::move(key));
        ws();
        if (peek() == ',') {
          ++k_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = json_value::kind::array;
      ++k_;
      ws();
      if (peek() == ']') {
        ++k_;
        return v;
      }
      for (;;) {
        ws();
        v.items.push_back(value(depth + 1));
        ws();
        if (peek() == ',') {
          ++k_;
          continue;
        }
        expect(']');
        return v;
      }
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
    // Python's json.dump writes NaN / Infinity for non-finite floats (alpaca_eval stores a failed
    // annotation's preference as NaN); read them as numbers so the caller can decide.
    if (literal("NaN")) {
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
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!literal("\\u")) fail("lone high surrogate");
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate");
          }
          prefmodel::detail::append_utf8(out, cp);
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
    if (literal("Infinity")) {
      text = std::string(s_.substr(start, k_ - start));
      return s_[start] == '-' ? -std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::infinity();
    }
    if (peek() == '0') ++k_;
    else if (digits() == 0) fail("expected a value");
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
    return *prefmodel::detail::parse_number(text);
  }

  std::string_view s_;
  std::size_t k_ = 0;
  std::size_t line_;
};

/// Reads a whole file; `path` names it in errors.
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "path", path, "cannot open file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // UTF-8 BOM
  return text;
}

/// The records of a JSON file holding a list of objects, or of a JSONL file (one object per
/// non-blank line). JSONL is recognised by the first non-blank character not being '['.
inline std::vector<json_value> parse_records(const std::string& text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  if (text[first] == '[') {
    json_value doc = json_parser(text).parse_document();
    return std::move(doc.items);
  }
  std::vector<json_value> out;
  std::size_t line = 1, pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view row(text.data() + pos, end - pos);
    if (row.find_first_not_of(" \t\r") != std::string_view::npos)
      out.push_back(json_parser(row, line).parse_document());
    ++line;
    pos = end + 1;
  }
  return out;
}

}  // namespace prefopt::eval::detail
