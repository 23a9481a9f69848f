/*
 * gunzip.c: gzip answers inflated for the clients that cannot take them,
 * as nginx's gunzip module does it, so servers may store compressed only.
 *
 * The head filter decides: the response says Content-Encoding: gzip and
 * nothing else, has a body that may be recoded (content_coding.h), and
 * the client does not accept gzip. Such an answer depends on
 * Accept-Encoding whoever asked, so Vary names it for every client (a
 * cache keeps one variant each). For a client without gzip it drops
 * Content-Encoding and Content-Length (dispatch.c frames the body as
 * chunked, or by closing for HTTP/1.0), Accept-Ranges (ranges of the
 * inflated bytes are not the server's), and makes a strong ETag weak.
 *
 * The body filter inflates into one buffer of its own: when the buffer
 * fills before the input is used up, it emits it and says P_AGAIN, and
 * goes on once the client has taken it (exchange.h), so a small body
 * that inflates to gigabytes costs zlib's window and that buffer, and
 * comes out at the client's pace. Members of a multi-member body are
 * inflated in turn. A body that is not gzip, or ends before its stream
 * does, stops the answer there: the client sees it cut short (no last
 * chunk, or the connection closed early), and the error log says why,
 * once.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "gunzip.h"
#include "http_coding.h"
#include "log.h"
#include "modules/content_coding.h"

#define GUNZIP_WINDOW_BITS (15 + 16)	/* any window, gzip wrapper only */
#define GUNZIP_KEPT_MAX 8		/* idle streams a worker keeps */

struct gunzip_state {
	z_stream z;
	struct buf *out;		/* inflated output of one call */
	struct slice in[BODY_EMIT_MAX];	/* the input of the call that began it */
	unsigned nin, next_in;		/* ... how many, the next one to take */
	bool started;			/* a byte of the body came */
	bool member_ended;		/* the last member's end was read */
	struct coding_fields fields;
	struct gunzip_state *next_free;
};

/* Streams of ended exchanges, reset for the next one. */
static struct gunzip_state *kept;
static unsigned nkept;

/* A stream, kept or new; NULL when out of memory (logged). */
static struct gunzip_state *stream_get(struct exchange *x)
{
	struct gunzip_state *g = kept;
	int r;

	if (g != NULL) {
		kept = g->next_free;
		nkept--;
		return g;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "gunzip: no memory for a stream");
		return NULL;
	}
	if ((r = inflateInit2(&g->z, GUNZIP_WINDOW_BITS)) != Z_OK) {
		exchange_log(x, LL_ERROR, 0, "gunzip: inflateInit2 failed (%d)", r);
		free(g);
		return NULL;
	}
	return g;
}

/* The stream of an ended exchange: kept, reset, or freed. */
static void stream_put(struct gunzip_state *g)
{
	buf_put(g->out);
	g->out = NULL;
	if (nkept < GUNZIP_KEPT_MAX && inflateReset(&g->z) == Z_OK) {
		g->next_free = kept;
		kept = g;
		nkept++;
		return;
	}
	inflateEnd(&g->z);
	free(g);
}

/* Ready for a new body: the stream from its start, no input. */
static int stream_start(struct gunzip_state *g)
{
	g->nin = g->next_in = 0;
	g->z.avail_in = 0;
	g->started = g->member_ended = false;
	return inflateReset(&g->z) == Z_OK ? P_OK : P_ERROR;
}

/* The server's body is not what it says: the answer stops here. */
static int corrupt(struct exchange *x, const char *why)
{
	exchange_log(x, LL_ERROR, 0, "gunzip: the gzip body from %s%s %s; the response is "
		     "cut short", x->upstream_addr ? "upstream " : "the cache",
		     x->upstream_addr ? x->upstream_addr : "", why);
	exchange_verdict(x, TERM_SERVER);
	return P_ERROR;
}

/* Move zlib's input on to the next slice of the call's input; false
 * when there is none left. */
static bool next_input(struct gunzip_state *g)
{
	while (g->z.avail_in == 0 && g->next_in < g->nin) {
		struct slice s = g->in[g->next_in++];

		g->z.next_in = (Bytef *)(uintptr_t)s.p;
		g->z.avail_in = (uInt)s.len;
	}
	return g->z.avail_in > 0;
}

/* Inflate what input there is into the output buffer: P_OK when the
 * input is used up, P_AGAIN when the buffer is full first. */
