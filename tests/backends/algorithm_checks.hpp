#pragma once
// Backend-generic runs of the algorithms (preference losses, unpaired KTO, the end-to-end loss
// from logits, the iterative Nash solvers and their batched form) and the checks that compare a
// backend's results with the Eigen backend's on the same inputs. Shared by the CPU suite
// (algorithms_cpu.cpp: xtensor, and Eigen through the code paths a device backend takes) and the
// CUDA suite (cuda_algorithms.cu, cuda_registry.cu), so a GPU runs the same assertions the host
// backends pass.
//
// The Eigen side is computed in algorithm_reference.cpp, a host-compiled translation unit linked
// into both suites (eigen_*_reference below), so the CUDA translation units never parse Eigen.
//
// Tolerances (|got − eigen| <= abs + rel·|eigen|, per element):
//   losses, metrics, gradients   float rel 1e-5 abs 1e-6, double rel 1e-12 abs 1e-13. The per-pair
//       code is the same PREFOPT_HD function on every backend; what differs is the device's
//       exp / log / log1p (CUDA: within 2 ulp in float, 1 ulp in double), FMA contraction by nvcc
//       and the order of the reduced sum (accumulated in double on every backend).
//   end to end from logits       float rel 1e-4 abs 1e-5, double rel 1e-10 abs 1e-12: the sequence
//       log-probs sum hundreds of log-softmax terms (backend_checks.hpp bounds each by 1e-5 / 1e-12).
//   iterative solvers            float abs 2e-4, double abs 1e-9 on probabilities, values and
//       exploitabilities: T mirror steps compound per-step rounding differences (matvec order,
//       device exp), the dynamics are non-expansive at these step sizes so the drift stays
//       O(T·eps·||A||). nash_md's regularised exploitability is a sum of logs over the same
//       strategies (in double), inside the same bound.

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <prefopt/core/concepts.hpp>
#include <prefopt/game/batched.hpp>
#include <prefopt/game/solve.hpp>
#include <prefopt/kl/penalty.hpp>
#include <prefopt/losses/all.hpp>
#include <prefopt/losses/from_logits.hpp>
#include <prefopt/losses/kto_unpaired.hpp>
#include <prefopt/losses/registry.hpp>
#include <support/random.hpp>

#include "backend_checks.hpp"

