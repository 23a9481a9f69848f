/*
 * http_parse.c: the strict HTTP/1.x parser (RFC 9110, RFC 9112).
 *
 * Heads are parsed line by line: memchr finds each LF, a table of
 * character classes checks every byte of a line once. Nothing is copied
 * or allocated; every string in struct http_message points into the
 * caller's buffer. Whatever two implementations could read differently
 * (framing above all) is refused rather than repaired.
 */
#include <stdint.h>
#include <string.h>

#include "http_parse.h"

/* Character classes, one table lookup per byte. */
#define C_TCHAR		0x01	/* token: methods, field names, codings */
#define C_VALUE		0x02	/* field value: VCHAR, obs-text, SP, HTAB */
#define C_TARGET	0x04	/* request-target: VCHAR, obs-text, not "#" */
#define C_HOST		0x08	/* reg-name/IPv4: unreserved, sub-delims */
#define C_HEX		0x10	/* HEXDIG */
#define C_QDTEXT	0x20	/* quoted-string text: C_VALUE but '"' '\' */

#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_TCHAR(c)	(IS_ALPHA(c) || IS_DIGIT(c) || (c) == '!' || \
	(c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || \
	(c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
	(c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
	(c) == '|' || (c) == '~')
#define IS_VALUE(c)	((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
/*
 * VCHAR and obs-text: real clients send raw UTF-8 and the characters RFC
 * 3986 leaves out (" < > \ ^ ` { | }), and nothing reads them two ways.
 * A fragment is never sent (RFC 9112 3.2), so '#' can only be an attempt
 * to make us and the backend disagree on where the path ends.
 */
#define IS_TARGET(c)	((c) > 0x20 && (c) != 0x7f && (c) != '#')
/* No '%': a percent-encoded host name is never legitimate in practice. */
#define IS_HOST(c)	(IS_ALPHA(c) || IS_DIGIT(c) || (c) == '-' || \
	(c) == '.' || (c) == '_' || (c) == '~' || (c) == '!' || \
	(c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || \
	(c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || \
	(c) == ';' || (c) == '=')
#define IS_HEX(c)	(IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || \
	((c) >= 'A' && (c) <= 'F'))
#define IS_QDTEXT(c)	(IS_VALUE(c) && (c) != '"' && (c) != '\\')

#define CLS(c) ((IS_TCHAR(c) ? C_TCHAR : 0) | (IS_VALUE(c) ? C_VALUE : 0) | \
	(IS_TARGET(c) ? C_TARGET : 0) | (IS_HOST(c) ? C_HOST : 0) | \
	(IS_HEX(c) ? C_HEX : 0) | (IS_QDTEXT(c) ? C_QDTEXT : 0))
#define ROW(b) CLS((b) + 0), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3), \
	CLS((b) + 4), CLS((b) + 5), CLS((b) + 6), CLS((b) + 7), \
	CLS((b) + 8), CLS((b) + 9), CLS((b) + 10), CLS((b) + 11), \
	CLS((b) + 12), CLS((b) + 13), CLS((b) + 14), CLS((b) + 15)

static const uint8_t cls[256] = {
	ROW(0x00), ROW(0x10), ROW(0x20), ROW(0x30),
	ROW(0x40), ROW(0x50), ROW(0x60), ROW(0x70),
	ROW(0x80), ROW(0x90), ROW(0xa0), ROW(0xb0),
	ROW(0xc0), ROW(0xd0), ROW(0xe0), ROW(0xf0)
};

#define HAS(c, k)	(cls[(unsigned char)(c)] & (k))
#define IS_OWS(c)	((c) == ' ' || (c) == '\t')

/* Largest Content-Length: what an off_t can hold. */
#define CL_MAX		((uint64_t)INT64_MAX)

/* Longest chunk-size line (with extensions) or trailer field line. */
#define CHUNK_LINE_MAX	4096

static const struct http_limits default_limits = { 8192, 8192, 32768, HTTP_MAX_HEADERS };

/* State of one head being parsed. */
struct hp {
	const char *buf;
	const char *end;
	struct http_message *msg;
	const struct http_limits *lim;
	bool request;
	unsigned max_fields;	/* of the head; at most HTTP_MAX_HEADERS */
	bool host_seen;
	bool cl_seen;
	bool te_seen;
	bool te_bad;		/* empty element or not a token */
	bool te_last_chunked;
	bool te_other;		/* a coding other than chunked */
	unsigned te_chunked;	/* times "chunked" was listed */
	bool expect_bad;
	struct slice authority;	/* of an absolute-form target */
};

static inline unsigned char lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* p[0..n) equals the lower-case lower[0..n), ignoring case. */
static bool ieq(const char *p, const char *lower, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lc((unsigned char)p[i]) != (unsigned char)lower[i])
			return false;
	return true;
}

