#pragma once
// What the tools' --json outputs are assembled with, on top of io/json_writer.hpp:
//   json_members       the members of a JSON object from a map, each "key": value;
//   write_output_file  the finished text to the file an option names, or one-line error
//                      naming the option and the path (prefopt::invalid_argument: exit 2);
//   overall_and_groups the report shape of the evaluation tools: an "overall" object and one
//                      object per group, one group per line.

#include <fstream>
#include <string>
#include <string_view>

#include <prefopt/core/errors.hpp>
#include <prefopt/io/json_writer.hpp>

namespace prefopt::examples {

/// `"key": value(v)` for each (key, v) of `map` in its order, the first preceded by `lead` and
/// the others by `separator` (e.g. "\n  " and ",\n  " for one member per line).
template <class Map, class Value>
std::string json_members(const Map& map, std::string_view lead, std::string_view separator, Value&& value) {
  std::string out;
  bool first = true;
  for (const auto& [key, v] : map) {
    out.append(first ? lead : separator).append(io::json_string(key)).append(": ").append(value(v));
    first = false;
  }
  return out;
}

/// {"overall": {OVERALL},\n "GROUPS": {\n  "key": {members(v)},\n  ...}}\n for each (key, v) of
/// `groups` (winrate's per_category, scorer_metrics' per_criterion); `overall` and `members(v)`
/// are the members of an object, without the braces.
template <class Map, class Members>
std::string overall_and_groups(const std::string& overall, std::string_view groups_name, const Map& groups,
                               Members&& members) {
  return "{\"overall\": {" + overall + "},\n " + io::json_string(groups_name) + ": {" +
         json_members(groups, "\n  ", ",\n  ", [&](const auto& v) { return "{" + members(v) + "}"; }) + "}}\n";
}

/// Writes `text` to `path`, given with option `flag` (e.g. "--json").
inline void write_output_file(const std::string& flag, const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw invalid_argument(flag + ": cannot write '" + path + "'");
  out << text;
  if (!out) throw invalid_argument(flag + ": error writing '" + path + "'");
}

}  // namespace prefopt::examples
