/*
 * idleconns: hold many idle keep-alive HTTP/1.1 client connections open.
 *
 *     idleconns HOST PORT COUNT PATH
 *
 * Opens COUNT connections to HOST:PORT one after the other; on each it sends
 * one "GET PATH" request and reads the whole response (Content-Length
 * framing), then leaves the connection open and idle. Prints
 *
 *     opened OK FAILED SECONDS
 *
 * on stdout, then waits for a line (or end of file) on stdin. Then it checks
 * which connections the server has closed meanwhile, prints
 *
 *     alive ALIVE CLOSED
 *
 * closes them all and exits. bench/run compiles and drives it; the caller
 * raises the file descriptor limit (COUNT + a few are needed).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One request, one complete response; 0 when it was a 200 read in full. */
static int one_request(int fd, const char *req, size_t reqlen)
{
	char buf[16384];
	size_t have = 0, off = 0;
	ssize_t n;
	long clen = -1;
	char *end = NULL;
	int status = 0;

	while (off < reqlen) {
		n = write(fd, req + off, reqlen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
	}
	for (;;) {
		if (have == sizeof(buf) - 1)
			return -1;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += n;
		buf[have] = '\0';
		if (!end) {
			end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
				return -1;
			for (char *p = strstr(buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
				if (strncasecmp(p + 2, "content-length:", 15) == 0)
					clen = strtol(p + 17, NULL, 10);
			if (clen < 0)
				return -1; /* the benchmark file always has a length */
		}
		if ((long)(have - (end + 4 - buf)) >= clen)
			return status == 200 ? 0 : -1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int count, *fds, ok = 0, failed = 0, alive = 0, closed = 0;
	char req[1024], line[256];
	size_t reqlen;
	double t0;

	if (argc != 5) {
		fprintf(stderr, "usage: idleconns HOST PORT COUNT PATH\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "idleconns: bad IPv4 address %s\n", argv[1]);
		return 2;
	}
	count = atoi(argv[3]);
	fds = calloc(count > 0 ? count : 1, sizeof(*fds));
	if (!fds)
		return 1;
	reqlen = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: idleconns\r\n\r\n",
	    argv[4], argv[1], argv[2]);

	t0 = now();
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

		fds[i] = -1;
		if (fd < 0) {
			if (failed++ == 0)
				perror("idleconns: socket");
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (failed++ == 0)
				perror("idleconns: connect");
			close(fd);
			continue;
		}
		if (one_request(fd, req, reqlen) < 0) {
			if (failed++ == 0)
				fprintf(stderr, "idleconns: connection %d: no complete 200 response\n", i);
			close(fd);
			continue;
		}
		fds[i] = fd;
		ok++;
	}
	printf("opened %d %d %.2f\n", ok, failed, now() - t0);
	fflush(stdout);

	/* Wait to be told to go on. */
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';

	for (int i = 0; i < count; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN | POLLRDHUP };
		char c;

		if (fds[i] < 0)
			continue;
		/* Idle and open: nothing to read. Closed: readable, EOF or error. */
		if (poll(&p, 1, 0) == 0 ||
		    (!(p.revents & (POLLRDHUP | POLLHUP | POLLERR)) &&
		     recv(fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0))
			alive++;
		else
			closed++;
		close(fds[i]);
	}
	printf("alive %d %d\n", alive, closed);
	fflush(stdout);
	free(fds);
	return 0;
}
