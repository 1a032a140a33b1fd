#pragma once
// The batch API: any loss policy over a batch of pairs on any prefopt::Backend.
//
//   auto out = prefopt::losses::preference_loss<B>(loss, batch, options);
//   prefopt::losses::preference_loss<B>(loss, batch, out, options);   // reuses out's buffers
//   out.loss                         reduced loss (mean over pairs by default, or sum)
//   out.per_pair                     per-pair losses (aot / aot_unpaired: per sorted position)
//   out.grad_chosen / grad_rejected  d(out.loss)/d(chosen_logps) and /d(rejected_logps)
//   out.grad_nll                     d(out.loss)/d(chosen_nll) when chosen_nll was passed
//   out.metrics                      the TRL log: rewards/chosen, rewards/rejected,
//                                    rewards/margins, rewards/accuracies, logps/chosen,
//                                    logps/rejected
//
// Inputs are non-owning spans in B's memory space, so tensors held by PyTorch or NumPy are never
// copied: host memory for Eigen and xtensor, DEVICE pointers for prefopt::cuda::backend (e.g. a
// CUDA tensor's data_ptr() wrapped in a std::span). A span carries no memory space in its type,
// so every span is checked by B::require_accessible before the first kernel reads it (CUDA:
// cudaPointerGetAttributes): a host pointer handed to the CUDA backend is an invalid_argument
// naming the field, e.g. "rejected_logps", and the CUDA context stays usable. The per-pair work runs in one B::for_each with a PREFOPT_HD
// lambda. Validation reads the inputs back to the host first (device code cannot throw): backends
// that are not prefopt::host_accessible pay one device-to-host copy per input span. Batch
// couplings are computed on the host and passed to the kernel as constants: KTO's z0, BCO's
// delta; AOT's sort runs on the host (a device backend would need a sort primitive), so on CUDA an
// aot / aot_unpaired call also uploads its per-pair values and gradients. Results (per_pair, gradients) are B vectors, in
// device memory on CUDA; loss, metrics and context are host scalars.

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "prefopt/config.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/detail/parallel.hpp"
#include "prefopt/detail/simd.hpp"
#include "prefopt/losses/combination.hpp"
#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/pair.hpp"

