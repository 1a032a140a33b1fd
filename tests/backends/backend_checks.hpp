#pragma once
// Backend-generic test bodies, shared by the CPU suite (Eigen, xtensor) and the CUDA suite, so a
// GPU runs exactly the assertions the CPU backends pass. Every check compares a backend against
// a naive long-double reference computed here on the host; inputs are placed in the backend's
// memory through placement<B> (host vectors by default; the CUDA suite specialises it with
// device buffers) and viewed through views in B::memory_space (view_in / logits_in).
//
// Tolerances against the long-double reference (relative, with an absolute floor for values
// near zero): float 1e-5 (a few ulp of exp / log over a 2048-element chunk; the GPU's exp2
// instruction is accurate to 2 ulp), double 1e-12. Element-wise maths: float 1e-6, double 1e-13.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <prefopt/core/concepts.hpp>
#include <prefopt/core/errors.hpp>
#include <prefopt/core/numerics.hpp>
#include <prefopt/logps/sequence_logps.hpp>
#include <support/random.hpp>

namespace prefopt::testing {

/// Where a backend's inputs are stored. Host backends use host vectors.
template <class B>
struct placement {
  template <class U>
  static std::vector<U> upload(const std::vector<U>& v) {
    return v;
  }
  template <class U>
  static std::vector<U> download(const U* p, index_t n) {
    return std::vector<U>(p, p + n);
  }
};

/// Views of memory in B's space: what B's primitives and algorithms take.
template <class B, class T>
using view_in = matrix_view<T, typename B::memory_space>;
template <class B, class T>
using logits_in = logits_view<T, typename B::memory_space>;

template <class T>
struct tolerance {
  static constexpr double rel = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double abs = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  static constexpr double elementwise = std::is_same_v<T, float> ? 1e-6 : 1e-13;
};

template <class T>
bool close(double got, long double want, double rel = tolerance<T>::rel,
           double abs = tolerance<T>::abs) {
  if (std::isinf(static_cast<double>(want))) return got == static_cast<double>(want);
  return std::fabs(got - static_cast<double>(want)) <=
         abs + rel * std::fabs(static_cast<double>(want));
}

template <class B>
std::vector<typename B::scalar_type> download_matrix(const typename B::matrix_type& m) {
  return placement<B>::download(B::data(m), B::rows(m) * B::cols(m));
}

template <class T>
std::vector<T> normal_values(std::size_t n, double scale, std::uint32_t seed) {
  prefopt_test::bits_rng gen(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(scale * gen.normal());
  return v;
}

// ---- element-wise, reductions, gather, linear algebra, for_each -----------------------------

template <class B>
void check_elementwise() {
  using T = typename B::scalar_type;
  auto xs = normal_values<T>(1037, 8.0, 11);
  xs[0] = T(0);
  xs[1] = T(-1e4);  // softplus / log_sigmoid at the extremes
  xs[2] = T(1e4);
  auto ys = normal_values<T>(xs.size(), 1.0, 12);
  std::vector<T> pos(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) pos[i] = std::fabs(xs[i]) + T(1e-3);
  const auto x = B::from_host(std::span<const T>(xs));
  const auto y = B::from_host(std::span<const T>(ys));
  const auto p = B::from_host(std::span<const T>(pos));
  const auto ex = B::to_host(B::exp(p)), lg = B::to_host(B::log(p));
  const auto ls = B::to_host(B::log_sigmoid(x)), sp = B::to_host(B::softplus(x));
  const auto ax = B::to_host(B::axpby(T(0.5), x, T(-2), y));
  REQUIRE(ex.size() == xs.size());
  const double tol = tolerance<T>::elementwise;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const long double xi = xs[i], pi = pos[i];
    const long double softplus = xi > 0 ? xi + std::log1p(std::exp(-xi)) : std::log1p(std::exp(xi));
    INFO("i = " << i << ", x = " << xs[i]);
    CHECK(close<T>(ex[i], std::exp(pi), tol, 0));
    CHECK(close<T>(lg[i], std::log(pi), tol, tol));
    CHECK(close<T>(sp[i], softplus, tol, 1e-300));
    CHECK(close<T>(ls[i], -(xi < 0 ? -xi + std::log1p(std::exp(xi)) : std::log1p(std::exp(-xi))),
                   tol, 1e-300));
    const long double yi = ys[i];
    CHECK(close<T>(ax[i], 0.5L * xi - 2.0L * yi, 0,
                   4 * tol * static_cast<double>(std::fabs(0.5L * xi) + std::fabs(2.0L * yi))));
  }
  CHECK_THROWS_AS(B::axpby(T(1), x, T(1), B::zeros(3)), prefopt::invalid_argument);
}

template <class B>
void check_reductions() {
  using T = typename B::scalar_type;
  const auto xs = normal_values<T>(5001, 2.0, 21), ys = normal_values<T>(5001, 2.0, 22);
  long double s = 0, d = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    s += xs[i];
    d += static_cast<long double>(xs[i]) * ys[i];
  }
  const auto x = B::from_host(std::span<const T>(xs)), y = B::from_host(std::span<const T>(ys));
  CHECK(close<T>(B::sum(x), s));
  CHECK(close<T>(B::dot(x, y), d));
  CHECK(B::sum(B::zeros(0)) == T(0));

