# Runs one command and checks its exit status, its output and optionally a file it wrote (ctest's
# PASS_REGULAR_EXPRESSION alone cannot check the exit code). Shared by winrate and scorer_metrics.
#   cmake -DCMD="exe|arg|..." -DEXPECT_RC=2 -DEXPECT_REGEX="..." [-DFILE_REGEX_PATH=file
#         -DFILE_REGEX=...] [-DLINES=n] -P expect.cmake
# LINES: the exact number of lines the output must have (bad input: one line naming file:line).
string(REPLACE "|" ";" CMD "${CMD}")  # ctest cannot pass ";" through -D
if(DEFINED FILE_REGEX_PATH)
  file(REMOVE "${FILE_REGEX_PATH}")  # a stale file from an earlier run must not pass
endif()
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
if(DEFINED FILE_REGEX_PATH)
  file(READ "${FILE_REGEX_PATH}" doc)
  if(NOT doc MATCHES "${FILE_REGEX}")
    message(FATAL_ERROR "${FILE_REGEX_PATH} does not match '${FILE_REGEX}':\n${doc}")
  endif()
endif()
message(STATUS "${all}")
