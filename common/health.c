/*
 * health.c: reading and updating one server's entry in the health table.
 */
#include "config.h"

#include <math.h>

#include "health.h"

#define LOAD(p, f)	__atomic_load_n(&(p)->f, __ATOMIC_RELAXED)
#define STORE(p, f, v)	__atomic_store_n(&(p)->f, (v), __ATOMIC_RELAXED)
#define ADD(p, f, v)	__atomic_add_fetch(&(p)->f, (v), __ATOMIC_RELAXED)

bool health_checks_down(const struct health_peer *p, bool checked)
{
	return checked && LOAD(p, check_down) != 0;
}

bool health_up(const struct health_peer *p, bool checked, uint64_t now)
{
	return !health_checks_down(p, checked) && now >= LOAD(p, down_until);
}

unsigned health_weight(const struct health_peer *p, const struct conf_server *srv,
		       uint64_t now)
{
	unsigned full = (unsigned)srv->weight * HEALTH_WEIGHT_SCALE;
	uint64_t since = LOAD(p, up_since), elapsed, w;

	if (srv->slow_start == 0 || since == 0 || now >= since + srv->slow_start)
		return full;
	elapsed = now > since ? now - since : 0;
	w = full * elapsed / srv->slow_start;
	return w > 0 ? (unsigned)w : 1;
}

bool health_fail(struct health_peer *p, const struct conf_server *srv, uint64_t now)
{
	uint32_t fails;

	ADD(p, failures, 1);
	if (srv->max_fails == 0)
		return false;
	if (now - LOAD(p, fail_window) >= srv->fail_timeout) {
		STORE(p, fail_window, now);
		STORE(p, fails, 1);
		fails = 1;
	} else {
		fails = ADD(p, fails, 1);
	}
	/* Exactly one of the racing failures sees the count reach the
	 * limit, so the server is marked (and logged) once. */
	if (fails != srv->max_fails)
		return false;
	STORE(p, down_until, now + srv->fail_timeout);
	/* Back in service when the mark expires: slow_start counts from then. */
	STORE(p, up_since, now + srv->fail_timeout);
	return true;
}

void health_success(struct health_peer *p)
{
	if (LOAD(p, fails) != 0)
		STORE(p, fails, 0);
}

void health_set_check_down(struct health_peer *p, bool down, uint64_t now)
{
	if (!down)
		STORE(p, up_since, now);
	STORE(p, check_down, down ? 1 : 0);
}

void health_record_check(struct health_peer *p, int status, bool passed, uint64_t now)
{
	STORE(p, last_status, status);
	STORE(p, last_check, now);
	ADD(p, checks, 1);
	if (!passed)
		ADD(p, checks_failed, 1);
}

void health_conn_open(struct health_peer *p, int32_t *mine)
{
	ADD(p, conns, 1);
	ADD(p, requests, 1);
	/* Only this process writes its share, but the master reads it
	 * after this process died: a plain store suffices. */
	__atomic_store_n(mine, *mine + 1, __ATOMIC_RELAXED);
}

void health_conn_close(struct health_peer *p, int32_t *mine)
{
	ADD(p, conns, -1);
	__atomic_store_n(mine, *mine - 1, __ATOMIC_RELAXED);
}

int32_t health_conns(const struct health_peer *p)
{
	int32_t n = LOAD(p, conns);

	return n > 0 ? n : 0;
}

static double decay_factor(uint64_t elapsed_ms, unsigned decay_ms)
{
	return exp(-(double)elapsed_ms / (double)decay_ms);
}

uint64_t health_ewma(const struct health_peer *p, uint64_t now, unsigned decay_ms)
{
	uint64_t v = LOAD(p, ewma_us), stamp = LOAD(p, ewma_stamp);

	if (v == 0 || now <= stamp)
		return v;
	return (uint64_t)((double)v * decay_factor(now - stamp, decay_ms));
}

/*
 * Peak-sensitive, as in Finagle's and linkerd's peak EWMA: a sample above
 * the average replaces it at once, so a server that turns slow is avoided
 * from its first slow answer; lower samples pull the average down with
 * the weight of the time since the previous one.
 */
void health_ewma_sample(struct health_peer *p, uint64_t us, uint64_t now,
			unsigned decay_ms)
{
	uint64_t old = LOAD(p, ewma_us), stamp = LOAD(p, ewma_stamp), v;

	if (us == 0)
		us = 1;		/* 0 means "never sampled" */
	if (old == 0 || us > old) {
		v = us;
	} else {
		double w = decay_factor(now > stamp ? now - stamp : 0, decay_ms);

		v = (uint64_t)((double)old * w + (double)us * (1.0 - w));
	}
	STORE(p, ewma_us, v);
	STORE(p, ewma_stamp, now);
}
