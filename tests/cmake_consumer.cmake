# The embedding docs' CMake project is real: configures tests/cmake_consumer
# (a project of its own that add_subdirectory()s this source tree, as
# docs/embedding.md shows) in a build directory of its own, then compiles its
# two sources against annals::runtime, annals::cli and bank_domain. Linking
# would compile all of annals a second time (minutes on 2 cores), so it stops
# at the objects: the targets, include folders and compile settings a user's
# project gets are what is checked.
foreach(var SOURCE_DIR BINARY_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "cmake_consumer.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${BINARY_DIR}")
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/cmake_consumer -B ${BINARY_DIR} -G ${GENERATOR}
          -DANNALS_CHECKOUT=${SOURCE_DIR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer project (add_subdirectory of ${SOURCE_DIR}) failed")
endif()
if(GENERATOR MATCHES "Ninja")
  set(objects CMakeFiles/mybank.dir/main.cpp.o CMakeFiles/mybank-annals.dir/annals_main.cpp.o)
else()
  set(objects main.cpp.o annals_main.cpp.o)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${objects} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "compiling the consumer project's sources against annals' targets failed")
endif()
