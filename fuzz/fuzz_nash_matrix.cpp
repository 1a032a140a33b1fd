// libFuzzer target: the matrix reader of the nash tool (examples/nash/matrix_csv.hpp), then the
// game constructors and, for small matrices, the exact LP solver on what it read -- the path
// `nash FILE.csv` takes. The reader must return a square matrix of finite numbers or throw
// prefopt::invalid_argument with a one-line printable message; the constructors may only throw
// prefopt::invalid_argument; the LP may also throw prefopt::numerical_error (its documented pivot
// limit) and otherwise returns probability vectors whose exploitability is at rounding level.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include <prefopt/game/lp_nash.hpp>
#include <prefopt/game/matrix_game.hpp>
#include <prefopt/prefmodel/preference_matrix.hpp>

#include "fuzz_checks.hpp"
#include "matrix_csv.hpp"

namespace {

namespace game = prefopt::game;

void check_distribution(const std::vector<double>& p, long long n) {
  fuzz::check(static_cast<long long>(p.size()) == n, "strategy size");
  double sum = 0;
  for (const double v : p) {
    fuzz::check(std::isfinite(v) && v >= -1e-12, "strategy entry negative or not finite");
    sum += v;
  }
  fuzz::check(std::fabs(sum - 1) <= 1e-9, "strategy does not sum to 1");
}

void solve_small(const game::matrix_game<double>& g, long long n, double scale) {
  if (n > 8) return;  // keep executions fast; the reader is the target
  try {
    const auto r = game::solve(game::lp{}, g);
    check_distribution(r.row_strategy, n);
    check_distribution(r.col_strategy, n);
    fuzz::check(std::isfinite(r.value), "value not finite");
    fuzz::check(r.exploitability <= 1e-9 * std::max(scale, 1e-300) + 1e-300,
                "LP exploitability above rounding level");
  } catch (const prefopt::numerical_error&) {
    // the documented pivot limit; bad input (prefopt::invalid_argument) is not caught here
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  nash::square_matrix m;
  try {
    m = nash::read_square_csv(in, "fuzz.csv");
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what(), 256);
    return 0;
  }
  fuzz::check(m.n >= 1 && static_cast<long long>(m.values.size()) == m.n * m.n, "not square");
  double scale = 0;
  for (const double v : m.values) {
    fuzz::check(std::isfinite(v), "non-finite cell accepted");
    scale = std::max(scale, std::fabs(v));
  }
  try {  // --kind payoff
    solve_small(game::matrix_game<double>(m.n, m.n, m.values), m.n, scale);
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what());
  }
  try {  // --kind preference (default)
    const auto p = prefopt::prefmodel::preference_matrix<double>(m.n, m.values, 1e-9);
    solve_small(game::matrix_game<double>::from_preferences(p), m.n, 0.5);
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what());
  }
  return 0;
}
