# The application (issue 11) in headless Chromium (tests/integration/test_app_browser.py):
# register, log in, the welcome, picture, video and fans pages, log out, a wrong password and a
# taken name, through the clean routes and TinyWebServer's (/0 /1 /2CGISQL.cgi /3CGISQL.cgi
# /5 /6 /7), each page checked at 320 px wide, the console and the server's answers checked;
# about 12 s, for the optimised build and the ASan one alike. Included from tests/CMakeLists.txt,
# where the target tinyweb exists.
#
# Selenium is Debian's python3-selenium, importable by Debian's own interpreter: the test runs
# under /usr/bin/python3 when there is one, whichever python3 comes first in PATH (as http.status
# does). Without chromium, chromedriver or python3-selenium it exits 77: skipped, not passed
# (scripts/deps.sh test installs them). Not RUN_SERIAL, like http.status: nothing in it is timed
# tighter than its 15 s waits.
find_program(TINYWEB_SYSTEM_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT TINYWEB_SYSTEM_PYTHON)
  set(TINYWEB_SYSTEM_PYTHON ${Python3_EXECUTABLE})
endif()
add_test(NAME app.browser
         COMMAND ${TINYWEB_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_app_browser.py
                 --binary $<TARGET_FILE:tinyweb>)
set_tests_properties(app.browser PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                     LABELS "app;http;integration")
