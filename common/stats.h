/*
 * stats.h: traffic counters, one record per child process in the "stats"
 * shared-memory zone, summed when read.
 *
 * Owns: the record layout and the rules for touching it. A record has one
 * writer, its process, which updates it without a lock or a locked
 * instruction; readers (the status page) add up every record under the
 * zone lock, which the master also takes to link and unlink records. When
 * a process has exited, the master folds its counters into the zone's
 * retired totals, so nothing counted is lost, and gives back its share of
 * open connections in the health table. The same holds for the series
 * (below), which the master lays out and names (master/stats_series.h),
 * and the master's own counters in the zone's first block.
 */
#ifndef PORTICO_STATS_H
#define PORTICO_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

/* Latency buckets, in microseconds: the upper bounds; one more bucket
 * takes the rest (+Inf). */
#define STATS_BOUNDS 14
#define STATS_BUCKETS (STATS_BOUNDS + 1)
extern const uint64_t stats_bounds_us[STATS_BOUNDS];

struct stats_counters {
	uint64_t connections;		/* client connections accepted */
	uint64_t requests;		/* requests answered */
	uint64_t responses[6];		/* by class: [1] 1xx .. [5] 5xx, [0] other */
	uint64_t bytes_out;		/* response bytes sent to clients */
	uint64_t upstream_failures;	/* attempts that failed (passive failures) */
	uint64_t retries;		/* requests sent on to another server */
	uint64_t no_server;		/* requests no server could take (503) */
	uint64_t tls_handshakes;	/* client TLS handshakes completed */
	uint64_t tls_resumed;		/* ... of which resumed a session */
	/* requests of cached routes, by what the cache did */
	uint64_t cache_hits;		/* answered from the store */
	uint64_t cache_misses;		/* fetched: nothing stored fit */
	uint64_t cache_stale;		/* answered with a stale stored answer */
	uint64_t cache_revalidated;	/* a stored answer the server confirmed */
	uint64_t cache_bypassed;	/* not looked up (method, cache_bypass) */
	uint64_t cache_stored;		/* answers written to the store */
	uint64_t cache_collapsed;	/* misses that waited for another's fill */
	uint64_t filtered;		/* requests a request filter refused */
	/* requests of limited routes */
	uint64_t limit_req_refused;	/* over a limit_req's rate and burst */
	uint64_t limit_req_delayed;	/* ... made to wait their turn */
	uint64_t limit_conn_refused;	/* over a limit_conn's max */
	/* HTTP Basic authentication */
	uint64_t auth_basic_verifications;	/* passwords hashed, right or wrong */
	uint64_t auth_basic_cache_hits;	/* ... found right in the auth cache */
	uint64_t auth_basic_refused;	/* requests answered 401 */
	/* JWT bearer authentication */
	uint64_t auth_jwt_verifications;	/* tokens checked in full, signature too */
	uint64_t auth_jwt_cache_hits;	/* ... known good from the auth cache */
	uint64_t auth_jwt_refused;	/* requests answered 401 */
	/* Forward authentication */
	uint64_t auth_request_asked;	/* subrequests sent to auth servers */
	uint64_t auth_request_cache_hits;	/* decisions found in the auth cache */
	uint64_t auth_request_refused;	/* answered 401, 403 or 3xx as told */
	uint64_t auth_request_failed;	/* answered 500: no decision to go by */
	uint64_t syslog_dropped;	/* log messages a syslog receiver could not take */
	uint64_t request_time_us;	/* sum of the answered requests' times,
					 * head complete to end */
	/* requests a route's own rules refused */
	uint64_t acl_refused;		/* by allow or deny (403) */
	uint64_t methods_refused;	/* by methods (405) */
	uint64_t body_size_refused;	/* over client_max_body_size (413) */
	/* answered requests by time (head read to the end of the answer),
	 * in the buckets of stats_bounds_us: the status page's percentiles */
	uint64_t request_time_hist[STATS_BUCKETS];
};
#define STATS_NCOUNTERS (sizeof(struct stats_counters) / sizeof(uint64_t))

