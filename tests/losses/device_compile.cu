// Compile-only check that every loss policy's per-pair operator is device code: each is launched
// in a CUDA kernel (nvcc, not run: the test only needs the compiler). Flags a CUDA backend needs
// for prefopt: --extended-lambda (PREFOPT_HD lambdas passed to B::for_each) and
// --expt-relaxed-constexpr (std::tuple / std::array accessors inside weighted_sum).
#include <prefopt/losses/all.hpp>
namespace pl = prefopt::losses;
template <class L>
__global__ void eval(L loss, const pl::pair_input<float>* in, pl::pair_result<float>* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = loss(in[i], pl::batch_context<float>{0.5f, 0.1f});
}
template <class L> void launch(const L& l, const pl::pair_input<float>* in, pl::pair_result<float>* out) { eval<<<1, 32>>>(l, in, out, 32); }
int main() {
  pl::pair_input<float>* in = nullptr; pl::pair_result<float>* out = nullptr;
  launch(pl::sigmoid<float>(), in, out); launch(pl::robust<float>(0.1f, 0.1f), in, out); launch(pl::hinge<float>(), in, out);
  launch(pl::ipo<float>(), in, out); launch(pl::exo_pair<float>(), in, out); launch(pl::nca_pair<float>(), in, out);
  launch(pl::bco_pair<float>(), in, out); launch(pl::sppo_hard<float>(), in, out); launch(pl::sppo<float>(), in, out);
  launch(pl::aot<float>(), in, out); launch(pl::aot_unpaired<float>(), in, out); launch(pl::apo_zero<float>(), in, out);
  launch(pl::apo_down<float>(), in, out); launch(pl::discopop<float>(), in, out); launch(pl::kto<float>(), in, out);
  launch(pl::orpo<float>(), in, out); launch(pl::simpo<float>(), in, out); launch(pl::cpo<float>(), in, out);
  launch(pl::longpo<float>(), in, out); launch(pl::rpo<float>(), in, out); launch(pl::sft<float>(), in, out);
  launch(pl::weighted_sum<pl::sigmoid<float>, pl::sft<float>>({1.f, 1.f}, pl::sigmoid<float>(), pl::sft<float>()), in, out);
}
