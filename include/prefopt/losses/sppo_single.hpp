#pragma once
// sppo_single, SPPO with a single pairwise target (uclaml/SPPO sppo/trainer.py,
// loss_type="sppo_single"), is one of the SPPO squared losses: losses/sppo.hpp defines it with
// sppo and sppo_hard (the same arithmetic on other targets). This header stays for code that
// includes it by name.

#include "prefopt/losses/sppo.hpp"
