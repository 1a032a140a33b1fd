#pragma once
// The toy world of the janus demo: instructions with a pool of candidate responses, each response
// described by how much it shows a few aspects, and system messages that state how much a user
// wants each aspect. A judge prefers the response whose aspects fit the system message best:
//   reward(y | s) = w_s · a(y),   w_s = the system message's weights, a(y) = the response's aspects.
// Everything is drawn from one seed with selfplay/sampling.hpp's library-independent arithmetic.

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <prefopt/data/janus_pairs.hpp>
#include <prefopt/selfplay/sampling.hpp>

namespace janus_demo {

using prefopt::index_t;

constexpr int aspects = 4;
using aspect_vector = std::array<double, aspects>;
inline const std::array<const char*, aspects> aspect_names = {"concise", "formal", "technical", "warm"};
// The population's average taste: a system message's weights are this plus U[-1, 1] noise, so a
// generic policy has something to learn, but each user differs from it.
inline constexpr aspect_vector mean_taste = {0.3, 0.2, 0.0, 0.1};

inline double reward(const aspect_vector& w, const aspect_vector& a) {
  double r = 0;
  for (int k = 0; k < aspects; ++k) r += w[k] * a[k];
  return r;
}

inline std::string describe(const aspect_vector& v) {
  std::string s;
  for (int k = 0; k < aspects; ++k) {
    char b[48];
    std::snprintf(b, sizeof b, "%s%s %+.2f", k ? ", " : "", aspect_names[k], v[k]);
    s += b;
  }
  return s;
}

struct system_message {
  aspect_vector weights;
  std::string text;
};

struct instruction {
  std::string text;
  std::vector<aspect_vector> responses;  // the candidate pool
  std::vector<std::string> response_text;
  std::map<std::string, index_t> index_of;  // response text -> index

  [[nodiscard]] index_t best_for(const aspect_vector& w) const {
    index_t best = 0;
    for (index_t y = 1; y < static_cast<index_t>(responses.size()); ++y)
      if (reward(w, responses[y]) > reward(w, responses[best])) best = y;
    return best;
  }
};

struct world {
  std::vector<instruction> train, test;
  std::vector<system_message> train_systems, test_systems;
};

inline world make_world(std::uint64_t seed, index_t train_instructions, index_t test_instructions,
                        index_t pool_size, index_t train_system_pool, index_t test_system_pool) {
  std::mt19937_64 rng(seed);
  auto u = [&] { return 2 * prefopt::selfplay::uniform01(rng) - 1; };
  auto make_instruction = [&](const std::string& name) {
    instruction in;
    in.text = name;
    for (index_t y = 0; y < pool_size; ++y) {
      aspect_vector a;
      for (double& v : a) v = u();
      in.responses.push_back(a);
      in.response_text.push_back("Answer " + std::to_string(y) + " to " + name + " (" + describe(a) + ")");
      in.index_of[in.response_text.back()] = y;
    }
    return in;
  };
  auto make_system = [&](const std::string& who) {
    system_message s;
    for (int k = 0; k < aspects; ++k) s.weights[k] = mean_taste[k] + u();
    s.text = "You answer " + who + ", who weighs the aspects of a response as: " + describe(s.weights) + ".";
    return s;
  };
  world w;
  for (index_t i = 0; i < train_instructions; ++i) w.train.push_back(make_instruction("instruction " + std::to_string(i)));
  for (index_t i = 0; i < test_instructions; ++i) w.test.push_back(make_instruction("held-out instruction " + std::to_string(i)));
  for (index_t s = 0; s < train_system_pool; ++s) w.train_systems.push_back(make_system("user " + std::to_string(s)));
  for (index_t s = 0; s < test_system_pool; ++s) w.test_systems.push_back(make_system("new user " + std::to_string(s)));
  return w;
}

/// Multifaceted Collection rows: each training instruction gets `per_instruction` distinct system
/// messages from the training pool, and the output written for each is the judge's best response
/// for it (as GPT-4 wrote one response per system message in the real collection).
inline std::vector<prefopt::data::system_row> collection_rows(const world& w, index_t per_instruction,
                                                              std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5851f42d4c957f2dULL);
  std::vector<prefopt::data::system_row> rows;
  const auto pool = static_cast<index_t>(w.train_systems.size());
  for (const auto& in : w.train) {
    std::vector<index_t> order(static_cast<std::size_t>(pool));
    for (index_t s = 0; s < pool; ++s) order[s] = s;
    for (index_t k = 0; k < per_instruction; ++k) {  // partial Fisher-Yates
      const auto j = k + static_cast<index_t>(prefopt::selfplay::uniform01(rng) * static_cast<double>(pool - k));
      std::swap(order[k], order[j]);
      const auto& s = w.train_systems[order[k]];
      rows.push_back({s.text, in.text, in.response_text[in.best_for(s.weights)], 0});
    }
  }
  return rows;
}

}  // namespace janus_demo
