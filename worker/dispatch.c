/*
 * dispatch.c: the phase dispatcher: exchanges made and given back, the
 * hooks of every phase run in the module table's order, the response
 * head written and its body's way set up, the exchange's timer, and the
 * log phase that hands the connection back.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "head.h"
#include "exchange.h"
#include "module.h"
#include "request_id.h"

static struct exchange *exchange_free_list;

static void exchange_timer(struct ev_timer *t);

static void message_reset(struct http_message *m)
{
	memset(m, 0, offsetof(struct http_message, headers));
	memset(&m->nheaders, 0, sizeof(*m) - offsetof(struct http_message, nheaders));
}

static void task_run(struct ev_task *t)
{
	exchange_run(container_of(t, struct exchange, task));
}

struct exchange *exchange_new(const struct worker_ctx *ctx, const struct client_side *client)
{
	struct exchange *x = exchange_free_list;

	if (x != NULL)
		exchange_free_list = x->next_free;
	else if ((x = malloc(sizeof(*x))) == NULL)
		return NULL;
	/* Clear what must be; the arrays are filled before they are read. */
	memset(x, 0, offsetof(struct exchange, req_pump));
	pump_clear(&x->req_pump);
	pump_clear(&x->resp_pump);
	message_reset(&x->req);
	message_reset(&x->resp);
	x->request_line[0] = '\0';
	x->task.cb = task_run;
	x->timer.cb = exchange_timer;
	x->ctx = ctx;
	x->client = *client;
	x->start_us = ev_now_us();
	request_id_make(x->request_id);
	return x;
}

void exchange_free(struct exchange *x)
{
	ev_cancel(&x->task);
	ev_timer_del(&x->timer);
	buf_put(x->resp_head);
	buf_put(x->body_in);
	buf_put(x->uri_buf);
	free(x->body_given);
	x->body_given = NULL;
	x->next_free = exchange_free_list;
	exchange_free_list = x;
}

/* Whether the client's connection may carry another request after this
 * one, as far as the request and the configuration go. */
static bool client_wants_keep_alive(const struct exchange *x)
{
	return http_keep_alive(&x->req) && x->ctx->conf->keepalive_timeout > 0 &&
	       !x->ctx->quitting;
}

void exchange_begin(struct exchange *x)
{
	x->keep_alive = client_wants_keep_alive(x);
	exchange_goto(x, PH_ROUTE);
}

/*
 * The hooks of each phase, flattened from the module table once, in its
 * order, so a phase walks a short array instead of every module.
 */
typedef int (*phase_hook)(struct exchange *x);
typedef bool (*content_hook)(struct exchange *x);
typedef void (*log_hook)(const struct exchange *x);
typedef void (*end_hook)(struct exchange *x);

#define HOOKS_MAX 32
static phase_hook route_hooks[HOOKS_MAX], access_hooks[HOOKS_MAX], head_hooks[HOOKS_MAX];
static content_hook content_hooks[HOOKS_MAX];
static log_hook log_hooks[HOOKS_MAX];
static end_hook end_hooks[HOOKS_MAX];

#define ADD_HOOK(list, fn) do {						\
		unsigned n_ = 0;					\
		while ((list)[n_] != NULL)				\
			n_++;						\
		if (n_ + 1 >= HOOKS_MAX)				\
			return -1;					\
		(list)[n_] = (fn);					\
	} while (0)

int exchange_init(const struct worker_ctx *ctx)
{
	const struct module *const *m;

	for (m = modules; *m != NULL; m++) {
		if ((*m)->init != NULL && (*m)->init(ctx) < 0) {
			log_msg(LL_EMERG, "module %s failed to start", (*m)->name);
			return -1;
		}
		if ((*m)->route)
			ADD_HOOK(route_hooks, (*m)->route);
		if ((*m)->access)
			ADD_HOOK(access_hooks, (*m)->access);
		if ((*m)->content)
			ADD_HOOK(content_hooks, (*m)->content);
		if ((*m)->response_head)
			ADD_HOOK(head_hooks, (*m)->response_head);
		if ((*m)->log)
			ADD_HOOK(log_hooks, (*m)->log);
		if ((*m)->end)
			ADD_HOOK(end_hooks, (*m)->end);
	}
	return 0;
}

