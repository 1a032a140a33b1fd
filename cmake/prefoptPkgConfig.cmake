# prefopt.pc for pkg-config users, installed to <datadir>/pkgconfig like Eigen's eigen3.pc (the
# package is header-only, so architecture-independent). The prefix is written relative to the .pc
# file (${pcfiledir}), so the file stays right for `cmake --install --prefix` anywhere, DESTDIR
# staging and relocated trees; absolute install dirs are written as given.
include_guard(GLOBAL)
include(${PROJECT_SOURCE_DIR}/backends/cuda/prefoptCudaLanguage.cmake)

set(prefopt_pc_destination ${CMAKE_INSTALL_DATADIR}/pkgconfig)
if(IS_ABSOLUTE "${prefopt_pc_destination}")
  set(prefopt_pc_prefix "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH prefopt_pc_up "/root/${prefopt_pc_destination}" "/root")
  string(REGEX REPLACE "/$" "" prefopt_pc_up "${prefopt_pc_up}")
  set(prefopt_pc_prefix "\${pcfiledir}/${prefopt_pc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(prefopt_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(prefopt_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
prefopt_cuda_consumer_flags(prefopt_pc_cuda_flags)
list(JOIN prefopt_pc_cuda_flags " " prefopt_pc_cuda_flags)

configure_file(${CMAKE_CURRENT_LIST_DIR}/prefopt.pc.in ${PROJECT_BINARY_DIR}/prefopt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/prefopt.pc DESTINATION ${prefopt_pc_destination})
