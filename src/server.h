/*
 * The server: one event loop per thread, each with its own SO_REUSEPORT listener, connections,
 * timers and cached clock; nothing shared on the request path. Signals arrive through the
 * unified event source on the main thread and reach the loops through their wake-up eventfds.
 */
#ifndef TINYWEB_SERVER_H
#define TINYWEB_SERVER_H

#include "config.h"

/* Runs until SIGTERM or SIGINT has drained every loop. Returns the process exit code. */
int server_run(const struct config *cfg);

#endif