namespace prefopt::losses {

enum class reduction { mean, sum };

/// Per-sequence inputs of a batch of N pairs (spans in B's memory space). Optional spans are
/// empty when not supplied.
template <class T>
struct preference_batch {
  std::span<const T> chosen_logps{};        // [N] policy, summed over completion tokens
  std::span<const T> rejected_logps{};      // [N]
  std::span<const T> ref_chosen_logps{};    // [N] or empty (reference-free)
  std::span<const T> ref_rejected_logps{};  // [N] or empty
  std::span<const T> chosen_tokens{};       // [N] completion token counts (losses using means)
  std::span<const T> rejected_tokens{};     // [N]
  std::span<const T> chosen_win_rates{};    // [N] sppo
  std::span<const T> rejected_win_rates{};  // [N] sppo
  std::span<const T> chosen_nll{};          // [N] or empty: then NLL = -chosen_logps / chosen_tokens
  std::span<const T> kl_policy_logps{};     // [M] KTO: mismatched (prompt, completion) pairs
  std::span<const T> kl_ref_logps{};        // [M]
};

/// BCO's running mean of the batch-mean reward (TRL RunningMoments with one scalar per step).
struct bco_running_mean {
  double mean = 0.0;
  long long count = 0;
  void update(double batch_mean) {
    ++count;
    mean += (batch_mean - mean) / static_cast<double>(count);
  }
};

template <class T>
struct preference_loss_options {
  reduction reduce = reduction::mean;
  bool reference_free = false;               // treat the reference log-probs as 0
  bco_running_mean* bco_state = nullptr;     // BCO: updated in place; nullptr = a fresh state
  std::optional<T> kl_baseline;              // KTO: this z0 instead of the mismatched pairs
  // Host backends, DPO (sigmoid) in float: threads for the fused batch kernel (0 = hardware
  // concurrency). Results do not depend on it: pairs are cut into fixed blocks whose sums are
  // combined in block order.
  int threads = 0;
};

/// Metrics as TRL logs them (means over the batch).
template <class T>
struct preference_metrics {
  T rewards_chosen = T(0);      // mean beta r_w
  T rewards_rejected = T(0);    // mean beta r_l
  T rewards_margins = T(0);     // mean beta (r_w - r_l)
  T rewards_accuracies = T(0);  // share of pairs with r_w > r_l (strict)
  T logps_chosen = T(0);        // mean l_w
  T logps_rejected = T(0);      // mean l_l
  static constexpr std::array<std::string_view, 6> names{
      "rewards/chosen", "rewards/rejected", "rewards/margins",
      "rewards/accuracies", "logps/chosen", "logps/rejected"};
  [[nodiscard]] std::array<T, 6> values() const {
    return {rewards_chosen, rewards_rejected, rewards_margins,
            rewards_accuracies, logps_chosen, logps_rejected};
  }
};

template <class B>
struct preference_loss_result {
  using T = typename B::scalar_type;
  T loss = T(0);
  typename B::vector_type per_pair;
  typename B::vector_type grad_chosen;
  typename B::vector_type grad_rejected;
  typename B::vector_type grad_nll;  // size N when batch.chosen_nll was given, else 0
  preference_metrics<T> metrics;
  batch_context<T> context;          // z0 / delta actually used
};

namespace detail {

// prefopt::host_accessible<B> (core/concepts.hpp): validation and the host-side batch steps
// read the caller's buffers in place.

/// Host-readable values of a span in B's memory space: the span itself for host-accessible
/// backends, otherwise an owned copy.
template <class T>
struct host_array {
  std::vector<T> storage;
  std::span<const T> view;
  [[nodiscard]] std::size_t size() const { return view.size(); }
  const T& operator[](std::size_t i) const { return view[i]; }
  static host_array zeros(std::size_t n) {
    host_array a;
    a.storage.assign(n, T(0));
    a.view = a.storage;
    return a;
  }
  host_array() = default;
  host_array(const host_array& o) : storage(o.storage), view(o.storage.empty() ? o.view : storage) {}
  // A moved vector keeps its buffer, so the view stays valid.
  host_array(host_array&& o) noexcept : storage(std::move(o.storage)), view(o.view) {}
  host_array& operator=(host_array&& o) noexcept {
    storage = std::move(o.storage);
    view = o.view;
    return *this;
  }
  host_array& operator=(const host_array& o) {
    storage = o.storage;
    view = o.storage.empty() ? o.view : std::span<const T>(storage);
    return *this;
  }
};

template <class B>
host_array<typename B::scalar_type> host_copy(std::span<const typename B::scalar_type> s) {
  using T = typename B::scalar_type;
  host_array<T> out;
  if constexpr (host_accessible<B>) {
    out.view = s;
  } else {
    const index_t n = static_cast<index_t>(s.size());
    auto v = B::zeros(n);
    T* dst = B::data(v);
    const T* src = s.data();
    B::for_each(n, [=] PREFOPT_HD(index_t i) { dst[i] = src[i]; });
    out.storage = B::to_host(v);
    out.view = out.storage;
  }
  return out;
}

template <class Values, class Pred>
void require_each(std::string_view name, const Values& values, Pred ok,
                  std::string_view requirement) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!ok(values[i]))
      throw_invalid_argument(std::string(name) + "[" + std::to_string(i) + "]", values[i],
                             requirement);
}

template <class T>
void require_batch_span(std::string_view name, std::span<const T> s, std::size_t n,
                        std::string_view why) {
  if (s.empty())
    throw_invalid_argument(name, "empty", std::string("required: ") + std::string(why));
  require_same_size(std::string(name) + ".size()", static_cast<long long>(s.size()),
                    "chosen_logps.size()", static_cast<long long>(n));
}

template <class T>
void require_optional_span(std::string_view name, std::span<const T> s, std::size_t n) {
  if (!s.empty())
    require_same_size(std::string(name) + ".size()", static_cast<long long>(s.size()),
                      "chosen_logps.size()", static_cast<long long>(n));
}

// The beta that defines BCO's rewards, also inside a combination.
template <class L>
typename L::scalar_type running_mean_beta(const L& loss) {
  if constexpr (L::traits.batch == coupling::running_mean) return loss.reward_scale();
  return typename L::scalar_type(0);
}
template <class L0, class... Ls>
typename L0::scalar_type running_mean_beta(const weighted_sum<L0, Ls...>& loss) {
  using T = typename L0::scalar_type;
  T beta = T(0);
  std::apply(
      [&](const auto&... l) {
        ((beta = (beta == T(0) && needs_coupling<std::decay_t<decltype(l)>>::running_mean)
                     ? l.reward_scale()
                     : beta),
         ...);
      },
      loss.losses());
  return beta;
}

