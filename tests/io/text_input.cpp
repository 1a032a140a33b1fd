// quote_text and open_input_file (prefopt/io/text_input.hpp): what every reader and CLI uses to
// quote a bad cell and to open an input file. Expected strings are written out by hand from the
// documented escaping rules.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <prefopt/io/text_input.hpp>
#include <string>

using prefopt::quote_text;

TEST_CASE("quote_text keeps printable text and UTF-8 and escapes everything else", "[errors][text]") {
  CHECK(quote_text("abc") == "\"abc\"");
  CHECK(quote_text("abc", '\'') == "'abc'");
  CHECK(quote_text("") == "\"\"");
  CHECK(quote_text("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(quote_text("it's", '\'') == "'it\\'s'");
  CHECK(quote_text("it's") == "\"it's\"");  // only the quote in use is escaped
  CHECK(quote_text("a\\b") == "\"a\\\\b\"");
  CHECK(quote_text("a\nb\rc\td") == "\"a\\nb\\rc\\td\"");
  CHECK(quote_text(std::string("\x01\x1f\x7f", 3)) == "\"\\x01\\x1f\\x7f\"");
  CHECK(quote_text(std::string("a\0b", 3)) == "\"a\\x00b\"");
  // Well-formed UTF-8 stays (e-acute, CJK, an emoji); C1 controls and malformed bytes do not.
  CHECK(quote_text("caf\xc3\xa9 \xe6\xa8\xa1 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe6\xa8\xa1 \xf0\x9f\x98\x80\"");
  CHECK(quote_text("\xc2\x85") == "\"\\xc2\\x85\"");          // U+0085 NEL, a C1 control
  CHECK(quote_text("\xc2\xa0") == "\"\xc2\xa0\"");            // U+00A0, printable
  CHECK(quote_text("\xc3") == "\"\\xc3\"");                   // truncated sequence
  CHECK(quote_text("\xc0\xaf") == "\"\\xc0\\xaf\"");          // overlong '/'
  CHECK(quote_text("\xe0\x80\xaf") == "\"\\xe0\\x80\\xaf\"");  // overlong 3-byte
  CHECK(quote_text("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");  // UTF-16 surrogate D800
  CHECK(quote_text("\xf4\x90\x80\x80") == "\"\\xf4\\x90\\x80\\x80\"");  // above U+10FFFF
  CHECK(quote_text("\xff\xfe") == "\"\\xff\\xfe\"");
}

TEST_CASE("quote_text shows at most max_chars characters and the full length", "[errors][text]") {
  const std::string sixty(60, 'x');
  CHECK(quote_text(sixty) == "\"" + sixty + "\"");
  CHECK(quote_text(sixty + "y") == "\"" + sixty + "\"... (61 bytes)");
  CHECK(quote_text(std::string(1000, 'z'), '\'', 5) == "'zzzzz'... (1000 bytes)");
  // An escape is never cut: "ab" + "\x01" would need 2 + 4 > 5 characters.
  CHECK(quote_text(std::string("ab\x01", 3), '"', 5) == "\"ab\"... (3 bytes)");
  CHECK(quote_text(std::string("ab\x01", 3), '"', 6) == "\"ab\\x01\"");
  // A UTF-8 character counts as one and is never split.
  CHECK(quote_text("\xc3\xa9\xc3\xa9\xc3\xa9", '"', 2) == "\"\xc3\xa9\xc3\xa9\"... (6 bytes)");
  // Random bytes: the result is one line of printable ASCII (every byte here is < 0x80 or
  // malformed as UTF-8) and never longer than the budget plus the quotes and the length note.
  std::string binary;
  for (int b = 0; b < 256; ++b) binary += static_cast<char>(b);
  const std::string q = quote_text(binary);
  CHECK(q.size() <= 60 + 2 + std::string("... (256 bytes)").size());
  for (char c : q) CHECK((c >= 0x20 && c < 0x7f));
  CHECK(q.substr(0, 21) == "\"\\x00\\x01\\x02\\x03\\x04");
}

TEST_CASE("open_input_file names a directory and a missing file", "[errors][text]") {
  const auto dir = std::filesystem::temp_directory_path();
  CHECK_THROWS_AS(prefopt::io::open_input_file(dir.string()), prefopt::invalid_argument);
  CHECK_THROWS_WITH(prefopt::io::open_input_file(dir.string()),
                    Catch::Contains("path = \"" + dir.string() + "\": is a directory"));
  const auto missing = dir / "prefopt_text_input_missing_file.csv";
  std::filesystem::remove(missing);
  CHECK_THROWS_WITH(prefopt::io::open_input_file(missing.string()), Catch::EndsWith(": cannot open file"));
  const auto file = dir / "prefopt_text_input_file.csv";
  { std::ofstream(file) << "1,2\r\n"; }
  auto in = prefopt::io::open_input_file(file.string());
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "1,2\r");  // binary mode: the "\r" reaches the reader
  std::filesystem::remove(file);
}
