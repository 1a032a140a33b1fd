#pragma once
// Umbrella header: every backend-independent part of prefopt. Backends are included separately
// (prefopt/backends/eigen.hpp, xtensor.hpp, cuda.hpp) so the core needs no third-party library.

#include "prefopt/config.hpp"
#include "prefopt/core/batch.hpp"
#include "prefopt/core/concepts.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/numerics.hpp"
#include "prefopt/logps/sequence_logps.hpp"
#include "prefopt/prefmodel/preference_matrix.hpp"
