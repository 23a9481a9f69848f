/*
 * balance.h: which server of an upstream takes a request.
 *
 * Owns: the balancing algorithms (balance = round_robin, least_conn,
 * ip_hash, hash, random2, ewma), their per-worker state (smooth weighted
 * round robin weights, the consistent-hash ring, the random generator),
 * the hash of a request's key, and the rules every algorithm shares: a
 * server is a candidate when it is up, below max_conns and not tried yet
 * for this request; backup servers only when no primary is a candidate.
 *
 * GSLB: in an upstream whose servers have regions, a client with a
 * region is balanced over the servers of the first region of its order
 * (conf_gslb_order: its own, its preference list, the others) that has
 * a candidate; the upstream's algorithm applies within that region.
 */
#ifndef PORTICO_BALANCE_H
#define PORTICO_BALANCE_H

#include <stdint.h>

#include "conf.h"
#include "http_parse.h"
#include "vars.h"

struct upstream;

/* One request's choices so far. */
struct pick {
	uint64_t key;			/* hash of the key (hash, ip_hash) */
	uint8_t tried[CONF_MAX_SERVERS / 8];
	unsigned ntried;
	unsigned region;		/* the client's (GSLB); BALANCE_ANY_REGION:
					 * none, every server alike */
	unsigned in_region;		/* the region being picked from */
};

#define BALANCE_ANY_REGION (~0u)

/* Build the per-worker state of up (the ring of a hashing upstream);
 * -1 when out of memory. */
int balance_init(struct upstream *up);

/* Start a request's choices: its key for the hashing algorithms. */
void balance_start(struct pick *pk, const struct conf_upstream *cu,
		   const struct var_source *src);

/* The client's region (a region id, 0: none) in an upstream with
 * regions; after balance_start, before the first pick. */
void balance_set_region(struct pick *pk, unsigned region);

/* The next server for the request, marked tried; -1 when none is a
 * candidate (every server down, full or tried). */
int balance_pick(struct upstream *up, struct pick *pk, uint64_t now);

/* 64-bit hash of a byte string (exposed for the unit tests). */
uint64_t balance_hash(const void *data, size_t len);

#endif