/* Route and access hooks: in table order, until one answers. A hook
 * that waits (P_AGAIN) is where the phase resumes: the hooks before it
 * have passed the request already, and are not run again on every
 * event of the wait. */
static int run_phase_hooks(struct exchange *x, const phase_hook *hooks, enum phase next)
{
	const phase_hook *hook;
	int r;

	for (hook = hooks + x->hook_next; *hook != NULL; hook++)
		if ((r = (*hook)(x)) == P_DONE) {
			return P_OK;
		} else if (r == P_AGAIN) {
			x->hook_next = (uint8_t)(hook - hooks);
			return P_AGAIN;
		}
	x->hook_next = 0;
	exchange_goto(x, next);
	return P_OK;
}

static int choose_content(struct exchange *x)
{
	const content_hook *hook;

	for (hook = content_hooks; *hook != NULL; hook++)
		if ((*hook)(x))
			return P_OK;
	exchange_log(x, LL_ERROR, 0, "no module answers route \"%s\"",
		     x->route ? x->route->pattern : "(none)");
	exchange_respond(x, 500, TERM_PROXY, false);
	return P_OK;
}

/* ---- the response ---- */

/* The exchange's body filters in a row, each called once a pass with
 * all its predecessor emitted: the pump writes the last one's output
 * before it calls the chain again, so every filter's output is written
 * before that filter is called again. A filter with more to emit for
 * its input (P_AGAIN) is marked pending; the chain says P_AGAIN while
 * one is, and the next pass starts at the furthest pending one, with
 * nothing new, so that the filters before it keep their output (its
 * input) until it has taken all of it. A filter has its last call only
 * when none before it has more to come. */
static int filter_chain(void *arg, const struct body_out *in, bool last, struct body_out *out)
{
	static const struct body_out nothing = { .n = 0 };
	struct exchange *x = arg;
	struct body_out between[2];
	const struct body_out *from = in;
	unsigned i = 0;
	int r;

	if (x->filters_pending != 0) {
		for (i = x->nfilters - 1; !(x->filters_pending & (1u << i)); i--)
			;
		from = &nothing;
	}
	for (; i < x->nfilters; i++) {
		struct body_out *to = i + 1 == x->nfilters ? out : &between[i % 2];
		bool before_pending = (x->filters_pending & ((1u << i) - 1)) != 0;

		to->n = 0;
		r = x->filters[i].filter(x, x->filters[i].state, from, last && !before_pending, to);
		if (r == P_AGAIN)
			x->filters_pending |= (uint8_t)(1u << i);
		else if (r == P_OK)
			x->filters_pending &= (uint8_t)~(1u << i);
		else
			return P_ERROR;
		from = to;
	}
	return x->filters_pending != 0 ? P_AGAIN : P_OK;
}

static bool filters_keep_length(const struct exchange *x)
{
	unsigned i;

	for (i = 0; i < x->nfilters; i++)
		if (!x->filters[i].keeps_length)
			return false;
	return true;
}

/* How the body goes to the client: as it comes, or re-framed as chunked
 * when its length is not known ahead (chunked or close-delimited from
 * the server, or changed by a filter). An HTTP/1.0 client cannot take
 * chunked: the end is shown by closing. */
static bool frame_as_chunked(struct exchange *x)
{
	const struct http_message *r = &x->resp;
	bool unknown = r->framing == HTTP_BODY_CHUNKED || r->framing == HTTP_BODY_EOF ||
		       (r->framing == HTTP_BODY_LENGTH && !filters_keep_length(x));

	if (!unknown)
		return false;
	if (r->framing == HTTP_BODY_LENGTH)
		exchange_drop_known_field(x, HDR_CONTENT_LENGTH);
	if (x->req.version >= 11)
		return true;
	x->keep_alive = false;
	return false;
}

static int run_head_filters(struct exchange *x)
{
	const phase_hook *hook;

	for (hook = head_hooks; *hook != NULL; hook++)
		if ((*hook)(x) != P_OK)
			return P_ERROR;
	return P_OK;
}

/* The response cannot go out as it is: portico answers status instead,
 * unless the response was its own answer already (which would fail the
 * same way again): then the connection is closed. */
