# Runs at install time (`make install`, `cmake --install BUILD [--prefix P]`, from an install(CODE)
# rule in CMakeLists.txt), so every path below comes from the prefix of this install, whatever the
# build was configured with. Given: TINYWEB_BUILT (the built server), TINYWEB_SOURCE_DIR,
# TINYWEB_WORK_DIR (where the generated files are written first), TINYWEB_BINDIR,
# TINYWEB_SYSCONFDIR, TINYWEB_UNITDIR, TINYWEB_LOGROTATEDIR (each relative to the prefix, or
# absolute). file(INSTALL) adds $DESTDIR and records each file in install_manifest.txt.
#
# Installs, for PREFIX=/usr/local:
#   /usr/local/etc/tinyweb/tinyweb.conf.default   always: the configuration for tinyweb.service
#   /usr/local/etc/tinyweb/tinyweb.conf           the same, only when there is none (yours stays)
#   /usr/local/lib/systemd/system/tinyweb.service  the unit, with these paths
#   /etc/logrotate.d/tinyweb                       where logrotate looks, whatever the prefix
# (the server and tinyweb(8) are ordinary install() rules).

# An absolute directory as this install's prefix makes it: GNUInstallDirs' rule, applied now
# rather than at configure time, that /usr (and /) keep their configuration in /etc.
function(tinyweb_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(path "${dir}")
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(path "/etc")
  else()
    set(path "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  string(REGEX REPLACE "//+" "/" path "${path}")
  set(${out} "${path}" PARENT_SCOPE)
endfunction()

tinyweb_dir(bindir "${TINYWEB_BINDIR}")
tinyweb_dir(confdir "${TINYWEB_SYSCONFDIR}")
set(confdir "${confdir}/tinyweb")
tinyweb_dir(unitdir "${TINYWEB_UNITDIR}")
tinyweb_dir(logrotatedir "${TINYWEB_LOGROTATEDIR}")
set(TINYWEB_BIN "${bindir}/tinyweb")
set(TINYWEB_CONF "${confdir}/tinyweb.conf")
file(MAKE_DIRECTORY "${TINYWEB_WORK_DIR}")
# install_manifest.txt has the paths without $DESTDIR: uninstall.cmake checks it is given the same.
file(WRITE "${TINYWEB_WORK_DIR}/destdir" "$ENV{DESTDIR}")

# The configuration: the server's own example (every setting, commented out, with its default),
# with the settings the service needs made live. Generated from the binary, so a new option never
# needs a second edit.
execute_process(COMMAND "${TINYWEB_BUILT}" --example-config
                OUTPUT_VARIABLE conf RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT conf MATCHES "\n#root ")
  message(FATAL_ERROR "${TINYWEB_BUILT} --example-config failed (${rc})")
endif()
foreach(setting "root /var/www/html" "access-log /var/log/tinyweb/access.log"
                "error-log /var/log/tinyweb/error.log")
  string(REGEX MATCH "^[^ ]+" name "${setting}")
  string(REGEX REPLACE "\n#${name} [^\n]*" "\n${setting}" conf "${conf}")
endforeach()
set(conf "# Installed by make install for ${unitdir}/tinyweb.service
# (which adds --pid-file /run/tinyweb/tinyweb.pid): root, access-log and error-log below are set
# for it; every other setting shows its default, commented out. The unit's sandbox lets tinyweb
# write only in /var/log/tinyweb and /run/tinyweb, and read only what others may (tinyweb(8),
# FILES). After an edit: systemctl reload tinyweb.
#
${conf}")
file(WRITE "${TINYWEB_WORK_DIR}/tinyweb.conf.default" "${conf}")
file(INSTALL "${TINYWEB_WORK_DIR}/tinyweb.conf.default" DESTINATION "${confdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
if(EXISTS "$ENV{DESTDIR}${TINYWEB_CONF}")
  message(STATUS "Kept: $ENV{DESTDIR}${TINYWEB_CONF} (this install's is tinyweb.conf.default)")
else()
  file(INSTALL "${TINYWEB_WORK_DIR}/tinyweb.conf.default" DESTINATION "${confdir}"
       RENAME tinyweb.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

configure_file("${TINYWEB_SOURCE_DIR}/dist/tinyweb.service.in"
               "${TINYWEB_WORK_DIR}/tinyweb.service" @ONLY)
file(INSTALL "${TINYWEB_WORK_DIR}/tinyweb.service" DESTINATION "${unitdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${TINYWEB_SOURCE_DIR}/dist/tinyweb.logrotate" DESTINATION "${logrotatedir}"
     RENAME tinyweb PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

if("$ENV{DESTDIR}" STREQUAL "")
  message(STATUS "tinyweb: systemctl daemon-reload && systemctl enable --now tinyweb "
                 "(the site goes in /var/www/html)")
endif()
