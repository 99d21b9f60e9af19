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

# The same suite and the database's unit tests against MariaDB: a throwaway server
# (scripts/mariadb.sh, socket only, in the build directory) started by the fixture app.mysql.start
# and stopped by its PID by app.mysql.stop; each tinyweb gets a fresh database on it, and
# app.outage.mysql stops and starts a server of its own under a running tinyweb. Registered only
# where mariadbd is installed (scripts/deps.sh test installs mariadb-server).
find_program(TINYWEB_MARIADBD mariadbd PATHS /usr/sbin /usr/local/sbin)
if(TINYWEB_MARIADBD)
  set(TINYWEB_MARIADB_DIR ${CMAKE_BINARY_DIR}/mariadb)
  set(TINYWEB_MARIADB_SH ${CMAKE_SOURCE_DIR}/scripts/mariadb.sh)
  add_test(NAME app.mysql.start COMMAND ${TINYWEB_MARIADB_SH} start ${TINYWEB_MARIADB_DIR})
  add_test(NAME app.mysql.stop COMMAND ${TINYWEB_MARIADB_SH} stop ${TINYWEB_MARIADB_DIR})
  set_tests_properties(app.mysql.start PROPERTIES FIXTURES_SETUP mariadb TIMEOUT 60
                       LABELS "app;integration;mysql")
  set_tests_properties(app.mysql.stop PROPERTIES FIXTURES_CLEANUP mariadb TIMEOUT 60
                       LABELS "app;integration;mysql")
  foreach(group flow forms abuse load state outage)
    add_test(NAME app.${group}.mysql
             COMMAND ${Python3_EXECUTABLE} ${TINYWEB_APP_TEST} --binary $<TARGET_FILE:tinyweb>
                     --mysql ${TINYWEB_MARIADB_DIR} --group ${group})
    set_tests_properties(app.${group}.mysql PROPERTIES TIMEOUT 90 FIXTURES_REQUIRED mariadb
                         LABELS "app;integration;mysql")
  endforeach()
  add_test(NAME unit.db_mariadb.mysql COMMAND test_db_mariadb)
  set_tests_properties(unit.db_mariadb.mysql PROPERTIES
    FIXTURES_REQUIRED mariadb LABELS "mysql"
    ENVIRONMENT "TINYWEB_TEST_MYSQL_URL=mysql://tinyweb@/tinyweb?socket=${TINYWEB_MARIADB_DIR}/mysqld.sock&password_file=${TINYWEB_MARIADB_DIR}/password")
else()
  message(STATUS "mariadbd not found: the MariaDB tests are not registered (scripts/deps.sh test)")
endif()
