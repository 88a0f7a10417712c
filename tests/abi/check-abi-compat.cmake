# Dumps the ABI of the headers in INCLUDE and compares it with the committed baseline (BASELINE):
# fails on an incompatible change unless the matching major version was bumped.
execute_process(COMMAND ${PYTHON} ${TOOLS}/abi-dump.py --include ${INCLUDE} --cc ${CC}
                OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "abi-dump.py failed (${rc}): it needs clang and a C compiler")
endif()
execute_process(COMMAND ${PYTHON} ${TOOLS}/abi-compare.py ${BASELINE} ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the public headers are not ABI-compatible with ${BASELINE}")
endif()
