// Every loss against the committed PyTorch autograd fixtures (tests/reference/losses_reference.py):
// per-pair losses, gradients of the reduced loss, the reduced loss and the TRL metrics, in double
// to 1e-9 relative; the same cases in float to a float tolerance.

#include <catch2/catch.hpp>

#include <concepts>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/kto_unpaired.hpp>
#include <prefopt/losses/registry.hpp>

#include "csv_table.hpp"
#include "support.hpp"

namespace {

namespace pl = prefopt::losses;
using columns = std::map<std::string, std::vector<double>>;

loss_table::csv_table load(const std::string& file) {
  std::ifstream in(std::string(PREFOPT_LOSS_FIXTURE_DIR) + "/" + file);
  REQUIRE(in.good());
  return loss_table::read_csv(in);
}
bool fixture_exists(const std::string& file) {
  return std::ifstream(std::string(PREFOPT_LOSS_FIXTURE_DIR) + "/" + file).good();
}

/// The gradient's sign wherever the reference is non-zero above the comparison's absolute floor
/// (a relative tolerance alone lets a tiny entry of the wrong sign pass under the floor).
void check_sign(double got, double want, double abs_floor) {
  if (std::fabs(want) <= abs_floor) return;
  INFO("reference " << want << ", got " << got);
  CHECK((want > 0 ? got > 0 : got < 0));
}

columns numeric_columns(const loss_table::csv_table& t) {
  columns out;
  for (std::size_t c = 0; c < t.header.size(); ++c)
    for (std::size_t r = 0; r < t.rows.size(); ++r) out[t.header[c]].push_back(t.number(r, c));
  return out;
}

struct fixture_case {
  std::map<std::string, std::string> fields;
  [[nodiscard]] std::optional<double> hp(const std::string& k) const {
    const auto& v = fields.at(k);
    return v.empty() ? std::nullopt : std::optional<double>(std::stod(v));
  }
  [[nodiscard]] double number(const std::string& k) const { return std::stod(fields.at(k)); }
};

std::vector<fixture_case> cases() {
  const auto t = load("cases.csv");
  std::vector<fixture_case> out;
  for (const auto& row : t.rows) {
    fixture_case c;
    for (std::size_t k = 0; k < t.header.size(); ++k) c.fields[t.header[k]] = row[k];
    out.push_back(c);
  }
  return out;
}

template <std::floating_point T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}
template <class V>
  requires(!std::floating_point<V>)
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(a[0]) * std::size_t(a.size())) == 0);
}

