// janus: Janus' system-message training (kaistAI/Janus) on a toy log-linear policy.
//
//   janus --method dpo --seed 1 --out janus_out
//
// A policy π(y | system, instruction) trained by DPO or ORPO on pairs built from Multifaceted
// Collection-style rows (data/janus_pairs.hpp) is compared with the same policy trained on the
// same pairs under one generic system message, on system messages and instructions never seen in
// training: a judge compares one response of each (tie+win rate with a bootstrap CI,
// eval/pairwise.hpp). docs/janus.md explains the toy and shows the output.

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/data/janus_pairs.hpp>
#include <prefopt/eval/pairwise.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/reference_free.hpp>
#include <prefopt/selfplay/loglinear_policy.hpp>
#include <prefopt/selfplay/pair_training.hpp>
#include <prefopt/selfplay/sampling.hpp>

#include "../common/cli.hpp"
#include "../common/demo_output.hpp"
#include "world.hpp"

namespace data = prefopt::data;
namespace ev = prefopt::eval;
namespace ex = prefopt::examples;
namespace sp = prefopt::selfplay;
using prefopt::index_t;
using namespace janus_demo;
using backend = prefopt::eigen::backend<double>;

namespace {

constexpr const char* usage = R"(usage: janus [--method dpo|orpo] [--beta B] [--lambda L] [--all] [--seed S] [--steps N]
             [--lr R] [--instructions N] [--systems K] [--out DIR]

Janus' system-message generalisation on a toy: responses have four aspects (concise, formal,
technical, warm), each system message states how much its user wants each one, and a judge
prefers the response whose aspects fit the system message (reward = weights . aspects).
Multifaceted Collection-style rows (one per instruction and system message, output = the best
response for that message) are written to DIR/train.jsonl, read back, turned into DPO pairs by
prefopt::data::build_janus_pairs, and a log-linear policy
  pi(y | s, x) ~ exp(theta . [w_s (x) a(y), a(y)])
is trained on them by DPO or ORPO. The baseline trains the same policy on the same pairs with one
generic system message (w = 0). Both are evaluated on new instructions with new system messages:
one sampled response of each per judgment, tie+win rate vs the generic policy, bootstrap CI.

options:
  --method dpo|orpo   the loss (default dpo; losses::sigmoid, losses::orpo)
  --beta B            DPO's beta (default 0.1, axolotl's default in Janus' DPO config)
  --lambda L          ORPO's lambda (default 0.1, orpo_alpha in Janus' ORPO config)
  --all               pair each row with every other system message's output (default: one, sampled)
  --seed S            world, data and evaluation seed (default 1)
  --steps N           full-batch Adam steps (default 300)
  --lr R              Adam's learning rate (default 0.05)
  --instructions N    training instructions (default 48; 24 held-out ones are evaluated)
  --systems K         system messages per instruction (default 6, from a pool of 40)
  --out DIR           output directory (default janus_out), created if missing: train.jsonl,
                      pairs.jsonl, summary.csv, history.csv, janus.svg
  -h, --help          this help

exit status: 0 on success, 2 on bad arguments, 1 on other errors.
)";

const ex::tool janus_tool{"janus", usage, {.quote = '"', .usage_says_error = true}};

enum class loss_kind { dpo, orpo };

struct options {
  loss_kind method = loss_kind::dpo;
  double beta = 0.1, lambda = 0.1, lr = 0.05;
  bool all = false;
  std::uint64_t seed = 1;
  index_t steps = 300, instructions = 48, systems = 6;
  std::string out = "janus_out";
};

constexpr index_t pool_size = 8, train_system_pool = 40, test_system_pool = 40, test_instructions = 24;
constexpr index_t systems_per_test_instruction = 4, samples_per_prompt = 10;
constexpr double tie_margin = 0.05;  // the judge calls a tie when the rewards differ by less
constexpr index_t history_every = 10;

/// φ(s, y) = [w ⊗ a(y), a(y)] for every response of an instruction (row-major, pool × d).
std::vector<double> features(const aspect_vector& w, const instruction& in) {
  std::vector<double> f;
  for (const auto& a : in.responses) {
    for (int j = 0; j < aspects; ++j)
      for (int k = 0; k < aspects; ++k) f.push_back(w[j] * a[k]);
    for (int k = 0; k < aspects; ++k) f.push_back(a[k]);
  }
  return f;
}
constexpr index_t dimension = aspects * aspects + aspects;

