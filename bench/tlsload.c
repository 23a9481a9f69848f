/*
 * tlsload: full TLS handshakes per second, one request per connection.
 *
 *     tlsload [-c CONNS] [-d SECONDS] [-2] [-j PROCS] [-p PATH] [-n NAME] [-t TIMEOUT] HOST PORT
 *
 * Keeps CONNS [64] connections to HOST:PORT (IPv4) busy for SECONDS [10]:
 * each loops connect, full TLS handshake (TLS 1.3 only, or TLS 1.2 only
 * with -2), one "GET PATH [/1k.html]" with "Connection: close", the whole
 * response read (Content-Length, chunked or up to the end), then the
 * server's close awaited, and the socket closed. No session is ever
 * offered: every SSL object is new and no session is set on it, so every
 * handshake is a full one (the client cannot resume). The certificate is
 * not verified (the handshake still checks the server's signature).
 * NAME [HOST] is sent as SNI and in Host.
 *
 * One epoll loop, non-blocking sockets; -j PROCS [1] forks PROCS processes
 * that share the CONNS connections (for a machine where one client CPU
 * cannot keep the proxy busy) and merges their results. Prints one line
 * on stdout:
 *
 *     done N secs S rate R errors E p50 MS p99 MS tickets T proto P cipher C group G late L
 *
 * N requests completed (= full handshakes) in S seconds (R a second),
 * E failed connections (connect, handshake, request or response, timeout,
 * a status other than 200), latency percentiles in ms (connect to the
 * end of the response), T session tickets (sessions) the server issued
 * per connection, what the first handshake negotiated, and L connections
 * that failed after their response was complete (not errors: a reset
 * instead of a clean close). The first error of each kind goes to stderr.
 * Connections still in flight at the end are not counted. bench/tls
 * compiles and drives it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum state { ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_READ, ST_DRAIN };

struct conn {
	int fd;
	SSL *ssl;
	enum state st;
	double start, deadline;
	size_t sent, have;
	char buf[8192];
	size_t head_len;	/* 0 until the head is complete */
	long clen;		/* -1: none given */
	int chunked, status;
};

static struct {
	struct sockaddr_in sa;
	SSL_CTX *ctx;
	int ep;
	const char *name;
	char req[1024];
	size_t reqlen;
	double timeout, secs;
	long done, errors, late, tickets, handshakes;
	double *lat;
	size_t nlat, caplat;
	char proto[32], cipher[64], group[32];
	int reported[8];
} g;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One failed connection: counted, and its kind reported once. */
static void fail(int kind, const char *what, const char *detail)
{
	g.errors++;
	if (kind < 8 && !g.reported[kind]++)
		fprintf(stderr, "tlsload: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

static const char *ssl_error(SSL *ssl, int r)
{
	static char msg[256];
	int e = SSL_get_error(ssl, r);
	unsigned long q = ERR_get_error();

	if (q != 0)
		ERR_error_string_n(q, msg, sizeof(msg));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(msg, sizeof(msg), "%s", errno ? strerror(errno) : "unexpected end of file");
	else
		snprintf(msg, sizeof(msg), "SSL error %d", e);
	ERR_clear_error();
	return msg;
}

/* Counts the sessions (TLS 1.3 tickets) the server gives; keeps none. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	g.tickets++;
	return 0;
}

static void conn_close(struct conn *c);

/* After an SSL call returned r <= 0: 1 when it would block; otherwise
 * counts the failure of the given kind, closes and returns 0. */
static int ssl_wait(struct conn *c, int r, int kind, const char *what)
{
	int err = SSL_get_error(c->ssl, r);

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return 1;
	fail(kind, what, ssl_error(c->ssl, r));
	conn_close(c);
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
	int one = 1;

	c->st = ST_CONNECT;
	c->start = now();
	c->deadline = c->start + g.timeout;
	c->sent = c->have = c->head_len = 0;
	c->clen = -1;
	c->chunked = c->status = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(0, "socket", strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&g.sa, sizeof(g.sa)) < 0 && errno != EINPROGRESS) {
		fail(1, "connect", strerror(errno));
		conn_close(c);
		return;
	}
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		fail(0, "epoll_ctl", strerror(errno));
		conn_close(c);
	}
}

