/*
 * session.c: the HTTP/1.1 client connection.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "cidr.h"
#include "log.h"
#include "proxy_protocol.h"
#include "tls.h"
#include "exchange.h"
#include "router.h"
#include "session.h"

/* How long an idle keep-alive connection may still send a request once
 * its worker stops gracefully. */
#define QUIT_IDLE_GRACE_MS 1000

/* How long a closing connection drains what the client still sends. */
#define LINGER_MS 2000

static const struct worker_ctx *ctx;
static struct session *open_sessions;
static unsigned open_count;
static struct session *session_free;
/* Per listener: the context a TLS handshake starts with, its default
 * site's, whose certificate a client without SNI gets. */
static SSL_CTX **listener_ctx;
/* Whether an upstream sends PROXY protocol headers: only then is the
 * address each client connected to worth asking the kernel for. */
static bool local_wanted;

static void session_run(struct ev_task *t);
static void session_timeout(struct ev_timer *t);

unsigned session_count(void)
{
	return open_count;
}

static void session_log(const struct session *s, int level, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void session_log(const struct session *s, int level, int err, const char *fmt, ...)
{
	char msg[1024], cause[128] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(cause, sizeof(cause), " (%d: %s)", err, strerror(err));
	log_msg(level, "%s%s, client: %s", msg, cause, s->peer);
}

static bool session_is_tls(const struct session *s)
{
	return s->client.ssl != NULL;
}

/* ---- life ---- */

static void session_close(struct session *s, const char *reason)
{
	log_msg(LL_DEBUG, "close client %s: %s", s->peer, reason);
	if (s->x != NULL) {
		exchange_free(s->x);
		s->x = NULL;
	}
	ev_cancel(&s->task);
	ev_timer_del(&s->timer);
	conn_close(&s->client);
	free(s->client_subject);
	s->client_subject = NULL;
	buf_put(s->in);
	s->in = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		open_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	open_count--;
	STATS_ADD(ctx->stats, g.connections_open, -1);
	if (ctx->stats->layout != NULL)
		STATS_ADD((struct stats_listen_vals *)stats_slot(ctx->stats, STATS_LISTEN,
								   (unsigned)s->listen->index),
			  open, -1);
	/* Stays in the free list, never freed: see struct ev_io. */
	s->next = session_free;
	session_free = s;
}

static struct session *session_alloc(void)
{
	struct session *s = session_free;

	if (s != NULL)
		session_free = s->next;
	else if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	return s;
}

/* Events of the connection go to its exchange while there is one. */
static void client_event(struct ev_io *io, uint32_t events)
{
	struct session *s = (struct session *)io;

	(void)events;
	ev_post(s->state == SS_EXCHANGE ? &s->x->task : &s->task);
}

/* The client is at sa: for the logs, the access rules and the limits.
 * A unix socket's client has no address: it is "unix:", as in nginx. */
static void set_peer(struct session *s, const struct sockaddr *sa)
{
	s->addrless = sa->sa_family == AF_UNIX;
	if (s->addrless)
		snprintf(s->peer, sizeof(s->peer), CONF_UNIX_PREFIX);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
			  s->peer, sizeof(s->peer));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  s->peer, sizeof(s->peer));
	cidr_addr_of(sa, s->peer_bin);
	s->peer_port = (uint16_t)cidr_port_of(sa);
}

static void set_local(struct session *s, const struct sockaddr *sa)
{
	cidr_addr_of(sa, s->local_bin);
	s->local_port = (uint16_t)cidr_port_of(sa);
}

static void remember_local(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(s->client.io.fd, (struct sockaddr *)&ss, &len) == 0)
		set_local(s, (struct sockaddr *)&ss);
}

/* How long a connection that has sent no request yet may take over a
 * step: timeout, or in a stopping worker the short grace of idle
 * connections (session_quit_all), so that it does not hold the worker. */
static unsigned before_request(unsigned timeout)
{
	return ctx->quitting ? MIN(timeout, QUIT_IDLE_GRACE_MS) : timeout;
}

/* Ready for the first request, after the accept, the PROXY protocol
 * header or the TLS handshake. */
static void await_request(struct session *s)
{
	s->state = SS_IDLE;
	ev_timer_set(&s->timer, before_request(ctx->conf->client_header_timeout));
	ev_post(&s->task);
}

/* The first step after the accept, or after the PROXY protocol header
 * (whose bytes may have brought the ClientHello's or the request's). */
static void start_client(struct session *s)
{
	if (!s->listen->tls) {
		await_request(s);
		return;
	}
	s->state = SS_HANDSHAKE;
	ev_timer_set(&s->timer, before_request(ctx->conf->tls_handshake_timeout));
	ev_post(&s->task);
}

