// arena_ratings: Chatbot-Arena-style Bradley-Terry leaderboard from a battle log.
//
//   arena_ratings battles.csv --bootstrap 100 --seed 1 --json out.json --svg out.svg
//
// The rating is the maximum-likelihood Bradley-Terry estimate on the full data (as the Arena
// leaderboard reports it, FastChat compute_elo_mle_with_tie), on the Elo scale; the confidence
// interval and rank come from a multinomial bootstrap of the battles. See docs/preference-models.md.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/io/text_input.hpp>
#include <prefopt/prefmodel/battle_counts.hpp>
#include <prefopt/prefmodel/battle_io.hpp>
#include <prefopt/prefmodel/bootstrap.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>
#include <prefopt/prefmodel/rating_scale.hpp>

#include "../common/cli.hpp"
#include "report.hpp"

namespace pm = prefopt::prefmodel;
namespace ex = prefopt::examples;
using prefopt::index_t;

namespace {

constexpr const char* usage = R"(usage: arena_ratings [options] BATTLES

Bradley-Terry (Chatbot Arena) ratings from pairwise battles.

BATTLES is a CSV file with a header naming the columns model_a, model_b, winner and optionally
weight, or a JSONL file (.jsonl/.ndjson, one flat JSON object per line with the same keys).
winner is one of: model_a, model_b, tie, tie (bothbad).

options:
  --bootstrap N        bootstrap rounds for the confidence intervals (default 100; 0 = normal
                       approximation from the observed information, +-z * standard error)
  --seed S             bootstrap seed (default 0); results depend only on data and seed
  --ci LEVEL           confidence level (default 0.95)
  --ties half|davidson tie model: half a win each (Arena, default) or Davidson (1970)
  --prior SIGMA        Gaussian prior on ratings with standard deviation SIGMA rating points
                       (default: none, pure maximum likelihood)
  --anchor MODEL=R     pin MODEL to rating R (e.g. mixtral-8x7b-instruct-v0.1=1114, as the Arena)
  --scale S            rating points per factor BASE in odds (default 400)
  --base B             (default 10)
  --init R             mean rating when no anchor is given (default 1000)
  --json OUT.json      write the leaderboard as JSON
  --svg OUT.svg        write a chart of ratings with confidence bars
  --format csv|jsonl   input format (default: by file extension)
  --skip-bad-rows      skip malformed rows (reported on stderr) instead of failing
  --threads N          fit and bootstrap threads (default: all cores; results do not depend on it)
  --solver auto|dense|sparse
                       Newton linear algebra: dense Cholesky, or conjugate gradients on the sparse
                       comparison graph for 10^4-10^6 models (auto: sparse from 200 models on,
                       half-win ties only)
  --exact-se-max N     exact standard errors (for --bootstrap 0) up to N models (default 1000,
                       O(N^3)); beyond, the sparse path's approximation
  --exact-se MODELS    comma-separated models whose standard errors are exact in any case (one
                       conjugate-gradient solve each)
  --resample multinomial|poisson
                       bootstrap resampling: battles with replacement (Arena, default) or one
                       Poisson(1) weight per battle (one draw per pair and outcome: cheap at 10^7)
  --top K              print only the K best rows of the table (JSON and SVG keep all)
  --timing             report read and fit times on stderr
  --quiet              no progress on stderr
  -h, --help           this help

exit status: 0 on success, 2 on bad arguments, unreadable or malformed input, or data whose
ratings are not estimable (the message names the items; --prior makes any data estimable).
)";

struct cli_options {
  std::string input, json_out, svg_out, format, anchor_model;
  std::vector<std::string> exact_se_models;
  pm::bootstrap_resampling resampling = pm::bootstrap_resampling::multinomial;
  index_t bootstrap = 100;
  std::uint64_t seed = 0;
  double ci = 0.95, prior = 0, scale = 400, base = 10, init = 1000, anchor_rating = 0;
  pm::tie_model ties = pm::tie_model::half_win;
  bool skip_bad_rows = false, quiet = false, has_anchor = false, timing = false;
  int threads = 0;
  pm::bt_method method = pm::bt_method::automatic;
  index_t top = -1, exact_se_max = 1000;
};

const ex::tool arena_ratings{"arena_ratings", usage};