static bool slice_ieq2(struct slice a, struct slice b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++)
		if (lc((unsigned char)a.p[i]) != lc((unsigned char)b.p[i]))
			return false;
	return true;
}

#define IEQ(p, n, lit)	((n) == sizeof(lit) - 1 && ieq((p), (lit), (n)))

/*
 * Eight bytes at a time: most bytes of a head are plain text, and one
 * test on a word passes eight of them. A word that fails is looked at
 * byte by byte, as before; these only let the common case skip ahead.
 */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static inline uint64_t load_word(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Some byte of w is below n (n <= 128); exact as a yes or no. */
static inline bool word_has_below(uint64_t w, unsigned n)
{
	return ((w - ONES * n) & ~w & HIGHS) != 0;
}

/* Some byte of w is DEL (0x7f). */
static inline bool word_has_del(uint64_t w)
{
	uint64_t x = w ^ (ONES * 0x7f);

	return ((x - ONES) & ~x & HIGHS) != 0;
}

/* Every byte of w is field-value text other than HTAB (the rare one). */
static inline bool word_is_value(uint64_t w)
{
	return !word_has_below(w, 0x20) && !word_has_del(w);
}

bool http_is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!HAS(*s, C_TCHAR))
			return false;
	return true;
}

/*
 * Head scanning
 */

long http_head_scan(const char *buf, size_t len, size_t *scanned)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t i;

	for (i = *scanned; i < len; i++) {
		while (i + 8 <= len && !word_has_below(load_word(b + i), '\r' + 1))
			i += 8;
		if (i == len)
			break;
		if (likely(b[i] > '\r'))
			continue;
		if (b[i] == '\r') {
			if (i + 1 == len)
				break;	/* look at this CR again with its successor */
			if (b[i + 1] != '\n')
				return -1;
			i++;
			/*
			 * CRLF CRLF ends the head, unless it is one of the
			 * empty lines allowed before a request line: then the
			 * byte before the first CRLF is the LF of another one
			 * (or there is none), since a CRLF CRLF after a real
			 * line would have ended the head already.
			 */
			if (i >= 4 && b[i - 2] == '\n' && b[i - 3] == '\r' &&
			    b[i - 4] != '\n') {
				*scanned = i + 1;
				return (long)(i + 1);
			}
			continue;
		}
		if (b[i] == '\n' || b[i] == '\0')
			return -1;
	}
	*scanned = i;
	return 0;
}

/*
 * Shared pieces
 */

static uint8_t method_id(const char *p, size_t n)
{
	switch (n) {
	case 3:
		if (memcmp(p, "GET", 3) == 0)
			return HTTP_GET;
		if (memcmp(p, "PUT", 3) == 0)
			return HTTP_PUT;
		break;
	case 4:
		if (memcmp(p, "HEAD", 4) == 0)
			return HTTP_HEAD;
		if (memcmp(p, "POST", 4) == 0)
			return HTTP_POST;
		break;
	case 5:
		if (memcmp(p, "PATCH", 5) == 0)
			return HTTP_PATCH;
		if (memcmp(p, "TRACE", 5) == 0)
			return HTTP_TRACE;
		break;
	case 6:
		if (memcmp(p, "DELETE", 6) == 0)
			return HTTP_DELETE;
		break;
	case 7:
		if (memcmp(p, "CONNECT", 7) == 0)
			return HTTP_CONNECT;
		if (memcmp(p, "OPTIONS", 7) == 0)
			return HTTP_OPTIONS;
		break;
	}
	return HTTP_OTHER_METHOD;
}

static uint8_t header_id(const char *p, size_t n)
{
	switch (n) {
	case 2:
		return IEQ(p, n, "te") ? HDR_TE : HDR_OTHER;
	case 4:
		if (IEQ(p, n, "host"))
			return HDR_HOST;
		if (IEQ(p, n, "date"))
			return HDR_DATE;
		break;
	case 6:
		if (IEQ(p, n, "expect"))
			return HDR_EXPECT;
		if (IEQ(p, n, "server"))
			return HDR_SERVER;
		break;
	case 7:
		if (IEQ(p, n, "upgrade"))
			return HDR_UPGRADE;
		if (IEQ(p, n, "trailer"))
			return HDR_TRAILER;
		break;
	case 10:
		if (IEQ(p, n, "connection"))
			return HDR_CONNECTION;
		if (IEQ(p, n, "keep-alive"))
			return HDR_KEEP_ALIVE;
		break;
	case 14:
		return IEQ(p, n, "content-length") ? HDR_CONTENT_LENGTH : HDR_OTHER;
	case 16:
		return IEQ(p, n, "proxy-connection") ? HDR_PROXY_CONNECTION : HDR_OTHER;
	case 17:
		return IEQ(p, n, "transfer-encoding") ? HDR_TRANSFER_ENCODING : HDR_OTHER;
	}
	return HDR_OTHER;
}