  // A strided [rows, cols] view (row_stride > cols) with a -inf column and long rows that span
  // several 2048-element chunks.
  const index_t rows = 7, cols = 4500, stride = 4513;
  auto m = normal_values<T>(static_cast<std::size_t>(rows * stride), 3.0, 23);
  for (index_t r = 0; r < rows; ++r) m[static_cast<std::size_t>(r * stride + 5)] =
      -std::numeric_limits<T>::infinity();
  m[static_cast<std::size_t>(2 * stride + 4000)] = T(40);  // the max in a later chunk
  const auto md = placement<B>::upload(m);
  const view_in<B, const T> mv{md.data(), rows, cols, stride};
  const auto rs = B::to_host(B::row_sum(mv)), rm = B::to_host(B::row_max(mv));
  const auto rl = B::to_host(B::row_logsumexp(mv));
  std::vector<std::int64_t> cols_h{0, 4499, -1, 4500, 17, 5, 3};
  const auto cols_d = placement<B>::upload(cols_h);
  const auto gc = B::to_host(B::gather_cols(mv, cols_d.data()));
  for (index_t r = 0; r < rows; ++r) {
    const T* row = m.data() + r * stride;
    long double mx = -INFINITY, se = 0;
    for (index_t c = 0; c < cols; ++c) mx = std::max<long double>(mx, row[c]);
    for (index_t c = 0; c < cols; ++c) se += std::exp(static_cast<long double>(row[c]) - mx);
    INFO("row " << r);
    CHECK(rs[r] == -std::numeric_limits<T>::infinity());  // the -inf column
    CHECK(close<T>(rm[r], mx, 0, 0));
    CHECK(close<T>(rl[r], mx + std::log(se)));
    const auto c = cols_h[static_cast<std::size_t>(r)];
    CHECK(gc[r] == ((c >= 0 && c < cols) ? row[c] : T(0)));
  }
  // Row sums on finite data, accumulated in double.
  auto f = normal_values<T>(static_cast<std::size_t>(rows * stride), 3.0, 24);
  const auto fd = placement<B>::upload(f);
  const auto fs = B::to_host(B::row_sum(view_in<B, const T>{fd.data(), rows, cols, stride}));
  for (index_t r = 0; r < rows; ++r) {
    long double sum = 0;
    for (index_t c = 0; c < cols; ++c) sum += f[r * stride + c];
    CHECK(close<T>(fs[r], sum, tolerance<T>::rel, 1e-4 * tolerance<T>::abs * cols));
  }
}

