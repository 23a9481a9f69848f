/*
 * listen.c: binding listeners and keeping them across reloads.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "listen.h"

static bool same_address(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static int open_one(const struct conf_listen *l, char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket() for %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:80" means IPv6 only, so it can sit beside "0.0.0.0:80". */
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 ||
	    listen(fd, l->backlog) < 0) {
		snprintf(err, errlen, "bind() to %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int find_reusable(const struct conf_listen *l, const struct conf *old,
			 const int *old_fds)
{
	unsigned i;

	if (old == NULL)
		return -1;
	for (i = 0; i < old->nlistens; i++)
		if (same_address(l, &old->listens[i]))
			return old_fds[i];
	return -1;
}

static bool is_reused(int fd, const struct conf *old, const int *old_fds)
{
	unsigned i;

	for (i = 0; old != NULL && i < old->nlistens; i++)
		if (old_fds[i] == fd)
			return true;
	return false;
}

int *listen_open_all(const struct conf *nc, const struct conf *old,
		     const int *old_fds, char *err, size_t errlen)
{
	int *fds = calloc(nc->nlistens ? nc->nlistens : 1, sizeof(*fds));
	unsigned i;

	if (fds == NULL) {
		snprintf(err, errlen, "out of memory for listeners");
		return NULL;
	}
	for (i = 0; i < nc->nlistens; i++) {
		fds[i] = find_reusable(&nc->listens[i], old, old_fds);
		if (fds[i] >= 0)
			continue;
		fds[i] = open_one(&nc->listens[i], err, errlen);
		if (fds[i] < 0)
			goto fail;
	}
	return fds;
fail:
	while (i-- > 0)
		if (!is_reused(fds[i], old, old_fds))
			close(fds[i]);
	free(fds);
	return NULL;
}

void listen_close_unused(const struct conf *old, const int *old_fds,
			 const struct conf *nc, const int *new_fds)
{
	unsigned i, j;

	for (i = 0; i < old->nlistens; i++) {
		bool kept = false;

		for (j = 0; j < nc->nlistens; j++)
			kept = kept || new_fds[j] == old_fds[i];
		if (!kept)
			close(old_fds[i]);
	}
}
