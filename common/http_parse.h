/*
 * http_parse.h: the strict HTTP/1.x parser (RFC 9110, RFC 9112).
 *
 * Owns: request and response heads parsed in place (every string is a
 * slice into the caller's buffer, nothing is allocated), the framing
 * decision for a message body, and the incremental chunked decoder.
 *
 * Anything that could be read two ways is an error: the parser never
 * guesses, so a proxy built on it cannot be smuggled through.
 */
#ifndef PORTICO_HTTP_PARSE_H
#define PORTICO_HTTP_PARSE_H

#include "core.h"

#define HTTP_MAX_HEADERS 100	/* room for fields in a head; a request
				 * with more: 431, a response: 502 */

/* Fields the parser recognises; everything else is HDR_OTHER. */
enum http_header_id {
	HDR_OTHER = 0,
	HDR_HOST,
	HDR_CONTENT_LENGTH,
	HDR_TRANSFER_ENCODING,
	HDR_CONNECTION,
	HDR_KEEP_ALIVE,
	HDR_UPGRADE,
	HDR_TE,
	HDR_TRAILER,
	HDR_PROXY_CONNECTION,
	HDR_EXPECT,
	HDR_SERVER,
	HDR_DATE
};

/* http_header.flags */
#define HTTP_HDR_HOP 0x01	/* hop-by-hop: never forwarded as is */
#define HTTP_HDR_DROP 0x02	/* not forwarded: a filter removed it */

struct http_header {
	struct slice name;
	struct slice value;	/* leading and trailing OWS removed */
	uint8_t id;		/* enum http_header_id */
	uint8_t flags;		/* HTTP_HDR_* */
};

enum http_method {
	HTTP_OTHER_METHOD = 0,
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE,
	HTTP_CONNECT, HTTP_OPTIONS, HTTP_TRACE, HTTP_PATCH
};

enum http_framing {
	HTTP_BODY_NONE = 0,	/* no body at all */
	HTTP_BODY_LENGTH,	/* Content-Length bytes */
	HTTP_BODY_CHUNKED,	/* chunked transfer coding */
	HTTP_BODY_EOF		/* responses only: until the connection closes */
};

/* Connection semantics gathered from Connection (and the version). */
#define HTTP_CONN_CLOSE      0x01	/* "close" token present */
#define HTTP_CONN_KEEP_ALIVE 0x02	/* "keep-alive" token present */
#define HTTP_CONN_UPGRADE    0x04	/* "upgrade" token present */

struct http_limits {
	size_t max_request_line;	/* longer request line: 414 */
	size_t max_header_line;		/* longer single field line: 431 */
	size_t max_head;		/* longer whole head: 431 */
	unsigned max_headers;		/* more fields in a request: 431;
					 * 0: HTTP_MAX_HEADERS, which bounds it */
};

struct http_message {
	/* request line (requests only) */
	struct slice method;
	struct slice target;		/* as sent: origin or absolute form */
	struct slice path;		/* target's path, without the query;
					   "/" for an absolute URI without
					   one, "*" for OPTIONS *, empty for
					   CONNECT's host:port */
	struct slice query;		/* after '?', without it; len 0 if none */
	struct slice uri;		/* the path as routes and rules see it:
					   path until the exchange normalizes
					   it (http_uri.h) */
	uint8_t method_id;		/* enum http_method */

	/* status line (responses only) */
	int status;
	struct slice reason;

	int version;			/* 10 or 11 */

	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;

	/* derived while parsing */
	struct slice host;		/* Host value (requests), len 0 if absent;
					   an absolute-form target's authority
					   (Host must then match it) */
	uint8_t framing;		/* enum http_framing; a request with
					   Content-Length: 0 is BODY_NONE, a
					   response's is BODY_LENGTH 0 */
	uint64_t content_length;	/* when framing == HTTP_BODY_LENGTH */
	uint8_t conn_flags;		/* HTTP_CONN_* */
	bool expect_continue;		/* "Expect: 100-continue" */
	bool too_many_fields;		/* the 431 was for max_headers, not
					   for a line or the head too long */
	size_t head_len;		/* bytes up to and including the blank
					   line, with any empty lines before a
					   request line */
};

