// io/csv.hpp: fields, record boundaries and line numbers of RFC 4180 text. Expected fields are
// written out by hand from RFC 4180 (section 2, rules 5-7); Python's csv module splits the same
// inputs into the same fields.
#include <catch2/catch.hpp>
#include <prefopt/io/csv.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace io = prefopt::io;
using Catch::Matchers::Contains;
using fields = std::vector<std::string>;

namespace {

fields split(const std::string& text) {
  bool open = false;
  auto f = io::split_csv_record(text, open);
  REQUIRE_FALSE(open);
  return f;
}

/// The message of the record_error `f` throws (record_error carries no what()).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const io::record_error& e) {
    return e.message;
  }
  return "no error";
}

/// Every record of `text` with its start line, through csv_reader with a tiny block size, so
/// records straddle the buffer refills.
std::vector<std::pair<std::size_t, fields>> records(const std::string& text, std::size_t block) {
  std::istringstream in(text);
  io::csv_reader reader(in, block);
  std::vector<std::pair<std::size_t, fields>> out;
  fields f;
  while (reader.next(f)) out.emplace_back(reader.start_line(), f);
  return out;
}

}  // namespace

TEST_CASE("split_csv_record: quoting, doubled quotes, empty fields", "[io][csv]") {
  CHECK(split("a,b,c") == fields{"a", "b", "c"});
  CHECK(split("") == fields{""});
  CHECK(split(",") == fields{"", ""});
  CHECK(split("\"a,b\",c") == fields{"a,b", "c"});
  CHECK(split("\"say \"\"hi\"\"\",x") == fields{"say \"hi\"", "x"});
  CHECK(split("\"\",\"\"") == fields{"", ""});
  CHECK(split(" a , b ") == fields{" a ", " b "});  // spaces are data (RFC 4180 rule 4)
  bool open = false;
  CHECK(io::split_csv_record("a,\"b", open) == fields{"a", "b"});
  CHECK(open);
  CHECK(error_of([&] { io::split_csv_record("ab\"c\",d", open); }) == "stray quote inside an unquoted field");
}

TEST_CASE("csv_reader: multi-line fields, CRLF, BOM and line numbers at any block size", "[io][csv]") {
  const std::string text =
      "\xEF\xBB\xBFh1,h2\r\n"   // line 1: BOM dropped, CRLF
      "a,\"two\r\nlines\"\r\n"  // lines 2-3: the field keeps "\n", loses the "\r"
      "\n"                      // line 4: blank
      "\"q\"\"\",z";            // line 5: no final newline
  for (std::size_t block : {1u, 2u, 3u, 7u, 4096u}) {
    INFO("block " << block);
    const auto r = records(text, block);
    REQUIRE(r.size() == 4);
    CHECK(r[0] == std::pair<std::size_t, fields>{1, {"h1", "h2"}});
    CHECK(r[1] == std::pair<std::size_t, fields>{2, {"a", "two\nlines"}});
    CHECK(r[2].first == 4);
    CHECK(io::is_blank_record(r[2].second));
    CHECK(r[3] == std::pair<std::size_t, fields>{5, {"q\"", "z"}});
  }
  // A BOM is dropped only at the start of the file.
  CHECK(records("a\n\xEF\xBB\xBF" "b\n", 4096)[1].second == fields{"\xEF\xBB\xBF" "b"});
}

TEST_CASE("csv_reader: an unterminated quote swallows the rest, a stray quote ends its line", "[io][csv]") {
  std::istringstream in("h\n\"open\nmore\nrest\n");
  io::csv_reader reader(in, 3);
  fields f;
  REQUIRE(reader.next(f));
  CHECK(error_of([&] { reader.next(f); }) == "unterminated quoted field");
  CHECK(reader.start_line() == 2);
  CHECK(reader.end_line() == 4);
  CHECK_FALSE(reader.next(f));

  std::istringstream stray("x\"y\nnext\n");
  io::csv_reader r2(stray, 2);
  CHECK(error_of([&] { r2.next(f); }) == "stray quote inside an unquoted field");
  REQUIRE(r2.next(f));  // reading goes on at the next line
  CHECK(f == fields{"next"});
  CHECK(r2.start_line() == 2);
}

TEST_CASE("parse_csv_table: columns by name, rows with their lines, errors with file and line", "[io][csv]") {
  const auto t = io::parse_csv_table("\nb,a\n1,2\n\n3,\"4\n5\"\n", "t.csv");
  CHECK(t.header.names() == fields{"b", "a"});
  CHECK(t.require_column("a", "a,b") == 1);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1] == fields{"3", "4\n5"});
  CHECK(t.line == std::vector<std::size_t>{3, 5});
  CHECK(t.end_line == 6);
  CHECK_THROWS_WITH(t.require_column("c", "a,b,c"), "t.csv:1: header has no column 'c' (need a,b,c)");
  CHECK_THROWS_WITH(io::parse_csv_table("a,b\n1\n", "t.csv"), "t.csv:2: expected 2 fields, found 1");
  CHECK_THROWS_WITH(io::parse_csv_table("a\n\"x\n", "t.csv"), "t.csv:2: unterminated quoted field");
  CHECK_THROWS_WITH(io::parse_csv_table("\n\n", "t.csv"), "t.csv:1: empty file: a header row is required");
  CHECK_THROWS_AS(io::parse_csv_table("", "t.csv"), io::parse_error);
}