namespace prefopt::testing {

// ---- inputs and outcomes (host memory) ------------------------------------------------------

/// One loss per batch coupling and input family: reference-based, per-token means, KTO's KL
/// baseline, SPPO's win rates, reference-free with a derived NLL, host-sorted (AOT, both
/// variants), BCO's running mean, the reference-free summed variant of DPO, RPO with a given
/// chosen NLL (grad_nll), a weighted_sum combination (std::tuple of policies on the device), and
/// kl::with_kl_penalty wrapping sigmoid (tests/kl/penalty_batch.cpp checks it by definition).
enum class loss_case { sigmoid, sigmoid_reference_free_sum, ipo, kto, sppo, orpo, simpo, aot,
                       aot_unpaired, bco, rpo_given_nll, sigmoid_plus_sft, sigmoid_kl_penalty };
inline constexpr std::array all_loss_cases{
    loss_case::sigmoid, loss_case::sigmoid_reference_free_sum, loss_case::ipo, loss_case::kto,
    loss_case::sppo,    loss_case::orpo, loss_case::simpo, loss_case::aot, loss_case::aot_unpaired,
    loss_case::bco,     loss_case::rpo_given_nll, loss_case::sigmoid_plus_sft,
    loss_case::sigmoid_kl_penalty};

inline const char* loss_case_name(loss_case c) {
  constexpr std::array<const char*, 13> names{
      "sigmoid", "sigmoid (reference-free, sum)", "ipo", "kto", "sppo", "orpo", "simpo", "aot",
      "aot_unpaired", "bco_pair", "rpo (given chosen NLL)", "weighted_sum<sigmoid, sft>",
      "with_kl_penalty<sigmoid> (k3, gamma 0.2)"};
  return names[static_cast<std::size_t>(c)];
}

/// A batch of N pairs: negative log-probs (ORPO takes log(1 − p)), references near the policy,
/// integer token counts, win rates in [0, 1], mismatched-pair log-probs for KTO's baseline and
/// desirable flags for unpaired KTO.
template <class T>
struct loss_inputs {
  std::vector<T> cw, cl, rw, rl, nw, nl, pw, pl, kp, kr, nll;
  std::vector<std::uint8_t> desirable;
};

template <class T>
loss_inputs<T> make_loss_inputs(std::size_t n, std::uint32_t seed) {
  prefopt_test::bits_rng gen(seed);
  const auto noise = [](prefopt_test::bits_rng& g) { return g.normal(); };
  const auto unit = [](prefopt_test::bits_rng& g) { return g.uniform(); };
  loss_inputs<T> in;
  const auto logp = [&] { return static_cast<T>(-1.0 - 30.0 * unit(gen)); };
  for (std::size_t i = 0; i < n; ++i) {
    in.cw.push_back(logp());
    in.cl.push_back(logp());
    in.rw.push_back(static_cast<T>(in.cw.back() + 3.0 * noise(gen)));
    in.rl.push_back(static_cast<T>(in.cl.back() + 3.0 * noise(gen)));
    in.nw.push_back(static_cast<T>(1 + gen.below(40)));
    in.nl.push_back(static_cast<T>(1 + gen.below(40)));
    in.pw.push_back(static_cast<T>(unit(gen)));
    in.pl.push_back(static_cast<T>(unit(gen)));
    in.kp.push_back(logp());
    in.kr.push_back(static_cast<T>(in.kp.back() - 2.0 + noise(gen)));  // z0 > 0: not clamped
    in.nll.push_back(static_cast<T>(-in.cw.back() / in.nw.back() + 0.1 * noise(gen)));
    in.desirable.push_back(static_cast<std::uint8_t>(gen.below(3) != 0));
  }
  return in;
}

template <class T>
struct loss_outcome {
  T loss{};
  std::vector<T> per_pair, grad_chosen, grad_rejected, grad_nll;
  std::array<T, 6> metrics{};
  T kl_baseline{}, delta{};
};

template <class T>
struct kto_outcome {
  T loss{}, kl_baseline{}, rewards_chosen{}, rewards_rejected{};
  std::vector<T> per_example, grad;
  index_t desirable_count = 0;
};

template <class T>
struct logits_outcome {
  loss_outcome<T> pairs;
  std::vector<T> chosen_sum, rejected_sum, grad_chosen_logits, grad_rejected_logits;
};

template <class T>
struct game_outcome {
  std::vector<T> row, col, row_average, col_average;
  std::vector<T> exploitability_last, exploitability_average, value_last, value_average;
  std::vector<T> regularised_last, regularised_average;  // regularised_exploitability
  std::vector<T> trace_last, trace_average;  // single games with a trace only
};

/// Which game and solver: solver x {general 5 x 7 game, symmetric 6 x 6 preference game}.
enum class game_solver { hedge, optimistic, extragradient, nash_md };
struct game_case {
  game_solver rule;
  bool symmetric;
};
inline constexpr std::array all_game_cases{
    game_case{game_solver::hedge, false},         game_case{game_solver::hedge, true},
    game_case{game_solver::optimistic, false},    game_case{game_solver::optimistic, true},
    game_case{game_solver::extragradient, false}, game_case{game_solver::extragradient, true},
    game_case{game_solver::nash_md, false},       game_case{game_solver::nash_md, true}};

inline std::string game_case_name(game_case c) {
  constexpr std::array<const char*, 4> rules{"hedge", "optimistic_mwu", "extragradient",
                                             "nash_md"};
  return std::string(rules[static_cast<std::size_t>(c.rule)]) +
         (c.symmetric ? " (symmetric preference game)" : " (general game)");
}

// ---- running an algorithm on backend B -------------------------------------------------------

/// A host vector placed in B's memory space, and the span algorithms take.
template <class B, class U>
struct placed {
  decltype(placement<B>::upload(std::declval<const std::vector<U>&>())) storage;
  explicit placed(const std::vector<U>& v) : storage(placement<B>::upload(v)) {}
  [[nodiscard]] std::span<const U> span() const {
    return {storage.data(), static_cast<std::size_t>(storage.size())};
  }
};

template <class B>
std::vector<typename B::scalar_type> host_vector(const typename B::vector_type& v) {
  return B::to_host(v);
}

template <class B>
loss_outcome<typename B::scalar_type> outcome_of(const losses::preference_loss_result<B>& r) {
  loss_outcome<typename B::scalar_type> o;
  o.loss = r.loss;
  o.per_pair = host_vector<B>(r.per_pair);
  o.grad_chosen = host_vector<B>(r.grad_chosen);
  o.grad_rejected = host_vector<B>(r.grad_rejected);
  o.grad_nll = host_vector<B>(r.grad_nll);
  o.metrics = r.metrics.values();
  o.kl_baseline = r.context.kl_baseline;
  o.delta = r.context.delta;
  return o;
}

/// Calls f(loss policy, options) for the policy of case c (default hyper-parameters).
template <class T, class F>
decltype(auto) with_loss(loss_case c, F&& f) {
  namespace pl = prefopt::losses;
  pl::preference_loss_options<T> opt;
  switch (c) {
    case loss_case::sigmoid: return f(pl::sigmoid<T>(), opt);
    case loss_case::sigmoid_reference_free_sum:
      opt.reference_free = true;
      opt.reduce = pl::reduction::sum;
      return f(pl::sigmoid<T>(), opt);
    case loss_case::ipo: return f(pl::ipo<T>(), opt);
    case loss_case::kto: return f(pl::kto<T>(), opt);
    case loss_case::sppo: return f(pl::sppo<T>(), opt);
    case loss_case::orpo: return f(pl::orpo<T>(), opt);
    case loss_case::simpo: return f(pl::simpo<T>(), opt);
    case loss_case::aot: return f(pl::aot<T>(), opt);
    case loss_case::aot_unpaired: return f(pl::aot_unpaired<T>(), opt);
    case loss_case::bco: return f(pl::bco_pair<T>(), opt);
    case loss_case::rpo_given_nll: return f(pl::rpo<T>(), opt);
    case loss_case::sigmoid_plus_sft: break;
    case loss_case::sigmoid_kl_penalty:  // a policy wrapping a policy, in every backend's kernel
      return f(kl::with_kl_penalty(pl::sigmoid<T>(), T(0.2), kl::estimator::k3), opt);
  }
  return f(pl::weighted_sum<pl::sigmoid<T>, pl::sft<T>>({T(1), T(0.5)}, pl::sigmoid<T>(),
                                                        pl::sft<T>()),
           opt);
}

/// preference_loss<B> of case c on inputs placed in B's memory: the allocating form, or with
/// `kept` the reusing form writing into *kept.
template <class B>
loss_outcome<typename B::scalar_type> run_preference_loss(
    loss_case c, const loss_inputs<typename B::scalar_type>& h,
    losses::preference_loss_result<B>* kept = nullptr) {
  using T = typename B::scalar_type;
  const placed<B, T> cw(h.cw), cl(h.cl), rw(h.rw), rl(h.rl), nw(h.nw), nl(h.nl), pw(h.pw),
      pl(h.pl), kp(h.kp), kr(h.kr), nll(h.nll);
  const losses::preference_batch<T> batch{
      cw.span(), cl.span(), rw.span(), rl.span(), nw.span(), nl.span(), pw.span(), pl.span(),
      c == loss_case::rpo_given_nll ? nll.span() : std::span<const T>{}, kp.span(), kr.span()};
  return with_loss<T>(c, [&](const auto& loss, const auto& options) {
    if (kept == nullptr) return outcome_of<B>(losses::preference_loss<B>(loss, batch, options));
    losses::preference_loss<B>(loss, batch, *kept, options);
    return outcome_of<B>(*kept);
  });
}

/// The runtime registry on B: the TRL-style list "sigmoid,bco_pair,sft" with weights 1, ½, ¼,
/// dispatched through std::visit over every policy of the catalogue (each term keeps its own
/// batch coupling: BCO's running mean, sft's derived NLL).
template <class B>
loss_outcome<typename B::scalar_type> run_loss_list(const loss_inputs<typename B::scalar_type>& h) {
  using T = typename B::scalar_type;
  const placed<B, T> cw(h.cw), cl(h.cl), rw(h.rw), rl(h.rl), nw(h.nw);
  const losses::preference_batch<T> batch{cw.span(), cl.span(), rw.span(), rl.span(), nw.span()};
  const std::array<double, 3> weights{1.0, 0.5, 0.25};
  const auto list = losses::make_loss_list<T>("sigmoid,bco_pair,sft", weights, {.beta = 0.2});
  return outcome_of<B>(losses::preference_loss<B>(list, batch));
}

/// kto_loss<B> (unpaired KTO) over the chosen log-probs as M examples with desirable flags.
template <class B>
kto_outcome<typename B::scalar_type> run_kto_unpaired(const loss_inputs<typename B::scalar_type>& h) {
  using T = typename B::scalar_type;
  const placed<B, T> lp(h.cw), rp(h.rw), kp(h.kp), kr(h.kr);
  const placed<B, std::uint8_t> des(h.desirable);
  const auto r = losses::kto_loss<B>(losses::kto<T>(T(0.1), T(1.0), T(1.33)),
                                     {lp.span(), rp.span(), des.span(), kp.span(), kr.span()});
  return {r.loss, r.kl_baseline, r.rewards_chosen, r.rewards_rejected,
          host_vector<B>(r.per_example), host_vector<B>(r.grad), r.desirable_count};
}

/// Chosen and rejected token batches for preference_loss_from_logits (3 pairs, masked, shifted).
template <class T>
struct logits_inputs {
  token_batch<T> chosen{3, 7, 517, true, true, 71};
  token_batch<T> rejected{3, 5, 517, true, true, 83};
  loss_inputs<T> extras = make_loss_inputs<T>(3, 97);
};

/// preference_loss_from_logits<B> of case c: logits, labels, masks and every extra input in B's
/// memory.
template <class B>
logits_outcome<typename B::scalar_type> run_from_logits(loss_case c,
                                                        const logits_inputs<typename B::scalar_type>& h) {
  using T = typename B::scalar_type;
  const uploaded_batch<B, T, std::int64_t> dw(h.chosen), dl(h.rejected);
  const placed<B, T> rw(h.extras.rw), rl(h.extras.rl), pw(h.extras.pw), pl(h.extras.pl),
      kp(h.extras.kp), kr(h.extras.kr);
  const losses::preference_logits<T, std::int64_t, std::uint8_t, typename B::memory_space> in{
      dw.lv,     dw.lb,     dw.mk,     dl.lv,     dl.lb,     dl.mk,
      rw.span(), rl.span(), pw.span(), pl.span(), kp.span(), kr.span()};
  sequence_logps_options seq;
  seq.layout = h.chosen.layout;
  return with_loss<T>(c, [&](const auto& loss, const auto& options) {
    const auto r = losses::preference_loss_from_logits<B>(loss, in, options, seq);
    return logits_outcome<T>{outcome_of<B>(r.pairs), host_vector<B>(r.chosen.sum),
                             host_vector<B>(r.rejected.sum),
                             download_matrix<B>(r.grad_chosen_logits),
                             download_matrix<B>(r.grad_rejected_logits)};
  });
}

/// A random n x n preference matrix (P_ji = 1 − P_ij, diagonal ½).
template <class T>
prefmodel::preference_matrix<T> make_preferences(index_t n, std::uint32_t seed) {
  prefopt_test::bits_rng gen(seed);
  std::vector<T> p(static_cast<std::size_t>(n * n), T(0.5));
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i + 1; j < n; ++j) {
      const T v = static_cast<T>(gen.uniform());
      p[static_cast<std::size_t>(i * n + j)] = v;
      p[static_cast<std::size_t>(j * n + i)] = T(1) - v;
    }
  return prefmodel::preference_matrix<T>(n, std::move(p));
}

