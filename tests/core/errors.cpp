// prefopt::invalid_argument: type, message format, and the require helpers.
#include <catch2/catch.hpp>
#include <limits>
#include <prefopt/core/errors.hpp>
#include <stdexcept>
#include <string>

TEST_CASE("invalid_argument derives from std::invalid_argument and names argument and value",
          "[errors]") {
  try {
    prefopt::require_positive_finite("beta", -0.5);
    FAIL("no throw");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("beta") != std::string::npos);
    CHECK(msg.find("-0.5") != std::string::npos);
    CHECK(dynamic_cast<const prefopt::invalid_argument*>(&e) != nullptr);
  }
  CHECK_THROWS_AS(prefopt::require_positive_finite("beta", std::numeric_limits<double>::infinity()),
                  prefopt::invalid_argument);
  CHECK_THROWS_AS(prefopt::require_positive_finite("beta", std::nan("")), prefopt::invalid_argument);
  CHECK_NOTHROW(prefopt::require_positive_finite("beta", 0.1f));
  CHECK_THROWS_WITH(prefopt::require_same_size("rejected.size()", 3, "chosen.size()", 4),
                    Catch::Contains("rejected.size() = 3") && Catch::Contains("chosen.size() = 4"));
  CHECK_THROWS_WITH(prefopt::require(false, "name", std::string("x"), "bad"),
                    Catch::Contains("name = \"x\": bad"));
}

TEST_CASE("String values in messages are escaped and capped at 200 characters", "[errors]") {
  // Written out by hand from the quote_text rules: control bytes as \xHH, the quote and the
  // backslash escaped, well-formed UTF-8 kept.
  CHECK_THROWS_WITH(prefopt::require(false, "name", std::string("a\nb\"c\\d\x01\xc3\xa9", 10), "bad"),
                    "name = \"a\\nb\\\"c\\\\d\\x01\xc3\xa9\": bad");
  const std::string long_name(250, 'n');
  CHECK_THROWS_WITH(prefopt::require(false, "name", long_name, "bad"),
                    "name = \"" + std::string(200, 'n') + "\"... (250 bytes): bad");
}
