#pragma once
// Umbrella header: every backend-independent part of prefopt. Backends are included separately
// (prefopt/backends/eigen.hpp, xtensor.hpp, cuda.hpp) so the core needs no third-party library.

#include "prefopt/config.hpp"
#include "prefopt/core/views.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/logps/sequence_logps.hpp"
// The fused linear head's options and checks (the implementations are in the Eigen and CUDA
// backends: prefopt/backends/eigen/linear_head.hpp, prefopt/backends/cuda/linear_head.cuh).
#include "prefopt/logps/linear_head.hpp"

// Preference losses (DPO family, KTO, ORPO/SimPO/CPO, SPPO, LongPO, combinations). The runtime
// registry (make_loss by name, any_loss) is not included: it instantiates every loss policy and a
// 21-alternative variant, a cost only its users should pay; include
// "prefopt/losses/registry.hpp" where losses are chosen by name.
#include "prefopt/losses/all.hpp"
#include "prefopt/losses/from_logits.hpp"
#include "prefopt/losses/kto_unpaired.hpp"
#include "prefopt/losses/preference_loss.hpp"

// Preference models: Bradley-Terry, general preference, GPM.
#include "prefopt/prefmodel/bootstrap.hpp"
#include "prefopt/prefmodel/bradley_terry.hpp"
#include "prefopt/prefmodel/general.hpp"
#include "prefopt/prefmodel/gpm.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"
#include "prefopt/prefmodel/rating_scale.hpp"

// Games: Nash solvers, exploitability, Nash averaging.
#include "prefopt/game/nash_averaging.hpp"
#include "prefopt/game/solve.hpp"

// Evaluation (host-side): win rates, length control, pairwise verdicts, rubric scores, agreement.
#include "prefopt/eval/agreement.hpp"
#include "prefopt/eval/alpaca_winrate.hpp"
#include "prefopt/eval/pairwise.hpp"
#include "prefopt/eval/rubric.hpp"
