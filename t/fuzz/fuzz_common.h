/*
 * fuzz_common.h: what the two libFuzzer targets share: invariant checks
 * on parsed heads, head scanning whole against split, and the chunked
 * decoder fed whole, in pieces and byte by byte.
 *
 * A broken invariant aborts, so libFuzzer reports it as a crash. Every
 * call that the library could read past the end of is given an exact-size
 * heap copy, so AddressSanitizer sees any overread.
 */
#ifndef PORTICO_FUZZ_COMMON_H
#define PORTICO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
			#cond, __FILE__, __LINE__);			\
		abort();						\
	}								\
} while (0)

/* The limits the brief and the worker's defaults use. */
static const struct http_limits fuzz_lim = { 8192, 8192, 32768 };

/* Reproducible "random" choices, derived from the input. */
static uint32_t fuzz_seed(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h ? h : 1;
}

static uint32_t fuzz_rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Limits small enough to reach the 414 and 431 paths. */
static struct http_limits small_limits(uint32_t *rng)
{
	struct http_limits l;

	l.max_request_line = 1 + fuzz_rnd(rng) % 128;
	l.max_header_line = 1 + fuzz_rnd(rng) % 128;
	l.max_head = 1 + fuzz_rnd(rng) % 512;
	return l;
}

/* Two parses of one head agree on all the worker acts on. */
static int same_message(const struct http_message *a, const struct http_message *b)
{
	return a->head_len == b->head_len && a->framing == b->framing &&
	       a->content_length == b->content_length &&
	       a->nheaders == b->nheaders && a->version == b->version &&
	       a->status == b->status && a->conn_flags == b->conn_flags;
}