/// The prompts a policy is evaluated on: (system weights, instruction).
struct eval_set {
  std::vector<aspect_vector> weights;
  std::vector<const instruction*> instructions;
  [[nodiscard]] sp::loglinear_policy policy(std::span<const double> theta) const {
    std::vector<std::vector<double>> phi;
    for (std::size_t p = 0; p < weights.size(); ++p) phi.push_back(features(weights[p], *instructions[p]));
    sp::loglinear_policy pol(std::move(phi), dimension);
    pol.set_weights(theta);
    return pol;
  }
};

struct quality {
  double best = 0, reward = 0;  // mean π(judge's best response), mean E_π[reward]
};

quality measure(const eval_set& e, std::span<const double> theta) {
  const auto pol = e.policy(theta);
  quality q;
  for (std::size_t p = 0; p < e.weights.size(); ++p) {
    const auto pi = pol.distribution(static_cast<index_t>(p));
    q.best += pi[static_cast<std::size_t>(e.instructions[p]->best_for(e.weights[p]))];
    for (std::size_t y = 0; y < pi.size(); ++y) q.reward += pi[y] * reward(e.weights[p], e.instructions[p]->responses[y]);
  }
  q.best /= static_cast<double>(e.weights.size());
  q.reward /= static_cast<double>(e.weights.size());
  return q;
}

/// The judge on `samples_per_prompt` draws of each policy per prompt, the model in position A on
/// even draws and B on odd ones.
ev::pairwise_summary judge(const eval_set& e, std::span<const double> model, std::span<const double> baseline,
                           std::uint64_t seed) {
  const auto pm = e.policy(model), pb = e.policy(baseline);
  std::mt19937_64 rng(seed ^ 0x2545f4914f6cdd1dULL);
  std::vector<ev::pairwise_judgment> js;
  for (std::size_t p = 0; p < e.weights.size(); ++p) {
    const auto dm = pm.distribution(static_cast<index_t>(p)), db = pb.distribution(static_cast<index_t>(p));
    for (index_t r = 0; r < samples_per_prompt; ++r) {
      const auto ym = sp::sample_index(dm, rng), yb = sp::sample_index(db, rng);
      const double diff = reward(e.weights[p], e.instructions[p]->responses[ym]) -
                          reward(e.weights[p], e.instructions[p]->responses[yb]);
      ev::pairwise_judgment j;
      j.id = std::to_string(p) + "/" + std::to_string(r);
      j.model = r % 2 == 0 ? ev::position::a : ev::position::b;
      const bool model_wins = diff > 0;
      j.result = std::abs(diff) < tie_margin ? ev::verdict::tie
                 : model_wins == (j.model == ev::position::a) ? ev::verdict::a
                                                             : ev::verdict::b;
      js.push_back(std::move(j));
    }
  }
  return ev::summarize_pairwise(js, {.bootstrap_rounds = 1000, .seed = seed, .confidence = 0.95});
}

