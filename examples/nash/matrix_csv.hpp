#pragma once
// The matrix reader of the nash tool (and of its fuzz target): a square matrix of finite numbers,
// one row per line, cells separated by commas, no header; blank lines are skipped, spaces, tabs
// and a trailing "\r" around a cell are ignored. Every error is a prefopt::invalid_argument
// naming the source, the line and the column, with the offending cell quoted by quote_text.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <prefopt/core/errors.hpp>

namespace nash {

struct square_matrix {
  long long n = 0;
  std::vector<double> values;  // row-major, n * n
};

/// One cell as a finite double (std::from_chars syntax: no leading '+', no hex), or throws.
inline double parse_matrix_cell(std::string_view cell, const std::string& where) {
  const std::size_t b = cell.find_first_not_of(" \t\r"), e = cell.find_last_not_of(" \t\r");
  if (b == std::string_view::npos) throw prefopt::invalid_argument(where + ": empty cell");
  cell = cell.substr(b, e - b + 1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec == std::errc::result_out_of_range)
    throw prefopt::invalid_argument(where + ": " + prefopt::quote_text(cell) + " is out of range");
  if (ec != std::errc() || ptr != cell.data() + cell.size())
    throw prefopt::invalid_argument(where + ": " + prefopt::quote_text(cell) + " is not a number");
  // from_chars accepts "inf" and "nan"; a game needs finite payoffs.
  if (!std::isfinite(v))
    throw prefopt::invalid_argument(where + ": " + prefopt::quote_text(cell) +
                                    " is not a finite number");
  return v;
}

/// Reads the whole stream; `source` names it in messages (the file path).
inline square_matrix read_square_csv(std::istream& in, const std::string& source) {
  std::vector<std::vector<double>> rows;
  std::vector<long long> row_lines;
  std::string line;
  for (long long lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::vector<double> row;
    std::size_t start = 0;
    for (long long col = 1;; ++col) {
      const std::size_t comma = line.find(',', start);
      const std::string_view cell =
          std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      row.push_back(parse_matrix_cell(
          cell, source + ":" + std::to_string(lineno) + ": column " + std::to_string(col)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    rows.push_back(std::move(row));
    row_lines.push_back(lineno);
  }
  square_matrix m;
  m.n = static_cast<long long>(rows.size());
  if (m.n == 0) throw prefopt::invalid_argument(source + ": holds no matrix");
  m.values.reserve(rows.size() * rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (static_cast<long long>(rows[r].size()) != m.n)
      throw prefopt::invalid_argument(source + ":" + std::to_string(row_lines[r]) +
                                      ": matrix is not square: " + std::to_string(m.n) +
                                      " rows but this row has " + std::to_string(rows[r].size()) +
                                      " columns");
    m.values.insert(m.values.end(), rows[r].begin(), rows[r].end());
  }
  return m;
}

}  // namespace nash
