// Compiled by the ctest entry prefopt_concept_static_assert, which expects compilation to FAIL
// with the readable message naming the one missing primitive (row_logsumexp) and no other.
// Declarations are enough: the concept only inspects signatures. The type declares exactly the
// required primitives of prefopt::Backend (core/concepts.hpp) minus row_logsumexp.
#include <prefopt/core/concepts.hpp>

#include <cstdint>
#include <span>
#include <vector>

struct backend_without_row_logsumexp {
  using scalar_type = double;
  using vector_type = std::vector<double>;
  struct matrix_type {};
  using memory_space = prefopt::host_space;
  using view = prefopt::matrix_view<const double>;
  static vector_type zeros(prefopt::index_t n);
  static matrix_type zeros(prefopt::index_t r, prefopt::index_t c);
  static prefopt::index_t size(const vector_type&);
  static prefopt::index_t rows(const matrix_type&);
  static prefopt::index_t cols(const matrix_type&);
  static double* data(vector_type&);
  static double* data(matrix_type&);
  static const double* data(const vector_type&);
  static const double* data(const matrix_type&);
  static vector_type from_host(std::span<const double>);
  static matrix_type from_host(prefopt::index_t r, prefopt::index_t c, std::span<const double>);
  static std::vector<double> to_host(const vector_type&);
  static double to_host_element(const vector_type&, prefopt::index_t);
  template <class F>
  static void for_each(prefopt::index_t n, F f);
  static vector_type log(const vector_type&);
  static vector_type axpby(double, const vector_type&, double, const vector_type&);
  static double sum(const vector_type&);
  static double dot(const vector_type&, const vector_type&);
  static vector_type row_max(view);
  // static vector_type row_logsumexp(view);   <- the missing primitive
  static vector_type matvec(const matrix_type&, const vector_type&);
  static vector_type matvec_transposed(const matrix_type&, const vector_type&);
};

PREFOPT_ASSERT_BACKEND(backend_without_row_logsumexp);
