/*
 * listen.h: the listening sockets, bound by the master while it is root
 * and shared by every worker.
 *
 * Owns: binding, and carrying sockets over a reload: a listener whose
 * address did not change keeps its socket, so no connection is refused
 * while the configuration changes.
 */
#ifndef PORTICO_LISTEN_H
#define PORTICO_LISTEN_H

#include "conf.h"

/*
 * Sockets for every listener of nc, in its order: taken from old (the
 * running configuration and its fds) when the address is the same, bound
 * anew otherwise. Returns a malloc'd array, or NULL with the reason in
 * err (and nothing newly bound left open).
 */
int *listen_open_all(const struct conf *nc, const struct conf *old,
		     const int *old_fds, char *err, size_t errlen);

/* Close the sockets of old that nc's array new_fds does not reuse. */
void listen_close_unused(const struct conf *old, const int *old_fds,
			 const struct conf *nc, const int *new_fds);

#endif