static char *dup_exact(const char *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	CHECK(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

static int in_buf(struct slice s, const char *b, size_t n)
{
	return s.p >= b && s.len <= n && s.p <= b + n - s.len;
}

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * http_head_scan: whole, split in two at a data-derived point (the first
 * part an exact copy, as when the buffer grows), and byte by byte must
 * all give the same answer. Returns it.
 */
static long check_scan(const char *buf, size_t len, uint32_t *rng)
{
	size_t sc = 0, k, before;
	long whole, r;
	char *part;

	whole = http_head_scan(buf, len, &sc);
	CHECK(whole >= -1 && whole <= (long)len);
	if (whole == 0)
		CHECK(sc <= len);
	if (whole > 0) {
		CHECK(whole >= 4 && (size_t)whole == sc);
		CHECK(memcmp(buf + whole - 4, "\r\n\r\n", 4) == 0);
	}

	k = len ? fuzz_rnd(rng) % (len + 1) : 0;
	part = dup_exact(buf, k);
	sc = 0;
	r = http_head_scan(part, k, &sc);
	free(part);
	CHECK(sc <= k);
	if (r == 0)
		r = http_head_scan(buf, len, &sc);
	CHECK(r == whole);

	sc = 0;
	r = 0;
	for (k = 0; k <= len && r == 0; k++) {
		before = sc;
		r = http_head_scan(buf, k, &sc);
		CHECK(sc >= before && sc <= k);
	}
	CHECK(r == whole);
	return whole;
}

/* Invariants of any successfully parsed head in buf[0..len). */
static void check_head(const char *buf, size_t len, const struct http_message *m)
{
	size_t hl = m->head_len, sc = 0;
	unsigned i;

	CHECK(hl >= 4 && hl <= len);
	CHECK(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
	/* the worker moves on by what the scan found: they must agree */
	CHECK(http_head_scan(buf, len, &sc) == (long)hl);
	CHECK(m->version == 10 || m->version == 11);
	CHECK(m->nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < m->nheaders; i++) {
		const struct http_header *h = &m->headers[i];
		size_t j;

		CHECK(in_buf(h->name, buf, hl) && in_buf(h->value, buf, hl));
		CHECK(h->name.len > 0 && h->name.p[h->name.len] == ':');
		for (j = 0; j < h->name.len; j++)
			CHECK(is_tchar((unsigned char)h->name.p[j]));
		for (j = 0; j < h->value.len; j++) {
			unsigned char c = (unsigned char)h->value.p[j];

			CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h->value.len) {
			CHECK(h->value.p[0] != ' ' && h->value.p[0] != '\t');
			CHECK(h->value.p[h->value.len - 1] != ' ' &&
			      h->value.p[h->value.len - 1] != '\t');
		}
		CHECK((h->id == HDR_CONTENT_LENGTH) == slice_ieq(h->name, "content-length"));
		CHECK((h->id == HDR_TRANSFER_ENCODING) == slice_ieq(h->name, "transfer-encoding"));
		CHECK((h->id == HDR_HOST) == slice_ieq(h->name, "host"));
		if (h->id == HDR_TRANSFER_ENCODING)
			CHECK(h->flags & HTTP_HDR_HOP);
	}
	if (m->framing == HTTP_BODY_EOF)
		CHECK(!http_keep_alive(m));
	else
		(void)http_keep_alive(m);
}

/* Count Content-Length fields, all values equal to *cl (plain digits). */
static unsigned count_cl(const struct http_message *m, unsigned *nte)
{
	unsigned i, ncl = 0;

	*nte = 0;
	for (i = 0; i < m->nheaders; i++) {
		const struct http_header *h = &m->headers[i];

		if (h->id == HDR_TRANSFER_ENCODING)
			(*nte)++;
		if (h->id == HDR_CONTENT_LENGTH) {
			uint64_t v = 0;
			size_t j;

			CHECK(h->value.len > 0);
			for (j = 0; j < h->value.len; j++) {
				unsigned d = (unsigned char)h->value.p[j] - '0';

				CHECK(d <= 9 && v <= (UINT64_MAX - d) / 10);
				v = v * 10 + d;
			}
			CHECK(v == m->content_length && v <= (uint64_t)INT64_MAX);
			/* only the first of identical copies is forwarded */
			CHECK(!(h->flags & HTTP_HDR_HOP) == (ncl == 0));
			ncl++;
		}
	}
	return ncl;
}

/*
 * Chunked decoder
 */

enum { FEED_WHOLE, FEED_PIECES, FEED_BYTES };

struct dec_result {
	int rc;			/* P_DONE, P_ERROR, or P_AGAIN: input ran out */
	size_t used;		/* where it stopped */
	size_t outlen;
};

/*
 * Feed in[0..len) as a worker would: bytes arrive in pieces, and the
 * decoder is called on what it has not consumed yet, each call on an
 * exact-size copy. Payload is appended to out (len bytes at least).
 */
static void decode(const char *in, size_t len, int mode, uint32_t rng,
		   char *out, struct dec_result *res)
{
	struct http_chunked c;
	size_t pos = 0, avail = 0, n, used;
	struct slice d;
	char *tmp;
	int rc;

	http_chunked_init(&c);
	res->outlen = 0;
	for (;;) {
		if (pos == avail && avail < len) {
			if (mode == FEED_WHOLE)
				avail = len;
			else if (mode == FEED_BYTES)
				avail++;
			else {
				uint32_t r = fuzz_rnd(&rng);

				avail += (r & 7) ? 1 + (r >> 3) % 16 : 1 + (r >> 3) % (len + 1);
			}
			if (avail > len)
				avail = len;
		}
		n = avail - pos;
		tmp = dup_exact(in + pos, n);
		used = (size_t)-1;
		d.p = NULL;
		d.len = (size_t)-1;
		rc = http_chunked_decode(&c, tmp, n, &used, &d);
		CHECK(used <= n);
		if (rc == HTTP_CHUNK_DATA) {
			CHECK(d.len > 0 && d.p >= tmp && d.len <= used &&
			      d.p <= tmp + used - d.len);
			CHECK(res->outlen + d.len <= len);
			memcpy(out + res->outlen, d.p, d.len);
			res->outlen += d.len;
		} else {
			CHECK(rc == P_AGAIN || rc == P_DONE || rc == P_ERROR);
			CHECK(d.len == 0);
			if (rc == P_AGAIN)
				CHECK(used == n);
		}
		free(tmp);
		pos += used;
		if (rc == P_DONE || rc == P_ERROR)
			break;
		if (pos == len && rc == P_AGAIN)
			break;
	}
	res->rc = rc;
	res->used = pos;

	/* the end, and an error, are sticky; running dry stays dry */
	tmp = dup_exact(in + pos, len - pos);
	used = (size_t)-1;
	CHECK(http_chunked_decode(&c, tmp, len - pos, &used, &d) == rc);
	CHECK(used == (rc == P_AGAIN ? len - pos : 0));
	free(tmp);
}

/*
 * The body after a head with chunked framing: whole, in data-derived
 * pieces and byte by byte, the decoder must agree on the payload, the
 * outcome and where it stopped.
 */
static void check_chunked(const char *body, size_t len, uint32_t rng)
{
	char *o1 = malloc(len + 1), *o2 = malloc(len + 1), *o3 = malloc(len + 1);
	struct dec_result r1, r2, r3;

	CHECK(o1 && o2 && o3);
	decode(body, len, FEED_WHOLE, rng, o1, &r1);
	decode(body, len, FEED_PIECES, rng, o2, &r2);
	decode(body, len, FEED_BYTES, rng, o3, &r3);
	CHECK(r1.rc == r2.rc && r1.rc == r3.rc);
	CHECK(r1.used == r2.used && r1.used == r3.used);
	CHECK(r1.outlen == r2.outlen && r1.outlen == r3.outlen);
	CHECK(memcmp(o1, o2, r1.outlen) == 0 && memcmp(o1, o3, r1.outlen) == 0);
	CHECK(r1.outlen <= r1.used);
	if (r1.rc == P_DONE)
		CHECK(r1.used >= 5 && memcmp(body + r1.used - 2, "\r\n", 2) == 0);
	free(o1);
	free(o2);
	free(o3);
}

#endif
