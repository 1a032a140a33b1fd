#pragma once
// Reading the committed PyTorch fixtures (CSV, through the loss_table tool's reader) for the
// backend suites: tables as named columns of doubles, a table's rows as string fields, and the
// comparisons the fixture checks share. Host code only; the CUDA suite includes it too.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "csv_table.hpp"

namespace prefopt::testing::fixtures {

using columns = std::map<std::string, std::vector<double>>;
using fields = std::map<std::string, std::string>;

inline loss_table::csv_table load(const std::string& dir, const std::string& file) {
  std::ifstream in(dir + "/" + file);
  INFO("fixture " << dir << "/" << file);
  REQUIRE(in.good());
  return loss_table::read_csv(in);
}

inline columns numeric_columns(const loss_table::csv_table& t) {
  columns out;
  for (std::size_t c = 0; c < t.header.size(); ++c)
    for (std::size_t r = 0; r < t.rows.size(); ++r) out[t.header[c]].push_back(t.number(r, c));
  return out;
}

inline std::vector<fields> rows_of(const loss_table::csv_table& t) {
  std::vector<fields> out;
  for (const auto& row : t.rows) {
    fields f;
    for (std::size_t k = 0; k < t.header.size(); ++k) f[t.header[k]] = row[k];
    out.push_back(std::move(f));
  }
  return out;
}

/// |got − want| <= rel·|want| + floor (both finite, or both the same infinity).
inline bool close(double got, double want, double rel, double floor) {
  if (std::isinf(want)) return got == want;
  if (!std::isfinite(got) || !std::isfinite(want)) return false;
  return std::fabs(got - want) <= rel * std::fabs(want) + floor;
}

/// The sign of `got` wherever the reference is non-zero above the comparison's floor (a relative
/// tolerance with an absolute floor lets a tiny entry of the wrong sign through otherwise).
inline void check_sign(double got, double want, double floor) {
  if (!(std::fabs(want) > floor)) return;
  INFO("reference " << want << ", got " << got);
  CHECK((want > 0 ? got > 0 : got < 0));
}

}  // namespace prefopt::testing::fixtures