template <class B>
void check_linear_and_for_each() {
  using T = typename B::scalar_type;
  const index_t r = 37, c = 129;
  const auto mh = normal_values<T>(static_cast<std::size_t>(r * c), 1.0, 31);
  const auto xh = normal_values<T>(static_cast<std::size_t>(c), 1.0, 32);
  const auto zh = normal_values<T>(static_cast<std::size_t>(r), 1.0, 33);
  // Fill a backend matrix through its raw pointer with a for_each kernel reading uploaded data.
  auto m = B::zeros(r, c);
  const auto src = B::from_host(std::span<const T>(mh));
  {
    T* dst = B::data(m);
    const T* s = B::data(src);
    B::for_each(r * c, [=] PREFOPT_HD(index_t i) { dst[i] = s[i]; });
  }
  const auto x = B::from_host(std::span<const T>(xh)), z = B::from_host(std::span<const T>(zh));
  const auto mx = B::to_host(B::matvec(m, x)), mtz = B::to_host(B::matvec_transposed(m, z));
  REQUIRE(mx.size() == static_cast<std::size_t>(r));
  REQUIRE(mtz.size() == static_cast<std::size_t>(c));
  for (index_t i = 0; i < r; ++i) {
    long double want = 0;
    for (index_t j = 0; j < c; ++j) want += static_cast<long double>(mh[i * c + j]) * xh[j];
    CHECK(close<T>(mx[i], want, tolerance<T>::rel, 10 * tolerance<T>::abs));
  }
  for (index_t j = 0; j < c; ++j) {
    long double want = 0;
    for (index_t i = 0; i < r; ++i) want += static_cast<long double>(mh[i * c + j]) * zh[i];
    CHECK(close<T>(mtz[j], want, tolerance<T>::rel, 10 * tolerance<T>::abs));
  }
  CHECK_THROWS_AS(B::matvec(m, z), prefopt::invalid_argument);
  CHECK_THROWS_AS(B::matvec_transposed(m, x), prefopt::invalid_argument);
  CHECK(B::rows(m) == r);
  CHECK(B::cols(m) == c);
  CHECK(B::size(B::zeros(0)) == 0);
}

/// The matrix upload and the one-element read-back of the concept: an uploaded matrix is
/// row-major with row r at B::data(m) + r * cols (read back through placement<B>, not through
/// the primitives under test), and to_host_element returns exactly the stored element.
template <class B>
void check_matrix_upload_and_element_read() {
  using T = typename B::scalar_type;
  const index_t r = 5, c = 3;
  const auto mh = normal_values<T>(static_cast<std::size_t>(r * c), 1.0, 35);
  const auto m = B::from_host(r, c, std::span<const T>(mh));
  CHECK(B::rows(m) == r);
  CHECK(B::cols(m) == c);
  CHECK(placement<B>::download(B::data(m), r * c) == mh);
  const auto v = B::from_host(std::span<const T>(mh));
  for (index_t i = 0; i < r * c; ++i) CHECK(B::to_host_element(v, i) == mh[static_cast<std::size_t>(i)]);
  CHECK(B::rows(B::from_host(0, 4, std::span<const T>())) == 0);
  CHECK_THROWS_WITH(B::from_host(r, c + 1, std::span<const T>(mh)),
                    Catch::Contains("values.size() = 15") && Catch::Contains("rows * cols = 20"));
  CHECK_THROWS_AS(B::from_host(-1, c, std::span<const T>()), prefopt::invalid_argument);
  CHECK_THROWS_WITH(B::to_host_element(v, r * c), Catch::Contains("i = 15"));
  CHECK_THROWS_AS(B::to_host_element(v, -1), prefopt::invalid_argument);
}

// ---- sequence log-probs ---------------------------------------------------------------------

/// A random token batch in host memory: padded strides, -inf logits (a masked vocabulary),
/// ignore_index labels and an optional completion mask; every sequence keeps a counted token.
template <class T, class L = std::int64_t>
struct token_batch {
  index_t batch, time, vocab, time_stride, batch_stride;
  std::vector<T> logits;
  std::vector<L> labels;      // [batch, time]
  std::vector<std::uint8_t> mask;  // [batch, time] or empty
  token_layout layout{};

