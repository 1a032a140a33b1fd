#pragma once
// Committed fixtures shared by the prefmodel tests: the sample battle logs of
// examples/arena_ratings/data and the reference numbers in tests/reference/prefmodel.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <prefopt/prefmodel/battle_io.hpp>

namespace fixtures {

template <class T = double>
prefopt::prefmodel::comparison_data<T> arena_sample(const std::string& file = "battles.csv") {
  const auto log = prefopt::prefmodel::read_battles<T>(std::string(PREFOPT_ARENA_DATA) + "/" + file);
  return prefopt::prefmodel::comparison_data<T>::from_battles(log.battles);
}

/// Rows of a reference CSV (header skipped) split at commas.
inline std::vector<std::vector<std::string>> reference_csv(const std::string& file) {
  std::ifstream in(std::string(PREFOPT_PREFMODEL_FIXTURES) + "/" + file);
  REQUIRE(in);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::vector<std::string> fields;
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  REQUIRE(!rows.empty());
  return rows;
}

}  // namespace fixtures
