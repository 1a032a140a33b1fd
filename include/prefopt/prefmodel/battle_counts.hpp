#pragma once
// Reading a battle log straight into aggregated counts (comparison_data), for logs of 10^6-10^7
// rows: no battle list, no per-row allocation. Same formats, rules and error messages as
// battle_io.hpp (which stays the reference reader): a CSV row without quotes whose fields are
// plainly valid is handled by a fast path (fields are string_views into a 4 MiB read buffer, names
// are looked up in comparison_data's open-addressing table, the weight is parsed by std::from_chars); every other row
// -- quoted fields, a wrong field count, an unknown winner, a self-battle, an unusual or invalid
// weight -- is handed to battle_io.hpp's own row parser, so it is accepted or rejected with exactly
// the same message. JSONL rows always go through battle_io.hpp's JSON parser (one row at a time,
// into the counts).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/text_input.hpp"
#include "prefopt/prefmodel/battle_io.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

namespace prefopt::prefmodel {

/// Bytes read from the stream at a time (the buffer grows when one record is longer).
inline constexpr std::size_t default_read_block = std::size_t(1) << 22;

template <class T = double>
struct battle_counts {
  comparison_data<T> data;
  index_t rows = 0;                   // battles read
  index_t bad_rows = 0;               // rows skipped (skip_bad_rows only)
  std::vector<std::string> problems;  // "source:line: reason" for the first max_reported
};

namespace detail {

/// Hands out records (CSV: quote-aware, a quoted field may span lines; JSONL: lines) from a
/// stream read in large blocks. Views stay valid until the next call.
class record_reader {
 public:
  record_reader(std::istream& in, bool quote_aware, std::size_t block_bytes)
      : in_(in), quote_aware_(quote_aware), block_(std::max<std::size_t>(block_bytes, 1)) {}

  /// Next record without its final newline; `lines` = physical lines it spans.
  bool next(std::string_view& record, index_t& lines) {
    for (;;) {
      const std::size_t nl = buf_.find('\n', pos_);
      const std::size_t line_end = nl == std::string::npos ? buf_.size() : nl;
      std::size_t end = std::string::npos;
      lines = 1;
      if (!quote_aware_ ||
          std::string_view(buf_).substr(pos_, line_end - pos_).find('"') == std::string_view::npos) {
        if (nl != std::string::npos || (eof_ && line_end > pos_)) end = line_end;
      } else {
        end = scan_quoted(lines);
      }
      if (end != std::string::npos) {
        record = std::string_view(buf_).substr(pos_, end - pos_);
        pos_ = end < buf_.size() ? end + 1 : end;
        return true;
      }
      if (eof_) return false;
      refill();
    }
  }

 private:
  /// End of a record holding a quote, found by the state machine of battle_io.hpp's split_csv
  /// (a quote opens only at the start of a field, "" inside quotes is a quote, a quote inside an
  /// unquoted field is an error that ends the record at the end of its physical line), so that
  /// records split exactly where the reference reader splits them. npos: need more data.
  std::size_t scan_quoted(index_t& lines) {
    bool quoted = false, field_empty = true, stray = false;
    for (std::size_t k = pos_; k < buf_.size(); ++k) {
      const char c = buf_[k];
      if (c == '\n') {
        if (!quoted || stray) return k;
        ++lines;
        field_empty = false;  // the newline is part of the quoted field
      } else if (stray) {
        continue;
      } else if (quoted) {
        if (c == '"') {
          if (k + 1 >= buf_.size() && !eof_) return std::string::npos;  // is the next a quote?
          if (k + 1 < buf_.size() && buf_[k + 1] == '"') {
            field_empty = false;
            ++k;
          } else {
            quoted = false;
          }
        } else if (!(c == '\r' && k + 1 < buf_.size() && buf_[k + 1] == '\n')) {
          field_empty = false;
        }
      } else if (c == '"') {
        if (field_empty) quoted = true;
        else stray = true;
      } else if (c == ',') {
        field_empty = true;
      } else {
        field_empty = false;
      }
    }
    return eof_ ? buf_.size() : std::string::npos;
  }

  void refill() {
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t old = buf_.size();
    const std::size_t want = std::max<std::size_t>(block_, old);  // doubles for a huge record
    buf_.resize(old + want);
    in_.read(buf_.data() + old, static_cast<std::streamsize>(want));
    buf_.resize(old + static_cast<std::size_t>(in_.gcount()));
    if (static_cast<std::size_t>(in_.gcount()) < want) eof_ = true;
  }

  std::istream& in_;
  bool quote_aware_;
  std::size_t block_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
};

/// The CSV record as battle_io.hpp's line reader sees it: '\r' before each newline removed.
inline std::string physical_lines_joined(std::string_view record) {
  std::string out;
  out.reserve(record.size());
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = record.find('\n', start);
    std::string_view line = record.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.append(line);
    if (nl == std::string_view::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

/// A weight the fast path can take: plain decimal text (digits, '.', exponent) that
/// std::from_chars parses completely to a finite value >= 0. Anything else (inf, nan, hex, junk,
/// negative) goes to the reference parser, which either reads it the same way or explains it.
inline bool plain_weight(std::string_view s, double& w) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      return false;
  if (s.front() == '+' || s.front() == '-') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), w);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(w) && w >= 0;
}

}  // namespace detail