/* 1 when the response in c->buf is complete; parses the head once. */
static int response_complete(struct conn *c, int eof)
{
	char *end, *p;

	if (c->head_len == 0) {
		c->buf[c->have] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
		if (!end)
			return eof ? -1 : 0;
		c->head_len = end + 4 - c->buf;
		if (sscanf(c->buf, "HTTP/1.%*d %d", &c->status) != 1)
			return -1;
		for (p = strstr(c->buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
			if (strncasecmp(p + 2, "content-length:", 15) == 0)
				c->clen = strtol(p + 17, NULL, 10);
			else if (strncasecmp(p + 2, "transfer-encoding:", 18) == 0 &&
				 strstr(p + 20, "chunked") != NULL &&
				 strstr(p + 20, "chunked") < strstr(p + 2, "\r\n"))
				c->chunked = 1;
		}
	}
	if (c->chunked) {
		/* The last chunk; the body is kept whole, it is small. */
		c->buf[c->have] = '\0';
		if (strstr(c->buf + c->head_len - 2, "\r\n0\r\n\r\n"))
			return 1;
		return eof ? -1 : 0;
	}
	if (c->clen >= 0)
		return (long)(c->have - c->head_len) >= c->clen ? 1 : (eof ? -1 : 0);
	return eof ? 1 : 0;	/* delimited by the close */
}

static void record(struct conn *c)
{
	if (g.nlat == g.caplat) {
		g.caplat = g.caplat ? 2 * g.caplat : 65536;
		g.lat = realloc(g.lat, g.caplat * sizeof(*g.lat));
		if (!g.lat) {
			perror("tlsload: realloc");
			exit(1);
		}
	}
	g.lat[g.nlat++] = now() - c->start;
	g.done++;
}

/* Drives one connection as far as it goes; returns when it would block. */
static void conn_run(struct conn *c)
{
	int r, err, fin;
	socklen_t len = sizeof(err);

	for (;;) {
		switch (c->st) {
		case ST_CONNECT:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
				if (err == 0)
					err = errno;
				fail(1, "connect", strerror(err));
				conn_close(c);
				return;
			}
			c->ssl = SSL_new(g.ctx);
			if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
				fail(0, "SSL_new", ssl_error(c->ssl, 0));
				conn_close(c);
				return;
			}
			SSL_set_tlsext_host_name(c->ssl, g.name);
			SSL_set_connect_state(c->ssl);
			c->st = ST_HANDSHAKE;
			break;
		case ST_HANDSHAKE:
			ERR_clear_error();
			r = SSL_do_handshake(c->ssl);
			if (r != 1) {
				ssl_wait(c, r, 2, "handshake");
				return;
			}
			g.handshakes++;
			if (g.proto[0] == '\0') {
				int nid = SSL_get_negotiated_group(c->ssl);

				snprintf(g.proto, sizeof(g.proto), "%s", SSL_get_version(c->ssl));
				snprintf(g.cipher, sizeof(g.cipher), "%s", SSL_get_cipher_name(c->ssl));
				snprintf(g.group, sizeof(g.group), "%s",
					 nid > 0 ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : "-");
			}
			c->st = ST_WRITE;
			break;
		case ST_WRITE:
			ERR_clear_error();
			r = SSL_write(c->ssl, g.req + c->sent, (int)(g.reqlen - c->sent));
			if (r <= 0) {
				ssl_wait(c, r, 3, "request");
				return;
			}
			c->sent += r;
			if (c->sent == g.reqlen)
				c->st = ST_READ;
			break;
		case ST_READ:
			if (c->have == sizeof(c->buf) - 1) {
				fail(4, "response", "larger than the buffer");
				conn_close(c);
				return;
			}
			ERR_clear_error();
			r = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - 1 - c->have));
			fin = 0;
			if (r <= 0) {
				if (SSL_get_error(c->ssl, r) != SSL_ERROR_ZERO_RETURN) {
					ssl_wait(c, r, 4, "response");
					return;
				}
				fin = 1;
			} else {
				c->have += r;
			}
			r = response_complete(c, fin);
			if (r < 0 || (r > 0 && c->status != 200)) {
				char what[64];

				snprintf(what, sizeof(what), "status %d", c->status);
				fail(5, "response", r < 0 ? "incomplete or malformed" : what);
				conn_close(c);
				return;
			}
			if (r == 0)
				break;
			record(c);
			if (fin) {
				conn_close(c);
				return;
			}
			c->st = ST_DRAIN;
			break;
		case ST_DRAIN:
			/* Wait for the server's close, so that the TIME_WAIT
			 * stays on its side and no data is left unread. */
			ERR_clear_error();
			r = SSL_read(c->ssl, c->buf, sizeof(c->buf));
			if (r > 0)
				break;
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return;
			if (err != SSL_ERROR_ZERO_RETURN)
				g.late++;
			conn_close(c);
			return;
		}
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	size_t i;

	if (g.nlat == 0)
		return 0;
	i = (size_t)(p / 100 * g.nlat);
	return g.lat[i < g.nlat ? i : g.nlat - 1] * 1000;
}

