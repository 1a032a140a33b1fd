#pragma once
// Reading pairwise battle logs in the Chatbot Arena format: one battle per row with fields
// model_a, model_b, winner (model_a | model_b | tie | "tie (bothbad)") and an optional numeric
// weight. Two encodings:
//   CSV   RFC 4180 (header row naming the columns, any column order, extra columns ignored,
//         double-quoted fields may contain commas and doubled quotes);
//   JSONL one flat JSON object per line (string / number / true / false / null values; nested
//         objects or arrays are rejected), blank lines ignored.
// A bad row -- unknown winner label, a model battling itself, a missing or empty field, a weight
// that is not a finite number >= 0, malformed CSV/JSON -- throws battle_parse_error naming the
// source and line, unless skip_bad_rows is set, in which case it is counted and described.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/text_input.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

namespace prefopt::prefmodel {

/// A malformed row in a battle log; line() is 1-based.
class battle_parse_error : public invalid_argument {
 public:
  battle_parse_error(const std::string& source, index_t line, const std::string& what)
      : invalid_argument(source + ":" + std::to_string(line) + ": " + what), line_(line) {}
  [[nodiscard]] index_t line() const { return line_; }

 private:
  index_t line_;
};

struct battle_read_options {
  bool skip_bad_rows = false;
  std::size_t max_reported = 10;  // skipped rows described in battle_log::problems
};

template <class T = double>
struct battle_log {
  std::vector<battle<T>> battles;
  index_t bad_rows = 0;               // rows skipped (skip_bad_rows only)
  std::vector<std::string> problems;  // "source:line: reason" for the first max_reported
};

namespace detail {

struct row_error {
  std::string message;
};

/// Parses a whole string as a JSON-style number (no leading '+', no trailing junk).
inline std::optional<double> parse_number(std::string_view s) {
  if (s.empty() || s.front() == '+' || std::isspace(static_cast<unsigned char>(s.front())))
    return std::nullopt;
  const std::string buf(s);
  char* end = nullptr;
  const double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return std::nullopt;
  return v;
}

/// `literals`: keys whose JSON value was true / false / null (spelled out).
template <class T>
battle<T> make_battle(const std::map<std::string, std::string>& fields,
                      const std::map<std::string, double>& numbers,
                      const std::map<std::string, std::string>& literals = {}) {
  auto get = [&](const char* key) -> std::string {
    const auto it = fields.find(key);
    if (it == fields.end()) {
      if (numbers.count(key)) throw row_error{std::string("field '") + key + "' must be a string"};
      if (const auto lit = literals.find(key); lit != literals.end())
        throw row_error{std::string("field '") + key + "' must be a string, got " + lit->second};
      throw row_error{std::string("missing field '") + key + "'"};
    }
    if (it->second.empty()) throw row_error{std::string("empty field '") + key + "'"};
    return it->second;
  };
  battle<T> b;
  b.model_a = get("model_a");
  b.model_b = get("model_b");
  const std::string w = get("winner");
  if (w == "model_a") b.result = outcome::first_wins;
  else if (w == "model_b") b.result = outcome::second_wins;
  else if (w == "tie" || w == "tie (bothbad)") b.result = outcome::tie;
  else
    throw row_error{"unknown winner label " + quote_text(w, '\'') +
                    " (expected model_a, model_b, tie or tie (bothbad))"};
  if (b.model_a == b.model_b) throw row_error{"self-battle: model_a = model_b = " + quote_text(b.model_a, '\'')};
  std::optional<double> weight;
  // A literal used to be dropped like an unknown flag, so "weight": false meant weight 1.
  if (const auto lit = literals.find("weight"); lit != literals.end())
    throw row_error{"weight " + lit->second + " is not a number"};
  if (const auto it = numbers.find("weight"); it != numbers.end()) weight = it->second;
  if (const auto it = fields.find("weight"); it != fields.end()) {
    weight = parse_number(it->second);
    if (!weight) throw row_error{"weight " + quote_text(it->second, '\'') + " is not a number"};
  }
  if (weight) {
    if (!std::isfinite(*weight) || *weight < 0)
      throw row_error{"weight " + std::to_string(*weight) + " must be finite and >= 0"};
    b.weight = static_cast<T>(*weight);
  }
  return b;
}

/// Splits one CSV record; sets open_quote when a quoted field continues on the next physical
/// line (the caller appends that line and splits again).
inline std::vector<std::string> split_csv(const std::string& line, bool& open_quote) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t k = 0; k < line.size(); ++k) {
    const char c = line[k];
    if (quoted) {
      if (c == '"') {
        if (k + 1 < line.size() && line[k + 1] == '"') {
          out.back() += '"';
          ++k;
        } else {
          quoted = false;
        }
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      if (!out.back().empty()) throw row_error{"stray quote inside an unquoted field"};
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  open_quote = quoted;
  return out;
}

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

/// Strict parser for one flat JSON object (RFC 8259 grammar for strings and numbers).
class flat_json_parser {
 public:
  explicit flat_json_parser(std::string_view text) : s_(text) {}

  /// Literal values (true / false / null) go to `literals` when given, else are dropped.
  void parse(std::map<std::string, std::string>& strings, std::map<std::string, double>& numbers,
             std::map<std::string, std::string>* literals = nullptr) {
    ws();
    expect('{');
    ws();
    if (peek() == '}') {
      ++k_;
    } else {
      for (;;) {
        ws();
        std::string key = string_value();
        ws();
        expect(':');
        ws();
        if (strings.count(key) || numbers.count(key) || (literals && literals->count(key)))
          throw row_error{"duplicate key " + quote_text(key, '\'')};
        const char c = peek();
        if (c == '"') {
          strings[key] = string_value();
        } else if (c == '{' || c == '[') {
          throw row_error{"field " + quote_text(key, '\'') + ": nested objects/arrays are not supported"};
        } else if (const char* word = literal("true")    ? "true"
                                      : literal("false") ? "false"
                                      : literal("null")  ? "null"
                                                         : nullptr) {
          // accepted: arena logs carry flags such as "anony": true; make_battle rejects them
          // only on the fields it reads
          if (literals) (*literals)[key] = word;
        } else {
          numbers[key] = number_value();
        }
        ws();
        if (peek() == ',') {
          ++k_;
          continue;
        }
        expect('}');
        break;
      }
    }
    ws();
    if (k_ != s_.size()) throw row_error{"trailing characters after the JSON object"};
  }

 private:
  char peek() const { return k_ < s_.size() ? s_[k_] : '\0'; }
  void ws() {
    while (k_ < s_.size() && (s_[k_] == ' ' || s_[k_] == '\t' || s_[k_] == '\r' || s_[k_] == '\n')) ++k_;
  }
  void expect(char c) {
    if (peek() != c)
      throw row_error{std::string("malformed JSON: expected '") + c + "' at column " +
                      std::to_string(k_ + 1)};
    ++k_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(k_, word.size()) != word) return false;
    k_ += word.size();
    return true;
  }
  unsigned hex4() {
    if (k_ + 4 > s_.size()) throw row_error{"malformed JSON: short \\u escape"};
    unsigned v = 0;
    for (int d = 0; d < 4; ++d) {
      const char c = s_[k_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else throw row_error{"malformed JSON: bad \\u escape"};
    }
    return v;
  }
  std::string string_value() {
    expect('"');
    std::string out;
    for (;;) {
      if (k_ >= s_.size()) throw row_error{"malformed JSON: unterminated string"};
      const char c = s_[k_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) throw row_error{"malformed JSON: control character in string"};
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
            if (!literal("\\u")) throw row_error{"malformed JSON: lone high surrogate"};
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) throw row_error{"malformed JSON: bad low surrogate"};
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            throw row_error{"malformed JSON: lone low surrogate"};
          }
          append_utf8(out, cp);
          break;
        }
        default: throw row_error{"malformed JSON: bad escape"};
      }
    }
  }
  double number_value() {
    const std::size_t start = k_;
    auto digits = [&] {
      const std::size_t d0 = k_;
      while (k_ < s_.size() && s_[k_] >= '0' && s_[k_] <= '9') ++k_;
      return k_ - d0;
    };
    if (peek() == '-') ++k_;
    if (peek() == '0') ++k_;
    else if (digits() == 0) throw row_error{"malformed JSON: expected a value at column " + std::to_string(start + 1)};
    if (peek() == '.') {
      ++k_;
      if (digits() == 0) throw row_error{"malformed JSON: digits expected after '.'"};
    }
    if (peek() == 'e' || peek() == 'E') {
      ++k_;
      if (peek() == '+' || peek() == '-') ++k_;
      if (digits() == 0) throw row_error{"malformed JSON: digits expected in exponent"};
    }
    return *parse_number(s_.substr(start, k_ - start));
  }

  std::string_view s_;
  std::size_t k_ = 0;
};