/// `count` payoffs of shape rows x cols with entries uniform in [−1, 1], back to back.
template <class T>
std::vector<T> make_payoffs(index_t count, index_t rows, index_t cols, std::uint32_t seed) {
  prefopt_test::bits_rng gen(seed);
  std::vector<T> a(static_cast<std::size_t>(count * rows * cols));
  for (auto& x : a) x = static_cast<T>(gen.uniform(-1.0, 1.0));
  return a;
}

/// A general 5 x 7 zero-sum game or a symmetric 6 x 6 preference game (payoff P − ½).
template <class T>
game::matrix_game<T> make_game(bool symmetric, std::uint32_t seed) {
  if (symmetric) return game::matrix_game<T>::from_preferences(make_preferences<T>(6, seed));
  return game::matrix_game<T>(5, 7, make_payoffs<T>(1, 5, 7, seed));
}

/// 9 general 4 x 5 games, or 5 symmetric 6 x 6 preference games.
template <class T>
game::matrix_game_batch<T> make_game_batch(bool symmetric) {
  if (!symmetric) return game::matrix_game_batch<T>(9, 4, 5, make_payoffs<T>(9, 4, 5, 11));
  std::vector<prefmodel::preference_matrix<T>> ps;
  for (std::uint32_t s = 0; s < 5; ++s) ps.push_back(make_preferences<T>(6, 100 + s));
  return game::matrix_game_batch<T>::from_preferences(ps);
}

