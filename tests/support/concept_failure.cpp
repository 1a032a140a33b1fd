// Compiled by the ctest entry prefopt_concept_static_assert, which expects compilation to FAIL
// with the readable message naming the one missing primitive (row_logsumexp). Declarations are
// enough: the concept only inspects signatures.
#include <prefopt/core/concepts.hpp>

#include <span>
#include <vector>

struct backend_without_row_logsumexp {
  using scalar_type = double;
  using vector_type = std::vector<double>;
  struct matrix_type {};
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
  static std::vector<double> to_host(const vector_type&);
  template <class F>
  static void for_each(prefopt::index_t n, F f);
  static vector_type exp(const vector_type&);
  static vector_type log(const vector_type&);
  static vector_type log_sigmoid(const vector_type&);
  static vector_type softplus(const vector_type&);
  static vector_type axpby(double, const vector_type&, double, const vector_type&);
  static double sum(const vector_type&);
  static double dot(const vector_type&, const vector_type&);
  static vector_type row_sum(view);
  static vector_type row_max(view);
  // static vector_type row_logsumexp(view);   <- the missing primitive
  static vector_type gather_cols(view, const std::int64_t*);
  static vector_type matvec(const matrix_type&, const vector_type&);
  static vector_type matvec_transposed(const matrix_type&, const vector_type&);
};

PREFOPT_ASSERT_BACKEND(backend_without_row_logsumexp);
