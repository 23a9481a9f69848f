/*
 * auth_request.c: forward authentication.
 *
 * Before a request of a route with auth_request goes anywhere, the auth
 * server is asked: GET auth_request_uri, with the request's method,
 * target, host, scheme and client address in X-Forwarded-* fields and
 * the client's fields auth_request_headers names, without a body. The
 * exchange waits in the access phase meanwhile (the request's own body
 * stays unread in the client's connection, so it reaches the upstream
 * untouched after). The subrequest itself is auth_subrequest.c's; this
 * file decides by its answer.
 *
 * The answer decides:
 *   2xx            the request goes on, with auth_request_set's fields
 *                  copied from the answer (the client's own of those
 *                  names were dropped first, so none can be forged) and
 *                  the user named by auth_request_user's field;
 *   401, 403, 3xx  the client gets that status with the answer's
 *                  WWW-Authenticate, Location and Set-Cookie fields and
 *                  its body (up to AUTH_BODY_MAX bytes; portico's own
 *                  page without one or with a longer one) — 3xx passes
 *                  as Traefik passes it, for login redirects;
 *   anything else  (another status, no server, a timeout, a broken
 *                  answer) 500, and the error log says why.
 *
 * A decision is written down as a record (status, the fields that
 * matter, the body); the record is what the exchange is changed by, and
 * what the auth cache keeps under the request's key.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "auth_cache.h"
#include "head_writer.h"
#include "modules/auth_request.h"
#include "modules/auth_request_state.h"

static struct auth_request_state *free_states;

/* ---- the decision's record ----
 *
 * status (2 bytes), fields (each: name length (1 byte), name, NUL, value
 * length (2 bytes), value, NUL), a name length of 0, body length (2
 * bytes), body. Names and values are NUL-terminated so that they can be
 * used as strings (a Content-Type, the user).
 */

struct rec_writer {
	char *p, *end;
	bool overflow;
};

static void rec_put(struct rec_writer *w, const void *data, size_t len)
{
	if (w->overflow || (size_t)(w->end - w->p) < len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, data, len);
	w->p += len;
}

static void rec_put_u16(struct rec_writer *w, size_t v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	if (v > 0xffff)
		w->overflow = true;
	rec_put(w, b, 2);
}

static void rec_put_field(struct rec_writer *w, struct slice name, struct slice value)
{
	unsigned char len = (unsigned char)name.len;

	if (name.len == 0 || name.len > 0xff)
		w->overflow = true;
	rec_put(w, &len, 1);
	rec_put(w, name.p, name.len);
	rec_put(w, "", 1);
	rec_put_u16(w, value.len);
	rec_put(w, value.p, value.len);
	rec_put(w, "", 1);
}

/* A record read back. */
struct rec_reader {
	const unsigned char *p, *end;
	bool bad;
};

static size_t rec_get_u16(struct rec_reader *r)
{
	size_t v;

	if (r->end - r->p < 2) {
		r->bad = true;
		return 0;
	}
	v = load_be16(r->p);
	r->p += 2;
	return v;
}

static const char *rec_get_bytes(struct rec_reader *r, size_t len)
{
	const char *s = (const char *)r->p;

	if ((size_t)(r->end - r->p) < len) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	return s;
}

/* The next field into name and value; false at the fields' end. */
static bool rec_next_field(struct rec_reader *r, struct slice *name, struct slice *value)
{
	size_t len;

	if (r->bad || r->p >= r->end) {
		r->bad = true;
		return false;
	}
	len = *r->p++;
	if (len == 0)
		return false;
	name->p = rec_get_bytes(r, len + 1);
	name->len = len;
	len = rec_get_u16(r);
	value->p = rec_get_bytes(r, len + 1);
	value->len = len;
	return !r->bad;
}

/* ---- the state of an exchange ---- */

static struct auth_request_state *state_new(struct exchange *x)
{
	struct auth_request_state *st = free_states;

	if (st != NULL)
		free_states = st->next_free;
	else if ((st = malloc(sizeof(*st))) == NULL)
		return NULL;
	memset(st, 0, offsetof(struct auth_request_state, resp));
	st->keyed = false;
	st->kept = NULL;
	st->x = x;
	st->conf = &x->route->auth_request;
	if ((st->rec = buf_get()) == NULL) {
		st->next_free = free_states;
		free_states = st;
		return NULL;
	}
	x->auth_req = st;
	return st;
}

