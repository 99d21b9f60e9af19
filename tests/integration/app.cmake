# The application's integration suite (tests/integration/test_app.py): register, log in,
# sessions, the worker pool, through the clean routes and TinyWebServer's, against the real
# tinyweb binary over 127.0.0.1. Included from tests/CMakeLists.txt, where Python3_EXECUTABLE
# and the target tinyweb exist. Split by --group so that ctest -j runs the pieces in parallel:
#
#   app.flow    the whole flow through both route sets, -a 1, HEAD, keep-alive, pipelining,
#               100-continue, chunked bodies, the application off, the templates hidden
#   app.forms   duplicates, wrong passwords, hostile and long names, malformed forms, forgery
#   app.abuse   concurrent registrations of one name, login throttling, session expiry
#   app.load    clients gone while their login hashes, a full worker queue, --app-timeout, a
#               stop while hashing (a ~100 ms Argon2id: the only slow hashes of the suite)
#   app.state   passwords and tokens absent from every log (-l 0 and 1), a restart keeps users
#
# Each piece takes under 10 s, optimised or under ASan; a check that fails only by being late
# (never early) runs up to 3 times, so the timeouts leave room for the retries.

set(TINYWEB_APP_TEST ${CMAKE_CURRENT_LIST_DIR}/test_app.py)

foreach(group flow forms abuse load state)
  add_test(NAME app.${group}
           COMMAND ${Python3_EXECUTABLE} ${TINYWEB_APP_TEST} --binary $<TARGET_FILE:tinyweb>
                   --group ${group})
  set_tests_properties(app.${group} PROPERTIES TIMEOUT 90 LABELS "app;integration")
endforeach()
