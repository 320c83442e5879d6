# KILN_SANITIZE=ON: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer
# over libkiln, the CLI and every test; any UB report aborts the test.
# KILN_SANITIZE_THREAD=ON: ThreadSanitizer over the same (not with KILN_SANITIZE: the two
# runtimes exclude each other). Include this file right after the project's
# add_compile_options, before any target is defined.
#
# kiln_rt (the thread pool JIT code calls) stays uninstrumented, like the code it runs.
include_guard(GLOBAL)
option(KILN_SANITIZE "Build kiln and its tests with ASan + UBSan" OFF)
option(KILN_SANITIZE_THREAD "Build kiln and its tests with TSan" OFF)

# Drops the flags in ARGN from target's compile options (deferred: the target may not
# exist yet when this file is included).
function(kiln_strip_compile_options target)
  if(TARGET ${target})
    get_target_property(opts ${target} COMPILE_OPTIONS)
    if(opts)
      list(REMOVE_ITEM opts ${ARGN})
      set_target_properties(${target} PROPERTIES COMPILE_OPTIONS "${opts}")
    endif()
  endif()
endfunction()

if(KILN_SANITIZE)
  set(KILN_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  add_compile_options(${KILN_SANITIZE_FLAGS})
  add_link_options(-fsanitize=address,undefined)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt ${KILN_SANITIZE_FLAGS})
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt_aot ${KILN_SANITIZE_FLAGS})
endif()

if(KILN_SANITIZE_THREAD)
  if(KILN_SANITIZE)
    message(FATAL_ERROR "KILN_SANITIZE and KILN_SANITIZE_THREAD exclude each other")
  endif()
  set(KILN_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  add_compile_options(${KILN_TSAN_FLAGS})
  add_link_options(-fsanitize=thread)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt ${KILN_TSAN_FLAGS})
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL kiln_strip_compile_options kiln_rt_aot ${KILN_TSAN_FLAGS})
endif()
