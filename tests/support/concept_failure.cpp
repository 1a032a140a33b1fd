// Compiled by the ctest entry prefopt_concept_static_assert, which expects compilation to FAIL
// with the readable message naming the missing primitive (row_logsumexp here).
#include <prefopt/core/concepts.hpp>

#include <vector>

struct backend_without_row_logsumexp {
  using scalar_type = double;
  using vector_type = std::vector<double>;
  using matrix_type = std::vector<double>;
  static vector_type zeros(prefopt::index_t n);
  static matrix_type zeros(prefopt::index_t r, prefopt::index_t c);
  static prefopt::index_t size(const vector_type&);
  static double sum(const vector_type&);
  // ... everything else deliberately missing, row_logsumexp among it.
};

PREFOPT_ASSERT_BACKEND(backend_without_row_logsumexp);
