#pragma once
// Everything in prefopt/kl: exact token divergences from logits, sample estimators, penalties,
// controllers and LongPO's short-to-long constraint (docs/kl.md).
#include "prefopt/kl/controllers.hpp"
#include "prefopt/kl/divergence.hpp"
#include "prefopt/kl/estimators.hpp"
#include "prefopt/kl/longpo.hpp"
#include "prefopt/kl/penalty.hpp"
#include "prefopt/kl/token_kl.hpp"
