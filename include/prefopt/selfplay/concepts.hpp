#pragma once
// The two roles of a self-play loop, as concepts a real model can satisfy.
//
//   Policy            π(y | x): samples K responses to a prompt with a caller-seeded generator,
//                     gives the sequence log-probabilities log π(y | x) of given responses, and
//                     takes one optimiser step from the loss's derivatives dL/d log π(y | x).
//                     For a language model: sample = generate, log_probs = summed token log-probs
//                     (prefopt::sequence_logps), step = backpropagate dL/dlogp through
//                     sequence_logps_backward and the network, then the optimiser's update.
//   PreferenceOracle  P(y ≻ y' | x) for a batch of response pairs (a reward model, PairRM, a
//                     judge, or an exact preference matrix in the toy environments).
//
// EnumerablePolicy adds what the game metrics need in small environments: the finite response
// set of a prompt and the whole distribution π(· | x) over it.

#include <concepts>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "prefopt/config.hpp"

namespace prefopt::selfplay {

/// One response pair of a prompt, for an oracle query: is `first` preferred to `second`?
template <class Response>
struct response_pair {
  Response first;
  Response second;
};

/// The loss's derivative with respect to one response's sequence log-probability.
template <class Prompt, class Response>
struct logp_gradient {
  Prompt prompt;
  Response response;
  double d_logp;  // dL / d log π(response | prompt)
};

template <class P>
concept Policy = requires(P& policy, const P& cpolicy, const typename P::prompt_type& x,
                          std::span<const typename P::response_type> ys, index_t k,
                          std::mt19937_64& rng,
                          std::span<const logp_gradient<typename P::prompt_type,
                                                        typename P::response_type>> grads) {
  typename P::prompt_type;
  typename P::response_type;
  { cpolicy.sample(x, k, rng) } -> std::same_as<std::vector<typename P::response_type>>;
  { cpolicy.log_probs(x, ys) } -> std::same_as<std::vector<double>>;
  { policy.step(grads) };
  { policy.reset_optimizer() };  // a fresh optimiser state (each self-play iteration starts one)
};

/// A policy over a finite response set 0 .. num_responses(x) - 1 whose distribution can be read.
template <class P>
concept EnumerablePolicy =
    Policy<P> && std::same_as<typename P::response_type, index_t> &&
    requires(const P& policy, const typename P::prompt_type& x) {
      { policy.num_responses(x) } -> std::convertible_to<index_t>;
      { policy.distribution(x) } -> std::same_as<std::vector<double>>;
    };

template <class O>
concept PreferenceOracle =
    requires(const O& oracle, const typename O::prompt_type& x,
             std::span<const response_pair<typename O::response_type>> pairs) {
      typename O::prompt_type;
      typename O::response_type;
      { oracle.probabilities(x, pairs) } -> std::same_as<std::vector<double>>;
    };

}  // namespace prefopt::selfplay
