// kl_table — exact divergences between pairs of categorical distributions given by logits.
//
//   kl_table FILE.csv [--beta B]
//   kl_table --seed S [--rows N] [--vocab V] [--scale X] [--beta B]
//
// FILE.csv: one position per line, 2V comma-separated logits: the policy's V, then the
// reference's V ("-inf" allowed; lines starting with '#' and empty lines are skipped). --seed
// generates N rows instead: policy logits scale * N(0, 1), reference = policy + N(0, 1).
// Prints CSV `row,forward,reverse,jsd` (KL(policy || ref), KL(ref || policy), TRL's generalized
// JSD with weight beta on the reference; 17 significant digits), then the mean over rows.
// Exit status: 0 on success; 2 on bad usage or bad input, with one line on stderr naming the
// option, or the file, line and column (cells quoted, escaped, at most 60 characters); 1 on any
// other failure.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/core/errors.hpp>
#include <prefopt/io/text_input.hpp>
#include <prefopt/kl/token_kl.hpp>

#include "../common/cli.hpp"

namespace {

using prefopt::examples::usage_error;

constexpr const char* usage =
    "usage: kl_table FILE.csv [--beta B]\n"
    "       kl_table --seed S [--rows N] [--vocab V] [--scale X] [--beta B]\n"
    "  FILE.csv   one position per line: V policy logits then V reference logits (-inf allowed)\n"
    "  --seed S   generate N seeded rows instead (policy scale*N(0,1), reference policy + N(0,1))\n"
    "  --rows N   rows to generate (default 4)\n"
    "  --vocab V  vocabulary size to generate (default 8)\n"
    "  --scale X  scale of the generated policy logits (default 2)\n"
    "  --beta B   jsd weight of the reference in [0, 1] (default 0.5; 0 = reverse, 1 = forward)\n"
    "Prints row,forward,reverse,jsd and the mean over rows.\n";
// "kl_table: error: MSG (see kl_table --help)" for bad usage (run_tool, examples/common/cli.hpp).
const prefopt::examples::tool kl_table_tool{"kl_table", usage, {.usage_says_error = true, .usage_points_to_help = true, .input_error = "error: invalid input: "}};

struct options {
  std::string file;
  bool seeded = false;
  std::uint64_t seed = 0;
  long long rows = 4, vocab = 8;
  double scale = 2.0, beta = 0.5;
};

double parse_double(std::string_view text, const std::string& what) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
    throw usage_error{what + ": " + prefopt::quote_text(text) + " is not a number"};
  return v;
}

long long parse_count(std::string_view text, const std::string& what, long long min, long long max) {
  long long v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max)
    throw usage_error{what + ": " + prefopt::quote_text(text) + " must be an integer in [" +
                      std::to_string(min) + ", " + std::to_string(max) + "]"};
  return v;
}

options parse_args(int argc, char** argv) {
  options o;
  for (prefopt::examples::arguments args(kl_table_tool, argc, argv); args.next();) {
    const std::string a = args.current();
    const auto value = [&] { return args.value(); };
    if (a == "--seed") {
      o.seeded = true;
      o.seed = static_cast<std::uint64_t>(parse_count(value(), "--seed", 0, 1LL << 62));
    } else if (a == "--rows") {
      o.rows = parse_count(value(), "--rows", 1, 1000000);
    } else if (a == "--vocab") {
      o.vocab = parse_count(value(), "--vocab", 1, 1 << 20);
    } else if (a == "--scale") {
      o.scale = parse_double(value(), "--scale");
      if (!std::isfinite(o.scale) || o.scale < 0) throw usage_error{"--scale must be finite and >= 0"};
    } else if (a == "--beta") {
      o.beta = parse_double(value(), "--beta");  // range checked by token_kl
    } else if (!a.empty() && a[0] == '-') {
      throw usage_error{"unknown option " + prefopt::quote_text(a)};
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      throw usage_error{"more than one input file"};
    }
  }
  if (o.file.empty() && !o.seeded) throw usage_error{"missing FILE.csv or --seed"};
  if (!o.file.empty() && o.seeded) throw usage_error{"give FILE.csv or --seed, not both"};
  return o;
}