void session_accept(int fd, const struct conf_listen *lst,
		    const struct sockaddr *peer)
{
	struct session *s;
	int one = 1;

	s = session_alloc();
	if (s == NULL) {
		log_msg(LL_ERROR, "out of memory accepting a connection");
		close(fd);
		return;
	}
	s->client.io.fd = fd;
	s->client.io.cb = client_event;
	s->task.cb = session_run;
	/* A TLS client's first bytes, and a PROXY protocol header, are
	 * awaited from epoll (the socket is reported at once if they are
	 * there): until they come, a TLS client costs no TLS state. */
	s->client.io.readable = !lst->tls && !lst->proxy_protocol;
	s->client.io.writable = 1;
	s->listen = lst;
	s->timer.cb = session_timeout;
	set_peer(s, peer);
	if (local_wanted && !s->addrless)
		remember_local(s);
	if (!s->addrless)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	s->next = open_sessions;
	if (open_sessions)
		open_sessions->prev = s;
	open_sessions = s;
	open_count++;
	STATS_ADD(ctx->stats, c.connections, 1);
	STATS_ADD(ctx->stats, g.connections_open, 1);
	if (ctx->stats->layout != NULL) {
		struct stats_listen_vals *lv = (struct stats_listen_vals *)
			stats_slot(ctx->stats, STATS_LISTEN, (unsigned)lst->index);

		STATS_ADD(lv, accepted, 1);
		STATS_ADD(lv, open, 1);
	}

	if (ev_add(&s->client.io, false) < 0) {
		log_errno(LL_ALERT, errno, "epoll_ctl(ADD) of a client failed");
		session_close(s, "epoll_ctl failed");
		return;
	}
	if (!lst->proxy_protocol) {
		start_client(s);
		return;
	}
	/* Only a trusted balancer may say who the client is. */
	if (!cidr_list_match(lst->proxy_protocol_from, lst->nproxy_protocol_from,
			     s->addrless ? cidr_local_peer : s->peer_bin)) {
		session_log(s, LL_INFO, 0, "listen \"%s\": the peer is not in "
			    "proxy_protocol_from, closed", lst->name);
		session_close(s, "untrusted PROXY protocol peer");
		return;
	}
	s->state = SS_PROXY;
	ev_timer_set(&s->timer, before_request(ctx->conf->client_header_timeout));
}

/* ---- the PROXY protocol ---- */

/* The header's addresses replace the connection's: every later phase
 * (access rules, limits, logs, forwarding fields) sees the client. */
static void take_addresses(struct session *s, const struct pp_header *h)
{
	char balancer[INET6_ADDRSTRLEN];

	if (!h->has_addr)
		return;		/* LOCAL or UNKNOWN: the balancer speaks for itself */
	memcpy(balancer, s->peer, sizeof(balancer));
	set_peer(s, (const struct sockaddr *)&h->src);
	set_local(s, (const struct sockaddr *)&h->dst);
	log_msg(LL_DEBUG, "PROXY protocol v%d: client %s through %s", (int)h->version, s->peer,
		balancer);
}

/* Peek at what came, and take exactly the header once it is whole: what
 * follows is the TLS handshake's or the request's. Until it is whole,
 * the bytes stay in the socket and the next ones bring a new event. */
static void read_proxy_header(struct session *s)
{
	unsigned char head[PP_MAX];
	struct pp_header h;
	const char *why;
	size_t len;
	ssize_t n;
	int r;

	if (!s->client.io.readable && !s->client.io.hup)
		return;
	n = recv(s->client.io.fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		s->client.io.readable = 0;
		return;
	}
	if (n <= 0) {
		if (n < 0)
			session_log(s, LL_INFO, errno, "reading the PROXY protocol header failed");
		session_close(s, "client closed before its PROXY protocol header");
		return;
	}
	r = pp_parse(head, (size_t)n, &h, &len, &why);
	if (r == P_AGAIN && !s->client.io.hup) {
		s->client.io.readable = 0;
		return;
	}
	if (r != P_OK) {
		session_log(s, LL_INFO, 0, "listen \"%s\": PROXY protocol header refused: %s",
			    s->listen->name, why ? why : "the connection closed in it");
		session_close(s, "bad PROXY protocol header");
		return;
	}
	if (recv(s->client.io.fd, head, len, MSG_DONTWAIT) != (ssize_t)len) {
		session_log(s, LL_ERROR, errno, "taking the PROXY protocol header failed");
		session_close(s, "read error from client");
		return;
	}
	take_addresses(s, &h);
	start_client(s);
}

