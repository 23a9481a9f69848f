/*
 * gzip.c: compression of responses, as nginx's gzip module does it.
 *
 * The head filter decides (the client accepts gzip, the response is of a
 * listed type, long enough, not encoded already, may be transformed) and
 * edits the head: Content-Encoding, Vary, a weak ETag, no Content-Length
 * (dispatch.c frames the body as chunked, or by closing for HTTP/1.0,
 * since the filter does not keep the length) and no Accept-Ranges. The
 * body filter runs one zlib stream per exchange into pool buffers, with
 * a sync flush at the end of every piece it is given, so what the server
 * has sent so far reaches the client (server-sent events, long polls);
 * memory stays zlib's state and the buffers of one piece.
 *
 * On a cached route the filter runs before the cache's copy, so what is
 * stored is what was sent: the compressed variant under Vary, served
 * again as it is. Answers a cache lends from its zone (x->body_view) go
 * as they are: a lent run is larger than the buffers compressed output
 * goes to.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "gzip.h"
#include "http_cache.h"
#include "http_coding.h"
#include "log.h"
#include "modules/content_coding.h"

#define GZIP_WINDOW_BITS (15 + 16)	/* 32 KiB window, gzip wrapper */
#define GZIP_MEM_LEVEL 8		/* zlib's default: 128 KiB of hash */
#define GZIP_KEPT_MAX 8			/* idle streams a worker keeps */

struct gzip_state {
	z_stream z;
	struct buf *out[BODY_EMIT_MAX];	/* compressed output of one piece */
	unsigned nused;			/* of out[], in this piece */
	unsigned level;
	struct coding_fields fields;
	struct gzip_state *next_free;
};

/* Streams of ended exchanges, reset for the next one: a steady worker
 * does not allocate zlib's state for every response. */
static struct gzip_state *kept;
static unsigned nkept;

/* Whether the request as it went on has a field named lower (a cache
 * that fetches a whole answer to store leaves the client's Range out). */
static bool req_has(const struct exchange *x, const char *lower)
{
	unsigned i;

	for (i = 0; i < x->req.nheaders; i++)
		if (!(x->req.headers[i].flags & HTTP_HDR_DROP) &&
		    slice_ieq(x->req.headers[i].name, lower))
			return true;
	return false;
}

/* Whether Content-Type's media type (without parameters) is listed;
 * without a list, text/html only. */
static bool type_listed(const struct exchange *x, const struct conf_gzip *g)
{
	const struct http_header *h = coding_field(x, "content-type");
	static const char *const html[] = { "text/html" };
	const char *const *types = g->types ? (const char *const *)g->types->types : html;
	unsigned i, n = g->types ? g->types->n : 1;
	struct slice mt;
	const char *semi;

	if (g->types != NULL && g->types->any)
		return true;
	if (h == NULL)
		return false;
	semi = memchr(h->value.p, ';', h->value.len);
	mt = slice_trim((struct slice){ h->value.p, semi ? (size_t)(semi - h->value.p)
							 : h->value.len });
	for (i = 0; i < n; i++)
		if (slice_ieq(mt, types[i]))
			return true;
	return false;
}

/* gzip_proxied: a request that came through another proxy (Via) gets a
 * compressed answer only when a listed condition holds. */
static bool proxied_allowed(const struct exchange *x, unsigned proxied,
			    const struct http_cc *cc)
{
	if (!req_has(x, "via") || (proxied & GZIP_PROXIED_ANY))
		return true;
	return ((proxied & GZIP_PROXIED_EXPIRED) && coding_field(x, "expires") != NULL) ||
	       ((proxied & GZIP_PROXIED_NO_CACHE) && (cc->flags & CC_NO_CACHE)) ||
	       ((proxied & GZIP_PROXIED_NO_STORE) && (cc->flags & CC_NO_STORE)) ||
	       ((proxied & GZIP_PROXIED_PRIVATE) && (cc->flags & CC_PRIVATE)) ||
	       ((proxied & GZIP_PROXIED_NO_LM) && coding_field(x, "last-modified") == NULL) ||
	       ((proxied & GZIP_PROXIED_NO_ETAG) && coding_field(x, "etag") == NULL) ||
	       ((proxied & GZIP_PROXIED_AUTH) && req_has(x, "authorization"));
}

/* Whether the response would be compressed for a client that accepts
 * gzip: then its Vary names Accept-Encoding, whoever asked. */
static bool may_compress(const struct exchange *x, const struct conf_gzip *g)
{
	const struct http_message *r = &x->resp;
	struct http_cc cc;

	if (!coding_body_recodable(x) || req_has(x, "range") ||
	    coding_field(x, "content-encoding") != NULL || x->body_view != NULL)
		return false;
	if (r->framing == HTTP_BODY_LENGTH && r->content_length < g->min_length)
		return false;
	if (!type_listed(x, g))
		return false;
	http_cc_parse(r, &cc);
	return proxied_allowed(x, g->proxied, &cc);
}

/* A stream at level, kept or new; NULL when out of memory (logged). */
static struct gzip_state *stream_get(struct exchange *x, unsigned level)
{
	struct gzip_state *g = kept;
	int r;

