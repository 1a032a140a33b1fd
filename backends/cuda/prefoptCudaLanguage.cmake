# CUDA language detection shared by backends/cuda, tests/backends and bench/cuda (each directory
# that compiles .cu files calls prefopt_enable_cuda_language() at file scope).
#
# nvcc is looked up on PATH and, failing that, in /usr/local/cuda/bin (where the toolkit installs
# without touching PATH). PREFOPT_CUDA_ARCHITECTURES (default "80-real;90": SASS for A100 and
# H100, plus compute_90 PTX for newer devices) is applied to prefopt's own CUDA targets; a
# consumer chooses its own architectures.
include_guard(GLOBAL)
include(CheckLanguage)

set(PREFOPT_CUDA_ARCHITECTURES "80-real;90" CACHE STRING "CUDA architectures of prefopt's tests and benchmarks")

# With PREFOPT_ENABLE_CUDA=OFF (e.g. the CPU-only sanitizer and instruction-set builds) CUDA is
# never looked up, so prefopt::cuda and everything built on it is absent.
macro(prefopt_enable_cuda_language)
  if(DEFINED PREFOPT_ENABLE_CUDA AND NOT PREFOPT_ENABLE_CUDA)
    # CMAKE_CUDA_COMPILER stays unset: every caller treats that as "no CUDA".
  else()
    if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
      find_program(_prefopt_nvcc nvcc)
      if(NOT _prefopt_nvcc)
        set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
      endif()
    endif()
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        set(CMAKE_CUDA_ARCHITECTURES ${PREFOPT_CUDA_ARCHITECTURES})
      endif()
      enable_language(CUDA)
    endif()
  endif()
endmacro()

# prefopt's own CUDA targets (tests, benchmarks, header checks): built for
# PREFOPT_CUDA_ARCHITECTURES, host code compiled with the warnings prefopt_set_warnings gives C++.
function(prefopt_cuda_target target)
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${PREFOPT_CUDA_ARCHITECTURES}")
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
  if(PREFOPT_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
  endif()
endfunction()

# prefopt_cuda_consumer_flags(OUT): the nvcc flags every .cu file including prefopt needs, beyond
# C++20. prefopt::cuda carries them as INTERFACE options; prefopt.pc publishes them for
# pkg-config users (cuda_cflags). for_each launches PREFOPT_HD lambdas (extended lambdas); the
# shared numerics call constexpr std::numeric_limits members from device code. Warning 554 is
# nvcc's front end noting that views' constrained "to const" conversion operators
# (requires(!std::is_const_v<T>) in core/views.hpp) are never called for const element types,
# which is the intent; g++ and clang do not warn.
function(prefopt_cuda_consumer_flags out)
  set(${out} --extended-lambda --expt-relaxed-constexpr -diag-suppress=554 PARENT_SCOPE)
endfunction()
