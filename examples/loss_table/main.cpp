// loss_table: evaluate one preference loss on a CSV of per-pair log-probabilities.
//
//   loss_table --loss NAME [--beta B] [--label-smoothing E] [--gamma G] [--alpha A] [--lambda L]
//              [--tau T] [--desirable-weight W] [--undesirable-weight W] [--reference-free]
//              [--reduction mean|sum] FILE.csv
//
// Input: a CSV whose header names the columns it has among chosen_logps, rejected_logps,
// ref_chosen_logps, ref_rejected_logps, chosen_tokens, rejected_tokens, chosen_win_rate,
// rejected_win_rate, chosen_nll (and, for kto, kl_policy_logps, kl_ref_logps: the log-probs of one
// mismatched prompt/completion pair per row). FILE "-" reads standard input.
// Output (stdout): "loss,grad_chosen,grad_rejected", one row per input row, 17 significant digits:
// the per-pair loss (aot / aot_unpaired: per sorted position) and the gradient of the reduced
// loss. The reduced loss and the TRL metrics go to stderr.
// Exit status: 0 on success; 2 on bad usage or bad input, with one line on stderr naming the
// option, or the file, line and column (the cell quoted, escaped, at most 60 characters); 1 on any
// other failure.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/io/text_input.hpp>
#include <prefopt/losses/registry.hpp>

#include "../common/cli.hpp"
#include "csv_table.hpp"

namespace {

using backend = prefopt::eigen::backend<double>;
namespace pl = prefopt::losses;
namespace ex = prefopt::examples;

constexpr std::string_view usage =
    "usage: loss_table --loss NAME [--beta B] [--label-smoothing E] [--gamma G] [--alpha A]\n"
    "                  [--lambda L] [--tau T] [--desirable-weight W] [--undesirable-weight W]\n"
    "                  [--reference-free] [--reduction mean|sum] [--loss-weights W1,W2,...]\n"
    "                  FILE.csv\n"
    "\n"
    "NAME is a TRL loss_type (sigmoid, ipo, kto, ...) or a comma-separated list of them\n"
    "(e.g. sigmoid,bco_pair,sft), weighted by --loss-weights (default 1 each).\n"
    "Evaluates a preference loss on each row of FILE.csv (\"-\" = stdin). The header names the\n"
    "columns present among chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps,\n"
    "chosen_tokens, rejected_tokens, chosen_win_rate, rejected_win_rate, chosen_nll,\n"
    "kl_policy_logps, kl_ref_logps. Prints \"loss,grad_chosen,grad_rejected\" per row to stdout\n"
    "(gradients of the reduced loss); the reduced loss and metrics go to stderr.\n";

/// "\nlosses (hyper-parameter = default):\n  sigmoid, dpo: beta = 0.1, label_smoothing = 0\n..."
/// from the registry's declarations, so the help cannot drift from the library.
std::string loss_catalogue() {
  std::string out = "\nlosses (hyper-parameter = default):\n";
  for (const auto name : pl::canonical_loss_names) {
    out += "  ";
    out += name;
    for (const auto alias : pl::loss_names)
      if (alias != name && pl::canonical_name(alias) == name) {
        out += ", ";
        out += alias;
      }
    out += ":";
    const auto& parameters = pl::declared_parameters(name);
    if (parameters.size() == 0) out += " (none)";
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      const auto& p = parameters[k];
      char value[32];
      std::snprintf(value, sizeof value, "%g", p.default_value);
      out += k ? ", " : " ";
      out += p.name;
      out += " = ";
      out += value;
      if (!p.alias.empty()) {
        out += " (or ";
        out += p.alias;
        out += ")";
      }
    }
    out += "\n";
  }
  return out;
}


/// The usage text followed by the loss catalogue (what --help prints).
const std::string full_usage = std::string(usage) + loss_catalogue();

const ex::tool loss_table_tool{"loss_table", full_usage, {.quote = '"', .usage_points_to_help = true, .input_error = ""}};