/// Host copies of every input the loss reads, validated.
template <class T>
struct host_batch {
  host_array<T> cw, cl, rw, rl, nw, nl;
};

/// The size checks of validate_batch (no element is read).
template <class L, class T>
void validate_batch_sizes(const preference_batch<T>& in, bool use_reference) {
  constexpr loss_traits tr = L::traits;
  const std::size_t n = in.chosen_logps.size();
  require(n >= 1, "chosen_logps.size()", n, "a batch needs at least one pair");
  require_same_size("rejected_logps.size()", static_cast<long long>(in.rejected_logps.size()),
                    "chosen_logps.size()", static_cast<long long>(n));
  const bool nll_derived = tr.has_nll && in.chosen_nll.empty();
  if (use_reference) {
    require_batch_span("ref_chosen_logps", in.ref_chosen_logps, n,
                       "reference log-probs (or options.reference_free = true)");
    require_batch_span("ref_rejected_logps", in.ref_rejected_logps, n,
                       "reference log-probs (or options.reference_free = true)");
  } else {
    require_optional_span("ref_chosen_logps", in.ref_chosen_logps, n);
    require_optional_span("ref_rejected_logps", in.ref_rejected_logps, n);
  }
  if (tr.needs_tokens || nll_derived) {
    require_batch_span("chosen_tokens", in.chosen_tokens, n,
                       tr.needs_tokens ? std::string(L::name) + " uses per-token means"
                                       : "the chosen NLL is derived as -chosen_logps / chosen_tokens");
  } else {
    require_optional_span("chosen_tokens", in.chosen_tokens, n);
  }
  if (tr.needs_tokens) require_batch_span("rejected_tokens", in.rejected_tokens, n,
                                          std::string(L::name) + " uses per-token means");
  else require_optional_span("rejected_tokens", in.rejected_tokens, n);
  if (tr.needs_win_rates) {
    require_batch_span("chosen_win_rates", in.chosen_win_rates, n, "sppo needs win rates");
    require_batch_span("rejected_win_rates", in.rejected_win_rates, n, "sppo needs win rates");
  }
  require_optional_span("chosen_nll", in.chosen_nll, n);
}

/// Every span of the batch checked by B::require_accessible (core/concepts.hpp) before anything
/// reads it: a host buffer handed to a device backend is an invalid_argument naming it.
template <class B, class T>
void require_batch_pointers(const preference_batch<T>& in) {
  prefopt::require_accessible<B>("chosen_logps", in.chosen_logps);
  prefopt::require_accessible<B>("rejected_logps", in.rejected_logps);
  prefopt::require_accessible<B>("ref_chosen_logps", in.ref_chosen_logps);
  prefopt::require_accessible<B>("ref_rejected_logps", in.ref_rejected_logps);
  prefopt::require_accessible<B>("chosen_tokens", in.chosen_tokens);
  prefopt::require_accessible<B>("rejected_tokens", in.rejected_tokens);
  prefopt::require_accessible<B>("chosen_win_rates", in.chosen_win_rates);
  prefopt::require_accessible<B>("rejected_win_rates", in.rejected_win_rates);
  prefopt::require_accessible<B>("chosen_nll", in.chosen_nll);
  prefopt::require_accessible<B>("kl_policy_logps", in.kl_policy_logps);
  prefopt::require_accessible<B>("kl_ref_logps", in.kl_ref_logps);
}