/* ---- TLS ---- */

struct conf_site_tls *session_site_by_sni(SSL *ssl, const char *name, size_t len)
{
	struct session *s = SSL_get_app_data(ssl);

	s->tls_site = router_site(s->listen, (struct slice){ name, len });
	return s->tls_site ? s->tls_site->tls : NULL;
}

int session_init(const struct worker_ctx *worker_ctx)
{
	const struct conf *c = worker_ctx->conf;
	unsigned i;

	ctx = worker_ctx;
	listener_ctx = calloc(c->nlistens ? c->nlistens : 1, sizeof(*listener_ctx));
	if (listener_ctx == NULL)
		return -1;
	for (i = 0; i < c->nlistens; i++) {
		const struct conf_site *site;

		if (!c->listens[i].tls)
			continue;
		site = router_site(&c->listens[i], (struct slice){ NULL, 0 });
		listener_ctx[i] = site && site->tls ? site->tls->ctx : NULL;
	}
	for (i = 0; i < c->nupstreams; i++)
		local_wanted = local_wanted || c->upstreams[i].send_proxy_protocol != 0;
	return 0;
}

static void handshake_done(struct session *s)
{
	const struct conf_site_tls *t = s->tls_site ? s->tls_site->tls : NULL;
	char subject[1024];

	if (t != NULL && t->verify_client != CONF_VERIFY_OFF &&
	    tls_peer_subject(s->client.ssl, subject, sizeof(subject)) > 0)
		s->client_subject = strdup(subject);
	STATS_ADD(ctx->stats, c.tls_handshakes, 1);
	if (SSL_session_reused(s->client.ssl))
		STATS_ADD(ctx->stats, c.tls_resumed, 1);
	await_request(s);
}

/* Whether the first byte from the client starts an HTTP request, not a
 * TLS record: then it gets a 400 it can read rather than an alert. */
