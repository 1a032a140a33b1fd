#pragma once
// Reading RFC 4180 CSV: fields separated by commas, a field may be double-quoted and then hold
// commas, doubled quotes and line breaks; "\r\n" line ends are accepted; a UTF-8 byte order mark
// before the header is dropped. The pieces, from the bottom up:
//   split_csv_record   one record's text -> its fields;
//   record_reader      records (or plain lines) from a stream read in large blocks, as views;
//                      what the battle-log readers stream 10^7 rows through;
//   csv_reader         records as fields, with the line each starts on;
//   csv_header         the header's columns by name (any order, extra columns ignored);
//   parse_csv_table    a whole small file as header + rows (the evaluation inputs).
// Errors inside a record are io::record_error (the caller adds the file name and decides whether
// to skip the row); errors about the file as a whole are io::parse_error.

#include <algorithm>
#include <cstddef>
#include <istream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/io/parse_error.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::io {

/// Splits one CSV record into its fields. Sets `open_quote` when a quoted field is still open at
/// the end of `record` (its line break belongs to the field: the caller appends the next line and
/// splits again). A quote inside an unquoted field is a record_error.
inline std::vector<std::string> split_csv_record(std::string_view record, bool& open_quote) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t k = 0; k < record.size(); ++k) {
    const char c = record[k];
    if (quoted) {
      if (c == '"') {
        if (k + 1 < record.size() && record[k + 1] == '"') {
          out.back() += '"';
          ++k;
        } else {
          quoted = false;
        }
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      if (!out.back().empty()) throw record_error{"stray quote inside an unquoted field"};
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

/// A record spanning several physical lines with the '\r' of each "\r\n" removed, as a line
/// reader that strips "\r" from every line sees it.
inline std::string join_physical_lines(std::string_view record) {
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

/// True for the fields of an empty line.
[[nodiscard]] inline bool is_blank_record(const std::vector<std::string>& fields) {
  return fields.size() == 1 && fields[0].empty();
}

/// Bytes read from the stream at a time (the buffer grows when one record is longer).
inline constexpr std::size_t default_read_block = std::size_t(1) << 22;

/// Hands out records from a stream read in large blocks: with `quote_aware`, CSV records (a
/// quoted field may span lines); otherwise plain lines (JSONL). Views stay valid until the next
/// call.
class record_reader {
 public:
  record_reader(std::istream& in, bool quote_aware, std::size_t block_bytes = default_read_block)
      : in_(in),
        quote_aware_(quote_aware),
        block_(std::max<std::size_t>(block_bytes, 1)),
        next_block_(std::min<std::size_t>(block_, std::size_t(1) << 16)) {}

  /// Next record without its final newline; `lines` = physical lines it spans.
  template <class Count>
  bool next(std::string_view& record, Count& lines) {
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
  /// End of a record holding a quote, found by split_csv_record's state machine (a quote opens
  /// only at the start of a field, "" inside quotes is a quote, a quote inside an unquoted field
  /// is an error that ends the record at the end of its physical line), so that records end
  /// exactly where a line-by-line reader calling split_csv_record ends them. npos: need more data.
  template <class Count>
  std::size_t scan_quoted(Count& lines) {
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
    if (!eof_) return std::string::npos;
    // A quote still open at the end of the file: the file's final line break ends its last line
    // rather than starting another one.
    if (buf_.size() > pos_ && buf_.back() == '\n') --lines;
    return buf_.size();
  }

  void refill() {
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t old = buf_.size();
    const std::size_t want = std::max<std::size_t>(next_block_, old);  // doubles for a huge record
    // Blocks grow from 64 KiB to block_: a small file (a fuzzer's input, a test's string) does
    // not pay for zero-filling megabytes, a large one is soon read in full-size blocks.
    next_block_ = std::min(block_, 2 * next_block_);
    buf_.resize(old + want);
    in_.read(buf_.data() + old, static_cast<std::streamsize>(want));
    buf_.resize(old + static_cast<std::size_t>(in_.gcount()));
    if (static_cast<std::size_t>(in_.gcount()) < want) eof_ = true;
  }

  std::istream& in_;
  bool quote_aware_;
  std::size_t block_, next_block_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
};

/// CSV records as fields. The first record loses a leading byte order mark.
class csv_reader {
 public:
  explicit csv_reader(std::istream& in, std::size_t block_bytes = default_read_block)
      : records_(in, true, block_bytes) {}

  /// The next record's fields (an empty line gives one empty field: is_blank_record). Throws
  /// record_error for a stray or an unterminated quote; the record is consumed either way.
  bool next(std::vector<std::string>& fields) {
    std::string_view record;
    if (!next_text(record)) return false;
    fields = split(record);
    return true;
  }

  /// The next record as it is in the file (its physical lines with their "\n" or "\r\n", no
  /// final line break), for a caller with a fast path of its own; split() gives its fields.
  bool next_text(std::string_view& record) {
    std::size_t lines = 0;
    if (!records_.next(record, lines)) return false;
    start_line_ = end_line_ + 1;
    end_line_ += lines;
    return true;
  }

  /// The fields of a record from next_text (the file's first record loses a byte order mark).
  [[nodiscard]] std::vector<std::string> split(std::string_view record) const {
    std::string text = join_physical_lines(record);
    if (start_line_ == 1 && text.starts_with(utf8_bom)) text.erase(0, utf8_bom.size());
    bool open = false;
    auto fields = split_csv_record(text, open);
    if (open) throw record_error{"unterminated quoted field"};
    return fields;
  }

  /// First and last physical line of the record last returned (1-based).
  [[nodiscard]] std::size_t start_line() const { return start_line_; }
  [[nodiscard]] std::size_t end_line() const { return end_line_; }
  /// Physical lines the record last returned spans.
  [[nodiscard]] std::size_t lines() const { return end_line_ - start_line_ + 1; }

 private:
  record_reader records_;
  std::size_t start_line_ = 0, end_line_ = 0;
};

/// A header row: columns by name (a repeated name means its last column).
class csv_header {
 public:
  csv_header() = default;
  csv_header(std::vector<std::string> names, std::string source)
      : names_(std::move(names)), source_(std::move(source)) {
    for (std::size_t c = 0; c < names_.size(); ++c) column_[names_[c]] = c;
  }

  [[nodiscard]] const std::vector<std::string>& names() const { return names_; }
  [[nodiscard]] std::size_t size() const { return names_.size(); }
  [[nodiscard]] bool has(const std::string& name) const { return column_.count(name) != 0; }
  [[nodiscard]] const std::map<std::string, std::size_t>& columns() const { return column_; }

  /// Index of a required column; otherwise a parse_error at line 1 naming the column and what
  /// the file needs (`expected`, e.g. "model_a,model_b,winner[,weight]").
  [[nodiscard]] std::size_t require(const std::string& name, const std::string& expected) const {
    const auto it = column_.find(name);
    if (it == column_.end())
      throw parse_error(source_, 1, "header has no column '" + name + "' (need " + expected + ")");
    return it->second;
  }

  /// A record_error unless a data row has one field per column.
  void check_width(const std::vector<std::string>& fields) const {
    if (fields.size() != names_.size())
      throw record_error{"expected " + std::to_string(names_.size()) + " fields, found " +
                         std::to_string(fields.size())};
  }

 private:
  std::vector<std::string> names_;
  std::map<std::string, std::size_t> column_;
  std::string source_;
};

/// A whole CSV file: the header and each row with the line it starts on.
struct csv_table {
  std::string source;
  csv_header header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> line;  // of each row
  std::size_t end_line = 0;        // the last physical line of the file

  /// See csv_header::require.
  [[nodiscard]] std::size_t require_column(const std::string& name, const std::string& expected) const {
    return header.require(name, expected);
  }
};

/// Parses `text` (`source` names it in errors) into a table. Blank lines are skipped, also
/// before the header; every row must have the header's width.
inline csv_table parse_csv_table(const std::string& text, const std::string& source) {
  csv_table t;
  t.source = source;
  std::istringstream in(text);
  csv_reader reader(in);
  std::vector<std::string> fields;
  bool have_header = false;
  for (;;) {
    try {
      if (!reader.next(fields)) break;
      if (is_blank_record(fields)) continue;
      if (have_header) t.header.check_width(fields);
    } catch (const record_error& e) {
      throw parse_error(source, reader.start_line(), e.message);
    }
    if (!have_header) {
      t.header = csv_header(std::move(fields), source);
      have_header = true;
      continue;
    }
    t.rows.push_back(std::move(fields));
    t.line.push_back(reader.start_line());
  }
  if (!have_header) throw parse_error(source, 1, "empty file: a header row is required");
  t.end_line = reader.end_line();
  return t;
}

}  // namespace prefopt::io
