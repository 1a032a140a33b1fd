// nash — Nash equilibrium of a matrix game read from CSV.
//
//   nash FILE.csv [--kind preference|payoff] [--method lp|hedge|optimistic|extragradient|nash_md]
//                 [--iters N] [--eta E] [--lambda L] [--reference P1,P2,...] [--json OUT.json]
//                 [--trace-every K]
//
// FILE.csv: a square matrix, no header. kind=preference (default): P(i, j) = Pr(i beats j) with
// P + Pᵀ = 1, solved as the symmetric game P − ½ (value ½). kind=payoff: a zero-sum payoff A, row
// player maximises xᵀAy. Prints the strategy, the value and the exploitability; for the iterative
// methods the better of the last and the averaged iterate is reported; nash_md reports its last
// iterate, which converges to the equilibrium of the KL-regularised game towards the reference
// (both players' in a payoff game), and that game's exploitability.
// Exit status: 0 on success; 2 on bad usage or bad input, with one line on stderr naming the
// option, or the file, line and column (the cell quoted, escaped, at most 60 characters); 1 on
// any other failure.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/game/solve.hpp>
#include <prefopt/io/text_input.hpp>

#include "../common/cli.hpp"
#include "matrix_csv.hpp"

namespace {

using backend = prefopt::eigen::backend<double>;
namespace game = prefopt::game;
namespace ex = prefopt::examples;

constexpr const char* usage =
    "usage: nash FILE.csv [--kind preference|payoff]\n"
    "                     [--method lp|hedge|optimistic|extragradient|nash_md]\n"
    "                     [--iters N] [--eta E] [--lambda L] [--reference P1,P2,...]\n"
    "                     [--json OUT.json] [--trace-every K]\n"
    "  FILE.csv    square matrix, comma separated, no header\n"
    "  --kind      preference (default): P(i,j) = Pr(i beats j), P + P^T = 1, game P - 1/2\n"
    "              payoff: zero-sum payoff A, the row player maximises x^T A y\n"
    "  --method    lp (default, exact) | hedge (SPPO's MWU) | optimistic | extragradient |\n"
    "              nash_md (KL-regularised towards --reference, weight --lambda)\n"
    "  --iters N   iterations of the iterative methods (default 10000)\n"
    "  --eta E     step size of the iterative methods (default 0.5)\n"
    "  --lambda L  nash_md: KL weight lambda >= 0, eta * lambda <= 1 (default 0.1)\n"
    "  --reference P1,P2,...  nash_md: reference strategy, n probabilities summing to 1\n"
    "              (default uniform; a payoff game uses it for both players)\n"
    "  --json OUT  also write {strategy, value, exploitability, iterations, ...} to OUT\n"
    "  --trace-every K  iterative methods: add the exploitability of the last and the averaged\n"
    "              iterate every K iterations to the JSON (trace_iteration, trace_last,\n"
    "              trace_average)\n";

struct options {
  std::string file, kind = "preference", method = "lp", json;
  long long iters = 10000;
  long long trace_every = 0;
  double eta = 0.5;
  std::optional<double> lambda;          // nash_md only
  std::optional<std::vector<double>> reference;  // nash_md only
};



const ex::tool nash_tool{"nash", usage,
                         {.quote = '"', .usage_says_error = true, .usage_points_to_help = true,
                          .input_error = "error: invalid input: "}};

// nash reads option numbers as it reads matrix cells (std::from_chars, spaces around allowed), and
// counts may be written as 1e4.
double parse_double(std::string_view text, const std::string& what) {
  std::size_t b = text.find_first_not_of(" \t\r"), e = text.find_last_not_of(" \t\r");
  if (b == std::string_view::npos) throw ex::usage_error{what + " is empty"};
  text = text.substr(b, e - b + 1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size())
    throw ex::usage_error{what + " = " + prefopt::quote_text(text) + " is not a number"};
  return v;
}

long long parse_count(const std::string& v, const std::string& what, long long min) {
  const double d = parse_double(v, what);
  if (d < static_cast<double>(min) || d > 9e15 || d != static_cast<double>(static_cast<long long>(d)))
    throw ex::usage_error{what + " must be an integer >= " + std::to_string(min) + ", got " +
                          prefopt::quote_text(v)};
  return static_cast<long long>(d);
}

options parse_args(int argc, char** argv) {
  options o;
  for (ex::arguments a(nash_tool, argc, argv); a.next();) {
    if (a.is("--kind")) {
      o.kind = a.choice<std::string>({{"preference", "preference"}, {"payoff", "payoff"}});
    } else if (a.is("--method")) {
      o.method = a.choice<std::string>({{"lp", "lp"},
                                        {"hedge", "hedge"},
                                        {"optimistic", "optimistic"},
                                        {"extragradient", "extragradient"},
                                        {"nash_md", "nash_md"}});
    } else if (a.is("--lambda")) {
      o.lambda = parse_double(a.value(), "--lambda");
      if (!(*o.lambda >= 0) || !std::isfinite(*o.lambda))
        throw ex::usage_error{"--lambda must be finite and >= 0, got " + std::to_string(*o.lambda)};
    } else if (a.is("--reference")) {
      const std::string list = a.value();
      std::vector<double> mu;
      for (std::size_t at = 0;;) {  // comma-separated; the library checks the simplex and length
        const std::size_t comma = list.find(',', at);
        mu.push_back(parse_double(std::string_view(list).substr(at, comma - at), "--reference"));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
      o.reference = std::move(mu);
    } else if (a.is("--iters")) {
      o.iters = parse_count(a.value(), "--iters", 1);
    } else if (a.is("--trace-every")) {
      o.trace_every = parse_count(a.value(), "--trace-every", 1);
    } else if (a.is("--eta")) {
      o.eta = parse_double(a.value(), "--eta");
      if (!(o.eta > 0) || !std::isfinite(o.eta))
        throw ex::usage_error{"--eta must be finite and > 0, got " + std::to_string(o.eta)};
    } else if (a.is("--json")) {
      o.json = a.value();
    } else if (a.is_option()) {
      a.unknown();
    } else if (o.file.empty()) {
      o.file = a.current();
    } else {
      throw ex::usage_error{"more than one input file (" + o.file + ", " + a.current() + ")"};
    }
  }
  if (o.file.empty()) throw ex::usage_error{"missing FILE.csv"};
  if (o.method != "nash_md" && (o.lambda || o.reference))
    throw ex::usage_error{"--lambda and --reference apply to --method nash_md only"};
  return o;
}

struct report {
  std::vector<double> strategy, column;
  double value, exploitability;
  long long iterations;
  std::optional<double> regularised_exploitability;  // nash_md
  std::string iterate;  // "exact", "last" or "average"
  std::vector<long long> trace_iteration;
  std::vector<double> trace_last, trace_average;
};

template <class Policy>
report run_iterative(const Policy& policy, const game::matrix_game<double>& g) {
  const auto r = game::solve<backend>(policy, g);
  // nash_md's target is the regularised equilibrium, which its last iterate converges to.
  constexpr bool regularised = game::kl_regularised_rule<typename Policy::rule_type>;
  const bool last = regularised || r.last.exploitability <= r.average.exploitability;
  const auto& best = last ? r.last : r.average;
  return {backend::to_host(best.row_strategy),
          backend::to_host(best.col_strategy),
          best.value,
          best.exploitability,
          policy.iters,
          regularised ? std::optional<double>(best.regularised_exploitability) : std::nullopt,
          last ? "last" : "average",
          {r.trace_iteration.begin(), r.trace_iteration.end()},
          r.trace_last,
          r.trace_average};
}

template <class V>
void write_list(std::ostream& os, const std::vector<V>& v) {
  os << '[';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(nash_tool, [&] {
    const options o = parse_args(argc, argv);
    std::ifstream file = prefopt::io::open_input_file(o.file);
    const nash::square_matrix m = nash::read_square_csv(file, o.file);
    const long long n = m.n;
    const std::vector<double>& values = m.values;
    const game::matrix_game<double> g =
        o.kind == "preference"
            ? game::matrix_game<double>::from_preferences(
                  prefopt::prefmodel::preference_matrix<double>(n, values, 1e-9))
            : game::matrix_game<double>(n, n, values);
    report r;
    if (o.method == "lp") {
      const auto s = game::solve(game::lp{}, g);
      r = {s.row_strategy, s.col_strategy, s.value, s.exploitability, s.pivots, {}, "exact", {}, {}, {}};
    } else if (o.method == "hedge") {
      r = run_iterative(game::hedge{.eta = o.eta, .iters = o.iters, .trace_every = o.trace_every}, g);
    } else if (o.method == "optimistic") {
      r = run_iterative(game::optimistic_mwu{.eta = o.eta, .iters = o.iters, .trace_every = o.trace_every}, g);
    } else if (o.method == "extragradient") {
      r = run_iterative(game::extragradient{.eta = o.eta, .iters = o.iters, .trace_every = o.trace_every}, g);
    } else {
      game::nash_md policy{.eta = o.eta, .iters = o.iters, .trace_every = o.trace_every,
                           .rule = {.lambda = o.lambda.value_or(0.1)},
                           .reference = o.reference.value_or(std::vector<double>{})};
      if (!g.symmetric()) policy.col_reference = policy.reference;
      r = run_iterative(policy, g);
    }
    std::cout.precision(12);
    std::cout << "method: " << o.method << " (" << r.iterate << (r.iterate == "exact" ? "" : " iterate") << "), kind: " << o.kind
              << ", n = " << n << "\n";
    std::cout << "strategy:";
    for (double v : r.strategy) std::cout << ' ' << v;
    std::cout << '\n';
    if (o.kind == "payoff") {
      std::cout << "column strategy:";
      for (double v : r.column) std::cout << ' ' << v;
      std::cout << '\n';
    }
    std::cout << "value: " << r.value << "\nexploitability: " << r.exploitability << '\n';
    if (r.regularised_exploitability)
      std::cout << "regularised exploitability: " << *r.regularised_exploitability << '\n';
    std::cout << "iterations: " << r.iterations << '\n';
    if (!o.json.empty()) {
      std::ofstream js(o.json);
      prefopt::require(static_cast<bool>(js), "--json", o.json, "cannot write file");
      js.precision(17);
      js << "{\"strategy\": ";
      write_list(js, r.strategy);
      js << ", \"column_strategy\": ";
      write_list(js, r.column);
      js << ", \"value\": " << r.value << ", \"exploitability\": " << r.exploitability
         << ", \"iterations\": " << r.iterations << ", \"method\": \"" << o.method
         << "\", \"kind\": \"" << o.kind << "\", \"iterate\": \"" << r.iterate << '"';
      if (r.regularised_exploitability)
        js << ", \"regularised_exploitability\": " << *r.regularised_exploitability;
      if (!r.trace_iteration.empty()) {
        js << ", \"trace_iteration\": ";
        write_list(js, r.trace_iteration);
        js << ", \"trace_last\": ";
        write_list(js, r.trace_last);
        js << ", \"trace_average\": ";
        write_list(js, r.trace_average);
      }
      js << "}\n";
    }
    return 0;
  });
}
