# The cluster test (tests/cluster/test_cluster.py): three tinyweb instances behind HAProxy over
# 127.0.0.1 sharing one database, started and stopped by scripts/cluster.sh. A login works on
# every instance; a rolling restart under wrk -c 50 loses nothing; kill -9 of one instance loses
# at most what it had in flight; MariaDB restarted under load: logged-in pages 503 for the outage
# and back, static files never fail. Included from tests/CMakeLists.txt, where
# Python3_EXECUTABLE, the target tinyweb and TINYWEB_MARIADBD (integration/app.cmake) exist.
#
# Where mariadbd is installed (scripts/deps.sh test installs it) the cluster is the issue's: one
# MariaDB, the server of the fixture app.mysql.start/stop with a fresh database per cluster; the
# test stops that server for ~3 s and starts it again, so it runs alone (RUN_SERIAL), ~60 s.
# Elsewhere the instances share one SQLite file and mariadb_restart is skipped (~40 s).
# Optimised builds only: its figures are throughput under restarts, not a sanitizer's concern.
# Label "cluster": `ctest -LE cluster` leaves it out. Exits 77 (skipped) without haproxy or wrk.
if(NOT TINYWEB_SANITIZE)
  if(TINYWEB_MARIADBD)
    add_test(NAME cluster.mysql
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_cluster.py
                     --binary $<TARGET_FILE:tinyweb> --mysql ${TINYWEB_MARIADB_DIR})
    set_tests_properties(cluster.mysql PROPERTIES TIMEOUT 240
                         LABELS "cluster;integration;mysql" RUN_SERIAL TRUE
                         FIXTURES_REQUIRED mariadb SKIP_RETURN_CODE 77)
  else()
    add_test(NAME cluster
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_cluster.py
                     --binary $<TARGET_FILE:tinyweb>)
    set_tests_properties(cluster PROPERTIES TIMEOUT 180 LABELS "cluster;integration"
                         RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
  endif()
endif()
