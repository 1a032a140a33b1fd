// sppo_selfplay — self-play preference optimisation on a preference game, end to end: a policy
// that learns through the library's losses and gradients, an oracle, and the game metrics.
//
//   sppo_selfplay [--env rps|transitive|random|matrix] [--matrix P.csv] [--n N] [--seed S]
//                 [--methods sppo,sppo_single,dpo,ipo] [--iterations T] [--samples K] [--beta B]
//                 [--policy tabular|loglinear] [--out DIR] [more: see --help]
//
// Prints a compact table (exploitability of the last and the averaged iterate per method every
// --print-every iterations, then a summary), and writes DIR/history.csv, DIR/policy_<method>.csv,
// DIR/policy_<method>_average.csv and DIR/exploitability.svg. Same seed, same files.
// Exit status: 0 on success; 2 on bad usage or bad input with ONE line on stderr naming the
// option, or the file and line; 1 on any other failure.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/io/text_input.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>
#include <prefopt/prefmodel/gpm.hpp>
#include <prefopt/selfplay/environments.hpp>
#include <prefopt/selfplay/loglinear_policy.hpp>
#include <prefopt/selfplay/oracles.hpp>
#include <prefopt/selfplay/tabular_policy.hpp>
#include <prefopt/selfplay/trainer.hpp>

#include "matrix_csv.hpp"  // examples/nash: the same CSV reader as the nash tool
#include "../common/cli.hpp"
#include "../common/svg_plot.hpp"

namespace {

namespace sp = prefopt::selfplay;
using backend = prefopt::eigen::backend<double>;

using prefopt::examples::usage_error;

constexpr const char* usage =
    "usage: sppo_selfplay [--env rps|transitive|random|matrix] [--matrix P.csv] [--n N] [--seed S]\n"
    "                     [--methods sppo,sppo_single,dpo,ipo] [--iterations T] [--samples K]\n"
    "                     [--beta B] [--policy tabular|loglinear] [--out DIR] [options below]\n"
    "Self-play on one prompt whose responses 0..n-1 play a preference game P (P(i,j) = Pr(i beats j)).\n"
    "  --env E          random (default): P(i,j) uniform in [0,1] above the diagonal, seeded by --seed\n"
    "                   rps: rock-paper-scissors (n = 3, Nash = uniform)\n"
    "                   transitive: Bradley-Terry, P(i,j) = sigmoid(4 (i - j) / (n - 1)) (best: n-1)\n"
    "                   matrix: P read from --matrix (the CSV of the nash tool)\n"
    "  --matrix FILE    square CSV, no header, P + P^T = 1 (implies --env matrix)\n"
    "  --n N            responses of the random and transitive games (default 7)\n"
    "  --seed S         seed of the random game, the sampling and the policy features (default 1)\n"
    "  --methods LIST   comma-separated, from sppo, sppo_single, dpo, ipo, mwu (exact MWU update,\n"
    "                   tabular only) (default sppo,sppo_single,dpo,ipo)\n"
    "  --iterations T   self-play iterations (default 100)\n"
    "  --samples K      responses sampled per set, as SPPO's K (default 5)\n"
    "  --groups G       sets of K samples per iteration; every method draws the same G*K (default 32)\n"
    "  --beta B         loss temperature, SPPO's eta = 1/B (default 0.7; see docs/self-play.md)\n"
    "  --steps S        optimiser steps per iteration, on the loss against the frozen pi_t (default 50)\n"
    "  --optimizer O    sgd (default) | adam\n"
    "  --lr L           learning rate (default 0.5)\n"
    "  --policy P       tabular (default): one logit per response; loglinear: pi(y) ~ exp(w^T phi(y))\n"
    "                   with --features D seeded random features per response (default n)\n"
    "  --features D     loglinear feature dimension (default n)\n"
    "  --init-spread A  initial policy: logits (tabular) or weights (loglinear) uniform in [-A, A]\n"
    "                   from the seed, like a fine-tuned model with favourites (default 1; 0 = uniform)\n"
    "  --oracle O       who labels the samples (default matrix: P itself). pairrm: a PairRM-like\n"
    "                   comparator C(y,y') = logit P(y,y') + seeded order bias (not antisymmetric),\n"
    "                   scored per sampled set as llm_blender; bradley-terry / gpm: the Bradley-Terry\n"
    "                   fit / General Preference Model fit (2 blocks) of P. Metrics use the oracle's\n"
    "                   own preference matrix\n"
    "  --exact-win-rates  sppo: targets from the exact P(y > pi_t) instead of the K-sample means\n"
    "  --print-every E  table row every E iterations (default 10; the last is always printed)\n"
    "  --out DIR        output directory (default sppo_selfplay_out), created if missing:\n"
    "                   history.csv, policy_<method>.csv, policy_<method>_average.csv,\n"
    "                   exploitability.svg\n"
    "A progress bar is drawn on stderr when stderr is a terminal.\n";
// "sppo_selfplay: error: MSG (see sppo_selfplay --help)" for bad usage (run_tool, examples/common/cli.hpp).
const prefopt::examples::tool sppo_selfplay_tool{"sppo_selfplay", usage, {.usage_says_error = true, .usage_points_to_help = true}};

struct options {
  std::string env = "random", oracle = "matrix", matrix, out = "sppo_selfplay_out", policy = "tabular", optimizer = "sgd";
  long long n = 7, iterations = 100, samples = 5, groups = 32, steps = 50, print_every = 10,
            features = 0;
  unsigned long long seed = 1;
  double beta = 0.7, lr = 0.5, init_spread = 1.0;
  bool exact_win_rates = false, n_given = false;
  std::vector<sp::method> methods{sp::method::sppo, sp::method::sppo_single, sp::method::dpo,
                                  sp::method::ipo};
};

double parse_double(const std::string& text, const std::string& what) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
    throw usage_error{what + " = " + prefopt::quote_text(text) + " is not a finite number"};
  return v;
}

