# All third-party dependencies come from Debian 12's packages (scripts/install-deps.sh).

find_package(Threads REQUIRED)

# CAF 0.17.6: Debian ships no CMake package for it, so define imported targets
# named like the ones CAF >= 0.18 exports (eases a later upgrade).
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
  # TLS between clustered nodes (annals::cluster).
  add_library(CAF::openssl SHARED IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::io)
endif()

find_package(Boost 1.81 REQUIRED COMPONENTS json)   # Boost::json, Boost::headers
find_package(SQLiteCpp REQUIRED)                    # target SQLiteCpp (static)
find_package(prometheus-cpp CONFIG REQUIRED)        # prometheus-cpp::core (metrics)
find_package(CLI11 REQUIRED)                        # CLI11::CLI11 (command lines)
find_package(OpenSSL REQUIRED)                      # OpenSSL::SSL (checks TLS files before CAF sees them)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)  # PkgConfig::LIBPQ (the PostgreSQL store)
