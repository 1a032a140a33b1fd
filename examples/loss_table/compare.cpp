// loss_table_compare EXPECTED.csv ACTUAL.csv: exits 0 when ACTUAL has EXPECTED's header and row
// count and every cell agrees to 1e-9 relative (plus an absolute floor of 1e-13 times the row's
// largest magnitude, for cancellation inside one gradient); prints the first mismatch otherwise.
// Used by the ctest entries that check loss_table reproduces the PyTorch fixtures.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "csv_table.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: loss_table_compare EXPECTED.csv ACTUAL.csv\n";
    return 2;
  }
  try {
    std::ifstream fe(argv[1]), fa(argv[2]);
    if (!fe || !fa) {
      std::cerr << "cannot open input\n";
      return 2;
    }
    const auto e = loss_table::read_csv(fe), a = loss_table::read_csv(fa);
    if (e.header != a.header || e.rows.size() != a.rows.size()) {
      std::cerr << "header or row count differs: expected " << e.rows.size() << " rows, got "
                << a.rows.size() << "\n";
      return 1;
    }
    for (std::size_t r = 0; r < e.rows.size(); ++r) {
      double scale = 0;
      for (std::size_t c = 0; c < e.header.size(); ++c) scale = std::max(scale, std::fabs(e.number(r, c)));
      for (std::size_t c = 0; c < e.header.size(); ++c) {
        const double x = e.number(r, c), y = a.number(r, c);
        const double tol = 1e-9 * std::max(std::fabs(x), std::fabs(y)) + 1e-13 * scale + 1e-300;
        if (!(std::fabs(x - y) <= tol)) {
          std::fprintf(stderr, "line %zu, column %s: expected %.17g, got %.17g\n", e.lines[r],
                       e.header[c].c_str(), x, y);
          return 1;
        }
      }
    }
  } catch (const std::exception& ex) {
    std::cerr << ex.what() << "\n";
    return 2;
  }
  return 0;
}
