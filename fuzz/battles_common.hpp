#pragma once
// Shared by the two battle-log fuzz targets: invariants of a parsed log and a canonical JSONL
// serialisation used for round trips (JSON string escaping is unambiguous, unlike CSV, whose
// reader strips a "\r" before each physical line break).

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/io/json_writer.hpp>
#include <prefopt/prefmodel/battle_io.hpp>

#include "fuzz_checks.hpp"

namespace fuzz {

namespace pm = prefopt::prefmodel;
namespace io = prefopt::io;

inline void check_battles(const std::vector<pm::battle<double>>& battles) {
  for (const auto& b : battles) {
    check(!b.model_a.empty() && !b.model_b.empty(), "empty model name accepted");
    check(b.model_a != b.model_b, "self-battle accepted", b.model_a);
    check(std::isfinite(b.weight) && b.weight >= 0, "bad weight accepted");
    check(b.result == pm::outcome::model_a_wins || b.result == pm::outcome::model_b_wins ||
              b.result == pm::outcome::tie,
          "bad outcome");
  }
}

inline std::string to_jsonl(const std::vector<pm::battle<double>>& battles) {
  std::string out;
  for (const auto& b : battles) {
    const char* winner = b.result == pm::outcome::model_a_wins   ? "model_a"
                         : b.result == pm::outcome::model_b_wins ? "model_b"
                                                                 : "tie";
    out += "{\"model_a\": " + io::json_string(b.model_a) + ", \"model_b\": " + io::json_string(b.model_b) +
           ", \"winner\": \"" + winner + "\", \"weight\": " + io::json_number(b.weight) + "}\n";
  }
  return out;
}

/// Re-reads `battles` through the JSONL reader and requires the same battles back, bit for bit
/// (the weight is printed with 17 significant digits, which round-trips every double).
inline void check_jsonl_round_trip(const std::vector<pm::battle<double>>& battles) {
  std::istringstream in(to_jsonl(battles));
  const auto again = pm::read_battles_jsonl<double>(in, {}, "round-trip");
  check(again.battles.size() == battles.size(), "round trip changed the battle count");
  for (std::size_t k = 0; k < battles.size(); ++k) {
    const auto& a = battles[k];
    const auto& b = again.battles[k];
    check(a.model_a == b.model_a && a.model_b == b.model_b && a.result == b.result &&
              a.weight == b.weight,
          "round trip changed a battle", a.model_a);
  }
}

/// Runs `read` strictly and with skip_bad_rows and checks that the two agree: a log read strictly
/// is read identically when skipping, a strict failure on a data row is a skipped row.
template <class Reader>
void check_reader(const std::string& text, Reader read) {
  bool strict_ok = false;
  std::vector<pm::battle<double>> strict;
  try {
    std::istringstream in(text);
    strict = read(in, pm::battle_read_options{}).battles;
    strict_ok = true;
    check_battles(strict);
    check_jsonl_round_trip(strict);
    if (!strict.empty()) {
      const auto data = pm::comparison_data<double>::from_battles(strict);
      check(data.total_battles() == static_cast<prefopt::index_t>(strict.size()),
            "from_battles lost battles");
    }
  } catch (const pm::battle_parse_error& e) {
    check(!strict_ok, "a parse error after a successful read");
    check_message(e.what(), 512 + 2 * 64);
    check(e.line() >= 1, "line number < 1");
  }
  pm::battle_read_options skip;
  skip.skip_bad_rows = true;
  skip.max_reported = 3;
  try {
    std::istringstream in(text);
    const auto log = read(in, skip);
    check_battles(log.battles);
    check(log.problems.size() == std::min<std::size_t>(static_cast<std::size_t>(log.bad_rows), 3),
          "problems and bad_rows disagree");
    for (const auto& p : log.problems) check_message(p, 512 + 2 * 64);
    if (strict_ok) {
      check(log.bad_rows == 0 && log.battles.size() == strict.size(),
            "skip_bad_rows changed a log without bad rows");
    } else {
      check(log.bad_rows >= 1, "a strict failure but no skipped row");
    }
  } catch (const pm::battle_parse_error& e) {
    // Only the CSV header can fail in skip mode; then the strict read failed as well.
    check(!strict_ok, "skip mode failed where the strict read succeeded");
    check_message(e.what(), 512 + 2 * 64);
  }
}

}  // namespace fuzz