static void state_free(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;

	if (st == NULL)
		return;
	auth_subrequest_drop(st, false);
	buf_put(st->head);
	buf_put(st->in);
	buf_put(st->rec);
	free(st->kept);
	st->next_free = free_states;
	free_states = st;
	x->auth_req = NULL;
}

/* The client's own fields of the names the auth server's answer sets
 * are removed from the request, whatever the answer, and on the routes
 * that ask no forward authentication too (their site's list holds
 * there): nobody but the auth server says who the user is ($http_x_user
 * included). */
static void drop_forged(struct exchange *x, const struct conf_auth_request *a)
{
	struct http_message *q = &x->req;
	unsigned i, kept = 0;

	if (a->set == NULL)
		return;
	for (i = 0; i < q->nheaders; i++)
		if (!auth_names_has(a->set, q->headers[i].name))
			q->headers[kept++] = q->headers[i];
	q->nheaders = kept;
}

/* ---- the auth cache ---- */

static bool caches(const struct exchange *x, const struct conf_auth_request *a)
{
	return a->cache_time > 0 && x->ctx->auth_cache != NULL;
}

/* Append an expression's value and a NUL; false when it does not fit. */
static bool put_expr(struct head_writer *w, const struct conf_expr *e,
		     const struct var_source *src)
{
	size_t n;

	if (w->overflow)
		return false;
	n = vars_expand(e, src, w->p, (size_t)(w->end - w->p));
	if (n >= (size_t)(w->end - w->p))
		return false;
	w->p += n;
	*w->p++ = '\0';
	return true;
}

/*
 * The decision's key (auth_cache_key), keyed by the settings' random tag
 * (made as the configuration was read: a reload's decisions are its
 * own): the auth server's upstream, the fields copied and the user's, and what the
 * server is asked: by default the whole question (its target and every
 * field the subrequest carries: the client's address, method, host and
 * target among them, so that a decision is only ever reused for the very
 * question it answered), or with auth_request_cache_key the target and
 * that key's value, which the operator makes hold whatever the auth
 * server decides by. No credential is kept in clear. False when the text
 * does not fit scratch (not cached).
 */
static bool make_key(struct auth_request_state *st, struct buf *scratch)
{
	const struct conf_auth_request *a = st->conf;
	struct head_writer w = { scratch->start, scratch->end, false };
	struct var_source src;
	unsigned i;

	hw_put_str(&w, a->upstream->name);
	hw_put(&w, "", 1);
	for (i = 0; a->set != NULL && i < a->set->n; i++) {
		hw_put_str(&w, a->set->names[i]);
		hw_put(&w, ",", 1);
	}
	hw_put(&w, "", 1);
	hw_put_str(&w, a->user != NULL ? a->user : "");
	hw_put(&w, "", 1);
	if (a->cache_key == NULL) {
		auth_subrequest_question(st, &w);
	} else {
		src = exchange_vars(st->x);
		if (a->uri != NULL && !put_expr(&w, a->uri, &src))
			return false;
		if (!put_expr(&w, a->cache_key, &src))
			return false;
	}
	if (w.overflow)
		return false;
	return auth_cache_key(a->tag, &(struct slice){ scratch->start,
						       (size_t)(w.p - scratch->start) }, 1, st->key);
}

/* A decision kept for this request's key into the record. */
static bool cached_decision(struct auth_request_state *st)
{
	ssize_t n;

	if (!caches(st->x, st->conf))
		return false;
	if ((st->head = buf_get()) == NULL || !make_key(st, st->head))
		return false;
	st->keyed = true;
	n = auth_cache_get(st->x->ctx->auth_cache, AUTH_CACHE_REQUEST, st->key, sizeof(st->key),
			   st->rec->start, AUTH_CACHE_VALUE_MAX, ev_now_us() / 1000);
	if (n < 0)
		return false;
	st->rec_len = (size_t)n;
	STATS_ADD(st->x->ctx->stats, c.auth_request_cache_hits, 1);
	return true;
}

/* Keep the decision for auth_request_cache_time; one whose record is
 * longer than the cache takes (a long body) is used this once, and so is
 * one that sets a cookie: a login's nonce or session is one client's. */
static void keep_decision(struct auth_request_state *st)
{
	if (!st->keyed || st->rec_len > AUTH_CACHE_VALUE_MAX ||
	    http_header_value(&st->resp, "set-cookie").p != NULL)
		return;
	auth_cache_put(st->x->ctx->auth_cache, AUTH_CACHE_REQUEST, st->key, sizeof(st->key),
		       st->rec->start, st->rec_len, ev_now_us() / 1000 + st->conf->cache_time);
}

