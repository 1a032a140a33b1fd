# ctest driver: configure, build and run one consumer project.
#   -DMODE=find_package|add_subdirectory -DSOURCE=<consumer dir> -DWORK=<scratch dir>
#   -DPREFOPT_BINARY_DIR=<prefopt build> -DPREFOPT_SOURCE_DIR=<prefopt source> -DGENERATOR=...
#   [-DCUDA_COMPILER=<nvcc> -DCUDA_ARCHITECTURES=<a,b,...>] for a CUDA consumer
file(REMOVE_RECURSE ${WORK})
set(configure_args -S ${SOURCE} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release)
if(CUDA_COMPILER)
  # The architecture list travels as a,b (add_test would split a;b) and reaches the consumer
  # through an initial-cache file: a ';' inside one element of configure_args would split too.
  string(REPLACE "," ";" CUDA_ARCHITECTURES "${CUDA_ARCHITECTURES}")
  file(WRITE ${WORK}/cuda.cmake "set(CMAKE_CUDA_COMPILER \"${CUDA_COMPILER}\" CACHE FILEPATH \"\")\n"
       "set(CMAKE_CUDA_ARCHITECTURES \"${CUDA_ARCHITECTURES}\" CACHE STRING \"\")\n")
  list(APPEND configure_args -C ${WORK}/cuda.cmake)
endif()
if(MODE STREQUAL "find_package")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${PREFOPT_BINARY_DIR} --prefix ${WORK}/prefix
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "cmake --install failed (${rc})")
  endif()
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK}/prefix)
else()
  list(APPEND configure_args -DPREFOPT_SOURCE_DIR=${PREFOPT_SOURCE_DIR})
endif()
foreach(step IN ITEMS configure build run)
  if(step STREQUAL "configure")
    set(cmd ${CMAKE_COMMAND} ${configure_args})
  elseif(step STREQUAL "build")
    set(cmd ${CMAKE_COMMAND} --build ${WORK}/build)
  else()
    set(cmd ${WORK}/build/consumer)
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer ${MODE}: ${step} failed (${rc})")
  endif()
endforeach()
