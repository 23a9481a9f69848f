/*
 * exchange.h: one request and its response, moved through fixed phases.
 *
 * Owns: the phase an exchange is in and the one dispatcher that acts on
 * it, the hooks modules register for phases (module.h), answers of
 * portico's own, the response head and body on their way to the client
 * (head filters, body filters), the exchange's timer, and its one end
 * (exchange_end) with a termination state that the log phase reports.
 *
 * The phases, in order (an exchange may skip ahead, never go back but for
 * a retry from PH_UPSTREAM to PH_CONNECT):
 *
 *   PH_ROUTE          site and route by Host and path (route hooks)
 *   PH_ACCESS         may this client have it (access hooks)
 *   PH_CONTENT        who answers: the first content hook that claims it
 *   PH_WAIT           the content module waits before it can start (for
 *                     an answer another request is fetching into a cache)
 *   PH_CONNECT        the content module connects to a server
 *   PH_UPSTREAM       the request goes up, the response head comes back
 *   PH_RESPONSE_HEAD  head filters, then the head is written out
 *   PH_RESPONSE_BODY  the body, through body filters, to the client
 *   PH_TUNNEL         after 101: bytes both ways, untouched
 *   PH_LOG            ended: log hooks, then the connection takes over
 *
 * Control moves one way only. Events and timers post the exchange to the
 * run queue (event.h); the dispatcher runs the current phase's step and
 * goes on while a step changes the phase, and returns when a step waits.
 * Ending the exchange sets PH_LOG; the dispatcher logs and tells the
 * client side (client_side.done), which posts its connection: nothing on
 * the request path calls back into the reading of the next request.
 *
 * An exchange knows its client connection only through struct
 * client_side, so that an HTTP/2 stream can carry one as well.
 */
#ifndef PORTICO_EXCHANGE_H
#define PORTICO_EXCHANGE_H

#include <netinet/in.h>

#include "conf.h"
#include "conn.h"
#include "context.h"
#include "event.h"
#include "http_parse.h"
#include "pump.h"
#include "proxy_state.h"
#include "vars.h"

struct exchange;
struct content;
struct cache_state;
struct gzip_state;
struct gunzip_state;
struct auth_jwt_values;
struct auth_request_state;

enum phase {
	PH_ROUTE = 0,
	PH_ACCESS,
	PH_CONTENT,
	PH_WAIT,
	PH_CONNECT,
	PH_UPSTREAM,
	PH_RESPONSE_HEAD,
	PH_RESPONSE_BODY,
	PH_TUNNEL,
	PH_LOG,
	PH_NONE = 0xff			/* in timer_phase: none */
};

/*
 * Who ended an exchange, as the first letter of its termination state
 * (portico(8) lists them); the second letter is the phase it ended in:
 * R request (PH_ROUTE..PH_WAIT), C connect, H waiting for the response
 * head, D response body, T tunnel.
 */
enum term_cause {
	TERM_NORMAL = '-',	/* the whole response went out */
	TERM_LOCAL = 'L',	/* answered by portico itself, as configured */
	TERM_CLIENT = 'C',	/* the client closed, reset or broke off */
	TERM_CLIENT_TIMEOUT = 'c',
	TERM_SERVER = 'S',	/* the server refused, reset, closed early or
				 * answered what cannot be forwarded */
	TERM_SERVER_TIMEOUT = 's',
	TERM_PROXY = 'P',	/* portico refused the request (malformed,
				 * too large, misdirected) */
	TERM_NO_SERVER = 'D',	/* no server could take it (down or full) */
	TERM_RESOURCE = 'R',	/* portico ran out of memory or buffers */
	TERM_KILLED = 'K'	/* the worker stopped (shutdown_timeout) */
};

/* What an exchange knows of the connection its request came on, and how
 * it hands the connection back. The HTTP/1 session fills it. */