cli_options parse_args(int argc, char** argv) {
  cli_options o;
  for (ex::arguments a(arena_ratings, argc, argv); a.next();) {
    if (a.take("--seed", o.seed, 0) || a.take("--scale", o.scale) || a.take("--base", o.base) ||
        a.take("--init", o.init) || a.take("--json", o.json_out) || a.take("--svg", o.svg_out) ||
        a.take("--skip-bad-rows", o.skip_bad_rows) || a.take("--threads", o.threads, 0) ||
        a.take("--exact-se-max", o.exact_se_max, 0) || a.take("--top", o.top, 1) || a.take("--timing", o.timing) ||
        a.take("--quiet", o.quiet))
      continue;
    if (a.take("--bootstrap", o.bootstrap, 0)) {
      if (o.bootstrap == 1) throw ex::usage_error{"--bootstrap needs 0 or at least 2 rounds"};
    } else if (a.take("--ci", o.ci)) {
      if (!(o.ci > 0 && o.ci < 1)) throw ex::usage_error{"--ci must lie in (0, 1)"};
    } else if (a.is("--ties")) {
      o.ties = a.choice<pm::tie_model>({{"half", pm::tie_model::half_win}, {"davidson", pm::tie_model::davidson}});
    } else if (a.take("--prior", o.prior)) {
      if (!(o.prior > 0)) throw ex::usage_error{"--prior SIGMA must be > 0"};
    } else if (a.is("--anchor")) {
      const std::string v = a.value();
      const auto eq = v.rfind('=');
      if (eq == std::string::npos || eq == 0) throw ex::usage_error{"--anchor expects MODEL=RATING, got " + a.quoted(v)};
      o.anchor_model = v.substr(0, eq);
      o.anchor_rating = a.number("--anchor", v.substr(eq + 1));
      o.has_anchor = true;
    } else if (a.take("--format", o.format)) {
      if (o.format != "csv" && o.format != "jsonl") throw ex::usage_error{"--format must be csv or jsonl"};
    } else if (a.is("--solver")) {
      o.method = a.choice<pm::bt_method>(
          {{"auto", pm::bt_method::automatic}, {"dense", pm::bt_method::dense}, {"sparse", pm::bt_method::sparse}});
    } else if (a.is("--exact-se")) {
      std::stringstream list(a.value());
      for (std::string m; std::getline(list, m, ',');)
        if (!m.empty()) o.exact_se_models.push_back(m);
      if (o.exact_se_models.empty()) throw ex::usage_error{"--exact-se expects MODEL[,MODEL...]"};
    } else if (a.is("--resample")) {
      o.resampling = a.choice<pm::bootstrap_resampling>(
          {{"multinomial", pm::bootstrap_resampling::multinomial}, {"poisson", pm::bootstrap_resampling::poisson}});
    } else if (a.is_option()) {
      a.unknown();
    } else {
      a.positional(o.input, "more than one input file given");
    }
  }
  if (o.input.empty()) throw ex::usage_error{"no battle file given (see --help)"};
  return o;
}

