# The HTTP integration suite (tests/integration/test_http.py) against the real tinyweb binary
# over 127.0.0.1. Included from tests/CMakeLists.txt, where Python3_EXECUTABLE and the target
# tinyweb exist. The suite is split by --group so that ctest -j runs the pieces in parallel:
#
#   http.core.t1, http.core.t4           everything about requests and responses, 1 and 4 loops
#   http.core.m0 .. http.core.m3         every epoll trigger mode (listener+connections LT/ET),
#                                        with graceful shutdown, on 2 loops
#   http.core.TIMER.TICK                 every --timer x --tick combination (alarm: 1 loop)
#   http.timeouts.TIMER.TICK             the same combinations, the timeout checks
#   http.timeouts.t4, http.timeouts.m0   timeouts with 4 loops, and with level-triggered I/O
#   http.limits, http.shutdown.t1/t4, http.logs.t1/t4, http.args
#   http.tls.*                           the same suite over HTTPS (--transport tls, issue 13):
#                                        every group once, core and timeouts in both trigger
#                                        modes, plus the TLS-only tests (the header timeout
#                                        over the handshake, resets, truncated records,
#                                        garbage instead of a ClientHello, leaks)
#
# The timing checks allow T + one tick + 250 ms (DEFAULT_EPSILON_MS in test_http.py), and a test
# that was only late (never early) runs up to 3 times, as a stall of the shared machine makes
# everything late. The slowest piece takes ~12 s (timeouts) and the whole set ~75 s of wall time
# with ctest -j2 on 2 cores, for the optimised build and the ASan one alike. Timeouts leave room
# for the retries. The TLS set adds 100-140 s of test time (30-45 s of wall time with ctest -j3
# on 2 cores), for the optimised build and the ASan one alike; its slowest pieces are
# tls.core.m0/m3 and the two tls.timeouts (15-22 s each).

set(TINYWEB_HTTP_TEST ${CMAKE_CURRENT_LIST_DIR}/test_http.py)

# tinyweb_http_test(NAME TIMEOUT_SECONDS ARGS...): http.NAME runs test_http.py with ARGS.
function(tinyweb_http_test name timeout)
  add_test(NAME http.${name}
           COMMAND ${Python3_EXECUTABLE} ${TINYWEB_HTTP_TEST} --binary $<TARGET_FILE:tinyweb>
                   ${ARGN})
  set_tests_properties(http.${name} PROPERTIES TIMEOUT ${timeout} LABELS "http;integration")
endfunction()

# Requests and responses, with the defaults (fifo, epoll, ET+ET) on one loop and on four.
tinyweb_http_test(core.t1 120 --group core --threads 1)
tinyweb_http_test(core.t4 120 --group core --threads 4)

# Every trigger mode: these change how reads and writes are driven, so they run the I/O-heavy
# groups (pipelining, byte-at-a-time heads, 10 MiB bodies, slow readers during shutdown).
foreach(mode 0 1 2 3)
  tinyweb_http_test(core.m${mode} 150 --group core,shutdown --threads 2 --mode ${mode})
endforeach()

# Every timer container with every tick source; alarm (SIGALRM) is process-wide: one loop.
foreach(timer fifo list)
  foreach(tick epoll timerfd alarm)
    if(tick STREQUAL "alarm")
      set(threads 1)
    else()
      set(threads 2)
    endif()
    tinyweb_http_test(core.${timer}.${tick} 120 --group core --threads ${threads}
                      --timer ${timer} --tick ${tick})
    tinyweb_http_test(timeouts.${timer}.${tick} 120 --group timeouts --threads ${threads}
                      --timer ${timer} --tick ${tick})
  endforeach()
endforeach()
tinyweb_http_test(timeouts.t4 120 --group timeouts --threads 4)
tinyweb_http_test(timeouts.m0 120 --group timeouts --threads 1 --mode 0)

tinyweb_http_test(limits 60 --group limits)
tinyweb_http_test(shutdown.t1 120 --group shutdown --threads 1)
tinyweb_http_test(shutdown.t4 120 --group shutdown --threads 4)
tinyweb_http_test(logs.t1 60 --group logs --threads 1)
tinyweb_http_test(logs.t4 60 --group logs --threads 4)
tinyweb_http_test(args 60 --group args)
tinyweb_http_test(config.t1 90 --group config --threads 1)
tinyweb_http_test(config.t2 90 --group config --threads 2)

# Over TLS (a certificate made per run by scripts/tls_cert.sh): every group at least once, not
# the whole matrix again (the timer containers and tick sources do not see the transport; the
# trigger modes and the loop count do).
tinyweb_http_test(tls.core.t1 120 --transport tls --group core --threads 1)
tinyweb_http_test(tls.core.t4 120 --transport tls --group core --threads 4)
foreach(mode 0 3)
  tinyweb_http_test(tls.core.m${mode} 150 --transport tls --group core,shutdown --threads 2
                    --mode ${mode})
endforeach()
tinyweb_http_test(tls.timeouts 120 --transport tls --group timeouts --threads 2)
tinyweb_http_test(tls.timeouts.m0 120 --transport tls --group timeouts --threads 1 --mode 0)
tinyweb_http_test(tls.limits 60 --transport tls --group limits)
tinyweb_http_test(tls.shutdown 120 --transport tls --group shutdown --threads 1)
tinyweb_http_test(tls.logs 60 --transport tls --group logs --threads 4)
tinyweb_http_test(tls.config 90 --transport tls --group config --threads 2)
tinyweb_http_test(tls.args 60 --transport tls --group args)

# Path confinement without openat2 (Linux before 5.6, valgrind): the same attacks against the
# O_NOFOLLOW walk, with openat2 made to fail with ENOSYS by a seccomp filter. The filter names
# the architecture (AUDIT_ARCH_*), which no_openat2.c knows for x86-64 and AArch64 only: other
# machines build and run neither. test_http.py fails when an --only below matches no test.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|aarch64|arm64)$")
  add_executable(no_openat2 integration/no_openat2.c)
  tinyweb_http_test(paths.no_openat2 60 --group core --threads 2
                    --wrapper $<TARGET_FILE:no_openat2>
                    --only PathSafety --only Files.test_get_file_headers
                    --only Files.test_root_serves --only Files.test_directory
                    --only Files.test_missing_404 --only Files.test_fifo_not_served
                    --only Files.test_percent_encoded_names)
endif()

# The status handler (tests/integration/test_status.py): JSON, Prometheus text checked by
# promtool, access control, reload, and the live page in headless Chromium under 2 s of wrk,
# about 15 s. Selenium is Debian's python3-selenium, importable by Debian's own interpreter: the
# test runs under /usr/bin/python3 when there is one, whichever python3 comes first in PATH.
find_program(TINYWEB_SYSTEM_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT TINYWEB_SYSTEM_PYTHON)
  set(TINYWEB_SYSTEM_PYTHON ${Python3_EXECUTABLE})
endif()
add_test(NAME http.status
         COMMAND ${TINYWEB_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_status.py
                 --binary $<TARGET_FILE:tinyweb>)
set_tests_properties(http.status PROPERTIES TIMEOUT 120 LABELS "http;integration")
