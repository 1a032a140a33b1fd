#pragma once
// A CSV file as header + rows, each row remembering the line it starts on (RFC 4180 quoting,
// quoted fields may span lines, blank lines skipped, CRLF accepted). Columns are looked up by
// header name, so their order is free and extra columns are ignored.

#include <cstddef>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "prefopt/eval/parse_error.hpp"
#include "prefopt/prefmodel/battle_io.hpp"  // split_csv

namespace prefopt::eval::detail {

struct csv_table {
  std::string source;
  std::vector<std::string> header;
  std::map<std::string, std::size_t> column;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> line;  // of each row

  /// Index of a required column; throws naming the file and the expected header otherwise.
  [[nodiscard]] std::size_t require_column(const std::string& name, const std::string& expected) const {
    const auto it = column.find(name);
    if (it == column.end())
      throw eval_parse_error(source, 1, "header has no column '" + name + "' (need " + expected + ")");
    return it->second;
  }
};

inline csv_table parse_csv_table(const std::string& text, const std::string& source) {
  csv_table t;
  t.source = source;
  std::istringstream in(text);
  std::string physical;
  std::size_t line_no = 0;
  bool have_header = false;
  while (std::getline(in, physical)) {
    ++line_no;
    const std::size_t start = line_no;
    if (!physical.empty() && physical.back() == '\r') physical.pop_back();
    if (physical.empty()) continue;
    std::string record = physical;
    std::vector<std::string> fields;
    for (;;) {
      bool open = false;
      try {
        fields = prefmodel::detail::split_csv(record, open);
      } catch (const prefmodel::detail::row_error& e) {
        throw eval_parse_error(source, start, e.message);
      }
      if (!open) break;
      if (!std::getline(in, physical)) throw eval_parse_error(source, start, "unterminated quoted field");
      ++line_no;
      if (!physical.empty() && physical.back() == '\r') physical.pop_back();
      record += "\n" + physical;
    }
    if (!have_header) {
      t.header = fields;
      for (std::size_t c = 0; c < fields.size(); ++c) t.column[fields[c]] = c;
      have_header = true;
      continue;
    }
    if (fields.size() != t.header.size())
      throw eval_parse_error(source, start, "expected " + std::to_string(t.header.size()) + " fields, found " +
                                                std::to_string(fields.size()));
    t.rows.push_back(std::move(fields));
    t.line.push_back(start);
  }
  if (!have_header) throw eval_parse_error(source, 1, "empty file: a header row is required");
  return t;
}

}  // namespace prefopt::eval::detail