long long parse_count(const std::string& text, const std::string& what, long long min, long long max) {
  long long v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max)
    throw usage_error{what + " must be an integer in [" + std::to_string(min) + ", " +
                      std::to_string(max) + "], got " + prefopt::quote_text(text)};
  return v;
}

/// The plain integer options: each sets one field to an integer in [min, max].
struct count_option {
  std::string_view flag;
  long long options::*field;
  long long min, max;
};
constexpr count_option count_options[] = {
    {"--iterations", &options::iterations, 1, 1000000}, {"--samples", &options::samples, 2, 10000},
    {"--groups", &options::groups, 1, 1000000},         {"--steps", &options::steps, 1, 1000000},
    {"--print-every", &options::print_every, 1, 1000000}, {"--features", &options::features, 1, 10000},
};
const count_option* find_count_option(std::string_view flag) {
  for (const count_option& c : count_options)
    if (c.flag == flag) return &c;
  return nullptr;
}

options parse_args(int argc, char** argv) {
  options o;
  for (prefopt::examples::arguments args(sppo_selfplay_tool, argc, argv); args.next();) {
    const std::string a = args.current();
    const auto value = [&] { return args.value(); };
    if (a == "--env") {
      o.env = value();
      if (o.env != "rps" && o.env != "transitive" && o.env != "random" && o.env != "matrix")
        throw usage_error{"--env must be rps, transitive, random or matrix, got " + prefopt::quote_text(o.env)};
    } else if (a == "--matrix") {
      o.matrix = value();
      o.env = "matrix";
    } else if (a == "--n") {
      o.n = parse_count(value(), "--n", 2, 1000);
      o.n_given = true;
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned long long>(parse_count(value(), "--seed", 0, 1LL << 62));
    } else if (a == "--methods") {
      o.methods.clear();
      const std::string list = value();
      std::size_t start = 0;
      for (;;) {
        const std::size_t comma = list.find(',', start);
        const std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        sp::method m{};
        try {
          m = sp::parse_method(name);
        } catch (const prefopt::invalid_argument&) {
          throw usage_error{"--methods: unknown method " + prefopt::quote_text(name) +
                            " (sppo, sppo_single, dpo, ipo, mwu)"};
        }
        for (sp::method seen : o.methods)
          if (seen == m) throw usage_error{"--methods lists " + name + " twice"};
        o.methods.push_back(m);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (const count_option* c = find_count_option(a)) {
      o.*(c->field) = parse_count(value(), a, c->min, c->max);
    } else if (a == "--beta") {
      o.beta = parse_double(value(), "--beta");
      if (!(o.beta > 0)) throw usage_error{"--beta must be > 0, got " + std::to_string(o.beta)};
    } else if (a == "--lr") {
      o.lr = parse_double(value(), "--lr");
      if (!(o.lr > 0)) throw usage_error{"--lr must be > 0, got " + std::to_string(o.lr)};
    } else if (a == "--optimizer") {
      o.optimizer = value();
      if (o.optimizer != "adam" && o.optimizer != "sgd")
        throw usage_error{"--optimizer must be adam or sgd, got " + prefopt::quote_text(o.optimizer)};
    } else if (a == "--policy") {
      o.policy = value();
      if (o.policy != "tabular" && o.policy != "loglinear")
        throw usage_error{"--policy must be tabular or loglinear, got " + prefopt::quote_text(o.policy)};
    } else if (a == "--init-spread") {
      o.init_spread = parse_double(value(), "--init-spread");
      if (o.init_spread < 0) throw usage_error{"--init-spread must be >= 0, got " + std::to_string(o.init_spread)};
    } else if (a == "--oracle") {
      o.oracle = value();
      if (o.oracle != "matrix" && o.oracle != "pairrm" && o.oracle != "bradley-terry" && o.oracle != "gpm")
        throw usage_error{"--oracle must be matrix, pairrm, bradley-terry or gpm, got " + prefopt::quote_text(o.oracle)};
    } else if (a == "--exact-win-rates") {
      o.exact_win_rates = true;
    } else if (a == "--out") {
      o.out = value();
    } else {
      throw usage_error{"unknown option " + prefopt::quote_text(a)};
    }
  }
  if (o.env == "matrix" && o.matrix.empty()) throw usage_error{"--env matrix needs --matrix FILE"};
  if (o.env == "rps" && o.n_given && o.n != 3) throw usage_error{"--env rps has n = 3, got --n " + std::to_string(o.n)};
  if (o.policy == "loglinear")
    for (sp::method m : o.methods)
      if (m == sp::method::mwu) throw usage_error{"--methods mwu needs --policy tabular"};
  return o;
}

prefopt::prefmodel::preference_matrix<double> make_game(const options& o) {
  if (o.env == "rps") return sp::rock_paper_scissors();
  if (o.env == "transitive") return sp::transitive_game(o.n);
  if (o.env == "random") return sp::random_game(o.n, o.seed);
  std::ifstream file = prefopt::io::open_input_file(o.matrix);
  const nash::square_matrix m = nash::read_square_csv(file, o.matrix);
  if (m.n < 2) throw prefopt::invalid_argument(o.matrix + ": the game needs at least 2 responses");
  try {
    return prefopt::prefmodel::preference_matrix<double>(m.n, m.values, 1e-9);
  } catch (const prefopt::invalid_argument& e) {
    throw prefopt::invalid_argument(o.matrix + ": " + e.what());
  }
}

/// Redraws "[#####.....] method 37/100" on a terminal's stderr.
struct progress_bar {
  bool enabled = isatty(2) != 0;
  void draw(const std::string& label, long long done, long long total) const {
    if (!enabled) return;
    const int width = 30, filled = static_cast<int>(width * done / std::max(1LL, total));
    std::fprintf(stderr, "\r[%s%s] %-12s %lld/%lld", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), label.c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\r%*s\r", width + 40, "");
    std::fflush(stderr);
  }
};

std::string fmt(double v, const char* f = "%.4g") {
  char b[40];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

/// A PairRM-like comparator from P: C(y, y') = logit P(y, y') (P clipped to [1e-6, 1 − 1e-6]) plus
/// a seeded order bias in [−0.25, 0.25) that differs between (y, y') and (y', y), so C is not
/// antisymmetric and only the set aggregation of llm_blender turns it into probabilities.
sp::pairrm_oracle pairrm_like(const prefopt::prefmodel::preference_matrix<double>& p, std::uint64_t seed) {
  const prefopt::index_t n = p.size();
  std::mt19937_64 rng(seed + 0x51ed270b);
  std::vector<double> c(static_cast<std::size_t>(n * n), 0.0);
  for (prefopt::index_t i = 0; i < n; ++i)
    for (prefopt::index_t j = 0; j < n; ++j) {
      const double q = std::min(std::max(p(i, j), 1e-6), 1.0 - 1e-6);
      c[i * n + j] = std::log(q / (1.0 - q)) + 0.5 * (sp::uniform01(rng) - 0.5);
    }
  return sp::pairrm_oracle::from_logit_matrices({c});
}

void write_policy(const std::filesystem::path& path, const std::vector<double>& p) {
  std::ofstream f(path, std::ios::binary);
  prefopt::require(static_cast<bool>(f), "--out", path.string(), "cannot write file");
  f << "response,probability\n";
  for (std::size_t y = 0; y < p.size(); ++y) f << y << ',' << fmt(p[y], "%.17g") << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  return prefopt::examples::run_tool(sppo_selfplay_tool, [&] {
    const options o = parse_args(argc, argv);
    const auto game = make_game(o);
    const prefopt::index_t n = game.size();
    // The output directory first: a bad --out fails before any work or output.
    const std::filesystem::path dir(o.out);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    prefopt::require(!ec && std::filesystem::is_directory(dir), "--out", o.out,
                     "cannot create the output directory");
    const progress_bar bar;
    std::vector<sp::trainer_result> results;
    auto run_all = [&](const auto& oracle) {
      for (sp::method m : o.methods) {
        sp::trainer_options t;
        t.algorithm = m;
        t.iterations = o.iterations;
        t.samples = o.samples;
        t.groups = o.groups;
        t.beta = o.beta;
        t.optimizer_steps = o.steps;
        t.exact_win_rates = o.exact_win_rates && m == sp::method::sppo;
        t.seed = o.seed;
        const sp::optimizer_options opt{.kind = o.optimizer == "sgd" ? sp::optimizer_kind::sgd
                                                                     : sp::optimizer_kind::adam,
                                        .learning_rate = o.lr};
        const std::string label(sp::method_name(m));
        auto progress = [&](const sp::iteration_metrics& it) { bar.draw(label, it.iteration, o.iterations); };
        if (o.policy == "tabular") {
          sp::tabular_policy policy({n}, opt);
          policy.set_logits(0, sp::random_initial_parameters(n, o.init_spread, o.seed));
          results.push_back(sp::train<backend>(policy, oracle, 1, t, progress));
        } else {
          const auto d = o.features > 0 ? o.features : n;
          auto policy = sp::loglinear_policy::random_features({n}, d, o.seed, opt);
          policy.set_weights(sp::random_initial_parameters(d, o.init_spread, o.seed));
          results.push_back(sp::train<backend>(policy, oracle, 1, t, progress));
        }
      }
    };
    if (o.oracle == "matrix") {
      run_all(sp::matrix_oracle(game));
    } else if (o.oracle == "pairrm") {
      run_all(pairrm_like(game, o.seed));
    } else {
      // P as expected outcomes of 100 comparisons per pair, fitted by the library's models.
      prefopt::prefmodel::comparison_data<double> data(n);
      for (prefopt::index_t i = 0; i < n; ++i)
        for (prefopt::index_t j = i + 1; j < n; ++j) {
          data.add(i, j, prefopt::prefmodel::outcome::model_a_wins, 100 * game(i, j));
          data.add(i, j, prefopt::prefmodel::outcome::model_b_wins, 100 * game(j, i));
        }
      if (o.oracle == "bradley-terry") {
        run_all(sp::bradley_terry_oracle({prefopt::prefmodel::fit_bradley_terry(data).theta}));
      } else {
        prefopt::prefmodel::gpm_options<double> g;
        g.blocks = 2;
        run_all(sp::gpm_oracle({prefopt::prefmodel::fit_gpm(data, g).model}));
      }
    }

    // The table: exploitability of the last / averaged iterate per method.
    std::cout << "sppo_selfplay: env " << o.env << ", n = " << n << ", oracle " << o.oracle << ", policy " << o.policy
              << ", beta = " << o.beta << " (eta = " << 1 / o.beta << "), K = " << o.samples
              << ", " << o.groups << " sets/iteration, " << o.steps << " " << o.optimizer
              << " steps (lr " << o.lr << "), seed " << o.seed << "\n";
    std::cout << "exploitability of the last iterate / of the average of the iterates\n";
    std::ostringstream head;
    head << "  iter";
    for (sp::method m : o.methods) {
      const std::string name(sp::method_name(m));
      head << " | " << std::string(std::max<std::size_t>(0, 19 > name.size() ? 19 - name.size() : 0), ' ') << name;
    }
    std::cout << head.str() << '\n';
    for (long long t = 0; t <= o.iterations; ++t) {
      if (t % o.print_every != 0 && t != o.iterations) continue;
      char b[32];
      std::snprintf(b, sizeof b, "%6lld", t);
      std::cout << b;
      for (const auto& r : results) {
        const auto& h = r.history[static_cast<std::size_t>(t)];
        char c[40];
        std::snprintf(c, sizeof c, " | %9.4f / %7.4f", h.exploitability, h.exploitability_average);
        std::cout << c;
      }
      std::cout << '\n';
    }
    std::cout << "final: method, exploitability (last / average), win rate vs initial, vs previous, "
                 "KL to initial\n";
    for (std::size_t k = 0; k < results.size(); ++k) {
      const auto& h = results[k].history.back();
      char c[160];
      std::snprintf(c, sizeof c, "  %-12s %.4f / %.4f   %.4f   %.4f   %.4f\n",
                    std::string(sp::method_name(o.methods[k])).c_str(), h.exploitability,
                    h.exploitability_average, h.win_rate_vs_initial, h.win_rate_vs_previous,
                    h.kl_to_initial);
      std::cout << c;
    }

    // Files.
    {
      std::ofstream f(dir / "history.csv", std::ios::binary);
      prefopt::require(static_cast<bool>(f), "--out", (dir / "history.csv").string(), "cannot write file");
      f << "method,iteration,exploitability,exploitability_average,win_rate_vs_initial,"
           "win_rate_vs_previous,kl_to_initial\n";
      for (std::size_t k = 0; k < results.size(); ++k)
        for (const auto& h : results[k].history)
          f << sp::method_name(o.methods[k]) << ',' << h.iteration << ',' << fmt(h.exploitability, "%.17g")
            << ',' << fmt(h.exploitability_average, "%.17g") << ',' << fmt(h.win_rate_vs_initial, "%.17g")
            << ',' << fmt(h.win_rate_vs_previous, "%.17g") << ',' << fmt(h.kl_to_initial, "%.17g") << '\n';
    }
    std::vector<prefopt::examples::series> plot;
    for (std::size_t k = 0; k < results.size(); ++k) {
      const std::string name(sp::method_name(o.methods[k]));
      write_policy(dir / ("policy_" + name + ".csv"), results[k].final_policy[0]);
      write_policy(dir / ("policy_" + name + "_average.csv"), results[k].average_policy[0]);
      prefopt::examples::series s{name, {}, {}, {}};
      for (const auto& h : results[k].history) {
        s.x.push_back(static_cast<double>(h.iteration));
        s.solid.push_back(h.exploitability_average);
        s.dotted.push_back(h.exploitability);
      }
      plot.push_back(std::move(s));
    }
    {
      std::ofstream f(dir / "exploitability.svg", std::ios::binary);
      prefopt::require(static_cast<bool>(f), "--out", (dir / "exploitability.svg").string(), "cannot write file");
      prefopt::examples::write_line_plot(f, plot, "Self-play on " + o.env + " (n = " + std::to_string(n) + ")",
                                    "iteration", "exploitability (log scale)", "average of iterates",
                                    "last iterate");
    }
    std::cout << "wrote " << (dir / "history.csv").string() << ", " << (dir / "exploitability.svg").string()
              << " and policy_<method>[_average].csv\n";
    return 0;
  });
}
