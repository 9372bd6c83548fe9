# Sanitizer and fuzzing builds (docs/testing.md, "Sanitizers and fuzzing").
#
#   -DANNALS_SANITIZE=address,undefined   ASan + UBSan (any UB ends the test)
#   -DANNALS_SANITIZE=thread              TSan (tests/sanitizers/tsan.supp)
#   -DANNALS_FUZZ=ON                      libFuzzer targets in fuzz/ (clang only)
#
# The flags go on every target defined after this file is included: our
# libraries, examples, tests and fuzzers. Dependencies come prebuilt from
# Debian (CAF, SQLiteCpp, Boost.JSON), so they stay uninstrumented.

set(ANNALS_SANITIZE "" CACHE STRING
    "Sanitizers for all annals targets: empty, 'address', 'undefined', 'address,undefined' or 'thread'")
option(ANNALS_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)

if(ANNALS_SANITIZE)
  string(REPLACE "," ";" _annals_sanitizers "${ANNALS_SANITIZE}")
  foreach(_s IN LISTS _annals_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "ANNALS_SANITIZE: unknown sanitizer '${_s}' (use address, undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _annals_sanitizers AND "address" IN_LIST _annals_sanitizers)
    message(FATAL_ERROR "ANNALS_SANITIZE: thread and address cannot be combined; build two trees")
  endif()
  # Frame pointers: readable stacks in reports. No recovery: undefined
  # behaviour aborts the process, so the test that caused it fails.
  add_compile_options(-fsanitize=${ANNALS_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${ANNALS_SANITIZE})
  if("undefined" IN_LIST _annals_sanitizers)
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

if(ANNALS_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "ANNALS_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "(Debian: apt-get install clang libclang-rt-14-dev)")
endif()
