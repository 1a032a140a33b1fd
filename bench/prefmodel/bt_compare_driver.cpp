// Timing driver for bench/compare/bt_vs_sklearn_r.py: reads aggregated pair counts
// (CSV "i,j,wins_i,wins_j,ties"), fits Bradley-Terry (half-win ties, sum-to-zero) and prints
//   time_aggregate_s=..., time_fit_s=..., iterations=...
// on stderr and the Elo-scale ratings (1000 + 400 theta / ln 10), one per line, on stdout.
// The fit is repeated until 0.5 s have passed and the fastest run is reported.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/prefmodel/bradley_terry.hpp>
#include <prefopt/prefmodel/rating_scale.hpp>

namespace pm = prefopt::prefmodel;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: bt_compare_driver NUM_ITEMS PAIRS.csv\n";
    return 2;
  }
  const long long n = std::stoll(argv[1]);
  std::ifstream in(argv[2]);
  if (!in) {
    std::cerr << "cannot open " << argv[2] << "\n";
    return 2;
  }
  struct row {
    long long i, j;
    double wi, wj, t;
  };
  std::vector<row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    row r{};
    if (std::sscanf(line.c_str(), "%lld,%lld,%lf,%lf,%lf", &r.i, &r.j, &r.wi, &r.wj, &r.t) == 5) rows.push_back(r);
  }
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  pm::comparison_data<double> data(n);
  for (const auto& r : rows) {
    data.add(r.i, r.j, pm::outcome::model_a_wins, 1.0, static_cast<long long>(r.wi));
    data.add(r.j, r.i, pm::outcome::model_a_wins, 1.0, static_cast<long long>(r.wj));
    data.add(r.i, r.j, pm::outcome::tie, 1.0, static_cast<long long>(r.t));
  }
  const double t_agg = std::chrono::duration<double>(clock::now() - t0).count();
  pm::bt_options<double> opt;
  opt.standard_errors = false;
  double best = 1e300, spent = 0;
  pm::bt_result<double> fit;
  do {
    const auto s = clock::now();
    fit = pm::fit_bradley_terry(data, opt);
    const double dt = std::chrono::duration<double>(clock::now() - s).count();
    best = std::min(best, dt);
    spent += dt;
  } while (spent < 0.5);
  std::cerr << "time_aggregate_s=" << t_agg << " time_fit_s=" << best << " iterations=" << fit.iterations
            << " converged=" << fit.converged << "\n";
  const auto ratings = pm::elo_scale<double>{}.ratings(fit.theta);
  std::printf("rating\n");
  for (double r : ratings) std::printf("%.10f\n", r);
  return 0;
}
