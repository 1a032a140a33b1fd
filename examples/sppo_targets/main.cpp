// sppo_targets — SPPO's data step (uclaml/SPPO scripts/compute_prob.py) on a JSONL file.
//
//   sppo_targets FILE.jsonl [--out OUT.jsonl]
//
// One JSON object per line (blank lines skipped), one prompt each:
//   {"prompt": str, "responses": [K strings], "pairrm_logits": [[K x K numbers]]}   or
//   {"prompt": str, "responses": [K strings], "scores": [K numbers]}
// PairRM logits are turned into scores by llm_blender's max_logits rule s_i = mean_j (C_ij − C_ji).
// Output: one line per input object, in input order, on stdout or OUT: the input object with its
// fields unchanged, followed by "chosen" and "rejected" (0-based response indices), "chosen_probs",
// "chosen_probs_win", "chosen_probs_lose" and "probability" (the K x K matrix), all in double and
// printed with 17 significant digits. See include/prefopt/selfplay/sppo_targets.hpp.
// Exit status: 0 on success; 2 on bad usage or bad input with ONE line on stderr naming the file
// and line, or the option; 1 on any other failure.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/io/text_input.hpp>

#include "../common/cli.hpp"
#include "targets_jsonl.hpp"

namespace {

using prefopt::examples::usage_error;

constexpr const char* usage =
    "usage: sppo_targets FILE.jsonl [--out OUT.jsonl]\n"
    "  FILE.jsonl  one object per line: {\"prompt\", \"responses\": [K], \"pairrm_logits\": [[KxK]]}\n"
    "              or {\"prompt\", \"responses\": [K], \"scores\": [K]}\n"
    "  --out OUT   write the output there instead of stdout\n"
    "Adds chosen, rejected (argmax / argmin score, first index on ties), chosen_probs = P[w][l],\n"
    "chosen_probs_win / chosen_probs_lose (row means of P, self included) and probability, with\n"
    "P[i][j] = 1 / (1 + exp(s_j - s_i)) as uclaml/SPPO scripts/compute_prob.py.\n";
// "sppo_targets: error: MSG (see sppo_targets --help)" for bad usage (run_tool, examples/common/cli.hpp).
const prefopt::examples::tool sppo_targets_cli{"sppo_targets", usage, {.usage_says_error = true, .usage_points_to_help = true}};

}  // namespace

int main(int argc, char** argv) {
  return prefopt::examples::run_tool(sppo_targets_cli, [&] {
    std::string file, out;
    for (prefopt::examples::arguments args(sppo_targets_cli, argc, argv); args.next();) {
      const std::string a = args.current();
      if (args.take("--out", out)) {
        continue;
      } else if (!a.empty() && a[0] == '-') {
        throw usage_error{"unknown option " + prefopt::quote_text(a)};
      } else if (file.empty()) {
        file = a;
      } else {
        throw usage_error{"more than one input file (" + prefopt::quote_text(file) + ", " +
                          prefopt::quote_text(a) + ")"};
      }
    }
    if (file.empty()) throw usage_error{"missing FILE.jsonl"};
    std::ifstream in = prefopt::io::open_input_file(file);
    const std::vector<std::string> lines = sppo_targets_tool::process_jsonl(in, file);
    // Everything is computed before anything is written: bad input leaves no partial output.
    std::ofstream of;
    if (!out.empty()) {
      of.open(out, std::ios::binary);
      prefopt::require(static_cast<bool>(of), "--out", out, "cannot write file");
    }
    std::ostream& os = out.empty() ? std::cout : of;
    for (const auto& l : lines) os << l << '\n';
    os.flush();
    prefopt::require(static_cast<bool>(os), "output", out.empty() ? std::string("stdout") : out,
                     "write failed");
    return 0;
  });
}
