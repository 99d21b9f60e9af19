/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: a datagram to the unix socket
 * named by NOTIFY_SOCKET ("/path", or "@name" in the abstract namespace). Without the variable
 * (not started by systemd with Type=notify) every call does nothing.
 */
#ifndef TINYWEB_CORE_NOTIFY_H
#define TINYWEB_CORE_NOTIFY_H

/* Sends state ("READY=1", "STOPPING=1", ...; several lines allowed). 0, or -errno. */
int notify_send(const char *state);

/* "READY=1", the main pid and a STATUS line naming what the server listens on. */
int notify_ready(const char *status);

/* "RELOADING=1" with MONOTONIC_USEC, as systemd's Type=notify-reload wants it. */
int notify_reloading(void);

#endif
