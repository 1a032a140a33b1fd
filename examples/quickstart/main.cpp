// quickstart: sequence log-probs and a DPO-style margin on a made-up batch.
//
// A toy "language model" scores two completions (chosen, rejected) of the same prompt; a frozen
// reference model scores them too. We compute per-sequence log-probs with the fused kernel, the
// DPO implicit rewards beta * (logp - ref_logp), their margin, the DPO loss -log sigmoid(margin)
// and its gradient with respect to the logits (through sequence_logps_backward); then an SFT
// (NLL) term on the chosen completion with its gradient in the same pass
// (sequence_logps_with_grad).
//
// Usage: quickstart [--beta B] [--vocab V] [--seed S]
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <prefopt/backends/eigen.hpp>
#include <prefopt/core/errors.hpp>
#include <prefopt/prefopt.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

struct args {
  double beta = 0.1;
  long vocab = 50;
  unsigned seed = 42;
};

void print_usage() {
  std::printf("usage: quickstart [--beta B] [--vocab V] [--seed S]\n"
              "  Computes sequence log-probs and a DPO margin on a made-up batch.\n");
}

/// Bad usage: one line naming the argument (not the whole usage text), exit status 2.
[[noreturn]] void bad_usage(const std::string& message) {
  std::fprintf(stderr, "quickstart: %s (see quickstart --help)\n", message.c_str());
  std::exit(2);
}

args parse(int argc, char** argv) {
  args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      print_usage();
      std::exit(0);
    }
    if (flag != "--beta" && flag != "--vocab" && flag != "--seed")
      bad_usage("unknown option " + prefopt::quote_text(flag, '\''));
    if (i + 1 >= argc) bad_usage(flag + " needs a value");
    const char* value = argv[++i];
    char* end = nullptr;
    bool out_of_range = false;
    errno = 0;  // strtol / strtoul saturate out-of-range input and set ERANGE
    if (flag == "--beta") {
      a.beta = std::strtod(value, &end);  // ERANGE here may be an exact subnormal: checked later
    } else if (flag == "--vocab") {
      a.vocab = std::strtol(value, &end, 10);
      out_of_range = errno == ERANGE;
    } else {
      const unsigned long seed = std::strtoul(value, &end, 10);
      out_of_range = errno == ERANGE || seed > std::numeric_limits<unsigned>::max() || value[0] == '-';
      a.seed = static_cast<unsigned>(seed);
    }
    if (end == value || *end != '\0' || out_of_range)
      bad_usage(flag + " expects a number, got " + prefopt::quote_text(value, '\''));
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) try {
  const args a = parse(argc, argv);
  prefopt::require_positive_finite("--beta", a.beta);
  prefopt::require(a.vocab >= 4, "--vocab", a.vocab, "must be >= 4");
  using backend = prefopt::eigen::backend<double>;
  const prefopt::index_t batch = 2, time = 6, V = a.vocab;  // row 0: chosen, row 1: rejected

  // Prompt of 2 tokens then a 4-token completion; the mask marks the completion tokens.
  std::vector<std::int64_t> labels{3, 1, 4, 1, 5, 2,   //
                                   3, 1, 2, 7, 1, 0};
  std::vector<std::uint8_t> mask{0, 0, 1, 1, 1, 1,  //
                                 0, 0, 1, 1, 1, 1};
  std::mt19937 rng(a.seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> policy(static_cast<std::size_t>(batch * time * V));
  std::vector<double> reference(policy.size());
  for (std::size_t i = 0; i < policy.size(); ++i) {
    reference[i] = noise(rng);
    policy[i] = reference[i] + 0.3 * noise(rng);
  }
  // The policy has learnt to like the chosen completion a little more than the reference does.
  for (prefopt::index_t t = 1; t < time; ++t)
    policy[static_cast<std::size_t>(t * V + labels[static_cast<std::size_t>(t + 1)])] += 0.5;

  const auto lab = prefopt::matrix_view<const std::int64_t>::contiguous(labels.data(), batch, time);
  const auto msk = prefopt::matrix_view<const std::uint8_t>::contiguous(mask.data(), batch, time);
  const auto pol = prefopt::logits_view<const double>::contiguous(policy.data(), batch, time, V);
  const auto ref = prefopt::logits_view<const double>::contiguous(reference.data(), batch, time, V);

  const auto lp = prefopt::sequence_logps<backend>(pol, lab, msk);
  const auto lp_ref = prefopt::sequence_logps<backend>(ref, lab, msk);

  const double r_w = a.beta * (lp.sum[0] - lp_ref.sum[0]);
  const double r_l = a.beta * (lp.sum[1] - lp_ref.sum[1]);
  const double margin = r_w - r_l;
  const double loss = -prefopt::log_sigmoid(margin);
  // dL/dlogp_w = -beta * sigmoid(-margin), dL/dlogp_l = +beta * sigmoid(-margin)
  const double g = a.beta * prefopt::sigmoid(-margin);
  backend::vector_type grad_sum(2);
  grad_sum << -g, g;
  const auto dlogits = prefopt::sequence_logps_backward<backend>(pol, lab, msk, lp, grad_sum, nullptr);

  std::printf("prefopt %s quickstart (beta = %g, vocab = %ld)\n", PREFOPT_VERSION_STRING, a.beta,
              a.vocab);
  std::printf("%-10s %14s %14s %8s %14s\n", "sequence", "logp (sum)", "ref logp", "tokens",
              "logp (mean)");
  const char* names[] = {"chosen", "rejected"};
  for (int b = 0; b < 2; ++b)
    std::printf("%-10s %14.6f %14.6f %8.0f %14.6f\n", names[b], lp.sum[b], lp_ref.sum[b],
                lp.count[b], lp.mean[b]);
  std::printf("rewards/chosen   = %.6f\nrewards/rejected = %.6f\nrewards/margins  = %.6f\n", r_w,
              r_l, margin);
  std::printf("DPO loss         = %.6f   (ln 2 = %.6f at zero margin)\n", loss, std::log(2.0));
  std::printf("|dL/dlogits|_1   = %.6f over %ld logits\n", dlogits.cwiseAbs().sum(),
              static_cast<long>(dlogits.size()));

  // An SFT (NLL) term on the chosen completion, as RPO adds to DPO: L_nll = -mean log-prob of the
  // chosen sequence. Its upstream gradients are known before the forward (dL/dmean = -1 for the
  // chosen sequence, 0 for the rejected one), so the log-probs and dL_nll/dlogits come from one
  // pass over the logits (sequence_logps_with_grad) instead of a forward and a backward.
  backend::vector_type nll_grad_sum = backend::vector_type::Zero(2), nll_grad_mean(2);
  nll_grad_mean << -1.0, 0.0;
  std::vector<double> dnll(policy.size());
  const auto nll = prefopt::sequence_logps_with_grad<backend>(
      pol, lab, msk, nll_grad_sum, &nll_grad_mean,
      prefopt::logits_view<double>::contiguous(dnll.data(), batch, time, V));
  double dnll_l1 = 0.0;
  for (double d : dnll) dnll_l1 += std::fabs(d);
  std::printf("SFT NLL (chosen) = %.6f   |dNLL/dlogits|_1 = %.6f (one pass)\n", -nll.mean[0],
              dnll_l1);
  return 0;
} catch (const prefopt::invalid_argument& e) {
  std::fprintf(stderr, "quickstart: %s\n", e.what());
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "quickstart: error: %s\n", e.what());
  return 1;
}
