/*
 * pump.h: stream one message body from one connection to another.
 *
 * Owns: decoding the body's framing on the way in (Content-Length,
 * chunked, or until end of stream), encoding it on the way out (as is, or
 * chunked), and flow control: it reads from the source only when what it
 * read before has been written, so memory stays one buffer per direction
 * whatever the body's size.
 */
#ifndef PORTICO_PUMP_H
#define PORTICO_PUMP_H

#include "core.h"
#include "conn.h"
#include "http_parse.h"

#define PUMP_IOV_MAX 32

enum pump_out {
	PUMP_OUT_IDENTITY = 0,
	PUMP_OUT_CHUNKED
};

/* Which side a pump stopped on, and why. */
enum pump_fault {
	PUMP_OK = 0,
	PUMP_SRC_ERROR,		/* reading failed */
	PUMP_SRC_EOF,		/* the source closed before the body ended */
	PUMP_SRC_INVALID,	/* the body's framing is malformed */
	PUMP_SRC_TOO_LARGE,	/* the body grew past the pump's limit */
	PUMP_DST_ERROR,		/* writing failed */
	PUMP_FILTER_ERROR	/* the body filter failed */
};

/*
 * What a body filter passes on: up to BODY_EMIT_MAX slices per call, each
 * valid until the filter is called again (exchange.h has the interface).
 */
#define BODY_EMIT_MAX 8
struct body_out {
	struct slice s[BODY_EMIT_MAX];
	unsigned n;
};

/* Append data to out: P_OK, or P_ERROR when out is full. */
int body_emit(struct body_out *out, struct slice data);

/* A pump's filter: every decoded piece of the body goes through it, and
 * what it emits is written. last is set once, at the end: with the last
 * piece of a body of known length (so that what the filter does at the
 * end, a cache's commit, is done before the client has every byte and
 * may ask again), or with in empty. It is called once per pass, only
 * when its last output has been written. A filter whose output for in
 * does not fit what it may emit at once (a decompressor) returns
 * P_AGAIN, having emitted some: once that is written it is called again
 * with in empty and the same last, until it returns P_OK, and the pump
 * reads nothing meanwhile, so in's bytes stay where they are. */
typedef int (*pump_filter_fn)(void *arg, const struct body_out *in, bool last,
			      struct body_out *out);

/*
 * A source that lends its bytes instead of a connection's (a cache zone):
 * a run of the body's next bytes, at most remaining (what the body still
 * lacks), at *p; the count, or P_ERROR. It never has to wait. Lent bytes
 * are written as they are, so the source may lose them to someone else:
 * it copies its last PUMP_VIEW_TAIL bytes instead of lending them, and is
 * asked for them only once everything lent before has been written, so
 * it can check then that what went out was still its own, before the
 * answer completes. Only Content-Length bodies come from views.
 */
#define PUMP_VIEW_TAIL 64
typedef ssize_t (*pump_view_fn)(void *arg, uint64_t remaining, const char **p);

struct pump {
	struct conn *src, *dst;
	pump_view_fn view;		/* lends the body instead of src, when set */
	void *view_arg;
	bool lent_pending;		/* lent bytes wait to be written */
	struct buf *buf;		/* bytes read from src; owned by the caller */
	char *floor;			/* reads refill buf from here (what lies
					 * below stays); NULL: its start */
	uint8_t in_framing;		/* enum http_framing */
	uint8_t out;			/* enum pump_out */
	uint8_t fault;			/* enum pump_fault */
	bool in_done;			/* the body's end was read */
	bool done;			/* ... and everything was written */
	bool last_chunk_queued;
	uint64_t remaining;		/* HTTP_BODY_LENGTH: bytes still to read */
	uint64_t max_body;		/* payload refused beyond this; 0: none */
	uint64_t body_out;		/* payload bytes queued for writing */
	uint64_t sent;			/* bytes written to dst, head included */
	uint64_t taken;			/* bytes of the body's framing taken
					 * from buf, to be written or not */
	uint64_t progress;		/* bumped on every byte moved */
	struct http_chunked chunked;
	pump_filter_fn filter;		/* NULL: the body passes as it is */
	void *filter_arg;
	bool filter_busy;		/* its output is not all written yet */
	bool filter_more;		/* it has more to emit for its input */
	bool more_last;			/* ... and that input was the last */
	bool filter_ended;		/* it had its last call */

	/* Output not yet written: a prefix (a head), then body slices. */
	struct iovec iov[PUMP_IOV_MAX];
	int iov_first, iov_count;
	char sizes[PUMP_IOV_MAX / 3][20];	/* chunk-size lines */
	int nsizes;
};

/* A pump with nothing to move yet: done is false, no byte sent. */
void pump_clear(struct pump *p);

/*
 * Prepare p to move a body of the given framing from src to dst, with
 * buf holding bytes already read from src (from buf->pos on). prefix,
 * if not NULL, is written before the body, in the same write.
 */
void pump_init(struct pump *p, struct conn *src, struct conn *dst,
	       struct buf *buf, int in_framing, uint64_t length, int out,
	       const char *prefix, size_t prefix_len);

/* Send the decoded body through fn (after pump_init). The filter is
 * called only when everything it emitted before has been written, so
 * its output buffers can be reused from one call to the next. */
void pump_set_filter(struct pump *p, pump_filter_fn fn, void *arg);

/* Keep buf's bytes below its read position (a request head, which the
 * access log reads at the exchange's end) when refilling it, as long as
 * PUMP_MIN_ROOM bytes are left above them (after pump_init). */
#define PUMP_MIN_ROOM 4096
void pump_keep_head(struct pump *p);

/* Refuse a body longer than max bytes (0: any length): the pump stops
 * with PUMP_SRC_TOO_LARGE before it passes the byte too many on. */
void pump_set_limit(struct pump *p, uint64_t max);

/* Take the body's bytes from fn instead of a connection (after
 * pump_init, for an HTTP_BODY_LENGTH body). */
void pump_set_view(struct pump *p, pump_view_fn fn, void *arg);

/*
 * Move what can be moved now. Returns P_OK when the whole body was
 * written, P_AGAIN when waiting on either side (which one shows in
 * src->io.readable / dst->io.writable), P_ERROR with p->fault set.
 */
int pump_run(struct pump *p);

/* Whether the pump waits for the destination to accept more bytes. */
static inline bool pump_blocked_on_dst(const struct pump *p)
{
	return p->iov_count > 0;
}

#endif
