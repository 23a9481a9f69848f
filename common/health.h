/*
 * health.h: the shared health table: one entry per upstream server, in
 * the "health" shared-memory zone, read and written by every worker and
 * the checker without a lock.
 *
 * Owns: what a server's state means (up, down by checks, down by passive
 * failures, ramping up after slow_start), the passive failure window, the
 * count of open exchanges across workers, and the decayed response time.
 *
 * Every field is read and written with relaxed atomics: each is a value of
 * its own, and a reader that sees a slightly stale one only balances a
 * little differently for one request. Read-modify-write steps that must
 * not lose updates (connection counts, counters) are atomic additions; the
 * rest (the failure window, the EWMA) may lose a concurrent update, which
 * costs at most one sample or one counted failure.
 *
 * Entries are created and freed only by the master (under the zone lock),
 * keyed by "upstream name/server address", so a reload that keeps a
 * server keeps its state. Times are ms on CLOCK_MONOTONIC, which all
 * processes share.
 */
#ifndef PORTICO_HEALTH_H
#define PORTICO_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct health_peer {
	/* Active checks: written by the checker only. */
	uint32_t check_down;		/* failed `fall` checks, not yet `rise` */
	int32_t last_status;		/* of the last check; 0: no response */
	uint64_t last_check;		/* ms */
	uint64_t checks;		/* checks run */
	uint64_t checks_failed;

	/* Passive state: written by workers. */
	uint32_t fails;			/* failures in the current window */
	uint64_t fail_window;		/* ms the window opened */
	uint64_t down_until;		/* ms; marked down until then */
	uint64_t up_since;		/* ms it last came back (slow_start) */

	int32_t conns;			/* open exchanges, all workers */
	uint64_t ewma_us;		/* decayed response time, µs */
	uint64_t ewma_stamp;		/* ms of the last sample */
	uint64_t requests;		/* exchanges started */
	uint64_t failures;		/* passive failures counted */

	/* Bookkeeping by the master, under the zone lock. */
	char *key;			/* "upstream/address" */
	unsigned refs;			/* generations using the entry */
	struct health_peer *next;	/* all entries of the zone */
};

/*
 * Held down by failed health checks. Only an upstream that has checks
 * (checked) heeds the mark: one carried over a reload that removed them
 * must not hold a server down for ever.
 */
bool health_checks_down(const struct health_peer *p, bool checked);

/* Usable for new requests: not down by checks, nor by passive failures. */
bool health_up(const struct health_peer *p, bool checked, uint64_t now);

/*
 * Weight after slow_start: weight x HEALTH_WEIGHT_SCALE once the server has
 * been up for slow_start, ramping linearly from 1 before that.
 */
#define HEALTH_WEIGHT_SCALE 100
unsigned health_weight(const struct health_peer *p, const struct conf_server *srv,
		       uint64_t now);

/*
 * A passive failure (of a kind fail_on counts). Returns true when this one
 * marked the server down (max_fails reached within fail_timeout), so the
 * caller logs it once.
 */
bool health_fail(struct health_peer *p, const struct conf_server *srv, uint64_t now);

/* A response came back: the failure window starts over. */
void health_success(struct health_peer *p);

/*
 * The checker's verdict after fall (down = true) or rise (down = false)
 * checks in a row; coming back starts slow_start.
 */
void health_set_check_down(struct health_peer *p, bool down, uint64_t now);

/* Record one check: its status (0: no response) and whether it passed. */
void health_record_check(struct health_peer *p, int status, bool passed, uint64_t now);

/* Open exchanges across workers; *mine is the caller's own share, which
 * the master takes back if the caller dies. */
void health_conn_open(struct health_peer *p, int32_t *mine);
void health_conn_close(struct health_peer *p, int32_t *mine);
int32_t health_conns(const struct health_peer *p);

/* A response time sample (peak-sensitive EWMA, time constant decay_ms). */
void health_ewma_sample(struct health_peer *p, uint64_t us, uint64_t now,
			unsigned decay_ms);

/* The EWMA decayed to now, µs; 0 before the first sample. */
uint64_t health_ewma(const struct health_peer *p, uint64_t now, unsigned decay_ms);

/* Field access with relaxed atomics, for readers such as the status page. */
#define health_load(p, field)	__atomic_load_n(&(p)->field, __ATOMIC_RELAXED)

#endif
