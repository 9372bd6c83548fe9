# All third-party dependencies come from Debian 12's packages (scripts/install-deps.sh).

find_package(Threads REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/AnnalsFindCAF.cmake)
if(NOT ANNALS_CAF_FOUND)
  message(FATAL_ERROR "CAF 0.17 (libcaf-dev) not found: run scripts/install-deps.sh")
endif()

find_package(Boost 1.81 REQUIRED COMPONENTS json)   # Boost::json, Boost::headers
find_package(SQLiteCpp REQUIRED)                    # target SQLiteCpp (static)
find_package(prometheus-cpp CONFIG REQUIRED)        # prometheus-cpp::core (metrics)
find_package(CLI11 REQUIRED)                        # CLI11::CLI11 (command lines)
find_package(OpenSSL REQUIRED)                      # OpenSSL::SSL (checks TLS files before CAF sees them)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)  # PkgConfig::LIBPQ (the PostgreSQL store)