template <class T>
void handle_bad_row(battle_log<T>& log, const battle_read_options& opt, const std::string& source,
                    index_t line, const std::string& message) {
  if (!opt.skip_bad_rows) throw battle_parse_error(source, line, message);
  ++log.bad_rows;
  if (log.problems.size() < opt.max_reported)
    log.problems.push_back(source + ":" + std::to_string(line) + ": " + message);
}

}  // namespace detail

/// Reads a CSV battle log (header row required).
template <class T = double>
battle_log<T> read_battles_csv(std::istream& in, const battle_read_options& opt = {},
                               const std::string& source = "<csv>") {
  battle_log<T> log;
  std::string line;
  index_t line_no = 0;
  std::vector<std::string> header;
  auto next_record = [&](std::vector<std::string>& fields) -> bool {
    if (!std::getline(in, line)) return false;
    ++line_no;
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM (Excel)
    if (!line.empty() && line.back() == '\r') line.pop_back();
    bool open = false;
    fields = detail::split_csv(line, open);
    while (open) {  // a quoted field spanning lines
      std::string more;
      if (!std::getline(in, more)) throw detail::row_error{"unterminated quoted field"};
      ++line_no;
      if (!more.empty() && more.back() == '\r') more.pop_back();
      line += "\n" + more;
      fields = detail::split_csv(line, open);
    }
    return true;
  };
  try {
    if (!next_record(header)) throw battle_parse_error(source, 1, "empty file: a header row is required");
  } catch (const detail::row_error& e) {
    throw battle_parse_error(source, line_no, e.message);
  }
  std::map<std::string, std::size_t> col;
  for (std::size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
  for (const char* key : {"model_a", "model_b", "winner"})
    if (!col.count(key))
      throw battle_parse_error(source, 1, std::string("header has no column '") + key +
                                              "' (need model_a,model_b,winner[,weight])");
  std::vector<std::string> fields;
  for (;;) {
    const index_t start_line = line_no + 1;
    try {
      if (!next_record(fields)) break;
      if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
      if (fields.size() != header.size())
        throw detail::row_error{"expected " + std::to_string(header.size()) + " fields, found " +
                                std::to_string(fields.size())};
      std::map<std::string, std::string> named;
      for (const auto& [key, c] : col)
        if (key == "model_a" || key == "model_b" || key == "winner" ||
            (key == "weight" && !fields[c].empty()))
          named[key] = fields[c];
      log.battles.push_back(detail::make_battle<T>(named, {}));
    } catch (const detail::row_error& e) {
      detail::handle_bad_row(log, opt, source, start_line, e.message);
    }
  }
  return log;
}

/// Reads a JSONL battle log (one flat object per line).
template <class T = double>
battle_log<T> read_battles_jsonl(std::istream& in, const battle_read_options& opt = {},
                                 const std::string& source = "<jsonl>") {
  battle_log<T> log;
  std::string line;
  index_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      std::map<std::string, std::string> strings, literals;
      std::map<std::string, double> numbers;
      detail::flat_json_parser(line).parse(strings, numbers, &literals);
      log.battles.push_back(detail::make_battle<T>(strings, numbers, literals));
    } catch (const detail::row_error& e) {
      detail::handle_bad_row(log, opt, source, line_no, e.message);
    }
  }
  return log;
}

/// Reads a battle log from a file: ".jsonl" / ".ndjson" as JSONL, anything else as CSV.
template <class T = double>
battle_log<T> read_battles(const std::string& path, const battle_read_options& opt = {}) {
  std::ifstream in = open_input_file(path);  // a directory is named as such, not "empty file"
  const auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".jsonl") || ends_with(".ndjson")) return read_battles_jsonl<T>(in, opt, path);
  return read_battles_csv<T>(in, opt, path);
}

}  // namespace prefopt::prefmodel
