#pragma once
// The pieces of the prefopt._prefopt extension module, one translation unit per family (so a
// change to one family recompiles one file).

#include <nanobind/nanobind.h>

namespace prefopt::python {

void bind_logps(nanobind::module_& m);    // logps.cpp: sequence_logps forward / fused backward
void bind_linear_head(nanobind::module_& m);  // linear_head.cpp: the chunked fused LM head
void bind_losses(nanobind::module_& m);   // losses.cpp: preference_loss by TRL name
void bind_ratings(nanobind::module_& m);  // ratings.cpp: Bradley-Terry leaderboards, Nash

}  // namespace prefopt::python
