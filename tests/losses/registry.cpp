// The registry (losses/registry.hpp): every name constructs the loss it names, the defaults are
// the published ones, the declaration order matches each constructor, and every kind of bad name
// is rejected with prefopt::invalid_argument naming it.

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <prefopt/backends/eigen.hpp>
#include <prefopt/losses/registry.hpp>

namespace {

namespace pl = prefopt::losses;
using Catch::Matchers::Contains;

/// A hyper-parameter of a constructed loss read through its accessor (not through the
/// declaration), so the tests see what the constructor stored.
template <class L>
std::optional<double> stored(const L& l, std::string_view name) {
  if constexpr (requires { l.beta(); }) if (name == "beta") return l.beta();
  if constexpr (requires { l.label_smoothing(); })
    if (name == "label_smoothing") return l.label_smoothing();
  if constexpr (requires { l.gamma(); }) if (name == "gamma") return l.gamma();
  if constexpr (requires { l.alpha(); }) if (name == "alpha") return l.alpha();
  if constexpr (requires { l.lambda(); }) if (name == "lambda") return l.lambda();
  if constexpr (requires { l.tau(); }) if (name == "tau") return l.tau();
  if constexpr (requires { l.desirable_weight(); })
    if (name == "desirable_weight") return l.desirable_weight();
  if constexpr (requires { l.undesirable_weight(); })
    if (name == "undesirable_weight") return l.undesirable_weight();
  return std::nullopt;
}

template <class T>
std::optional<double> stored(const pl::any_loss<T>& loss, std::string_view name) {
  return std::visit([&](const auto& l) { return stored(l, name); }, loss.as_variant());
}

/// The published defaults, written from the sources (not read back from the code):
/// TRL DPOConfig (beta 0.1, label_smoothing 0, discopop_tau 0.05; exo_pair: TRL substitutes 1e-3
/// for label_smoothing 0, prefopt makes 1e-3 the default; rpo_alpha: the RPO paper's 1.0),
/// KTOConfig (beta 0.1, desirable/undesirable_weight 1.0), ORPOConfig (beta = lambda 0.1),
/// CPOConfig (beta 0.1, cpo_alpha 1.0, simpo_gamma 0.5), the SimPO paper (beta 2.0, its range
/// 2.0-2.5), the SPPO paper (eta = 1/beta = 1000), the LongPO README (--dpo_beta 0.01,
/// --dpo_lambda 0.01).
const std::map<std::string, std::map<std::string, double>> published_defaults{
    {"sigmoid", {{"beta", 0.1}, {"label_smoothing", 0.0}}},
    {"robust", {{"beta", 0.1}, {"label_smoothing", 0.0}}},
    {"hinge", {{"beta", 0.1}}},
    {"ipo", {{"beta", 0.1}}},
    {"exo_pair", {{"beta", 0.1}, {"label_smoothing", 1e-3}}},
    {"nca_pair", {{"beta", 0.1}}},
    {"bco_pair", {{"beta", 0.1}}},
    {"sppo_hard", {{"beta", 0.1}}},
    {"sppo", {{"beta", 0.001}}},
    {"sppo_single", {{"beta", 0.001}}},  // uclaml/SPPO pipeline: beta = 0.001 for both loss types
    {"aot", {{"beta", 0.1}, {"label_smoothing", 0.0}}},
    {"aot_unpaired", {{"beta", 0.1}, {"label_smoothing", 0.0}}},
    {"apo_zero", {{"beta", 0.1}}},
    {"apo_down", {{"beta", 0.1}}},
    {"discopop", {{"beta", 0.1}, {"tau", 0.05}}},
    {"kto", {{"beta", 0.1}, {"desirable_weight", 1.0}, {"undesirable_weight", 1.0}}},
    {"orpo", {{"lambda", 0.1}}},
    {"simpo", {{"beta", 2.0}, {"gamma", 0.5}, {"label_smoothing", 0.0}}},
    {"cpo", {{"beta", 0.1}, {"alpha", 1.0}, {"label_smoothing", 0.0}}},
    {"longpo", {{"beta", 0.01}, {"lambda", 0.01}}},
    {"rpo", {{"beta", 0.1}, {"alpha", 1.0}, {"label_smoothing", 0.0}}},
    {"sft", {}},
};

const std::vector<std::string_view> every_field{"beta", "label_smoothing", "gamma", "alpha", "lambda",
                                                "tau", "desirable_weight", "undesirable_weight"};

/// A valid, non-default value for each hyper-parameter, distinct across parameters so that a
/// declaration listing two of them in the wrong order cannot pass.
const std::map<std::string_view, double> distinct_value{
    {"beta", 0.37},  {"label_smoothing", 0.13}, {"gamma", 0.71}, {"alpha", 0.29},
    {"lambda", 0.43}, {"tau", 0.19}, {"desirable_weight", 1.7}, {"undesirable_weight", 0.6}};

}  // namespace

