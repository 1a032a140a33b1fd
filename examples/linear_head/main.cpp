// Per-token log-probs through an LM head without the [N, V] logits: prefopt::eigen::
// linear_head_logps (chunked forward, online log-sum-exp) and linear_head_logps_backward
// (gradients with respect to the hidden states and the head's weight), on two tokens small
// enough to check by hand, then on a model-sized head to show the memory it does not use.
//
//   tokens:  h_0 = (1, 0), h_1 = (0, 2);  weight rows w_0 = (1, 0), w_1 = (0, 1), w_2 = (1, 1)
//   logits:  row 0 = (1, 0, 1), row 1 = (0, 2, 2); labels (already aligned): y_0 = 0, y_1 = 2
//   logp_0 = 1 - ln(2e + 1) = -0.861995,  logp_1 = 2 - ln(1 + 2e^2) = -0.758624
//
// The vocabulary chunk is 2, so the 3-row weight is read as a chunk of 2 and a chunk of 1.
#include <cstdint>
#include <cstdio>
#include <prefopt/backends/eigen/linear_head.hpp>
#include <random>
#include <span>
#include <vector>

int main() {
  using prefopt::index_t;
  using prefopt::matrix_view;
  const std::vector<float> hidden = {1, 0, 0, 2};
  const std::vector<float> weight = {1, 0, 0, 1, 1, 1};
  const std::vector<std::int64_t> labels = {0, 2};  // -100 would ignore a token
  prefopt::linear_head_options options;
  options.vocab_chunk = 2;
  const auto h = matrix_view<const float>::contiguous(hidden.data(), 2, 2);
  const auto w = matrix_view<const float>::contiguous(weight.data(), 3, 2);

  const auto fwd = prefopt::eigen::linear_head_logps(h, w, std::span<const std::int64_t>(labels), options);
  std::printf("logp           = %.6f %.6f\n", fwd.logp[0], fwd.logp[1]);

  // L = sum of the log-probs: dL/dlogp = 1 for each token.
  const std::vector<float> grad_logp = {1, 1};
  std::vector<float> grad_hidden(4), grad_weight(6);
  prefopt::eigen::linear_head_logps_backward(
      h, w, std::span<const std::int64_t>(labels), std::span<const float>(fwd.lse),
      std::span<const float>(grad_logp), matrix_view<float>::contiguous(grad_hidden.data(), 2, 2),
      matrix_view<float>::contiguous(grad_weight.data(), 3, 2), options);
  std::printf("grad_hidden    = %.6f %.6f | %.6f %.6f\n", grad_hidden[0], grad_hidden[1],
              grad_hidden[2], grad_hidden[3]);
  std::printf("grad_weight    = %.6f %.6f | %.6f %.6f | %.6f %.6f\n", grad_weight[0],
              grad_weight[1], grad_weight[2], grad_weight[3], grad_weight[4], grad_weight[5]);

  // A head of model size: N = 512 tokens, H = 256, V = 32000, default chunks.
  const index_t N = 512, H = 256, V = 32000;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> hs(static_cast<std::size_t>(N * H)), ws(static_cast<std::size_t>(V * H));
  for (auto& x : hs) x = normal(rng);
  for (auto& x : ws) x = normal(rng) / 16.0f;
  std::vector<std::int64_t> ys(static_cast<std::size_t>(N));
  std::uniform_int_distribution<std::int64_t> token(0, V - 1);
  for (auto& y : ys) y = token(rng);
  const prefopt::linear_head_options defaults;
  const auto big = prefopt::eigen::linear_head_logps(
      matrix_view<const float>::contiguous(hs.data(), N, H),
      matrix_view<const float>::contiguous(ws.data(), V, H), std::span<const std::int64_t>(ys));
  double sum = 0;
  for (float x : big.logp) sum += x;
  const double tile = double(std::min(defaults.token_chunk, N)) * double(defaults.vocab_chunk) * 4 / (1 << 20);
  std::printf("N=%lld H=%lld V=%lld: mean logp = %.3f (-ln V = -10.373; logits of variance 1 lower it by ~0.5); logit tile "
              "%.1f MiB, full logits would be %.1f MiB\n",
              static_cast<long long>(N), static_cast<long long>(H), static_cast<long long>(V),
              sum / double(N), tile, double(N) * double(V) * 4 / (1 << 20));
  return 0;
}
