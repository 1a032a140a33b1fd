// longpo: LongPO's short-to-long preference optimisation (DAMO-NLP-SG/LongPO) on a toy log-linear
// policy whose answers degrade as its context grows.
//
//   longpo --seed 1 --out longpo_out
//
// A policy trained on short contexts (one chunk) answers worse on long ones (the chunk among
// distractors). From it, LongPO's data (data/longpo_pairs.hpp) is made as in the paper: chosen =
// its answer with the short chunk, rejected = its answer with the long context. Three methods
// train the same start on that data: naive SFT on the long contexts, plain DPO (reference = the
// start on the long context) and LongPO (NLL + lambda * DPO, reference = the start on the short
// chunks, summed over turns with kl::sum_reference_turns). docs/longpo.md shows the output.

#include <array>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/data/longpo_pairs.hpp>
#include <prefopt/io/json_writer.hpp>
#include <prefopt/kl/longpo.hpp>
#include <prefopt/losses/dpo.hpp>
#include <prefopt/losses/longpo.hpp>
#include <prefopt/losses/sft.hpp>
#include <prefopt/selfplay/loglinear_policy.hpp>
#include <prefopt/selfplay/pair_training.hpp>
#include <prefopt/selfplay/sampling.hpp>

#include "../common/cli.hpp"
#include "../common/demo_output.hpp"

namespace data = prefopt::data;
namespace ex = prefopt::examples;
namespace sp = prefopt::selfplay;
using prefopt::index_t;
using backend = prefopt::eigen::backend<double>;

