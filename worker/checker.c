/*
 * checker.c: probes that send a GET to each checked server on a timer
 * and judge the answer.
 *
 * A probe is a small state machine driven by its socket's events and by
 * one timer, which is both the wait until the next check and the bound of
 * the check in progress: the two never overlap. Helpers that can end a
 * check return P_DONE when they did; every check ends in probe_end(),
 * which closes the connection, records the result and arms the next one.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "log.h"
#include "conf.h"
#include "health.h"
#include "http_parse.h"
#include "proxy_protocol.h"
#include "conn.h"
#include "tls.h"
#include "checker.h"

/* A larger response head fails the check. */
#define CHECK_HEAD_MAX (8 * 1024)
/* Body bytes read at most; a body_regex sees these. */
#define CHECK_BODY_MAX (64 * 1024)

_Static_assert(CHECK_BODY_MAX >= CHECK_HEAD_MAX,
	       "a buffer sized for the body must also hold the head");

enum probe_state {
	PROBE_IDLE = 0,			/* waiting for the next check */
	PROBE_CONNECTING,
	PROBE_HANDSHAKE,		/* TLS upstreams */
	PROBE_SENDING,
	PROBE_HEAD,			/* reading the response head */
	PROBE_BODY			/* reading the body, kept or counted */
};

/* What a check was doing when its timeout struck. */
static const char *const probe_phase[] = {
	[PROBE_CONNECTING] = "connecting",
	[PROBE_HANDSHAKE] = "in the TLS handshake",
	[PROBE_SENDING] = "sending the request",
	[PROBE_HEAD] = "reading the response head",
	[PROBE_BODY] = "reading the response body",
};

struct probe {
	struct conn conn;
	struct ev_timer timer;		/* next check, or this one's timeout */
	const struct conf_upstream *up;
	const struct conf_server *srv;
	const struct conf_health_check *hc;
	struct health_peer *peer;
	enum probe_state state;

	/* The check in progress. */
	size_t sent;			/* request bytes written */
	char *buf;			/* the head, then the body when kept */
	size_t cap;
	size_t fill;			/* head bytes in buf */
	size_t scanned;			/* http_head_scan's progress */
	int status;			/* 0 until the head has parsed */
	uint8_t framing;		/* enum http_framing */
	uint64_t remaining;		/* HTTP_BODY_LENGTH: bytes still due */
	struct http_chunked chunked;
	size_t body;			/* body bytes seen, up to CHECK_BODY_MAX */

	/* Across checks. */
	unsigned passed, failed;	/* checks in a row */
	char reason[160];		/* why the last check failed */
};

static struct probe *probes;
static unsigned nprobes;
/* One serves every probe, since matches run one at a time; a pattern
 * with captures still reports a match with a single ovector pair. */
static pcre2_match_data *match_data;

static void probe_log(const struct probe *p, int level, const char *what,
		      const char *reason)
{
	log_msg(level, "upstream \"%s\" server %s %s%s", p->up->name, p->srv->address,
		what, reason);
}

static void count_pass(struct probe *p, uint64_t now)
{
	p->failed = 0;
	p->passed++;
	if (p->passed >= p->hc->rise && health_load(p->peer, check_down)) {
		health_set_check_down(p->peer, false, now);
		probe_log(p, LL_NOTICE, "is up again", "");
	}
}

/* Every failure is worth a line for whoever debugs a flapping server;
 * the change of state is what the operator must see. */
static void count_fail(struct probe *p, uint64_t now)
{
	p->passed = 0;
	p->failed++;
	probe_log(p, LL_INFO, "failed a health check: ", p->reason);
	if (p->failed >= p->hc->fall && !health_load(p->peer, check_down)) {
		health_set_check_down(p->peer, true, now);
		probe_log(p, LL_WARN, "is down: ", p->reason);
	}
}

static void probe_end(struct probe *p, bool passed)
{
	uint64_t now = ev_now();

	conn_close(&p->conn);
	p->state = PROBE_IDLE;
	health_record_check(p->peer, p->status, passed, now);
	if (passed)
		count_pass(p, now);
	else
		count_fail(p, now);
	ev_timer_set(&p->timer, p->hc->interval);
}

