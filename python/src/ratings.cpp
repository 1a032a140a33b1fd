// prefopt.bradley_terry (Arena leaderboard from battles or from summed pair counts) and
// prefopt.nash (equilibrium of a preference or payoff matrix).
//
// The leaderboard is computed exactly as examples/arena_ratings computes it -- same fit options,
// same affine map to the Elo scale, same bootstrap, same normal quantile (report.hpp is shared)
// -- so the two give the same numbers on the same battles; python/tests checks that by running
// the CLI.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/game/solve.hpp>
#include <prefopt/prefmodel/battle_io.hpp>
#include <prefopt/prefmodel/bootstrap.hpp>
#include <prefopt/prefmodel/bradley_terry.hpp>
#include <prefopt/prefmodel/comparisons.hpp>
#include <prefopt/prefmodel/rating_scale.hpp>

#include "arrays.hpp"
#include "module.hpp"
#include "report.hpp"  // examples/arena_ratings: normal_quantile, shared with the CLI

namespace prefopt::python {
namespace {

namespace pm = prefopt::prefmodel;

struct leaderboard_options {
  pm::tie_model ties = pm::tie_model::half_win;
  index_t bootstrap = 0;
  std::uint64_t seed = 0;
  double ci = 0.95, prior = 0;
  std::optional<std::pair<std::string, double>> anchor;
  int threads = 0;
};

leaderboard_options make_options(const std::string& ties, std::int64_t bootstrap,
                                 std::int64_t seed, double ci, double prior,
                                 std::optional<std::pair<std::string, double>> anchor,
                                 int threads) {
  leaderboard_options o;
  if (ties == "half") o.ties = pm::tie_model::half_win;
  else if (ties == "davidson") o.ties = pm::tie_model::davidson;
  else value_error("ties", "must be \"half\" or \"davidson\", got \"" + ties + "\"");
  if (bootstrap < 0 || bootstrap == 1)
    value_error("bootstrap", "must be 0 (normal approximation) or at least 2 rounds, got " +
                                 std::to_string(bootstrap));
  if (seed < 0) value_error("seed", "must be >= 0, got " + std::to_string(seed));
  if (!(ci > 0 && ci < 1)) value_error("ci", "must lie in (0, 1), got " + std::to_string(ci));
  if (!(std::isfinite(prior) && prior >= 0))
    value_error("prior", "must be finite and >= 0 (0 = no prior), got " + std::to_string(prior));
  if (threads < 0) value_error("threads", "must be >= 0, got " + std::to_string(threads));
  if (anchor && !std::isfinite(anchor->second))
    value_error("anchor", "the rating must be finite");
  o.bootstrap = bootstrap;
  o.seed = static_cast<std::uint64_t>(seed);
  o.ci = ci;
  o.prior = prior;
  o.anchor = std::move(anchor);
  o.threads = threads;
  return o;
}

/// model -> {"rating", "se", "ci_low", "ci_high"} on the Elo scale (400 points per factor 10 in
/// odds, mean 1000 or the anchor's rating), as arena_ratings reports it.
nb::dict leaderboard(const pm::comparison_data<double>& data, const leaderboard_options& o) {
  if (data.total_battles() == 0) value_error("model_a", "no battles");
  pm::elo_scale<double> scale;
  if (o.anchor) {
    const auto id = data.find(o.anchor->first);
    if (!id) value_error("anchor", "model '" + o.anchor->first + "' does not occur in the battles");
    scale.anchor = pm::rating_anchor<double>{*id, o.anchor->second};
  }
  pm::bt_options<double> fit_opt;
  fit_opt.ties = o.ties;
  fit_opt.prior_sigma = o.prior / scale.points_per_theta();
  const index_t n = data.num_items();
  std::vector<double> lo(static_cast<std::size_t>(n)), hi(lo.size()), rating, se(lo.size());
  bool converged = false;
  {
    nb::gil_scoped_release unlocked;
    const auto fit = pm::fit_bradley_terry(data, fit_opt);
    converged = fit.converged;
    rating = scale.ratings(fit.theta);
    const double ppt = scale.points_per_theta();
    const double offset = rating[0] - ppt * fit.theta[0];
    for (index_t i = 0; i < n; ++i) se[i] = ppt * fit.std_error[i];
    if (o.bootstrap >= 2) {
      pm::bootstrap_options<double> bo;
      bo.rounds = o.bootstrap;
      bo.seed = o.seed;
      bo.confidence = o.ci;
      bo.threads = o.threads;
      bo.fit = fit_opt;
      const auto boot = pm::bootstrap_bradley_terry(data, bo);
      for (index_t i = 0; i < n; ++i) {
        lo[i] = offset + ppt * boot.lower[i];
        hi[i] = offset + ppt * boot.upper[i];
      }
    } else {
      const double z = normal_quantile(0.5 + o.ci / 2);
      for (index_t i = 0; i < n; ++i) {
        lo[i] = offset + ppt * (fit.theta[i] - z * fit.std_error[i]);
        hi[i] = offset + ppt * (fit.theta[i] + z * fit.std_error[i]);
      }
    }
  }
  if (!converged &&
      PyErr_WarnEx(PyExc_RuntimeWarning, "prefopt.bradley_terry: the fit did not converge", 1) != 0)
    throw nb::python_error();
  nb::dict out;
  for (index_t i = 0; i < n; ++i) {
    nb::dict row;
    row["rating"] = rating[i];
    row["se"] = se[i];
    row["ci_low"] = lo[i];
    row["ci_high"] = hi[i];
    out[nb::str(data.name(i).c_str())] = row;
  }
  return out;
}

nb::dict bradley_terry(const std::vector<std::string>& model_a,
                       const std::vector<std::string>& model_b,
                       const std::vector<std::string>& winner, const std::string& ties,
                       std::int64_t bootstrap, std::int64_t seed, double ci, double prior,
                       std::optional<std::pair<std::string, double>> anchor, int threads) {
  const auto o = make_options(ties, bootstrap, seed, ci, prior, std::move(anchor), threads);
  if (model_b.size() != model_a.size())
    value_error("model_b", "has " + std::to_string(model_b.size()) + " entries, model_a has " +
                               std::to_string(model_a.size()));
  if (winner.size() != model_a.size())
    value_error("winner", "has " + std::to_string(winner.size()) + " entries, model_a has " +
                              std::to_string(model_a.size()));
  pm::comparison_data<double> data;
  for (std::size_t k = 0; k < model_a.size(); ++k) {
    const auto at = [k](const char* name) { return std::string(name) + "[" + std::to_string(k) + "]"; };
    const auto result = pm::parse_winner_label(winner[k]);
    if (!result)
      value_error(at("winner"), "unknown winner label '" + winner[k] + "' " + pm::winner_labels_expected);
    if (model_a[k].empty()) value_error(at("model_a"), "empty model name");
    if (model_b[k].empty()) value_error(at("model_b"), "empty model name");
    if (model_a[k] == model_b[k])
      value_error(at("model_b"), "self-battle: model_a = model_b = '" + model_a[k] + "'");
    data.add(model_a[k], model_b[k], *result);
  }
  return leaderboard(data, o);
}

nb::dict bradley_terry_counts(const std::vector<std::string>& models, const in_array& wins_in,
                              const std::optional<in_array>& ties_in, const std::string& ties,
                              std::int64_t bootstrap, std::int64_t seed, double ci, double prior,
                              std::optional<std::pair<std::string, double>> anchor, int threads) {
  const auto o = make_options(ties, bootstrap, seed, ci, prior, std::move(anchor), threads);
  const auto n = static_cast<index_t>(models.size());
  for (std::size_t k = 0; k < models.size(); ++k) {
    if (models[k].empty()) value_error("models[" + std::to_string(k) + "]", "empty model name");
    for (std::size_t j = 0; j < k; ++j)
      if (models[j] == models[k])
        value_error("models[" + std::to_string(k) + "]", "'" + models[k] + "' repeats models[" +
                                                             std::to_string(j) + "]");
  }
  const auto dense = [n](const char* name, const in_array& a) {
    if (!has_dtype<double>(a))
      value_error(name, "expected dtype float64, got " + dtype_name(a.dtype()) +
                            " (counts are summed in float64; convert with .double())");
    const auto m = matrix<double>(name, a, "[models, models]");
    if (m.rows != n || m.cols != n)
      value_error(name, "shape " + shape_string(a) + " must be (len(models), len(models)) = (" +
                            std::to_string(n) + ", " + std::to_string(n) + ")");
    std::vector<double> v(static_cast<std::size_t>(n * n));
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) v[i * n + j] = m(i, j);
    return v;
  };
  const auto wins = dense("wins", wins_in);
  const auto tie_counts = ties_in ? dense("tie_counts", *ties_in) : std::vector<double>{};
  auto data = pm::comparison_data<double>::from_win_matrix(n, wins, tie_counts);
  // from_win_matrix names items "0".."n-1"; the leaderboard is keyed by the caller's names.
  pm::comparison_data<double> named(models);
  for (const auto& p : data.pairs()) {
    named.add(p.i, p.j, pm::outcome::model_a_wins, 1.0, p.n_wins_i);
    named.add(p.i, p.j, pm::outcome::model_b_wins, 1.0, p.n_wins_j);
    named.add(p.i, p.j, pm::outcome::tie, 1.0, p.n_ties);
  }
  return leaderboard(named, o);
}

template <class Policy>
nb::tuple iterative(const Policy& policy, const prefopt::game::matrix_game<double>& g) {
  using B = prefopt::eigen::backend<double>;
  const auto r = prefopt::game::solve<B>(policy, g);
  // As the nash CLI: report the better of the last and the averaged iterate.
  const auto& best = r.last.exploitability <= r.average.exploitability ? r.last : r.average;
  return nb::make_tuple(new_vector(B::to_host(best.row_strategy)), best.value,
                        best.exploitability);
}

nb::tuple nash(const in_array& p_in, const std::string& method, const std::string& kind,
               std::int64_t iters, double eta) {
  if (!has_dtype<double>(p_in))
    value_error("P", "expected dtype float64, got " + dtype_name(p_in.dtype()));
  const auto m = matrix<double>("P", p_in, "[n, n]");
  if (m.rows != m.cols || m.rows < 1)
    value_error("P", "must be a non-empty square matrix, got shape " + shape_string(p_in));
  const index_t n = m.rows;
  std::vector<double> values(static_cast<std::size_t>(n * n));
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) values[i * n + j] = m(i, j);
  namespace game = prefopt::game;
  game::matrix_game<double> g;
  if (kind == "preference")
    g = game::matrix_game<double>::from_preferences(pm::preference_matrix<double>(n, values, 1e-9));
  else if (kind == "payoff")
    g = game::matrix_game<double>(n, n, values);
  else
    value_error("kind", "must be \"preference\" or \"payoff\", got \"" + kind + "\"");
  if (method == "lp") {
    const auto s = game::solve(game::lp{}, g);
    return nb::make_tuple(new_vector(s.row_strategy), s.value, s.exploitability);
  }
  if (method == "hedge") return iterative(game::hedge{.eta = eta, .iters = iters}, g);
  if (method == "optimistic") return iterative(game::optimistic_mwu{.eta = eta, .iters = iters}, g);
  if (method == "extragradient") return iterative(game::extragradient{.eta = eta, .iters = iters}, g);
  value_error("method", "must be lp, hedge, optimistic or extragradient, got \"" + method + "\"");
}

}  // namespace

