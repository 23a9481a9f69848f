/*
 * fuzz_request.c: libFuzzer target for the request side of the parser.
 *
 * The input is what a client sent: http_head_scan looks for the end of the
 * head (whole, split, byte by byte), http_parse_request parses the whole
 * input and, as the worker does, the head alone; when the request has
 * chunked framing, the bytes after the head go through the chunked decoder.
 * Any broken invariant aborts. See `make fuzz`.
 */
#include "fuzz_common.h"

static int request_status_ok(int rc)
{
	return rc == P_OK || rc == 400 || rc == 414 || rc == 417 ||
	       rc == 431 || rc == 501 || rc == 505;
}

static void check_request(const char *buf, size_t len, const struct http_message *m, int rc)
{
	unsigned i, ncl, nte, nhost = 0;

	CHECK(request_status_ok(rc));
	if (rc != P_OK)
		return;
	check_head(buf, len, m);
	CHECK(in_buf(m->method, buf, m->head_len) && m->method.len > 0);
	CHECK(in_buf(m->target, buf, m->head_len) && m->target.len > 0);
	CHECK(in_buf(m->query, buf, m->head_len));
	/* path: a slice of the target, or "/" for an absolute URI without one */
	CHECK(in_buf(m->path, m->target.p, m->target.len) ||
	      (m->path.len == 1 && m->path.p[0] == '/'));
	CHECK(m->host.len == 0 || in_buf(m->host, buf, m->head_len));
	CHECK(m->method_id <= HTTP_PATCH);
	if (m->expect_continue)
		CHECK(m->version == 11);

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].id == HDR_HOST)
			nhost++;
	CHECK(nhost <= 1);
	if (m->version == 11)
		CHECK(nhost == 1);

	/* framing, and content_length consistent with it */
	ncl = count_cl(m, &nte);
	CHECK(ncl <= 1);
	switch (m->framing) {
	case HTTP_BODY_NONE:
		CHECK(nte == 0 && m->content_length == 0);
		break;
	case HTTP_BODY_LENGTH:
		CHECK(nte == 0 && ncl == 1);
		CHECK(m->content_length > 0 && m->content_length <= (uint64_t)INT64_MAX);
		break;
	case HTTP_BODY_CHUNKED:
		CHECK(nte > 0 && ncl == 0 && m->content_length == 0 && m->version == 11);
		break;
	default:
		CHECK(!"request framing");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_message m, mh, ms;
	const char *buf = (const char *)data;
	uint32_t rng = fuzz_seed(data, size);
	struct http_limits small;
	long end;
	int rc, rh, rs;

	end = check_scan(buf, size, &rng);

	/* the whole input: a full buffer with or without a complete head */
	rc = http_parse_request(buf, size, &m, &fuzz_lim);
	check_request(buf, size, &m, rc);

	/* the head alone, as the worker calls it: the same answer */
	if (end > 0) {
		char *head = dup_exact(buf, (size_t)end);

		rh = http_parse_request(head, (size_t)end, &mh, &fuzz_lim);
		check_request(head, (size_t)end, &mh, rh);
		CHECK(rh == rc);
		if (rc == P_OK)
			CHECK(same_message(&mh, &m));
		free(head);
	}
	/* a parse only succeeds on a head the scan would find */
	if (rc == P_OK)
		CHECK(end == (long)m.head_len);

	/* tighter limits never turn a refusal into an acceptance */
	small = small_limits(&rng);
	rs = http_parse_request(buf, size, &ms, &small);
	check_request(buf, size, &ms, rs);
	if (rs == P_OK)
		CHECK(rc == P_OK && ms.head_len == m.head_len && ms.framing == m.framing);

	if (rc == P_OK && m.framing == HTTP_BODY_CHUNKED)
		check_chunked(buf + m.head_len, size - m.head_len, rng);
	return 0;
}
