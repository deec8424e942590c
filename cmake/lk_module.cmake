# lk_module(NAME SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# One module = one static library target lk_<NAME>, with project warnings applied to our code only.
function(lk_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic
    -Wno-missing-field-initializers
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)  # g++ 12 false positives in std::string at -O3 (GCC PR 105329)
  if(LK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(lk_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(lk_${name} STATIC ${M_SOURCES})
  target_include_directories(lk_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(lk_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_DEPS})
  lk_warnings(lk_${name})
  if(LK_FUZZ)
    target_compile_options(lk_${name} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# Test code (not the modules it tests) is compiled with -O1 in optimised builds: it halves the
# compile time of the big test files (service_test.cc: 33 s at -O3, 18 s at -O1), and what a test
# exercises is the module libraries, which keep the build type's flags. In Debug builds (the
# sanitizer builds of ./dev.sh test: modules at -O1) it is -O0, which builds in half the time.
function(lk_test_flags target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release,RelWithDebInfo>:-O1> $<$<CONFIG:Debug>:-O0>)
endfunction()

# The suites a ThreadSanitizer build (-DLK_TSAN=ON) builds and runs; every other lk_test is left
# out of its build and its ctest. The service suite runs the lerarenkaart binary of the same
# build, so that is the TSan one too.
set(LK_TSAN_SUITES ledger_test api_service_test api_hostile_client_test api_service_clock_test)

# lk_test(NAME SOURCES ... DEPS ...): a GoogleTest executable registered with ctest.
function(lk_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(LK_TSAN AND NOT name IN_LIST LK_TSAN_SUITES)
    add_executable(${name} EXCLUDE_FROM_ALL ${T_SOURCES})
  else()
    add_executable(${name} ${T_SOURCES})
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}")
  endif()
  target_link_libraries(${name} PRIVATE ${T_DEPS} lk_testing GTest::gtest GTest::gtest_main GTest::gmock)
  lk_warnings(${name})
  lk_test_flags(${name})
  add_dependencies(${name} lerarenkaart)
endfunction()

# lk_benchmark(NAME SOURCES ... DEPS ...): a Google Benchmark program under tests/bench.
function(lk_benchmark name)
  cmake_parse_arguments(B "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_DEPS} benchmark::benchmark)
  lk_warnings(${name})
endfunction()