namespace {

constexpr const char* usage = R"(usage: longpo [--beta B] [--lambda L] [--context N] [--seed S] [--steps N] [--lr R] [--out DIR]

LongPO's short-to-long preference optimisation on a toy. A chunk is a vector in R^8; a question's
true answer (one of 6) is argmax_y (A r)_y of its chunk r. The policy is log-linear in the
mean-pooled context m, with a second block that only long contexts switch on:
pi(y | context) ~ exp(theta_y . m + [long] theta'_y . m). A short context is the
question's chunk alone; a long one adds N - 1 other chunks, which to this question show only
distractor noise in the first 4 features, so the mean dilutes the chunk and adds noise there.
The start is a policy trained by SFT on short contexts. LongPO data (2 turns per document): chosen
= the start's answer with the short chunk, rejected = its answer with the long context, written to
DIR/train.jsonl in LongPO's format and read back. Methods, all from the start, same Adam steps:
  sft     NLL of the chosen answers on the long contexts (losses::sft)
  dpo     sigmoid DPO, reference = the start on the long contexts (losses::sigmoid)
  longpo  NLL + lambda * DPO, reference = the start on the short chunks (losses::longpo,
          kl::sum_reference_turns)
Quality = mean probability of the true answer on held-out documents, long and short contexts.

options:
  --beta B      DPO's and LongPO's beta (default 0.01, the paper's)
  --lambda L    LongPO's lambda (default 0.01, the paper's)
  --context N   chunks in a long context (default 8, from 2 to 64)
  --seed S      world and data seed (default 1)
  --steps N     full-batch Adam steps per method (default 200)
  --lr R        Adam's learning rate (default 0.02)
  --out DIR     output directory (default longpo_out), created if missing: train.jsonl,
                summary.csv, history.csv, longpo.svg
  -h, --help    this help

exit status: 0 on success, 2 on bad arguments, 1 on other errors.
)";

const ex::tool longpo_tool{"longpo", usage, {.quote = '"', .usage_says_error = true}};

constexpr int dims = 8, noisy_dims = 4, answers = 6, turns = 2;
constexpr index_t train_docs = 64, test_docs = 128, short_train_chunks = 256;
constexpr double distractor_scale = 3.0;
constexpr index_t history_every = 10;
using chunk = std::array<double, dims>;

struct options {
  double beta = 0.01, lambda = 0.01, lr = 0.02;
  index_t context = 8, steps = 200;
  std::uint64_t seed = 1;
  std::string out = "longpo_out";
};

struct world {
  std::array<chunk, answers> a;  // the true answer of chunk r is argmax_y a[y] . r
  std::mt19937_64 rng;
  double u() { return 2 * sp::uniform01(rng) - 1; }
  chunk draw_chunk() {
    chunk r;
    for (double& v : r) v = u();
    return r;
  }
  /// A long context's pooled view from one question: its chunk and n - 1 others' noise, averaged.
  chunk long_view(const chunk& r, index_t n) {
    chunk m = r;
    for (index_t k = 1; k < n; ++k)
      for (int i = 0; i < noisy_dims; ++i) m[i] += distractor_scale * u();
    for (double& v : m) v /= static_cast<double>(n);
    return m;
  }
  [[nodiscard]] index_t truth(const chunk& r) const {
    index_t best = 0;
    double top = -1e300;
    for (index_t y = 0; y < answers; ++y) {
      double s = 0;
      for (int i = 0; i < dims; ++i) s += a[y][i] * r[i];
      if (s > top) top = s, best = y;
    }
    return best;
  }
};

/// φ(view, y) = [e_y ⊗ view, [long] e_y ⊗ view]: answer y's blocks of the weights read the pooled
/// context, the second only on long contexts (the policy knows its context is long, as a model
/// knows its position ids), so long-context training can change long behaviour alone.
std::vector<double> features(const chunk& view, bool is_long) {
  constexpr int d = 2 * answers * dims;
  std::vector<double> f(static_cast<std::size_t>(answers * d), 0.0);
  for (int y = 0; y < answers; ++y)
    for (int i = 0; i < dims; ++i) {
      f[static_cast<std::size_t>(y * d + y * dims + i)] = view[i];
      f[static_cast<std::size_t>(y * d + answers * dims + y * dims + i)] = is_long ? view[i] : 0.0;
    }
  return f;
}
constexpr index_t dimension = 2 * answers * dims;

/// Prompts with their true answers; `policy(theta)` evaluates weights on them.
struct prompt_set {
  bool is_long = false;
  std::vector<chunk> views;
  std::vector<index_t> truth;
  void add(const chunk& view, index_t y) { views.push_back(view), truth.push_back(y); }
  [[nodiscard]] sp::loglinear_policy policy(std::span<const double> theta, sp::optimizer_options opt = {}) const {
    std::vector<std::vector<double>> phi;
    for (const auto& v : views) phi.push_back(features(v, is_long));
    sp::loglinear_policy p(std::move(phi), dimension, opt);
    p.set_weights(theta);
    return p;
  }
  [[nodiscard]] double accuracy(std::span<const double> theta) const {
    const auto p = policy(theta);
    double s = 0;
    for (std::size_t k = 0; k < views.size(); ++k) s += p.distribution(static_cast<index_t>(k))[static_cast<std::size_t>(truth[k])];
    return s / static_cast<double>(views.size());
  }
};

index_t mode(const std::vector<double>& p, index_t skip = -1) {
  index_t best = skip == 0 ? 1 : 0;
  for (index_t y = 0; y < static_cast<index_t>(p.size()); ++y)
    if (y != skip && p[static_cast<std::size_t>(y)] > p[static_cast<std::size_t>(best)]) best = y;
  return best;
}

std::string answer_text(index_t y) { return "answer " + std::to_string(y); }

int run(int argc, char** argv) {
  options o;
  for (ex::arguments args(longpo_tool, argc, argv); args.next();) {
    if (args.take("--beta", o.beta) || args.take("--lambda", o.lambda) || args.take("--lr", o.lr) ||
        args.take("--seed", o.seed, 0) || args.take("--steps", o.steps, 1, 100000) ||
        args.take("--context", o.context, 2, 64) || args.take("--out", o.out))
      continue;
    if (args.is_option()) args.unknown();
    throw ex::usage_error{"unexpected argument \"" + args.current() + "\""};
  }
  prefopt::require_positive_finite("--beta", o.beta);
  prefopt::require_positive_finite("--lambda", o.lambda);
  prefopt::require_positive_finite("--lr", o.lr);
  const ex::demo_output out(o.out);

  world w{{}, std::mt19937_64(o.seed)};
  for (auto& row : w.a)
    for (double& v : row) v = w.u();
  const sp::optimizer_options adam{.kind = sp::optimizer_kind::adam, .learning_rate = o.lr};

  // 1. The start: SFT on short contexts (a chunk alone) with the true answers.
  prompt_set short_train;
  for (index_t k = 0; k < short_train_chunks; ++k) {
    const chunk r = w.draw_chunk();
    short_train.add(r, w.truth(r));
  }
  std::vector<sp::pair_turn<>> sft_turns;
  for (index_t k = 0; k < short_train_chunks; ++k)
    sft_turns.push_back({k, short_train.truth[k], (short_train.truth[k] + 1) % answers});
  auto start_policy = short_train.policy(std::vector<double>(dimension, 0.0), adam);
  sp::train_on_pairs<backend>(start_policy, std::span<const sp::pair_turn<>>(sft_turns), prefopt::losses::sft<double>(),
                              {.steps = 300});
  const std::vector<double> start(start_policy.weights().begin(), start_policy.weights().end());

  // 2. Held-out documents: each question's long and short views.
  prompt_set test_long{.is_long = true, .views = {}, .truth = {}}, test_short;
  for (index_t d = 0; d < test_docs * turns; ++d) {
    const chunk r = w.draw_chunk();
    test_long.add(w.long_view(r, o.context), w.truth(r));
    test_short.add(r, w.truth(r));
  }

  // 3. LongPO data from the start: chosen with the short chunk, rejected with the long context.
  prompt_set train_long{.is_long = true, .views = {}, .truth = {}}, train_short;
  std::string jsonl;
  for (index_t d = 0; d < train_docs; ++d) {
    std::string questions, shorts, chosens, rejecteds;
    for (int t = 0; t < turns; ++t) {
      const chunk r = w.draw_chunk();
      train_long.add(w.long_view(r, o.context), w.truth(r));
      train_short.add(r, w.truth(r));
      const auto k = static_cast<index_t>(train_long.views.size() - 1);
      const index_t chosen = mode(train_short.policy(start).distribution(k));
      const index_t rejected = mode(train_long.policy(start).distribution(k), chosen);
      const std::string sep = t ? ", " : "";
      questions += sep + prefopt::io::json_string("question " + std::to_string(t) + " of document " + std::to_string(d));
      shorts += sep + prefopt::io::json_string("chunk " + std::to_string(t) + " of document " + std::to_string(d));
      chosens += sep + prefopt::io::json_string(answer_text(chosen));
      rejecteds += sep + prefopt::io::json_string(answer_text(rejected));
    }
    jsonl += "{\"prompt\": " + prefopt::io::json_string("document " + std::to_string(d) + " (" + std::to_string(o.context) + " chunks)") +
             ", \"short_prompts\": [" + shorts + "], \"questions\": [" + questions + "], \"chosens\": [" + chosens +
             "], \"rejecteds\": [" + rejecteds + "]}\n";
  }
  out.write("train.jsonl", jsonl);
  const auto samples = data::read_longpo_samples(out.path("train.jsonl"));
  std::vector<sp::pair_turn<>> long_turns, short_turns;
  auto answer_of = [](const std::string& text) { return static_cast<index_t>(std::stoi(text.substr(7))); };
  for (std::size_t d = 0; d < samples.size(); ++d)
    for (std::size_t t = 0; t < samples[d].turns.size(); ++t) {
      const auto k = static_cast<index_t>(d * turns + t);
      long_turns.push_back({k, answer_of(samples[d].turns[t].chosen), answer_of(samples[d].turns[t].rejected)});
      short_turns.push_back(long_turns.back());
    }
  // The short-context reference, per turn, then summed over each sample's turns.
  std::vector<double> ref_turn_w, ref_turn_l;
  sp::pair_log_probs(train_short.policy(start), std::span<const sp::pair_turn<>>(short_turns), 1, ref_turn_w, ref_turn_l);
  const auto ref_w = prefopt::kl::sum_reference_turns<double>(ref_turn_w, turns);
  const auto ref_l = prefopt::kl::sum_reference_turns<double>(ref_turn_l, turns);

  // 4. The three methods.
  std::ostringstream history;
  history << "step,method,long_quality,short_quality\n";
  std::vector<ex::series> plot;
  struct result {
    std::string name;
    std::vector<double> theta;
  };
  std::vector<result> results{{"start (short-context SFT)", start}};
  auto fit = [&](const std::string& name, const auto& loss, bool short_reference) {
    auto pol = train_long.policy(start, adam);
    plot.push_back({name, {}, {}, {}});
    auto trace = [&](index_t s) {
      if (s % history_every != 0) return;
      const double ql = test_long.accuracy(pol.weights()), qs = test_short.accuracy(pol.weights());
      history << s << ',' << name << ',' << ex::format_number(ql, "%.6f") << ',' << ex::format_number(qs, "%.6f") << '\n';
      plot.back().x.push_back(static_cast<double>(s));
      plot.back().solid.push_back(ql);
      plot.back().dotted.push_back(qs);
    };
    trace(0);
    const sp::pair_training_options opt{.steps = o.steps, .turns_per_pair = turns};
    const std::span<const sp::pair_turn<>> span(long_turns);
    if (short_reference)
      sp::train_on_pairs<backend>(pol, span, loss, opt, ref_w, ref_l, trace);
    else
      sp::train_on_pairs<backend>(pol, span, loss, opt, {}, {}, trace);
    results.push_back({name, {pol.weights().begin(), pol.weights().end()}});
  };
  fit("sft", prefopt::losses::sft<double>(), false);
  fit("dpo", prefopt::losses::sigmoid<double>(o.beta), false);
  fit("longpo", prefopt::losses::longpo<double>(o.beta, o.lambda), true);

  // 5. The table.
  std::cout << "LongPO toy, seed " << o.seed << ": long context = " << o.context << " chunks (1 relevant), " << answers
            << " answers, chance " << ex::format_number(1.0 / answers, "%.3f") << "\n"
            << "data: " << samples.size() << " documents x " << turns << " turns; chosen = the start's answer with the short chunk, "
            << "rejected = with the long context\n"
            << "training: " << o.steps << " Adam steps (lr " << ex::format_number(o.lr, "%g") << "), beta " << ex::format_number(o.beta, "%g")
            << ", lambda " << ex::format_number(o.lambda, "%g") << "; quality = P(true answer) on " << test_docs * turns
            << " held-out questions\n\n"
            << "method                       long-context quality   short-context quality\n";
  std::ostringstream summary;
  summary << "method,long_quality,short_quality\n";
  for (std::size_t k = 0; k < results.size(); ++k) {
    const double ql = test_long.accuracy(results[k].theta), qs = test_short.accuracy(results[k].theta);
    char line[160];
    std::snprintf(line, sizeof line, "%-7s %-25s %14.3f %23.3f\n", k == 0 ? "before" : "after", results[k].name.c_str(), ql, qs);
    std::cout << line;
    summary << results[k].name << ',' << ex::format_number(ql, "%.6f") << ',' << ex::format_number(qs, "%.6f") << '\n';
  }
  out.write_results(summary.str(), history.str(), plot, "longpo.svg", "LongPO toy: P(true answer) while training on long contexts",
                    "P(true answer)", "long contexts", "short contexts");
  std::cout << "\nwrote " << out.path("train.jsonl") << ", summary.csv, history.csv, longpo.svg\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_tool(longpo_tool, [&] { return run(argc, argv); });
}
