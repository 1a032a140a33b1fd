# ctest driver: install prefopt into a scratch prefix, compile one consumer with exactly the flags
# the installed prefopt.pc documents for its backend, then run it.
#   -DVARIANT=eigen|xtensor|cuda -DPKG_CONFIG=<pkg-config> -DCOMPILER=<c++ or nvcc>
#   -DSOURCE=<consumer source> -DWORK=<scratch dir> -DPREFOPT_BINARY_DIR=<prefopt build>
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${PREFOPT_BINARY_DIR} --prefix ${WORK}/prefix
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
# Only the scratch prefix: a prefopt.pc installed elsewhere on the machine must not be found.
set(ENV{PKG_CONFIG_PATH} "${WORK}/prefix/share/pkgconfig")

# pkg_config(OUT args...): pkg-config's output split into compiler arguments.
function(pkg_config out)
  list(JOIN ARGN " " args)
  execute_process(COMMAND ${PKG_CONFIG} ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc)
    message(FATAL_ERROR "pkg-config ${args} failed (${rc})")
  endif()
  message(STATUS "pkg-config ${args}: ${text}")
  separate_arguments(text UNIX_COMMAND "${text}")
  set(${out} ${text} PARENT_SCOPE)
endfunction()

# The include path must be the installed one (relative to the .pc file, hence any prefix works).
pkg_config(includedir --variable=includedir prefopt)
if(NOT EXISTS "${includedir}/prefopt/prefopt.hpp" OR NOT EXISTS "${includedir}/prefopt/backends")
  message(FATAL_ERROR "prefopt.pc: includedir ${includedir} does not hold the installed headers")
endif()

if(VARIANT STREQUAL "eigen")
  pkg_config(flags --cflags --libs prefopt eigen3)
  set(flags -std=c++20 ${flags})
elseif(VARIANT STREQUAL "xtensor")
  pkg_config(backend_flags --variable=xtensor_cflags prefopt)
  pkg_config(flags --cflags --libs prefopt xtensor xsimd)
  set(flags -std=c++20 ${backend_flags} ${flags} -DPREFOPT_CONSUMER_XTENSOR)
elseif(VARIANT STREQUAL "cuda")
  pkg_config(backend_flags --variable=cuda_cflags prefopt)
  pkg_config(flags --cflags --libs prefopt)
  set(flags ${backend_flags} ${flags})
else()
  message(FATAL_ERROR "unknown VARIANT '${VARIANT}'")
endif()

execute_process(COMMAND ${COMPILER} ${SOURCE} -o ${WORK}/consumer ${flags} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer ${VARIANT}: ${COMPILER} ${SOURCE} ${flags} failed (${rc})")
endif()
execute_process(COMMAND ${WORK}/consumer RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer ${VARIANT}: run failed (${rc})")
endif()
