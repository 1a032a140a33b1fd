// libFuzzer target: Janus' row reader and pair builder (include/prefopt/data/janus_pairs.hpp) —
// what `janus_pairs FILE.jsonl [--all]` does. It must either build pairs whose chosen output is
// the row's own and whose rejected output belongs to another system message of the same
// instruction, each written as one JSON line with the five documented fields, or throw
// prefopt::invalid_argument (parse_error) with a one-line printable message.
#include <cstddef>
#include <cstdint>
#include <string>

#include <prefopt/data/janus_pairs.hpp>

#include "fuzz_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  namespace d = prefopt::data;
  try {
    const auto rows = d::parse_system_rows(text, "fuzz.jsonl");
    for (const bool all : {false, true}) {
      const auto set = d::build_janus_pairs(rows, {.all = all, .seed = size});
      for (const auto& p : set.pairs) {
        fuzz::check(p.chosen_row < rows.size() && p.rejected_row < rows.size(), "row index out of range");
        const auto &c = rows[p.chosen_row], &r = rows[p.rejected_row];
        fuzz::check(p.chosen == c.output && p.rejected == r.output && p.system == c.system, "pair fields", p.system);
        fuzz::check(r.instruction == c.instruction && r.system != c.system && r.output != c.output,
                    "rejected output not another system message's", p.instruction);
        for (const auto t : {d::chat_template::mistral, d::chat_template::chatml}) {
          const auto line = d::janus_pair_json(p, t);
          const auto rec = prefopt::io::json_parser(line).parse_document();
          for (const char* key : {"prompt", "chosen", "rejected", "system", "instruction"})
            fuzz::check(rec.find(key) != nullptr && rec.find(key)->type == prefopt::io::json_value::kind::string,
                        "output field missing", line);
          fuzz::check(rec.find("chosen")->text == p.chosen, "chosen does not round-trip", line);
        }
      }
    }
  } catch (const prefopt::invalid_argument& e) {
    fuzz::check_message(e.what());
  } catch (const prefopt::io::record_error& e) {
    fuzz::fail("an output line is not valid JSON", e.message);
  }
  return 0;
}
