# Checks that docs/games.md quotes the custom-rule example of tests/game/rules.cpp verbatim (the
# block between "// [docs: custom rule]" and "// [docs: end]"), so the documented snippet is the
# one the test suite compiles and runs. Usage: cmake -DTEST=... -DDOC=... -P docs_snippet.cmake
file(READ "${TEST}" test_text)
file(READ "${DOC}" doc_text)
string(FIND "${test_text}" "// [docs: custom rule]" begin)
string(FIND "${test_text}" "// [docs: end]" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "${TEST}: the [docs: custom rule] / [docs: end] markers are missing")
endif()
# The block starts on the line after the opening marker.
string(SUBSTRING "${test_text}" ${begin} -1 from_marker)
string(FIND "${from_marker}" "\n" first_newline)
math(EXPR start "${begin} + ${first_newline} + 1")
math(EXPR length "${end} - ${start}")
string(SUBSTRING "${test_text}" ${start} ${length} snippet)
string(FIND "${doc_text}" "${snippet}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "docs/games.md does not quote the custom rule of ${TEST} verbatim")
endif()
message(STATUS "docs snippet matches")