  token_batch(index_t b, index_t t, index_t v, bool with_mask, bool shift, std::uint32_t seed,
              double scale = 4.0)
      : batch(b), time(t), vocab(v), time_stride(v + 3), batch_stride(t * (v + 3) + 5) {
    layout.shift_labels = shift;
    logits = normal_values<T>(static_cast<std::size_t>(b * batch_stride), scale, seed);
    std::mt19937 gen(seed + 1);
    labels.resize(static_cast<std::size_t>(b * t));
    for (auto& y : labels) y = static_cast<L>(gen() % static_cast<std::uint32_t>(v));
    for (std::size_t i = 0; i < labels.size(); i += 5) labels[i] = static_cast<L>(-100);
    if (with_mask) {
      mask.resize(labels.size());
      for (auto& m : mask) m = static_cast<std::uint8_t>(gen() % 3 != 0);
    }
    const index_t P = shift ? t - 1 : t;
    for (index_t bb = 0; bb < b; ++bb) {
      const auto col = static_cast<std::size_t>(bb * t + label_col(P - 1));
      labels[col] = static_cast<L>(bb % v);  // keep one counted position per sequence
      if (!mask.empty()) mask[col] = 1;
      for (index_t tt = 0; tt < t; ++tt) {  // -inf somewhere that is never a label
        T* row = logits.data() + bb * batch_stride + tt * time_stride;
        for (index_t k = 0; k < v; k += 97) {
          bool is_label = false;
          for (index_t q = 0; q < t; ++q) is_label |= labels[bb * t + q] == static_cast<L>(k);
          if (!is_label) row[k] = -std::numeric_limits<T>::infinity();
        }
      }
    }
  }
  // The causal-LM shift written out (not token_layout::label_column / predicted_positions, the
  // library's code under test): under shift, logit row p predicts label p + 1 and the last row
  // predicts nothing.
  index_t label_col(index_t p) const { return layout.shift_labels ? p + 1 : p; }
  index_t predicted() const { return layout.shift_labels ? time - 1 : time; }
  bool counted(index_t b, index_t p) const {
    const index_t col = label_col(p);
    const auto y = labels[static_cast<std::size_t>(b * time + col)];
    return y != static_cast<L>(layout.ignore_index) &&
           (mask.empty() || mask[static_cast<std::size_t>(b * time + col)] != 0);
  }
  const T* row(index_t b, index_t t) const { return logits.data() + b * batch_stride + t * time_stride; }
};

/// Views of a token batch uploaded to B's memory space (the uploads own the memory).
template <class B, class T, class L>
struct uploaded_batch {
  decltype(placement<B>::upload(std::declval<const std::vector<T>&>())) logits;
  decltype(placement<B>::upload(std::declval<const std::vector<L>&>())) labels;
  decltype(placement<B>::upload(std::declval<const std::vector<std::uint8_t>&>())) mask;
  logits_in<B, const T> lv;
  view_in<B, const L> lb;
  view_in<B, const std::uint8_t> mk;

  explicit uploaded_batch(const token_batch<T, L>& h)
      : logits(placement<B>::upload(h.logits)),
        labels(placement<B>::upload(h.labels)),
        mask(placement<B>::upload(h.mask)) {
    lv = {logits.data(), h.batch, h.time, h.vocab, h.batch_stride, h.time_stride};
    lb = view_in<B, const L>::contiguous(labels.data(), h.batch, h.time);
    if (!h.mask.empty()) mk = view_in<B, const std::uint8_t>::contiguous(mask.data(), h.batch, h.time);
  }
};

struct reference_forward {
  std::vector<long double> logp, lse, sum, count;
};