/// μ_i ∝ i + 1: a non-uniform reference strategy of k entries.
inline std::vector<double> ramp_reference(index_t k) {
  std::vector<double> mu(static_cast<std::size_t>(k));
  for (index_t i = 0; i < k; ++i) mu[static_cast<std::size_t>(i)] = 2.0 * (i + 1) / (k * (k + 1.0));
  return mu;
}

/// Calls f(policy) for the iterative policy of the case, on m x n games. nash_md starts at a
/// non-uniform reference (each player its own in a general game), λ = 0.5.
template <class F>
decltype(auto) with_policy(game_case c, index_t m, index_t n, double eta, index_t iters,
                           index_t trace_every, F&& f) {
  switch (c.rule) {
    case game_solver::nash_md: {
      game::nash_md p{.eta = eta, .iters = iters, .trace_every = trace_every,
                      .rule = {.lambda = 0.5}, .reference = ramp_reference(m),
                      .start = game::mirror_start::reference};
      if (!c.symmetric) p.col_reference = ramp_reference(n);
      return f(p);
    }
    case game_solver::hedge:
      return f(game::hedge{.eta = eta, .iters = iters, .trace_every = trace_every});
    case game_solver::optimistic:
      return f(game::optimistic_mwu{.eta = eta, .iters = iters, .trace_every = trace_every});
    case game_solver::extragradient: break;
  }
  return f(game::extragradient{.eta = eta, .iters = iters, .trace_every = trace_every});
}