template <class B, class L>
host_batch<typename B::scalar_type> validate_batch(const L& loss,
                                                   const preference_batch<typename B::scalar_type>& in,
                                                   bool use_reference) {
  using T = typename B::scalar_type;
  constexpr loss_traits tr = L::traits;
  validate_batch_sizes<L>(in, use_reference);
  require_batch_pointers<B>(in);
  const std::size_t n = in.chosen_logps.size();

  const auto finite = [](T v) { return std::isfinite(v); };
  const auto positive = [](T v) { return std::isfinite(v) && v > T(0); };
  const auto probability = [](T v) { return v >= T(0) && v <= T(1); };
  host_batch<T> h;
  h.cw = host_copy<B>(in.chosen_logps);
  h.cl = host_copy<B>(in.rejected_logps);
  require_each("chosen_logps", h.cw, finite, "must be finite");
  require_each("rejected_logps", h.cl, finite, "must be finite");
  if (use_reference) {
    h.rw = host_copy<B>(in.ref_chosen_logps);
    h.rl = host_copy<B>(in.ref_rejected_logps);
    require_each("ref_chosen_logps", h.rw, finite, "must be finite");
    require_each("ref_rejected_logps", h.rl, finite, "must be finite");
  } else {
    h.rw = host_array<T>::zeros(n);
    h.rl = host_array<T>::zeros(n);
  }
  if (!in.chosen_tokens.empty()) {
    h.nw = host_copy<B>(in.chosen_tokens);
    require_each("chosen_tokens", h.nw, positive, "token counts must be finite and > 0");
  }
  if (!in.rejected_tokens.empty()) {
    h.nl = host_copy<B>(in.rejected_tokens);
    require_each("rejected_tokens", h.nl, positive, "token counts must be finite and > 0");
  }
  if (tr.needs_win_rates) {
    require_each("chosen_win_rates", host_copy<B>(in.chosen_win_rates), probability,
                 "win rates must be in [0, 1]");
    require_each("rejected_win_rates", host_copy<B>(in.rejected_win_rates), probability,
                 "win rates must be in [0, 1]");
  }
  if (!in.chosen_nll.empty())
    require_each("chosen_nll", host_copy<B>(in.chosen_nll), finite, "must be finite");
  if constexpr (tr.needs_negative_logps) {
    const auto negative = [](T v) { return v < T(0); };
    require_each("chosen_logps", h.cw, negative,
                 std::string(L::name) + " takes log(1 - p): log-probs must be < 0");
    require_each("rejected_logps", h.cl, negative,
                 std::string(L::name) + " takes log(1 - p): log-probs must be < 0");
  }
  (void)loss;
  return h;
}

/// KTO's z0 = max(0, mean(kl_policy - kl_ref)) over the mismatched pairs, or the caller's value
/// (also clamped at 0). Detached: a constant for the per-example functions.
template <class B>
typename B::scalar_type kl_baseline(std::span<const typename B::scalar_type> kl_policy,
                                    std::span<const typename B::scalar_type> kl_ref,
                                    std::optional<typename B::scalar_type> given) {
  using T = typename B::scalar_type;
  if (given) {
    require_finite("options.kl_baseline", *given);
    return std::max(T(0), *given);
  }
  if (kl_policy.empty())
    throw_invalid_argument("kl_policy_logps", "empty",
                           "KTO needs the log-probs of mismatched pairs (or options.kl_baseline)");
  require_same_size("kl_ref_logps.size()", static_cast<long long>(kl_ref.size()),
                    "kl_policy_logps.size()", static_cast<long long>(kl_policy.size()));
  // Both callers (validate_batch, kto_loss) have passed these spans to B::require_accessible.
  const auto kp = host_copy<B>(kl_policy), kr = host_copy<B>(kl_ref);
  double s = 0.0;
  for (std::size_t i = 0; i < kp.size(); ++i) {
    const double d = static_cast<double>(kp[i]) - static_cast<double>(kr[i]);
    if (!std::isfinite(d))
      throw_invalid_argument("kl_policy_logps[" + std::to_string(i) + "] - kl_ref_logps", d,
                             "must be finite");
    s += d;
  }
  return static_cast<T>(std::max(0.0, s / static_cast<double>(kp.size())));
}