/* Whether s is a token (RFC 9110 5.6.2), as a method or a field name
 * must be: not empty, letters, digits and !#$%&'*+-.^_`|~ only. */
bool http_is_token(const char *s);

/*
 * Resumable search for the end of a head (CRLF CRLF) in buf[0..len).
 * *scanned is where the previous call stopped (start at 0); new bytes are
 * looked at once, so a head trickling in byte by byte costs O(n).
 * Returns the head length when the end is found, 0 when more input is
 * needed, or -1 when the bytes seen so far are already invalid (bare CR,
 * bare LF, NUL), so a broken head is refused without waiting for more.
 * Empty lines (CRLF) before the first line do not end the head: they are
 * skipped (RFC 9112 2.2) and counted in the length. The caller bounds the
 * buffer (header_buffer_size).
 */
long http_head_scan(const char *buf, size_t len, size_t *scanned);

/*
 * Parse a complete request head; buf[0..len) must hold at least the
 * whole head (call after http_head_scan found its end).
 * Returns P_OK and fills *msg, or an HTTP status code for the error
 * reply (400, 414, 431, 501, 505, or 417 for an Expect other than
 * 100-continue on an otherwise valid request). After any error the
 * connection must close: what follows the head cannot be trusted.
 * Called on a full buffer that holds no complete head, it still gives
 * the right answer (414 for the request line, else 431).
 * lim NULL means 8k request line, 8k field line, 32k head.
 */
int http_parse_request(const char *buf, size_t len, struct http_message *msg,
		       const struct http_limits *lim);

/*
 * Parse a complete response head. request_method is the method of the
 * request it answers (a response to HEAD has no body).
 * Returns P_OK and fills *msg, or 502 when the head is malformed or
 * ambiguous. Transfer-Encoding "chunked" alone is decoded; codings that
 * do not end in chunked ("gzip") make the body close-delimited
 * (HTTP_BODY_EOF, RFC 9112 6.3) and the field is kept for forwarding;
 * codings before a final chunked, or any with Content-Length, are
 * refused. A repeated identical Content-Length is accepted and the
 * copies are flagged HTTP_HDR_HOP so only one is forwarded.
 */
int http_parse_response(const char *buf, size_t len, struct http_message *msg,
			const struct http_limits *lim, int request_method);

/*
 * Whether a message's connection persists after the exchange: HTTP/1.1
 * without "close", HTTP/1.0 with "keep-alive" and without "close"; never
 * for a close-delimited response body.
 */
bool http_keep_alive(const struct http_message *msg);

/* The value of the first field named name (lower-case), or an empty
 * slice with p == NULL when there is none. */
struct slice http_header_value(const struct http_message *msg, const char *name);

/* The same for a field that may be written once only (Authorization):
 * *repeated when msg has it more than once. */
struct slice http_singleton_value(const struct http_message *msg, const char *name,
				  bool *repeated);

/* Incremental decoder of the chunked transfer coding. */
struct http_chunked {
	int state;		/* private */
	uint64_t remaining;	/* bytes left in the current chunk */
	size_t line_len;	/* private: length of the line being read */
};

enum {
	HTTP_CHUNK_DATA = 1	/* *data holds chunk payload to pass on */
};

void http_chunked_init(struct http_chunked *c);

/*
 * Feed in[0..len). Sets *consumed to the bytes used. Returns:
 *   HTTP_CHUNK_DATA  *data points into in[] at payload bytes
 *   P_AGAIN          all input used, more needed
 *   P_DONE           the last chunk and trailer section ended
 *   P_ERROR          malformed (bad size, missing CRLF, bare LF, overflow)
 * Trailer fields are validated and dropped.
 */
int http_chunked_decode(struct http_chunked *c, const char *in, size_t len,
			size_t *consumed, struct slice *data);

#endif