/// solve<B> on one game: 400 iterations, step 0.2, a trace every 50 iterations. With
/// `payoff_in_backend` the payoff is first placed in B's memory and the zero-copy overload
/// solve<B>(policy, B::matrix_type, symmetric, offset) is called.
template <class B>
game_outcome<typename B::scalar_type> run_solve(game_case c, bool payoff_in_backend = false) {
  using T = typename B::scalar_type;
  const auto g = make_game<T>(c.symmetric, 7);
  return with_policy(c, g.rows(), g.cols(), 0.2, 400, 50, [&](const auto& policy) {
    const auto r =
        payoff_in_backend
            ? game::solve<B>(policy,
                             game::detail::upload_matrix<B>(g.rows(), g.cols(),
                                                            std::span<const T>(g.values())),
                             g.symmetric(), g.value_offset())
            : game::solve<B>(policy, g);
    return game_outcome<T>{host_vector<B>(r.last.row_strategy),
                           host_vector<B>(r.last.col_strategy),
                           host_vector<B>(r.average.row_strategy),
                           host_vector<B>(r.average.col_strategy),
                           {r.last.exploitability},
                           {r.average.exploitability},
                           {r.last.value},
                           {r.average.value},
                           {r.last.regularised_exploitability},
                           {r.average.regularised_exploitability},
                           r.trace_last,
                           r.trace_average};
  });
}

/// solve_batch<B> on make_game_batch: 400 iterations, step 0.2.
template <class B>
game_outcome<typename B::scalar_type> run_solve_batch(game_case c) {
  using T = typename B::scalar_type;
  const auto games = make_game_batch<T>(c.symmetric);
  return with_policy(c, games.rows(), games.cols(), 0.2, 400, 0, [&](const auto& policy) {
    const auto r = game::solve_batch<B>(policy, games);
    return game_outcome<T>{download_matrix<B>(r.last.row_strategy),
                           download_matrix<B>(r.last.col_strategy),
                           download_matrix<B>(r.average.row_strategy),
                           download_matrix<B>(r.average.col_strategy),
                           host_vector<B>(r.last.exploitability),
                           host_vector<B>(r.average.exploitability),
                           host_vector<B>(r.last.value),
                           host_vector<B>(r.average.value),
                           host_vector<B>(r.last.regularised_exploitability),
                           host_vector<B>(r.average.regularised_exploitability),
                           {},
                           {}};
  });
}

// ---- the Eigen side (algorithm_reference.cpp) -------------------------------------------------

