# Helpers that give every module the same compile options.
#
#   hb_library(NAME SRCS ... DEPS ...)     one static library per module under src/
#   hb_test(NAME SRCS ... DEPS ... [LABELS ...] [TIMEOUT s])   a GoogleTest binary run by ctest

set(HB_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                -Wcast-align -Woverloaded-virtual -Wformat=2)

function(hb_apply_options target)
  target_compile_options(${target} PRIVATE ${HB_WARNINGS})
  if(HB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${SANITIZE})
  endif()
endfunction()

function(hb_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  hb_apply_options(${name})
endfunction()

function(hb_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} hb_test_main GTest::gtest GTest::gmock)
  hb_apply_options(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