void bind_ratings(nb::module_& m) {
  m.def("bradley_terry", &bradley_terry, nb::arg("model_a"), nb::arg("model_b"), nb::arg("winner"),
        nb::arg("ties") = "half", nb::arg("bootstrap") = 0, nb::arg("seed") = 0, nb::kw_only(),
        nb::arg("ci") = 0.95, nb::arg("prior") = 0.0, nb::arg("anchor") = nb::none(),
        nb::arg("threads") = 0,
        "Arena Bradley-Terry leaderboard: {model: {rating, se, ci_low, ci_high}} (Elo scale).");
  m.def("bradley_terry_counts", &bradley_terry_counts, nb::arg("models"), nb::arg("wins"),
        nb::arg("tie_counts") = nb::none(), nb::kw_only(), nb::arg("ties") = "half",
        nb::arg("bootstrap") = 0, nb::arg("seed") = 0, nb::arg("ci") = 0.95,
        nb::arg("prior") = 0.0, nb::arg("anchor") = nb::none(), nb::arg("threads") = 0,
        "The same leaderboard from summed counts: wins[i, j] = battles models[i] won against "
        "models[j], tie_counts symmetric (the sufficient statistics).");
  m.def("nash", &nash, nb::arg("P"), nb::arg("method") = "lp", nb::kw_only(),
        nb::arg("kind") = "preference", nb::arg("iters") = 10000, nb::arg("eta") = 0.5,
        "(strategy, value, exploitability) of a preference matrix (kind='preference', the game "
        "P - 1/2, value 1/2) or a zero-sum payoff (kind='payoff').");
}

}  // namespace prefopt::python