/* Gauges: meaningful only while the process lives. */
struct stats_gauges {
	uint64_t connections_open;	/* client connections open now */
};

/*
 * Series: counters kept per site, route, upstream, listener and limit of
 * the configuration, for the metrics. Each process's record holds one block
 * of values per series of its generation, by configuration index (the
 * layout says where); each series is named in the zone (struct
 * stats_series) so that what processes counted is added up by name, and
 * kept by name across a reload and a process's exit.
 */

/* Status classes (0: none or out of range, 1..5: 1xx..5xx) and methods
 * (stats_method(): GET HEAD POST PUT DELETE PATCH OPTIONS, 7: other). */
#define STATS_CODES 6
#define STATS_METHODS 8

/* A histogram, not cumulative: the count is the buckets' sum. */
struct stats_hist {
	uint64_t buckets[STATS_BUCKETS];
	uint64_t sum_us;
};

/* A route's requests; a site has one more for requests no route took,
 * and the configuration one for requests no site took. */
struct stats_route_vals {
	uint64_t requests[STATS_CODES][STATS_METHODS];
};

/* A site's (one more: requests of no site). */
struct stats_site_vals {
	uint64_t bytes_in;		/* request heads and bodies read */
	uint64_t bytes_out;		/* response bytes sent */
	struct stats_hist time;		/* head read to the end of the answer */
};

/* An upstream's. */
struct stats_upstream_vals {
	struct stats_hist header_time;	/* request sent to response head */
};

/* A listener's: its connections. */
struct stats_listen_vals {
	uint64_t accepted;
	uint64_t open;			/* a gauge, left out of retired totals */
};

/* A limit's (limit_req or limit_conn). */
struct stats_limit_vals {
	uint64_t refused;
	uint64_t delayed;		/* limit_req: made to wait their turn */
};

enum stats_kind {
	STATS_ROUTE, STATS_SITE, STATS_UPSTREAM, STATS_LISTEN, STATS_LIMIT, STATS_KINDS
};

/* A series' name in the zone and what exited processes counted in it. */
struct stats_series {
	struct stats_series *next;	/* all series of the zone */
	char *key;			/* its names within its kind (the site;
					 * site, route pattern and ordinal; the
					 * upstream, listener or limit) */
	unsigned id;			/* within its kind, for readers' sums;
					 * not given again while the zone lasts */
	unsigned refs;			/* layouts naming it */
	uint8_t kind;			/* enum stats_kind */
	uint64_t retired[];		/* the kind's values */
};

/* How one generation's records hold their series: the series of slot i
 * of a kind, and where a site's routes start among the route slots. */
struct stats_layout {
	unsigned n[STATS_KINDS];	/* slots of each kind */
	struct stats_series **series[STATS_KINDS];
	unsigned *route_base;		/* by site index, and one more */
	size_t at[STATS_KINDS];		/* where each kind's slots start */
	size_t width[STATS_KINDS];	/* values in a slot of each kind */
	size_t words;			/* uint64_t values in a record */
	unsigned refs;			/* struct shared using it */
};

/* The master's own counters; it is the only writer. */
struct stats_master {
	uint64_t reloads;		/* configurations taken on reload */
	uint64_t upgrades;		/* binary upgrades started */
	uint64_t worker_restarts;	/* workers that died and were replaced */
	uint64_t start_time;		/* the master's start, Unix seconds */
	uint64_t generation;		/* of the configuration serving */
	uint64_t workers;		/* worker processes it runs */
};

struct stats_proc {
	struct stats_counters c;
	struct stats_gauges g;
	pid_t pid;			/* set by the master after fork */
	unsigned generation;
	struct stats_proc *next;	/* all live records of the zone */
	const struct stats_layout *layout;	/* of its generation; NULL: the
						 * record counts no series */
	uint64_t *vals;			/* its series, after conns[] */
	unsigned nservers;		/* entries of conns[] */
	int32_t conns[];		/* this process's open exchanges per
					 * server id: see health_conn_open() */
};