template <class B, class L>
batch_context<typename B::scalar_type> compute_context(
    const L& loss, const preference_batch<typename B::scalar_type>& in,
    const host_batch<typename B::scalar_type>& h,
    const preference_loss_options<typename B::scalar_type>& options) {
  using T = typename B::scalar_type;
  batch_context<T> ctx{};
  const std::size_t n = h.cw.size();
  if constexpr (needs_coupling<L>::kl_baseline) {
    require(n >= 2, "chosen_logps.size()", n,
            "KTO needs a batch of at least 2 pairs (the KL baseline uses mismatched pairs)");
    ctx.kl_baseline = kl_baseline<B>(in.kl_policy_logps, in.kl_ref_logps, options.kl_baseline);
  }
  if constexpr (needs_coupling<L>::running_mean) {
    const double beta = static_cast<double>(running_mean_beta(loss));
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      s += beta * ((static_cast<double>(h.cw[i]) - h.rw[i]) + (static_cast<double>(h.cl[i]) - h.rl[i]));
    bco_running_mean fresh;
    bco_running_mean& state = options.bco_state ? *options.bco_state : fresh;
    // A caller-kept state (e.g. restored from a checkpoint) must be one update() can continue:
    // count < 0 divides by zero below, a non-finite mean poisons delta.
    require(state.count >= 0, "options.bco_state->count", state.count, "must be >= 0");
    require(std::isfinite(state.mean), "options.bco_state->mean", state.mean, "must be finite");
    state.update(s / static_cast<double>(2 * n));
    ctx.delta = static_cast<T>(state.mean);
  }
  return ctx;
}

/// The TRL metrics from the validated host copies, accumulated in double in a fixed order.
template <class T>
preference_metrics<T> compute_metrics(const host_batch<T>& h, T beta) {
  double acc[6] = {0, 0, 0, 0, 0, 0};
  const std::size_t n = h.cw.size();
  const double b = static_cast<double>(beta);
  for (std::size_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(h.cw[i]) - h.rw[i], r = static_cast<double>(h.cl[i]) - h.rl[i];
    acc[0] += b * a;
    acc[1] += b * r;
    acc[2] += b * (a - r);
    acc[3] += a > r ? 1.0 : 0.0;
    acc[4] += h.cw[i];
    acc[5] += h.cl[i];
  }
  const double inv = 1.0 / static_cast<double>(n);
  return {static_cast<T>(acc[0] * inv), static_cast<T>(acc[1] * inv), static_cast<T>(acc[2] * inv),
          static_cast<T>(acc[3] * inv), static_cast<T>(acc[4] * inv), static_cast<T>(acc[5] * inv)};
}

/// `v` = the host values `h`: copied into v's own buffer when B's memory is host memory and v
/// already has h.size() elements (a reused result), otherwise a fresh B::from_host.
template <class B>
void assign_from_host(typename B::vector_type& v, const std::vector<typename B::scalar_type>& h) {
  if constexpr (host_accessible<B>) {
    if (static_cast<std::size_t>(B::size(v)) == h.size()) {
      std::copy(h.begin(), h.end(), B::data(v));
      return;
    }
  }
  v = B::from_host(std::span<const typename B::scalar_type>(h));
}

// AOT: sort on the host, evaluate virtual pairs, scatter the gradients through the permutations.
template <class B, class L>
void sorted_pass(const L& loss, const host_batch<typename B::scalar_type>& h,
                 typename B::scalar_type scale, preference_loss_result<B>& out) {
  using T = typename B::scalar_type;
  const std::size_t n = h.cw.size();
  std::vector<T> u(n), v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (L::traits.batch == coupling::sorted_logratios) {
      u[i] = h.cw[i] - h.cl[i];  // policy log-ratio
      v[i] = h.rw[i] - h.rl[i];  // reference log-ratio
    } else {
      u[i] = h.cw[i] - h.rw[i];  // chosen reward r_w
      v[i] = h.cl[i] - h.rl[i];  // rejected reward r_l
    }
  }
  std::vector<std::size_t> pu(n), pv(n);
  std::iota(pu.begin(), pu.end(), std::size_t{0});
  std::iota(pv.begin(), pv.end(), std::size_t{0});
  std::stable_sort(pu.begin(), pu.end(), [&](std::size_t a, std::size_t b) { return u[a] < u[b]; });
  std::stable_sort(pv.begin(), pv.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<T> per(n), gc(n, T(0)), gr(n, T(0));
  for (std::size_t k = 0; k < n; ++k) {
    pair_input<T> p{};
    p.chosen_logps = u[pu[k]];
    if constexpr (L::traits.batch == coupling::sorted_logratios) p.ref_chosen_logps = v[pv[k]];
    else p.rejected_logps = v[pv[k]];
    const auto r = loss(p, batch_context<T>{});
    per[k] = r.loss;
    if constexpr (L::traits.batch == coupling::sorted_logratios) {
      gc[pu[k]] += scale * r.d_chosen;  // d u_i / d l_w,i = 1, d u_i / d l_l,i = -1
      gr[pu[k]] -= scale * r.d_chosen;
    } else {
      gc[pu[k]] += scale * r.d_chosen;
      gr[pv[k]] += scale * r.d_rejected;
    }
  }
  assign_from_host<B>(out.per_pair, per);
  assign_from_host<B>(out.grad_chosen, gc);
  assign_from_host<B>(out.grad_rejected, gr);
}

