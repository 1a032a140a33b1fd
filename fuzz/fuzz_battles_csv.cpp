// libFuzzer target: prefopt::prefmodel::read_battles_csv (include/prefopt/prefmodel/battle_io.hpp).
// Any input must either parse into valid battles or throw battle_parse_error with a one-line
// printable message; see battles_common.hpp for the checks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "battles_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::check_reader(text, [](std::istream& in, const fuzz::pm::battle_read_options& opt) {
    return fuzz::pm::read_battles_csv<double>(in, opt, "fuzz.csv");
  });
  return 0;
}
