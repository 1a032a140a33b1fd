// The Eigen side of the cross-backend algorithm checks (algorithm_checks.hpp), compiled by the
// host compiler and linked into the CPU and CUDA suites: the CUDA translation units compare
// against these results without parsing Eigen.
#include <prefopt/backends/eigen.hpp>

#include "algorithm_checks.hpp"

namespace prefopt::testing {

template <class T>
loss_outcome<T> eigen_preference_loss(loss_case c, const loss_inputs<T>& h) {
  return run_preference_loss<eigen::backend<T>>(c, h);
}
template <class T>
loss_outcome<T> eigen_loss_list(const loss_inputs<T>& h) {
  return run_loss_list<eigen::backend<T>>(h);
}
template <class T>
kto_outcome<T> eigen_kto_unpaired(const loss_inputs<T>& h) {
  return run_kto_unpaired<eigen::backend<T>>(h);
}
template <class T>
logits_outcome<T> eigen_from_logits(loss_case c, const logits_inputs<T>& h) {
  return run_from_logits<eigen::backend<T>>(c, h);
}
template <class T>
game_outcome<T> eigen_solve(game_case c) {
  return run_solve<eigen::backend<T>>(c);
}
template <class T>
game_outcome<T> eigen_solve_batch(game_case c) {
  return run_solve_batch<eigen::backend<T>>(c);
}

#define PREFOPT_INSTANTIATE_REFERENCE(T)                                                  \
  template loss_outcome<T> eigen_preference_loss<T>(loss_case, const loss_inputs<T>&);   \
  template loss_outcome<T> eigen_loss_list<T>(const loss_inputs<T>&);                    \
  template kto_outcome<T> eigen_kto_unpaired<T>(const loss_inputs<T>&);                  \
  template logits_outcome<T> eigen_from_logits<T>(loss_case, const logits_inputs<T>&);   \
  template game_outcome<T> eigen_solve<T>(game_case);                                    \
  template game_outcome<T> eigen_solve_batch<T>(game_case);
PREFOPT_INSTANTIATE_REFERENCE(float)
PREFOPT_INSTANTIATE_REFERENCE(double)
#undef PREFOPT_INSTANTIATE_REFERENCE

}  // namespace prefopt::testing