// ---- DPO (sigmoid) in float on host memory: one fused, threaded, vectorised pass -------------

/// Pairs per block of the fused kernel: the unit of threading and of the double sums.
inline constexpr index_t fused_block_pairs = 8192;

/// The portable block kernel: the policy's own per-pair code, sums in double in pair order.
template <class L>
void portable_sigmoid_block(const L& policy, const prefopt::detail::simd::sigmoid_block_args& a,
                            index_t begin, index_t end,
                            prefopt::detail::simd::sigmoid_block_sums& s) {
  s = {};
  for (index_t i = begin; i < end; ++i) {
    pair_input<float> p{};
    p.chosen_logps = a.cw[i];
    p.rejected_logps = a.cl[i];
    if (a.rw != nullptr) p.ref_chosen_logps = a.rw[i];
    if (a.rl != nullptr) p.ref_rejected_logps = a.rl[i];
    s.finite = s.finite && std::isfinite(p.chosen_logps) && std::isfinite(p.rejected_logps) &&
               std::isfinite(p.ref_chosen_logps) && std::isfinite(p.ref_rejected_logps);
    if (a.nw != nullptr) s.finite = s.finite && std::isfinite(a.nw[i]) && a.nw[i] > 0.0f;
    if (a.nl != nullptr) s.finite = s.finite && std::isfinite(a.nl[i]) && a.nl[i] > 0.0f;
    const pair_result<float> r = policy(p, batch_context<float>{});
    a.per[i] = r.loss;
    a.gc[i] = a.scale * r.d_chosen;
    a.gr[i] = a.scale * r.d_rejected;
    const double aw = static_cast<double>(p.chosen_logps) - p.ref_chosen_logps;
    const double al = static_cast<double>(p.rejected_logps) - p.ref_rejected_logps;
    s.loss += r.loss;
    s.chosen += aw;
    s.rejected += al;
    s.accurate += aw > al ? 1.0 : 0.0;
    s.logps_w += p.chosen_logps;
    s.logps_l += p.rejected_logps;
  }
}

/// A B vector of n elements whose values are all about to be written: uninitialised where
/// B::vector_type(n) makes one of size n (Eigen), B::zeros(n) otherwise.
template <class B>
typename B::vector_type output_vector(index_t n) {
  if constexpr (std::is_constructible_v<typename B::vector_type, index_t>) {
    typename B::vector_type v(n);
    if (B::size(v) == n) return v;
  }
  return B::zeros(n);
}

/// Makes `v` an output of n elements for a kernel that writes every one of them. A vector that
/// already has n elements is kept as it is (the reusing preference_loss: no allocation, and no
/// page faults on first touch); otherwise it is replaced by a fresh one (uninitialised on host
/// backends where output_vector can make one, B::zeros(n) on the others, e.g. CUDA, where
/// B::zeros allocates on the call's stream).
template <class B>
void reuse_or_allocate(typename B::vector_type& v, index_t n) {
  if (static_cast<index_t>(B::size(v)) == n) return;
  if constexpr (host_accessible<B>) v = output_vector<B>(n);
  else v = B::zeros(n);
}

