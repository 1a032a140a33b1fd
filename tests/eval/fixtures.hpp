#pragma once
// The committed reference files of tests/reference/eval (written by eval_reference.py from
// alpaca_eval 0.6.6 and by agreement_reference.py from scikit-learn / SciPy).
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace fixtures {

inline std::string path(const std::string& file) { return std::string(PREFOPT_EVAL_FIXTURES) + "/" + file; }

/// Rows of a reference CSV (no quoted fields) as column name -> text.
inline std::vector<std::map<std::string, std::string>> reference_rows(const std::string& file) {
  std::ifstream in(path(file));
  REQUIRE(in);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) header.push_back(f);
  }
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::map<std::string, std::string> row;
    std::size_t c = 0;
    for (std::string f; std::getline(ss, f, ',');) row[header.at(c++)] = f;
    rows.push_back(row);
  }
  REQUIRE(!rows.empty());
  return rows;
}

/// Uniform double in [0, 1) from the top 53 bits of a raw mt19937_64 draw (portable, unlike
/// std::uniform_real_distribution).
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace fixtures