struct client_side {
	struct conn *conn;		/* the response goes here; the request
					 * body comes from here ... */
	struct buf *in;			/* ... after these bytes, already read */
	const char *addr;		/* the client's address, as text */
	uint8_t addr_bin[16];		/* ... and as prefixes hold it (cidr.h) */
	uint16_t port;			/* the client's port */
	bool addrless;			/* a unix socket's client, with no PROXY
					 * header: addr is "unix:", addr_bin and
					 * local_bin mean nothing */
	uint8_t local_bin[16];		/* where it connected to (kept only when
					 * an upstream sends PROXY headers) */
	uint16_t local_port;
	const struct conf_listen *listen;
	const struct conf_site *tls_site;	/* TLS: the site SNI picked */
	const char *subject;		/* TLS: verified certificate's subject */
	bool tls;
	bool plain_on_tls;		/* plain HTTP sent to a TLS listener */
	bool background;		/* a request of portico's own (a cache
					 * refresh): nobody reads the answer */
	void (*done)(struct exchange *x);	/* the exchange is over */
	void *owner;			/* for done */
};

/*
 * A response body filter: sees the body as it streams (decoded, before
 * the client's framing), in order, and passes on what the client gets.
 * filter() takes the slices in->s[0..in->n) (last with the body's last
 * slices when its length is known, else with none, at the end)
 * and appends what it passes on with body_emit(), at most BODY_EMIT_MAX
 * slices. It is called once per pass of the body, and again only when
 * what it emitted has been written: its output may live in a buffer it
 * reuses. A head filter installs one per exchange with
 * exchange_add_body_filter(). Example, counting what passes:
 *
 *	static int count_bytes(struct exchange *x, void *st,
 *			       const struct body_out *in, bool last,
 *			       struct body_out *out)
 *	{
 *		unsigned i;
 *
 *		for (i = 0; i < in->n; i++) {
 *			*(uint64_t *)st += in->s[i].len;
 *			if (body_emit(out, in->s[i]) != P_OK)
 *				return P_ERROR;
 *		}
 *		return P_OK;
 *	}
 *
 * A transforming filter (gzip) emits its own buffer's bytes instead; a
 * copying one (a cache) keeps a copy of what comes in and emits it. One
 * whose output can be far larger than its input (gunzip) returns
 * P_AGAIN when it has emitted all it may at once: once that is written
 * it is called again with in empty (and the same last) to go on with
 * the input it was given, which stays where it was until it returns
 * P_OK; it must emit something every time it says P_AGAIN.
 * A filter that fails (P_ERROR) logs why, once; the content module then
 * ends the exchange (x->resp_pump.fault is PUMP_FILTER_ERROR) without
 * saying it again.
 */
struct body_out;
struct body_filter {
	int (*filter)(struct exchange *x, void *state, const struct body_out *in, bool last,
		      struct body_out *out);
	void *state;
	bool keeps_length;		/* emits as many bytes as it takes: the
					 * response keeps its Content-Length */
};
#define EXCHANGE_MAX_BODY_FILTERS 4
#define EXCHANGE_MAX_ADDED 16
#define EXCHANGE_REQUEST_ID_SIZE 129

