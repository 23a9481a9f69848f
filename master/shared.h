/*
 * shared.h: the master's side of shared memory.
 *
 * Owns: creating the zones a configuration needs before the children are
 * forked ("health": the health table; "stats": per-process counters;
 * "tls", when TLS is used: the session cache and the ticket keys, which
 * it rotates; "auth", unless auth_cache_size is 0: authentication's
 * decisions; one per cache section, cache_zones.h; one per limit_req
 * and limit_conn section, limit_zones.h; geo tables are made with the
 * configuration, conf_geo.c, and only told of here),
 * keeping a zone across a reload when its name and size are unchanged
 * (and carrying each server's health over by "upstream/address" when the
 * zone must change), and the life of each child's stats record: made
 * before fork, and after the child exits, its counters retired and its
 * open connections given back to the health table; the stats series of
 * each configuration (stats_series.h), and a new stats zone taking over
 * the counts of the one it replaces (shared_take_over).
 *
 * A struct shared is counted: one reference for the generation that runs
 * with it, one per live child forked with it. The zones and entries it
 * holds go when the last reference does.
 */
#ifndef PORTICO_SHARED_H
#define PORTICO_SHARED_H

#include "auth_cache.h"
#include "cache_zones.h"
#include "conf.h"
#include "health.h"
#include "limit_zones.h"
#include "shm.h"
#include "stats.h"
#include "tls_cache.h"

struct zone_ref;

struct shared {
	struct zone_ref *health, *stats, *tls, *auth;
	struct health_peer **peers;	/* by conf_server.id */
	unsigned npeers;
	struct cache_zone **caches;	/* by conf_cache.index */
	struct cache_store **stores;	/* ... their stores, for the workers */
	unsigned ncaches;
	struct limit_ref **limit_refs;	/* by conf_limit.index */
	struct limit_zone **limits;	/* ... their zones, for the workers */
	unsigned nlimits;
	struct stats_layout *layout;	/* its series in the stats zone */
	unsigned refs;
};

/*
 * The shared state for configuration c; prev (may be NULL) is the one
 * running now, whose zones are kept when they fit. NULL with a reason in
 * err when memory runs out.
 */
struct shared *shared_create(const struct conf *c, struct shared *prev,
			     char *err, size_t errlen);

/* sh replaces prev (a reload that can no longer fail): when its stats
 * zone is new, it takes over what prev's live processes have counted, so
 * that no counter seems to go back while they drain. */
void shared_take_over(struct shared *sh, struct shared *prev);

/* Drop a reference; the last one frees. */
void shared_put(struct shared *sh);

struct shm_zone *shared_stats_zone(const struct shared *sh);
/* NULL when the configuration uses no TLS. */
struct tls_cache *shared_tls_cache(const struct shared *sh);

/* NULL when auth_cache_size is 0. */
struct auth_cache *shared_auth_cache(const struct shared *sh);

/* A new ticket key for new tickets; the ones before it still decrypt.
 * Also done by shared_create(), so every reload rotates. */
void shared_rotate_ticket_keys(struct shared *sh);
struct stats_root *shared_stats_root(const struct shared *sh);

/* The master's counters in the stats zone; the master alone writes them
 * (with STATS_ADD), and they pass to a new zone with the totals. */
struct stats_master *shared_master_stats(const struct shared *sh);

/* A stats record for a child about to be forked (NULL when the zone is
 * full: the child then counts privately). Takes a reference. */
struct stats_proc *shared_proc_new(struct shared *sh, unsigned generation);

/* Count syslog messages the master dropped (it has no record of its own)
 * into the retired totals of sh's stats zone. */
void shared_count_master(struct shared *sh, uint64_t syslog_dropped);

/* The child that used p has exited: retire its counters into the stats
 * of now (the current shared state), give back its open connections,
 * free p. Drops the reference to sh. */
void shared_proc_exited(struct shared *sh, struct stats_proc *p, struct shared *now);

#endif