template <class T>
loss_outcome<T> eigen_preference_loss(loss_case c, const loss_inputs<T>& h);
template <class T>
loss_outcome<T> eigen_loss_list(const loss_inputs<T>& h);
template <class T>
kto_outcome<T> eigen_kto_unpaired(const loss_inputs<T>& h);
template <class T>
logits_outcome<T> eigen_from_logits(loss_case c, const logits_inputs<T>& h);
template <class T>
game_outcome<T> eigen_solve(game_case c);
template <class T>
game_outcome<T> eigen_solve_batch(game_case c);

// ---- comparisons -----------------------------------------------------------------------------

struct tolerances {
  double rel, abs;
};

template <class T>
constexpr tolerances loss_tolerance{std::is_same_v<T, float> ? 1e-5 : 1e-12,
                                    std::is_same_v<T, float> ? 1e-6 : 1e-13};
template <class T>
constexpr tolerances logits_tolerance{std::is_same_v<T, float> ? 1e-4 : 1e-10,
                                      std::is_same_v<T, float> ? 1e-5 : 1e-12};
template <class T>
constexpr tolerances game_tolerance{0.0, std::is_same_v<T, float> ? 2e-4 : 1e-9};

template <class T>
void check_close(const std::string& what, T got, T want, tolerances tol) {
  INFO(what << ": got " << got << ", Eigen " << want);
  CHECK(std::fabs(static_cast<double>(got) - static_cast<double>(want)) <=
        tol.abs + tol.rel * std::fabs(static_cast<double>(want)));
}

template <class T>
void check_close(const std::string& what, const std::vector<T>& got, const std::vector<T>& want,
                 tolerances tol) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i])) <=
          tol.abs + tol.rel * std::fabs(static_cast<double>(want[i])))) {
      if (bad++ == 0) check_close(what + "[" + std::to_string(i) + "]", got[i], want[i], tol);
    }
  INFO(what << ": " << bad << " of " << got.size() << " entries outside tolerance");
  CHECK(bad == 0);
}

template <class T>
void check_loss_outcome(const std::string& what, const loss_outcome<T>& got,
                        const loss_outcome<T>& want, tolerances tol) {
  check_close(what + " loss", got.loss, want.loss, tol);
  check_close(what + " per_pair", got.per_pair, want.per_pair, tol);
  check_close(what + " grad_chosen", got.grad_chosen, want.grad_chosen, tol);
  check_close(what + " grad_rejected", got.grad_rejected, want.grad_rejected, tol);
  check_close(what + " grad_nll", got.grad_nll, want.grad_nll, tol);
  for (std::size_t k = 0; k < 6; ++k)
    check_close(what + " " + std::string(losses::preference_metrics<T>::names[k]),
                got.metrics[k], want.metrics[k], tol);
  check_close(what + " kl_baseline", got.kl_baseline, want.kl_baseline, tol);
  check_close(what + " delta", got.delta, want.delta, tol);
}

