// token_kl against PyTorch running TRL's generalized_jsd_loss (and F.kl_div for the two KL
// directions), values and autograd gradients: tests/reference/kl/fixtures/trl_divergences.csv,
// written by tests/reference/kl/kl_reference.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <prefopt/kl/token_kl.hpp>
#include <sstream>
#include <string>
#include <vector>

using prefopt::index_t;

TEST_CASE("token_kl matches TRL's generalized_jsd_loss and F.kl_div (PyTorch fixtures)", "[kl][fixture]") {
  std::ifstream in(PREFOPT_KL_FIXTURE_DIR "/trl_divergences.csv");
  REQUIRE(in.good());
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    std::string name, cell;
    std::getline(ss, name, ',');
    std::vector<double> v;
    while (std::getline(ss, cell, ',')) v.push_back(std::stod(cell));
    const double beta = v[0];
    const auto V = static_cast<index_t>(v[1]);
    REQUIRE(v.size() == static_cast<std::size_t>(2 + 4 * V + 1));
    const std::vector<double> x(v.begin() + 2, v.begin() + 2 + V), y(v.begin() + 2 + V, v.begin() + 2 + 2 * V);
    const double value = v[static_cast<std::size_t>(2 + 2 * V)];
    const std::vector<double> dx(v.begin() + 3 + 2 * V, v.begin() + 3 + 3 * V), dy(v.begin() + 3 + 3 * V, v.end());
    prefopt::kl::token_kl_options o;
    o.layout.shift_labels = false;
    o.direction = name == "forward" ? prefopt::kl::divergence::forward
                  : name == "reverse" ? prefopt::kl::divergence::reverse
                                      : prefopt::kl::divergence::jsd;
    o.beta = beta;
    const std::int64_t label = 0;
    const auto pv = prefopt::logits_view<const double>::contiguous(x.data(), 1, 1, V);
    const auto rv = prefopt::logits_view<const double>::contiguous(y.data(), 1, 1, V);
    const auto lv = prefopt::matrix_view<const std::int64_t>::contiguous(&label, 1, 1);
    INFO(name << " beta " << beta << " V " << V << " x0 " << x[0]);
    const auto r = prefopt::kl::token_kl(pv, rv, lv, o);
    REQUIRE(std::fabs(r.token[0] - value) <= 1e-10 * std::fabs(value) + 1e-13);
    std::vector<double> gx(static_cast<std::size_t>(V)), gy(gx.size());
    const double one = 1.0;
    prefopt::kl::token_kl_backward(pv, rv, lv, prefopt::matrix_view<const std::uint8_t>{},
                                   std::span<const double>(&one, 1), {},
                                   prefopt::logits_view<double>::contiguous(gx.data(), 1, 1, V),
                                   prefopt::logits_view<double>::contiguous(gy.data(), 1, 1, V), o);
    for (index_t k = 0; k < V; ++k) {
      REQUIRE(std::fabs(gx[k] - dx[k]) <= 1e-10 * std::fabs(dx[k]) + 1e-13);
      REQUIRE(std::fabs(gy[k] - dy[k]) <= 1e-10 * std::fabs(dy[k]) + 1e-13);
    }
    ++cases;
  }
  REQUIRE(cases == 28);
}