/// Checks case c against its fixture. With `kept`, the result checked is the reusing form's,
/// written into *kept (which holds whatever the previous call left), after checking that it
/// equals the allocating form's bit for bit: both run the same code (the allocating form hands a
/// fresh result to the reusing one), so a difference is a field the reusing form left stale.
template <class T>
void check_case(const fixture_case& c, double rel, double floor_factor, double abs_floor,
                pl::preference_loss_result<prefopt::eigen::backend<T>>* kept = nullptr) {
  using B = prefopt::eigen::backend<T>;
  const std::string name = c.fields.at("case");
  INFO("case " << name);
  const pl::hyper_parameters hp{c.hp("beta"),  c.hp("label_smoothing"),  c.hp("gamma"),
                                c.hp("alpha"), c.hp("lambda"),           c.hp("tau"),
                                c.hp("desirable_weight"), c.hp("undesirable_weight")};
  const auto loss = pl::make_loss<T>(c.fields.at("loss"), hp);
  const columns in = numeric_columns(load(c.fields.at("dataset") + ".csv"));
  std::map<std::string, std::vector<T>> typed;
  for (const auto& [k, v] : in) typed[k].assign(v.begin(), v.end());
  const auto col = [&](const char* k) {
    auto it = typed.find(k);
    return it == typed.end() ? std::span<const T>{} : std::span<const T>(it->second);
  };
  const pl::loss_traits tr = pl::traits_of(loss);
  pl::preference_batch<T> batch{col("chosen_logps"),    col("rejected_logps"),
                                col("ref_chosen_logps"), col("ref_rejected_logps"),
                                col("chosen_tokens"),   col("rejected_tokens"),
                                col("chosen_win_rate"), col("rejected_win_rate"),
                                tr.has_nll ? col("chosen_nll") : std::span<const T>{},
                                col("kl_policy_logps"), col("kl_ref_logps")};
  pl::preference_loss_options<T> options;
  options.reduce = c.fields.at("reduction") == "sum" ? pl::reduction::sum : pl::reduction::mean;
  options.reference_free = c.fields.at("reference_free") == "1";
  const auto fresh = pl::preference_loss<B>(loss, batch, options);
  if (kept != nullptr) {
    // Poison every value the call must write (sizes and buffers stay), so that a field or an
    // element it leaves alone shows up as a NaN below rather than as the previous call's value.
    const T nan = std::numeric_limits<T>::quiet_NaN();
    kept->loss = nan;
    kept->per_pair.setConstant(nan);
    kept->grad_chosen.setConstant(nan);
    kept->grad_rejected.setConstant(nan);
    kept->grad_nll.setConstant(nan);
    kept->metrics = {nan, nan, nan, nan, nan, nan};
    kept->context = {nan, nan};
    pl::preference_loss<B>(loss, batch, *kept, options);
    CHECK(same_bits(kept->loss, fresh.loss));
    CHECK(same_bits(kept->per_pair, fresh.per_pair));
    CHECK(same_bits(kept->grad_chosen, fresh.grad_chosen));
    CHECK(same_bits(kept->grad_rejected, fresh.grad_rejected));
    CHECK(same_bits(kept->grad_nll, fresh.grad_nll));
    CHECK(same_bits(kept->metrics.values(), fresh.metrics.values()));
    CHECK(same_bits(kept->context.kl_baseline, fresh.context.kl_baseline));
    CHECK(same_bits(kept->context.delta, fresh.context.delta));
  }
  const auto& out = kept != nullptr ? *kept : fresh;

  const columns expected = numeric_columns(load(name + ".expected.csv"));
  const auto& el = expected.at("loss");
  const auto& egc = expected.at("grad_chosen");
  const auto& egr = expected.at("grad_rejected");
  REQUIRE(static_cast<std::size_t>(out.per_pair.size()) == el.size());
  for (std::size_t i = 0; i < el.size(); ++i) {
    // Cancellation inside one gradient (e.g. apo_down's sigma'(a) - sigma'(z)) is bounded by the
    // row's gradient magnitude, not the entry's: the absolute floor of a gradient scales with the
    // row's larger gradient. (Not with the loss value: for ipo / sppo on |log-probs| ~ 1e4 the
    // loss is ~1e7 times the gradients, and such a floor would accept any gradient.)
    const double grad_scale = std::max(std::fabs(egc[i]), std::fabs(egr[i]));
    const double loss_floor = floor_factor * std::max(std::fabs(el[i]), grad_scale) + abs_floor;
    const double grad_floor = floor_factor * grad_scale + abs_floor;
    const auto k = static_cast<Eigen::Index>(i);
    INFO("row " << i);
    CHECK(losses_test::close(out.per_pair[k], el[i], rel, loss_floor));
    CHECK(losses_test::close(out.grad_chosen[k], egc[i], rel, grad_floor));
    CHECK(losses_test::close(out.grad_rejected[k], egr[i], rel, grad_floor));
    check_sign(out.grad_chosen[k], egc[i], abs_floor);
    check_sign(out.grad_rejected[k], egr[i], abs_floor);
  }
  // d/d chosen_nll, for the cases that pass chosen_nll to a loss that reads it.
  const bool nll_given = tr.has_nll && typed.count("chosen_nll") != 0;
  CHECK(fixture_exists(name + ".grad_nll.csv") == nll_given);
  if (nll_given) {
    const auto egn = numeric_columns(load(name + ".grad_nll.csv")).at("grad_nll");
    REQUIRE(static_cast<std::size_t>(out.grad_nll.size()) == egn.size());
    for (std::size_t i = 0; i < egn.size(); ++i) {
      INFO("grad_nll row " << i);
      const auto k = static_cast<Eigen::Index>(i);
      CHECK(losses_test::close(out.grad_nll[k], egn[i], rel, floor_factor * std::fabs(egn[i]) + abs_floor));
      check_sign(out.grad_nll[k], egn[i], abs_floor);
    }
  } else {
    CHECK(out.grad_nll.size() == 0);
  }
  CHECK(losses_test::close(out.loss, c.number("loss_reduced"), rel));
  const auto values = out.metrics.values();
  for (std::size_t k = 0; k < values.size(); ++k) {
    INFO(out.metrics.names[k]);
    CHECK(losses_test::close(values[k], c.number(std::string(out.metrics.names[k])), rel, 1e-300));
  }
}

}  // namespace

TEST_CASE("every loss matches the PyTorch autograd fixtures in double to 1e-9", "[losses][fixtures]") {
  const auto all = cases();
  REQUIRE(all.size() >= 42);
  for (const auto& c : all) check_case<double>(c, 1e-9, 1e-13, 1e-300);
}

TEST_CASE("every loss matches the PyTorch fixtures in float to float precision", "[losses][fixtures][float]") {
  // Tails such as bco_pair's e^-276 underflow in float: an absolute floor at float resolution.
  for (const auto& c : cases()) check_case<float>(c, 2e-3, 2e-4, 1e-7);
}

TEST_CASE("the reusing preference_loss matches the fixtures with one result kept across cases",
          "[losses][fixtures]") {
  // One result for every case in turn: the datasets differ in size, so buffers are replaced,
  // and each case runs twice, so the second run overwrites buffers of the right size in place.
  // Float runs the fused DPO kernel for sigmoid, double the generic driver.
  pl::preference_loss_result<prefopt::eigen::backend<double>> kept_double;
  pl::preference_loss_result<prefopt::eigen::backend<float>> kept_float;
  for (const auto& c : cases()) {
    for (int round = 0; round < 2; ++round) {
      INFO("round " << round);
      const double* before = kept_double.per_pair.data();
      const auto size = kept_double.per_pair.size();
      check_case<double>(c, 1e-9, 1e-13, 1e-300, &kept_double);
      if (round == 1) {
        CHECK(kept_double.per_pair.size() == size);
        CHECK(kept_double.per_pair.data() == before);  // overwritten, not reallocated
      }
      check_case<float>(c, 2e-3, 2e-4, 1e-7, &kept_float);
    }
  }
}

// Unpaired KTO (losses, gradients, z0, group rewards) against its PyTorch fixtures: checked once, in
// the backend suite (tests/backends/loss_fixture_checks.hpp), on Eigen float and double as well
// as on xtensor and through the device code paths, with this file's tolerances.

TEST_CASE("the fixtures cover every registered loss", "[losses][fixtures]") {
  std::set<std::string> covered;
  for (const auto& c : cases()) covered.insert(c.fields.at("loss"));
  for (const auto name : pl::canonical_loss_names) {  // aliases (dpo, aot_pair) select these
    INFO(name);
    CHECK(covered.count(std::string(name)) == 1);
  }
}