/*
 * uri-host [ ":" port ] (RFC 9110 4.2.1, 7.2). The host is an IP literal
 * in brackets or a reg-name without userinfo or percent-encoding; the
 * port is required for CONNECT's authority-form.
 */
static bool valid_host(const char *p, const char *e, bool need_port)
{
	const char *s;

	if (p == e)
		return false;
	if (*p == '[') {
		for (s = ++p; p < e && (HAS(*p, C_HEX) || *p == ':' || *p == '.'); p++)
			;
		if (p == s || p == e || *p != ']')
			return false;
		p++;
	} else {
		for (s = p; p < e && HAS(*p, C_HOST); p++)
			;
		if (p == s)
			return false;
	}
	if (p == e)
		return !need_port;
	if (*p++ != ':')
		return false;
	if (need_port && p == e)
		return false;
	for (; p < e && IS_DIGIT(*p); p++)
		;
	return p == e;
}

/* Split [p, e) at the first '?' into path and query. */
static void split_path(struct http_message *msg, const char *p, const char *e)
{
	const char *q = memchr(p, '?', (size_t)(e - p));

	if (q == NULL) {
		msg->path = (struct slice){ p, (size_t)(e - p) };
		msg->query = (struct slice){ e, 0 };
	} else {
		msg->path = (struct slice){ p, (size_t)(q - p) };
		msg->query = (struct slice){ q + 1, (size_t)(e - q - 1) };
	}
}

/* Request-target forms (RFC 9112 3.2). */
static int parse_target(struct hp *h)
{
	struct http_message *msg = h->msg;
	const char *t = msg->target.p, *e = t + msg->target.len, *a, *ae;

	if (msg->method_id == HTTP_CONNECT) {
		/* authority-form, and only it: host ":" port */
		if (!valid_host(t, e, true))
			return 400;
		msg->path = (struct slice){ t, 0 };
		msg->query = (struct slice){ e, 0 };
		return P_OK;
	}
	if (*t == '/') {
		split_path(msg, t, e);
		return P_OK;
	}
	if (*t == '*') {
		if (msg->target.len != 1 || msg->method_id != HTTP_OPTIONS)
			return 400;
		msg->path = msg->target;
		msg->query = (struct slice){ e, 0 };
		return P_OK;
	}

	/* absolute-form: only the http and https schemes make sense here */
	if (msg->target.len > 7 && ieq(t, "http://", 7))
		a = t + 7;
	else if (msg->target.len > 8 && ieq(t, "https://", 8))
		a = t + 8;
	else
		return 400;
	for (ae = a; ae < e && *ae != '/' && *ae != '?'; ae++)
		;
	/* an empty host, or userinfo, is invalid (RFC 9110 4.2.1, 4.2.4) */
	if (!valid_host(a, ae, false))
		return 400;
	h->authority = (struct slice){ a, (size_t)(ae - a) };
	if (ae < e && *ae == '/') {
		split_path(msg, ae, e);
	} else {
		msg->path = SLICE_LIT("/");
		if (ae < e)
			msg->query = (struct slice){ ae + 1, (size_t)(e - ae - 1) };
		else
			msg->query = (struct slice){ e, 0 };
	}
	return P_OK;
}

/* "HTTP/" DIGIT "." DIGIT; 0 if malformed, else 10 * major + minor. */
static int parse_version(const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !IS_DIGIT(v[5]) ||
	    v[6] != '.' || !IS_DIGIT(v[7]))
		return 0;
	return (v[5] - '0') * 10 + (v[7] - '0') + 100;	/* +100: never 0 */
}

/* RFC 9110 2.5: a higher minor version of HTTP/1 is read as the highest
 * one we implement, 1.1. v is parse_version()'s 110..119. */
static int known_version(int v)
{
	return v == 110 ? 10 : 11;
}

/*
 * What a head that does not end inside buf deserves: the worker may call
 * us when its buffer filled up, and then a line or the head is too long.
 */
static int incomplete(const struct hp *h, const char *line, size_t line_max, int line_status)
{
	if ((size_t)(h->end - line) > line_max + 1)
		return line_status;
	if ((size_t)(h->end - h->buf) >= h->lim->max_head)
		return 431;
	return 400;
}

