// The streaming battle-log reader (battle_counts.hpp) against the reference reader of
// battle_io.hpp followed by comparison_data::from_battles: same items in the same order, the same
// aggregated records, the same bad rows and the same error messages, on the sample logs and on
// generated logs full of quoting, CRLF, blank lines, bad rows and weights, read through block
// boundaries.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <prefopt/prefmodel/battle_counts.hpp>
#include <prefopt/prefmodel/battle_io.hpp>

#include "fixtures.hpp"

namespace pm = prefopt::prefmodel;
using prefopt::index_t;

namespace {

struct outcome_of_read {
  bool threw = false;
  std::string error;
  pm::comparison_data<double> data;
  index_t bad_rows = 0;
  std::vector<std::string> problems;
};

/// What `read` (returning data, bad_rows, problems) gives, or the message it throws.
template <class Read>
outcome_of_read outcome_of(Read&& read) {
  outcome_of_read r;
  try {
    std::tie(r.data, r.bad_rows, r.problems) = read();
  } catch (const prefopt::invalid_argument& e) {
    r.threw = true;
    r.error = e.what();
  }
  return r;
}

outcome_of_read reference_read(const std::string& text, bool jsonl, bool skip) {
  return outcome_of([&] {
    std::istringstream in(text);
    pm::battle_read_options opt;
    opt.skip_bad_rows = skip;
    const auto log = jsonl ? pm::read_battles_jsonl<double>(in, opt, "f") : pm::read_battles_csv<double>(in, opt, "f");
    return std::tuple{pm::comparison_data<double>::from_battles(log.battles), log.bad_rows, log.problems};
  });
}

outcome_of_read streaming_read(const std::string& text, bool jsonl, bool skip) {
  return outcome_of([&] {
    std::istringstream in(text);
    pm::battle_read_options opt;
    opt.skip_bad_rows = skip;
    // 777-byte read blocks: records straddle block ends all the time.
    auto counts = jsonl ? pm::read_battle_counts_jsonl<double>(in, opt, "f", 777)
                        : pm::read_battle_counts_csv<double>(in, opt, "f", 777);
    CHECK(counts.rows == counts.data.total_battles());
    return std::tuple{std::move(counts.data), counts.bad_rows, std::move(counts.problems)};
  });
}

void check_same(const std::string& text, bool jsonl) {
  for (bool skip : {false, true}) {
    INFO("skip_bad_rows " << skip);
    const auto ref = reference_read(text, jsonl, skip), got = streaming_read(text, jsonl, skip);
    REQUIRE(got.threw == ref.threw);
    CHECK(got.error == ref.error);
    CHECK(got.bad_rows == ref.bad_rows);
    CHECK(got.problems == ref.problems);
    REQUIRE(got.data.names() == ref.data.names());
    REQUIRE(got.data.pairs().size() == ref.data.pairs().size());
    // Both readers add the same battles in the same order with the same parsed weights, so the
    // accumulated sums are the same floating-point operations: equal bit for bit.
    for (std::size_t p = 0; p < ref.data.pairs().size(); ++p) {
      const auto &a = got.data.pairs()[p], &b = ref.data.pairs()[p];
      CHECK(a.i == b.i);
      CHECK(a.j == b.j);
      CHECK(a.wins_i == b.wins_i);
      CHECK(a.wins_j == b.wins_j);
      CHECK(a.ties == b.ties);
      CHECK(a.n_wins_i == b.n_wins_i);
      CHECK(a.n_wins_j == b.n_wins_j);
      CHECK(a.n_ties == b.n_ties);
    }
  }
}

std::string slurp(const std::string& file) {
  std::ifstream in(std::string(PREFOPT_ARENA_DATA) + "/" + file, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("streaming reader equals the reference reader on the sample logs", "[prefmodel][io]") {
  for (const char* f : {"battles.csv", "weighted.csv", "quoted.csv", "disconnected.csv", "bad_winner.csv",
                        "bad_self.csv", "bad_missing.csv"}) {
    INFO(f);
    check_same(slurp(f), false);
  }
  for (const char* f : {"battles.jsonl", "bad_missing.jsonl"}) {
    INFO(f);
    check_same(slurp(f), true);
  }
}

TEST_CASE("streaming reader equals the reference reader on generated tricky CSV", "[prefmodel][io]") {
  // Rows built from raw 64-bit draws over a vocabulary of valid and invalid pieces.
  const std::vector<std::string> names = {"a", "b", "c", "\"q, uoted\"", "\"multi\nline\"", "\"say \"\"hi\"\"\"",
                                          "d\"stray", "", "\"open"};
  const std::vector<std::string> winners = {"model_a", "model_b", "tie", "tie (bothbad)", "model_c", "\"model_a\""};
  const std::vector<std::string> weights = {"", "1", "2.5", "0.125", "1e-3", "-1", "inf", "nan", "0x10", "+2",
                                            " 3", "1.5x", "\"4\"", "1e400"};
  std::mt19937_64 rng(12345);
  auto pick = [&](const std::vector<std::string>& v, int rare_every) {
    // valid choices dominate: the "rare" tail (index >= 3 for names) appears 1 in rare_every rows
    const auto r = rng();
    return r % static_cast<std::uint64_t>(rare_every) == 0 ? v[(r >> 20) % v.size()] : v[(r >> 20) % 3];
  };
  for (int variant = 0; variant < 3; ++variant) {
    INFO("variant " << variant);
    std::string text = variant == 1 ? "\xEF\xBB\xBFweight,model_b,winner,model_a\r\n" : "model_a,model_b,winner,weight,extra\n";
    const int rows = variant == 2 ? 20000 : 3000;
    const int rare = variant == 2 ? 500 : 25;
    for (int k = 0; k < rows; ++k) {
      const std::string a = pick(names, rare), b = pick(names, rare), w = pick(winners, rare), x = pick(weights, rare);
      const std::string eol = (rng() % 4 == 0) ? "\r\n" : "\n";
      if (variant == 1) text += x + "," + b + "," + w + "," + a + eol;
      else text += a + "," + b + "," + w + "," + x + (rng() % 50 == 0 ? "" : ",e") + eol;
      if (rng() % 97 == 0) text += eol;  // blank line
    }
    if (variant == 0) text += "a,b,model_a,1";  // no final newline
    check_same(text, false);
  }
  // An unterminated quote swallows the rest of the file in both readers.
  check_same("model_a,model_b,winner\na,b,tie\n\"a,b,tie\nb,c,tie\n", false);
  check_same("model_a,model_b,winner\n", false);
  check_same("", false);
  check_same("model_a,winner\na,tie\n", false);
}

TEST_CASE("streaming reader equals the reference reader on generated JSONL", "[prefmodel][io]") {
  std::mt19937_64 rng(7);
  const std::vector<std::string> rows = {
      R"({"model_a": "a", "model_b": "b", "winner": "model_a"})",
      R"({"model_a": "b", "model_b": "c", "winner": "tie", "weight": 2.5, "anony": true})",
      R"({"winner": "model_b", "model_a": "c", "model_b": "a"})",
      R"({"model_a": "a", "model_b": "a", "winner": "tie"})",
      R"({"model_a": "a", "model_b": "b", "winner": "model_a", "weight": false})",
      R"({"model_a": "a", "model_b": 3, "winner": "tie"})",
      R"({"model_a": "a\u00e9", "model_b": "b", "winner": "model_b"})",
      R"(not json)",
      "   ",
  };
  std::string text;
  for (int k = 0; k < 5000; ++k) text += rows[rng() % rows.size()] + ((rng() % 3) ? "\n" : "\r\n");
  check_same(text, true);
}

TEST_CASE("read_battle_counts: file dispatch and a missing file", "[prefmodel][io]") {
  const auto csv = pm::read_battle_counts<double>(std::string(PREFOPT_ARENA_DATA) + "/battles.csv");
  const auto jsonl = pm::read_battle_counts<double>(std::string(PREFOPT_ARENA_DATA) + "/battles.jsonl");
  CHECK(csv.rows == 2000);
  CHECK(jsonl.rows == 2000);
  CHECK(csv.data.names() == jsonl.data.names());
  CHECK_THROWS_AS(pm::read_battle_counts<double>("/nonexistent/x.csv"), prefopt::invalid_argument);
}
