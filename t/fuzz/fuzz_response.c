/*
 * fuzz_response.c: libFuzzer target for the response side of the parser.
 *
 * The first input byte picks the method of the request being answered
 * (odd, like 'G': GET; even, like 'H': HEAD); the rest is what a backend
 * sent. http_head_scan looks for the end of the head (whole, split, byte
 * by byte), http_parse_response parses the whole of it and, as the worker
 * does, the head alone; with chunked framing the bytes after the head go
 * through the chunked decoder. Any broken invariant aborts. See `make fuzz`.
 */
#include "fuzz_common.h"

static void check_response(const char *buf, size_t len, const struct http_message *m,
			   int rc, int method)
{
	unsigned ncl, nte;
	int base, s;

	CHECK(rc == P_OK || rc == 502);
	if (rc != P_OK)
		return;
	check_head(buf, len, m);
	s = m->status;
	CHECK(s >= 100 && s <= 599);
	CHECK(in_buf(m->reason, buf, m->head_len));
	CHECK(m->reason.p >= buf + 12);

	/* framing, and content_length consistent with it */
	ncl = count_cl(m, &nte);
	if (nte) {
		CHECK(ncl == 0 && m->version == 11 && m->content_length == 0);
		base = HTTP_BODY_CHUNKED;
	} else if (ncl) {
		base = HTTP_BODY_LENGTH;
	} else {
		CHECK(m->content_length == 0);
		base = HTTP_BODY_EOF;
	}
	if (method == HTTP_HEAD || s < 200 || s == 204 || s == 304)
		CHECK(m->framing == HTTP_BODY_NONE);
	else
		CHECK(m->framing == base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_message m, mh, ms;
	const char *buf = (const char *)data + 1;
	uint32_t rng = fuzz_seed(data, size);
	struct http_limits small;
	int method, rc, rh, rs;
	long end;

	if (size < 1)
		return 0;
	method = (data[0] & 1) ? HTTP_GET : HTTP_HEAD;
	size--;

	end = check_scan(buf, size, &rng);

	rc = http_parse_response(buf, size, &m, &fuzz_lim, method);
	check_response(buf, size, &m, rc, method);

	/* the head alone, as the worker calls it: the same answer */
	if (end > 0) {
		char *head = dup_exact(buf, (size_t)end);

		rh = http_parse_response(head, (size_t)end, &mh, &fuzz_lim, method);
		check_response(head, (size_t)end, &mh, rh, method);
		CHECK(rh == rc);
		if (rc == P_OK)
			CHECK(same_message(&mh, &m));
		free(head);
	}
	if (rc == P_OK)
		CHECK(end == (long)m.head_len);

	/* tighter limits never turn a refusal into an acceptance */
	small = small_limits(&rng);
	rs = http_parse_response(buf, size, &ms, &small, method);
	check_response(buf, size, &ms, rs, method);
	if (rs == P_OK)
		CHECK(rc == P_OK && ms.head_len == m.head_len && ms.framing == m.framing);

	if (rc == P_OK && m.framing == HTTP_BODY_CHUNKED)
		check_chunked(buf + m.head_len, size - m.head_len, rng);
	return 0;
}