static int probe_fail(struct probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int probe_fail(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	probe_end(p, false);
	return P_DONE;
}

/* The status passed when the head parsed; the body is complete or cut
 * at CHECK_BODY_MAX. */
static int probe_judge(struct probe *p)
{
	const pcre2_code *re = p->hc->body_regex;
	char msg[120];
	int rc;

	if (re != NULL) {
		rc = pcre2_match(re, (PCRE2_SPTR)p->buf, p->body, 0, 0, match_data, NULL);
		if (rc == PCRE2_ERROR_NOMATCH)
			return probe_fail(p, "body does not match");
		if (rc < 0) {
			pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg));
			return probe_fail(p, "body regex failed: %s", msg);
		}
	}
	probe_end(p, true);
	return P_DONE;
}

/* Count body bytes and, when a regex will read them, keep them in one
 * run from the start of buf. data lies at or after that run's end. */
static void keep_body(struct probe *p, const char *data, size_t len)
{
	len = MIN(len, CHECK_BODY_MAX - p->body);
	if (p->hc->body_regex != NULL)
		memmove(p->buf + p->body, data, len);
	p->body += len;
}

/* Decoded in place: the payload is never longer than its coding. */
static int take_chunked(struct probe *p, const char *in, size_t n)
{
	while (p->body < CHECK_BODY_MAX) {
		struct slice data;
		size_t used;
		int r = http_chunked_decode(&p->chunked, in, n, &used, &data);

		in += used;
		n -= used;
		if (r == P_AGAIN)
			return P_AGAIN;
		if (r == P_DONE)
			return probe_judge(p);
		if (r == P_ERROR)
			return probe_fail(p, "invalid chunked body");
		keep_body(p, data.p, data.len);
	}
	return probe_judge(p);
}

/* n new body bytes at in. */
static int take_body(struct probe *p, const char *in, size_t n)
{
	if (p->framing == HTTP_BODY_CHUNKED)
		return take_chunked(p, in, n);
	if (p->framing == HTTP_BODY_LENGTH) {
		n = (size_t)MIN((uint64_t)n, p->remaining);
		p->remaining -= n;
	}
	keep_body(p, in, n);
	if ((p->framing == HTTP_BODY_LENGTH && p->remaining == 0) ||
	    p->body == CHECK_BODY_MAX)
		return probe_judge(p);
	return P_AGAIN;
}

static int take_head(struct probe *p)
{
	static const struct http_limits lim = {
		.max_request_line = CHECK_HEAD_MAX,
		.max_header_line = CHECK_HEAD_MAX,
		.max_head = CHECK_HEAD_MAX,
	};
	const struct conf_health_check *hc = p->hc;
	struct http_message msg;
	long end;
	size_t rest;

	end = http_head_scan(p->buf, p->fill, &p->scanned);
	if (end < 0)
		return probe_fail(p, "invalid bytes in the response head");
	if (end == 0) {
		if (p->fill >= CHECK_HEAD_MAX)
			return probe_fail(p, "response head over %d bytes", CHECK_HEAD_MAX);
		return P_AGAIN;
	}
	if (http_parse_response(p->buf, (size_t)end, &msg, &lim, HTTP_GET) != P_OK)
		return probe_fail(p, "invalid response head");
	p->status = msg.status;
	/* Known bad already: waiting for the body could only turn the
	 * reason into a timeout. */
	if (p->status < hc->status_min || p->status > hc->status_max)
		return probe_fail(p, "status %d", p->status);
	p->framing = msg.framing;
	p->remaining = msg.content_length;
	http_chunked_init(&p->chunked);
	p->state = PROBE_BODY;
	if (p->framing == HTTP_BODY_NONE)
		return probe_judge(p);
	rest = p->fill - (size_t)end;
	memmove(p->buf, p->buf + end, rest);
	return take_body(p, p->buf, rest);
}

static int end_of_stream(struct probe *p)
{
	if (p->state == PROBE_HEAD)
		return probe_fail(p, "connection closed %s the response head",
				  p->fill > 0 ? "within" : "before");
	if (p->framing != HTTP_BODY_EOF)
		return probe_fail(p, "response body cut short");
	return probe_judge(p);
}

