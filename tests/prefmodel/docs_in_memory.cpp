// The "Battles in memory" example of docs/preference-models.md, extracted from the page at
// configure time (tests/prefmodel/CMakeLists.txt): it must compile, and what it builds is checked
// against counts worked out by hand from its three battles.
#include <catch2/catch.hpp>
#include <tuple>
#include <vector>

#include "battles_in_memory_includes.inc"

TEST_CASE("docs/preference-models.md: battles in memory", "[prefmodel][docs]") {
#include "battles_in_memory_body.inc"

  // gpt-4 beat claude-2; claude-2 and llama-2 tied; gpt-4 (model_b) beat llama-2 with weight 2.
  REQUIRE(data.names() == std::vector<std::string>{"gpt-4", "claude-2", "llama-2"});
  CHECK(data.total_battles() == 3);
  CHECK(data.total_weight() == 4.0);
  const auto check_pairs = [](const prefopt::prefmodel::comparison_data<double>* d) {
    REQUIRE(d->pairs().size() == 3);
    const auto& gc = d->pairs()[0];  // (gpt-4, claude-2)
    CHECK((gc.i == 0 && gc.j == 1 && gc.wins_i == 1.0 && gc.wins_j == 0.0 && gc.ties == 0.0));
    const auto& cl = d->pairs()[1];  // (claude-2, llama-2)
    CHECK((cl.i == 1 && cl.j == 2 && cl.ties == 1.0 && cl.n_ties == 1 && cl.wins_i == 0.0));
    const auto& gl = d->pairs()[2];  // (gpt-4, llama-2): gpt-4 won one battle of weight 2
    CHECK((gl.i == 0 && gl.j == 2 && gl.wins_i == 2.0 && gl.n_wins_i == 1 && gl.wins_j == 0.0));
  };
  check_pairs(&data);
  check_pairs(&counts);
  CHECK(counts.names() == data.names());
  REQUIRE(fit.theta.size() == 3);
  CHECK(fit.theta[0] > fit.theta[1]);  // unbeaten
  CHECK(fit.theta[1] > fit.theta[2]);  // llama-2 lost the heavier battle
}