/// DPO (sigmoid) in float on a host backend: validation, per-pair values, gradients, the loss
/// and the metrics in one pass, over blocks of fused_block_pairs pairs split across
/// options.threads threads, with the AVX2 / AVX-512 kernel when the CPU has one
/// (prefopt/detail/simd.hpp). Block sums are combined in block order, so results do not depend
/// on the thread count. Returns false (nothing done) when the batch has an input this path does
/// not read (chosen_nll); a bad value is reported by the generic validation, same message.
template <class B, class L>
bool fused_sigmoid_batch(const L& loss, const preference_batch<float>& in,
                         const preference_loss_options<float>& options, bool use_reference,
                         preference_loss_result<B>& out) {
  namespace simd = prefopt::detail::simd;
  if (!in.chosen_nll.empty()) return false;
  validate_batch_sizes<L>(in, use_reference);
  const index_t n = static_cast<index_t>(in.chosen_logps.size());
  const float scale = options.reduce == reduction::mean ? 1.0f / static_cast<float>(n) : 1.0f;
  reuse_or_allocate<B>(out.per_pair, n);
  reuse_or_allocate<B>(out.grad_chosen, n);
  reuse_or_allocate<B>(out.grad_rejected, n);
  reuse_or_allocate<B>(out.grad_nll, 0);
  const simd::sigmoid_block_args args{
      in.chosen_logps.data(),
      in.rejected_logps.data(),
      use_reference ? in.ref_chosen_logps.data() : nullptr,
      use_reference ? in.ref_rejected_logps.data() : nullptr,
      in.chosen_tokens.empty() ? nullptr : in.chosen_tokens.data(),
      in.rejected_tokens.empty() ? nullptr : in.rejected_tokens.data(),
      loss.beta(),
      loss.label_smoothing(),
      scale,
      B::data(out.per_pair),
      B::data(out.grad_chosen),
      B::data(out.grad_rejected)};
  const index_t blocks = (n + fused_block_pairs - 1) / fused_block_pairs;
  std::vector<simd::sigmoid_block_sums> sums(static_cast<std::size_t>(blocks));
  const auto kernel = simd::active_kernels().sigmoid_block;
  prefopt::detail::parallel_blocks(blocks, options.threads, 1, [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) {
      const index_t begin = b * fused_block_pairs, end = std::min(n, begin + fused_block_pairs);
      auto& s = sums[static_cast<std::size_t>(b)];
      if (kernel != nullptr) kernel(args, begin, end, s);
      else portable_sigmoid_block(loss, args, begin, end, s);
    }
  });
  simd::sigmoid_block_sums total;
  for (const auto& s : sums) {
    total.loss += s.loss;
    total.chosen += s.chosen;
    total.rejected += s.rejected;
    total.accurate += s.accurate;
    total.logps_w += s.logps_w;
    total.logps_l += s.logps_l;
    total.finite = total.finite && s.finite;
  }
  if (!total.finite) {
    validate_batch<B>(loss, in, use_reference);  // throws with the index and the value
    return false;
  }
  out.loss = static_cast<float>(total.loss) * scale;
  out.context = {};  // no batch coupling (a reused result may hold an earlier call's)
  const double b = static_cast<double>(loss.reward_scale()), inv = 1.0 / static_cast<double>(n);
  out.metrics = {static_cast<float>(b * total.chosen * inv),
                 static_cast<float>(b * total.rejected * inv),
                 static_cast<float>(b * (total.chosen - total.rejected) * inv),
                 static_cast<float>(total.accurate * inv),
                 static_cast<float>(total.logps_w * inv),
                 static_cast<float>(total.logps_l * inv)};
  return true;
}

}  // namespace detail

