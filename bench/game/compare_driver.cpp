// prefopt_game_compare_driver FILE.csv ITERS ETA: solves the preference game in FILE.csv with the
// LP and the three iterative solvers and prints one JSON line per solver
// {"solver", "seconds", "exploitability", "value"} — the C++ side of bench/compare/game_scipy.py.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/game/solve.hpp>

namespace game = prefopt::game;
using B = prefopt::eigen::backend<double>;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: prefopt_game_compare_driver FILE.csv ITERS ETA\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::vector<double> v;
  std::string line, cell;
  long long n = 0;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    while (std::getline(ss, cell, ',')) v.push_back(std::stod(cell));
    ++n;
  }
  const long long iters = std::atoll(argv[2]);
  const double eta = std::atof(argv[3]);
  const auto g = game::matrix_game<double>::from_preferences({n, v, 1e-9});
  using clock = std::chrono::steady_clock;
  auto report = [](const char* name, double seconds, double expl, double value) {
    std::printf("{\"solver\": \"%s\", \"seconds\": %.6f, \"exploitability\": %.6e, \"value\": %.17g}\n",
                name, seconds, expl, value);
  };
  {
    const auto t0 = clock::now();
    const auto r = game::solve(game::lp{}, g);
    report("prefopt lp", std::chrono::duration<double>(clock::now() - t0).count(), r.exploitability,
           r.value);
  }
  auto iterative = [&](const char* name, auto policy) {
    const auto t0 = clock::now();
    const auto r = game::solve<B>(policy, g);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    const auto& best = r.last.exploitability <= r.average.exploitability ? r.last : r.average;
    report(name, s, best.exploitability, best.value);
  };
  iterative("prefopt hedge", game::hedge{.eta = eta, .iters = iters});
  iterative("prefopt optimistic", game::optimistic_mwu{.eta = eta, .iters = iters});
  iterative("prefopt extragradient", game::extragradient{.eta = eta, .iters = iters});
  return 0;
}