int run(int argc, char** argv) {
  options o;
  for (ex::arguments args(janus_tool, argc, argv); args.next();) {
    if (args.take("--beta", o.beta) || args.take("--lambda", o.lambda) || args.take("--lr", o.lr) ||
        args.take("--all", o.all) || args.take("--seed", o.seed, 0) || args.take("--steps", o.steps, 1, 100000) ||
        args.take("--instructions", o.instructions, 1, 10000) ||
        args.take("--systems", o.systems, 2, train_system_pool) || args.take("--out", o.out))
      continue;
    if (args.is("--method"))
      o.method = args.choice<loss_kind>({{"dpo", loss_kind::dpo}, {"orpo", loss_kind::orpo}});
    else if (args.is_option())
      args.unknown();
    else
      throw ex::usage_error{"unexpected argument \"" + args.current() + "\""};
  }
  prefopt::require_positive_finite("--beta", o.beta);
  prefopt::require_positive_finite("--lambda", o.lambda);
  prefopt::require_positive_finite("--lr", o.lr);
  const ex::demo_output out(o.out);

  // 1. The collection, written and read back as a file, and the pairs.
  const world w = make_world(o.seed, o.instructions, test_instructions, pool_size, train_system_pool, test_system_pool);
  std::string jsonl;
  for (const auto& r : collection_rows(w, o.systems, o.seed))
    jsonl += "{\"system\": " + prefopt::io::json_string(r.system) + ", \"instruction\": " +
             prefopt::io::json_string(r.instruction) + ", \"output\": " + prefopt::io::json_string(r.output) + "}\n";
  out.write("train.jsonl", jsonl);
  const auto rows = data::read_system_rows(out.path("train.jsonl"));
  const auto set = data::build_janus_pairs(rows, {.all = o.all, .seed = o.seed});
  std::string pairs_jsonl;
  for (const auto& p : set.pairs) pairs_jsonl += data::janus_pair_json(p, data::chat_template::mistral) + "\n";
  out.write("pairs.jsonl", pairs_jsonl);

  // 2. Prompts of the two policies: one per (system, instruction) row, or one per instruction.
  std::map<std::string, const instruction*> instruction_of;
  for (const auto& in : w.train) instruction_of[in.text] = &in;
  std::map<std::string, aspect_vector> weights_of;
  for (const auto& s : w.train_systems) weights_of[s.text] = s.weights;
  std::map<std::pair<std::string, std::string>, index_t> janus_prompt;
  std::map<std::string, index_t> generic_prompt;
  eval_set seen;  // the training prompts, for the "seen" column
  std::vector<std::vector<double>> janus_phi, generic_phi;
  std::vector<sp::pair_turn<>> janus_turns, generic_turns;
  for (const auto& p : set.pairs) {
    const instruction& in = *instruction_of.at(p.instruction);
    const auto [jp, fresh] = janus_prompt.emplace(std::make_pair(p.system, p.instruction), janus_phi.size());
    if (fresh) {
      janus_phi.push_back(features(weights_of.at(p.system), in));
      seen.weights.push_back(weights_of.at(p.system));
      seen.instructions.push_back(&in);
    }
    const auto [gp, gfresh] = generic_prompt.emplace(p.instruction, generic_phi.size());
    if (gfresh) generic_phi.push_back(features(aspect_vector{}, in));
    const index_t c = in.index_of.at(p.chosen), r = in.index_of.at(p.rejected);
    janus_turns.push_back({jp->second, c, r});
    generic_turns.push_back({gp->second, c, r});
  }
  eval_set unseen;
  std::mt19937_64 pick(o.seed ^ 0x9e3779b97f4a7c15ULL);
  for (const auto& in : w.test)
    for (index_t k = 0; k < systems_per_test_instruction; ++k) {
      const auto s = static_cast<std::size_t>(sp::uniform01(pick) * static_cast<double>(w.test_systems.size()));
      unseen.weights.push_back(w.test_systems[s].weights);
      unseen.instructions.push_back(&in);
    }

  // 3. Train both policies with the same loss, steps and optimiser.
  const sp::optimizer_options adam{.kind = sp::optimizer_kind::adam, .learning_rate = o.lr};
  sp::loglinear_policy janus(std::move(janus_phi), dimension, adam), generic(std::move(generic_phi), dimension, adam);
  const std::vector<double> initial(janus.weights().begin(), janus.weights().end());
  const std::string method = o.method == loss_kind::dpo ? "dpo" : "orpo";
  std::ostringstream history;
  history << "step,policy,seen_best,unseen_best,unseen_reward\n";
  std::vector<ex::series> plot{{"janus (" + method + ")", {}, {}, {}}, {"generic (" + method + ")", {}, {}, {}}};
  auto trace = [&](index_t step, const sp::loglinear_policy& pol, std::size_t k) {
    if (step % history_every != 0) return;
    const auto qs = measure(seen, pol.weights()), qu = measure(unseen, pol.weights());
    history << step << ',' << (k == 0 ? "janus" : "generic") << ',' << ex::format_number(qs.best, "%.6f") << ','
            << ex::format_number(qu.best, "%.6f") << ',' << ex::format_number(qu.reward, "%.6f") << '\n';
    plot[k].x.push_back(static_cast<double>(step));
    plot[k].solid.push_back(qu.best);
    plot[k].dotted.push_back(qs.best);
  };
  const sp::pair_training_options train{.steps = o.steps};
  auto fit = [&](sp::loglinear_policy& pol, const std::vector<sp::pair_turn<>>& turns, std::size_t k) {
    trace(0, pol, k);
    auto on_step = [&](index_t s) { trace(s, pol, k); };
    if (o.method == loss_kind::dpo)
      sp::train_on_pairs<backend>(pol, std::span<const sp::pair_turn<>>(turns), prefopt::losses::sigmoid<double>(o.beta),
                                  train, {}, {}, on_step);
    else
      sp::train_on_pairs<backend>(pol, std::span<const sp::pair_turn<>>(turns), prefopt::losses::orpo<double>(o.lambda),
                                  train, {}, {}, on_step);
  };
  fit(janus, janus_turns, 0);
  fit(generic, generic_turns, 1);

  // 4. Before / after on seen and unseen system messages; judge vs the generic policy.
  struct row {
    std::string stage, name;
    std::vector<double> theta;
  };
  const std::vector<row> table{{"before", "initial (uniform)", initial},
                               {"after", "generic (" + method + ", 1 system message)",
                                {generic.weights().begin(), generic.weights().end()}},
                               {"after", "janus (" + method + ", " + std::to_string(janus_prompt.size()) + " prompts)",
                                {janus.weights().begin(), janus.weights().end()}}};
  std::cout << "Janus toy, seed " << o.seed << ": " << rows.size() << " rows (" << o.instructions << " instructions x "
            << o.systems << " system messages) -> " << set.pairs.size() << " pairs (" << (o.all ? "all" : "sampled")
            << "), " << method << " (" << (o.method == loss_kind::dpo ? "beta " + ex::format_number(o.beta, "%g") : "lambda " + ex::format_number(o.lambda, "%g"))
            << "), " << o.steps << " Adam steps (lr " << ex::format_number(o.lr, "%g") << ")\n"
            << "unseen: " << unseen.weights.size() << " prompts (" << test_instructions
            << " new instructions x " << systems_per_test_instruction << " new system messages), " << samples_per_prompt
            << " judgments each; chance of the best response = " << ex::format_number(1.0 / pool_size, "%.3f") << "\n\n"
            << "stage   policy                              best (seen)  best (unseen)  reward (unseen)  tie+win vs generic [95% CI]\n";
  std::ostringstream summary;
  summary << "stage,policy,seen_best,unseen_best,unseen_reward,tie_win_rate,tie_win_lower,tie_win_upper,win_rate\n";
  const std::vector<double> generic_theta(generic.weights().begin(), generic.weights().end());
  for (const auto& r : table) {
    const auto qs = measure(seen, r.theta), qu = measure(unseen, r.theta);
    const auto j = judge(unseen, r.theta, generic_theta, o.seed);
    const bool self = r.theta == generic_theta;
    char line[256];
    std::snprintf(line, sizeof line, "%-7s %-35s %11.3f  %13.3f  %15.3f  ", r.stage.c_str(), r.name.c_str(), qs.best,
                  qu.best, qu.reward);
    std::cout << line
              << (self ? std::string("(itself)")
                       : ex::format_number(j.overall.tie_win_rate, "%.1f") + " [" + ex::format_number(*j.tie_win_rate_lower, "%.1f") + ", " +
                             ex::format_number(*j.tie_win_rate_upper, "%.1f") + "]")
              << '\n';
    summary << r.stage << ",\"" << r.name << "\"," << ex::format_number(qs.best, "%.6f") << ',' << ex::format_number(qu.best, "%.6f") << ','
            << ex::format_number(qu.reward, "%.6f") << ',' << ex::format_number(j.overall.tie_win_rate, "%.4f") << ','
            << ex::format_number(*j.tie_win_rate_lower, "%.4f") << ',' << ex::format_number(*j.tie_win_rate_upper, "%.4f") << ','
            << ex::format_number(j.overall.win_rate, "%.4f") << '\n';
  }
  out.write_results(summary.str(), history.str(), plot, "janus.svg", "Janus toy: P(judge's best response) on unseen system messages",
                    "P(best response)", "unseen system messages", "training prompts");
  std::cout << "\nwrote " << out.path("train.jsonl") << ", pairs.jsonl, summary.csv, history.csv, janus.svg\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(janus_tool, [&] { return run(argc, argv); });
}