static void receive(struct probe *p)
{
	for (;;) {
		char *in;
		size_t room;
		ssize_t n;
		int r;

		if (p->state == PROBE_HEAD) {
			in = p->buf + p->fill;
			room = CHECK_HEAD_MAX - p->fill;
		} else {
			/* An unkept body is counted and overwritten. */
			in = p->buf + (p->hc->body_regex != NULL ? p->body : 0);
			room = p->cap - (size_t)(in - p->buf);
		}
		n = conn_recv(&p->conn, in, room);
		if (n == P_AGAIN)
			return;
		if (n == P_ERROR) {
			probe_fail(p, "recv() failed: %s", strerror(p->conn.err));
			return;
		}
		if (n == P_DONE) {
			end_of_stream(p);
			return;
		}
		if (p->state == PROBE_HEAD) {
			p->fill += (size_t)n;
			r = take_head(p);
		} else {
			r = take_body(p, in, (size_t)n);
		}
		if (r == P_DONE)
			return;
	}
}

#define IOV_STR(s) ((struct iovec){ (void *)(s), strlen(s) })

/* The request is built from the configuration's strings each time it is
 * written, so nothing is formatted or kept per check. */
static void request_iov(const struct probe *p, struct iovec iov[5])
{
	iov[0] = IOV_STR("GET ");
	iov[1] = IOV_STR(p->hc->path);
	iov[2] = IOV_STR(" HTTP/1.0\r\nHost: ");
	iov[3] = IOV_STR(p->hc->host);
	iov[4] = IOV_STR("\r\nUser-Agent: portico-health-check\r\nConnection: close\r\n\r\n");
}

static int send_request(struct probe *p)
{
	struct iovec iov[5];
	ssize_t w;
	int i;

	for (;;) {
		request_iov(p, iov);
		i = iov_advance(iov, 5, p->sent);
		if (i == 5)
			break;
		w = conn_writev(&p->conn, iov + i, 5 - i);
		if (w == P_AGAIN)
			return P_AGAIN;
		if (w == P_ERROR)
			return probe_fail(p, "send() failed: %s", strerror(p->conn.err));
		p->sent += (size_t)w;
	}
	p->state = PROBE_HEAD;
	return P_OK;
}

/* A server that expects a PROXY protocol header gets one that says the
 * check is portico's own (v1 UNKNOWN, v2 LOCAL), as a balancer's health
 * checks do. The socket has just connected: the header goes out whole. */
