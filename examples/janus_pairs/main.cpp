// janus_pairs: Janus' DPO pairs from Multifaceted Collection rows (include/prefopt/data/).
//
//   janus_pairs rows.jsonl --seed 0 --template mistral --out pairs.jsonl
//
// Each input row {system, instruction, output} becomes a pair whose chosen response is its own
// output and whose rejected response is an output written for another system message of the same
// instruction: one sampled with --seed, or every one with --all (docs/janus.md).

#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>

#include <prefopt/data/chat_template.hpp>
#include <prefopt/data/janus_pairs.hpp>

#include "../common/cli.hpp"

namespace data = prefopt::data;
namespace ex = prefopt::examples;

namespace {

constexpr const char* usage = R"(usage: janus_pairs IN.jsonl [--all] [--seed S] [--template mistral|chatml] [--out OUT.jsonl]

Janus' preference pairs from Multifaceted Collection rows.

IN.jsonl holds JSON lines {"system", "instruction", "output"} (other fields are ignored), several
rows per instruction, one per system message. Each row gives pairs with
  prompt    the row's system message and instruction in the chosen template
  chosen    the row's own output
  rejected  an output written for another system message of the same instruction
and the output is JSON lines {"prompt", "chosen", "rejected", "system", "instruction"}.

options:
  --all                    every other system message's output (default: one, sampled)
  --seed S                 the sampler's seed (default 0); the same seed gives the same pairs
  --template mistral|chatml  prompt format (default mistral, Janus' DPO config:
                           "[INST] {system}\n{instruction} [/INST]"; chatml: <|im_start|> turns)
  --out OUT.jsonl          write the pairs there (default: standard output)
  -h, --help               this help

A summary line (pairs written, rows without another output) goes to standard error.
exit status: 0 on success, 2 on bad arguments or malformed input (the message names the file
and line), 1 on other errors.
)";

const ex::tool janus_pairs_tool{"janus_pairs", usage, {.quote = '"', .usage_says_error = true}};

int run(int argc, char** argv) {
  std::string input, out_path;
  data::janus_pair_options opt;
  data::chat_template tmpl = data::chat_template::mistral;
  for (ex::arguments args(janus_pairs_tool, argc, argv); args.next();) {
    if (args.take("--all", opt.all) || args.take("--seed", opt.seed, 0) || args.take("--out", out_path)) continue;
    if (args.is("--template"))
      tmpl = args.choice<data::chat_template>({{"mistral", data::chat_template::mistral},
                                               {"chatml", data::chat_template::chatml}});
    else if (args.is_option())
      args.unknown();
    else
      args.positional(input, "more than one input file given");
  }
  if (input.empty()) throw ex::usage_error{"no input file given"};
  const auto rows = data::read_system_rows(input);
  const auto set = data::build_janus_pairs(rows, opt);
  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::binary);
    prefopt::require(static_cast<bool>(file), "--out", out_path, "cannot open for writing");
  }
  std::ostream& os = out_path.empty() ? std::cout : file;
  for (const auto& p : set.pairs) os << data::janus_pair_json(p, tmpl) << '\n';
  os.flush();
  prefopt::require(static_cast<bool>(os), "--out", out_path.empty() ? "stdout" : out_path, "write failed");
  std::cerr << "janus_pairs: " << set.pairs.size() << " pair(s) from " << rows.size() << " row(s); "
            << set.rows_without_rejected << " row(s) without another system message's output\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(janus_pairs_tool, [&] { return run(argc, argv); });
}
