/*
 * limits.c: limit_req and limit_conn on the request path.
 *
 * In the access phase, a route's limit_req counts the request in its
 * key's bucket: passed, delayed (the exchange waits on its timer, the
 * worker goes on; the phase resumes at this module's hook, and a client
 * that closes meanwhile ends it, 499), or refused with the limit's
 * status and Retry-After;
 * then its limit_conn counts it among its key's open requests, or
 * refuses it. The count is given back when the exchange ends, however
 * it ends (the end hook); the master gives back a dead worker's.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "log.h"
#include "vars.h"
#include "modules/limits.h"

#define KEY_MAX 1024

/* The key of limit l for x's request; false when it is empty (such
 * requests are not counted). A longer key is named by its first
 * KEY_MAX bytes. */
static bool key_of(const struct exchange *x, const struct conf_limit *l, struct limit_key *k)
{
	struct var_source src = exchange_vars(x);
	char text[KEY_MAX];
	size_t n = vars_expand(&l->key, &src, text, sizeof(text));

	if (n == 0)
		return false;
	*k = limit_key_of(x->ctx->limits[l->index], text, MIN(n, sizeof(text)));
	return true;
}

static void log_eviction(const struct exchange *x, const struct conf_limit *l)
{
	exchange_log(x, LL_WARN, 0, "%s: the zone is full (%u keys): the keys idle longest "
		     "make room for new ones from now on (logged once)", l->refused_by,
		     limit_zone_capacity(x->ctx->limits[l->index]));
}

/* l's series, for the metrics; NULL when this process counts none. */
static struct stats_limit_vals *series_of(const struct exchange *x, const struct conf_limit *l)
{
	const struct stats_proc *st = x->ctx->stats;

	return st->layout == NULL ? NULL : (struct stats_limit_vals *)
		stats_slot(st, STATS_LIMIT, (unsigned)l->index);
}

/* Refused by l: its status, and for limit_req when to come back. */
static void refuse(struct exchange *x, const struct conf_limit *l, uint64_t wait_us)
{
	uint64_t secs = (wait_us + 999999) / 1000000;
	struct stats_limit_vals *lv;

	exchange_deny(x, (int)l->status, l->refused_by, false);
	if ((lv = series_of(x, l)) != NULL)
		STATS_ADD(lv, refused, 1);
	if (l->kind != CONF_LIMIT_REQ) {
		STATS_ADD(x->ctx->stats, c.limit_conn_refused, 1);
		return;
	}
	STATS_ADD(x->ctx->stats, c.limit_req_refused, 1);
	/* none when the answer could not start and the exchange ended */
	if (x->phase != PH_RESPONSE_HEAD)
		return;
	snprintf(x->retry_after, sizeof(x->retry_after), "%llu",
		 (unsigned long long)MAX(secs, 1));
	exchange_add_field(x, SLICE_LIT("Retry-After"),
			   (struct slice){ x->retry_after, strlen(x->retry_after) });
}

/* Logged once per worker: while it lasts, it would be every request. */
static void refuse_full(struct exchange *x, const struct conf_limit *l)
{
	static bool logged;

	if (!logged)
		exchange_log(x, LL_WARN, 0, "%s: no room for a new key, every slot near it is in "
			     "use: refused (logged once; a larger size makes room)", l->refused_by);
	logged = true;
	refuse(x, l, 0);
}

/* ---- limit_req ---- */

/* The clock now, not as the loop last read it: a bucket that is due
 * passes the first request after its time, and every microsecond the
 * loop's clock lags behind is lost from the rate (a flood on one key
 * got 82 % of its rate over two busy workers with the loop's clock). */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static unsigned delay_ms(const struct exchange *x)
{
	uint64_t now = ev_now();

	return x->delay_until > now ? (unsigned)(x->delay_until - now) : 1;
}

/* The timer only wakes the exchange: its access phase resumes at
 * check_req. */
static void delay_over(struct exchange *x)
{
	(void)x;
}

static const struct content delay_wait = {
	.name = "limit_req delay",
	.wait_ms = delay_ms,
	.timeout = delay_over,
};

/* A delayed request whose client hung up ends (499, as nginx logs it)
 * before it goes anywhere: no server is asked for an answer nobody
 * reads. A hang-up after a whole request (bytes still to read) is not
 * one: the answer may still be read. */
static bool client_left(struct exchange *x, const struct conf_limit *l)
{
	struct conn *c = x->client.conn;

	if (!c->io.hup || !conn_peer_closed(c))
		return false;
	exchange_log(x, LL_INFO, 0, "client closed the connection while its request was delayed "
		     "by %s", l->refused_by);
	x->status = 499;
	exchange_end(x, TERM_CLIENT);
	return true;
}

static int check_req(struct exchange *x, const struct conf_limit *l)
{
	struct limit_rate rate = {
		.interval_us = l->interval_us,
		.burst_us = l->interval_us * l->burst,
		.delay_us = l->nodelay ? UINT64_MAX : l->interval_us * l->delay,
	};
	struct limit_result r;
	struct limit_key k;
	struct stats_limit_vals *lv;

	if (x->req_counted) {
		if (client_left(x, l))
			return P_DONE;
		if (ev_now() < x->delay_until)
			return P_AGAIN;
		exchange_set_content(x, NULL);
		return P_OK;
	}
	if (!key_of(x, l, &k))
		return P_OK;
	r = limit_req_take(x->ctx->limits[l->index], k, &rate, now_us());
	if (r.first_eviction)
		log_eviction(x, l);
	switch (r.verdict) {
	case LIMIT_PASS:
		return P_OK;
	case LIMIT_DELAY:
		STATS_ADD(x->ctx->stats, c.limit_req_delayed, 1);
		if ((lv = series_of(x, l)) != NULL)
			STATS_ADD(lv, delayed, 1);
		x->req_counted = true;
		x->delay_until = ev_now() + (r.wait_us + 999) / 1000;
		exchange_set_content(x, &delay_wait);
		return P_AGAIN;
	case LIMIT_REFUSE:
		refuse(x, l, r.wait_us);
		return P_DONE;
	default:
		refuse_full(x, l);
		return P_DONE;
	}
}

/* ---- limit_conn ---- */

static int check_conn(struct exchange *x, const struct conf_limit *l)
{
	struct limit_result r;
	struct limit_key k;

	if (!key_of(x, l, &k))
		return P_OK;
	r = limit_conn_take(x->ctx->limits[l->index], k, l->max, ev_now(), &x->conn_hold);
	if (r.first_eviction)
		log_eviction(x, l);
	if (r.verdict == LIMIT_PASS) {
		x->conn_limit = l;
		return P_OK;
	}
	if (r.verdict == LIMIT_FULL) {
		refuse_full(x, l);
		return P_DONE;
	}
	refuse(x, l, 0);
	return P_DONE;
}

static int check(struct exchange *x)
{
	const struct conf_route *rt = x->route;
	int r;

	if (rt == NULL)
		return P_OK;
	if (rt->limit_req != NULL && (r = check_req(x, rt->limit_req)) != P_OK)
		return r;
	if (rt->limit_conn != NULL && x->conn_limit == NULL)
		return check_conn(x, rt->limit_conn);
	return P_OK;
}

static void release(struct exchange *x)
{
	if (x->conn_limit == NULL)
		return;
	limit_conn_release(x->ctx->limits[x->conn_limit->index], &x->conn_hold, ev_now());
	x->conn_limit = NULL;
}

const struct module limits_module = {
	.name = "limits",
	.access = check,
	.end = release,
};