/* A client that hangs up while its request waits for the auth server
 * ends it (499), as a delayed one does. */
static bool client_left(struct exchange *x)
{
	struct conn *c = x->client.conn;

	if (!c->io.hup || !conn_peer_closed(c))
		return false;
	exchange_log(x, LL_INFO, 0, "client closed the connection while its request waited for "
		     "the auth server");
	x->status = 499;
	exchange_end(x, TERM_CLIENT);
	return true;
}

/* ---- deciding ---- */

/* No decision to go by: 500, counted (why is logged where it failed). */
static void answer_500(struct exchange *x, enum term_cause cause)
{
	STATS_ADD(x->ctx->stats, c.auth_request_failed, 1);
	exchange_respond(x, 500, cause, false);
}

static bool allows(int status)
{
	return status >= 200 && status < 300;
}

/* What goes back to the client as the auth server said it. */
static bool refuses(int status)
{
	return status == 401 || status == 403 || status == 301 || status == 302 ||
	       status == 303 || status == 307 || status == 308;
}

/* The fields of a refusal the client gets. */
static bool passed_back(struct slice name)
{
	return slice_ieq(name, "www-authenticate") || slice_ieq(name, "location") ||
	       slice_ieq(name, "set-cookie");
}

/* The answer as a record; false when it does not fit. */
static bool write_record(struct auth_request_state *st)
{
	const struct http_message *r = &st->resp;
	const struct conf_auth_request *a = st->conf;
	struct rec_writer w = { st->rec->start, st->rec->end, false };
	bool allowed = allows(r->status), with_body = !allowed && !st->body_too_long &&
						   st->body_len > 0;
	unsigned i;

	rec_put_u16(&w, (size_t)r->status);
	for (i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		bool keep = allowed ? auth_names_has(a->set, h->name) ||
				      (a->user != NULL && strlen(a->user) == h->name.len &&
				       strncasecmp(a->user, h->name.p, h->name.len) == 0)
				    : passed_back(h->name) ||
				      (with_body && slice_ieq(h->name, "content-type"));

		if (keep)
			rec_put_field(&w, h->name, h->value);
	}
	rec_put(&w, "", 1);
	rec_put_u16(&w, with_body ? st->body_len : 0);
	if (with_body)
		rec_put(&w, st->in->start + st->body_at, st->body_len);
	st->rec_len = (size_t)(w.p - st->rec->start);
	return !w.overflow;
}

/* Whether s is a user name portico can log and pass as $remote_user. */
static bool printable_name(struct slice s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (s.p[i] <= ' ' || s.p[i] > '~')
			return false;
	return s.len > 0;
}

/* Let the request on with the record's fields. */
static int let_in(struct exchange *x, struct rec_reader *rd)
{
	const struct conf_auth_request *a = x->auth_req->conf;
	struct http_message *q = &x->req;
	struct slice name, value;

	while (rec_next_field(rd, &name, &value)) {
		if (a->user != NULL && strlen(a->user) == name.len &&
		    strncasecmp(a->user, name.p, name.len) == 0) {
			if (printable_name(value))
				x->auth_user = value.p;
			else
				exchange_log(x, LL_WARN, 0, "auth_request: the auth server's %s is no "
					     "user name portico can pass on: ignored", a->user);
		}
		if (!auth_names_has(a->set, name))
			continue;
		if (q->nheaders >= HTTP_MAX_HEADERS) {
			exchange_log(x, LL_ERROR, 0, "auth_request: no room in the request for the "
				     "auth server's %.*s", (int)name.len, name.p);
			answer_500(x, TERM_RESOURCE);
			return P_DONE;
		}
		q->headers[q->nheaders++] = (struct http_header){ .name = name, .value = value };
	}
	return P_OK;
}

/* Answer the client as the auth server did. */
static int turn_away(struct exchange *x, int status, struct rec_reader *rd)
{
	struct slice fields[2 * 8], name, value, body;
	const char *type = "text/plain";
	unsigned n = 0, i;

	while (rec_next_field(rd, &name, &value)) {
		if (slice_ieq(name, "content-type"))
			type = value.p;
		else if (n < ARRAY_LEN(fields)) {
			fields[n++] = name;
			fields[n++] = value;
		}
	}
	body.len = rec_get_u16(rd);
	body.p = rec_get_bytes(rd, body.len);
	x->refused_by = "auth_request";
	STATS_ADD(x->ctx->stats, c.auth_request_refused, 1);
	exchange_verdict(x, TERM_PROXY);
	if (body.len > 0 && body.p != NULL)
		exchange_respond_body(x, status, type, body.p, body.len);
	else
		exchange_respond(x, status, TERM_PROXY, false);
	for (i = 0; i < n && x->phase == PH_RESPONSE_HEAD; i += 2)
		if (exchange_add_field(x, fields[i], fields[i + 1]) < 0) {
			exchange_log(x, LL_WARN, 0, "auth_request: the auth server's %.*s does not "
				     "fit the answer: left out", (int)fields[i].len, fields[i].p);
			break;
		}
	return P_DONE;
}

