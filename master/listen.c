/*
 * listen.c: binding listeners and keeping them across reloads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "listen.h"

/* Address and port; what getsockname() fills beyond them may differ. */
static bool same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	if (a->ss_family == AF_UNIX)
		return strcmp(conf_unix_path(a), conf_unix_path(b)) == 0;
	return false;
}

/* ---- unix sockets ---- */

/*
 * A socket file left at the path: by a master that crashed (nothing
 * accepts on it, connect() is refused: it goes), or by a portico or
 * another program that runs (it stays, and we do not start). Anything
 * that is not a socket is nobody's to remove.
 */
static int clear_stale_socket(const struct conf_listen *l, char *err, size_t errlen)
{
	const char *path = conf_unix_path(&l->addr);
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "listen \"%s\": %s exists and is not a socket", l->name,
			 path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket() for %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		return -1;
	}
	r = connect(fd, (const struct sockaddr *)&l->addr, l->addrlen);
	e = errno;
	close(fd);
	if (r == 0 || e != ECONNREFUSED) {
		snprintf(err, errlen, "listen \"%s\": %s is in use: %s", l->name, path,
			 r == 0 ? "something accepts connections on it (is portico already "
				  "running?)" : strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "removing the stale socket %s failed (%d: %s)", path, errno,
			 strerror(errno));
		return -1;
	}
	log_msg(LL_NOTICE, "listen \"%s\": removed the stale socket %s", l->name, path);
	return 0;
}

/* Whether path is a socket file (not a symlink to one, nor anything
 * else put in its place by whoever may write its directory). */
static bool socket_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Who may connect is who may write the file; the master sets it while
 * root, before the socket listens. Also applied again to a socket kept
 * over a reload, so that a changed mode takes effect. Never through a
 * symlink: root must not change the mode or owner of what one points at. */
static int set_permissions(const struct conf_listen *l, char *err, size_t errlen)
{
	const char *path = conf_unix_path(&l->addr);

	if (!socket_file(path)) {
		snprintf(err, errlen, "listen \"%s\": %s is no longer a socket (replaced by "
			 "something else?)", l->name, path);
		return -1;
	}
	if (fchmodat(AT_FDCWD, path, (mode_t)l->mode, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "chmod(\"%s\", %04o) failed (%d: %s)", path, l->mode, errno,
			 strerror(errno));
		return -1;
	}
	if ((l->owner != NULL || l->group != NULL) &&
	    lchown(path, l->owner != NULL ? l->uid : (uid_t)-1,
		   l->group != NULL ? l->gid : (gid_t)-1) < 0) {
		snprintf(err, errlen, "chown(\"%s\") to %s:%s failed (%d: %s)", path,
			 l->owner ? l->owner : "-", l->group ? l->group : "-", errno,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static bool is_unix(const struct conf_listen *l)
{
	return l->addr.ss_family == AF_UNIX;
}

static void remove_socket_file(const struct conf_listen *l)
{
	const char *path = conf_unix_path(&l->addr);

	if (socket_file(path) && unlink(path) < 0 && errno != ENOENT)
		log_errno(LL_ERROR, errno, "listen \"%s\": removing %s failed", l->name, path);
}

void listen_remove_files(const struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nlistens; i++)
		if (is_unix(&c->listens[i]))
			remove_socket_file(&c->listens[i]);
}

/* Close a socket open_one() bound, its file with it. */
static void close_one(const struct conf_listen *l, int fd)
{
	close(fd);
	if (is_unix(l))
		remove_socket_file(l);
}

static int open_one(const struct conf_listen *l, char *err, size_t errlen)
{
	int fd, one = 1;

	if (is_unix(l) && clear_stale_socket(l, err, errlen) < 0)
		return -1;
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket() for %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		return -1;
	}
	if (!is_unix(l))
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:80" means IPv6 only, so it can sit beside "0.0.0.0:80". */
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0) {
		snprintf(err, errlen, "bind() to %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (is_unix(l) && set_permissions(l, err, errlen) < 0) {
		close_one(l, fd);
		return -1;
	}
	if (listen(fd, l->backlog) < 0) {
		snprintf(err, errlen, "listen() on %s failed (%d: %s)", l->address, errno,
			 strerror(errno));
		close_one(l, fd);
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
		if (same_sockaddr(&l->addr, &old->listens[i].addr))
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
		const struct conf_listen *l = &nc->listens[i];

		fds[i] = find_reusable(l, old, old_fds);
		if (fds[i] >= 0) {
			if (is_unix(l) && set_permissions(l, err, errlen) < 0)
				goto fail;
			continue;
		}
		fds[i] = open_one(l, err, errlen);
		if (fds[i] < 0)
			goto fail;
	}
	return fds;
fail:
	while (i-- > 0)
		if (!is_reused(fds[i], old, old_fds))
			close_one(&nc->listens[i], fds[i]);
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
			close_one(&old->listens[i], old_fds[i]);
	}
}