/* The first block of the zone. */
struct stats_root {
	struct stats_counters retired;	/* of processes that have exited */
	struct stats_proc *procs;
	struct stats_series *series;
	unsigned nids[STATS_KINDS];	/* ids given of each kind */
	struct stats_master master;
};

/* One writer: a plain read-modify-write, stored whole for the readers. */
#define STATS_ADD(rec, field, n) \
	__atomic_store_n(&(rec)->field, (rec)->field + (n), __ATOMIC_RELAXED)

/* The bucket of a latency. */
unsigned stats_bucket(uint64_t us);

/* One more in h (its owner's), us long, in bucket b (stats_bucket(us)). */
static inline void stats_observe(struct stats_hist *h, unsigned b, uint64_t us)
{
	STATS_ADD(h, buckets[b], 1);
	STATS_ADD(h, sum_us, us);
}

struct conf_site;

/* Routes of one site may share a pattern (conditions tell them apart):
 * the how-manieth with its pattern route i is, from 1. */
unsigned stats_route_ordinal(const struct conf_site *site, unsigned i);

/* Values of a series of kind; the first stats_kind_counters() of them
 * are counters, which a process that exits leaves to the retired
 * totals, the rest gauges, which go with it. */
size_t stats_kind_words(enum stats_kind kind);
size_t stats_kind_counters(enum stats_kind kind);

/* The route slot of a request; site and route are indexes in the
 * configuration, -1 for none. A site's slots are its routes' then one
 * for requests no route took; the last slot is for requests of no site. */
static inline unsigned stats_route_slot(const struct stats_layout *l, int site, int route)
{
	if (site < 0)
		return l->n[STATS_ROUTE] - 1;
	return route >= 0 ? l->route_base[site] + (unsigned)route : l->route_base[site + 1] - 1;
}

/* A record's values of slot i of kind (the record has a layout). */
static inline uint64_t *stats_slot(const struct stats_proc *p, enum stats_kind kind, unsigned i)
{
	return p->vals + p->layout->at[kind] + i * p->layout->width[kind];
}

/* An http_method's place among the method labels. */
unsigned stats_method(unsigned http_method);
extern const char *const stats_method_names[STATS_METHODS];

/* Add up the counters of every record and the retired totals, and the
 * gauges of live records. Takes the zone lock. */
void stats_sum(struct shm_zone *z, struct stats_root *root,
	       struct stats_counters *c, struct stats_gauges *g, unsigned *nprocs);

/* Fold an exited process's counters into root's retired totals; the
 * caller (the master) holds the lock of root's zone. */
void stats_retire(struct stats_root *root, struct stats_proc *p);

/*
 * Sums of the series, by kind and id: sums[kind] holds root->nids[kind]
 * blocks of stats_kind_words(kind) values (malloc'd; the caller frees
 * each), retired totals and every live record's values added up. Takes
 * the zone lock. -1 when out of memory.
 */
int stats_sum_series(struct shm_zone *z, struct stats_root *root,
		     uint64_t *sums[STATS_KINDS], unsigned nids[STATS_KINDS]);

/* The series of kind named key in root's zone, or NULL. */
struct stats_series *stats_series_find(struct stats_root *root, enum stats_kind kind,
				       const char *key);

/* Fold an exited process's series into root's series of the same name
 * (same: root is the zone it counted in, and its series are root's). */
void stats_retire_series(struct stats_root *root, const struct stats_proc *p, bool same);

/* What a live record has counted so far, copied (its series' values laid
 * out as the record's). */
struct stats_snapshot {
	struct stats_counters c;
	uint64_t vals[];
};

/* A snapshot of p, malloc'd; NULL when out of memory. */
struct stats_snapshot *stats_snapshot(const struct stats_proc *p);

/* Add snapshot s of p to root's retired totals, the series by name, or
 * take it back (minus): so that a new zone can take over what the live
 * records of the zone it replaces have counted, and their exit adds only
 * what they counted after. The caller (the master) holds the lock. */
void stats_fold_snapshot(struct stats_root *root, const struct stats_proc *p,
			 const struct stats_snapshot *s, bool minus);

#endif
