/*
 * auth_request_state.h: what forward authentication keeps for an
 * exchange it asks about (x->auth_req): the subrequest to the auth
 * server (auth_subrequest.c) and the decision it brings
 * (auth_request.c).
 */
#ifndef PORTICO_AUTH_REQUEST_STATE_H
#define PORTICO_AUTH_REQUEST_STATE_H

#include <string.h>
#include <strings.h>

#include "balance.h"
#include "exchange.h"
#include "head_writer.h"
#include "upstream.h"

/* The body of an answer that goes to the client; a longer one is not
 * read on (the connection is closed) and the client gets portico's own
 * page for the status. */
#define AUTH_BODY_MAX 4096

enum auth_step {
	AUTH_CONNECT,		/* connecting to st->server */
	AUTH_SEND,		/* the subrequest's head goes out */
	AUTH_HEAD,		/* reading the answer's head */
	AUTH_BODY,		/* reading its body */
	AUTH_DECIDED,		/* the answer is in */
	AUTH_FAILED		/* no answer to decide by: 500 */
};

struct auth_request_state {
	struct auth_request_state *next_free;
	struct exchange *x;
	const struct conf_auth_request *conf;
	struct upstream *up;
	struct upconn *uc;
	struct pick pick;
	unsigned server;		/* of the current attempt */
	uint64_t first_try;		/* ms, for retry_timeout */
	uint64_t try_start_us;
	uint8_t step;			/* enum auth_step */
	enum term_cause fail_cause;	/* AUTH_FAILED: how the end is logged */
	struct buf *head;		/* the subrequest's head */
	size_t head_sent;
	struct buf *in;			/* the answer, head then kept body */
	size_t scanned;			/* http_head_scan's progress */
	size_t in_bytes;		/* read from the server in this attempt */
	size_t body_at;			/* the body starts there in in */
	size_t body_len;		/* bytes of it kept (decoded) */
	size_t raw_at;			/* chunked: the next byte to decode */
	bool body_too_long;
	bool reusable;			/* the connection may serve again */
	struct http_chunked chunked;
	struct http_message resp;
	struct buf *rec;		/* the decision (see rec_*) */
	size_t rec_len;
	char *kept;			/* ... once it let the request on: in a
					 * block of its size, which the request's
					 * fields point into until the end */
	bool keyed;			/* key names it in the auth cache */
	uint8_t key[32];
};

/* Whether l names the field name (without regard to case). */
static inline bool auth_names_has(const struct conf_auth_names *l, struct slice name)
{
	unsigned i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (strlen(l->names[i]) == name.len &&
		    strncasecmp(l->names[i], name.p, name.len) == 0)
			return true;
	return false;
}

/* The server of the current attempt. */
static inline const struct conf_server *auth_server_of(const struct auth_request_state *st)
{
	return &st->up->conf->servers[st->server];
}

/* What the auth server is asked about st's exchange, but where (Host)
 * and how (Connection): the target, then the fields, as the subrequest
 * carries them. The key of its decision, by default. */
void auth_subrequest_question(const struct auth_request_state *st, struct head_writer *w);

/* Start the subrequest for st's exchange, which then waits for it (its
 * content is the subrequest's wait); st->step says how far it got:
 * AUTH_FAILED (logged) when it cannot start. */
void auth_subrequest_start(struct auth_request_state *st);

/* Move the subrequest on until it waits (st->step before AUTH_DECIDED)
 * or has ended: the answer's head in st->resp and its kept body in
 * st->in (AUTH_DECIDED), or none (AUTH_FAILED, logged). */
void auth_subrequest_advance(struct auth_request_state *st);

/* Give the connection back (to the pool when reusable), if any. */
void auth_subrequest_drop(struct auth_request_state *st, bool reusable);

#endif
