// prefopt.preference_loss: every loss of prefopt's registry by its TRL loss_type name, over 1-D
// arrays of per-sequence log-probs, with the analytic gradients and TRL's metrics.
//
// The Python layer (prefopt/__init__.py) sorts **hyperparameters into the three dictionaries
// this function takes; validation of the values (beta > 0, win rates in [0, 1], ...) is the C++
// registry's and the batch API's, whose prefopt::invalid_argument surfaces as ValueError.

#include <cmath>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/registry.hpp>

#include "arrays.hpp"
#include "module.hpp"

namespace prefopt::python {
namespace {

namespace pl = prefopt::losses;

/// The registry's own name list decides what a hyper-parameter is (an unknown name raises
/// ValueError listing the valid ones).
pl::hyper_parameters parse_hyper_parameters(const std::map<std::string, double>& given) {
  pl::hyper_parameters hp;
  for (const auto& [name, value] : given) pl::set_hyper_parameter(hp, name, value);
  return hp;
}

template <class T>
nb::tuple run(const in_array& chosen, const in_array& rejected,
              const std::optional<in_array>& ref_chosen, const std::optional<in_array>& ref_rejected,
              const std::string& loss_type, const std::vector<double>& loss_weights,
              const std::map<std::string, double>& hyper_parameters,
              const std::map<std::string, in_array>& extra, const std::string& reduction,
              bool reference_free, std::optional<double> kl_baseline) {
  using B = prefopt::eigen::backend<T>;
  const auto losses = pl::make_loss_list<T>(loss_type, loss_weights,
                                            parse_hyper_parameters(hyper_parameters));
  pl::preference_batch<T> batch;
  batch.chosen_logps = vector_span<T>("policy_chosen_logps", chosen);
  batch.rejected_logps = vector_span<T>("policy_rejected_logps", rejected);
  if (ref_chosen) batch.ref_chosen_logps = vector_span<T>("ref_chosen_logps", *ref_chosen);
  if (ref_rejected) batch.ref_rejected_logps = vector_span<T>("ref_rejected_logps", *ref_rejected);
  for (const auto& [name, array] : extra) {
    const auto s = vector_span<T>(name, array);
    if (name == "chosen_tokens") batch.chosen_tokens = s;
    else if (name == "rejected_tokens") batch.rejected_tokens = s;
    else if (name == "chosen_win_rates") batch.chosen_win_rates = s;
    else if (name == "rejected_win_rates") batch.rejected_win_rates = s;
    else if (name == "kl_policy_logps") batch.kl_policy_logps = s;
    else if (name == "kl_ref_logps") batch.kl_ref_logps = s;
    else value_error(name, "not an input of preference_loss");
  }
  pl::preference_loss_options<T> options;
  if (reduction == "mean") options.reduce = pl::reduction::mean;
  else if (reduction == "sum") options.reduce = pl::reduction::sum;
  else value_error("reduction", "must be \"mean\" or \"sum\", got \"" + reduction + "\"");
  options.reference_free = reference_free;
  if (kl_baseline) options.kl_baseline = static_cast<T>(*kl_baseline);

  pl::preference_loss_result<B> r;
  {
    nb::gil_scoped_release unlocked;
    // One loss without weights: the registry's call itself, not the list's weighted sum (which
    // would rescale every output vector by 1).
    r = losses.size() == 1 && loss_weights.empty()
            ? pl::preference_loss<B>(losses.front().loss, batch, options)
            : pl::preference_loss<B>(losses, batch, options);
  }
  nb::dict metrics;
  const auto values = r.metrics.values();
  for (std::size_t k = 0; k < values.size(); ++k)
    metrics[nb::str(r.metrics.names[k].data(), r.metrics.names[k].size())] =
        static_cast<double>(values[k]);
  return nb::make_tuple(static_cast<double>(r.loss), adopt_vector(std::move(r.grad_chosen)),
                        adopt_vector(std::move(r.grad_rejected)), metrics);
}

nb::tuple preference_loss(const in_array& chosen, const in_array& rejected,
                          const std::optional<in_array>& ref_chosen,
                          const std::optional<in_array>& ref_rejected, const std::string& loss_type,
                          const std::vector<double>& loss_weights,
                          const std::map<std::string, double>& hyper_parameters,
                          const std::map<std::string, in_array>& extra,
                          const std::string& reduction, bool reference_free,
                          std::optional<double> kl_baseline) {
  require_cpu("policy_chosen_logps", chosen);
  if (has_dtype<float>(chosen))
    return run<float>(chosen, rejected, ref_chosen, ref_rejected, loss_type, loss_weights,
                      hyper_parameters, extra, reduction, reference_free, kl_baseline);
  if (has_dtype<double>(chosen))
    return run<double>(chosen, rejected, ref_chosen, ref_rejected, loss_type, loss_weights,
                       hyper_parameters, extra, reduction, reference_free, kl_baseline);
  value_error("policy_chosen_logps",
              "expected dtype float32 or float64, got " + dtype_name(chosen.dtype()));
}

/// Seconds per call of the C++ batch API on these buffers, looped `repeats` times inside the
/// extension: the baseline of bench/python/overhead.py (no Python in the loop).
template <class T>
double cpp_seconds(const in_array& chosen, const in_array& rejected, const in_array& ref_chosen,
                   const in_array& ref_rejected, const std::string& loss_type, int repeats) {
  using B = prefopt::eigen::backend<T>;
  pl::preference_batch<T> batch;
  batch.chosen_logps = vector_span<T>("policy_chosen_logps", chosen);
  batch.rejected_logps = vector_span<T>("policy_rejected_logps", rejected);
  batch.ref_chosen_logps = vector_span<T>("ref_chosen_logps", ref_chosen);
  batch.ref_rejected_logps = vector_span<T>("ref_rejected_logps", ref_rejected);
  nb::gil_scoped_release unlocked;
  double sink = 0;
  const double start = process_cpu_seconds();
  for (int k = 0; k < repeats; ++k)
    sink += static_cast<double>(pl::preference_loss<B>(pl::make_loss<T>(loss_type), batch).loss);
  const double elapsed = process_cpu_seconds() - start;
  if (!std::isfinite(sink)) value_error("policy_chosen_logps", "gave a non-finite loss");
  return elapsed / repeats;
}

double cpp_seconds_preference_loss(const in_array& chosen, const in_array& rejected,
                                   const in_array& ref_chosen, const in_array& ref_rejected,
                                   const std::string& loss_type, int repeats) {
  if (repeats < 1) value_error("repeats", "must be >= 1");
  require_cpu("policy_chosen_logps", chosen);
  if (has_dtype<float>(chosen))
    return cpp_seconds<float>(chosen, rejected, ref_chosen, ref_rejected, loss_type, repeats);
  return cpp_seconds<double>(chosen, rejected, ref_chosen, ref_rejected, loss_type, repeats);
}

}  // namespace

void bind_losses(nb::module_& m) {
  m.def("_preference_loss", &preference_loss, nb::arg("policy_chosen_logps"),
        nb::arg("policy_rejected_logps"), nb::arg("ref_chosen_logps").none(),
        nb::arg("ref_rejected_logps").none(), nb::arg("loss_type"), nb::arg("loss_weights"),
        nb::arg("hyper_parameters"), nb::arg("inputs"), nb::arg("reduction"),
        nb::arg("reference_free"), nb::arg("kl_baseline").none(),
        "Low-level preference_loss; use prefopt.preference_loss.");
  m.def("_cpp_seconds_preference_loss", &cpp_seconds_preference_loss, nb::arg("chosen"),
        nb::arg("rejected"), nb::arg("ref_chosen"), nb::arg("ref_rejected"), nb::arg("loss_type"),
        nb::arg("repeats"), "Benchmark helper: seconds per C++ preference_loss call.");
  nb::list names;
  for (const auto n : pl::loss_names) names.append(nb::str(n.data(), n.size()));
  m.attr("loss_names") = nb::tuple(names);
  m.def("hyper_parameter_names", [](const std::string& loss) {
    return std::string(pl::hyper_parameter_names(loss));
  }, nb::arg("loss_type"), "The hyper-parameters (space-separated TRL names) a loss takes.");
}

}  // namespace prefopt::python