static int content_length(struct hp *h, struct http_header *hd)
{
	struct http_message *msg = h->msg;
	const char *p = hd->value.p, *e = p + hd->value.len;
	uint64_t v = 0;

	/* 1*DIGIT and nothing else: no sign, no list, no inner spaces */
	if (p == e)
		return 400;
	for (; p < e; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9 || v > (CL_MAX - d) / 10)
			return 400;
		v = v * 10 + d;
	}
	if (h->cl_seen) {
		/*
		 * Two in a request is refused even when equal: it is a
		 * probe. An identical repeat from a backend is harmless;
		 * flag the copy so that only one is forwarded.
		 */
		if (h->request || v != msg->content_length)
			return 400;
		hd->flags |= HTTP_HDR_HOP;
		return P_OK;
	}
	h->cl_seen = true;
	msg->content_length = v;
	return P_OK;
}

/*
 * One Transfer-Encoding line: 1#transfer-coding. Lines add up as one
 * list; the verdict is given once the head is complete. Parameters and
 * empty elements are refused: nothing legitimate sends them.
 */
static void transfer_encoding(struct hp *h, struct slice v)
{
	const char *p = v.p, *e = p + v.len, *s;

	h->te_seen = true;
	for (;;) {
		for (s = p; p < e && HAS(*p, C_TCHAR); p++)
			;
		if (p == s) {
			h->te_bad = true;
			return;
		}
		if (IEQ(s, (size_t)(p - s), "chunked")) {
			h->te_chunked++;
			h->te_last_chunked = true;
		} else {
			h->te_other = true;
			h->te_last_chunked = false;
		}
		while (p < e && IS_OWS(*p))
			p++;
		if (p == e)
			return;
		if (*p++ != ',') {
			h->te_bad = true;
			return;
		}
		while (p < e && IS_OWS(*p))
			p++;
	}
}

/* Meaning of one field line, as far as it can be judged alone. */
static int field_semantics(struct hp *h, struct http_header *hd)
{
	struct http_message *msg = h->msg;

	switch (hd->id) {
	case HDR_HOST:
		if (!h->request)
			break;
		if (h->host_seen)
			return 400;
		h->host_seen = true;
		/* empty is valid: a target without authority (RFC 9112 3.2) */
		if (hd->value.len &&
		    !valid_host(hd->value.p, hd->value.p + hd->value.len, false))
			return 400;
		msg->host = hd->value;
		break;
	case HDR_CONTENT_LENGTH:
		return content_length(h, hd);
	case HDR_TRANSFER_ENCODING:
		hd->flags |= HTTP_HDR_HOP;
		transfer_encoding(h, hd->value);
		break;
	case HDR_CONNECTION:
	case HDR_KEEP_ALIVE:
	case HDR_UPGRADE:
	case HDR_TE:
	case HDR_TRAILER:
	case HDR_PROXY_CONNECTION:
		hd->flags |= HTTP_HDR_HOP;
		break;
	case HDR_EXPECT:
		if (!h->request)
			break;
		/* 100-continue means nothing in HTTP/1.0 (RFC 9110 10.1.1) */
		if (IEQ(hd->value.p, hd->value.len, "100-continue"))
			msg->expect_continue = msg->version == 11;
		else
			h->expect_bad = true;
		break;
	}
	return P_OK;
}

/* field-line = field-name ":" OWS field-value OWS, in [p, eol). */
static int field_line(struct hp *h, const char *p, const char *eol)
{
	struct http_message *msg = h->msg;
	struct http_header *hd;
	const char *n, *v, *ve, *q;

	/*
	 * A name must start the line: leading whitespace (obs-fold, or
	 * before the first field) and whitespace before the colon end here.
	 */
	for (n = p; n < eol && HAS(*n, C_TCHAR); n++)
		;
	if (n == p || n == eol || *n != ':')
		return 400;
	for (v = n + 1; v < eol && IS_OWS(*v); v++)
		;
	for (ve = eol; ve > v && IS_OWS(ve[-1]); ve--)
		;
	for (q = v; q + 8 <= ve && word_is_value(load_word((const unsigned char *)q)); q += 8)
		;
	for (; q < ve; q++)
		if (unlikely(!HAS(*q, C_VALUE)))
			return 400;
	if (msg->nheaders == h->max_fields) {
		msg->too_many_fields = true;
		return 431;
	}
	hd = &msg->headers[msg->nheaders++];
	hd->name = (struct slice){ p, (size_t)(n - p) };
	hd->value = (struct slice){ v, (size_t)(ve - v) };
	hd->id = header_id(p, (size_t)(n - p));
	hd->flags = 0;
	if (hd->id == HDR_OTHER)
		return P_OK;
	return field_semantics(h, hd);
}

