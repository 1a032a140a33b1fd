#pragma once
// What the token-level KL functions (token_kl, estimate_tokens, LongPO's label builder) share:
// the shape check of a [B, P] view against another, and the per-sequence reduction of counted
// positions (sum and count, and the mean when asked), accumulated in double and rounded once.

#include <optional>
#include <string>
#include <string_view>

#include "prefopt/config.hpp"
#include "prefopt/core/errors.hpp"
#include "prefopt/core/views.hpp"

namespace prefopt::kl::detail {

/// validate_matrix_view(name, m), and m's extents equal to those of `like` (called like_name).
template <class T, class U>
void validate_matrix_view_like(std::string_view name, matrix_view<T> m, std::string_view like_name,
                               matrix_view<U> like) {
  validate_matrix_view(name, m);
  require_same_size(std::string(name) + ".rows", m.rows, std::string(like_name) + ".rows", like.rows);
  require_same_size(std::string(name) + ".cols", m.cols, std::string(like_name) + ".cols", like.cols);
}

/// The per-sequence sums of a [B, P] batch into `out` (sum and count, and with compute_mean
/// the mean): `position(b, p)` returns the double value of a position that counts (having stored
/// whatever per-position output it has) or nothing for one that does not. A sequence with nothing
/// counted has no mean: `empty(b)` throws.
template <class Result, class Position, class Empty>
void reduce_sequences(Result& out, index_t B, index_t P, bool compute_mean, Position position,
                      Empty empty) {
  using S = typename decltype(out.sum)::value_type;
  out.sum.assign(static_cast<std::size_t>(B), S(0));
  out.count.assign(static_cast<std::size_t>(B), S(0));
  for (index_t b = 0; b < B; ++b) {
    double s = 0;
    index_t n = 0;
    for (index_t p = 0; p < P; ++p) {
      if (const std::optional<double> v = position(b, p)) {
        s += *v;
        ++n;
      }
    }
    out.sum[static_cast<std::size_t>(b)] = static_cast<S>(s);
    out.count[static_cast<std::size_t>(b)] = static_cast<S>(n);
    if (compute_mean) {
      if (n == 0) empty(b);
      out.mean.push_back(static_cast<S>(s / static_cast<double>(n)));
    }
  }
}

}  // namespace prefopt::kl::detail