// Streams the log straight into per-pair counts (battle_counts.hpp): no battle list is kept.
pm::battle_counts<double> read_input(const cli_options& o) {
  pm::battle_read_options ro;
  ro.skip_bad_rows = o.skip_bad_rows;
  if (o.format.empty()) return pm::read_battle_counts<double>(o.input, ro);
  std::ifstream in = prefopt::io::open_input_file(o.input);  // names a directory
  return o.format == "jsonl" ? pm::read_battle_counts_jsonl<double>(in, ro, o.input)
                             : pm::read_battle_counts_csv<double>(in, ro, o.input);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(const cli_options& o) {
  const auto t_read = std::chrono::steady_clock::now();
  auto log = read_input(o);
  if (log.bad_rows > 0) {
    std::cerr << "arena_ratings: skipped " << log.bad_rows << " bad row(s):\n";
    for (const auto& p : log.problems) std::cerr << "  " << p << "\n";
    if (log.bad_rows > static_cast<index_t>(log.problems.size())) std::cerr << "  ...\n";
  }
  if (log.rows == 0) throw prefopt::invalid_argument(o.input + ": no battles");
  const auto data = std::move(log.data);
  if (o.timing)
    std::cerr << "arena_ratings: read " << log.rows << " battles (" << data.num_items() << " models, "
              << data.pairs().size() << " compared pairs) in " << seconds_since(t_read) << " s\n";

  pm::elo_scale<double> scale;
  scale.scale = o.scale;
  scale.base = o.base;
  scale.init = o.init;
  scale.validate();
  if (o.has_anchor) {
    const auto id = data.find(o.anchor_model);
    if (!id)
      throw prefopt::invalid_argument("--anchor: model " + prefopt::quote_text(o.anchor_model, '\'') +
                                      " does not occur in the battles");
    scale.anchor = pm::rating_anchor<double>{*id, o.anchor_rating};
  }

  pm::bt_options<double> fit_opt;
  fit_opt.ties = o.ties;
  fit_opt.prior_sigma = o.prior / scale.points_per_theta();
  fit_opt.method = o.method;
  fit_opt.threads = o.threads;
  fit_opt.exact_std_error_max_items = o.exact_se_max;
  std::vector<index_t> exact_ids;
  for (const auto& m : o.exact_se_models) {
    const auto id = data.find(m);
    if (!id) throw prefopt::invalid_argument("--exact-se: model '" + m + "' does not occur in the battles");
    exact_ids.push_back(*id);
  }
  if (o.bootstrap < 2) fit_opt.std_error_items = exact_ids;
  // Fitted and bootstrapped with sum-to-zero strengths; the anchor fixes one affine map from
  // strengths to ratings for the estimate and all interval ends alike. (FastChat re-anchors every
  // bootstrap round instead, which collapses the anchor model's interval to a point.)
  const auto t_fit = std::chrono::steady_clock::now();
  const auto fit = pm::fit_bradley_terry(data, fit_opt);
  if (!fit.converged) std::cerr << "arena_ratings: warning: the fit did not converge\n";
  if (o.timing)
    std::cerr << "arena_ratings: fit in " << seconds_since(t_fit) << " s ("
              << (fit.method_used == pm::bt_method::sparse ? "sparse" : "dense") << ", "
              << fit.iterations << " Newton iterations, " << fit.cg_iterations << " CG iterations)\n";

  const index_t n = data.num_items();
  leaderboard board;
  board.title = "Bradley-Terry ratings (" + std::to_string(data.total_battles()) + " battles, " +
                std::to_string(n) + " models)";
  const auto rating = scale.ratings(fit.theta);
  const double offset = rating[0] - scale.points_per_theta() * fit.theta[0];
  auto to_rating = [&](double theta) { return offset + scale.points_per_theta() * theta; };
  std::vector<double> lo(static_cast<std::size_t>(n)), hi(lo.size());
  std::vector<index_t> rank(lo.size(), 1);
  if (o.bootstrap >= 2) {
    pm::bootstrap_options<double> bo;
    bo.rounds = o.bootstrap;
    bo.seed = o.seed;
    bo.confidence = o.ci;
    bo.threads = o.threads;
    bo.fit = fit_opt;
    bo.resampling = o.resampling;
    index_t shown = -1;
    if (!o.quiet)
      bo.progress = [&](index_t done, index_t total) {
        const index_t pct = 100 * done / total;
        if (pct / 10 != shown / 10 || done == total) {
          shown = pct;
          std::cerr << "\rbootstrap: " << done << "/" << total << " rounds" << (done == total ? "\n" : "")
                    << std::flush;
        }
      };
    const auto boot = pm::bootstrap_bradley_terry(data, bo);
    if (boot.regularised_rounds > 0)
      std::cerr << "arena_ratings: " << boot.regularised_rounds
                << " bootstrap round(s) had no finite MLE and were fitted with a weak prior\n";
    for (index_t i = 0; i < n; ++i) {
      lo[i] = to_rating(boot.lower[i]);
      hi[i] = to_rating(boot.upper[i]);
    }
    rank = boot.rank;
    board.interval = "bootstrap percentile, " + std::to_string(o.bootstrap) + " rounds";
  } else {
    const double z = normal_quantile(0.5 + o.ci / 2);
    std::vector<double> se = fit.std_error;
    for (std::size_t k = 0; k < exact_ids.size(); ++k) se[exact_ids[k]] = fit.selected_std_error[k];
    for (index_t i = 0; i < n; ++i) {
      lo[i] = to_rating(fit.theta[i] - z * se[i]);
      hi[i] = to_rating(fit.theta[i] + z * se[i]);
    }
    // rank_i = 1 + #{j : lo_j > hi_i}, by binary search in the sorted lower ends (O(n log n)).
    std::vector<double> sorted_lo = lo;
    std::sort(sorted_lo.begin(), sorted_lo.end());
    for (index_t i = 0; i < n; ++i)
      rank[i] += sorted_lo.end() - std::upper_bound(sorted_lo.begin(), sorted_lo.end(), hi[i]);
    board.interval = fit.std_error_approximate
                         ? "normal approximation, approximate standard errors (more than " +
                               std::to_string(fit_opt.exact_std_error_max_items) + " models" +
                               (exact_ids.empty() ? std::string()
                                                  : ", exact for the " + std::to_string(exact_ids.size()) +
                                                        " --exact-se model(s)") + ")"
                         : "normal approximation, observed information";
  }
  board.ci_label = std::to_string(static_cast<int>(std::lround(o.ci * 100))) + "% CI";
  for (index_t i = 0; i < n; ++i)
    board.rows.push_back({data.name(i), rating[i], lo[i], hi[i], rank[i], data.battles(i)});
  std::stable_sort(board.rows.begin(), board.rows.end(),
                   [](const auto& a, const auto& b) { return a.rating > b.rating; });

  if (o.top > 0 && static_cast<std::size_t>(o.top) < board.rows.size()) {
    leaderboard shown = board;
    shown.rows.resize(static_cast<std::size_t>(o.top));
    print_table(std::cout, shown);
    std::cout << "(" << board.rows.size() - shown.rows.size() << " more rows not shown)\n";
  } else {
    print_table(std::cout, board);
  }
  if (o.ties == pm::tie_model::davidson)
    std::cout << "Davidson tie parameter nu = " << std::exp(fit.log_nu) << "\n";
  if (!o.json_out.empty()) write_file(o.json_out, to_json(board));
  if (!o.svg_out.empty()) write_file(o.svg_out, to_svg(board));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(arena_ratings, [&] { return run(parse_args(argc, argv)); });
}