/* Field lines from p through the empty line; sets head_len. */
static int field_lines(struct hp *h, const char *p)
{
	const struct http_limits *lim = h->lim;
	const char *lf, *eol;
	int rc;

	for (;;) {
		lf = memchr(p, '\n', (size_t)(h->end - p));
		if (lf == NULL)
			return incomplete(h, p, lim->max_header_line, 431);
		if (lf == p || lf[-1] != '\r')
			return 400;	/* bare LF */
		eol = lf - 1;
		if ((size_t)(lf + 1 - h->buf) > lim->max_head)
			return 431;
		if (eol == p)
			break;
		if ((size_t)(eol - p) > lim->max_header_line)
			return 431;
		if ((rc = field_line(h, p, eol)) != P_OK)
			return rc;
		p = lf + 1;
	}
	h->msg->head_len = (size_t)(lf + 1 - h->buf);
	return P_OK;
}

static bool is_protected(const struct http_header *hd)
{
	return hd->id == HDR_HOST || hd->id == HDR_CONTENT_LENGTH;
}

/*
 * One connection option: set conn_flags and make the field it names
 * hop-by-hop. Host and Content-Length are never dropped that way:
 * "Connection: content-length" would strip the framing of a request
 * whose body still follows.
 */
static void connection_option(struct http_message *msg, struct slice tok)
{
	unsigned i;

	if (IEQ(tok.p, tok.len, "close"))
		msg->conn_flags |= HTTP_CONN_CLOSE;
	else if (IEQ(tok.p, tok.len, "keep-alive"))
		msg->conn_flags |= HTTP_CONN_KEEP_ALIVE;
	else if (IEQ(tok.p, tok.len, "upgrade"))
		msg->conn_flags |= HTTP_CONN_UPGRADE;
	for (i = 0; i < msg->nheaders; i++)
		if (!is_protected(&msg->headers[i]) &&
		    slice_ieq2(msg->headers[i].name, tok))
			msg->headers[i].flags |= HTTP_HDR_HOP;
}

/*
 * Connection = #connection-option, resolved once every field is known.
 * Empty list elements are accepted (RFC 9110 5.6.1); anything but a
 * token is not.
 */
static int connection_options(struct http_message *msg)
{
	unsigned i;

	for (i = 0; i < msg->nheaders; i++) {
		const char *p, *e, *s;

		if (msg->headers[i].id != HDR_CONNECTION)
			continue;
		p = msg->headers[i].value.p;
		e = p + msg->headers[i].value.len;
		for (;;) {
			while (p < e && (IS_OWS(*p) || *p == ','))
				p++;
			if (p == e)
				break;
			for (s = p; p < e && HAS(*p, C_TCHAR); p++)
				;
			if (p == s)
				return 400;
			connection_option(msg, (struct slice){ s, (size_t)(p - s) });
			while (p < e && IS_OWS(*p))
				p++;
			if (p < e && *p != ',')
				return 400;
		}
	}
	return P_OK;
}

static void hp_init(struct hp *h, const char *buf, size_t len,
		    struct http_message *msg, const struct http_limits *lim,
		    bool request)
{
	memset(h, 0, sizeof(*h));
	h->buf = buf;
	h->end = buf + len;
	h->msg = msg;
	h->lim = lim ? lim : &default_limits;
	h->request = request;
	/* The configured bound is the client's; a server's head may fill
	 * the array. */
	h->max_fields = request && h->lim->max_headers > 0 &&
			h->lim->max_headers < HTTP_MAX_HEADERS ? h->lim->max_headers
							       : HTTP_MAX_HEADERS;

	/* not the headers[] array: 4 KB we would clear for nothing */
	msg->method = msg->target = msg->path = msg->query = (struct slice){ buf, 0 };
	msg->method_id = HTTP_OTHER_METHOD;
	msg->status = 0;
	msg->reason = (struct slice){ buf, 0 };
	msg->version = 0;
	msg->nheaders = 0;
	msg->host = (struct slice){ buf, 0 };
	msg->framing = HTTP_BODY_NONE;
	msg->content_length = 0;
	msg->conn_flags = 0;
	msg->expect_continue = false;
	msg->too_many_fields = false;
	msg->head_len = 0;
}

/*
 * Requests
 */

