# Helpers shared by prefopt's own tests, examples and benchmarks (not installed).

# Warnings for prefopt's own code. Third-party headers come in as SYSTEM includes (imported
# targets), so their warnings do not count against us.
function(prefopt_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic>)
    if(PREFOPT_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
    endif()
  endif()
endfunction()

# add_subdirectory() for every immediate child of the current source dir holding a CMakeLists.txt,
# so each module (losses, prefmodel, game, ...) registers its own tests / examples / benchmarks
# without editing a shared list.
function(prefopt_add_child_directories)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child IN LISTS children)
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# prefopt_add_backend(NAME [LINK deps...]): the INTERFACE target prefopt::<NAME> for the backend
# whose headers live in the calling directory's include/, linked to the core and `deps`, installed
# with its own export set prefopt-<NAME>-targets.cmake (loaded by prefoptConfig.cmake as the
# COMPONENT <NAME>). Backend-specific compile options are added by the caller afterwards.
function(prefopt_add_backend name)
  cmake_parse_arguments(arg "" "" "LINK" ${ARGN})
  set(target prefopt_${name})
  add_library(${target} INTERFACE)
  add_library(prefopt::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} INTERFACE
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} INTERFACE prefopt::prefopt ${arg_LINK})
  install(TARGETS ${target} EXPORT prefopt_${name}_targets)
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT prefopt_${name}_targets NAMESPACE prefopt:: FILE prefopt-${name}-targets.cmake
          DESTINATION ${CMAKE_INSTALL_DATADIR}/prefopt/cmake)
endfunction()
