// prefopt._prefopt: the compiled half of the Python package (python/prefopt wraps it).

#include <nanobind/nanobind.h>

#include <prefopt/config.hpp>

#include "module.hpp"

NB_MODULE(_prefopt, m) {
  m.doc() = "prefopt's C++ core over NumPy arrays and PyTorch CPU tensors (zero-copy, DLPack)";
  // An autograd graph still referenced by a script's globals at exit keeps its saved
  // SequenceLogpsState alive past this module's teardown; Python does not promise to collect
  // everything at exit, so nanobind's leak report would be noise, not a reference-count bug.
  nanobind::set_leak_warnings(false);
  prefopt::python::bind_logps(m);
  prefopt::python::bind_linear_head(m);
  prefopt::python::bind_losses(m);
  prefopt::python::bind_ratings(m);
}