/// Reduced loss, per-pair losses, gradients and metrics of `loss` over `batch`, written into a
/// caller-kept result `out` (the same values, bit for bit, as the allocating form below, which
/// calls this one). Each output vector of `out` that already has the size this call gives it
/// (N for per_pair and the gradients, N or 0 for grad_nll) is overwritten in place; any other is
/// replaced by a fresh one. A training loop that keeps one result across steps of equal batch
/// size therefore allocates nothing and touches no new page per call (docs/losses.md, "Reusing
/// the result"). Every field of `out` is written (loss, metrics, context included).
/// The batch's spans must not point into `out`'s own buffers.
/// Validation and errors are those of the allocating form; when the call throws, `out` is a
/// valid object (it can be reused, assigned or destroyed) whose contents and sizes are
/// unspecified.
template <class B, preference_loss_policy L>
void preference_loss(const L& loss, const preference_batch<typename B::scalar_type>& batch,
                     preference_loss_result<B>& out,
                     const preference_loss_options<typename B::scalar_type>& options = {}) {
  PREFOPT_ASSERT_BACKEND(B);
  using T = typename B::scalar_type;
  static_assert(std::is_same_v<typename L::scalar_type, T>,
                "preference_loss: the loss and the backend must use the same scalar type");
  constexpr loss_traits tr = L::traits;
  const bool use_reference = tr.uses_reference && !options.reference_free;
  if constexpr (host_accessible<B> && std::is_same_v<L, sigmoid<float>>) {
    if (detail::fused_sigmoid_batch<B>(loss, batch, options, use_reference, out)) return;
  }
  const auto host = detail::validate_batch<B>(loss, batch, use_reference);
  const index_t n = static_cast<index_t>(host.cw.size());
  const T scale = options.reduce == reduction::mean ? T(1) / static_cast<T>(n) : T(1);

  out.context = detail::compute_context<B>(loss, batch, host, options);

  if constexpr (detail::is_sorted_coupling(tr.batch)) {
    detail::sorted_pass<B>(loss, host, scale, out);
    detail::reuse_or_allocate<B>(out.grad_nll, 0);
  } else {
    // The kernel writes every element of these.
    detail::reuse_or_allocate<B>(out.per_pair, n);
    detail::reuse_or_allocate<B>(out.grad_chosen, n);
    detail::reuse_or_allocate<B>(out.grad_rejected, n);
    const bool nll_given = tr.has_nll && !batch.chosen_nll.empty();
    detail::reuse_or_allocate<B>(out.grad_nll, nll_given ? n : 0);
    T *per = B::data(out.per_pair), *gc = B::data(out.grad_chosen),
      *gr = B::data(out.grad_rejected), *gn = nll_given ? B::data(out.grad_nll) : nullptr;
    // The kernel reads the caller's memory directly; no reference = null = zero.
    const T* pcw = batch.chosen_logps.data();
    const T* pcl = batch.rejected_logps.data();
    const T* prw = use_reference ? batch.ref_chosen_logps.data() : nullptr;
    const T* prl = use_reference ? batch.ref_rejected_logps.data() : nullptr;
    const T* pnw = batch.chosen_tokens.empty() ? nullptr : batch.chosen_tokens.data();
    const T* pnl = batch.rejected_tokens.empty() ? nullptr : batch.rejected_tokens.data();
    const T* pww = tr.needs_win_rates ? batch.chosen_win_rates.data() : nullptr;
    const T* pwl = tr.needs_win_rates ? batch.rejected_win_rates.data() : nullptr;
    const T* pnll = nll_given ? batch.chosen_nll.data() : nullptr;
    const bool derive_nll = tr.has_nll && !nll_given;
    const batch_context<T> ctx = out.context;
    const L policy = loss;
    B::for_each(n, [=] PREFOPT_HD(index_t i) {
      pair_input<T> p{};
      p.chosen_logps = pcw[i];
      p.rejected_logps = pcl[i];
      if (prw != nullptr) p.ref_chosen_logps = prw[i];
      if (prl != nullptr) p.ref_rejected_logps = prl[i];
      if (pnw != nullptr) p.chosen_tokens = pnw[i];
      if (pnl != nullptr) p.rejected_tokens = pnl[i];
      if (pww != nullptr) p.chosen_win_rate = pww[i];
      if (pwl != nullptr) p.rejected_win_rate = pwl[i];
      if (pnll != nullptr) p.chosen_nll = pnll[i];
      if (derive_nll) p.chosen_nll = -p.chosen_logps / p.chosen_tokens;
      const pair_result<T> r = policy(p, ctx);
      per[i] = r.loss;
      // A derived NLL = -l_w / n_w contributes dL/dnll * (-1 / n_w) to dL/dl_w.
      gc[i] = scale * (derive_nll ? r.d_chosen - r.d_nll / p.chosen_tokens : r.d_chosen);
      gr[i] = scale * r.d_rejected;
      if (gn != nullptr) gn[i] = scale * r.d_nll;
    });
  }
  out.loss = B::sum(out.per_pair) * scale;
  out.metrics = detail::compute_metrics(host, loss.reward_scale());
}

/// Reduced loss, per-pair losses, gradients and metrics of `loss` over `batch`, in a new result
/// (fresh output vectors on every call; see the reusing form above for a training loop).
template <class B, preference_loss_policy L>
preference_loss_result<B> preference_loss(const L& loss,
                                          const preference_batch<typename B::scalar_type>& batch,
                                          const preference_loss_options<typename B::scalar_type>& options = {}) {
  preference_loss_result<B> out;
  preference_loss<B>(loss, batch, out, options);
  return out;
}

}  // namespace prefopt::losses