/* method SP request-target SP HTTP-version, in [p, eol). */
static int request_line(struct hp *h, const char *p, const char *eol)
{
	struct http_message *msg = h->msg;
	const char *m, *t;
	int v;

	for (m = p; m < eol && HAS(*m, C_TCHAR); m++)
		;
	if (m == p || m == eol || *m != ' ')
		return 400;
	for (t = m + 1; t < eol && HAS(*t, C_TARGET); t++)
		;
	if (t == m + 1 || t == eol || *t != ' ')
		return 400;
	msg->method = (struct slice){ p, (size_t)(m - p) };
	msg->method_id = method_id(p, (size_t)(m - p));
	msg->target = (struct slice){ m + 1, (size_t)(t - m - 1) };

	v = parse_version(t + 1, (size_t)(eol - t - 1));
	if (v == 0)
		return 400;
	if (v < 110 || v > 119)
		return 505;
	msg->version = known_version(v);
	if ((v = parse_target(h)) == P_OK)
		msg->uri = msg->path;
	return v;
}

int http_parse_request(const char *buf, size_t len, struct http_message *msg,
		       const struct http_limits *lim)
{
	struct hp h;
	const char *p = buf, *end = buf + len, *lf, *eol;
	int rc;

	hp_init(&h, buf, len, msg, lim, true);
	lim = h.lim;

	/* RFC 9112 2.2: empty lines before the request line are ignored */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;

	lf = memchr(p, '\n', (size_t)(end - p));
	if (lf == NULL)
		return incomplete(&h, p, lim->max_request_line, 414);
	eol = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
	if ((size_t)(eol - p) > lim->max_request_line)
		return 414;
	if (eol == lf)
		return 400;	/* bare LF */
	if ((size_t)(lf + 1 - buf) > lim->max_head)
		return 431;
	if ((rc = request_line(&h, p, eol)) != P_OK)
		return rc;
	if ((rc = field_lines(&h, lf + 1)) != P_OK)
		return rc;

	if (msg->version == 11 && !h.host_seen)
		return 400;	/* RFC 9112 3.2 */
	if (h.authority.len) {
		/*
		 * RFC 9112 3.2.2 lets the target's authority override Host;
		 * we would route on one and forward the other, so they
		 * must agree.
		 */
		if (h.host_seen && !slice_ieq2(h.authority, msg->host))
			return 400;
		msg->host = h.authority;
	}
	if ((rc = connection_options(msg)) != P_OK)
		return rc;

	/* framing, RFC 9112 6.1 and 6.3 */
	if (h.te_seen) {
		if (msg->version == 10 || h.cl_seen || h.te_bad ||
		    !h.te_last_chunked || h.te_chunked > 1)
			return 400;
		if (h.te_other)
			return 501;	/* gzip, chunked: we do not decode that */
		msg->framing = HTTP_BODY_CHUNKED;
	} else if (h.cl_seen && msg->content_length > 0) {
		msg->framing = HTTP_BODY_LENGTH;
	}

	/* last, so that a malformed request still gets its 400 */
	if (h.expect_bad)
		return 417;
	return P_OK;
}

/*
 * Responses
 */

/* The fields with id pass on after all (they were taken for hop-by-hop). */
static void forward_field(struct http_message *msg, int id)
{
	unsigned i;

	for (i = 0; i < msg->nheaders; i++)
		if (msg->headers[i].id == id)
			msg->headers[i].flags &= (uint8_t)~HTTP_HDR_HOP;
}

/* HTTP-version SP 3DIGIT [ SP reason-phrase ], in [p, eol). */
static int status_line(struct hp *h, const char *p, const char *eol)
{
	struct http_message *msg = h->msg;
	const char *q;
	int v;

	if (eol - p < 12 || p[8] != ' ')
		return 502;
	v = parse_version(p, 8);
	if (v < 110 || v > 119)
		return 502;
	msg->version = known_version(v);
	if (p[9] < '1' || p[9] > '5' || !IS_DIGIT(p[10]) || !IS_DIGIT(p[11]))
		return 502;
	msg->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	p += 12;
	/* many servers send no SP when the reason phrase is empty */
	if (p < eol && *p++ != ' ')
		return 502;
	for (q = p; q < eol; q++)
		if (!HAS(*q, C_VALUE))
			return 502;
	msg->reason = (struct slice){ p, (size_t)(eol - p) };
	return P_OK;
}