static int inflate_input(struct exchange *x, struct gunzip_state *g)
{
	int r;

	for (;;) {
		bool have_input = next_input(g);

		if (g->z.avail_out == 0)
			return P_AGAIN;
		if (g->member_ended) {
			if (!have_input)
				return P_OK;
			/* another member follows (RFC 1952 2.2) */
			if (inflateReset(&g->z) != Z_OK)
				return corrupt(x, "could not be read on (inflateReset)");
			g->member_ended = false;
		}
		g->started = g->started || have_input;
		r = inflate(&g->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			g->member_ended = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return corrupt(x, g->z.msg ? g->z.msg : "is not gzip");
		else if (g->z.avail_out > 0 && g->z.avail_in == 0 && g->next_in == g->nin)
			return P_OK;	/* all input taken, no output held back */
		else if (r == Z_BUF_ERROR && g->z.avail_out > 0 && g->z.avail_in > 0)
			return corrupt(x, "could not be inflated further");
	}
}

static int gunzip_filter(struct exchange *x, void *state, const struct body_out *in, bool last,
			 struct body_out *out)
{
	struct gunzip_state *g = state;
	int r;

	if (in->n > 0) {
		memcpy(g->in, in->s, in->n * sizeof(in->s[0]));
		g->nin = in->n;
		g->next_in = 0;
	}
	g->z.next_out = (Bytef *)g->out->start;
	g->z.avail_out = (uInt)(g->out->end - g->out->start);
	r = inflate_input(x, g);
	if (r == P_ERROR)
		return P_ERROR;
	if ((char *)g->z.next_out > g->out->start &&
	    body_emit(out, (struct slice){ g->out->start,
					   (size_t)((char *)g->z.next_out - g->out->start) }) != P_OK)
		return P_ERROR;
	if (r == P_AGAIN)
		return P_AGAIN;
	/* An empty body stays empty; one that stops inside its stream is cut. */
	if (last && g->started && !g->member_ended)
		return corrupt(x, "ends before its gzip stream does");
	return P_OK;
}

/* Content-Encoding is gzip, in one field, with no other coding. */
static bool encoded_gzip_alone(const struct exchange *x)
{
	const struct http_header *h = coding_field(x, "content-encoding");
	unsigned i, n = 0;

	if (h == NULL || !slice_ieq(slice_trim(h->value), "gzip"))
		return false;
	for (i = 0; i < x->resp.nheaders; i++)
		n += !(x->resp.headers[i].flags & HTTP_HDR_DROP) &&
		     slice_ieq(x->resp.headers[i].name, "content-encoding");
	return n == 1;
}

/* The head for an inflated body; P_OK, or P_ERROR (logged by the caller). */
static int edit_head(struct exchange *x, struct gunzip_state *g)
{
	int r = 0;

	exchange_drop_field(x, "content-encoding");
	exchange_drop_field(x, "accept-ranges");
	r |= coding_add_vary(x, &g->fields);
	r |= coding_weaken_etag(x, &g->fields);
	return r == 0 ? P_OK : P_ERROR;
}

static int gunzip_head(struct exchange *x)
{
	const struct conf_gzip *c = coding_conf(x);
	struct gunzip_state *g = x->gunzip;

	if (c == NULL || !c->gunzip || !coding_body_recodable(x) || !encoded_gzip_alone(x))
		return P_OK;
	if (http_accepts_gzip(&x->req))
		return coding_add_vary(x, NULL) == 0 ? P_OK : P_ERROR;
	/* a second head (an answer of portico's own) reuses the stream */
	if (g == NULL && (g = x->gunzip = stream_get(x)) == NULL)
		return P_ERROR;
	if (g->out == NULL && (g->out = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "gunzip: no buffer for inflated output");
		return P_ERROR;
	}
	if (stream_start(g) != P_OK) {
		exchange_log(x, LL_ERROR, 0, "gunzip: inflateReset failed");
		return P_ERROR;
	}
	if (edit_head(x, g) != P_OK ||
	    exchange_add_body_filter(x, (struct body_filter){ gunzip_filter, g, false }) < 0)
		return P_ERROR;
	return P_OK;
}

static void gunzip_end(struct exchange *x)
{
	if (x->gunzip == NULL)
		return;
	stream_put(x->gunzip);
	x->gunzip = NULL;
}

const struct module gunzip_module = {
	.name = "gunzip",
	.response_head = gunzip_head,
	.end = gunzip_end,
};
