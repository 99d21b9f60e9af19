# The static-server features of issue 14 (tests/integration/test_static.py): --index,
# --error-page, --cache-control and --expires against the real tinyweb binary over 127.0.0.1, one
# ctest per group (each well under 10 s, optimised or under ASan). Included from
# tests/CMakeLists.txt, where Python3_EXECUTABLE and the target tinyweb exist.
set(TINYWEB_STATIC_TEST ${CMAKE_CURRENT_LIST_DIR}/test_static.py)
foreach(group index errors caching compress autoindex)
  add_test(NAME static.${group}
           COMMAND ${Python3_EXECUTABLE} ${TINYWEB_STATIC_TEST} --binary $<TARGET_FILE:tinyweb>
                   --group ${group})
  set_tests_properties(static.${group} PROPERTIES TIMEOUT 60 LABELS "static;integration")
endforeach()