struct exchange {
	/* Cleared for every exchange, up to req_pump. */
	struct ev_task task;		/* posted to run the phase */
	struct ev_timer timer;
	uint8_t phase;			/* enum phase */
	uint8_t term_cause;		/* enum term_cause, once ended */
	uint8_t term_phase;		/* the phase letter it ended in */
	uint8_t timer_phase;		/* the phase the timer was set for, or
					 * PH_NONE for a fresh wait */
	uint8_t hook_next;		/* PH_ROUTE, PH_ACCESS: the hook that
					 * waited, where the phase resumes */
	bool running;			/* the dispatcher is on it */
	bool keep_alive;		/* the connection may carry another
					 * request after this one */
	bool own_answer;		/* the response is portico's own */
	bool abort_client;		/* close the connection at once, nothing
					 * more can go to it */
	const struct worker_ctx *ctx;
	struct client_side client;
	const struct conf_site *site;
	const struct conf_route *route;
	struct var_captures captures;	/* of the route's regex: $0..$9 */
	const struct content *content;	/* who produces the response */
	uint64_t progress;		/* bytes moved outside the pumps */
	uint64_t progress_seen;		/* bytes moved when the timer was set */
	/* the response: its head written here, its body from body_src
	 * or lent by body_view (neither: all of it in body_in already) */
	struct buf *resp_head;
	struct buf *body_in;
	struct buf *uri_buf;		/* holds req.uri when normalizing changed it */
	struct conn *body_src;
	pump_view_fn body_view;
	void *body_view_arg;
	char *body_given;		/* a lent body the exchange frees */
	unsigned nfilters;		/* of filters[] */
	uint8_t filters_pending;	/* bit i: filters[i] has more to emit */
	unsigned nadded;		/* of added[] */
	struct proxy_state up;		/* the upstream module's part */
	struct cache_state *cache;	/* the cache module's, on cached routes */
	struct gzip_state *gzip;	/* the gzip module's, when it compresses */
	struct gunzip_state *gunzip;	/* the gunzip module's, when it inflates */
	/* for the log */
	int status;
	const char *upstream_addr;
	const char *cache_result;	/* HIT, MISS, ... on cached routes */
	const char *refused_by;		/* the rule that refused it (exchange_deny) */
	const char *auth_user;		/* who authentication let in, printable
					 * ASCII without spaces; NULL: nobody */
	struct auth_jwt_values *auth_jwt;	/* the auth_jwt module's: the
						 * user and the claims sent
						 * upstream */
	struct auth_request_state *auth_req;	/* forward authentication's
						 * (modules/auth_request.c) */
	/* the limits module's part (modules/limits.c) */
	const struct conf_limit *conn_limit;	/* counted in until the end */
	struct limit_hold conn_hold;
	uint64_t delay_until;		/* ms: a delayed request goes on then */
	bool req_counted;		/* limit_req let it through */
	char retry_after[24];		/* a refusal's Retry-After */
	/* the rules modules' part (modules/rules.c, modules/header_rules.c) */
	struct buf *rules_buf;		/* values made from variables */
	struct slice upstream_target;	/* rewrite: sent upstream instead of
					 * the client's target; NULL: none */
	uint64_t start_us;		/* the head was complete */
	uint64_t connect_us;		/* to the server's connection, or 0 */
	uint64_t header_us;		/* to the response head, or 0 */
	/* the geo module's part (modules/geo.c) */
	const struct conf_geo *geo_of;	/* the site's geo, once the client's
					 * region was looked up in it; else NULL */
	unsigned geo_region;		/* ... that region's id; 0: none */

	/* Each of these is reset its own way. */
	struct pump req_pump;		/* the request body, to wherever the
					 * content module sends it */
	struct pump resp_pump;
	struct http_message req;
	struct http_message resp;
	struct body_filter filters[EXCHANGE_MAX_BODY_FILTERS];
	struct http_header added[EXCHANGE_MAX_ADDED];	/* by head filters */
	char length_text[24];		/* an own answer's Content-Length */
	char request_line[1024];	/* only the first byte is cleared */
	char real_addr[INET6_ADDRSTRLEN];	/* client.addr, when real_ip_from
						 * took it from a forwarding field */
	char request_id[EXCHANGE_REQUEST_ID_SIZE];	/* $request_id (request_id.h) */

	struct exchange *next_free;
};

/*
 * A content module's part in the phases it owns (PH_CONNECT, PH_UPSTREAM,
 * PH_RESPONSE_BODY, PH_TUNNEL). run() moves the exchange on and returns
 * P_AGAIN to wait for an event, P_OK when it changed the phase (or ended
 * the exchange, or started it over). wait_ms() says how long the wait
 * run() returned for may last, from the phase and the side waited on;
 * timeout() is called when it was too long; finish() when the exchange
 * ends, to let go of what the module holds.
 */
struct content {
	const char *name;
	int (*run)(struct exchange *x);
	unsigned (*wait_ms)(const struct exchange *x);	/* NULL: send_timeout */
	void (*timeout)(struct exchange *x);		/* NULL: the client's */
	void (*finish)(struct exchange *x);
};

/* Build the hook lists from the module table and run every module's
 * init; -1 (logged) when one refuses. Once per worker, before serving. */
int exchange_init(const struct worker_ctx *ctx);

/* A new exchange for a request on client; NULL when out of memory. The
 * caller fills x->req (and may set x->site), then begins or refuses it. */
struct exchange *exchange_new(const struct worker_ctx *ctx, const struct client_side *client);

/* Route and answer x->req: the exchange is posted to run. */
void exchange_begin(struct exchange *x);

/* A request that could not be read: answered with status (why is
 * logged), and the connection closes after. */
void exchange_refuse(struct exchange *x, int status, enum term_cause cause, const char *why);

/* Give an ended exchange's memory back (its client side is done with
 * it). */
void exchange_free(struct exchange *x);