static void head_failed(struct exchange *x, int status, enum term_cause cause)
{
	if (x->own_answer) {
		x->abort_client = true;
		exchange_end(x, cause);
		return;
	}
	exchange_respond(x, status, cause, false);
}

/* Head filters, then the head into its buffer and the body's pump. */
static int response_head(struct exchange *x)
{
	bool tunnel = x->resp.status == 101;
	bool chunked;
	enum head_kind kind;
	size_t len;

	if (run_head_filters(x) != P_OK) {
		exchange_log(x, LL_ERROR, 0, "a response head filter failed");
		head_failed(x, 500, TERM_PROXY);
		return P_OK;
	}
	/* A stopping worker closes every connection after its answer. */
	if (x->ctx->quitting)
		x->keep_alive = false;
	chunked = !tunnel && frame_as_chunked(x);
	kind = tunnel ? HEAD_SWITCH : chunked ? HEAD_FINAL_CHUNKED : HEAD_FINAL;
	if (x->resp_head == NULL && (x->resp_head = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no buffer for a response head");
		exchange_end(x, TERM_RESOURCE);
		return P_OK;
	}
	len = head_response(x, x->resp_head, kind);
	if (len == 0) {
		exchange_log(x, LL_ERROR, 0, "the response head does not fit a buffer "
			     "(header_buffer_size)");
		head_failed(x, 502, TERM_RESOURCE);
		return P_OK;
	}
	pump_init(&x->resp_pump, x->body_src, x->client.conn, x->body_in,
		  tunnel ? HTTP_BODY_EOF : x->resp.framing, x->resp.content_length,
		  chunked ? PUMP_OUT_CHUNKED : PUMP_OUT_IDENTITY, x->resp_head->start, len);
	if (x->body_view != NULL)
		pump_set_view(&x->resp_pump, x->body_view, x->body_view_arg);
	x->filters_pending = 0;
	if (x->nfilters > 0 && !tunnel)
		pump_set_filter(&x->resp_pump, filter_chain, x);
	exchange_goto(x, tunnel ? PH_TUNNEL : PH_RESPONSE_BODY);
	return P_OK;
}

/* ---- the end ---- */

/* The exchange's series: its route's requests by class and method, its
 * site's bytes and time, its upstream's wait for the response head. */
static void count_series(const struct exchange *x, struct stats_proc *st, unsigned class,
			 unsigned bucket, uint64_t us)
{
	const struct conf_site *site = x->site;
	int si = site != NULL ? (int)(site - x->ctx->conf->sites) : -1;
	int ri = site != NULL && x->route != NULL ? (int)(x->route - site->routes) : -1;
	struct stats_route_vals *r = (struct stats_route_vals *)
		stats_slot(st, STATS_ROUTE, stats_route_slot(st->layout, si, ri));
	struct stats_site_vals *s = (struct stats_site_vals *)
		stats_slot(st, STATS_SITE, si >= 0 ? (unsigned)si : st->layout->n[STATS_SITE] - 1);

	STATS_ADD(r, requests[class][stats_method(x->req.method_id)], 1);
	STATS_ADD(s, bytes_in, x->req.head_len + x->req_pump.taken);
	STATS_ADD(s, bytes_out, x->resp_pump.sent);
	stats_observe(&s->time, bucket, us);
	if (x->header_us != 0 && x->route != NULL && x->route->upstream != NULL) {
		const struct conf_upstream *u = x->route->upstream;
		struct stats_upstream_vals *uv = (struct stats_upstream_vals *)
			stats_slot(st, STATS_UPSTREAM, (unsigned)(u - x->ctx->conf->upstreams));

		stats_observe(&uv->header_time, stats_bucket(x->header_us), x->header_us);
	}
}

static void count_response(const struct exchange *x)
{
	struct stats_proc *st = x->ctx->stats;
	int class = x->status / 100;
	uint64_t us = ev_now_us() - x->start_us;
	unsigned bucket = stats_bucket(us);

	class = class >= 1 && class <= 5 ? class : 0;
	STATS_ADD(st, c.requests, 1);
	STATS_ADD(st, c.request_time_us, us);
	STATS_ADD(st, c.request_time_hist[bucket], 1);
	STATS_ADD(st, c.responses[class], 1);
	STATS_ADD(st, c.bytes_out, x->resp_pump.sent);
	if (st->layout != NULL)
		count_series(x, st, (unsigned)class, bucket, us);
}

/* Every abnormal end is worth a line at info: the client side of it
 * (C, c) is common and harmless, the rest is for the operator. */
static void log_termination(const struct exchange *x)
{
	char code[3];

	if (x->term_cause == TERM_NORMAL || x->term_cause == TERM_LOCAL)
		return;
	exchange_term_code(x, code);
	if (x->refused_by != NULL) {
		exchange_log(x, LL_INFO, 0, "exchange ended %s (refused by %s), status %d", code,
			     x->refused_by, x->status);
		return;
	}
	exchange_log(x, LL_INFO, 0, "exchange ended %s (%s), status %d", code,
		     x->term_cause == TERM_CLIENT ? "client closed" :
		     x->term_cause == TERM_CLIENT_TIMEOUT ? "client timed out" :
		     x->term_cause == TERM_SERVER ? "server failed" :
		     x->term_cause == TERM_SERVER_TIMEOUT ? "server timed out" :
		     x->term_cause == TERM_PROXY ? "refused by portico" :
		     x->term_cause == TERM_NO_SERVER ? "no server available" :
		     x->term_cause == TERM_RESOURCE ? "out of resources" : "worker stopping",
		     x->status);
}

static void finish(struct exchange *x)
{
	const log_hook *hook;
	const end_hook *end;

	ev_timer_del(&x->timer);
	if (x->content != NULL && x->content->finish != NULL)
		x->content->finish(x);
	count_response(x);
	log_termination(x);
	for (hook = log_hooks; *hook != NULL; hook++)
		(*hook)(x);
	for (end = end_hooks; *end != NULL; end++)
		(*end)(x);
	/* Buffers go back now, not when the connection gets round to freeing
	 * the exchange: a turn that ends many exchanges reuses them. */
	buf_put(x->resp_head);
	buf_put(x->body_in);
	buf_put(x->uri_buf);
	x->resp_head = x->body_in = x->uri_buf = NULL;
	x->client.done(x);
}

/* One phase's step: P_AGAIN when it waits for an event, P_OK when it
 * moved the exchange on. */
static int step(struct exchange *x)
{
	switch (x->phase) {
	case PH_ROUTE:
		return run_phase_hooks(x, route_hooks, PH_ACCESS);
	case PH_ACCESS:
		return run_phase_hooks(x, access_hooks, PH_CONTENT);
	case PH_CONTENT:
		return choose_content(x);
	case PH_RESPONSE_HEAD:
		return response_head(x);
	default:
		return x->content->run(x);
	}
}

/* ---- timers ---- */

/* How long the exchange may wait now: its content module knows for its
 * phases; otherwise it waits for the client to take the response. */
static unsigned phase_timeout(const struct exchange *x)
{
	if (x->content != NULL && x->content->wait_ms != NULL)
		return x->content->wait_ms(x);
	return x->ctx->conf->send_timeout;
}

static uint64_t bytes_moved(const struct exchange *x)
{
	return x->req_pump.progress + x->resp_pump.progress + x->progress;
}

/* Waits count from the last byte moved either way; a connect from its
 * start. */
static void arm_timer(struct exchange *x)
{
	uint64_t moved = bytes_moved(x);

	if (x->phase == x->timer_phase && ev_timer_armed(&x->timer) &&
	    (x->phase == PH_CONNECT || moved == x->progress_seen))
		return;
	x->timer_phase = x->phase;
	x->progress_seen = moved;
	ev_timer_set(&x->timer, phase_timeout(x));
}

static void exchange_timer(struct ev_timer *t)
{
	struct exchange *x = container_of(t, struct exchange, timer);

	if (x->content->timeout != NULL) {
		x->content->timeout(x);
	} else {
		exchange_log(x, LL_INFO, ETIMEDOUT, "client timed out reading a response");
		exchange_end(x, TERM_CLIENT_TIMEOUT);
	}
	if (!ev_posted(&x->task))
		ev_post(&x->task);
}

void exchange_run(struct exchange *x)
{
	x->running = true;
	while (x->phase != PH_LOG) {
		if (step(x) == P_AGAIN) {
			x->running = false;
			arm_timer(x);
			return;
		}
	}
	x->running = false;
	finish(x);
}
