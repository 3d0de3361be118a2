# Configures, builds and runs the consumer project: against a staging install
# of the cachet build in CACHET_BINARY_DIR (find_package), or, with
# CACHET_SOURCE_DIR set, against cachet's source tree (add_subdirectory).
file(REMOVE_RECURSE "${WORK_DIR}")
set(args "")
if(CACHET_SOURCE_DIR)
  list(APPEND args "-DCACHET_SOURCE_DIR=${CACHET_SOURCE_DIR}")
else()
  set(prefix "${WORK_DIR}/prefix")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${CACHET_BINARY_DIR}"
                          --prefix "${prefix}"
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed: ${rc}")
  endif()
  list(APPEND args "-DCMAKE_PREFIX_PATH=${prefix}")
endif()
set(flags "")
if(SANITIZE)
  string(REPLACE ";" "," sanitizers "${SANITIZE}")
  set(flags "-fsanitize=${sanitizers}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}"
                        -B "${WORK_DIR}/build" -G Ninja ${args}
                        -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
                        "-DCMAKE_CXX_FLAGS=${flags}"
                        "-DCMAKE_EXE_LINKER_FLAGS=${flags}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed: ${rc}")
endif()