int http_parse_response(const char *buf, size_t len, struct http_message *msg,
			const struct http_limits *lim, int request_method)
{
	struct hp h;
	const char *lf;
	int s;

	hp_init(&h, buf, len, msg, lim, false);
	lf = memchr(buf, '\n', len);
	if (lf == NULL || lf == buf || lf[-1] != '\r')
		return 502;
	if ((size_t)(lf + 1 - buf) > h.lim->max_head ||
	    (size_t)(lf - 1 - buf) > h.lim->max_header_line)
		return 502;
	if (status_line(&h, buf, lf - 1) != P_OK)
		return 502;
	if (field_lines(&h, lf + 1) != P_OK)
		return 502;
	if (connection_options(msg) != P_OK)
		return 502;

	/*
	 * Framing, RFC 9112 6.3. "chunked" alone is decoded (and the field
	 * dropped: we frame the body anew). Codings that do not end in
	 * chunked mean the body ends when the server closes: it passes as
	 * it is, with the field that names its codings. Codings before a
	 * final chunked would lose their label: refused.
	 */
	if (h.te_seen) {
		if (msg->version == 10 || h.cl_seen || h.te_bad || h.te_chunked > 1 ||
		    (h.te_last_chunked && h.te_other) || (!h.te_last_chunked && h.te_chunked))
			return 502;
		if (h.te_last_chunked) {
			msg->framing = HTTP_BODY_CHUNKED;
		} else {
			msg->framing = HTTP_BODY_EOF;
			forward_field(msg, HDR_TRANSFER_ENCODING);
		}
	} else if (h.cl_seen) {
		msg->framing = HTTP_BODY_LENGTH;
	} else {
		msg->framing = HTTP_BODY_EOF;
	}
	s = msg->status;
	if (request_method == HTTP_HEAD || s < 200 || s == 204 || s == 304 ||
	    (request_method == HTTP_CONNECT && s < 300))
		msg->framing = HTTP_BODY_NONE;
	return P_OK;
}

struct slice http_header_value(const struct http_message *msg, const char *name)
{
	unsigned i;

	for (i = 0; i < msg->nheaders; i++)
		if (slice_ieq(msg->headers[i].name, name))
			return msg->headers[i].value;
	return (struct slice){ NULL, 0 };
}

struct slice http_singleton_value(const struct http_message *msg, const char *name,
				  bool *repeated)
{
	struct slice v = { NULL, 0 };
	unsigned i;

	*repeated = false;
	for (i = 0; i < msg->nheaders; i++) {
		if (!slice_ieq(msg->headers[i].name, name))
			continue;
		if (v.p != NULL)
			*repeated = true;
		else
			v = msg->headers[i].value;
	}
	return v;
}

bool http_keep_alive(const struct http_message *msg)
{
	if (msg->framing == HTTP_BODY_EOF)
		return false;
	if (msg->conn_flags & HTTP_CONN_CLOSE)
		return false;
	if (msg->version == 11)
		return true;
	return msg->version == 10 && (msg->conn_flags & HTTP_CONN_KEEP_ALIVE);
}

/*
 * Chunked transfer coding (RFC 9112 7.1)
 */

enum {
	CH_SIZE_START = 0,	/* first HEXDIG of chunk-size */
	CH_SIZE,		/* more HEXDIG, ';', BWS or CR */
	CH_EXT_WS,		/* BWS that must lead to ';' */
	CH_EXT_NAME_START,	/* BWS then a token */
	CH_EXT_NAME,
	CH_EXT_NAME_WS,		/* BWS after a name: '=' or ';' next */
	CH_EXT_VAL_START,	/* BWS then token or quoted-string */
	CH_EXT_VAL_TOKEN,
	CH_EXT_VAL_QUOTED,
	CH_EXT_VAL_QP,		/* after '\' in a quoted-string */
	CH_EXT_AFTER,		/* after a quoted-string */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TR_START,		/* a trailer field line or the final CRLF */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR
};

void http_chunked_init(struct http_chunked *c)
{
	c->state = CH_SIZE_START;
	c->remaining = 0;
	c->line_len = 0;
}

static int hexval(unsigned char ch)
{
	if (IS_DIGIT(ch))
		return ch - '0';
	return lc(ch) - 'a' + 10;
}

/* After the chunk-size or a complete extension: ';', BWS or the CR. */
static int ext_next(unsigned char ch)
{
	if (ch == ';')
		return CH_EXT_NAME_START;
	if (IS_OWS(ch))
		return CH_EXT_WS;
	return ch == '\r' ? CH_SIZE_LF : CH_ERROR;
}

/*
 * Advance the line states by one byte. Returns the next state, CH_ERROR,
 * or CH_DONE.
 */
