# All from Debian's packages (see scripts/lib/packages).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED COMPONENTS json url CONFIG)
find_package(OpenSSL REQUIRED)
find_package(spdlog REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libpq itself, for PQconninfoParse (engine/store/database.cpp adds a connect timeout to URLs).
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# keyflowd's allocator (gperftools' TCMalloc): the webhook deliverer and the verify path
# allocate small objects per request on several threads, where glibc's malloc spent a third of
# the deliverer's time. Not under the sanitizers, which bring their own.
if(NOT KEYFLOW_SANITIZE AND NOT KEYFLOW_TSAN AND NOT KEYFLOW_FUZZ)
  pkg_check_modules(TCMALLOC REQUIRED IMPORTED_TARGET libtcmalloc_minimal)
endif()
if(KEYFLOW_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)  # header-only, tests only
  find_package(yaml-cpp REQUIRED CONFIG)  # tests/unit/openapi_routes_test reads schemas/openapi.yaml
endif()