/* One inherited descriptor, checked: it must be a listening stream
 * socket (TCP or unix), or a stray number in the variable could have us
 * accept() on anything. */
static int adopt_inherited(const char *text, struct inherited *in)
{
	int fd, listening = 0, type = 0;
	socklen_t len = sizeof(listening);
	char *end;

	errno = 0;
	fd = (int)strtol(text, &end, 10);
	if (errno != 0 || end == text || (*end != ';' && *end != '\0') || fd <= STDERR_FILENO)
		return -1;
	in->fd = fd;
	in->len = sizeof(in->addr);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
		return -1;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    getsockname(fd, (struct sockaddr *)&in->addr, &in->len) < 0)
		return -1;
	/* Ours now: not for whatever this master execs later. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

unsigned listen_parse_inherited(const char *spec, struct inherited *out, unsigned max)
{
	const char *p = spec;
	unsigned n = 0;

	while (p != NULL && *p != '\0' && n < max) {
		if (adopt_inherited(p, &out[n]) == 0)
			n++;
		else
			log_msg(LL_ERROR, "ignoring inherited socket \"%.*s\": not a listening "
				"stream socket", (int)strcspn(p, ";"), p);
		p = strchr(p, ';');
		if (p != NULL)
			p++;
	}
	return n;
}

static bool was_inherited(int fd, const struct inherited *in, unsigned nin)
{
	unsigned j;

	for (j = 0; j < nin; j++)
		if (in[j].taken && in[j].fd == fd)
			return true;
	return false;
}

int *listen_take_inherited(const struct conf *c, struct inherited *in, unsigned nin,
			   char *err, size_t errlen)
{
	int *fds = calloc(c->nlistens ? c->nlistens : 1, sizeof(*fds));
	unsigned i, j;

	if (fds == NULL) {
		snprintf(err, errlen, "out of memory for listeners");
		return NULL;
	}
	for (i = 0; i < c->nlistens; i++) {
		fds[i] = -1;
		for (j = 0; j < nin && fds[i] < 0; j++) {
			if (!in[j].taken && same_sockaddr(&in[j].addr, &c->listens[i].addr)) {
				fds[i] = in[j].fd;
				in[j].taken = true;
			}
		}
		if (fds[i] < 0 && (fds[i] = open_one(&c->listens[i], err, errlen)) < 0)
			break;
	}
	/* What the new configuration does not listen on any more. Its
	 * socket files stay: the old master may still be serving on them. */
	for (j = 0; j < nin; j++)
		if (!in[j].taken || i < c->nlistens)
			close(in[j].fd);
	if (i == c->nlistens)
		return fds;
	while (i-- > 0)
		if (!was_inherited(fds[i], in, nin))
			close_one(&c->listens[i], fds[i]);
	free(fds);
	return NULL;
}
