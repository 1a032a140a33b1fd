// libFuzzer target: the JSONL reader of the sppo_targets tool (examples/sppo_targets/
// targets_jsonl.hpp) — what `sppo_targets FILE.jsonl` does. It must either return one output line
// per record, each a JSON object whose `probability` rows are probabilities in [0, 1] and whose
// `chosen` / `rejected` index the responses, or throw prefopt::invalid_argument with a one-line
// printable message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_checks.hpp"
#include "targets_jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    for (const std::string& line : sppo_targets_tool::process_jsonl(in, "fuzz.jsonl")) {
      const auto rec = prefopt::io::json_parser(line).parse_document();
      const auto* p = rec.find("probability");
      const auto* w = rec.find("chosen");
      const auto* l = rec.find("rejected");
      fuzz::check(p != nullptr && w != nullptr && l != nullptr, "output fields missing", line);
      const double k = static_cast<double>(p->items.size());
      fuzz::check(w->number >= 0 && w->number < k && l->number >= 0 && l->number < k,
                  "chosen / rejected out of range", line);
      for (const auto& row : p->items)
        for (const auto& v : row.items)
          fuzz::check(std::isfinite(v.number) && v.number >= 0 && v.number <= 1,
                      "probability outside [0, 1]", line);
    }
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what());
  } catch (const prefopt::io::record_error& e) {
    fuzz::fail("an output line is not valid JSON", e.message);
  }
  return 0;
}