template <class T, class L>
reference_forward reference_logps(const token_batch<T, L>& h) {
  const index_t P = h.predicted();
  reference_forward r;
  r.logp.assign(static_cast<std::size_t>(h.batch * P), 0);
  r.lse = r.logp;
  r.sum.assign(static_cast<std::size_t>(h.batch), 0);
  r.count = r.sum;
  for (index_t b = 0; b < h.batch; ++b)
    for (index_t p = 0; p < P; ++p) {
      if (!h.counted(b, p)) continue;
      const T* x = h.row(b, p);
      long double m = -INFINITY, s = 0;
      for (index_t v = 0; v < h.vocab; ++v) m = std::max<long double>(m, x[v]);
      for (index_t v = 0; v < h.vocab; ++v) s += std::exp(static_cast<long double>(x[v]) - m);
      const auto k = static_cast<std::size_t>(b * P + p);
      r.lse[k] = m + std::log(s);
      r.logp[k] = x[h.labels[static_cast<std::size_t>(b * h.time + h.label_col(p))]] - r.lse[k];
      r.sum[static_cast<std::size_t>(b)] += r.logp[k];
      r.count[static_cast<std::size_t>(b)] += 1;
    }
  return r;
}

template <class B, class L = std::int64_t>
void check_sequence_logps_forward(bool with_mask, bool shift, index_t vocab) {
  using T = typename B::scalar_type;
  const token_batch<T, L> h(3, 6, vocab, with_mask, shift, 41 + static_cast<std::uint32_t>(vocab));
  const uploaded_batch<B, T, L> d(h);
  sequence_logps_options opt;
  opt.layout = h.layout;
  const auto out = sequence_logps<B>(d.lv, d.lb, d.mk, opt);
  const auto ref = reference_logps(h);
  const auto logp = download_matrix<B>(out.token_logps), lse = download_matrix<B>(out.token_lse);
  const auto sum = B::to_host(out.sum), count = B::to_host(out.count), mean = B::to_host(out.mean);
  const index_t P = h.predicted();
  REQUIRE(logp.size() == static_cast<std::size_t>(h.batch * P));
  for (std::size_t k = 0; k < logp.size(); ++k) {
    INFO("row " << k);
    CHECK(close<T>(logp[k], ref.logp[k]));
    CHECK(close<T>(lse[k], ref.lse[k]));
  }
  for (std::size_t b = 0; b < sum.size(); ++b) {
    CHECK(count[b] == static_cast<T>(ref.count[b]));
    CHECK(close<T>(sum[b], ref.sum[b]));
    CHECK(close<T>(mean[b], ref.sum[b] / ref.count[b]));
  }
}

