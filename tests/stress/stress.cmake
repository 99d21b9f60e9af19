# Fault and load tests (tests/stress/stress.py) against the real tinyweb binary over 127.0.0.1,
# at the "ctest" scale: slowloris, idle flood, fd exhaustion, resets and half-closes, a wrk soak,
# graceful shutdown under load, and (optimised build only) a request mix under valgrind.
# `make stress` runs the same scenarios at the full scale. Included from tests/CMakeLists.txt,
# where Python3_EXECUTABLE and the target tinyweb exist.
#
# The scenarios that load both cores (soak, shutdown: wrk) or measure latency (slowloris) run
# alone (RUN_SERIAL), so that they neither disturb the timing checks of the integration suites
# nor are disturbed by them; the others run beside the rest. About 80 s of wall time in all on
# 2 cores, for the optimised build and the ASan one alike. A scenario whose tool is missing
# (wrk, curl, valgrind) exits 77 and is reported as skipped.
#
# TINYWEB_STRESS_SANITIZED tells stress.py it drives a sanitizer build: slower, with freed
# memory in quarantine, so its latency floor and timing slack are larger and RSS is not checked.

set(TINYWEB_STRESS ${CMAKE_CURRENT_LIST_DIR}/stress.py)
if(TINYWEB_SANITIZE)
  set(TINYWEB_STRESS_SANITIZED 1)
else()
  set(TINYWEB_STRESS_SANITIZED 0)
endif()

# tinyweb_stress_test(SCENARIO TIMEOUT_SECONDS [PROPERTY VALUE]...): stress.SCENARIO.
function(tinyweb_stress_test scenario timeout)
  add_test(NAME stress.${scenario}
           COMMAND ${Python3_EXECUTABLE} ${TINYWEB_STRESS} --scenario ${scenario} --scale ctest
                   --binary $<TARGET_FILE:tinyweb>)
  set_tests_properties(stress.${scenario} PROPERTIES TIMEOUT ${timeout} LABELS stress
                       SKIP_RETURN_CODE 77
                       ENVIRONMENT TINYWEB_STRESS_SANITIZED=${TINYWEB_STRESS_SANITIZED} ${ARGN})
endfunction()

tinyweb_stress_test(slowloris 120 RUN_SERIAL TRUE)
tinyweb_stress_test(idle 120)
tinyweb_stress_test(fds 240)
tinyweb_stress_test(resets 120)
tinyweb_stress_test(soak 120 RUN_SERIAL TRUE)
tinyweb_stress_test(shutdown 120 RUN_SERIAL TRUE)

# valgrind cannot run a sanitizer build.
find_program(TINYWEB_VALGRIND valgrind)
if(NOT TINYWEB_SANITIZE AND TINYWEB_VALGRIND)
  tinyweb_stress_test(valgrind 180)
endif()
