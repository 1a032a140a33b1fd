#pragma once
// Reading scorer-agreement data: CSV with a header naming id, criterion, expert and predicted
// (any column order, extra columns ignored), one row per transcript and criterion, scores as
// integer bands. A bad row throws eval_parse_error "file:line: reason".

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/eval/agreement.hpp"
#include "prefopt/eval/parse_error.hpp"
#include "prefopt/io/csv.hpp"
#include "prefopt/io/number_text.hpp"
#include "prefopt/io/text_input.hpp"

namespace prefopt::eval {

inline std::vector<scored_item> parse_scores_csv(const std::string& text, const std::string& source) {
  const auto t = io::parse_csv_table(text, source);
  const std::string expected = "id,criterion,expert,predicted";
  const std::size_t c_id = t.require_column("id", expected), c_crit = t.require_column("criterion", expected),
                    c_exp = t.require_column("expert", expected), c_pred = t.require_column("predicted", expected);
  std::vector<scored_item> items;
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& f = t.rows[r];
    const std::size_t line = t.line[r];
    auto band = [&](std::size_t c, const char* name) {
      const auto v = io::parse_number(f[c]);
      if (!v || !std::isfinite(*v) || *v != std::round(*v) || std::abs(*v) >= 1e6)
        throw eval_parse_error(source, line, std::string(name) + " '" + f[c] + "' is not an integer band");
      return *v;
    };
    scored_item it;
    it.id = f[c_id];
    it.criterion = f[c_crit];
    if (it.id.empty()) throw eval_parse_error(source, line, "empty id");
    if (it.criterion.empty()) throw eval_parse_error(source, line, "empty criterion");
    it.expert = band(c_exp, "expert");
    it.predicted = band(c_pred, "predicted");
    const auto [pos, fresh] = seen.emplace(std::make_pair(it.id, it.criterion), line);
    if (!fresh)
      throw eval_parse_error(source, line, "id '" + it.id + "' criterion '" + it.criterion + "' already given on line " +
                                               std::to_string(pos->second));
    items.push_back(std::move(it));
  }
  if (items.empty()) throw eval_parse_error(source, 2, "no data rows");
  return items;
}

inline std::vector<scored_item> read_scores_csv(const std::string& path) {
  return parse_scores_csv(io::read_text_file(path), path);
}

}  // namespace prefopt::eval
