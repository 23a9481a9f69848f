/*
 * test_http_parse.c: the strict HTTP/1.x parser, against a corpus of
 * valid messages and of the malformed and ambiguous ones a proxy must
 * refuse (request smuggling above all), plus head scanning and the
 * chunked decoder fed at every possible split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_parse.h"
#include "http_uri.h"
#include "tap.h"

static const struct http_limits lim = { 8192, 8192, 32768, HTTP_MAX_HEADERS };

/* A slice as a C string, for is_str; a ring so several fit in one call. */
static const char *S(struct slice s)
{
	static char ring[8][512];
	static unsigned n;
	char *b = ring[n++ % 8];
	size_t len = s.len < 511 ? s.len : 511;

	memcpy(b, s.p, len);
	b[len] = '\0';
	return b;
}

/* Raw bytes with their length, so that NUL can be part of a message. */
#define RAW(s)	s, sizeof(s) - 1

static struct http_message msg;

/*
 * Valid requests
 */

struct req_ok {
	const char *name;
	const char *raw;
	size_t len;
	const char *method;
	int method_id;
	const char *target;
	const char *path;
	const char *query;
	int version;
	const char *host;
	int framing;
	unsigned long long cl;
	int conn_flags;
	bool expect;
	unsigned nheaders;
	size_t head_len;	/* 0: the whole raw message */
	bool keep_alive;
};

