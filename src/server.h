/*
 * The server: one event loop per thread, each with its own SO_REUSEPORT listener, connections,
 * timers and cached clock; nothing shared on the request path. Signals arrive through the
 * unified event source on the main thread and reach the loops through their wake-up eventfds.
 */
#ifndef TINYWEB_SERVER_H
#define TINYWEB_SERVER_H

#include "config.h"

/*
 * Reads the configuration from argv (and the file it names), then serves until SIGTERM, SIGINT
 * or SIGQUIT has drained every loop; SIGHUP reloads the configuration, SIGUSR1 reopens the logs.
 * Returns the process exit code: 0, 1 when the server cannot start, 2 for a bad configuration.
 */
int server_main(int argc, char **argv);

#endif