/* Run the exchange now (the dispatcher); for the task and for tests. */
void exchange_run(struct exchange *x);

/* Go to phase; the dispatcher acts on it (the exchange is posted when
 * the dispatcher is not already on it). */
void exchange_goto(struct exchange *x, enum phase phase);

/* How the exchange will be said to have ended: who (cause) and in the
 * current phase. The first verdict holds: an answer of portico's own
 * that reports a server's failure keeps that as its end, whatever
 * happens while it goes out. */
void exchange_verdict(struct exchange *x, enum term_cause cause);

/* The wait that starts now gets its full timeout, even in the phase the
 * timer was set for (a new attempt on another connection). */
void exchange_new_wait(struct exchange *x);

/* End the exchange (with cause as its verdict, unless it has one). It
 * goes to PH_LOG; once logged, its connection takes over, and closes
 * unless cause is TERM_NORMAL. */
void exchange_end(struct exchange *x, enum term_cause cause);

/*
 * A request a rule of the configuration refuses (an access list, a
 * limit, a filter): by is the rule's kind and name ("limit_req=perip";
 * it must last: configuration, literals), which the exchange's end names
 * in the error log and the access log; answered status with
 * portico's own page, or with no answer at all when status is 0 (the
 * connection closes at once). With close, the connection closes after
 * the answer.
 */
void exchange_deny(struct exchange *x, int status, const char *by, bool close);

/* The termination state, two letters, e.g. "--", "SH", "cD". */
void exchange_term_code(const struct exchange *x, char code[3]);

/*
 * Answers of portico's own: the page for status, a body of the caller's
 * (copied; it must fit a buffer), or a redirect to location. They replace
 * any response in progress; when part of one already went to the client
 * the connection is closed instead. cause is how the end is logged. With
 * close, the connection closes after the answer. Each moves the exchange
 * to PH_RESPONSE_HEAD.
 */
void exchange_respond(struct exchange *x, int status, enum term_cause cause, bool close);
void exchange_respond_body(struct exchange *x, int status, const char *type,
			   const char *body, size_t len);
void exchange_redirect(struct exchange *x, int status, const char *location);

/* Like exchange_respond_body, with a body of any size that is lent, not
 * copied: it must stay as it is until the exchange ends (a page built
 * into the program). */
void exchange_respond_lent(struct exchange *x, int status, const char *type,
			   const char *body, size_t len);

/* Like exchange_respond_lent, with a body made for this answer (malloc'd):
 * the exchange frees it when it ends, whatever happened to the answer. */
void exchange_respond_given(struct exchange *x, int status, const char *type,
			    char *body, size_t len);

/* What the request's variables ($host, $1, ...) are read from. */
struct var_source exchange_vars(const struct exchange *x);

/* The client's address for prefix lists (allow, deny, filters,
 * cache_purge): NULL for a client with none (a unix socket's, without
 * PROXY header), which is in no prefix. */
static inline const uint8_t *exchange_client_bin(const struct exchange *x)
{
	return x->client.addrless ? NULL : x->client.addr_bin;
}

/* Hand the exchange to content c, after the content module that had it
 * has let go of what it held (its finish). */
void exchange_set_content(struct exchange *x, const struct content *c);

/* A head filter's way to add a body filter for this exchange; -1 when
 * the exchange has as many as it can hold. */
int exchange_add_body_filter(struct exchange *x, struct body_filter f);

/* Head filters: add a field to the response (name and value must last
 * until the head is written: configuration, literals), or mark the
 * response's fields named lower_name as not to be sent. Adding fails
 * (-1) when the exchange holds EXCHANGE_MAX_ADDED already. */
int exchange_add_field(struct exchange *x, struct slice name, struct slice value);
void exchange_drop_field(struct exchange *x, const char *lower_name);

/* The same for a field the parser knows by id (enum http_header_id). */
void exchange_drop_known_field(struct exchange *x, int id);

/*
 * For content modules: move the response body on (from body_src or
 * body_in, through the body filters, to the client). P_OK when all of it
 * went out, P_AGAIN, or P_ERROR (x->resp_pump.fault says which side).
 */
int exchange_send_body(struct exchange *x);

/* The standard reason phrase of an HTTP status ("Unknown" for none). */
const char *http_reason(int status);

/* Log with the exchange's context appended (client, request). */
void exchange_log(const struct exchange *x, int level, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