/* A record that lets the request on is read by its fields until the
 * exchange ends, a WebSocket's for hours: keep it in a block of its own
 * size rather than in a pool buffer. */
static bool keep_record(struct auth_request_state *st)
{
	if ((st->kept = malloc(MAX(st->rec_len, (size_t)1))) == NULL)
		return false;
	memcpy(st->kept, st->rec->start, st->rec_len);
	buf_put(st->rec);
	st->rec = NULL;
	return true;
}

/* A reader of the record at p, past its status. */
static struct rec_reader fields_of(const char *p, size_t len)
{
	struct rec_reader rd = { (const unsigned char *)p, (const unsigned char *)p + len, false };

	rec_get_u16(&rd);
	return rd;
}

/* Act on the record: P_OK lets the request on, P_DONE answered it. */
static int apply_record(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
	struct rec_reader rd = fields_of(st->rec->start, st->rec_len);
	int status = (int)load_be16((const uint8_t *)st->rec->start);

	/* the record holds all that is needed from now on */
	buf_put(st->head);
	buf_put(st->in);
	st->head = st->in = NULL;
	if (!allows(status))
		return turn_away(x, status, &rd);
	if (!keep_record(st)) {
		exchange_log(x, LL_ERROR, ENOMEM, "auth_request: out of memory");
		answer_500(x, TERM_RESOURCE);
		return P_DONE;
	}
	rd = fields_of(st->kept, st->rec_len);
	return let_in(x, &rd);
}

/* The subrequest has ended: its answer decides, or there was none. */
static int conclude(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
	int status;

	exchange_set_content(x, NULL);
	if (st->step == AUTH_FAILED) {
		answer_500(x, st->fail_cause);
		return P_DONE;
	}
	status = st->resp.status;
	if (!allows(status) && !refuses(status)) {
		exchange_log(x, LL_ERROR, 0, "auth_request: upstream \"%s\" server %s answered %d",
			     st->up->conf->name, auth_server_of(st)->address, status);
		answer_500(x, TERM_SERVER);
		return P_DONE;
	}
	if (!write_record(st)) {
		exchange_log(x, LL_ERROR, 0, "auth_request: the answer of upstream \"%s\" server %s "
			     "has too many fields to pass on", st->up->conf->name,
			     auth_server_of(st)->address);
		answer_500(x, TERM_SERVER);
		return P_DONE;
	}
	keep_decision(st);
	return apply_record(x);
}

/* Ask the auth server: the exchange waits (P_AGAIN), or the answer (or
 * its failure) is acted on at once. */
static int ask(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;

	auth_subrequest_start(st);
	auth_subrequest_advance(st);
	return st->step < AUTH_DECIDED ? P_AGAIN : conclude(x);
}

static int check(struct exchange *x)
{
	const struct conf_route *rt = x->route;
	struct auth_request_state *st = x->auth_req;

	bool repeated;

	if (rt == NULL)
		return P_OK;
	if (st == NULL)
		drop_forged(x, &rt->auth_request);
	if (!rt->auth || rt->auth_request.upstream == NULL)
		return P_OK;
	if (st == NULL) {
		/* Two would let the auth server and the application each read
		 * another one. */
		http_singleton_value(&x->req, "authorization", &repeated);
		if (repeated) {
			exchange_log(x, LL_WARN, 0, "auth_request: refused: more than one "
				     "Authorization field");
			exchange_deny(x, 400, "auth_request", true);
			return P_DONE;
		}
		if ((st = state_new(x)) == NULL) {
			exchange_log(x, LL_ERROR, ENOMEM, "auth_request: out of memory");
			answer_500(x, TERM_RESOURCE);
			return P_DONE;
		}
		if (cached_decision(st))
			return apply_record(x);
		return ask(x);
	}
	if (client_left(x))
		return P_DONE;
	auth_subrequest_advance(st);
	return st->step < AUTH_DECIDED ? P_AGAIN : conclude(x);
}

const struct module auth_request_module = {
	.name = "auth_request",
	.access = check,
	.end = state_free,
};