struct table {
  long long rows = 0, vocab = 0;
  std::vector<double> policy, ref;  // [rows, vocab]
};

table read_table(std::istream& in, const std::string& name) {
  table t;
  std::string line;
  long long lineno = 0;
  const auto where = [&](long long column) {
    return name + ": line " + std::to_string(lineno) + (column > 0 ? ", column " + std::to_string(column) : "");
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<double> cells;
    std::size_t start = 0;
    for (long long column = 1;; ++column) {
      const std::size_t comma = line.find(',', start);
      std::string_view cell(line.data() + start, (comma == std::string::npos ? line.size() : comma) - start);
      while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
      while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
      double v = 0;
      const auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
      if (cell.empty() || ec != std::errc() || ptr != cell.data() + cell.size())
        throw prefopt::invalid_argument(where(column) + ": " + prefopt::quote_text(cell) + " is not a number");
      cells.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const auto n = static_cast<long long>(cells.size());
    if (n % 2 != 0)
      throw prefopt::invalid_argument(where(0) + ": expected 2V cells (V policy then V reference logits), found " +
                                      std::to_string(n));
    if (t.rows == 0) t.vocab = n / 2;
    if (n / 2 != t.vocab)
      throw prefopt::invalid_argument(where(0) + ": expected " + std::to_string(2 * t.vocab) +
                                      " cells like the first row, found " + std::to_string(n));
    t.policy.insert(t.policy.end(), cells.begin(), cells.begin() + n / 2);
    t.ref.insert(t.ref.end(), cells.begin() + n / 2, cells.end());
    ++t.rows;
  }
  if (t.rows == 0) throw prefopt::invalid_argument(name + ": no rows (one position per line)");
  return t;
}

table generate(const options& o) {
  std::mt19937_64 gen(o.seed);
  const auto normal = [&] {  // Box-Muller on 53-bit uniforms
    const double u1 = 1.0 - static_cast<double>(gen() >> 11) * 0x1.0p-53;
    const double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  table t{o.rows, o.vocab, {}, {}};
  for (long long i = 0; i < o.rows * o.vocab; ++i) {
    t.policy.push_back(o.scale * normal());
    t.ref.push_back(t.policy.back() + normal());
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  return prefopt::examples::run_tool(kl_table_tool, [&] {
    const options o = parse_args(argc, argv);
    table t;
    if (o.seeded) {
      t = generate(o);
    } else {
      std::ifstream file = prefopt::io::open_input_file(o.file);
      t = read_table(file, o.file);
    }
    // The rows as one sequence of predicted positions, every position counted.
    const std::vector<std::int64_t> labels(static_cast<std::size_t>(t.rows), 0);
    const auto pv = prefopt::logits_view<const double>::contiguous(t.policy.data(), 1, t.rows, t.vocab);
    const auto rv = prefopt::logits_view<const double>::contiguous(t.ref.data(), 1, t.rows, t.vocab);
    const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), 1, t.rows);
    std::vector<prefopt::kl::token_kl_result<double>> res;
    for (auto d : {prefopt::kl::divergence::forward, prefopt::kl::divergence::reverse,
                   prefopt::kl::divergence::jsd}) {
      prefopt::kl::token_kl_options opt;
      opt.layout.shift_labels = false;
      opt.direction = d;
      opt.beta = o.beta;
      res.push_back(prefopt::kl::token_kl(pv, rv, lv, opt));
    }
    std::printf("row,forward,reverse,jsd\n");
    for (long long r = 0; r < t.rows; ++r)
      std::printf("%lld,%.17g,%.17g,%.17g\n", r, res[0].token[r], res[1].token[r], res[2].token[r]);
    std::printf("mean,%.17g,%.17g,%.17g\n", res[0].mean[0], res[1].mean[0], res[2].mean[0]);
    return 0;
  });
}