const std::vector<std::string_view> known_columns{
    "chosen_logps",    "rejected_logps",    "ref_chosen_logps", "ref_rejected_logps",
    "chosen_tokens",   "rejected_tokens",   "chosen_win_rate",  "rejected_win_rate",
    "chosen_nll",      "kl_policy_logps",   "kl_ref_logps"};

double parse_option_value(std::string_view option, const std::string& text) {
  const auto v = loss_table::parse_number(text);
  if (!v) throw ex::usage_error{std::string(option) + ": " + prefopt::quote_text(text) + " is not a number"};
  return *v;
}

struct arguments {
  std::string loss;
  pl::hyper_parameters hp;
  bool reference_free = false;
  pl::reduction reduce = pl::reduction::mean;
  std::string file;
  std::vector<double> loss_weights;
};

arguments parse_arguments(int argc, char** argv) {
  arguments a;
  // One option per hyper-parameter of the registry: --label-smoothing sets "label_smoothing".
  std::map<std::string, std::string_view, std::less<>> numeric;
  for (const auto& field : pl::hyper_parameter_fields) {
    std::string option = "--";
    option += field.name;
    std::replace(option.begin(), option.end(), '_', '-');
    numeric.emplace(std::move(option), field.name);
  }
  for (ex::arguments args(loss_table_tool, argc, argv); args.next();) {
    const std::string_view arg = args.current();
    if (arg == "--loss") {
      a.loss = args.value();
    } else if (auto it = numeric.find(arg); it != numeric.end()) {
      pl::set_hyper_parameter(a.hp, it->second, parse_option_value(arg, args.value()));
    } else if (arg == "--loss-weights") {
      for (const auto& cell : loss_table::split_csv_line(args.value()))
        a.loss_weights.push_back(parse_option_value(arg, cell));
    } else if (arg == "--reference-free") {
      a.reference_free = true;
    } else if (arg == "--reduction") {
      const std::string r = args.value();
      if (r == "mean") a.reduce = pl::reduction::mean;
      else if (r == "sum") a.reduce = pl::reduction::sum;
      else throw ex::usage_error{"--reduction: " + prefopt::quote_text(r) + " must be mean or sum"};
    } else if (args.is_option()) {
      args.unknown();
    } else {
      args.positional(a.file, "more than one input file given");
    }
  }
  if (a.loss.empty()) throw ex::usage_error{"--loss NAME is required"};
  if (a.file.empty()) throw ex::usage_error{"an input FILE.csv is required"};
  return a;
}

/// Column name of a library argument name such as "chosen_win_rates" (batch field) -> CSV column.
std::string column_of(const std::string& field) {
  if (field == "chosen_win_rates") return "chosen_win_rate";
  if (field == "rejected_win_rates") return "rejected_win_rate";
  return field;
}

