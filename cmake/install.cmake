# `cmake --install build --prefix P`: what a C program needs to use kiln as a library.
#   P/lib/libkiln.so.MAJOR.MINOR.PATCH (SONAME libkiln.so.MAJOR) and libkiln.so,
#   P/lib/libkiln.a (the runtime's objects inside; LLVM 19, protobuf-c, pthread, libm to
#   add when linking it), P/include/kiln.h, P/bin/kiln,
#   P/lib/pkgconfig/kiln.pc (`pkg-config --cflags --libs kiln`, `--static` for libkiln.a),
#   P/lib/cmake/kiln/ (`find_package(kiln)`: kiln::kiln shared, kiln::kiln_static).
# Every path inside is relative to the file naming it, so the installed tree may be moved.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# LLVM's shared library as a file, for links outside this build (which has no LLVM target).
get_target_property(KILN_LLVM_LIB LLVM LOCATION)
target_link_libraries(kiln PUBLIC $<INSTALL_INTERFACE:${KILN_LLVM_LIB}>)
set_target_properties(kiln_shared kiln_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
set_target_properties(kiln_shared PROPERTIES EXPORT_NAME kiln)
set_target_properties(kiln PROPERTIES EXPORT_NAME kiln_static)

install(TARGETS kiln_shared kiln EXPORT kilnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kiln_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/kiln.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(KILN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)
install(EXPORT kilnTargets NAMESPACE kiln:: DESTINATION ${KILN_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/kilnConfig.cmake.in
  ${CMAKE_BINARY_DIR}/kilnConfig.cmake INSTALL_DESTINATION ${KILN_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/kilnConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/kilnConfig.cmake ${CMAKE_BINARY_DIR}/kilnConfigVersion.cmake
  DESTINATION ${KILN_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own folder (${pcfiledir}).
file(RELATIVE_PATH KILN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" KILN_PC_TO_PREFIX "${KILN_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/kiln.pc.in ${CMAKE_BINARY_DIR}/kiln.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/kiln.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
