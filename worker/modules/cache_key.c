/*
 * cache_key.c: the keys of a cached request and what is stored under
 * them: the key from cache_key, Vary's secondary key, the lookup that
 * follows one to the other; the expressions of cache_bypass and
 * cache_no_store; our validators on a request that revalidates.
 */
#include "config.h"

#include "vars.h"
#include "modules/cache_state.h"

static struct var_source source_of(const struct exchange *x, const struct http_message *req)
{
	struct var_source src = exchange_vars(x);

	src.req = req;
	return src;
}

/* The request's key, from the route's cache_key. */
bool cache_make_key(struct exchange *x, struct cache_state *st)
{
	struct var_source src = source_of(x, &x->req);
	/* the primary key leaves room for Vary's part */
	size_t cap = st->kcap / 2, n = vars_expand(&x->route->cache_key, &src, st->key, cap);

	if (n == 0 || n > cap)
		return false;
	st->klen = st->primary_len = n;
	return true;
}

size_t cache_key_of_uri(const struct exchange *x, struct slice uri, char *out, size_t cap)
{
	struct http_message req = x->req;
	struct var_source src = source_of(x, &req);
	const char *q;
	size_t n;

	if (uri.len == 0 || uri.p[0] != '/')
		return 0;
	req.target = uri;
	q = memchr(uri.p, '?', uri.len);
	req.path = (struct slice){ uri.p, q ? (size_t)(q - uri.p) : uri.len };
	req.uri = req.path;
	req.query = q ? (struct slice){ q + 1, (size_t)(uri.p + uri.len - q - 1) }
		      : (struct slice){ NULL, 0 };
	n = vars_expand(&x->route->cache_key, &src, out, cap);
	return n > cap ? 0 : n;
}

/* An expression of cache_bypass or cache_no_store holds: its value is
 * neither empty nor "0". */
bool cache_any_holds(const struct exchange *x, const struct conf_expr *e, unsigned n)
{
	struct var_source src = source_of(x, &x->req);
	char v[64];
	size_t len;
	unsigned i;

	for (i = 0; i < n; i++) {
		len = vars_expand(&e[i], &src, v, sizeof(v));
		if (len > 0 && !(len == 1 && v[0] == '0'))
			return true;
	}
	return false;
}

bool cache_no_store(const struct exchange *x)
{
	return cache_any_holds(x, x->route->cache_no_store, x->route->ncache_no_store);
}

/* ---- finding ---- */

static bool read_meta(struct cache_state *st)
{
	return cs_read(st->cs, &st->r, &st->meta, sizeof(st->meta)) == (ssize_t)sizeof(st->meta) &&
	       st->meta.magic == CACHE_META_MAGIC;
}

int cache_find(struct exchange *x, struct cache_state *st)
{
	char *names = st->names;
	int r;

	st->klen = st->primary_len;
	r = cs_lookup(st->cs, st->key, st->klen, &st->r);
	if (r != CS_HIT)
		return r;
	if (!read_meta(st))
		return CS_MISS;
	if (st->meta.kind == OBJ_COUNT) {
		st->uses = st->meta.uses;
		return CS_MISS;
	}
	if (st->meta.kind != OBJ_VARY)
		return CS_HIT;
	/* The answers vary: find the one for this request's fields. */
	if (st->meta.head_len > CACHE_NAMES_CAP ||
	    cs_read(st->cs, &st->r, names, st->meta.head_len) != (ssize_t)st->meta.head_len ||
	    !cache_vary_key(&x->req, (struct slice){ names, st->meta.head_len }, st->key, &st->klen,
			    st->kcap))
		return CS_MISS;
	r = cs_lookup(st->cs, st->key, st->klen, &st->r);
	if (r == CS_HIT && !read_meta(st))
		r = CS_MISS;
	if (r == CS_MISS)
		st->fwd = FWD_VARY_MISS;
	return r;
}

bool cache_client_condition(struct slice name)
{
	return slice_ieq(name, "if-none-match") || slice_ieq(name, "if-modified-since") ||
	       slice_ieq(name, "if-range") || slice_ieq(name, "range");
}

static void add_request_field(struct exchange *x, const char *name, char *value)
{
	struct http_message *r = &x->req;

	r->headers[r->nheaders++] = (struct http_header){
		.name = { name, strlen(name) }, .value = { value, strlen(value) } };
}

/* Copy v into keybuf at slot, as a string; NULL when it does not fit. */
static char *keep_validator(struct cache_state *st, unsigned slot, struct slice v)
{
	char *to = st->names + CACHE_NAMES_CAP + slot * CACHE_VALIDATOR_CAP;

	if (v.len == 0 || v.len >= CACHE_VALIDATOR_CAP)
		return NULL;
	memcpy(to, v.p, v.len);
	to[v.len] = '\0';
	return to;
}

/* Ask the server whether the stored answer (r after its meta) is still
 * good: its ETag and Last-Modified go with the request. false when it
 * has none, or they cannot be read. */
bool cache_add_validators(struct exchange *x, struct cache_state *st)
{
	struct http_message stored;
	size_t len = st->meta.head_len;

	if ((st->head == NULL && (st->head = buf_get()) == NULL) ||
	    len > (size_t)(st->head->end - st->head->start) ||
	    cs_read(st->cs, &st->r, st->head->start, len) != (ssize_t)len ||
	    http_parse_response(st->head->start, len, &stored, &x->ctx->head_limits,
				HTTP_GET) != P_OK)
		return false;
	st->cond_etag = keep_validator(st, 0, http_header_value(&stored, "etag"));
	st->cond_date = keep_validator(st, 1, http_header_value(&stored, "last-modified"));
	if (st->cond_etag == NULL && st->cond_date == NULL)
		return false;
	st->nvalidators = (st->cond_etag != NULL) + (st->cond_date != NULL);
	if (x->req.nheaders + st->nvalidators > HTTP_MAX_HEADERS) {
		st->nvalidators = 0;
		return false;
	}
	if (st->cond_etag != NULL)
		add_request_field(x, "If-None-Match", st->cond_etag);
	if (st->cond_date != NULL)
		add_request_field(x, "If-Modified-Since", st->cond_date);
	return true;
}

void cache_forget_validators(struct exchange *x, struct cache_state *st)
{
	x->req.nheaders -= st->nvalidators;
	st->nvalidators = 0;
}
