#pragma once
// Reading a battle log straight into aggregated counts (comparison_data), for logs of 10^6-10^7
// rows: no battle list, no per-row allocation. Same formats, rules, error messages and record
// splitting (io/csv.hpp's csv_reader) as battle_io.hpp, which stays the reference: a CSV row without quotes whose fields are
// plainly valid is handled by a fast path (fields are string_views into a 4 MiB read buffer, names
// are looked up in comparison_data's open-addressing table, the weight is parsed by std::from_chars); every other row
// -- quoted fields, a wrong field count, an unknown winner, a self-battle, an unusual or invalid
// weight -- is handed to battle_io.hpp's own row function, so it is accepted or rejected with
// exactly the same message. JSONL goes through battle_io.hpp's loop, into the counts.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/io/csv.hpp"
#include "prefopt/io/text_input.hpp"
#include "prefopt/prefmodel/battle_io.hpp"
#include "prefopt/prefmodel/comparisons.hpp"

namespace prefopt::prefmodel {

/// Bytes read from the stream at a time (the buffer grows when one record is longer).
using io::default_read_block;

template <class T = double>
struct battle_counts {
  comparison_data<T> data;
  index_t rows = 0;                   // battles read
  index_t bad_rows = 0;               // rows skipped (skip_bad_rows only)
  std::vector<std::string> problems;  // "source:line: reason" for the first max_reported
};

namespace detail {

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
  io::csv_reader reader(in, block_bytes);
  const io::csv_header header = detail::read_battle_csv_header(reader, source);
  const std::size_t c_a = header.require("model_a", ""), c_b = header.require("model_b", ""),
                    c_w = header.require("winner", "");
  const std::size_t c_weight = header.has("weight") ? header.columns().at("weight") : header.size();
  std::vector<std::string_view> fields(header.size());

  // Reference path for anything the fast path does not take: battle_io.hpp's row logic.
  const auto add = [&](const battle<T>& b) {
    out.data.add(b.model_a, b.model_b, b.result, b.weight);
    ++out.rows;
  };
  std::string_view record;
  for (;;) {
    try {
      if (!reader.next_text(record)) break;
      std::string_view rec = record;
      if (!rec.empty() && rec.back() == '\r' && reader.lines() == 1) rec.remove_suffix(1);
      if (rec.empty()) continue;  // blank line
      if (reader.lines() > 1 || rec.find('"') != std::string_view::npos) {
        if (const auto b = detail::csv_row_battle<T>(header, reader.split(record))) add(*b);
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
      std::optional<outcome> result;
      double weight = 1;
      if (fast) {
        const std::string_view a = fields[c_a], b = fields[c_b];
        result = parse_winner_label(fields[c_w]);
        fast = result && !a.empty() && !b.empty() && a != b;
        if (fast && c_weight < fields.size() && !fields[c_weight].empty())
          fast = detail::plain_weight(fields[c_weight], weight);
      }
      if (!fast) {
        if (const auto b = detail::csv_row_battle<T>(header, reader.split(record))) add(*b);
        continue;
      }
      out.data.add(fields[c_a], fields[c_b], *result, static_cast<T>(weight));
      ++out.rows;
    } catch (const io::record_error& e) {
      detail::handle_bad_row(out, opt, source, static_cast<index_t>(reader.start_line()), e.message);
    }
  }
  return out;
}

/// Reads a JSONL battle log (one flat object per line) into counts.
template <class T = double>
battle_counts<T> read_battle_counts_jsonl(std::istream& in, const battle_read_options& opt = {},
                                          const std::string& source = "<jsonl>",
                                          std::size_t block_bytes = default_read_block) {
  battle_counts<T> out;
  detail::for_each_jsonl_battle<T>(in, opt, source, out, [&](const battle<T>& b) {
    out.data.add(b.model_a, b.model_b, b.result, b.weight);
    ++out.rows;
  }, block_bytes);
  return out;
}

/// Reads a battle log file into counts: ".jsonl" / ".ndjson" as JSONL, anything else as CSV.
template <class T = double>
battle_counts<T> read_battle_counts(const std::string& path, const battle_read_options& opt = {}) {
  std::ifstream in = io::open_input_file(path);  // a directory is named as such
  if (io::has_jsonl_extension(path)) return read_battle_counts_jsonl<T>(in, opt, path);
  return read_battle_counts_csv<T>(in, opt, path);
}

}  // namespace prefopt::prefmodel
