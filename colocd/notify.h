/*
 * notify: tells a service manager how colocd's start and stop go, by the
 * sd_notify(3) protocol without libsystemd: one datagram with "READY=1"
 * (the sockets are open: the unit is started, and units ordered after it,
 * slurmd, start now and their host reports reach it) or "STOPPING=1" to
 * the unix socket named by NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace). Without NOTIFY_SOCKET, as when colocd is not run by
 * systemd with Type=notify, nothing is sent.
 */
#ifndef COLOC_NOTIFY_H
#define COLOC_NOTIFY_H

/* Sends state (like "READY=1") to NOTIFY_SOCKET. Returns 1 when sent, 0
 * when NOTIFY_SOCKET is unset or empty, -errno when it cannot be sent (a
 * bad address, no listener). Not thread-safe (reads the environment). */
int notify_send(const char *state);

#endif