TEST_CASE("registry: one variant alternative and one canonical name per registered loss", "[losses][registry]") {
  CHECK(std::variant_size_v<pl::any_loss<double>::variant_type> == pl::canonical_loss_names.size());
  CHECK(pl::canonical_loss_names.size() == published_defaults.size());
  std::set<std::string_view> accepted(pl::loss_names.begin(), pl::loss_names.end());
  CHECK(accepted.size() == pl::loss_names.size());  // no name twice
  for (const auto name : pl::canonical_loss_names) CHECK(accepted.count(name) == 1);
  CHECK(accepted.count("dpo") == 1);
  CHECK(accepted.count("aot_pair") == 1);
  CHECK(pl::loss_names.size() == pl::canonical_loss_names.size() + 2);
}

TEST_CASE("registry: every accepted name constructs, in float and double, the loss it names", "[losses][registry]") {
  const std::map<std::string_view, std::string_view> alias_of{{"dpo", "sigmoid"}, {"aot_pair", "aot_unpaired"}};
  for (const auto name : pl::loss_names) {
    INFO(name);
    const auto it = alias_of.find(name);
    const std::string_view expected = it == alias_of.end() ? name : it->second;
    CHECK(pl::loss_name(pl::make_loss<double>(name)) == expected);
    CHECK(pl::loss_name(pl::make_loss<float>(name)) == expected);
    CHECK(pl::hyper_parameter_names(name) == pl::hyper_parameter_names(expected));
    CHECK(pl::canonical_name(name) == expected);
  }
  CHECK(std::holds_alternative<pl::sigmoid<double>>(pl::make_loss<double>("dpo")));
  CHECK(std::holds_alternative<pl::aot_unpaired<float>>(pl::make_loss<float>("aot_pair")));
}

TEST_CASE("registry: defaults are the published TRL / paper defaults, in the registry and the constructors", "[losses][registry]") {
  for (const auto name : pl::canonical_loss_names) {
    INFO(name);
    REQUIRE(published_defaults.count(std::string(name)) == 1);
    const auto& expected = published_defaults.at(std::string(name));
    const auto from_registry = pl::make_loss<double>(name);
    // The same loss from its default constructor (no registry involved).
    const auto from_constructor = std::visit(
        [](const auto& l) { return pl::any_loss<double>(std::decay_t<decltype(l)>{}); },
        from_registry.as_variant());
    const auto from_registry_float = pl::make_loss<float>(name);
    std::size_t declared = 0;
    for (const auto& p : pl::declared_parameters(name)) {
      INFO(p.name);
      ++declared;
      REQUIRE(expected.count(std::string(p.name)) == 1);
      const double want = expected.at(std::string(p.name));
      CHECK(stored(from_registry, p.name) == want);
      CHECK(stored(from_constructor, p.name) == want);
      CHECK(stored(from_registry_float, p.name) == static_cast<double>(static_cast<float>(want)));
    }
    CHECK(declared == expected.size());
  }
}

TEST_CASE("registry: each hyper-parameter given reaches the constructor argument of that name", "[losses][registry]") {
  for (const auto name : pl::canonical_loss_names) {
    for (const auto& p : pl::declared_parameters(name)) {
      INFO(name << " " << p.name);
      pl::hyper_parameters hp;
      pl::set_hyper_parameter(hp, p.name, distinct_value.at(p.name));
      const auto loss = pl::make_loss<double>(name, hp);
      CHECK(stored(loss, p.name) == distinct_value.at(p.name));
      // Every other declared parameter keeps its default.
      for (const auto& q : pl::declared_parameters(name))
        if (q.name != p.name) CHECK(stored(loss, q.name) == q.default_value);
    }
  }
  // All at once (a swapped pair of arguments would swap two distinct values).
  for (const auto name : pl::canonical_loss_names) {
    INFO(name);
    pl::hyper_parameters hp;
    for (const auto& p : pl::declared_parameters(name)) pl::set_hyper_parameter(hp, p.name, distinct_value.at(p.name));
    const auto loss = pl::make_loss<double>(name, hp);
    for (const auto& p : pl::declared_parameters(name)) CHECK(stored(loss, p.name) == distinct_value.at(p.name));
  }
  // orpo's lambda under TRL's name for it.
  CHECK(stored(pl::make_loss<double>("orpo", {.beta = 0.25}), "lambda") == 0.25);
}

TEST_CASE("registry: a hyper-parameter the loss lacks is rejected naming it and the loss", "[losses][registry]") {
  for (const auto name : pl::canonical_loss_names) {
    const auto& takes = published_defaults.at(std::string(name));
    for (const auto field : every_field) {
      if (takes.count(std::string(field)) == 1) continue;
      if (name == "orpo" && field == "beta") continue;  // TRL's name for orpo's lambda
      INFO(name << " " << field);
      pl::hyper_parameters hp;
      pl::set_hyper_parameter(hp, field, 0.3);
      CHECK_THROWS_AS(pl::make_loss<double>(name, hp), prefopt::invalid_argument);
      CHECK_THROWS_WITH(pl::make_loss<double>(name, hp),
                        Contains(std::string(field) + " = 0.29999999999999999: not a hyper-parameter of loss \"" +
                                 std::string(name) + "\""));
    }
  }
  CHECK_THROWS_WITH(pl::make_loss<double>("sft", {.beta = 0.5}), Contains("(it takes: none)"));
  CHECK_THROWS_WITH(pl::make_loss<double>("dpo", {.tau = 0.5}),
                    Contains("tau = 0.5: not a hyper-parameter of loss \"dpo\" (it takes: beta label_smoothing)"));
}

