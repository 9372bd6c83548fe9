# What `cmake --install` puts under the prefix and what `cpack -G DEB` packs
# (docs/installing.md). Two components, two Debian packages:
#   tools -> `annals`         the annals executable (bin/)
#   dev   -> `libannals-dev`  headers, static libraries, the CMake package
# The libraries stay static: annals has no stable ABI yet, so a shared
# library with a SONAME would promise what a 0.x version cannot keep. The
# executable links them in and needs only Debian's shared libraries.
include(CMakePackageConfigHelpers)

set(ANNALS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/annals)

# annals::actors is in the export set only because the static
# annals::runtime needs it at link time; its headers are not installed.
set_target_properties(annals_domain PROPERTIES EXPORT_NAME domain)
set_target_properties(annals_persistence PROPERTIES EXPORT_NAME persistence)
set_target_properties(annals_actors PROPERTIES EXPORT_NAME actors)
set_target_properties(annals_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(annals_testkit PROPERTIES EXPORT_NAME testkit)
install(TARGETS annals_domain annals_persistence annals_actors annals_runtime annals_testkit
  EXPORT annalsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY domain/include/ persistence/include/ runtime/include/ testkit/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT annalsTargets NAMESPACE annals:: DESTINATION ${ANNALS_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(cmake/annalsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/annalsConfig.cmake INSTALL_DESTINATION ${ANNALS_CMAKE_DIR})
# 0.x: a consumer asking for 0.1 must not get 0.2 (SameMinorVersion).
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/annalsConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/annalsConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/annalsConfigVersion.cmake
              cmake/AnnalsFindCAF.cmake
  DESTINATION ${ANNALS_CMAKE_DIR} COMPONENT dev)

install(TARGETS annals RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)

# cpack -G DEB (from the build directory): build/annals_<version>_<arch>.deb
# and build/libannals-dev_<version>_<arch>.deb.
set(CPACK_PACKAGE_NAME annals)
set(CPACK_PACKAGE_VENDOR "annals")
set(CPACK_PACKAGE_CONTACT "annals maintainers <annals@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "actor-model runtime for event-sourced aggregates")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)   # the RelWithDebInfo executable is ~150 MB with its debug info
set(CPACK_COMPONENTS_ALL tools dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME annals)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "annals command line: run scenarios, inspect and serve event stores")
# Depends from the shared libraries the executable links (dpkg-shlibdeps):
# libcaf-core0.17, libpq5, libprometheus-cpp-core1.0, libboost-json1.81.0, ...
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libannals-dev)
set(CPACK_DEBIAN_DEV_DESCRIPTION "annals headers, static libraries and CMake package (find_package(annals))")
# What annalsConfig.cmake finds and the static libraries link against.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libcaf-dev (>= 0.17.6), libboost-json1.81-dev, libsqlitecpp-dev, prometheus-cpp-dev, libpq-dev, pkgconf | pkg-config")
include(CPack)
