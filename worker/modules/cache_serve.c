/*
 * cache_serve.c: answering from the store: the stored head, with Age and
 * the length, the body written out from the zone where it lies; 304 to a
 * conditional request the stored answer satisfies, 206 to a range of it.
 */
#include "config.h"

#include <stdio.h>

#include "log.h"
#include "http_cond.h"
#include "modules/cache_state.h"

/* The pump's view of the stored body: runs of blocks lent in place; the
 * last bytes copied, once the reader has checked that everything sent
 * before them was still this answer's (cache_store.h, cs_view). */
static ssize_t lend_body(void *arg, uint64_t remaining, const char **p)
{
	struct exchange *x = arg;
	struct cache_state *st = x->cache;
	ssize_t n;

	if (!cs_reader_valid(st->cs, &st->r)) {
		exchange_log(x, LL_WARN, 0, "cache \"%s\": an answer was evicted while being sent",
			     st->zone->name);
		return P_ERROR;
	}
	if (remaining > PUMP_VIEW_TAIL)
		return cs_view(st->cs, &st->r, remaining - PUMP_VIEW_TAIL, p);
	n = cs_read(st->cs, &st->r, st->tail, remaining);
	*p = st->tail;
	return n == (ssize_t)remaining ? n : P_ERROR;
}

static int serve_run(struct exchange *x)
{
	int r = exchange_send_body(x);

	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_OK) {
		exchange_end(x, TERM_NORMAL);
	} else if (x->resp_pump.fault == PUMP_DST_ERROR) {
		exchange_log(x, LL_INFO, x->client.conn->err, "client closed while receiving the "
			     "response");
		exchange_end(x, TERM_CLIENT);
	} else {
		x->abort_client = true;
		exchange_end(x, TERM_RESOURCE);
	}
	return P_OK;
}

static const struct content serve_content = {
	.name = "cache",
	.run = serve_run,
};

/* Skip the first n bytes of the body (a range further on). */
static bool skip(struct cache_state *st, uint64_t n)
{
	const char *p;

	while (n > 0) {
		ssize_t got = cs_view(st->cs, &st->r, n, &p);

		if (got <= 0)
			return false;
		n -= (uint64_t)got;
	}
	return true;
}

/* What a 304 keeps of the stored head (RFC 9110 15.4.5). */
static bool kept_in_304(struct slice name)
{
	return slice_ieq(name, "cache-control") || slice_ieq(name, "content-location") ||
	       slice_ieq(name, "date") || slice_ieq(name, "etag") || slice_ieq(name, "expires") ||
	       slice_ieq(name, "vary") || slice_ieq(name, "last-modified");
}

/* Which answer the request gets of the stored one. */
enum shape { WHOLE, NOT_MODIFIED, PART, UNSATISFIABLE };

static enum shape shape_of(const struct exchange *x, const struct cache_state *st,
			   uint64_t *first, uint64_t *last)
{
	const struct http_message *m = &x->resp;
	struct slice etag = http_header_value(m, "etag");
	struct slice modified = http_header_value(m, "last-modified");

	if (m->status / 100 == 2 && http_not_modified(&x->req, etag, modified))
		return NOT_MODIFIED;
	if (x->req.method_id != HTTP_GET || m->status != 200)
		return WHOLE;
	switch (http_range(&x->req, st->meta.body_len, etag, modified, first, last)) {
	case HTTP_RANGE_PART:
		return PART;
	case HTTP_RANGE_UNSATISFIABLE:
		return UNSATISFIABLE;
	default:
		return WHOLE;
	}
}

/* A field whose value is text kept in st (it must outlive the head). */
static void add_text_field(struct exchange *x, const char *name, const char *text, int n)
{
	if (n > 0)
		exchange_add_field(x, (struct slice){ name, strlen(name) },
				   (struct slice){ text, (size_t)n });
}