template <class B>
void check_sequence_logps_backward(bool with_mask, bool shift, index_t vocab) {
  using T = typename B::scalar_type;
  const token_batch<T> h(2, 5, vocab, with_mask, shift, 51 + static_cast<std::uint32_t>(vocab));
  const uploaded_batch<B, T, std::int64_t> d(h);
  sequence_logps_options opt;
  opt.layout = h.layout;
  const auto fwd = sequence_logps<B>(d.lv, d.lb, d.mk, opt);
  const std::vector<T> gs{T(0.75), T(-1.5)}, gm{T(2), T(0.25)};
  const auto grad_sum = B::from_host(std::span<const T>(gs));
  const auto grad_mean = B::from_host(std::span<const T>(gm));
  const auto g = download_matrix<B>(
      sequence_logps_backward<B>(d.lv, d.lb, d.mk, fwd, grad_sum, &grad_mean, opt));
  // The same gradient from the one-pass forward + backward (the backend's own, or the forward and
  // the backward one after the other where it has none), into a buffer of garbage.
  auto one_pass = B::from_host(std::span<const T>(
      std::vector<T>(static_cast<std::size_t>(h.batch * h.time * h.vocab), T(-9))));
  const auto with_grad = sequence_logps_with_grad<B>(
      d.lv, d.lb, d.mk, grad_sum, &grad_mean,
      logits_in<B, T>::contiguous(B::data(one_pass), h.batch, h.time, h.vocab), opt);
  const auto g1 = B::to_host(one_pass);
  const auto ref = reference_logps(h);
  const index_t P = h.predicted();
  REQUIRE(g.size() == static_cast<std::size_t>(h.batch * h.time * h.vocab));
  REQUIRE(g1.size() == g.size());
  for (index_t b = 0; b < h.batch; ++b) {
    const auto ub = static_cast<std::size_t>(b);
    CHECK(close<T>(B::to_host(with_grad.sum)[ub], ref.sum[ub]));
    for (index_t t = 0; t < h.time; ++t) {
      const bool counted = t < P && h.counted(b, t);
      const long double c = gs[b] + gm[b] / ref.count[ub];
      const T* x = h.row(b, t);
      for (index_t v = 0; v < h.vocab; ++v) {
        long double want = 0;
        if (counted) {
          const auto y = h.labels[static_cast<std::size_t>(b * h.time + h.label_col(t))];
          want = c * ((v == y ? 1.0L : 0.0L) -
                      std::exp(static_cast<long double>(x[v]) - ref.lse[static_cast<std::size_t>(b * P + t)]));
        }
        INFO("b " << b << " t " << t << " v " << v);
        const auto k = static_cast<std::size_t>((b * h.time + t) * h.vocab + v);
        const double abs = tolerance<T>::abs * std::fabs(static_cast<double>(c));
        CHECK(close<T>(g[k], want, tolerance<T>::rel, abs));
        CHECK(close<T>(g1[k], want, tolerance<T>::rel, abs));
      }
    }
  }
}

/// Finite differences of the backend's own forward (double only): d mean-of-means / d logits.
template <class B>
void check_sequence_logps_finite_differences() {
  using T = typename B::scalar_type;
  static_assert(std::is_same_v<T, double>);
  token_batch<T> h(2, 4, 7, true, true, 61, 1.0);
  for (auto& x : h.logits)
    if (std::isinf(x)) x = -3;  // finite everywhere so every perturbation is differentiable
  auto objective = [&](const token_batch<T>& hh) {
    const uploaded_batch<B, T, std::int64_t> d(hh);
    const auto out = sequence_logps<B>(d.lv, d.lb, d.mk);
    const auto s = B::to_host(out.sum), m = B::to_host(out.mean);
    return 0.3 * s[0] - 0.7 * s[1] + 1.1 * m[0] + 0.5 * m[1];
  };
  const uploaded_batch<B, T, std::int64_t> d(h);
  const auto fwd = sequence_logps<B>(d.lv, d.lb, d.mk);
  const std::vector<T> gs{0.3, -0.7}, gm{1.1, 0.5};
  const auto gsum = B::from_host(std::span<const T>(gs)), gmean = B::from_host(std::span<const T>(gm));
  const auto g = download_matrix<B>(sequence_logps_backward<B>(d.lv, d.lb, d.mk, fwd, gsum, &gmean));
  const double eps = 1e-6;
  for (index_t b = 0; b < h.batch; ++b)
    for (index_t t = 0; t < h.time; ++t)
      for (index_t v = 0; v < h.vocab; ++v) {
        const auto k = static_cast<std::size_t>(b * h.batch_stride + t * h.time_stride + v);
        token_batch<T> hp = h, hm = h;
        hp.logits[k] += eps;
        hm.logits[k] -= eps;
        const double fd = (objective(hp) - objective(hm)) / (2 * eps);
        INFO("b " << b << " t " << t << " v " << v);
        CHECK(g[static_cast<std::size_t>((b * h.time + t) * h.vocab + v)] ==
              Approx(fd).margin(1e-7).epsilon(1e-6));
      }
}

