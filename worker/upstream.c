/*
 * upstream.c: balancing, connecting and pooling upstream connections.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "log.h"
#include "balance.h"
#include "proxy_protocol.h"
#include "upstream.h"

static const struct worker_ctx *ctx;
static struct upstream *upstreams;
static unsigned nupstreams;
static struct upconn *upconn_free;
static unsigned open_count;

static void init_server(struct upstream *up, unsigned j)
{
	const struct conf_server *srv = &up->conf->servers[j];
	char text[512];

	up->servers[j].peer = ctx->peers[srv->id];
	if (up->conf->tls == NULL)
		return;
	snprintf(text, sizeof(text), "%s/%s", up->conf->name, srv->address);
	tls_server_key(&up->servers[j].tls_key, text);
}

int upstream_init_all(const struct worker_ctx *worker_ctx)
{
	const struct conf *conf = worker_ctx->conf;
	unsigned i;

	ctx = worker_ctx;
	nupstreams = conf->nupstreams;
	upstreams = calloc(nupstreams ? nupstreams : 1, sizeof(*upstreams));
	if (upstreams == NULL)
		return -1;
	for (i = 0; i < nupstreams; i++) {
		struct upstream *up = &upstreams[i];
		unsigned j;

		up->conf = &conf->upstreams[i];
		up->servers = calloc(up->conf->nservers, sizeof(*up->servers));
		if (up->servers == NULL || balance_init(up) < 0)
			return -1;
		for (j = 0; j < up->conf->nservers; j++)
			init_server(up, j);
	}
	return 0;
}

struct upstream *upstream_of(const struct conf_upstream *cu)
{
	return &upstreams[cu->index];
}

void upstream_note_failure(struct upstream *up, unsigned s, unsigned kind,
			   struct stats_proc *stats)
{
	const struct conf_upstream *cu = up->conf;
	const struct conf_server *srv = &cu->servers[s];

	if (kind != CONF_FAIL_5XX)
		STATS_ADD(stats, c.upstream_failures, 1);
	if ((cu->fail_on & kind) && health_fail(up->servers[s].peer, srv, ev_now()))
		log_msg(LL_WARN, "upstream \"%s\" server %s marked down for %u ms after %u failures",
			cu->name, srv->address, srv->fail_timeout, srv->max_fails);
}

void upstream_note_answer(struct upstream *up, unsigned s, int status, uint64_t try_us,
			  struct stats_proc *stats)
{
	const struct conf_upstream *cu = up->conf;
	struct health_peer *peer = up->servers[s].peer;

	if (cu->balance == BALANCE_EWMA)
		health_ewma_sample(peer, try_us, ev_now(), cu->ewma_decay);
	if (status >= 500)
		upstream_note_failure(up, s, CONF_FAIL_5XX, stats);
	else
		health_success(peer);
}

static int32_t *my_share(const struct upconn *uc)
{
	return &ctx->stats->conns[uc->up->conf->servers[uc->server].id];
}

/* An exchange now uses uc: count it where least_conn and max_conns see. */
static void count_open(struct upconn *uc)
{
	health_conn_open(uc->up->servers[uc->server].peer, my_share(uc));
	uc->counted = true;
}

static void count_closed(struct upconn *uc)
{
	if (!uc->counted)
		return;
	health_conn_close(uc->up->servers[uc->server].peer, my_share(uc));
	uc->counted = false;
}

static struct upconn *upconn_alloc(void)
{
	struct upconn *uc = upconn_free;

	if (uc != NULL)
		upconn_free = uc->next;
	else if ((uc = malloc(sizeof(*uc))) == NULL)
		return NULL;
	memset(uc, 0, sizeof(*uc));
	uc->conn.io.fd = -1;
	return uc;
}

/* The memory stays in the free list: see struct ev_io. */
static void upconn_destroy(struct upconn *uc)
{
	count_closed(uc);
	if (uc->conn.io.fd >= 0) {
		conn_close(&uc->conn);
		open_count--;
	}
	uc->next = upconn_free;
	upconn_free = uc;
}

