# KILN_FUZZ=ON (with CC=clang): libFuzzer targets for kiln's front ends, built with ASan and
# UBSan over the whole library (coverage-instrumented: -fsanitize=fuzzer-no-link).
#   CC=clang-14 cmake -S . -B build-fuzz -DKILN_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_onnx fuzz_tensor fuzz_dsl fuzz_compile fuzz_values
#     fuzz_tuning_log fuzz_check
# tools/fuzz.sh TARGET SECONDS does both and runs one target. Include this file right
# after the project's add_compile_options, before any target is defined.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/sanitize.cmake) # kiln_strip_compile_options
option(KILN_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

if(KILN_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KILN_FUZZ needs clang (CC=clang-14), not ${CMAKE_C_COMPILER_ID}")
  endif()
  set(KILN_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  add_compile_options(${KILN_FUZZ_FLAGS})
  add_link_options(-fsanitize=address,undefined)
  set(KILN_FUZZ_TARGETS onnx tensor dsl compile values tuning_log check)
  foreach(t ${KILN_FUZZ_TARGETS})
    add_executable(fuzz_${t} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${t}.c
                             ${CMAKE_SOURCE_DIR}/tests/fuzz/targets.c
                             ${CMAKE_SOURCE_DIR}/tests/fuzz/values.c)
    target_link_libraries(fuzz_${t} PRIVATE kiln)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_include_directories(fuzz_${t} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/gen)
  endforeach()
  # kiln_rt: the thread pool, uninstrumented like generated code (sanitize.cmake).
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt ${KILN_FUZZ_FLAGS})
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt_aot ${KILN_FUZZ_FLAGS})
endif()