/// preference_loss<B> agrees with Eigen for every loss case (N = 300: more than one CUDA block).
template <class B>
void check_preference_losses_match_eigen() {
  using T = typename B::scalar_type;
  const auto in = make_loss_inputs<T>(300, 5);
  for (const loss_case c : all_loss_cases) {
    const std::string what = loss_case_name(c);
    INFO("loss " << what);
    const auto want = eigen_preference_loss<T>(c, in);
    REQUIRE(std::isfinite(static_cast<double>(want.loss)));
    REQUIRE(want.grad_nll.size() == (c == loss_case::rpo_given_nll ? 300u : 0u));
    check_loss_outcome(what, run_preference_loss<B>(c, in), want, loss_tolerance<T>);
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}
template <std::floating_point T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Bit for bit: the reusing preference_loss and the allocating one run the same code (the
/// allocating form hands a fresh result to the reusing one), so a difference can only be a field
/// or an element the reusing form failed to rewrite, i.e. a stale value of the previous call.
template <class T>
void check_same_bits(const loss_outcome<T>& got, const loss_outcome<T>& fresh) {
  CHECK(same_bits(got.loss, fresh.loss));
  CHECK(same_bits(got.per_pair, fresh.per_pair));
  CHECK(same_bits(got.grad_chosen, fresh.grad_chosen));
  CHECK(same_bits(got.grad_rejected, fresh.grad_rejected));
  CHECK(same_bits(got.grad_nll, fresh.grad_nll));
  for (std::size_t k = 0; k < 6; ++k) CHECK(same_bits(got.metrics[k], fresh.metrics[k]));
  CHECK(same_bits(got.kl_baseline, fresh.kl_baseline));
  CHECK(same_bits(got.delta, fresh.delta));
}

/// The reusing preference_loss<B>: one result kept across every loss case (grad_nll going from
/// 0 to N and back, KTO's and BCO's context set and cleared), each case run twice (the second
/// time every buffer has its size and is overwritten in place, not reallocated), first at
/// N = 300, then at N = 301 (every buffer replaced), then after a rejected batch. Each result
/// equals the allocating form's bit for bit and Eigen's within the tolerance of
/// check_preference_losses_match_eigen.
template <class B>
void check_reused_result_matches_allocating() {
  using T = typename B::scalar_type;
  losses::preference_loss_result<B> kept;
  for (const std::size_t n : {std::size_t{300}, std::size_t{301}}) {
    const auto in = make_loss_inputs<T>(n, 5);
    for (const loss_case c : all_loss_cases) {
      const std::string what = loss_case_name(c);
      INFO("loss " << what << ", N = " << n);
      const auto want = eigen_preference_loss<T>(c, in);
      const auto fresh = run_preference_loss<B>(c, in);
      for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        const T* per_pair = B::data(kept.per_pair);
        const T* grad_chosen = B::data(kept.grad_chosen);
        // The host fields poisoned: the call must write them (the buffers are checked by the
        // comparison with the allocating form: a stale element is the previous case's value).
        const T nan = std::numeric_limits<T>::quiet_NaN();
        kept.loss = nan;
        kept.metrics = {nan, nan, nan, nan, nan, nan};
        kept.context = {nan, nan};
        const auto got = run_preference_loss<B>(c, in, &kept);
        check_same_bits(got, fresh);
        check_loss_outcome(what, got, want, loss_tolerance<T>);
        // Matching sizes: written in place. (AOT's sorted values are computed on the host; a
        // backend outside host memory receives them through B::from_host, a new buffer.)
        const bool sorted = c == loss_case::aot || c == loss_case::aot_unpaired;
        if (round == 1 && (host_accessible<B> || !sorted)) {
          CHECK(B::data(kept.per_pair) == per_pair);
          CHECK(B::data(kept.grad_chosen) == grad_chosen);
        }
      }
    }
  }
  // A rejected batch: the allocating form's error; the kept result stays usable.
  auto bad = make_loss_inputs<T>(301, 5);
  bad.cl[150] = std::numeric_limits<T>::quiet_NaN();
  for (const loss_case c : {loss_case::sigmoid, loss_case::kto, loss_case::aot}) {
    INFO("loss " << loss_case_name(c));
    CHECK_THROWS_AS(run_preference_loss<B>(c, bad, &kept), prefopt::invalid_argument);
    CHECK_THROWS_WITH(run_preference_loss<B>(c, bad, &kept), Catch::Contains("rejected_logps[150]"));
    const auto good = make_loss_inputs<T>(301, 5);
    check_same_bits(run_preference_loss<B>(c, good, &kept), run_preference_loss<B>(c, good));
  }
}

template <class B>
void check_loss_list_matches_eigen() {
  using T = typename B::scalar_type;
  const auto in = make_loss_inputs<T>(300, 13);
  const auto want = eigen_loss_list<T>(in);
  REQUIRE(want.delta != T(0));  // the BCO term's running mean took part
  check_loss_outcome("loss list", run_loss_list<B>(in), want, loss_tolerance<T>);
}

/// Validation throws the same exception wherever the inputs live (checked on the host first).
template <class B>
void check_preference_loss_validation() {
  using T = typename B::scalar_type;
  auto in = make_loss_inputs<T>(8, 6);
  in.cl[5] = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_WITH(run_preference_loss<B>(loss_case::sigmoid, in),
                    Catch::Contains("rejected_logps[5]"));
  in = make_loss_inputs<T>(8, 6);
  in.pw[2] = T(1.5);
  CHECK_THROWS_WITH(run_preference_loss<B>(loss_case::sppo, in),
                    Catch::Contains("chosen_win_rates[2]"));
  in = make_loss_inputs<T>(8, 6);
  in.cw[3] = T(0.25);
  CHECK_THROWS_WITH(run_preference_loss<B>(loss_case::orpo, in),
                    Catch::Contains("chosen_logps[3]"));
}

template <class B>
void check_kto_unpaired_matches_eigen() {
  using T = typename B::scalar_type;
  const auto in = make_loss_inputs<T>(257, 9);
  const auto want = eigen_kto_unpaired<T>(in);
  const auto got = run_kto_unpaired<B>(in);
  constexpr auto tol = loss_tolerance<T>;
  check_close("kto loss", got.loss, want.loss, tol);
  check_close("kto per_example", got.per_example, want.per_example, tol);
  check_close("kto grad", got.grad, want.grad, tol);
  check_close("kto kl_baseline", got.kl_baseline, want.kl_baseline, tol);
  check_close("kto rewards_chosen", got.rewards_chosen, want.rewards_chosen, tol);
  check_close("kto rewards_rejected", got.rewards_rejected, want.rewards_rejected, tol);
  CHECK(got.desirable_count == want.desirable_count);
  CHECK(want.kl_baseline > T(0));  // the baseline is exercised, not clamped away
}

/// End to end from logits for a reference-based, an NLL + per-token-mean and a KL-baseline loss.
template <class B>
void check_from_logits_matches_eigen() {
  using T = typename B::scalar_type;
  const logits_inputs<T> in;
  for (const loss_case c : {loss_case::sigmoid, loss_case::orpo, loss_case::kto}) {
    const std::string what = loss_case_name(c);
    INFO("loss " << what);
    const auto want = eigen_from_logits<T>(c, in);
    const auto got = run_from_logits<B>(c, in);
    constexpr auto tol = logits_tolerance<T>;
    check_close(what + " chosen sums", got.chosen_sum, want.chosen_sum, tol);
    check_close(what + " rejected sums", got.rejected_sum, want.rejected_sum, tol);
    check_loss_outcome(what, got.pairs, want.pairs, tol);
    check_close(what + " dL/dchosen_logits", got.grad_chosen_logits, want.grad_chosen_logits, tol);
    check_close(what + " dL/drejected_logits", got.grad_rejected_logits,
                want.grad_rejected_logits, tol);
  }
}

template <class T>
void check_game_outcome(const std::string& what, const game_outcome<T>& got,
                        const game_outcome<T>& want) {
  constexpr auto tol = game_tolerance<T>;
  check_close(what + " row", got.row, want.row, tol);
  check_close(what + " col", got.col, want.col, tol);
  check_close(what + " row_average", got.row_average, want.row_average, tol);
  check_close(what + " col_average", got.col_average, want.col_average, tol);
  check_close(what + " exploitability_last", got.exploitability_last, want.exploitability_last, tol);
  check_close(what + " exploitability_average", got.exploitability_average,
              want.exploitability_average, tol);
  check_close(what + " value_last", got.value_last, want.value_last, tol);
  check_close(what + " value_average", got.value_average, want.value_average, tol);
  check_close(what + " regularised_last", got.regularised_last, want.regularised_last, tol);
  check_close(what + " regularised_average", got.regularised_average, want.regularised_average,
              tol);
  check_close(what + " trace_last", got.trace_last, want.trace_last, tol);
  check_close(what + " trace_average", got.trace_average, want.trace_average, tol);
}

template <class B>
void check_solve_matches_eigen() {
  using T = typename B::scalar_type;
  for (const game_case c : all_game_cases) {
    const std::string what = game_case_name(c);
    INFO("solver " << what);
    const auto want = eigen_solve<T>(c);
    REQUIRE(want.trace_last.size() == 9);  // t = 0, 50, ..., 350 and 400
    const auto got = run_solve<B>(c);
    check_game_outcome(what, got, want);
    // The zero-copy overload runs the same dynamics on the same payoff: identical results.
    const auto zero_copy = run_solve<B>(c, true);
    CHECK(zero_copy.row == got.row);
    CHECK(zero_copy.row_average == got.row_average);
    CHECK(zero_copy.value_average == got.value_average);
    CHECK(zero_copy.trace_average == got.trace_average);
  }
}

template <class B>
void check_solve_batch_matches_eigen() {
  using T = typename B::scalar_type;
  for (const game_case c : all_game_cases) {
    const std::string what = game_case_name(c) + " batch";
    INFO("solver " << what);
    check_game_outcome(what, run_solve_batch<B>(c), eigen_solve_batch<T>(c));
  }
}

}  // namespace prefopt::testing