static int chunk_byte(struct http_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE_START:
		if (!HAS(ch, C_HEX))
			return CH_ERROR;
		c->remaining = (uint64_t)hexval(ch);
		return CH_SIZE;
	case CH_SIZE:
		if (HAS(ch, C_HEX)) {
			/* Leading zeros are unambiguous and cost nothing; a
			 * size that would not fit 64 bits is refused. */
			if (c->remaining >> 60)
				return CH_ERROR;
			c->remaining = c->remaining << 4 | (uint64_t)hexval(ch);
			return CH_SIZE;
		}
		return ext_next(ch);
	case CH_EXT_AFTER:
		return ext_next(ch);
	case CH_EXT_WS:
		if (IS_OWS(ch))
			return CH_EXT_WS;
		return ch == ';' ? CH_EXT_NAME_START : CH_ERROR;
	case CH_EXT_NAME_START:
		if (IS_OWS(ch))
			return CH_EXT_NAME_START;
		return HAS(ch, C_TCHAR) ? CH_EXT_NAME : CH_ERROR;
	case CH_EXT_NAME:
		if (HAS(ch, C_TCHAR))
			return CH_EXT_NAME;
		if (ch == '=')
			return CH_EXT_VAL_START;
		if (ch == ';')
			return CH_EXT_NAME_START;
		if (IS_OWS(ch))
			return CH_EXT_NAME_WS;
		return ch == '\r' ? CH_SIZE_LF : CH_ERROR;
	case CH_EXT_NAME_WS:
		if (IS_OWS(ch))
			return CH_EXT_NAME_WS;
		if (ch == '=')
			return CH_EXT_VAL_START;
		return ch == ';' ? CH_EXT_NAME_START : CH_ERROR;
	case CH_EXT_VAL_START:
		if (IS_OWS(ch))
			return CH_EXT_VAL_START;
		if (ch == '"')
			return CH_EXT_VAL_QUOTED;
		return HAS(ch, C_TCHAR) ? CH_EXT_VAL_TOKEN : CH_ERROR;
	case CH_EXT_VAL_TOKEN:
		if (HAS(ch, C_TCHAR))
			return CH_EXT_VAL_TOKEN;
		if (ch == ';')
			return CH_EXT_NAME_START;
		if (IS_OWS(ch))
			return CH_EXT_WS;
		return ch == '\r' ? CH_SIZE_LF : CH_ERROR;
	case CH_EXT_VAL_QUOTED:
		if (ch == '"')
			return CH_EXT_AFTER;
		if (ch == '\\')
			return CH_EXT_VAL_QP;
		return HAS(ch, C_QDTEXT) ? CH_EXT_VAL_QUOTED : CH_ERROR;
	case CH_EXT_VAL_QP:
		return HAS(ch, C_VALUE) ? CH_EXT_VAL_QUOTED : CH_ERROR;
	case CH_SIZE_LF:
		if (ch != '\n')
			return CH_ERROR;
		c->line_len = 0;
		return c->remaining ? CH_DATA : CH_TR_START;
	case CH_DATA_CR:
		return ch == '\r' ? CH_DATA_LF : CH_ERROR;
	case CH_DATA_LF:
		c->line_len = 0;
		return ch == '\n' ? CH_SIZE_START : CH_ERROR;
	case CH_TR_START:
		if (ch == '\r')
			return CH_FINAL_LF;
		/* remaining counts trailer fields once the data is over */
		if (!HAS(ch, C_TCHAR) || ++c->remaining > HTTP_MAX_HEADERS)
			return CH_ERROR;
		return CH_TR_NAME;
	case CH_TR_NAME:
		if (HAS(ch, C_TCHAR))
			return CH_TR_NAME;
		return ch == ':' ? CH_TR_VALUE : CH_ERROR;
	case CH_TR_VALUE:
		if (HAS(ch, C_VALUE))
			return CH_TR_VALUE;
		return ch == '\r' ? CH_TR_LF : CH_ERROR;
	case CH_TR_LF:
		c->line_len = 0;
		return ch == '\n' ? CH_TR_START : CH_ERROR;
	case CH_FINAL_LF:
		return ch == '\n' ? CH_DONE : CH_ERROR;
	}
	return CH_ERROR;
}

int http_chunked_decode(struct http_chunked *c, const char *in, size_t len,
			size_t *consumed, struct slice *data)
{
	size_t i = 0;

	data->p = in;
	data->len = 0;
	*consumed = 0;
	if (c->state == CH_DONE)
		return P_DONE;
	if (c->state == CH_ERROR)
		return P_ERROR;

	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = (size_t)MIN(c->remaining, (uint64_t)(len - i));

			data->p = in + i;
			data->len = n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			*consumed = i + n;
			return HTTP_CHUNK_DATA;
		}
		/* bounds what a peer can make us wade through between data */
		if (++c->line_len > CHUNK_LINE_MAX) {
			c->state = CH_ERROR;
			*consumed = i;
			return P_ERROR;
		}
		c->state = chunk_byte(c, (unsigned char)in[i]);
		if (c->state == CH_ERROR) {
			*consumed = i;
			return P_ERROR;
		}
		i++;
		if (c->state == CH_DONE) {
			*consumed = i;
			return P_DONE;
		}
	}
	*consumed = len;
	return P_AGAIN;
}