static void usage(void)
{
	fprintf(stderr, "usage: tlsload [-c CONNS] [-d SECONDS] [-2] [-j PROCS] [-p PATH] "
		"[-n NAME] [-t TIMEOUT] HOST PORT\n");
	exit(2);
}

/* The load itself: nconns connections for secs seconds; fills g. */
static void run(int nconns, double secs, int tls12)
{
	struct epoll_event evs[256];
	struct conn *conns;
	double t0, end, next_sweep;

	g.ctx = SSL_CTX_new(TLS_client_method());
	if (!g.ctx) {
		fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
		exit(1);
	}
	SSL_CTX_set_min_proto_version(g.ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(g.ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
	/* A server that closes without close_notify has still answered. */
	SSL_CTX_set_options(g.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Sessions are counted as they come and dropped: never offered. */
	SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_CLIENT |
					      SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(g.ctx, new_session);

	g.ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc(nconns, sizeof(*conns));
	if (g.ep < 0 || !conns) {
		perror("tlsload");
		exit(1);
	}
	t0 = now();
	end = t0 + secs;
	next_sweep = t0 + 0.1;
	for (int i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conn_open(&conns[i]);
	}
	for (;;) {
		double t = now();
		int n, ms = (int)((end - t) * 1000) + 1;

		if (t >= end)
			break;
		n = epoll_wait(g.ep, evs, 256, ms < 100 ? ms : 100);
		if (n < 0 && errno != EINTR) {
			perror("tlsload: epoll_wait");
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->fd >= 0)
				conn_run(c);
		}
		/* Reopen what closed; time out what hangs. */
		t = now();
		for (int i = 0; i < nconns && t < end; i++) {
			struct conn *c = &conns[i];

			if (c->fd >= 0 && t >= next_sweep && t > c->deadline) {
				fail(6, "timeout", c->st == ST_DRAIN ? "waiting for the close"
					: c->st == ST_HANDSHAKE ? "in the handshake" : "in the request");
				conn_close(c);
			}
			if (c->fd < 0)
				conn_open(c);
		}
		if (t >= next_sweep)
			next_sweep = t + 0.1;
	}
	g.secs = now() - t0;
	for (int i = 0; i < nconns; i++)
		conn_close(&conns[i]);
	SSL_CTX_free(g.ctx);
	free(conns);
}

/* What a child process sends its parent: its counters, then its latencies. */
struct result {
	long done, errors, late, tickets, handshakes;
	size_t nlat;
	double secs;
	char proto[32], cipher[64], group[32];
};

static int full_io(int fd, void *buf, size_t len, int out)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void send_result(int fd)
{
	struct result r = { g.done, g.errors, g.late, g.tickets, g.handshakes, g.nlat, g.secs,
			    "", "", "" };

	memcpy(r.proto, g.proto, sizeof(r.proto));
	memcpy(r.cipher, g.cipher, sizeof(r.cipher));
	memcpy(r.group, g.group, sizeof(r.group));
	if (full_io(fd, &r, sizeof(r), 1) < 0 ||
	    (g.nlat && full_io(fd, g.lat, g.nlat * sizeof(*g.lat), 1) < 0))
		exit(1);
}

/* A child's result added to g; 0 when it came whole. */
static int add_result(int fd)
{
	struct result r;

	if (full_io(fd, &r, sizeof(r), 0) < 0)
		return -1;
	g.done += r.done;
	g.errors += r.errors;
	g.late += r.late;
	g.tickets += r.tickets;
	g.handshakes += r.handshakes;
	if (r.secs > g.secs)
		g.secs = r.secs;
	if (g.proto[0] == '\0') {
		memcpy(g.proto, r.proto, sizeof(g.proto));
		memcpy(g.cipher, r.cipher, sizeof(g.cipher));
		memcpy(g.group, r.group, sizeof(g.group));
	}
	g.lat = realloc(g.lat, (g.nlat + r.nlat + 1) * sizeof(*g.lat));
	if (!g.lat || (r.nlat && full_io(fd, g.lat + g.nlat, r.nlat * sizeof(*g.lat), 0) < 0))
		return -1;
	g.nlat += r.nlat;
	return 0;
}

/* procs processes share the nconns connections; their results are merged. */
static int run_procs(int procs, int nconns, double secs, int tls12)
{
	int fds[procs], failed = 0;
	pid_t pids[procs];

	if (procs == 1) {
		run(nconns, secs, tls12);
		return 0;
	}
	fflush(NULL);
	for (int i = 0; i < procs; i++) {
		int p[2];

		if (pipe(p) < 0 || (pids[i] = fork()) < 0) {
			perror("tlsload: fork");
			exit(1);
		}
		if (pids[i] == 0) {
			close(p[0]);
			run(nconns / procs + (i < nconns % procs), secs, tls12);
			send_result(p[1]);
			_exit(0);
		}
		close(p[1]);
		fds[i] = p[0];
	}
	for (int i = 0; i < procs; i++) {
		int st;

		if (add_result(fds[i]) < 0)
			failed++;
		close(fds[i]);
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	if (failed)
		fprintf(stderr, "tlsload: %d of %d processes failed\n", failed, procs);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	int nconns = 64, procs = 1, opt, tls12 = 0;
	double secs = 10;
	const char *path = "/1k.html";

	g.timeout = 10;
	while ((opt = getopt(argc, argv, "c:d:2p:n:t:j:")) != -1) {
		switch (opt) {
		case 'c': nconns = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case '2': tls12 = 1; break;
		case 'p': path = optarg; break;
		case 'n': g.name = optarg; break;
		case 't': g.timeout = atof(optarg); break;
		case 'j': procs = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || nconns < 1 || secs <= 0 || g.timeout <= 0 ||
	    procs < 1 || procs > nconns || procs > 256)
		usage();
	memset(&g.sa, 0, sizeof(g.sa));
	g.sa.sin_family = AF_INET;
	g.sa.sin_port = htons(atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &g.sa.sin_addr) != 1) {
		fprintf(stderr, "tlsload: bad IPv4 address %s\n", argv[optind]);
		return 2;
	}
	if (!g.name)
		g.name = argv[optind];
	g.reqlen = snprintf(g.req, sizeof(g.req),
	    "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: tlsload\r\nConnection: close\r\n\r\n",
	    path, g.name, argv[optind + 1]);

	if (run_procs(procs, nconns, secs, tls12) < 0)
		return 1;
	qsort(g.lat, g.nlat, sizeof(*g.lat), cmp);
	printf("done %ld secs %.3f rate %.1f errors %ld p50 %.3f p99 %.3f tickets %.2f "
	       "proto %s cipher %s group %s late %ld\n",
	       g.done, g.secs, g.secs > 0 ? g.done / g.secs : 0.0, g.errors, pct(50), pct(99),
	       g.handshakes ? (double)g.tickets / g.handshakes : 0.0,
	       g.proto[0] ? g.proto : "-", g.cipher[0] ? g.cipher : "-",
	       g.group[0] ? g.group : "-", g.late);
	free(g.lat);
	return 0;
}
