// prefopt._prefopt: the compiled half of the Python package (python/prefopt wraps it).

#include <nanobind/nanobind.h>

#include <prefopt/config.hpp>

#include "module.hpp"

NB_MODULE(_prefopt, m) {
  m.doc() = "prefopt's C++ core over NumPy arrays and PyTorch CPU tensors (zero-copy, DLPack)";
  prefopt::python::bind_logps(m);
  prefopt::python::bind_losses(m);
  prefopt::python::bind_ratings(m);
}