/// Reads a CSV battle log (header row required) into counts; see battle_io.hpp for the format.
template <class T = double>
battle_counts<T> read_battle_counts_csv(std::istream& in, const battle_read_options& opt = {},
                                        const std::string& source = "<csv>",
                                        std::size_t block_bytes = default_read_block) {
  battle_counts<T> out;
  battle_log<T> problems;  // bad-row bookkeeping shared with battle_io.hpp
  detail::record_reader reader(in, true, block_bytes);
  std::string_view record;
  index_t lines = 0, line_no = 0;
  std::vector<std::string> header;
  if (!reader.next(record, lines)) throw battle_parse_error(source, 1, "empty file: a header row is required");
  line_no = lines;
  {
    std::string text = detail::physical_lines_joined(record);
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // UTF-8 BOM (Excel)
    bool open = false;
    try {
      header = detail::split_csv(text, open);
      if (open) throw detail::row_error{"unterminated quoted field"};
    } catch (const detail::row_error& e) {
      throw battle_parse_error(source, line_no, e.message);
    }
  }
  std::map<std::string, std::size_t> col;
  for (std::size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
  for (const char* key : {"model_a", "model_b", "winner"})
    if (!col.count(key))
      throw battle_parse_error(source, 1, std::string("header has no column '") + key +
                                              "' (need model_a,model_b,winner[,weight])");
  const std::size_t c_a = col["model_a"], c_b = col["model_b"], c_w = col["winner"];
  const std::size_t c_weight = col.count("weight") ? col["weight"] : header.size();
  std::vector<std::string_view> fields(header.size());

  // Reference path for anything the fast path does not take: battle_io.hpp's row logic.
  const auto reference_row = [&](std::string_view rec) {
    bool open = false;
    const auto f = detail::split_csv(detail::physical_lines_joined(rec), open);
    if (open) throw detail::row_error{"unterminated quoted field"};
    if (f.size() == 1 && f[0].empty()) return;  // blank line
    if (f.size() != header.size())
      throw detail::row_error{"expected " + std::to_string(header.size()) + " fields, found " +
                              std::to_string(f.size())};
    std::map<std::string, std::string> named;
    for (const auto& [key, c] : col)
      if (key == "model_a" || key == "model_b" || key == "winner" || (key == "weight" && !f[c].empty()))
        named[key] = f[c];
    const battle<T> b = detail::make_battle<T>(named, {});
    out.data.add(b.model_a, b.model_b, b.result, b.weight);
    ++out.rows;
  };

  while (reader.next(record, lines)) {
    const index_t start_line = line_no + 1;
    line_no += lines;
    try {
      std::string_view rec = record;
      if (!rec.empty() && rec.back() == '\r' && lines == 1) rec.remove_suffix(1);
      if (rec.empty()) continue;  // blank line
      if (lines > 1 || rec.find('"') != std::string_view::npos) {
        reference_row(record);
        continue;
      }
      std::size_t count = 0, start = 0;
      for (;;) {
        const std::size_t comma = rec.find(',', start);
        if (count < fields.size())
          fields[count] = rec.substr(start, comma == std::string_view::npos ? comma : comma - start);
        ++count;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      bool fast = count == header.size();
      outcome result = outcome::tie;
      double weight = 1;
      if (fast) {
        const std::string_view a = fields[c_a], b = fields[c_b], w = fields[c_w];
        if (w == "model_a") result = outcome::first_wins;
        else if (w == "model_b") result = outcome::second_wins;
        else if (w == "tie" || w == "tie (bothbad)") result = outcome::tie;
        else fast = false;
        fast = fast && !a.empty() && !b.empty() && a != b;
        if (fast && c_weight < fields.size() && !fields[c_weight].empty())
          fast = detail::plain_weight(fields[c_weight], weight);
      }
      if (!fast) {
        reference_row(record);
        continue;
      }
      out.data.add(fields[c_a], fields[c_b], result, static_cast<T>(weight));
      ++out.rows;
    } catch (const detail::row_error& e) {
      detail::handle_bad_row(problems, opt, source, start_line, e.message);
    }
  }
  out.bad_rows = problems.bad_rows;
  out.problems = std::move(problems.problems);
  return out;
}

/// Reads a JSONL battle log (one flat object per line) into counts.
template <class T = double>
battle_counts<T> read_battle_counts_jsonl(std::istream& in, const battle_read_options& opt = {},
                                          const std::string& source = "<jsonl>",
                                          std::size_t block_bytes = default_read_block) {
  battle_counts<T> out;
  battle_log<T> problems;
  detail::record_reader reader(in, false, block_bytes);
  std::string_view line;
  index_t lines = 0, line_no = 0;
  std::map<std::string, std::string> strings, literals;
  std::map<std::string, double> numbers;
  while (reader.next(line, lines)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    try {
      strings.clear();
      literals.clear();
      numbers.clear();
      detail::flat_json_parser(line).parse(strings, numbers, &literals);
      const battle<T> b = detail::make_battle<T>(strings, numbers, literals);
      out.data.add(b.model_a, b.model_b, b.result, b.weight);
      ++out.rows;
    } catch (const detail::row_error& e) {
      detail::handle_bad_row(problems, opt, source, line_no, e.message);
    }
  }
  out.bad_rows = problems.bad_rows;
  out.problems = std::move(problems.problems);
  return out;
}

/// Reads a battle log file into counts: ".jsonl" / ".ndjson" as JSONL, anything else as CSV.
template <class T = double>
battle_counts<T> read_battle_counts(const std::string& path, const battle_read_options& opt = {}) {
  std::ifstream in = open_input_file(path);  // a directory is named as such
  const auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".jsonl") || ends_with(".ndjson")) return read_battle_counts_jsonl<T>(in, opt, path);
  return read_battle_counts_csv<T>(in, opt, path);
}

}  // namespace prefopt::prefmodel