	if (g != NULL) {
		kept = g->next_free;
		nkept--;
		if (g->level != level && deflateParams(&g->z, (int)level, Z_DEFAULT_STRATEGY) != Z_OK) {
			deflateEnd(&g->z);
			free(g);
			g = NULL;
		} else {
			g->level = level;
			return g;
		}
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "gzip: no memory for a stream");
		return NULL;
	}
	r = deflateInit2(&g->z, (int)level, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY);
	if (r != Z_OK) {
		exchange_log(x, LL_ERROR, 0, "gzip: deflateInit2 failed (%d)", r);
		free(g);
		return NULL;
	}
	g->level = level;
	return g;
}

/* The stream of an ended exchange: kept, reset, or freed. */
static void stream_put(struct gzip_state *g)
{
	unsigned i;

	for (i = 0; i < BODY_EMIT_MAX; i++) {
		buf_put(g->out[i]);
		g->out[i] = NULL;
	}
	if (nkept < GZIP_KEPT_MAX && deflateReset(&g->z) == Z_OK) {
		g->next_free = kept;
		kept = g;
		nkept++;
		return;
	}
	deflateEnd(&g->z);
	free(g);
}

/* The next output buffer of this piece; false when it has used them all. */
static bool next_out(struct gzip_state *g)
{
	struct buf *b;

	if (g->nused == BODY_EMIT_MAX)
		return false;
	if (g->out[g->nused] == NULL && (g->out[g->nused] = buf_get()) == NULL)
		return false;
	b = g->out[g->nused++];
	g->z.next_out = (Bytef *)b->start;
	g->z.avail_out = (uInt)(b->end - b->start);
	return true;
}

/* Deflate data with flush (Z_NO_FLUSH: until all of it is taken;
 * Z_SYNC_FLUSH, Z_FINISH: until everything is out). */
static int deflate_piece(struct exchange *x, struct gzip_state *g, struct slice data, int flush)
{
	int r;

	g->z.next_in = (Bytef *)(uintptr_t)data.p;
	g->z.avail_in = (uInt)data.len;
	for (;;) {
		if (g->z.avail_out == 0 && !next_out(g)) {
			exchange_log(x, LL_ERROR, 0, "gzip: no buffer for compressed output");
			return P_ERROR;
		}
		r = deflate(&g->z, flush);
		if (r == Z_STREAM_ERROR) {
			exchange_log(x, LL_ERROR, 0, "gzip: deflate failed (%s)",
				     g->z.msg ? g->z.msg : "stream error");
			return P_ERROR;
		}
		if (flush == Z_FINISH ? r == Z_STREAM_END
				      : g->z.avail_in == 0 &&
					(flush == Z_NO_FLUSH || g->z.avail_out != 0))
			return P_OK;
	}
}

/* What this piece filled of the buffers, emitted in order. */
static int emit_output(struct gzip_state *g, struct body_out *out)
{
	unsigned i;

	for (i = 0; i < g->nused; i++) {
		struct buf *b = g->out[i];
		char *end = i + 1 == g->nused ? (char *)g->z.next_out : b->end;

		if (end > b->start && body_emit(out, (struct slice){ b->start,
					(size_t)(end - b->start) }) != P_OK)
			return P_ERROR;
	}
	return P_OK;
}

static int gzip_filter(struct exchange *x, void *state, const struct body_out *in, bool last,
		       struct body_out *out)
{
	struct gzip_state *g = state;
	unsigned i;

	g->nused = 0;
	g->z.avail_out = 0;
	for (i = 0; i < in->n; i++)
		if (deflate_piece(x, g, in->s[i], Z_NO_FLUSH) != P_OK)
			return P_ERROR;
	if (deflate_piece(x, g, (struct slice){ NULL, 0 }, last ? Z_FINISH : Z_SYNC_FLUSH) != P_OK)
		return P_ERROR;
	return emit_output(g, out);
}

static int gzip_head(struct exchange *x)
{
	const struct conf_gzip *c = coding_conf(x);
	struct gzip_state *g = x->gzip;
	int r = 0;

	if (c == NULL || !c->on || !may_compress(x, c))
		return P_OK;
	/* Not for this client: the answer still depends on Accept-Encoding
	 * (a field of its own, as there is no stream to keep a merged one) */
	if (!http_accepts_gzip(&x->req))
		return coding_add_vary(x, NULL) == 0 ? P_OK : P_ERROR;
	if (g == NULL) {
		if ((g = x->gzip = stream_get(x, c->level)) == NULL)
			return P_ERROR;
	} else if (deflateReset(&g->z) != Z_OK) {
		/* the head again, for an answer of portico's own */
		exchange_log(x, LL_ERROR, 0, "gzip: deflateReset failed");
		return P_ERROR;
	}
	exchange_drop_field(x, "accept-ranges");
	r |= coding_add_vary(x, &g->fields);
	r |= coding_weaken_etag(x, &g->fields);
	r |= exchange_add_field(x, SLICE_LIT("Content-Encoding"), SLICE_LIT("gzip"));
	if (r != 0 || exchange_add_body_filter(x, (struct body_filter){ gzip_filter, g, false }) < 0)
		return P_ERROR;
	return P_OK;
}

static void gzip_end(struct exchange *x)
{
	if (x->gzip == NULL)
		return;
	stream_put(x->gzip);
	x->gzip = NULL;
}

const struct module gzip_module = {
	.name = "gzip",
	.response_head = gzip_head,
	.end = gzip_end,
};
