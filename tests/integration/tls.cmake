# The HTTPS suite (tests/integration/test_tls.py, issue 13): curl, openssl s_client, Python's
# ssl, headless Chromium and testssl.sh against the real tinyweb binary's --listen-tls over
# 127.0.0.1. Included from tests/CMakeLists.txt, where Python3_EXECUTABLE and the target tinyweb
# exist. Split by --group so that ctest -j runs the pieces in parallel:
#
#   tls.curl      curl --cacert, TLS 1.2 and 1.3, ECDSA and RSA: files byte-exact, HEAD, 404,
#                 one connection for several URLs, --http1.1, ALPN http/1.1
#   tls.sclient   openssl s_client: versions (1.0, 1.1, SSL 3.0 refused), ALPN, resumption,
#                 no renegotiation, no compression, cipher order, --tls-ciphers/-ciphersuites/
#                 -protocols
#   tls.io        pipelining in one record, a byte per record, 10 MiB, the idle timeout, SIGTERM
#                 during a download
#   tls.faults    the header timeout over the handshake, garbage, plain HTTP to the TLS port,
#                 resets, a truncated record (the fds come back)
#   tls.reload    SIGHUP swaps the certificate; broken pairs are refused with a reason
#   tls.http      --hsts, --redirect-https, the Secure session cookie (--db)
#   tls.browser   headless Chromium trusting the certificate by its SPKI hash (Selenium, so
#                 Debian's /usr/bin/python3 as for app.browser; 77 = skipped without chromium)
#   tls.testssl   testssl.sh: no HIGH or CRITICAL finding, exactly TLS 1.2 and 1.3 (label
#                 stress: a few minutes; 77 = skipped without testssl)
#
# Each of the first seven takes well under a minute, optimised or under ASan. The only timing
# checks (idle and header timeouts, 1 s) allow T + 250 ms and are retried when only late.

set(TINYWEB_TLS_TEST ${CMAKE_CURRENT_LIST_DIR}/test_tls.py)

foreach(group curl sclient io faults reload http)
  add_test(NAME tls.${group}
           COMMAND ${Python3_EXECUTABLE} ${TINYWEB_TLS_TEST} --binary $<TARGET_FILE:tinyweb>
                   --group ${group})
  set_tests_properties(tls.${group} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                       LABELS "tls;integration")
endforeach()

find_program(TINYWEB_SYSTEM_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT TINYWEB_SYSTEM_PYTHON)
  set(TINYWEB_SYSTEM_PYTHON ${Python3_EXECUTABLE})
endif()
add_test(NAME tls.browser
         COMMAND ${TINYWEB_SYSTEM_PYTHON} ${TINYWEB_TLS_TEST} --binary $<TARGET_FILE:tinyweb>
                 --group browser)
set_tests_properties(tls.browser PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                     LABELS "tls;integration")

add_test(NAME tls.testssl
         COMMAND ${Python3_EXECUTABLE} ${TINYWEB_TLS_TEST} --binary $<TARGET_FILE:tinyweb>
                 --group testssl)
set_tests_properties(tls.testssl PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
                     LABELS "tls;stress")