static const struct req_ok req_ok[] = {
	{ "simple GET", RAW("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 11, "example.com", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "GET with query and headers",
	  RAW("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"),
	  "GET", HTTP_GET, "/a/b?x=1&y=2", "/a/b", "x=1&y=2", 11, "example.com:8080", HTTP_BODY_NONE, 0, 0, false, 3, 0, true },
	{ "POST with Content-Length, body not part of the head",
	  RAW("POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
	  "POST", HTTP_POST, "/submit", "/submit", "", 11, "h", HTTP_BODY_LENGTH, 5, 0, false, 2, 53, true },
	{ "POST chunked",
	  RAW("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  "POST", HTTP_POST, "/up", "/up", "", 11, "h", HTTP_BODY_CHUNKED, 0, 0, false, 2, 0, true },
	{ "chunked: any case, trailing OWS",
	  RAW("PUT /up HTTP/1.1\r\nHost: h\r\ntransfer-encoding: \t CHUNKED \t\r\n\r\n"),
	  "PUT", HTTP_PUT, "/up", "/up", "", 11, "h", HTTP_BODY_CHUNKED, 0, 0, false, 2, 0, true },
	{ "absolute-form",
	  RAW("GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	  "GET", HTTP_GET, "http://example.com/x?y", "/x", "y", 11, "example.com", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "absolute-form without path",
	  RAW("GET http://example.com HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n"),
	  "GET", HTTP_GET, "http://example.com", "/", "", 11, "example.com", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "absolute-form https, port, query without path",
	  RAW("GET HTTPS://example.com:443?q=1 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
	  "GET", HTTP_GET, "HTTPS://example.com:443?q=1", "/", "q=1", 11, "example.com:443", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "absolute-form in HTTP/1.0 gives the host",
	  RAW("GET http://example.org/p HTTP/1.0\r\n\r\n"),
	  "GET", HTTP_GET, "http://example.org/p", "/p", "", 10, "example.org", HTTP_BODY_NONE, 0, 0, false, 0, 0, false },
	{ "OPTIONS *", RAW("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "OPTIONS", HTTP_OPTIONS, "*", "*", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "CONNECT host:port", RAW("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
	  "CONNECT", HTTP_CONNECT, "example.com:443", "", "", 11, "example.com:443", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "CONNECT [v6]:port", RAW("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n"),
	  "CONNECT", HTTP_CONNECT, "[2001:db8::1]:443", "", "", 11, "[2001:db8::1]:443", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "HTTP/1.0 without Host", RAW("GET /index.html HTTP/1.0\r\n\r\n"),
	  "GET", HTTP_GET, "/index.html", "/index.html", "", 10, "", HTTP_BODY_NONE, 0, 0, false, 0, 0, false },
	{ "HTTP/1.0 keep-alive", RAW("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 10, "", HTTP_BODY_NONE, 0, HTTP_CONN_KEEP_ALIVE, false, 1, 0, true },
	{ "HTTP/1.0 keep-alive and close", RAW("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 10, "", HTTP_BODY_NONE, 0, HTTP_CONN_KEEP_ALIVE | HTTP_CONN_CLOSE, false, 1, 0, false },
	{ "lower-case method is a token", RAW("get / HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "get", HTTP_OTHER_METHOD, "/", "/", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "extension method", RAW("PROPFIND /dav/ HTTP/1.1\r\nHost: h\r\nDepth: 1\r\n\r\n"),
	  "PROPFIND", HTTP_OTHER_METHOD, "/dav/", "/dav/", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 2, 0, true },
	{ "leading empty lines are part of the head",
	  RAW("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "GET", HTTP_GET, "/x", "/x", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "Connection close and upgrade",
	  RAW("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, ,close\r\nUpgrade: websocket\r\n\r\n"),
	  "GET", HTTP_GET, "/ws", "/ws", "", 11, "h", HTTP_BODY_NONE, 0, HTTP_CONN_UPGRADE | HTTP_CONN_CLOSE, false, 3, 0, false },
	{ "Expect: 100-continue",
	  RAW("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n"),
	  "PUT", HTTP_PUT, "/f", "/f", "", 11, "h", HTTP_BODY_LENGTH, 10, 0, true, 3, 0, true },
	{ "Expect: 100-continue ignored in HTTP/1.0",
	  RAW("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"),
	  "PUT", HTTP_PUT, "/f", "/f", "", 10, "", HTTP_BODY_LENGTH, 1, 0, false, 2, 0, false },
	{ "Content-Length 0 is no body",
	  RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
	  "POST", HTTP_POST, "/", "/", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 2, 0, true },
	{ "Content-Length with leading zeros and OWS",
	  RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t 007 \r\n\r\n"),
	  "POST", HTTP_POST, "/", "/", "", 11, "h", HTTP_BODY_LENGTH, 7, 0, false, 2, 0, true },
	{ "largest Content-Length",
	  RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n"),
	  "POST", HTTP_POST, "/", "/", "", 11, "h", HTTP_BODY_LENGTH, 9223372036854775807ULL, 0, false, 2, 0, true },
	{ "empty Host", RAW("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 11, "", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "Host IPv6 literal", RAW("GET / HTTP/1.1\r\nhost: [::1]:8080\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 11, "[::1]:8080", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "values: empty, HTAB inside, obs-text",
	  RAW("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab: a\tb\r\nX-Latin: caf\xe9\r\n\r\n"),
	  "GET", HTTP_GET, "/", "/", "", 11, "h", HTTP_BODY_NONE, 0, 0, false, 4, 0, true },
	{ "target with every sub-delim and percent",
	  RAW("GET /a;b=c/%7E!$&'()*+,:@-._~?q=/? HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "GET", HTTP_GET, "/a;b=c/%7E!$&'()*+,:@-._~?q=/?", "/a;b=c/%7E!$&'()*+,:@-._~", "q=/?", 11, "h",
	  HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "target with raw UTF-8 (nginx forwards it)",
	  RAW("GET /caf\xc3\xa9?q=\xe2\x82\xac HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "GET", HTTP_GET, "/caf\xc3\xa9?q=\xe2\x82\xac", "/caf\xc3\xa9", "q=\xe2\x82\xac", 11, "h",
	  HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
	{ "target with the characters RFC 3986 leaves out",
	  RAW("GET /a\"b<c>d\\e^f`g{h|i}j?k=\"{}\" HTTP/1.1\r\nHost: h\r\n\r\n"),
	  "GET", HTTP_GET, "/a\"b<c>d\\e^f`g{h|i}j?k=\"{}\"", "/a\"b<c>d\\e^f`g{h|i}j", "k=\"{}\"", 11,
	  "h", HTTP_BODY_NONE, 0, 0, false, 1, 0, true },
};

static void test_valid_requests(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(req_ok); i++) {
		const struct req_ok *c = &req_ok[i];
		int rc = http_parse_request(c->raw, c->len, &msg, &lim);

		if (!is_int(rc, P_OK, "request ok: %s", c->name))
			continue;
		is_str(S(msg.method), c->method, "%s: method", c->name);
		is_int(msg.method_id, c->method_id, "%s: method_id", c->name);
		is_str(S(msg.target), c->target, "%s: target", c->name);
		is_str(S(msg.path), c->path, "%s: path", c->name);
		is_str(S(msg.query), c->query, "%s: query", c->name);
		is_int(msg.version, c->version, "%s: version", c->name);
		is_str(S(msg.host), c->host, "%s: host", c->name);
		is_int(msg.framing, c->framing, "%s: framing", c->name);
		is_int(msg.content_length, c->cl, "%s: content_length", c->name);
		is_int(msg.conn_flags, c->conn_flags, "%s: conn_flags", c->name);
		is_int(msg.expect_continue, c->expect, "%s: expect_continue", c->name);
		is_int(msg.nheaders, c->nheaders, "%s: nheaders", c->name);
		is_int(msg.head_len, c->head_len ? c->head_len : c->len, "%s: head_len", c->name);
		is_int(http_keep_alive(&msg), c->keep_alive, "%s: keep-alive", c->name);
	}
}

static void test_request_details(void)
{
	static const struct { const char *m; int id; } methods[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "OPTIONS", HTTP_OPTIONS },
		{ "TRACE", HTTP_TRACE }, { "PATCH", HTTP_PATCH }, { "GETS", HTTP_OTHER_METHOD },
		{ "Get", HTTP_OTHER_METHOD },
	};
	char buf[256];
	size_t i;
	int n;

	for (i = 0; i < ARRAY_LEN(methods); i++) {
		n = snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", methods[i].m);
		if (is_int(http_parse_request(buf, (size_t)n, &msg, &lim), P_OK, "method %s parses", methods[i].m))
			is_int(msg.method_id, methods[i].id, "method %s has its id", methods[i].m);
	}

	/* header slices and ids */
	{
		static const char raw[] =
			"GET / HTTP/1.1\r\n"
			"HOST: h\r\n"
			"Date:  Tue, 01 Jan 2030 00:00:00 GMT  \r\n"
			"server: x\r\n"
			"Expect: 100-continue\r\n"
			"X-Custom-Header:value\r\n"
			"\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "header slices: parses");
		is_int(msg.nheaders, 5, "header slices: 5 fields");
		is_str(S(msg.headers[0].name), "HOST", "name kept as sent");
		is_int(msg.headers[0].id, HDR_HOST, "HOST recognised in any case");
		is_str(S(msg.headers[1].value), "Tue, 01 Jan 2030 00:00:00 GMT", "value trimmed of OWS both sides");
		is_int(msg.headers[1].id, HDR_DATE, "Date recognised");
		is_int(msg.headers[2].id, HDR_SERVER, "server recognised");
		is_int(msg.headers[3].id, HDR_EXPECT, "Expect recognised");
		is_int(msg.headers[4].id, HDR_OTHER, "unknown field is HDR_OTHER");
		is_str(S(msg.headers[4].value), "value", "value right after the colon");
		ok(msg.headers[4].name.p >= raw && msg.headers[4].name.p < raw + sizeof(raw),
		   "slices point into the caller's buffer");
	}

	/* hop-by-hop marking */
	{
		static const char raw[] =
			"POST / HTTP/1.1\r\n"
			"Host: h\r\n"					/* 0 */
			"Content-Length: 3\r\n"				/* 1 */
			"Connection: close, X-Secret, content-length, host, keep-alive\r\n"	/* 2 */
			"Keep-Alive: timeout=5\r\n"			/* 3 */
			"TE: trailers\r\n"				/* 4 */
			"Trailer: X-Sum\r\n"				/* 5 */
			"Upgrade: h2c\r\n"				/* 6 */
			"Proxy-Connection: keep-alive\r\n"		/* 7 */
			"x-secret: 1\r\n"				/* 8 */
			"X-Public: 2\r\n"				/* 9 */
			"X-SECRET: 3\r\n"				/* 10 */
			"\r\n";
		static const int hop[] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1 };

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "hop-by-hop: parses");
		is_int(msg.nheaders, ARRAY_LEN(hop), "hop-by-hop: all fields kept");
		for (i = 0; i < ARRAY_LEN(hop) && i < msg.nheaders; i++)
			is_int(!!(msg.headers[i].flags & HTTP_HDR_HOP), hop[i], "hop-by-hop flag of %s",
			       S(msg.headers[i].name));
		is_int(msg.conn_flags, HTTP_CONN_CLOSE | HTTP_CONN_KEEP_ALIVE, "hop-by-hop: conn_flags");
		is_int(msg.framing, HTTP_BODY_LENGTH, "naming Content-Length in Connection keeps the framing");
		ok(!http_keep_alive(&msg), "close wins over keep-alive");
	}
	{
		static const char raw[] =
			"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "TE: parses");
		ok(msg.headers[1].flags & HTTP_HDR_HOP, "Transfer-Encoding is hop-by-hop");
	}
	{
		static const char raw[] =
			"GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a\r\nConnection: x-b\r\nX-B: 1\r\nX-A: 2\r\n\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "two Connection lines: parse");
		ok((msg.headers[3].flags & HTTP_HDR_HOP) && (msg.headers[4].flags & HTTP_HDR_HOP),
		   "fields named by later or earlier Connection lines are hop-by-hop");
	}

	/* absolute-form path slice is "/" when the URI has none */
	{
		static const char raw[] = "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "absolute-form no path parses");
		is_int(msg.path.len, 1, "path is \"/\"");
	}

	/* Expect other than 100-continue, on an otherwise valid request */
	{
		static const char raw[] = "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), 417, "unknown expectation: 417");
		is_int(msg.framing, HTTP_BODY_LENGTH, "417: framing still known");
	}

	/* the buffer may hold more than the head */
	{
		static const char raw[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, &lim), P_OK, "pipelined: first parses");
		is_int(msg.head_len, 28, "pipelined: head_len stops at the blank line");
	}

	/* a NULL limits pointer means the defaults */
	{
		static const char raw[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

		is_int(http_parse_request(raw, sizeof(raw) - 1, &msg, NULL), P_OK, "NULL limits: defaults");
	}
}

/*
 * Invalid requests
 */

struct req_bad {
	const char *name;
	const char *raw;
	size_t len;
	int want;
};

#define H "GET / HTTP/1.1\r\nHost: h\r\n"
#define P "POST / HTTP/1.1\r\nHost: h\r\n"

static const struct req_bad req_bad[] = {
	/* framing: the smuggling classics */
	{ "CL and TE", RAW(P "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ "TE and CL", RAW(P "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"), 400 },
	{ "CL list 5, 5", RAW(P "Content-Length: 5, 5\r\n\r\n"), 400 },
	{ "CL list 5,5", RAW(P "Content-Length: 5,5\r\n\r\n"), 400 },
	{ "duplicate CL, equal", RAW(P "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), 400 },
	{ "duplicate CL, different", RAW(P "Content-Length: 5\r\ncontent-length: 6\r\n\r\n"), 400 },
	{ "CL +5", RAW(P "Content-Length: +5\r\n\r\n"), 400 },
	{ "CL -5", RAW(P "Content-Length: -5\r\n\r\n"), 400 },
	{ "CL space inside", RAW(P "Content-Length: 1 2\r\n\r\n"), 400 },
	{ "CL empty", RAW(P "Content-Length:\r\n\r\n"), 400 },
	{ "CL hex", RAW(P "Content-Length: 0x5\r\n\r\n"), 400 },
	{ "CL decimal point", RAW(P "Content-Length: 5.0\r\n\r\n"), 400 },
	{ "CL overflow", RAW(P "Content-Length: 99999999999999999999\r\n\r\n"), 400 },
	{ "CL above INT64_MAX", RAW(P "Content-Length: 9223372036854775808\r\n\r\n"), 400 },
	{ "CL vertical tab", RAW(P "Content-Length: \x0b" "5\r\n\r\n"), 400 },
	{ "TE chunked, identity", RAW(P "Transfer-Encoding: chunked, identity\r\n\r\n"), 400 },
	{ "TE identity", RAW(P "Transfer-Encoding: identity\r\n\r\n"), 400 },
	{ "TE xchunked", RAW(P "Transfer-Encoding: xchunked\r\n\r\n"), 400 },
	{ "TE chunkedx", RAW(P "Transfer-Encoding: chunkedx\r\n\r\n"), 400 },
	{ "TE chunked twice", RAW(P "Transfer-Encoding: chunked, chunked\r\n\r\n"), 400 },
	{ "TE chunked on two lines", RAW(P "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ "TE chunked then gzip on two lines", RAW(P "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"), 400 },
	{ "TE gzip, chunked", RAW(P "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501 },
	{ "TE gzip then chunked on two lines", RAW(P "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), 501 },
	{ "TE VT chunked", RAW(P "Transfer-Encoding: \x0b" "chunked\r\n\r\n"), 400 },
	{ "TE chunked VT", RAW(P "Transfer-Encoding: chunked\x0b\r\n\r\n"), 400 },
	{ "TE form feed", RAW(P "Transfer-Encoding: \x0c" "chunked\r\n\r\n"), 400 },
	{ "TE in HTTP/1.0", RAW("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	{ "TE empty", RAW(P "Transfer-Encoding:\r\n\r\n"), 400 },
	{ "TE trailing comma", RAW(P "Transfer-Encoding: chunked,\r\n\r\n"), 400 },
	{ "TE leading comma", RAW(P "Transfer-Encoding: , chunked\r\n\r\n"), 400 },
	{ "TE parameter", RAW(P "Transfer-Encoding: chunked;q=1\r\n\r\n"), 400 },
	{ "TE quoted", RAW(P "Transfer-Encoding: \"chunked\"\r\n\r\n"), 400 },
	{ "TE with space before colon", RAW(P "Transfer-Encoding : chunked\r\n\r\n"), 400 },
	{ "TE with tab before colon", RAW(P "Transfer-Encoding\t: chunked\r\n\r\n"), 400 },
	{ "TE obs-folded", RAW(P "Transfer-Encoding:\r\n chunked\r\n\r\n"), 400 },

	/* field syntax */
	{ "space before colon", RAW("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400 },
	{ "obs-fold with SP", RAW(H "X-A: b\r\n c\r\n\r\n"), 400 },
	{ "obs-fold with HTAB", RAW(H "X-A: b\r\n\tc\r\n\r\n"), 400 },
	{ "whitespace before the first field", RAW("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400 },
	{ "tab before the first field", RAW("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n"), 400 },
	{ "bare LF ends the request line", RAW("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400 },
	{ "bare LF ends a field", RAW("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"), 400 },
	{ "bare LF ends the head", RAW(H "\n"), 400 },
	{ "LF LF", RAW("GET / HTTP/1.1\nHost: h\n\n"), 400 },
	{ "bare CR in a value", RAW(H "X-A: a\rb\r\n\r\n"), 400 },
	{ "bare CR in a name", RAW(H "X-\rA: a\r\n\r\n"), 400 },
	{ "bare CR in the request line", RAW("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "CR CR LF", RAW(H "X-A: a\r\r\n\r\n"), 400 },
	{ "NUL in a value", RAW(H "X-A: a\0b\r\n\r\n"), 400 },
	{ "NUL in a name", RAW(H "X-\0A: a\r\n\r\n"), 400 },
	{ "DEL in a value", RAW(H "X-A: a\x7f" "b\r\n\r\n"), 400 },
	{ "control char in a value", RAW(H "X-A: a\x01" "b\r\n\r\n"), 400 },
	{ "ESC in a value", RAW(H "X-A: \x1b[0m\r\n\r\n"), 400 },
	{ "name with (", RAW("GET / HTTP/1.1\r\nHo(st: h\r\nHost: h\r\n\r\n"), 400 },
	{ "name with /", RAW(H "X/Y: 1\r\n\r\n"), 400 },
	{ "name with @", RAW(H "X@Y: 1\r\n\r\n"), 400 },
	{ "name with {", RAW(H "X{Y: 1\r\n\r\n"), 400 },
	{ "name with obs-text", RAW(H "X\xe9: 1\r\n\r\n"), 400 },
	{ "empty name", RAW(H ": value\r\n\r\n"), 400 },
	{ "no colon", RAW(H "X-A value\r\n\r\n"), 400 },

	/* request line */
	{ "double space after method", RAW("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "double space before version", RAW("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "trailing space", RAW("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400 },
	{ "leading space", RAW(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "tab as separator", RAW("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTP/1.10", RAW("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTP/1.", RAW("GET / HTTP/1.\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTP/11", RAW("GET / HTTP/11\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTP/1.x", RAW("GET / HTTP/1.x\r\nHost: h\r\n\r\n"), 400 },
	{ "http/1.1", RAW("GET / http/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTPS/1.1", RAW("GET / HTTPS/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "HTTP/2.0", RAW("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505 },
	{ "HTTP/0.9 version", RAW("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505 },
	{ "HTTP/0.9 request", RAW("GET /\r\n\r\n"), 400 },
	{ "no version", RAW("GET / \r\nHost: h\r\n\r\n"), 400 },
	{ "empty request line", RAW("\r\n"), 400 },
	{ "method with (", RAW("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "method with DEL", RAW("GE\x7fT / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "method with obs-text", RAW("G\xc9T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },

	/* target */
	{ "space in target", RAW("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "control char in target", RAW("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "tab in target", RAW("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "DEL in target", RAW("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "NUL in target", RAW("GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "fragment in target", RAW("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "asterisk with GET", RAW("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "OPTIONS *x", RAW("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "CONNECT origin-form", RAW("CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "CONNECT without port", RAW("CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "CONNECT empty port", RAW("CONNECT example.com: HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "CONNECT absolute-form", RAW("CONNECT http://h:80/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "authority-form for GET", RAW("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "relative target", RAW("GET index.html HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "ftp scheme", RAW("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "empty authority", RAW("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "scheme only", RAW("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "userinfo in authority", RAW("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
	{ "authority differs from Host", RAW("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n"), 400 },

	/* Host */
	{ "missing Host in HTTP/1.1", RAW("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n"), 400 },
	{ "no fields at all in HTTP/1.1", RAW("GET / HTTP/1.1\r\n\r\n"), 400 },
	{ "duplicate Host", RAW(H "Host: h\r\n\r\n"), 400 },
	{ "duplicate Host, other case", RAW(H "hOST: other\r\n\r\n"), 400 },
	{ "duplicate Host in HTTP/1.0", RAW("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400 },
	{ "Host with a space", RAW("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400 },
	{ "Host with a slash", RAW("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400 },
	{ "Host with userinfo", RAW("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400 },
	{ "Host with bad port", RAW("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400 },
	{ "Host with two ports", RAW("GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n"), 400 },
	{ "Host unclosed bracket", RAW("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400 },
	{ "Host percent-encoded", RAW("GET / HTTP/1.1\r\nHost: a%2eb\r\n\r\n"), 400 },
	{ "Host list", RAW("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), 400 },

	/* other fields */
	{ "Expect other than 100-continue", RAW(H "Expect: 100-continue-please\r\n\r\n"), 417 },
	{ "malformed request with Expect: 400 first", RAW(H "Expect: x\r\nContent-Length: +1\r\n\r\n"), 400 },
	{ "Connection with a non-token", RAW(H "Connection: close; now\r\n\r\n"), 400 },
	{ "Connection with two words", RAW(H "Connection: keep alive\r\n\r\n"), 400 },

	/* incomplete head */
	{ "no blank line", RAW(H), 400 },
	{ "request line only", RAW("GET / HTTP/1.1"), 400 },
	{ "empty buffer", RAW(""), 400 },
};

static void test_invalid_requests(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(req_bad); i++)
		is_int(http_parse_request(req_bad[i].raw, req_bad[i].len, &msg, &lim),
		       req_bad[i].want, "request refused: %s", req_bad[i].name);
}

/* Limits, with heads built to size. */
static void test_request_limits(void)
{
	static char buf[65536];
	struct http_limits l = { 100, 200, 1000, HTTP_MAX_HEADERS };
	size_t n;
	int i;

	/* request line: exactly at the limit, one over, incomplete and long */
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 100 - 14, 0);
	is_int(http_parse_request(buf, n, &msg, &l), P_OK, "request line at max_request_line");
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 101 - 14, 0);
	is_int(http_parse_request(buf, n, &msg, &l), 414, "request line over max_request_line: 414");
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%0*d", 500, 0);
	is_int(http_parse_request(buf, n, &msg, &l), 414, "unfinished long request line: 414");
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\nHost: h\r\n\r\n", 200, 0);
	is_int(http_parse_request(buf, n, &msg, &l), 414, "long line ending in bare LF: 414 first");
	n = (size_t)snprintf(buf, sizeof(buf), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 10000, 0);
	is_int(http_parse_request(buf, n, &msg, &lim), 414, "10k request line with default limits: 414");

	/* one field line */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d\r\n\r\n", 200 - 3, 0);
	is_int(http_parse_request(buf, n, &msg, &l), P_OK, "field line at max_header_line");
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d\r\n\r\n", 201 - 3, 0);
	is_int(http_parse_request(buf, n, &msg, &l), 431, "field line over max_header_line: 431");
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d", 400, 0);
	is_int(http_parse_request(buf, n, &msg, &l), 431, "unfinished long field line: 431");

	/* whole head */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 0; i < 6; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: %0*d\r\n", i, 190, 0);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	is_int(http_parse_request(buf, n, &msg, &l), 431, "head over max_head: 431");
	is_int(http_parse_request(buf, n, &msg, &lim), P_OK, "same head within default limits");
	is_int(http_parse_request(buf, n - 2, &msg, &l), 431, "unfinished head over max_head: 431");

	/* leading empty lines count toward max_head */
	n = 0;
	for (i = 0; i < 490; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	is_int(http_parse_request(buf, n, &msg, &l), 431, "leading empty lines count toward max_head");

	/* number of fields */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	is_int(http_parse_request(buf, n, &msg, &lim), P_OK, "HTTP_MAX_HEADERS fields accepted");
	is_int(msg.nheaders, HTTP_MAX_HEADERS, "all of them stored");
	n -= 2;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
	is_int(http_parse_request(buf, n, &msg, &lim), 431, "one field more: 431");

	/* a configured number of fields (client_max_header_fields) bounds
	 * requests, not responses */
	l = (struct http_limits){ 8192, 8192, 32768, 5 };
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < 5; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	is_int(http_parse_request(buf, n, &msg, &l), P_OK, "max_headers fields accepted");
	n -= 2;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
	is_int(http_parse_request(buf, n, &msg, &l), 431, "one field over max_headers: 431");
	is_int(msg.nheaders, 5, "... after storing max_headers of them");
	ok(msg.too_many_fields, "... and it says the number of fields was the limit hit");
	n -= 13;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-long: %08200d\r\n\r\n", 0);
	is_int(http_parse_request(buf, n, &msg, &l), 431,
	       "a field line too long after max_headers fields: 431");
	ok(msg.nheaders == 5 && !msg.too_many_fields,
	   "... for the line's length, not the number of fields");
	n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
	for (i = 1; i < 10; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	is_int(http_parse_response(buf, n, &msg, &l, HTTP_GET), P_OK,
	       "a response is not held to max_headers");
}

/*
 * Responses
 */

struct resp_ok {
	const char *name;
	const char *raw;
	size_t len;
	int method;
	int status;
	const char *reason;
	int version;
	int framing;
	unsigned long long cl;
	bool keep_alive;
};

#define R200 "HTTP/1.1 200 OK\r\n"

static const struct resp_ok resp_ok[] = {
	{ "200 with CL", RAW(R200 "Content-Length: 12\r\nServer: x\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_LENGTH, 12, true },
	{ "200 CL 0", RAW(R200 "Content-Length: 0\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_LENGTH, 0, true },
	{ "200 chunked", RAW(R200 "Transfer-Encoding: chunked\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_CHUNKED, 0, true },
	{ "200 Chunked with OWS", RAW(R200 "transfer-encoding:  Chunked \r\n\r\n"), HTTP_POST, 200, "OK", 11, HTTP_BODY_CHUNKED, 0, true },
	{ "200 close-delimited", RAW(R200 "Content-Type: text/plain\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_EOF, 0, false },
	{ "HEAD response with CL", RAW(R200 "Content-Length: 100\r\n\r\n"), HTTP_HEAD, 200, "OK", 11, HTTP_BODY_NONE, 100, true },
	{ "HEAD response chunked", RAW(R200 "Transfer-Encoding: chunked\r\n\r\n"), HTTP_HEAD, 200, "OK", 11, HTTP_BODY_NONE, 0, true },
	{ "HEAD response without CL", RAW(R200 "\r\n"), HTTP_HEAD, 200, "OK", 11, HTTP_BODY_NONE, 0, true },
	{ "204", RAW("HTTP/1.1 204 No Content\r\n\r\n"), HTTP_DELETE, 204, "No Content", 11, HTTP_BODY_NONE, 0, true },
	{ "304 with CL", RAW("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"), HTTP_GET, 304, "Not Modified", 11, HTTP_BODY_NONE, 50, true },
	{ "100 Continue", RAW("HTTP/1.1 100 Continue\r\n\r\n"), HTTP_PUT, 100, "Continue", 11, HTTP_BODY_NONE, 0, true },
	{ "101 Switching Protocols", RAW("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"),
	  HTTP_GET, 101, "Switching Protocols", 11, HTTP_BODY_NONE, 0, true },
	{ "2xx to CONNECT", RAW(R200 "\r\n"), HTTP_CONNECT, 200, "OK", 11, HTTP_BODY_NONE, 0, true },
	{ "no reason, no SP", RAW("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n"), HTTP_GET, 200, "", 11, HTTP_BODY_LENGTH, 1, true },
	{ "empty reason with SP", RAW("HTTP/1.1 500 \r\nContent-Length: 1\r\n\r\n"), HTTP_GET, 500, "", 11, HTTP_BODY_LENGTH, 1, true },
	{ "reason with spaces and obs-text", RAW("HTTP/1.1 404 Not \tFound \xe9\r\nContent-Length: 1\r\n\r\n"), HTTP_GET, 404,
	  "Not \tFound \xe9", 11, HTTP_BODY_LENGTH, 1, true },
	{ "599", RAW("HTTP/1.1 599 x\r\nContent-Length: 1\r\n\r\n"), HTTP_GET, 599, "x", 11, HTTP_BODY_LENGTH, 1, true },
	{ "HTTP/1.0 with CL", RAW("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n"), HTTP_GET, 200, "OK", 10, HTTP_BODY_LENGTH, 2, false },
	{ "HTTP/1.0 keep-alive", RAW("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"),
	  HTTP_GET, 200, "OK", 10, HTTP_BODY_LENGTH, 2, true },
	{ "HTTP/1.0 keep-alive without length", RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"),
	  HTTP_GET, 200, "OK", 10, HTTP_BODY_EOF, 0, false },
	{ "HTTP/1.1 close", RAW(R200 "Content-Length: 2\r\nConnection: close\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_LENGTH, 2, false },
	{ "identical duplicate CL", RAW(R200 "Content-Length: 7\r\nContent-Length: 7\r\n\r\n"), HTTP_GET, 200, "OK", 11, HTTP_BODY_LENGTH, 7, true },
	{ "TE gzip: read until close (RFC 9112 6.3)", RAW(R200 "Transfer-Encoding: gzip\r\n\r\n"),
	  HTTP_GET, 200, "OK", 11, HTTP_BODY_EOF, 0, false },
	{ "TE gzip to HEAD", RAW(R200 "Transfer-Encoding: gzip\r\n\r\n"),
	  HTTP_HEAD, 200, "OK", 11, HTTP_BODY_NONE, 0, true },
};

static void test_valid_responses(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(resp_ok); i++) {
		const struct resp_ok *c = &resp_ok[i];
		int rc = http_parse_response(c->raw, c->len, &msg, &lim, c->method);

		if (!is_int(rc, P_OK, "response ok: %s", c->name))
			continue;
		is_int(msg.status, c->status, "%s: status", c->name);
		is_str(S(msg.reason), c->reason, "%s: reason", c->name);
		is_int(msg.version, c->version, "%s: version", c->name);
		is_int(msg.framing, c->framing, "%s: framing", c->name);
		is_int(msg.content_length, c->cl, "%s: content_length", c->name);
		is_int(http_keep_alive(&msg), c->keep_alive, "%s: keep-alive", c->name);
		is_int(msg.head_len, c->len, "%s: head_len", c->name);
	}

	is_int(http_parse_response(RAW(R200 "Content-Length: 7\r\nContent-Length: 7\r\n\r\n"), &msg, &lim, HTTP_GET),
	       P_OK, "duplicate CL parses");
	ok(!(msg.headers[0].flags & HTTP_HDR_HOP) && (msg.headers[1].flags & HTTP_HDR_HOP),
	   "duplicate CL: only the first is forwarded");
	is_int(http_parse_response(RAW(R200 "Transfer-Encoding: gzip\r\nX-A: 1\r\n\r\n"), &msg, &lim, HTTP_GET),
	       P_OK, "TE gzip parses");
	ok(!(msg.headers[0].flags & HTTP_HDR_HOP), "TE gzip: the field is forwarded, its coding named");
	is_int(http_parse_response(RAW(R200 "Connection: x-a\r\nX-A: 1\r\nKeep-Alive: 5\r\nContent-Length: 0\r\n\r\n"),
				   &msg, &lim, HTTP_GET), P_OK, "response Connection options parse");
	ok((msg.headers[0].flags & HTTP_HDR_HOP) && (msg.headers[1].flags & HTTP_HDR_HOP) &&
	   (msg.headers[2].flags & HTTP_HDR_HOP) && !(msg.headers[3].flags & HTTP_HDR_HOP),
	   "response hop-by-hop fields marked");
	is_int(http_parse_response(RAW(R200 "Host: a\r\nHost: b c\r\nExpect: nonsense\r\nContent-Length: 0\r\n\r\n"),
				   &msg, &lim, HTTP_GET), P_OK, "request-only rules do not apply to responses");
}

struct resp_bad {
	const char *name;
	const char *raw;
	size_t len;
	int method;
};

static const struct resp_bad resp_bad[] = {
	{ "CL and TE", RAW(R200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_GET },
	{ "CL and TE to HEAD", RAW(R200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_HEAD },
	{ "differing CL", RAW(R200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), HTTP_GET },
	{ "CL list", RAW(R200 "Content-Length: 5, 5\r\n\r\n"), HTTP_GET },
	{ "CL +5", RAW(R200 "Content-Length: +5\r\n\r\n"), HTTP_GET },
	{ "CL overflow", RAW(R200 "Content-Length: 18446744073709551616\r\n\r\n"), HTTP_GET },
	{ "CL empty", RAW(R200 "Content-Length: \r\n\r\n"), HTTP_GET },
	{ "TE gzip, chunked", RAW(R200 "Transfer-Encoding: gzip, chunked\r\n\r\n"), HTTP_GET },
	{ "TE chunked, gzip", RAW(R200 "Transfer-Encoding: chunked, gzip\r\n\r\n"), HTTP_GET },
	{ "TE chunked twice", RAW(R200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_GET },
	{ "TE empty", RAW(R200 "Transfer-Encoding:\r\n\r\n"), HTTP_GET },
	{ "TE in HTTP/1.0", RAW("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_GET },
	{ "status 099", RAW("HTTP/1.1 099 X\r\n\r\n"), HTTP_GET },
	{ "status 600", RAW("HTTP/1.1 600 X\r\n\r\n"), HTTP_GET },
	{ "status 000", RAW("HTTP/1.1 000 X\r\n\r\n"), HTTP_GET },
	{ "two-digit status", RAW("HTTP/1.1 20 OK\r\n\r\n"), HTTP_GET },
	{ "four-digit status", RAW("HTTP/1.1 2000 OK\r\n\r\n"), HTTP_GET },
	{ "status with letters", RAW("HTTP/1.1 2x0 OK\r\n\r\n"), HTTP_GET },
	{ "no SP before reason", RAW("HTTP/1.1 200OK\r\n\r\n"), HTTP_GET },
	{ "double SP before status", RAW("HTTP/1.1  200 OK\r\n\r\n"), HTTP_GET },
	{ "no status", RAW("HTTP/1.1\r\n\r\n"), HTTP_GET },
	{ "HTTP/2", RAW("HTTP/2 200 OK\r\n\r\n"), HTTP_GET },
	{ "http/1.1", RAW("http/1.1 200 OK\r\n\r\n"), HTTP_GET },
	{ "HTTP/0.9-style body", RAW("<html>\r\n\r\n"), HTTP_GET },
	{ "leading empty line", RAW("\r\n" R200 "\r\n"), HTTP_GET },
	{ "control char in reason", RAW("HTTP/1.1 200 O\x01K\r\n\r\n"), HTTP_GET },
	{ "bare CR in reason", RAW("HTTP/1.1 200 O\rK\r\n\r\n"), HTTP_GET },
	{ "bare LF status line", RAW("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"), HTTP_GET },
	{ "bare LF field", RAW(R200 "Content-Length: 0\n\r\n"), HTTP_GET },
	{ "obs-fold", RAW(R200 "X-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n"), HTTP_GET },
	{ "space before colon", RAW(R200 "Content-Length : 0\r\n\r\n"), HTTP_GET },
	{ "NUL in value", RAW(R200 "X-A: \0\r\nContent-Length: 0\r\n\r\n"), HTTP_GET },
	{ "bad name", RAW(R200 "X A: 1\r\nContent-Length: 0\r\n\r\n"), HTTP_GET },
	{ "bad Connection option", RAW(R200 "Connection: a/b\r\nContent-Length: 0\r\n\r\n"), HTTP_GET },
	{ "incomplete head", RAW(R200 "Content-Length: 0\r\n"), HTTP_GET },
	{ "empty", RAW(""), HTTP_GET },
};

static void test_invalid_responses(void)
{
	static char buf[8192];
	size_t i, n;
	int k;

	for (i = 0; i < ARRAY_LEN(resp_bad); i++)
		is_int(http_parse_response(resp_bad[i].raw, resp_bad[i].len, &msg, &lim, resp_bad[i].method),
		       502, "response refused: %s", resp_bad[i].name);

	n = (size_t)snprintf(buf, sizeof(buf), R200);
	for (k = 0; k <= HTTP_MAX_HEADERS; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", k);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	is_int(http_parse_response(buf, n, &msg, &lim, HTTP_GET), 502, "response with too many fields: 502");

	{
		struct http_limits l = { 100, 100, 1000, HTTP_MAX_HEADERS };

		n = (size_t)snprintf(buf, sizeof(buf), R200 "X: %0*d\r\n\r\n", 200, 0);
		is_int(http_parse_response(buf, n, &msg, &l, HTTP_GET), 502, "response field over max_header_line: 502");
	}
}

/*
 * Head scanning
 */

static void test_head_scan(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char lead[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	const size_t rl = sizeof(req) - 1;
	char buf[256];
	size_t sc, k, i;
	long r;
	bool all;

	sc = 0;
	is_int(http_head_scan(req, rl, &sc), rl, "scan: whole head at once");
	sc = 0;
	memcpy(buf, req, rl);
	memcpy(buf + rl, "BODY", 4);
	is_int(http_head_scan(buf, rl + 4, &sc), rl, "scan: body after the head is not part of it");

	/* byte by byte: nothing until the last byte, and *scanned never goes back */
	all = true;
	sc = 0;
	for (k = 1; k < rl; k++) {
		size_t before = sc;

		if (http_head_scan(req, k, &sc) != 0 || sc < before || sc > k)
			all = false;
	}
	ok(all, "scan: byte by byte, no end before the last byte");
	is_int(http_head_scan(req, rl, &sc), rl, "scan: byte by byte, end on the last byte");

	/* split in two at every point */
	all = true;
	for (k = 0; k <= rl; k++) {
		sc = 0;
		r = http_head_scan(req, k, &sc);
		if (r != (k == rl ? (long)rl : 0))
			all = false;
		if (k < rl && http_head_scan(req, rl, &sc) != (long)rl)
			all = false;
	}
	ok(all, "scan: split in two at every byte");

	/* CR LF CR split from its LF */
	sc = 0;
	is_int(http_head_scan(req, rl - 1, &sc), 0, "scan: CRLFCR needs one more byte");
	is_int(sc, rl - 2, "scan: stopped on the last CR, to look at it again");
	is_int(http_head_scan(req, rl, &sc), rl, "scan: then the LF ends the head");

	/* leading empty lines */
	sc = 0;
	is_int(http_head_scan(lead, 4, &sc), 0, "scan: CRLFCRLF alone is not a head");
	is_int(http_head_scan(lead, 6, &sc), 0, "scan: still waiting after the first request byte");
	is_int(http_head_scan(lead, sizeof(lead) - 1, &sc), sizeof(lead) - 1, "scan: leading CRLFs are included in head_len");
	sc = 0;
	is_int(http_head_scan(RAW("\r\n\r\n\r\n\r\n\r\n"), &sc), 0, "scan: any number of empty lines waits");
	all = true;
	sc = 0;
	for (k = 1; k <= sizeof(lead) - 1; k++) {
		r = http_head_scan(lead, k, &sc);
		if (r != (k == sizeof(lead) - 1 ? (long)(sizeof(lead) - 1) : 0))
			all = false;
	}
	ok(all, "scan: leading CRLFs byte by byte");
	sc = 0;
	is_int(http_head_scan(RAW("A\r\n\r\n"), &sc), 5, "scan: shortest head");
	sc = 0;
	is_int(http_head_scan(RAW("HTTP/1.1 200 OK\r\n\r\n"), &sc), 19, "scan: a response head");

	/* refusals */
	sc = 0;
	is_int(http_head_scan(RAW("GET / HTTP/1.1\nHost"), &sc), -1, "scan: bare LF");
	sc = 0;
	is_int(http_head_scan(RAW("\nGET"), &sc), -1, "scan: bare LF first");
	sc = 0;
	is_int(http_head_scan(RAW("GET / HTTP/1.1\r\n\n"), &sc), -1, "scan: CRLF LF");
	sc = 0;
	is_int(http_head_scan(RAW("GET /\rX"), &sc), -1, "scan: bare CR");
	sc = 0;
	is_int(http_head_scan(RAW("GET / HTTP/1.1\r\r\n"), &sc), -1, "scan: CR CR LF");
	sc = 0;
	is_int(http_head_scan(RAW("GET /\0 HTTP/1.1"), &sc), -1, "scan: NUL");
	sc = 0;
	is_int(http_head_scan(RAW("GET /\r"), &sc), 0, "scan: CR at the end waits");
	is_int(http_head_scan(RAW("GET /\rX"), &sc), -1, "scan: then a non-LF refuses it");

	/*
	 * Corrupt one byte: a CR or LF becomes 'x' (orphaning its partner),
	 * anything else becomes a bare CR. Refused whatever the split.
	 */
	all = true;
	for (i = 0; i < rl; i++) {
		memcpy(buf, req, rl);
		buf[i] = (buf[i] == '\r' || buf[i] == '\n') ? 'x' : '\r';
		for (k = 0; k <= rl; k++) {
			sc = 0;
			r = http_head_scan(buf, k, &sc);
			if (r == 0)
				r = http_head_scan(buf, rl, &sc);
			if (r != -1)
				all = false;
		}
	}
	ok(all, "scan: every corrupted CR/LF is refused at every split");
	all = true;
	for (i = 0; i < rl; i++) {
		memcpy(buf, req, rl);
		buf[i] = '\0';
		sc = 0;
		if (http_head_scan(buf, rl, &sc) != -1)
			all = false;
	}
	ok(all, "scan: NUL refused at every position");
}

/*
 * Long lines: the scanner and the value check pass plain text eight bytes
 * at a time, so a byte that matters must be found at every offset within
 * such a stretch, and a harmless one (HTAB, obs-text) must not stop it.
 */
static const char long_head[] =
	"GET /a/long/path/for/words HTTP/1.1\r\nHost: h\r\n"
	"X-Long: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n\r\n";

/* long_head with byte b at offset off of its X-Long value. */
static size_t long_head_with(char *buf, size_t off, char b)
{
	const char *v = strstr(long_head, "X-Long: ") + 8;

	memcpy(buf, long_head, sizeof(long_head) - 1);
	buf[(size_t)(v - long_head) + off] = b;
	return sizeof(long_head) - 1;
}

static void test_long_lines(void)
{
	const size_t hl = sizeof(long_head) - 1, vlen = 62;
	char buf[sizeof(long_head)];
	size_t i, off, n, sc;
	bool all;
	int c;

	sc = 0;
	is_int(http_head_scan(long_head, hl, &sc), hl, "long lines: the head is found");
	is_int(http_parse_request(long_head, hl, &msg, &lim), P_OK, "long lines: and parses");

	all = true;
	for (i = 0; i < hl - 4; i++) {
		static const char bad[] = { '\0', '\n', '\r' };
		size_t k;

		if (long_head[i] == '\r' || long_head[i] == '\n')
			continue;
		for (k = 0; k < sizeof(bad); k++) {
			memcpy(buf, long_head, hl);
			buf[i] = bad[k];
			sc = 0;
			if (http_head_scan(buf, hl, &sc) != -1)
				all = false;
		}
	}
	ok(all, "long lines: NUL, bare LF and bare CR refused by the scan at every offset");

	all = true;
	for (off = 0; off < vlen; off++) {
		for (c = 0x01; c < 0x20; c++) {
			if (c == '\t' || c == '\r' || c == '\n')
				continue;
			n = long_head_with(buf, off, (char)c);
			if (http_parse_request(buf, n, &msg, &lim) != 400)
				all = false;
		}
		n = long_head_with(buf, off, 0x7f);
		if (http_parse_request(buf, n, &msg, &lim) != 400)
			all = false;
	}
	ok(all, "long lines: a control byte or DEL in a value is refused at every offset");

	all = true;
	for (off = 1; off + 1 < vlen; off++) {
		static const unsigned char fine[] = { '\t', 0x80, 0xa0, 0xfe, 0xff, ' ', '~' };
		size_t k;

		for (k = 0; k < sizeof(fine); k++) {
			n = long_head_with(buf, off, (char)fine[k]);
			sc = 0;
			if (http_head_scan(buf, n, &sc) != (long)n ||
			    http_parse_request(buf, n, &msg, &lim) != P_OK ||
			    msg.headers[1].value.len != vlen)
				all = false;
		}
	}
	ok(all, "long lines: HTAB, SP and obs-text inside a value pass at every offset");
}

/*
 * Chunked decoder
 */

/* xorshift: reproducible "random" splits */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM };

/*
 * Feed in[0..len) the way a worker would: bytes arrive in pieces, the
 * decoder is called on what it has not consumed yet. Payload goes to out.
 * Returns the final code; *used is where the decoder stopped.
 */
static int feed(const char *in, size_t len, int mode, size_t first_cut,
		char *out, size_t *outlen, size_t *used)
{
	struct http_chunked c;
	size_t pos = 0, avail, got;
	struct slice d;
	int rc;

	http_chunked_init(&c);
	*outlen = 0;
	if (mode == FEED_WHOLE)
		avail = first_cut ? first_cut : len;
	else
		avail = mode == FEED_BYTES ? 1 : 1 + rnd() % 9;
	if (avail > len)
		avail = len;
	for (;;) {
		rc = http_chunked_decode(&c, in + pos, avail - pos, &got, &d);
		if (got > avail - pos)
			return -100;	/* consumed more than it was given */
		if (rc == HTTP_CHUNK_DATA) {
			if (d.p != in + pos + got - d.len || d.len == 0)
				return -101;	/* data must be the tail of what was used */
			memcpy(out + *outlen, d.p, d.len);
			*outlen += d.len;
		}
		pos += got;
		if (rc == P_AGAIN) {
			if (pos != avail)
				return -102;
			if (avail == len)
				break;
			avail += mode == FEED_RANDOM ? 1 + rnd() % 9 : mode == FEED_BYTES ? 1 : len;
			if (avail > len)
				avail = len;
			continue;
		}
		if (rc != HTTP_CHUNK_DATA)
			break;
	}
	*used = pos;
	return rc;
}

struct chunk_ok {
	const char *name;
	const char *raw;
	size_t len;
	const char *payload;
	size_t plen;
};

static const struct chunk_ok chunk_ok[] = {
	{ "one chunk", RAW("5\r\nhello\r\n0\r\n\r\n"), RAW("hello") },
	{ "empty body", RAW("0\r\n\r\n"), RAW("") },
	{ "hex sizes, both cases", RAW("a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\n!\r\n0\r\n\r\n"),
	  RAW("0123456789abcdefghij!") },
	{ "leading zeros", RAW("0005\r\nhello\r\n000\r\n\r\n"), RAW("hello") },
	{ "16 hex digits", RAW("0000000000000003\r\nabc\r\n0\r\n\r\n"), RAW("abc") },
	{ "33 hex digits, leading zeros (nginx takes them)",
	  RAW("000000000000000000000000000000005\r\nhello\r\n0000000000000000000\r\n\r\n"), RAW("hello") },
	{ "extensions", RAW("5;foo=bar\r\nhello\r\n3;a;b=c;d=\"q\"\r\nxyz\r\n0;last\r\n\r\n"), RAW("helloxyz") },
	{ "extension with BWS", RAW("5 ;\tfoo = bar ; baz\r\nhello\r\n0\r\n\r\n"), RAW("hello") },
	{ "quoted extension with escapes", RAW("2;n=\"a \\\"b\\\\ ;c\xe9\"\r\nok\r\n0\r\n\r\n"), RAW("ok") },
	{ "trailers", RAW("3\r\nabc\r\n0\r\nX-Sum: 123\r\nX-Empty:\r\nX-B:  a b  \r\n\r\n"), RAW("abc") },
	{ "payload with CRLF and NUL", RAW("6\r\n\r\n\0\r\n0\r\n0\r\n\r\n"), RAW("\r\n\0\r\n0") },
	{ "payload that looks like chunks", RAW("f\r\n0\r\n\r\nGET / HTTP\r\n0\r\n\r\n"), RAW("0\r\n\r\nGET / HTTP") },
};

static void test_chunked_valid(void)
{
	static char out[4096];
	size_t i, k, olen, used;
	int rc, r;
	bool all;

	for (i = 0; i < ARRAY_LEN(chunk_ok); i++) {
		const struct chunk_ok *c = &chunk_ok[i];

		rc = feed(c->raw, c->len, FEED_WHOLE, 0, out, &olen, &used);
		is_int(rc, P_DONE, "chunked %s: whole: done", c->name);
		ok(olen == c->plen && memcmp(out, c->payload, olen) == 0, "chunked %s: whole: payload", c->name);
		is_int(used, c->len, "chunked %s: whole: consumed everything", c->name);

		rc = feed(c->raw, c->len, FEED_BYTES, 0, out, &olen, &used);
		ok(rc == P_DONE && used == c->len && olen == c->plen && memcmp(out, c->payload, olen) == 0,
		   "chunked %s: byte by byte", c->name);

		all = true;
		for (k = 1; k <= c->len; k++) {
			rc = feed(c->raw, c->len, FEED_WHOLE, k, out, &olen, &used);
			if (rc != P_DONE || used != c->len || olen != c->plen || memcmp(out, c->payload, olen))
				all = false;
		}
		ok(all, "chunked %s: split in two at every byte", c->name);

		all = true;
		for (r = 0; r < 200; r++) {
			rc = feed(c->raw, c->len, FEED_RANDOM, 0, out, &olen, &used);
			if (rc != P_DONE || used != c->len || olen != c->plen || memcmp(out, c->payload, olen))
				all = false;
		}
		ok(all, "chunked %s: 200 random splits", c->name);
	}
}

static void test_chunked_api(void)
{
	struct http_chunked c;
	struct slice d;
	size_t used;
	static const char pipelined[] = "2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
	static char big[70000], out[70000];
	size_t n, olen;
	int rc;

	http_chunked_init(&c);
	rc = http_chunked_decode(&c, RAW("5\r\nhel"), &used, &d);
	is_int(rc, HTTP_CHUNK_DATA, "partial chunk: data");
	is_str(S(d), "hel", "partial chunk: what there is");
	is_int(used, 6, "partial chunk: consumed size line and data");
	is_int(c.remaining, 2, "partial chunk: remaining");
	rc = http_chunked_decode(&c, "", 0, &used, &d);
	is_int(rc, P_AGAIN, "no input: again");
	is_int(used, 0, "no input: nothing consumed");
	rc = http_chunked_decode(&c, RAW("lo\r"), &used, &d);
	is_int(rc, HTTP_CHUNK_DATA, "rest of the chunk");
	is_str(S(d), "lo", "rest of the chunk: payload");
	rc = http_chunked_decode(&c, RAW("\r"), &used, &d);
	is_int(rc, P_AGAIN, "CR after data: again");
	rc = http_chunked_decode(&c, RAW("\n0\r\n\r\n"), &used, &d);
	is_int(rc, P_DONE, "last chunk: done");
	is_int(used, 6, "last chunk: consumed through the final CRLF");
	rc = http_chunked_decode(&c, RAW("5\r\n"), &used, &d);
	is_int(rc, P_DONE, "after done: still done");
	is_int(used, 0, "after done: consumes nothing");

	http_chunked_init(&c);
	n = 0;
	rc = P_AGAIN;
	while (rc != P_DONE && rc != P_ERROR) {
		rc = http_chunked_decode(&c, pipelined + n, sizeof(pipelined) - 1 - n, &used, &d);
		n += used;
	}
	is_int(rc, P_DONE, "pipelined: done");
	is_int(n, 12, "pipelined: the next request is left alone");

	http_chunked_init(&c);
	rc = http_chunked_decode(&c, RAW("5\r\nhello\r\nz"), &used, &d);
	is_int(rc, HTTP_CHUNK_DATA, "error: data first");
	is_int(used, 8, "error: data consumed");
	rc = http_chunked_decode(&c, RAW("\r\nz"), &used, &d);
	is_int(rc, P_ERROR, "error: bad size after data");
	is_int(used, 2, "error: consumed up to the bad byte");
	rc = http_chunked_decode(&c, RAW("0\r\n\r\n"), &used, &d);
	ok(rc == P_ERROR && used == 0, "error is sticky");

	/* a big chunk arrives as it comes, without copying */
	n = (size_t)snprintf(big, sizeof(big), "10000\r\n");
	memset(big + n, 'x', 0x10000);
	n += 0x10000;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n0\r\n\r\n");
	rc = feed(big, n, FEED_WHOLE, 0, out, &olen, &used);
	ok(rc == P_DONE && olen == 0x10000 && used == n, "64 KiB chunk decoded");
	rc = feed(big, n, FEED_RANDOM, 0, out, &olen, &used);
	ok(rc == P_DONE && olen == 0x10000 && used == n, "64 KiB chunk decoded in random pieces");

	/* chunk-size up to the largest uint64 is accepted as a size */
	http_chunked_init(&c);
	rc = http_chunked_decode(&c, RAW("ffffffffffffffff\r\nab"), &used, &d);
	ok(rc == HTTP_CHUNK_DATA && c.remaining == UINT64_MAX - 2, "16 f's: the largest chunk size");
}

struct chunk_bad {
	const char *name;
	const char *raw;
	size_t len;
};

static const struct chunk_bad chunk_bad[] = {
	{ "empty size", RAW("\r\nhello\r\n0\r\n\r\n") },
	{ "0x prefix", RAW("0x5\r\nhello\r\n0\r\n\r\n") },
	{ "plus sign", RAW("+5\r\nhello\r\n0\r\n\r\n") },
	{ "minus sign", RAW("-5\r\nhello\r\n0\r\n\r\n") },
	{ "leading space", RAW(" 5\r\nhello\r\n0\r\n\r\n") },
	{ "leading tab", RAW("\t5\r\nhello\r\n0\r\n\r\n") },
	{ "trailing space without extension", RAW("5 \r\nhello\r\n0\r\n\r\n") },
	{ "not hex", RAW("g\r\nhello\r\n0\r\n\r\n") },
	{ "17 significant digits", RAW("10000000000000005\r\nhello\r\n0\r\n\r\n") },
	{ "uint64 overflow", RAW("10000000000000000\r\nhello\r\n0\r\n\r\n") },
	{ "uint64 overflow after zeros", RAW("0000010000000000000000\r\nhello\r\n0\r\n\r\n") },
	{ "bare LF after size", RAW("5\nhello\r\n0\r\n\r\n") },
	{ "bare CR after size", RAW("5\rhello\r\n0\r\n\r\n") },
	{ "data longer than size", RAW("5\r\nhelloX\r\n0\r\n\r\n") },
	{ "data shorter than size", RAW("5\r\nhell\r\n0\r\n\r\n") },
	{ "bare LF after data", RAW("5\r\nhello\n0\r\n\r\n") },
	{ "bare CR after data", RAW("5\r\nhello\r0\r\n\r\n") },
	{ "LF CR after data", RAW("5\r\nhello\n\r0\r\n\r\n") },
	{ "empty extension", RAW("5;\r\nhello\r\n0\r\n\r\n") },
	{ "extension without name", RAW("5;=x\r\nhello\r\n0\r\n\r\n") },
	{ "extension without value", RAW("5;a=\r\nhello\r\n0\r\n\r\n") },
	{ "extension, unterminated quote", RAW("5;a=\"x\r\nhello\r\n0\r\n\r\n") },
	{ "extension, two words", RAW("5;a b\r\nhello\r\n0\r\n\r\n") },
	{ "extension, value two words", RAW("5;a=b c\r\nhello\r\n0\r\n\r\n") },
	{ "extension, trailing BWS", RAW("5;a \r\nhello\r\n0\r\n\r\n") },
	{ "extension, control in quotes", RAW("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n") },
	{ "extension, bad name char", RAW("5;a\x7f\r\nhello\r\n0\r\n\r\n") },
	{ "extension, text after quotes", RAW("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n") },
	{ "extension, bare LF", RAW("5;a=b\nhello\r\n0\r\n\r\n") },
	{ "comma instead of semicolon", RAW("5,a\r\nhello\r\n0\r\n\r\n") },
	{ "last chunk without final CRLF, bare LF", RAW("0\r\n\n") },
	{ "last chunk, CR then junk", RAW("0\r\n\rX") },
	{ "last chunk, bare LF", RAW("0\n\r\n") },
	{ "trailer with leading space", RAW("0\r\n X: 1\r\n\r\n") },
	{ "trailer obs-fold", RAW("0\r\nX: 1\r\n 2\r\n\r\n") },
	{ "trailer without colon", RAW("0\r\nX 1\r\n\r\n") },
	{ "trailer space before colon", RAW("0\r\nX : 1\r\n\r\n") },
	{ "trailer empty name", RAW("0\r\n: 1\r\n\r\n") },
	{ "trailer NUL in value", RAW("0\r\nX: a\0b\r\n\r\n") },
	{ "trailer bare CR in value", RAW("0\r\nX: a\rb\r\n\r\n") },
	{ "trailer bare LF", RAW("0\r\nX: 1\n\r\n") },
	{ "NUL as size", RAW("\0\r\n") },
};

static void test_chunked_invalid(void)
{
	static char out[4096], buf[16384];
	size_t i, olen, used, n;
	int rc, k;

	for (i = 0; i < ARRAY_LEN(chunk_bad); i++) {
		const struct chunk_bad *c = &chunk_bad[i];
		int r1 = feed(c->raw, c->len, FEED_WHOLE, 0, out, &olen, &used);
		int r2 = feed(c->raw, c->len, FEED_BYTES, 0, out, &olen, &used);

		ok(r1 == P_ERROR && r2 == P_ERROR, "chunked refused: %s", c->name);
	}

	/* bounded lines */
	n = (size_t)snprintf(buf, sizeof(buf), "5;a=%0*d\r\nhello\r\n0\r\n\r\n", 4000, 0);
	rc = feed(buf, n, FEED_WHOLE, 0, out, &olen, &used);
	is_int(rc, P_DONE, "4 KB chunk-size line accepted");
	n = (size_t)snprintf(buf, sizeof(buf), "5;a=%0*d\r\nhello\r\n0\r\n\r\n", 5000, 0);
	rc = feed(buf, n, FEED_WHOLE, 0, out, &olen, &used);
	is_int(rc, P_ERROR, "5 KB chunk-size line refused");
	n = (size_t)snprintf(buf, sizeof(buf), "5;a=%0*d", 8000, 0);
	rc = feed(buf, n, FEED_BYTES, 0, out, &olen, &used);
	is_int(rc, P_ERROR, "endless chunk-size line refused before its end");
	ok(used <= 4096, "endless chunk-size line: stopped within the bound");
	n = (size_t)snprintf(buf, sizeof(buf), "0\r\nX: %0*d\r\n\r\n", 5000, 0);
	rc = feed(buf, n, FEED_WHOLE, 0, out, &olen, &used);
	is_int(rc, P_ERROR, "5 KB trailer line refused");
	n = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
	for (k = 0; k < HTTP_MAX_HEADERS; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X: %d\r\n", k);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	rc = feed(buf, n, FEED_WHOLE, 0, out, &olen, &used);
	is_int(rc, P_DONE, "HTTP_MAX_HEADERS trailer fields accepted");
	n -= 2;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Y: 1\r\n\r\n");
	rc = feed(buf, n, FEED_WHOLE, 0, out, &olen, &used);
	is_int(rc, P_ERROR, "one trailer field more refused");
	n = (size_t)snprintf(buf, sizeof(buf), "5\r\nhello\r\n");
	for (k = 0; k < 2000; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1\r\nx\r\n");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "0\r\n\r\n");
	rc = feed(buf, n, FEED_RANDOM, 0, out, &olen, &used);
	ok(rc == P_DONE && olen == 2005, "line bound is per line: 2000 small chunks");
}

/* Not a test: how long the common case takes, for the record. */
static void bench(void)
{
	static const char raw[] =
		"GET /index.html?lang=en HTTP/1.1\r\n"
		"Host: www.example.com\r\n"
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
		"Accept-Language: en-US,en;q=0.5\r\n"
		"Accept-Encoding: gzip, deflate, br\r\n"
		"Connection: keep-alive\r\n"
		"\r\n";
	struct timespec a, b;
	int i, n = 200000, bad = 0;
	size_t sc;
	double ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		sc = 0;
		if (http_head_scan(raw, sizeof(raw) - 1, &sc) <= 0)
			bad++;
		if (http_parse_request(raw, sizeof(raw) - 1, &msg, &lim) != P_OK)
			bad++;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
	is_int(bad, 0, "benchmark head parses");
	printf("# scan + parse of a %zu-byte browser GET: %.0f ns\n", sizeof(raw) - 1, ns);
}

/* RFC 9110 2.5: HTTP/1.x with x > 1 is served as HTTP/1.1. */
static void test_higher_minor_version(void)
{
	static const char req[] = "GET / HTTP/1.2\r\nHost: h\r\n\r\n";
	static const char resp[] = "HTTP/1.3 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct http_message m;

	is_int(http_parse_request(req, sizeof(req) - 1, &m, NULL), P_OK,
	       "an HTTP/1.2 request is accepted");
	is_int(m.version, 11, "and read as HTTP/1.1");
	is_int(http_parse_response(resp, sizeof(resp) - 1, &m, NULL, HTTP_GET), P_OK,
	       "an HTTP/1.3 response is accepted");
	is_int(m.version, 11, "and read as HTTP/1.1");
}

/* Paths as routes see them: what nginx would match a location against. */
static void test_uri_normalize(void)
{
	static const struct {
		const char *in, *out;	/* out NULL: invalid */
	} cases[] = {
		{ "/", "/" },
		{ "/admin/x", "/admin/x" },
		{ "/%61dmin/x", "/admin/x" },
		{ "/%2561", "/%61" },		/* decoded once */
		{ "//admin/x", "/admin/x" },
		{ "/a//b///c", "/a/b/c" },
		{ "/./admin/x", "/admin/x" },
		{ "/x/../admin/x", "/admin/x" },
		{ "/x/%2e%2e/admin", "/admin" },
		{ "/x%2f..%2fadmin", "/admin" },	/* a decoded "/" separates */
		{ "/a/b/..", "/a/" },
		{ "/a/b/.", "/a/b/" },
		{ "/a/b/", "/a/b/" },
		{ "/a/..", "/" },
		{ "/.hidden/.x", "/.hidden/.x" },
		{ "/a/.../b", "/a/.../b" },
		{ "/a/..b/c", "/a/..b/c" },
		{ "/%41%42", "/AB" },
		{ "/..", NULL },
		{ "/a/../..", NULL },
		{ "/%2e%2e/etc", NULL },
		{ "/a%", NULL },
		{ "/a%4", NULL },
		{ "/a%zz", NULL },
		{ "/a%00b", NULL },
	};
	char out[64];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct slice in = { cases[i].in, strlen(cases[i].in) };
		long n = http_uri_normalize(in, out);

		if (cases[i].out == NULL)
			is_int(n, -1, "\"%s\" is refused", cases[i].in);
		else
			ok(n >= 0 && (size_t)n == strlen(cases[i].out) &&
			   memcmp(out, cases[i].out, (size_t)n) == 0, "\"%s\" is \"%s\"",
			   cases[i].in, cases[i].out);
	}
	ok(!http_uri_needs_normalizing((struct slice){ "/a/b.html", 9 }),
	   "a plain path is left as it is");
	ok(http_uri_needs_normalizing((struct slice){ "/a/.b", 5 }) &&
	   http_uri_needs_normalizing((struct slice){ "/a//b", 5 }) &&
	   http_uri_needs_normalizing((struct slice){ "/a%20b", 6 }),
	   "escapes, double slashes and dot segments are normalized");
}

/* The token test the configuration uses for methods and field names. */
static void test_is_token(void)
{
	ok(http_is_token("GET") && http_is_token("X-Custom_1") && http_is_token("!#$%&'*+-.^_`|~"),
	   "letters, digits and the token specials make a token");
	ok(!http_is_token(""), "an empty string is no token");
	ok(!http_is_token("X Y") && !http_is_token("a:b") && !http_is_token("\xc3\xa9") &&
	   !http_is_token("a\"b"), "a space, a colon, a non-ASCII byte or a quote is not in one");
}

int main(void)
{
	test_valid_requests();
	test_request_details();
	test_invalid_requests();
	test_request_limits();
	test_valid_responses();
	test_invalid_responses();
	test_head_scan();
	test_long_lines();
	test_chunked_valid();
	test_chunked_api();
	test_chunked_invalid();
	test_higher_minor_version();
	test_uri_normalize();
	test_is_token();
	bench();
	return done_testing();
}