TEST_CASE("registry: unknown loss names and unknown hyper-parameter names are rejected naming them", "[losses][registry]") {
  for (const std::string_view bad : {"nope", "", "DPO", "sigmoid ", " dpo", "aot-pair", "sppo_single?"}) {
    INFO('"' << bad << '"');
    CHECK_THROWS_AS(pl::make_loss<double>(bad), prefopt::invalid_argument);
    CHECK_THROWS_WITH(pl::make_loss<double>(bad),
                      Contains("loss = " + prefopt::quote_text(bad, '"', 200) + ": unknown loss; valid names: sigmoid, dpo, robust"));
    CHECK_THROWS_AS(pl::hyper_parameter_names(bad), prefopt::invalid_argument);
    CHECK_THROWS_AS(pl::declared_parameters(bad), prefopt::invalid_argument);
    CHECK_THROWS_AS(pl::canonical_name(bad), prefopt::invalid_argument);
  }
  // The message lists every accepted name.
  try {
    (void)pl::make_loss<float>("nope");
    FAIL("no exception");
  } catch (const prefopt::invalid_argument& e) {
    for (const auto name : pl::loss_names) CHECK_THAT(e.what(), Contains(std::string(name)));
  }
  pl::hyper_parameters hp;
  CHECK_THROWS_WITH(pl::set_hyper_parameter(hp, "temperature", 1.0),
                    Contains("hyper-parameter = \"temperature\": not a hyper-parameter of any loss") &&
                        Contains("beta") && Contains("undesirable_weight"));
  CHECK_THROWS_AS(pl::set_hyper_parameter(hp, "Beta", 1.0), prefopt::invalid_argument);
  CHECK_FALSE(hp.beta.has_value());
  pl::set_hyper_parameter(hp, "undesirable_weight", 2.5);
  CHECK(hp.undesirable_weight == 2.5);
  // orpo: the parameter and its alias together are ambiguous.
  CHECK_THROWS_WITH(pl::make_loss<double>("orpo", {.beta = 0.25, .lambda = 0.2}),
                    Contains("beta = 0.25: orpo: give lambda or beta") && Contains("not both"));
}

TEST_CASE("registry: \"dpo\" computes the DPO loss of the definition", "[losses][registry]") {
  // L = -log sigma(beta Delta), Delta = (l_w - l_w^ref) - (l_l - l_l^ref); mean over pairs;
  // dL/dl_w = -beta sigma(-beta Delta) / N. Written here from the definition with std::exp.
  using B = prefopt::eigen::backend<double>;
  const std::vector<double> cw{-10, -12, -9, -30}, cl{-11, -10, -13, -29}, rw{-10.5, -11, -9, -31},
      rl{-10, -10, -12, -28};
  const double beta = 0.25;
  const auto out = pl::preference_loss<B>(pl::make_loss<double>("dpo", {.beta = beta}),
                                          pl::preference_batch<double>{cw, cl, rw, rl});
  double mean = 0;
  for (std::size_t i = 0; i < cw.size(); ++i) {
    const double z = beta * ((cw[i] - rw[i]) - (cl[i] - rl[i]));
    const double loss = std::log1p(std::exp(-z));
    mean += loss / static_cast<double>(cw.size());
    const auto k = static_cast<Eigen::Index>(i);
    CHECK(out.per_pair[k] == Approx(loss).epsilon(1e-14));
    const double g = -beta / (1 + std::exp(z)) / static_cast<double>(cw.size());
    CHECK(out.grad_chosen[k] == Approx(g).epsilon(1e-14));
    CHECK(out.grad_rejected[k] == Approx(-g).epsilon(1e-14));
  }
  CHECK(out.loss == Approx(mean).epsilon(1e-14));
}

TEST_CASE("registry: a loss list hands each term the hyper-parameters it declares", "[losses][registry]") {
  const std::vector<double> w{1.0, 0.5, 2.0};
  const auto list = pl::make_loss_list<double>("dpo,simpo,kto", w, {.beta = 0.3, .gamma = 0.7, .desirable_weight = 1.5});
  REQUIRE(list.size() == 3);
  CHECK(pl::loss_name(list[0].loss) == "sigmoid");
  CHECK(stored(list[0].loss, "beta") == 0.3);
  CHECK(stored(list[1].loss, "beta") == 0.3);
  CHECK(stored(list[1].loss, "gamma") == 0.7);
  CHECK(stored(list[2].loss, "desirable_weight") == 1.5);
  CHECK(stored(list[2].loss, "undesirable_weight") == 1.0);
  CHECK(list[1].weight == 0.5);
}
