#pragma once
// KTO on unpaired data (TRL KTOTrainer): M examples, each desirable or undesirable, plus the
// log-probs of mismatched (prompt, completion) pairs for the KL baseline z0. The reduced loss is
// the mean (or sum) over the M examples, exactly TRL's loss over its concatenation
// [lambda_D * desirable losses, lambda_U * undesirable losses].
//
//   auto out = prefopt::losses::kto_loss<B>(kto, {policy, reference, desirable, kl_pol, kl_ref});
//
// The paired batch API (preference_loss with a kto policy) is the special case where every pair
// contributes one desirable and one undesirable example.
//
// Every span, the desirable flags included, is in B's memory space: device pointers for
// prefopt::cuda::backend (validation and the per-group metrics read them back to the host).
// Each is checked by B::require_accessible first, so a host buffer there is an invalid_argument
// naming it.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/losses/kto.hpp"
#include "prefopt/losses/preference_loss.hpp"

namespace prefopt::losses {

template <class T>
struct kto_batch {
  std::span<const T> policy_logps{};            // [M] summed completion log-probs
  std::span<const T> ref_logps{};               // [M] or empty (reference-free)
  std::span<const std::uint8_t> desirable{};    // [M] non-zero = desirable ("chosen") example
  std::span<const T> kl_policy_logps{};         // [K] mismatched pairs (K >= 1)
  std::span<const T> kl_ref_logps{};            // [K]
};

template <class B>
struct kto_result {
  using T = typename B::scalar_type;
  T loss = T(0);
  typename B::vector_type per_example;  // weighted per-example losses
  typename B::vector_type grad;         // d(loss)/d(policy_logps)
  T kl_baseline = T(0);                 // z0 used
  T rewards_chosen = T(0);              // mean beta r over desirable examples (0 if none)
  T rewards_rejected = T(0);            // mean beta r over undesirable examples (0 if none)
  index_t desirable_count = 0;
};

template <class B>
kto_result<B> kto_loss(const kto<typename B::scalar_type>& loss,
                       const kto_batch<typename B::scalar_type>& in,
                       const preference_loss_options<typename B::scalar_type>& options = {}) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  const std::size_t m = in.policy_logps.size();
  // Spans carry no memory space: check each before a kernel reads it (core/concepts.hpp).
  prefopt::require_accessible<B>("policy_logps", in.policy_logps);
  prefopt::require_accessible<B>("ref_logps", in.ref_logps);
  prefopt::require_accessible<B>("desirable", in.desirable);
  prefopt::require_accessible<B>("kl_policy_logps", in.kl_policy_logps);
  prefopt::require_accessible<B>("kl_ref_logps", in.kl_ref_logps);
  require(m >= 2, "policy_logps.size()", m,
          "KTO needs a batch of at least 2 examples (the KL baseline uses mismatched pairs)");
  require_same_size("desirable.size()", static_cast<long long>(in.desirable.size()),
                    "policy_logps.size()", static_cast<long long>(m));
  const bool use_reference = !options.reference_free;
  if (use_reference) {
    detail::require_batch_span("ref_logps", in.ref_logps, m,
                               "reference log-probs (or options.reference_free = true)");
  }
  const auto finite = [](T v) { return std::isfinite(v); };
  const auto policy = detail::host_copy<B>(in.policy_logps);
  detail::require_each("policy_logps", policy, finite, "must be finite");
  auto ref = use_reference ? detail::host_copy<B>(in.ref_logps) : detail::host_array<T>::zeros(m);
  if (use_reference) detail::require_each("ref_logps", ref, finite, "must be finite");

  kto_result<B> out;
  out.kl_baseline = detail::kl_baseline<B>(in.kl_policy_logps, in.kl_ref_logps, options.kl_baseline);
  const T scale = options.reduce == reduction::mean ? T(1) / static_cast<T>(m) : T(1);
  const auto n = static_cast<index_t>(m);
  auto r = use_reference ? B::zeros(0) : B::zeros(n);  // zeros stand in for a missing reference
  out.per_example = B::zeros(n);
  out.grad = B::zeros(n);
  T *per = B::data(out.per_example), *g = B::data(out.grad);
  const T* lp = in.policy_logps.data();
  const T* rp = use_reference ? in.ref_logps.data() : B::data(r);
  const std::uint8_t* des = in.desirable.data();
  const T z0 = out.kl_baseline;
  const kto<T> k = loss;
  B::for_each(n, [=] PREFOPT_HD(index_t i) {
    const T reward = lp[i] - rp[i];
    const auto v = des[i] != 0 ? k.desirable(reward, z0) : k.undesirable(reward, z0);
    per[i] = v.value;
    g[i] = scale * v.slope;
  });
  out.loss = B::sum(out.per_example) * scale;

  // Metrics per group, on the host copies (TRL logs them separately).
  double sum_d = 0, sum_u = 0;
  index_t nd = 0;
  std::vector<std::uint8_t> host_flags(m);
  {
    auto tmp = B::zeros(n);
    T* t = B::data(tmp);
    B::for_each(n, [=] PREFOPT_HD(index_t i) { t[i] = des[i] != 0 ? T(1) : T(0); });
    const auto h = B::to_host(tmp);
    for (std::size_t i = 0; i < m; ++i) host_flags[i] = h[i] != T(0);
  }
  for (std::size_t i = 0; i < m; ++i) {
    const double reward = static_cast<double>(loss.beta()) * (static_cast<double>(policy[i]) - ref[i]);
    if (host_flags[i]) {
      sum_d += reward;
      ++nd;
    } else {
      sum_u += reward;
    }
  }
  out.desirable_count = nd;
  out.rewards_chosen = nd > 0 ? static_cast<T>(sum_d / static_cast<double>(nd)) : T(0);
  out.rewards_rejected =
      n - nd > 0 ? static_cast<T>(sum_u / static_cast<double>(n - nd)) : T(0);
  return out;
}

}  // namespace prefopt::losses
