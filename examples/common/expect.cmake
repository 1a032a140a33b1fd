# Runs one example command and checks its exit status, its output and optionally a file it wrote
# (ctest's PASS_REGULAR_EXPRESSION alone cannot check the exit code). Used by
# prefopt_example_case (examples/CMakeLists.txt).
#   cmake -DCMD="exe|arg|..." -DEXPECT_RC=2 -DEXPECT_REGEX="..." [-DLINES=n]
#         [-DFILE_REGEX_PATH=file -DFILE_REGEX=...] [-DJSON=file -DJSON_FIRST_MODEL=name]
#         [-DCLEAN_DIR=dir]
#         -P expect.cmake
# LINES: the exact number of lines the output must have (bad input: one line naming file:line).
# CLEAN_DIR: an output directory removed before the run, so that tests reading the files the run
# writes (FIXTURES_REQUIRED) never see those of an earlier run.
# JSON: a leaderboard array whose first element has "model" JSON_FIRST_MODEL and "rank" 1.
string(REPLACE "|" ";" CMD "${CMD}")  # ctest cannot pass ";" through -D
if(DEFINED CLEAN_DIR AND NOT CLEAN_DIR STREQUAL "")
  file(REMOVE_RECURSE "${CLEAN_DIR}")  # an output directory: no file of an earlier run survives
endif()
foreach(written IN ITEMS "${FILE_REGEX_PATH}" "${JSON}")
  if(NOT written STREQUAL "")
    file(REMOVE "${written}")  # a stale file from an earlier run must not pass
  endif()
endforeach()
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT rc STREQUAL EXPECT_RC)
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}\n${all}")
endif()
if(DEFINED EXPECT_REGEX AND NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match '${EXPECT_REGEX}':\n${all}")
endif()
if(DEFINED LINES)
  string(REGEX MATCHALL "\n" newlines "${all}")
  list(LENGTH newlines n)
  if(NOT n EQUAL LINES)
    message(FATAL_ERROR "output has ${n} lines, expected ${LINES}:\n${all}")
  endif()
endif()
if(DEFINED JSON)
  file(READ "${JSON}" doc)
  string(JSON first GET "${doc}" 0 model)
  string(JSON len LENGTH "${doc}")
  string(JSON rank GET "${doc}" 0 rank)
  foreach(key rating ci_low ci_high battles)
    string(JSON v GET "${doc}" 0 ${key})
  endforeach()
  if(NOT first STREQUAL JSON_FIRST_MODEL OR NOT rank EQUAL 1)
    message(FATAL_ERROR "JSON: first model '${first}' rank ${rank}, expected '${JSON_FIRST_MODEL}' rank 1")
  endif()
  message(STATUS "JSON ok: ${len} models, first ${first}")
endif()
if(DEFINED FILE_REGEX_PATH)
  file(READ "${FILE_REGEX_PATH}" doc)
  if(NOT doc MATCHES "${FILE_REGEX}")
    message(FATAL_ERROR "${FILE_REGEX_PATH} does not match '${FILE_REGEX}':\n${doc}")
  endif()
endif()
message(STATUS "${all}")
