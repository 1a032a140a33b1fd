#pragma once
// Every loss policy and the batch API (the registry and the logits-level entry point are separate:
// prefopt/losses/registry.hpp, prefopt/losses/from_logits.hpp).

#include "prefopt/losses/pair.hpp"
#include "prefopt/losses/dpo.hpp"
#include "prefopt/losses/sppo.hpp"
#include "prefopt/losses/sppo_single.hpp"
#include "prefopt/losses/aot.hpp"
#include "prefopt/losses/apo.hpp"
#include "prefopt/losses/discopop.hpp"
#include "prefopt/losses/kto.hpp"
#include "prefopt/losses/reference_free.hpp"
#include "prefopt/losses/sft.hpp"
#include "prefopt/losses/rpo.hpp"
#include "prefopt/losses/longpo.hpp"
#include "prefopt/losses/combination.hpp"
#include "prefopt/losses/preference_loss.hpp"
#include "prefopt/losses/kto_unpaired.hpp"