/// Thread counts (CPU) or repeated launches (GPU) give bit-identical results. Exact equality is
/// the contract: threads (blocks) only partition the rows, each row is reduced by one thread
/// (block) in an order fixed by the row length, and per-sequence sums run serially in double.
template <class B>
void check_sequence_logps_deterministic() {
  using T = typename B::scalar_type;
  const token_batch<T> h(4, 9, 3001, true, true, 71);
  const uploaded_batch<B, T, std::int64_t> d(h);
  sequence_logps_options one, many;
  one.threads = 1;
  many.threads = 3;
  const auto a = sequence_logps<B>(d.lv, d.lb, d.mk, one);
  const auto b = sequence_logps<B>(d.lv, d.lb, d.mk, many);
  CHECK(download_matrix<B>(a.token_logps) == download_matrix<B>(b.token_logps));
  CHECK(download_matrix<B>(a.token_lse) == download_matrix<B>(b.token_lse));
  CHECK(B::to_host(a.sum) == B::to_host(b.sum));
  const std::vector<T> gs{1, 2, 3, 4};
  const auto grad_sum = B::from_host(std::span<const T>(gs));
  const auto ga = download_matrix<B>(sequence_logps_backward<B>(d.lv, d.lb, d.mk, a, grad_sum, nullptr, one));
  const auto gb = download_matrix<B>(sequence_logps_backward<B>(d.lv, d.lb, d.mk, a, grad_sum, nullptr, many));
  CHECK(ga == gb);
}

/// Bad inputs are rejected on the host with messages naming the argument.
template <class B>
void check_sequence_logps_errors() {
  using T = typename B::scalar_type;
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const prefopt::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  {  // a counted label outside the vocabulary
    token_batch<T> h(2, 4, 11, false, true, 81);
    h.labels[6] = 11;
    const uploaded_batch<B, T, std::int64_t> d(h);
    CHECK_THAT(message([&] { (void)sequence_logps<B>(d.lv, d.lb, d.mk); }),
               Catch::Contains("labels[1, 2] = 11") && Catch::Contains("vocab = 11"));
  }
  {  // NaN in a counted row
    token_batch<T> h(2, 4, 11, false, true, 82);
    h.logits[static_cast<std::size_t>(1 * h.batch_stride + 2 * h.time_stride + 3)] =
        std::numeric_limits<T>::quiet_NaN();
    const uploaded_batch<B, T, std::int64_t> d(h);
    CHECK_THAT(message([&] { (void)sequence_logps<B>(d.lv, d.lb, d.mk); }),
               Catch::Contains("logits[1, 2, :]") && Catch::Contains("not finite"));
  }
  {  // backward checks its labels too: the gradient adds c at the label's column
    token_batch<T> h(2, 4, 11, false, true, 81);
    const uploaded_batch<B, T, std::int64_t> good(h);
    const auto fwd = sequence_logps<B>(good.lv, good.lb, good.mk);
    h.labels[6] = 11;
    const uploaded_batch<B, T, std::int64_t> bad(h);
    const std::vector<T> gs{T(1), T(1)};
    const auto grad_sum = B::from_host(std::span<const T>(gs));
    CHECK_THAT(message([&] {
                 (void)sequence_logps_backward<B>(bad.lv, bad.lb, bad.mk, fwd, grad_sum, nullptr);
               }),
               Catch::Contains("labels[1, 2] = 11") && Catch::Contains("vocab = 11"));
  }
  // NaN in the last vocabulary chunk of a counted row, where every other element of that chunk
  // is -inf (a max that skips NaN sees an all -inf chunk): vocab 2049 = one 2048-element chunk
  // and a lone NaN; vocab 2050 = a tail chunk {-inf, NaN}.
  for (const index_t vocab : {index_t{2049}, index_t{2050}}) {
    token_batch<T> h(2, 4, vocab, false, true, 85);
    h.labels[7] = 1;  // row (1, 2) is counted; its label logit is finite and not in the last chunk
    T* row = h.logits.data() + 1 * h.batch_stride + 2 * h.time_stride;
    row[2048] = -std::numeric_limits<T>::infinity();
    row[vocab - 1] = std::numeric_limits<T>::quiet_NaN();
    const uploaded_batch<B, T, std::int64_t> d(h);
    INFO("vocab " << vocab);
    CHECK_THAT(message([&] { (void)sequence_logps<B>(d.lv, d.lb, d.mk); }),
               Catch::Contains("logits[1, 2, :]") && Catch::Contains("nan:") &&
                   Catch::Contains("not finite"));
  }
  {  // NaN in a row that is not counted is never read
    token_batch<T> h(1, 4, 11, false, true, 83);
    h.labels[1] = -100;  // position 0 predicts label column 1
    h.labels[3] = 2;
    h.logits[3] = std::numeric_limits<T>::quiet_NaN();
    const uploaded_batch<B, T, std::int64_t> d(h);
    CHECK_NOTHROW(sequence_logps<B>(d.lv, d.lb, d.mk));
  }
  {  // a sequence without counted tokens cannot have a mean
    token_batch<T> h(2, 4, 11, true, true, 84);
    for (index_t t = 0; t < 4; ++t) h.mask[static_cast<std::size_t>(4 + t)] = 0;
    const uploaded_batch<B, T, std::int64_t> d(h);
    CHECK_THAT(message([&] { (void)sequence_logps<B>(d.lv, d.lb, d.mk); }),
               Catch::Contains("sequence 1"));
    sequence_logps_options no_mean;
    no_mean.compute_mean = false;
    const auto out = sequence_logps<B>(d.lv, d.lb, d.mk, no_mean);
    CHECK(B::to_host(out.count)[1] == T(0));
    CHECK(B::to_host(out.sum)[1] == T(0));
  }
}