static int send_proxy_local(struct probe *p)
{
	struct sockaddr none = { .sa_family = AF_UNSPEC };
	unsigned char head[PP_V1_MAX];
	size_t len;

	len = pp_write((enum pp_version)p->up->send_proxy_protocol, &none, &none, head,
		       sizeof(head));
	if (send(p->conn.io.fd, head, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		return probe_fail(p, "sending the PROXY protocol header failed: %s",
				  strerror(errno));
	return P_OK;
}

static int probe_connected(struct probe *p)
{
	int err = 0;
	socklen_t len = sizeof(err);
	SSL *ssl;

	if (!p->conn.io.writable)
		return P_AGAIN;
	if (getsockopt(p->conn.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
		return probe_fail(p, "connect() failed: %s", strerror(err));
	if (p->up->send_proxy_protocol != 0 && send_proxy_local(p) != P_OK)
		return P_DONE;		/* ended by probe_fail */
	p->state = PROBE_SENDING;
	if (p->up->tls == NULL)
		return P_OK;
	/* A check is one request on a new connection: no session to keep. */
	ssl = tls_upstream_ssl(p->up->tls, p->srv, NULL);
	if (ssl == NULL || conn_tls_attach(&p->conn, ssl) < 0)
		return probe_fail(p, "TLS setup failed: %s", tls_error_string("out of memory"));
	p->state = PROBE_HANDSHAKE;
	return P_OK;
}

static int probe_handshake(struct probe *p)
{
	int r = conn_handshake(&p->conn);

	if (r == P_AGAIN)
		return P_AGAIN;
	if (r != P_OK)
		return probe_fail(p, "TLS handshake failed: %s",
				  tls_handshake_error(p->conn.ssl, r == P_DONE ? "closed by the server"
									       : "connection error"));
	p->state = PROBE_SENDING;
	return P_OK;
}

static void probe_event(struct ev_io *io, uint32_t events)
{
	struct probe *p = container_of(io, struct probe, conn.io);

	(void)events;
	if (p->state == PROBE_CONNECTING && probe_connected(p) != P_OK)
		return;
	if (p->state == PROBE_HANDSHAKE && probe_handshake(p) != P_OK)
		return;
	if (p->state == PROBE_SENDING && send_request(p) != P_OK)
		return;
	if (p->state == PROBE_HEAD || p->state == PROBE_BODY)
		receive(p);
}

static void probe_begin(struct probe *p)
{
	const struct conf_server *srv = p->srv;
	int fd, one = 1;

	p->sent = p->fill = p->scanned = p->body = 0;
	p->status = 0;
	p->conn.err = 0;
	/* Readiness seen on the previous check's socket says nothing of
	 * this one's. */
	p->conn.io.readable = p->conn.io.writable = p->conn.io.hup = 0;
	p->state = PROBE_CONNECTING;
	fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		probe_fail(p, "socket() failed: %s", strerror(errno));
		return;
	}
	p->conn.io.fd = fd;
	if (srv->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		probe_fail(p, "connect() failed: %s", strerror(errno));
		return;
	}
	/* Output is watched from the start: it tells when the connect ends. */
	if (ev_add(&p->conn.io, true) < 0) {
		probe_fail(p, "epoll_ctl() failed: %s", strerror(errno));
		return;
	}
	ev_timer_set(&p->timer, p->hc->timeout);
}

static void probe_timer(struct ev_timer *t)
{
	struct probe *p = container_of(t, struct probe, timer);

	if (p->state == PROBE_IDLE)
		probe_begin(p);
	else
		probe_fail(p, "timed out %s", probe_phase[p->state]);
}

static int probe_init(struct probe *p, const struct conf_upstream *up,
		      const struct conf_server *srv, struct health_peer *peer)
{
	p->up = up;
	p->srv = srv;
	p->hc = up->health_check;
	p->peer = peer;
	p->conn.io.fd = -1;
	p->conn.io.cb = probe_event;
	p->timer.cb = probe_timer;
	/* Without a regex the body is only counted: room for the head is
	 * all a probe needs. */
	p->cap = p->hc->body_regex != NULL ? CHECK_BODY_MAX : CHECK_HEAD_MAX;
	p->buf = malloc(p->cap);
	return p->buf != NULL ? 0 : -1;
}

static void free_probes(void)
{
	unsigned i;

	for (i = 0; i < nprobes; i++)
		free(probes[i].buf);
	free(probes);
	probes = NULL;
	nprobes = 0;
	pcre2_match_data_free(match_data);
	match_data = NULL;
}

static unsigned count_checked(const struct conf *conf)
{
	unsigned i, n = 0;

	for (i = 0; i < conf->nupstreams; i++)
		if (conf->upstreams[i].health_check != NULL)
			n += conf->upstreams[i].nservers;
	return n;
}

int checker_start(const struct conf *conf, struct health_peer *const *peers)
{
	unsigned i, j, k = 0, n = count_checked(conf);

	if (n == 0)
		return 0;
	probes = calloc(n, sizeof(*probes));
	if (probes == NULL)
		return -1;
	nprobes = n;
	match_data = pcre2_match_data_create(1, NULL);
	if (match_data == NULL)
		goto nomem;
	for (i = 0; i < conf->nupstreams; i++) {
		const struct conf_upstream *up = &conf->upstreams[i];

		if (up->health_check == NULL)
			continue;
		for (j = 0; j < up->nservers; j++, k++)
			if (probe_init(&probes[k], up, &up->servers[j],
				       peers[up->servers[j].id]) < 0)
				goto nomem;
	}
	/* Spread the first checks over the interval, so that a reload does
	 * not send every server its probe in the same millisecond. */
	for (k = 0; k < n; k++)
		ev_timer_set(&probes[k].timer, (uint64_t)probes[k].hc->interval * k / n);
	return 0;

nomem:
	free_probes();
	errno = ENOMEM;
	return -1;
}

void checker_stop(void)
{
	unsigned i;

	/* The probes' memory stays: an event for one of them may still be
	 * due in this loop iteration (see struct ev_io). */
	for (i = 0; i < nprobes; i++) {
		ev_timer_del(&probes[i].timer);
		conn_close(&probes[i].conn);
		probes[i].state = PROBE_IDLE;
	}
}
