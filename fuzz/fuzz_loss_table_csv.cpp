// libFuzzer target: the CSV reader of the loss_table tool (examples/loss_table/csv_table.hpp)
// and its number parser on every cell. Any input must either give a table whose rows all have
// the header's width, with increasing source lines, or throw loss_table::csv_error with a
// one-line printable message; so must every cell conversion.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "csv_table.hpp"
#include "fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  loss_table::csv_table t;
  try {
    t = loss_table::read_csv(in);
  } catch (const loss_table::csv_error& e) {
    fuzz::check_message(e.what());
    return 0;
  }
  fuzz::check(!t.header.empty(), "no header");
  fuzz::check(t.rows.size() == t.lines.size(), "rows and lines disagree");
  for (const auto& name : t.header) fuzz::check(!name.empty(), "empty column name accepted");
  std::size_t previous = 1;  // the header is on line 1 or later, so every row after it
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    fuzz::check(t.rows[r].size() == t.header.size(), "ragged row accepted");
    fuzz::check(t.lines[r] > previous, "line numbers not increasing");
    previous = t.lines[r];
    for (std::size_t c = 0; c < t.header.size(); ++c) {
      try {
        (void)t.number(r, c);
      } catch (const loss_table::csv_error& e) {
        fuzz::check_message(e.what());
      }
    }
  }
  return 0;
}
