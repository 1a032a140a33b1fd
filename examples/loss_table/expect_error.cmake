# cmake -DTOOL=... -DARGS="a|b" -DEXPECT_RC=2 -DEXPECT_REGEX=... -P expect_error.cmake
# Runs the tool, requires exit status EXPECT_RC, stderr matching EXPECT_REGEX and an empty stdout.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${TOOL} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "expected exit ${EXPECT_RC}, got ${rc}; stderr: ${err}")
endif()
if(NOT err MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_REGEX}': ${err}")
endif()
if(NOT out STREQUAL "")
  message(FATAL_ERROR "stdout must stay empty on error, got: ${out}")
endif()