static void idle_unlink(struct upconn *uc)
{
	struct upstream_server *s = &uc->up->servers[uc->server];

	if (uc->prev)
		uc->prev->next = uc->next;
	else
		s->idle = uc->next;
	if (uc->next)
		uc->next->prev = uc->prev;
	uc->prev = uc->next = NULL;
	uc->up->nidle--;
}

/* Whether an idle connection is still silent. Over TLS, the server may
 * send session tickets after the handshake: OpenSSL takes those in, and
 * only application data or a close counts. */
static bool still_silent(struct upconn *uc)
{
	char byte;

	if (uc->conn.ssl != NULL)
		return conn_recv(&uc->conn, &byte, 1) == P_AGAIN;
	if (recv(uc->conn.io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
		uc->conn.io.readable = 0;
		return true;
	}
	return false;
}

/* An idle connection must stay silent: if the server closed it, reset it
 * or sent bytes nobody asked for, it is of no more use. Other events (a
 * late EPOLLOUT edge) leave it alone. */
static void idle_event(struct ev_io *io, uint32_t events)
{
	struct upconn *uc = (struct upconn *)io;

	(void)events;
	if (still_silent(uc)) {
		io->hup = 0;
		return;
	}
	idle_unlink(uc);
	upconn_destroy(uc);
}

/* A connection that began with a PROXY header told the server who the
 * client is and which of our addresses it reached, once for all its
 * requests: it may carry only requests of that client address that came
 * in on that same local address and port (as HAProxy keeps such
 * connections private), else a request to port 443 would travel under a
 * header that names port 80. The header's client port stays the one of
 * the client connection that opened it. */
static bool may_serve(const struct upconn *uc, const struct upconn_client *client)
{
	return uc->up->conf->send_proxy_protocol == 0 ||
	       (uc->client.addrless == client->addrless &&
		memcmp(uc->client.addr, client->addr, sizeof(client->addr)) == 0 &&
		memcmp(uc->client.local, client->local, sizeof(client->local)) == 0 &&
		uc->client.local_port == client->local_port);
}

static int take_idle(struct upstream *up, unsigned s, void *owner, ev_io_cb cb,
		     const struct upconn_client *client, struct upconn **out)
{
	struct upconn *uc = up->servers[s].idle;

	while (uc != NULL && !may_serve(uc, client))
		uc = uc->next;
	if (uc == NULL)
		return P_AGAIN;
	idle_unlink(uc);
	count_open(uc);
	uc->owner = owner;
	uc->reused = true;
	uc->conn.io.cb = cb;
	*out = uc;
	return P_OK;
}

static int open_socket(const struct conf_server *srv, int *err)
{
	int fd, one = 1;

	fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	/* A unix socket has no Nagle to turn off. */
	if (srv->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

int upstream_connect(struct upstream *up, unsigned s, void *owner,
		     ev_io_cb cb, bool pooled, const struct upconn_client *client,
		     struct upconn **out, int *err)
{
	struct upconn *uc;
	int fd;

	if (pooled && take_idle(up, s, owner, cb, client, out) == P_OK)
		return P_OK;
	uc = upconn_alloc();
	if (uc == NULL) {
		*err = ENOMEM;
		return P_ERROR;
	}
	fd = open_socket(&up->conf->servers[s], err);
	if (fd < 0) {
		upconn_destroy(uc);
		return P_ERROR;
	}
	open_count++;
	uc->conn.io.fd = fd;
	uc->conn.io.cb = cb;
	uc->up = up;
	uc->server = s;
	uc->owner = owner;
	uc->client = *client;
	count_open(uc);
	/* Output is watched from the start: it tells when the connect ends. */
	if (ev_add(&uc->conn.io, true) < 0) {
		*err = errno;
		upconn_destroy(uc);
		return P_ERROR;
	}
	*out = uc;
	return P_AGAIN;
}

static int tcp_connected(struct upconn *uc)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(uc->conn.io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/* An address of the client side as pp_write takes it; no family when
 * the client has none, which makes the header UNKNOWN (v1) or LOCAL (v2). */
static void sockaddr_of(const struct upconn_client *c, const uint8_t addr[16], unsigned port,
			struct sockaddr_in6 *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = c->addrless ? AF_UNSPEC : AF_INET6;
	memcpy(&sa->sin6_addr, addr, 16);
	sa->sin6_port = htons((uint16_t)port);
}

/* The PROXY header goes first, in the clear, before TLS if any. The
 * socket has just connected and its send buffer is empty: a header of at
 * most PP_V1_MAX bytes goes out whole, or the connection failed. */
static int send_proxy_header(struct upconn *uc)
{
	struct sockaddr_in6 src, dst;
	unsigned char head[PP_V1_MAX];
	size_t len;

	sockaddr_of(&uc->client, uc->client.addr, uc->client.port, &src);
	sockaddr_of(&uc->client, uc->client.local, uc->client.local_port, &dst);
	len = pp_write((enum pp_version)uc->up->conf->send_proxy_protocol,
		       (struct sockaddr *)&src, (struct sockaddr *)&dst, head, sizeof(head));
	if (send(uc->conn.io.fd, head, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
		uc->conn.err = errno ? errno : EPIPE;
		return -1;
	}
	return 0;
}

static int start_tls(struct upconn *uc)
{
	const struct conf_upstream *cu = uc->up->conf;
	SSL *ssl = tls_upstream_ssl(cu->tls, &cu->servers[uc->server],
				    &uc->up->servers[uc->server].tls_key);

	return ssl != NULL ? conn_tls_attach(&uc->conn, ssl) : -1;
}

int upstream_finish_connect(struct upconn *uc, const char **why)
{
	int r;

	if (!uc->connected) {
		if (!uc->conn.io.writable)
			return P_AGAIN;
		uc->conn.err = tcp_connected(uc);
		if (uc->conn.err != 0) {
			*why = NULL;
			return P_ERROR;
		}
		uc->connected = true;
		if (uc->up->conf->send_proxy_protocol != 0 && send_proxy_header(uc) < 0) {
			*why = NULL;
			return P_ERROR;
		}
		if (uc->up->conf->tls != NULL && start_tls(uc) < 0) {
			*why = tls_error_string("TLS setup: out of memory");
			return P_ERROR;
		}
	}
	if (uc->conn.ssl != NULL && !uc->ready) {
		r = conn_handshake(&uc->conn);
		if (r == P_AGAIN)
			return P_AGAIN;
		if (r != P_OK) {
			*why = tls_handshake_error(uc->conn.ssl, r == P_DONE ? "closed by the server"
									     : "connection error");
			return P_ERROR;
		}
	}
	uc->ready = true;
	return P_OK;
}

/* Connections with PROXY headers serve one client address each: a full
 * pool would keep those of clients long gone and refuse the one just
 * released, whose client is the likeliest to come back. The server's
 * least recently used idle connection makes room instead. */
static bool make_room(struct upstream *up, struct upstream_server *s)
{
	struct upconn *last = s->idle;

	if (up->conf->send_proxy_protocol == 0 || last == NULL)
		return false;
	while (last->next != NULL)
		last = last->next;
	idle_unlink(last);
	upconn_destroy(last);
	return true;
}

void upstream_release(struct upconn *uc, bool reusable)
{
	struct upstream *up = uc->up;
	struct upstream_server *s = &up->servers[uc->server];

	count_closed(uc);
	if (!reusable || uc->conn.io.hup ||
	    (up->nidle >= up->conf->keepalive && !make_room(up, s))) {
		upconn_destroy(uc);
		return;
	}
	uc->owner = NULL;
	uc->conn.io.cb = idle_event;
	uc->prev = NULL;
	uc->next = s->idle;
	if (s->idle)
		s->idle->prev = uc;
	s->idle = uc;
	up->nidle++;
}

void upstream_close_idle(void)
{
	unsigned i, j;

	for (i = 0; i < nupstreams; i++)
		for (j = 0; j < upstreams[i].conf->nservers; j++)
			while (upstreams[i].servers[j].idle) {
				struct upconn *uc = upstreams[i].servers[j].idle;

				idle_unlink(uc);
				upconn_destroy(uc);
			}
}

const char *upconn_addr(const struct upconn *uc)
{
	return uc->up->conf->servers[uc->server].address;
}

unsigned upstream_open_count(void)
{
	return open_count;
}
