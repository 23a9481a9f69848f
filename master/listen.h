/*
 * listen.h: the listening sockets, bound by the master while it is root
 * and shared by every worker.
 *
 * Owns: binding, and carrying sockets over a reload or a binary upgrade: a
 * listener whose address did not change keeps its socket, so no
 * connection is refused while the configuration or the program changes.
 */
#ifndef PORTICO_LISTEN_H
#define PORTICO_LISTEN_H

#include <sys/socket.h>

#include "conf.h"

/*
 * Sockets for every listener of nc, in its order: taken from old (the
 * running configuration and its fds) when the address is the same, bound
 * anew otherwise. Returns a malloc'd array, or NULL with the reason in
 * err (and nothing newly bound left open).
 */
int *listen_open_all(const struct conf *nc, const struct conf *old,
		     const int *old_fds, char *err, size_t errlen);

/* A listening socket handed over by the master of a binary upgrade. */
struct inherited {
	int fd;
	bool taken;			/* by a listener of the configuration */
	struct sockaddr_storage addr;
	socklen_t len;
};

/*
 * The sockets named in spec, the PORTICO_LISTEN_FDS value "fd;fd;...":
 * at most max into out, each checked to be a listening stream socket; the
 * others are logged and left alone. Returns how many.
 */
unsigned listen_parse_inherited(const char *spec, struct inherited *out, unsigned max);

/*
 * Sockets for every listener of c, in its order: an inherited socket
 * bound to the same address when there is one, so the port is never
 * closed during an upgrade; bound anew otherwise. Inherited sockets left
 * over are closed. Returns a malloc'd array, or NULL with the reason in
 * err.
 */
int *listen_take_inherited(const struct conf *c, struct inherited *in, unsigned nin,
			   char *err, size_t errlen);

/* Close the sockets of old that nc's array new_fds does not reuse (and
 * remove the files of unix ones). */
void listen_close_unused(const struct conf *old, const int *old_fds,
			 const struct conf *nc, const int *new_fds);

/*
 * Remove the socket files of c's unix listeners: when the master stops
 * for good, not when it hands its sockets to a new binary. A unix
 * listener is bound after its stale file is removed (nothing accepted on
 * it) and refused while something accepts on it.
 */
void listen_remove_files(const struct conf *c);

#endif