int run(const arguments& args) {
  // invalid_argument -> exit 2
  const auto losses = pl::make_loss_list<double>(args.loss, args.loss_weights, args.hp);
  pl::loss_traits traits{};  // what any term reads
  traits.uses_reference = false;
  for (const auto& l : losses) {
    const auto t = pl::traits_of(l.loss);
    traits.uses_reference = traits.uses_reference || t.uses_reference;
    traits.needs_tokens = traits.needs_tokens || t.needs_tokens;
    traits.needs_win_rates = traits.needs_win_rates || t.needs_win_rates;
    traits.has_nll = traits.has_nll || t.has_nll;
    if (t.batch != pl::coupling::none) traits.batch = t.batch;
  }
  const bool needs_kl = std::any_of(losses.begin(), losses.end(), [](const auto& l) {
    return pl::traits_of(l.loss).batch == pl::coupling::kl_baseline;
  });

  std::ifstream file;
  if (args.file != "-") file = prefopt::io::open_input_file(args.file);  // names a directory
  const loss_table::csv_table table = loss_table::read_csv(args.file == "-" ? std::cin : file);
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    bool known = false;
    for (auto k : known_columns) known = known || table.header[c] == k;
    if (!known)
      throw loss_table::csv_error(1, table.column_label(c), "unknown column name");
  }
  const std::size_t n = table.rows.size();
  if (n == 0) throw loss_table::csv_error(2, "1", "no data rows");

  std::map<std::string, std::vector<double>> columns;
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    auto& v = columns[table.header[c]];
    for (std::size_t r = 0; r < n; ++r) v.push_back(table.number(r, c));
  }
  const auto require_column = [&](const char* name, const std::string& why) {
    if (!columns.count(name))
      throw loss_table::csv_error(1, std::string("\"") + name + "\"", "missing column (" + why + ")");
  };
  require_column("chosen_logps", "every loss");
  require_column("rejected_logps", "every loss");
  const bool use_reference = traits.uses_reference && !args.reference_free;
  if (use_reference) {
    require_column("ref_chosen_logps", args.loss + " uses reference log-probs; or --reference-free");
    require_column("ref_rejected_logps", args.loss + " uses reference log-probs; or --reference-free");
  }
  if (traits.needs_tokens || (traits.has_nll && !columns.count("chosen_nll")))
    require_column("chosen_tokens", traits.needs_tokens ? args.loss + " uses per-token means"
                                                        : "the NLL is -chosen_logps / chosen_tokens");
  if (traits.needs_tokens) require_column("rejected_tokens", args.loss + " uses per-token means");
  if (traits.needs_win_rates) {
    require_column("chosen_win_rate", args.loss + " needs win rates");
    require_column("rejected_win_rate", args.loss + " needs win rates");
  }
  if (needs_kl) {
    require_column("kl_policy_logps", "kto's KL baseline");
    require_column("kl_ref_logps", "kto's KL baseline");
  }

  const auto span = [&](const char* name) -> std::span<const double> {
    auto it = columns.find(name);
    return it == columns.end() ? std::span<const double>{} : std::span<const double>(it->second);
  };
  pl::preference_batch<double> batch{span("chosen_logps"),      span("rejected_logps"),
                                     use_reference ? span("ref_chosen_logps") : std::span<const double>{},
                                     use_reference ? span("ref_rejected_logps") : std::span<const double>{},
                                     span("chosen_tokens"),     span("rejected_tokens"),
                                     span("chosen_win_rate"),   span("rejected_win_rate"),
                                     traits.has_nll ? span("chosen_nll") : std::span<const double>{},
                                     span("kl_policy_logps"),   span("kl_ref_logps")};
  pl::preference_loss_options<double> options;
  options.reduce = args.reduce;
  options.reference_free = args.reference_free;

  pl::preference_loss_result<backend> out;
  try {
    out = pl::preference_loss<backend>(losses, batch, options);
  } catch (const prefopt::invalid_argument& e) {
    // Library messages name "field[i] = value: ..."; point at the CSV cell instead.
    static const std::regex cell(R"(^([a-z_]+)\[([0-9]+)\]( - [a-z_]+)? = (.*)$)");
    std::smatch m;
    const std::string what = e.what();
    if (std::regex_match(what, m, cell)) {
      const std::size_t row = std::stoul(m[2]);
      throw loss_table::csv_error(row < n ? table.lines[row] : row + 2,
                                  prefopt::quote_text(column_of(m[1])), m[4]);
    }
    throw;
  }

  std::printf("loss,grad_chosen,grad_rejected\n");
  for (std::size_t i = 0; i < n; ++i)
    std::printf("%.17g,%.17g,%.17g\n", out.per_pair[static_cast<Eigen::Index>(i)],
                out.grad_chosen[static_cast<Eigen::Index>(i)],
                out.grad_rejected[static_cast<Eigen::Index>(i)]);
  std::fprintf(stderr, "loss (%s, %s) = %.17g\n", args.loss.c_str(),
               args.reduce == pl::reduction::mean ? "mean" : "sum", out.loss);
  const auto values = out.metrics.values();
  for (std::size_t k = 0; k < values.size(); ++k)
    std::fprintf(stderr, "%s = %.17g\n", std::string(out.metrics.names[k]).c_str(), values[k]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(loss_table_tool, [&] {
    const arguments args = parse_arguments(argc, argv);
    const std::string source = args.file == "-" ? "<stdin>" : args.file;  // as CSV errors name it
    try {
      return run(args);
    } catch (const loss_table::csv_error& e) {
      throw prefopt::invalid_argument(source + ": " + e.what());
    }
  });
}
