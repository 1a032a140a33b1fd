#pragma once
// A small CSV reader for the loss_table tool and its tests: a header row, then rows of cells
// separated by commas (no quoting: the tables hold numbers and identifiers). Errors name the line
// and the column, which is what a user fixing a hand-edited file needs; a cell or a column name
// is quoted with prefopt::quote_text (escaped, at most 60 characters), so a binary file given by
// mistake cannot fill the terminal with raw bytes.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/core/errors.hpp>

namespace loss_table {

/// A parse error at (line, column); `column` is the column's quoted header name (or its number).
class csv_error : public std::runtime_error {
 public:
  csv_error(std::size_t line, const std::string& column, const std::string& what)
      : std::runtime_error("line " + std::to_string(line) + ", column " + column + ": " + what) {}
};

std::optional<double> parse_number(const std::string& text);

struct csv_table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> lines;  // source line of each row (1-based; the header is line 1)

  /// The header name of column c as quoted in messages.
  [[nodiscard]] std::string column_label(std::size_t c) const { return prefopt::quote_text(header[c]); }
  /// Index of a header name, or npos.
  [[nodiscard]] std::size_t find(std::string_view name) const {
    for (std::size_t c = 0; c < header.size(); ++c)
      if (header[c] == name) return c;
    return npos;
  }
  /// The cell (row r, column c) as a finite-or-not double; throws csv_error if it is not a number.
  [[nodiscard]] double number(std::size_t r, std::size_t c) const {
    const std::string& cell = rows[r][c];
    const auto v = parse_number(cell);
    if (!v) throw csv_error(lines[r], column_label(c), prefopt::quote_text(cell) + " is not a number");
    return *v;
  }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/// The whole of `text` as a double (strtod syntax, incl. subnormals, inf, nan), or nullopt.
inline std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);  // subnormals set ERANGE but are exact
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

inline std::vector<std::string> split_csv_line(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    std::string cell = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = cell.find_first_not_of(" \t"), last = cell.find_last_not_of(" \t");
    cells.push_back(first == std::string::npos ? std::string() : cell.substr(first, last - first + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return cells;
}

/// Reads the whole stream; blank lines are skipped; every row must have the header's width.
inline csv_table read_csv(std::istream& in) {
  csv_table t;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto cells = split_csv_line(line);
    if (t.header.empty()) {
      for (std::size_t c = 0; c < cells.size(); ++c)
        if (cells[c].empty()) throw csv_error(number, std::to_string(c + 1), "empty column name");
      t.header = std::move(cells);
      continue;
    }
    if (cells.size() != t.header.size())
      throw csv_error(number, std::to_string(std::min(cells.size(), t.header.size()) + 1),
                      "expected " + std::to_string(t.header.size()) + " cells, found " +
                          std::to_string(cells.size()));
    t.rows.push_back(std::move(cells));
    t.lines.push_back(number);
  }
  if (t.header.empty()) throw csv_error(1, "1", "empty input: expected a header row");
  return t;
}

}  // namespace loss_table