static void shape_answer(struct exchange *x, struct cache_state *st, enum shape how,
			 uint64_t first, uint64_t last)
{
	struct http_message *m = &x->resp;
	unsigned long long len = st->meta.body_len;
	unsigned i;

	m->framing = HTTP_BODY_LENGTH;
	m->content_length = len;
	switch (how) {
	case NOT_MODIFIED:
		m->status = 304;
		m->reason = SLICE_LIT("Not Modified");
		m->framing = HTTP_BODY_NONE;
		for (i = 0; i < m->nheaders; i++)
			if (!kept_in_304(m->headers[i].name))
				m->headers[i].flags |= HTTP_HDR_DROP;
		return;
	case PART:
		m->status = 206;
		m->reason = SLICE_LIT("Partial Content");
		m->content_length = last - first + 1;
		add_text_field(x, "Content-Range", st->range_text,
			       snprintf(st->range_text, sizeof(st->range_text), "bytes %llu-%llu/%llu",
					(unsigned long long)first, (unsigned long long)last, len));
		break;
	case UNSATISFIABLE:
		m->status = 416;
		m->reason = SLICE_LIT("Range Not Satisfiable");
		m->content_length = 0;
		add_text_field(x, "Content-Range", st->range_text,
			       snprintf(st->range_text, sizeof(st->range_text), "bytes */%llu", len));
		break;
	case WHOLE:
		break;
	}
	add_text_field(x, "Content-Length", st->length_text,
		       snprintf(st->length_text, sizeof(st->length_text), "%llu",
				(unsigned long long)m->content_length));
	if (x->req.method_id == HTTP_HEAD)
		m->framing = HTTP_BODY_NONE;
}

/* The stored head, read and parsed into x->resp (its fields point into
 * st->head, which lives as long as the exchange). */
static bool read_head(struct exchange *x, struct cache_state *st)
{
	size_t len = st->meta.head_len;

	if (st->head == NULL && (st->head = buf_get()) == NULL)
		return false;
	if (len > (size_t)(st->head->end - st->head->start) ||
	    cs_read(st->cs, &st->r, st->head->start, len) != (ssize_t)len)
		return false;
	if (http_parse_response(st->head->start, len, &x->resp, &x->ctx->head_limits,
				x->req.method_id) != P_OK) {
		exchange_log(x, LL_ERROR, 0, "cache \"%s\": a stored head does not parse",
			     st->zone->name);
		return false;
	}
	return true;
}

/* Take the exchange from whoever had it: the answer comes from here,
 * its body lent by the zone (what a server sent with its head goes). */
static void take_over(struct exchange *x)
{
	exchange_set_content(x, &serve_content);
	x->own_answer = false;
	x->body_src = NULL;
	x->nfilters = 0;
	x->nadded = 0;
	buf_put(x->body_in);
	x->body_in = NULL;
	x->body_view = lend_body;
	x->body_view_arg = x;
}

/* A body this small is copied whole, to leave with the head in one write:
 * lent bytes need a second write for the last ones (lend_body). */
#define COPY_MAX 16384

/* Copy a small body out of the zone; false when it was evicted meanwhile
 * (or no buffer is left). */
static bool copy_small_body(struct exchange *x, struct cache_state *st)
{
	size_t len = (size_t)x->resp.content_length;

	if ((x->body_in = buf_get()) == NULL)
		return false;
	if (cs_read(st->cs, &st->r, x->body_in->start, len) != (ssize_t)len) {
		buf_put(x->body_in);
		x->body_in = NULL;
		return false;
	}
	x->body_in->last += len;
	x->body_view = NULL;
	return true;
}

bool cache_serve(struct exchange *x, struct cache_state *st)
{
	uint64_t first = 0, last = 0;
	enum shape how;
	int64_t age;

	if (!read_head(x, st))
		return false;
	how = shape_of(x, st, &first, &last);
	if (how == PART && !skip(st, first))
		return false;
	take_over(x);
	shape_answer(x, st, how, first, last);
	if (x->resp.framing == HTTP_BODY_LENGTH && x->resp.content_length <= COPY_MAX &&
	    !copy_small_body(x, st)) {
		/* the caller fetches it instead */
		x->nadded = 0;
		x->body_view = NULL;
		return false;
	}
	age = MAX(cache_meta_age(&st->meta, cache_now()), (int64_t)0);
	add_text_field(x, "Age", st->age_text,
		       snprintf(st->age_text, sizeof(st->age_text), "%lld", (long long)age));
	x->status = x->resp.status;
	exchange_goto(x, PH_RESPONSE_HEAD);
	return true;
}