/// The generic path built from the required primitives (what a backend without fused
/// operations gets) agrees with the backend's fused operations. The generic forward reads labels
/// on the host, so it is checked on host backends only; the generic backward runs anywhere.
template <class B>
void check_generic_path_matches_fused() {
  using T = typename B::scalar_type;
  const token_batch<T> h(3, 6, 2500, true, true, 91);
  const uploaded_batch<B, T, std::int64_t> d(h);
  sequence_logps_options opt;
  const auto fused = sequence_logps<B>(d.lv, d.lb, d.mk, opt);
  auto agree = [](const std::vector<T>& a, const std::vector<T>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("i = " << i);
      CHECK(close<T>(a[i], b[i]));
    }
  };
  if constexpr (prefopt::host_accessible<B>) {
    const auto generic = prefopt::detail::sequence_logps_generic<B>(d.lv, d.lb, d.mk, opt);
    agree(download_matrix<B>(generic.token_logps), download_matrix<B>(fused.token_logps));
    agree(download_matrix<B>(generic.token_lse), download_matrix<B>(fused.token_lse));
    agree(B::to_host(generic.sum), B::to_host(fused.sum));
    CHECK(B::to_host(generic.count) == B::to_host(fused.count));
  }
  const std::vector<T> cs{T(0.5), T(-2), T(1.25)};
  const auto coeff = B::from_host(std::span<const T>(cs));
  auto g_generic = B::zeros(h.batch * h.time, h.vocab);
  auto g_fused = B::zeros(h.batch * h.time, h.vocab);
  auto as_logits = [&](typename B::matrix_type& m) {
    return logits_in<B, T>::contiguous(B::data(m), h.batch, h.time, h.vocab);
  };
  prefopt::detail::sequence_logps_backward_generic<B>(d.lv, d.lb, d.mk, fused.token_lse, coeff,
                                                      as_logits(g_generic), opt.layout);
  B::token_logps_backward(d.lv, d.lb, d.mk, fused.token_lse, coeff, as_logits(g_fused), opt);
  const auto gg = download_matrix<B>(g_generic), gf = download_matrix<B>(g_fused);
  REQUIRE(gg.size() == gf.size());
  for (std::size_t i = 0; i < gg.size(); ++i) {
    INFO("i = " << i);
    CHECK(close<T>(gg[i], gf[i], tolerance<T>::rel, 2 * tolerance<T>::abs));
  }
}

}  // namespace prefopt::testing
