/*
 * relay: the least work a user-space proxy can do per request, as a floor
 * for the CPU figures of bench/run.
 *
 *     relay LISTEN_PORT BACKEND_PORT
 *
 * Listens on 127.0.0.1:LISTEN_PORT. Each client connection gets a
 * connection of its own to 127.0.0.1:BACKEND_PORT, and bytes go through
 * unchanged both ways: one recv() and one send() per message, one epoll
 * loop, no parsing, no headers added, no timers. Whatever CPU it uses per
 * request is kernel work that any proxy built on epoll and TCP sockets must
 * also do (two receives and two sends per request), plus the cost of
 * waiting for events. It is not a proxy: no HTTP, no error handling beyond
 * closing both sides, no partial writes (the bench's messages are small).
 * bench/run compiles and starts it when FLOOR=1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct end {
	int fd;
	struct end *peer;
};

static int ep;
static char buf[65536];

static void watch(struct end *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, e->fd, &ev) < 0) {
		perror("relay: epoll_ctl");
		exit(1);
	}
}

static int backend_socket(const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	/* A blocking connect keeps the loop simple; it happens once per
	 * client connection, outside the measured steady state. */
	if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		perror("relay: connect to the backend");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void accept_one(int lfd, const struct sockaddr_in *backend)
{
	struct end *c, *s;
	int cfd, sfd, one = 1;

	cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	sfd = backend_socket(backend);
	c = malloc(sizeof(*c));
	s = malloc(sizeof(*s));
	if (sfd < 0 || c == NULL || s == NULL) {
		close(cfd);
		if (sfd >= 0)
			close(sfd);
		free(c);
		free(s);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = cfd;
	s->fd = sfd;
	c->peer = s;
	s->peer = c;
	watch(c, EPOLLIN | EPOLLRDHUP | EPOLLET);
	watch(s, EPOLLIN | EPOLLRDHUP | EPOLLET);
}

/* Edge-triggered: read until a short read says the socket is drained. The
 * pair's memory is leaked on close: the bench closes connections only at
 * the end of a run. */
static void forward(struct end *e)
{
	for (;;) {
		ssize_t n = recv(e->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			send(e->peer->fd, buf, (size_t)n, MSG_NOSIGNAL);
			if ((size_t)n < sizeof(buf))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(e->fd);
		close(e->peer->fd);
		e->fd = e->peer->fd = -1;
		return;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in self = { .sin_family = AF_INET }, backend;
	struct end listener;
	int one = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: relay LISTEN_PORT BACKEND_PORT\n");
		return 2;
	}
	self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	backend = self;
	self.sin_port = htons((uint16_t)atoi(argv[1]));
	backend.sin_port = htons((uint16_t)atoi(argv[2]));
	listener.fd = socket(AF_INET, SOCK_STREAM, 0);
	listener.peer = NULL;
	setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener.fd, (struct sockaddr *)&self, sizeof(self)) < 0 ||
	    listen(listener.fd, 4096) < 0) {
		perror("relay: bind");
		return 1;
	}
	ep = epoll_create1(0);
	watch(&listener, EPOLLIN);
	for (;;) {
		struct epoll_event events[256];
		int n = epoll_wait(ep, events, 256, -1), i;

		for (i = 0; i < n; i++) {
			struct end *e = events[i].data.ptr;

			if (e == &listener)
				accept_one(listener.fd, &backend);
			else if (e->fd >= 0)
				forward(e);
		}
	}
}
