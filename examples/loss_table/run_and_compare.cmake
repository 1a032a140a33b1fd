# cmake -DTOOL=... -DCOMPARE=... -DARGS="a|b|c" -DEXPECTED=... -DOUT=... -P run_and_compare.cmake
# Runs the tool (ARGS separated by '|'), requires exit 0, then compares stdout with EXPECTED.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${TOOL} ${args} OUTPUT_FILE ${OUT} ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "loss_table exited with ${rc}: ${err}")
endif()
execute_process(COMMAND ${COMPARE} ${EXPECTED} ${OUT} ERROR_VARIABLE cmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "output differs from ${EXPECTED}: ${cmp}")
endif()
