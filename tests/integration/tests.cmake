# Integration tests: the real idle_echo binary, driven over loopback sockets by
# test_idle_echo.py (Python 3 standard library only). Included from tests/CMakeLists.txt, which
# has found Python3.
#
# One test per combination of timer container, tick source and epoll trigger mode, each about
# 12 s, plus the argument checks: about 70 s in all with ctest -j2, optimised or under ASan.
# Their timing margins hold with four combinations at once on two cores, so they need no
# RESOURCE_LOCK; the tests of a combination that time sends to the microsecond run alone within
# its process.
set(IDLE_ECHO_TEST ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_idle_echo.py)

foreach(timer fifo list)
  foreach(tick epoll timerfd alarm)
    foreach(trigger et lt)
      add_test(NAME idle_echo.${timer}.${tick}.${trigger}
               COMMAND ${Python3_EXECUTABLE} ${IDLE_ECHO_TEST} --binary $<TARGET_FILE:idle_echo>
                       --timer ${timer} --tick ${tick} --trigger ${trigger})
      set_tests_properties(idle_echo.${timer}.${tick}.${trigger} PROPERTIES
                           TIMEOUT 120 LABELS integration)
    endforeach()
  endforeach()
endforeach()

add_test(NAME idle_echo.args
         COMMAND ${Python3_EXECUTABLE} ${IDLE_ECHO_TEST} --binary $<TARGET_FILE:idle_echo>
                 --args-only)
set_tests_properties(idle_echo.args PROPERTIES TIMEOUT 60 LABELS integration)

# make install, checked (tests/integration/test_install.py, ~2 s): this build installed into a
# DESTDIR (cmake --install, as make install does once built), the installed configuration, man
# page, systemd unit (systemd-analyze) and logrotate snippet used as their readers use them, the
# installed server started as the unit says, then make uninstall.
add_test(NAME install
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_install.py
                 --build-dir ${CMAKE_BINARY_DIR} --source-dir ${CMAKE_SOURCE_DIR})
set_tests_properties(install PROPERTIES TIMEOUT 60 LABELS integration)