static bool speaks_plain_http(const struct session *s)
{
	unsigned char byte;

	return recv(s->client.io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1 &&
	       byte >= 'A' && byte <= 'Z';
}

static void handshake(struct session *s)
{
	SSL *ssl;
	int r;

	if (s->client.ssl == NULL) {
		if (!s->client.io.readable && !s->client.io.hup)
			return;
		if (speaks_plain_http(s)) {
			s->plain_on_tls = true;
			await_request(s);
			return;
		}
		ssl = listener_ctx[s->listen->index] ? SSL_new(listener_ctx[s->listen->index]) : NULL;
		if (ssl != NULL) {
			SSL_set_app_data(ssl, s);
			SSL_set_accept_state(ssl);
		}
		if (ssl == NULL || conn_tls_attach(&s->client, ssl) < 0) {
			session_log(s, LL_ERROR, 0, "starting TLS failed: %s",
				    tls_error_string("out of memory"));
			session_close(s, "TLS setup failed");
			return;
		}
	}
	r = conn_handshake(&s->client);
	if (r == P_AGAIN)
		return;
	if (r == P_DONE) {
		/* Probes and impatient clients close first: no error of theirs. */
		session_close(s, "client closed in the TLS handshake");
		return;
	}
	if (r != P_OK) {
		session_log(s, LL_INFO, s->client.err, "TLS handshake failed: %s",
			    tls_handshake_error(s->client.ssl, "connection error"));
		session_close(s, "TLS handshake failed");
		return;
	}
	handshake_done(s);
}

/* ---- the request head ---- */

/* Copy a piece of the request for the logs, escaping what a log reader
 * must not be fooled by. */
static void copy_escaped(char *out, size_t cap, struct slice in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < in.len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)in.p[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* The request line, as far as it goes: for every log line about it. */
static void remember_request_line(struct exchange *x, const char *head, size_t len)
{
	const char *eol = memchr(head, '\r', len);

	copy_escaped(x->request_line, sizeof(x->request_line),
		     (struct slice){ head, eol ? (size_t)(eol - head) : MIN(len, (size_t)200) });
}

static void exchange_done(struct exchange *x);

/* A new exchange for this connection's next request; NULL when out of
 * memory (the session is then closed). */
static struct exchange *new_exchange(struct session *s)
{
	struct client_side c = {
		.conn = &s->client,
		.in = s->in,
		.addr = s->peer,
		.port = s->peer_port,
		.addrless = s->addrless,
		.local_port = s->local_port,
		.listen = s->listen,
		.tls_site = s->tls_site,
		.subject = s->client_subject,
		.tls = session_is_tls(s),
		.plain_on_tls = s->plain_on_tls,
		.done = exchange_done,
		.owner = s,
	};
	struct exchange *x;

	memcpy(c.addr_bin, s->peer_bin, sizeof(c.addr_bin));
	memcpy(c.local_bin, s->local_bin, sizeof(c.local_bin));
	x = exchange_new(ctx, &c);
	if (x == NULL) {
		session_close(s, "out of memory for a request");
		return NULL;
	}
	/* From now on the exchange's timer counts. */
	ev_timer_del(&s->timer);
	s->x = x;
	s->state = SS_EXCHANGE;
	return x;
}

/* The site an answer to an unreadable request is logged for. */
static const struct conf_site *default_site(const struct session *s)
{
	if (session_is_tls(s))
		return s->tls_site;
	return router_site(s->listen, (struct slice){ NULL, 0 });
}

static void start_exchange(struct session *s, size_t head_len)
{
	struct exchange *x = new_exchange(s);
	int r;

	if (x == NULL)
		return;
	r = http_parse_request(s->in->pos, head_len, &x->req, &ctx->head_limits);
	remember_request_line(x, s->in->pos, head_len);
	if (r != P_OK) {
		x->site = default_site(s);
		if (x->req.too_many_fields) {
			x->refused_by = "client_max_header_fields";
			exchange_refuse(x, r, TERM_PROXY, "more header fields than "
					"client_max_header_fields");
			return;
		}
		exchange_refuse(x, r, TERM_PROXY, "invalid request");
		return;
	}
	s->in->pos += x->req.head_len;
	s->scanned = 0;
	exchange_begin(x);
}

/* A head that cannot be read: refused with status, and the connection
 * closes after the answer. */
static void refuse_head(struct session *s, int status, enum term_cause cause, const char *why)
{
	struct exchange *x = new_exchange(s);

	if (x == NULL)
		return;
	remember_request_line(x, s->in->pos, buf_len(s->in));
	x->site = default_site(s);
	exchange_refuse(x, status, cause, why);
}

/* Status for a head that filled the buffer without ending. */
static int oversized_head_status(const struct buf *in)
{
	return memchr(in->pos, '\n', buf_len(in)) == NULL ? 414 : 431;
}

static void read_head(struct session *s)
{
	size_t limit = ctx->conf->header_buffer_size;
	struct buf *in;
	ssize_t n;
	long end;

	if (s->in == NULL && (s->in = buf_get()) == NULL) {
		session_close(s, "out of memory for a request buffer");
		return;
	}
	in = s->in;
	for (;;) {
		if (buf_len(in) > 0) {
			end = http_head_scan(in->pos, buf_len(in), &s->scanned);
			if (end > 0) {
				start_exchange(s, (size_t)end);
				return;
			}
			if (end < 0) {
				refuse_head(s, 400, TERM_PROXY, "invalid bytes in a request head");
				return;
			}
			if (buf_len(in) >= limit) {
				refuse_head(s, oversized_head_status(in), TERM_PROXY,
					    "request head too large");
				return;
			}
		}
		if (buf_room(in) == 0)
			buf_compact(in);
		n = conn_recv(&s->client, in->last, MIN(buf_room(in), limit - buf_len(in)));
		if (n == P_AGAIN) {
			if (s->state == SS_IDLE && buf_len(in) == 0) {
				buf_put(s->in);
				s->in = NULL;
			}
			return;
		}
		if (n == P_DONE) {
			session_close(s, buf_len(in) ? "client closed mid-head" : "client closed");
			return;
		}
		if (n == P_ERROR) {
			session_close(s, "read error from client");
			return;
		}
		if (s->state == SS_IDLE) {
			s->state = SS_HEAD;
			ev_timer_set(&s->timer, ctx->conf->client_header_timeout);
		}
		in->last += n;
	}
}

/* ---- between exchanges ---- */

/* Wait for the next request on a kept-alive connection, or serve one that
 * is already buffered (pipelining). */
static void next_request(struct session *s)
{
	s->state = SS_IDLE;
	s->scanned = 0;
	if (s->in != NULL && buf_len(s->in) > 0) {
		buf_compact(s->in);
		s->state = SS_HEAD;
		ev_timer_set(&s->timer, ctx->conf->client_header_timeout);
		read_head(s);
		return;
	}
	/* An idle connection holds no buffer: thousands of idle clients
	 * cost a session each, not a session and a buffer. */
	buf_put(s->in);
	s->in = NULL;
	ev_timer_set(&s->timer, ctx->conf->keepalive_timeout);
	if (conn_has_input(&s->client))
		read_head(s);
}

/* Whether the client may still be sending: then a plain close() would
 * answer its bytes with a reset, which can destroy our response before
 * the client has read it (RFC 9112 9.6). */
static bool client_may_send(const struct session *s)
{
	const struct exchange *x = s->x;

	return (s->in != NULL && buf_len(s->in) > 0) || conn_has_input(&s->client) ||
	       (x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done);
}

/* Half-close, then read and drop what comes until the client closes or
 * LINGER_MS pass. A pass reads a bounded amount, so a client streaming
 * fast cannot keep the worker here; its next bytes bring the next pass. */
static void linger(struct session *s)
{
	static char sink[16384];
	ssize_t n = P_AGAIN;
	int i;

	for (i = 0; i < 4; i++) {
		n = conn_recv(&s->client, sink, sizeof(sink));
		if (n <= 0)
			break;
	}
	if (n == P_DONE || n == P_ERROR)
		session_close(s, "closed after lingering");
}

static void close_after_answer(struct session *s)
{
	if (!client_may_send(s) || conn_shutdown(&s->client) < 0) {
		session_close(s, "exchange done, connection not kept");
		return;
	}
	exchange_free(s->x);
	s->x = NULL;
	buf_put(s->in);
	s->in = NULL;
	s->state = SS_LINGER;
	ev_timer_set(&s->timer, LINGER_MS);
	linger(s);
}

/* The exchange is over (called from its log phase): the session takes
 * over from the run queue. */
static void exchange_done(struct exchange *x)
{
	struct session *s = x->client.owner;

	s->state = SS_AFTER;
	ev_post(&s->task);
}

static void after_exchange(struct session *s)
{
	struct exchange *x = s->x;

	if (x->abort_client) {
		session_close(s, "an answer cannot follow a half-sent one");
		return;
	}
	if (!x->keep_alive || ctx->quitting) {
		close_after_answer(s);
		return;
	}
	exchange_free(x);
	s->x = NULL;
	next_request(s);
}

static void session_run(struct ev_task *t)
{
	struct session *s = container_of(t, struct session, task);

	switch (s->state) {
	case SS_PROXY:
		read_proxy_header(s);
		break;
	case SS_HANDSHAKE:
		handshake(s);
		break;
	case SS_IDLE:
	case SS_HEAD:
		read_head(s);
		break;
	case SS_AFTER:
		after_exchange(s);
		break;
	case SS_LINGER:
		linger(s);
		break;
	case SS_EXCHANGE:
		break;		/* its events go to the exchange */
	}
}

static void session_timeout(struct ev_timer *t)
{
	struct session *s = container_of(t, struct session, timer);

	switch (s->state) {
	case SS_IDLE:
		session_close(s, "keep-alive timeout");
		break;
	case SS_HEAD:
		refuse_head(s, 408, TERM_CLIENT_TIMEOUT, "request head timeout");
		break;
	case SS_LINGER:
		session_close(s, "lingering timed out");
		break;
	case SS_HANDSHAKE:
		session_close(s, "TLS handshake timed out");
		break;
	case SS_PROXY:
		session_log(s, LL_INFO, 0, "listen \"%s\": no PROXY protocol header in time",
			    s->listen->name);
		session_close(s, "PROXY protocol header timed out");
		break;
	default:
		break;		/* the exchange's own timer counts */
	}
}

void session_quit_all(void)
{
	struct session *s;

	/* Closing an idle connection races with a request the client may be
	 * sending on it right now. A short grace lets such a request in (it
	 * is answered with Connection: close); quiet ones close after it.
	 * The same holds for connections that have sent no request yet
	 * (nginx closes those at quit too): one reading its PROXY protocol
	 * header or in its TLS handshake, whose client most likely connected
	 * just before the quit and is sending them now; the steps it takes
	 * next get no more than the grace either (before_request). */
	for (s = open_sessions; s != NULL; s = s->next)
		switch (s->state) {
		case SS_IDLE:
			ev_timer_set(&s->timer, MIN(ctx->conf->keepalive_timeout,
						    QUIT_IDLE_GRACE_MS));
			break;
		case SS_PROXY:
			ev_timer_set(&s->timer, before_request(ctx->conf->client_header_timeout));
			break;
		case SS_HANDSHAKE:
			ev_timer_set(&s->timer, before_request(ctx->conf->tls_handshake_timeout));
			break;
		default:
			break;
		}
}

void session_kill_all(void)
{
	struct session *s;

	for (s = open_sessions; s != NULL; s = s->next)
		if (s->state == SS_EXCHANGE) {
			exchange_log(s->x, LL_WARN, 0, "cut off: shutdown_timeout reached");
			exchange_end(s->x, TERM_KILLED);
		}
}
