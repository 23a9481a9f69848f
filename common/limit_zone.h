/*
 * limit_zone.h: the shared state of one limit_req or limit_conn, kept
 * per key in a zone of shared memory that every worker updates at once.
 *
 * Owns: one shared mapping of a memfd per limit, made by the master
 * before it forks (a new binary maps it again): a header, an
 * open-addressing table of fixed slots, and for limit_conn a journal per
 * process of the slots it holds.
 *
 * No locks: a slot is claimed by compare-and-swap on its key's first
 * hash word, and its whole state is one 64-bit word changed by
 * compare-and-swap, so a process killed anywhere leaves nothing held
 * that another waits on. A key is named by two independent 64-bit hashes
 * (128 bits), so that two clients are not merged into one bucket (the
 * odds are those of a 128-bit collision). The hashes are seeded by 128
 * random bits drawn when the zone is made and kept in it (through
 * reloads and binary upgrades): nobody can compute keys that land in
 * another key's slots to crowd it out.
 *
 * limit_req: the state is the bucket's "theoretical arrival time" (GCRA)
 * in microseconds of CLOCK_MONOTONIC, which is a token bucket with burst
 * in one word: a request is due at max(tat, now); the time queued ahead
 * of it, due - now, may be at most burst intervals; passing adds one
 * interval. A bucket whose tat is past is full.
 *
 * limit_conn: the state is the key's count of open exchanges (high 24
 * bits) and the time of its last release (ms, low 40 bits). Before a
 * worker counts a slot it writes the slot's number into its journal (one
 * record per process, claimed by pid), and clears it after it let go: the
 * master walks a dead worker's record and takes back what it held. A
 * process killed between the journal and the count gives back one too
 * many, never keeps one too many (a count never goes below 0). There are
 * records for twice the workers the zone was made for, and
 * LIMIT_OWNERS_MARGIN more: two generations overlap in a reload or a
 * binary upgrade; a configuration with more workers gets a new zone. A
 * process with more open than its record holds (a quarter of the zone
 * over the records: 54,000 for 10m and 2 workers), or that finds no
 * record free, counts the rest unjournaled: those its crash would keep.
 *
 * Full: a key's slot is one of LIMIT_PROBE slots from its hash; when all
 * are taken, the one idle longest (a full bucket; no open exchange) is
 * given to the new key. When none is idle, the request is refused
 * (LIMIT_FULL), as nginx refuses when its zone has no room: the key
 * cannot be counted, and letting it through would let a flood of new
 * keys past every limit. With random seeds that takes a zone whose
 * every window is busy, not a few chosen keys.
 */
#ifndef PORTICO_LIMIT_ZONE_H
#define PORTICO_LIMIT_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LIMIT_PROBE	16		/* slots a key may live in */
#define LIMIT_OWNERS_MARGIN 8		/* journal records beyond 2 x workers */
#define LIMIT_CONN_MAX	((1u << 24) - 1)

enum limit_kind { LZ_REQ = 1, LZ_CONN = 2 };

/* What limit_req_take and limit_conn_take decide. */
enum limit_verdict {
	LIMIT_PASS = 0,
	LIMIT_DELAY,			/* pass after wait_us */
	LIMIT_REFUSE,			/* over the limit; may pass after wait_us */
	LIMIT_FULL			/* no slot for the key: every one near
					 * it is in use */
};

struct limit_key {
	uint64_t h1, h2;
};

/* A limit_req's rate, in microseconds. */
struct limit_rate {
	uint64_t interval_us;		/* between two requests at the rate */
	uint64_t burst_us;		/* queued ahead at most: burst intervals */
	uint64_t delay_us;		/* passed at once up to this much queued
					 * ahead; UINT64_MAX: nodelay */
};

struct limit_result {
	enum limit_verdict verdict;
	uint64_t wait_us;		/* LIMIT_DELAY, LIMIT_REFUSE */
	bool first_eviction;		/* the zone started evicting idle keys:
					 * this one caller is told, to log it */
};

/* What an exchange holds of a limit_conn (all 0: nothing). */
struct limit_hold {
	uint32_t slot;			/* + 1 */
	uint32_t entry;			/* + 1 in the journal; 0: not journaled */
};

struct limit_zone;

/* Map a zone of size bytes (a memfd), with a journal record for each
 * process of two generations of workers. NULL with a reason in err. */
struct limit_zone *limit_zone_create(const char *name, enum limit_kind kind, size_t size,
				     unsigned workers, char *err, size_t errlen);
/* Map the zone a previous binary handed on as fd (taken: closed with
 * the zone). NULL with a reason in err when it is not one of ours. */
struct limit_zone *limit_zone_attach(int fd, char *err, size_t errlen);
/* Its memfd, to hand on to a new binary. */
int limit_zone_fd(const struct limit_zone *z);
void limit_zone_destroy(struct limit_zone *z);

/* Whether z was made for this limit, with records enough for workers (a
 * reload keeps it then). */
bool limit_zone_matches(const struct limit_zone *z, const char *name, enum limit_kind kind,
			size_t size, unsigned workers);
const char *limit_zone_name(const struct limit_zone *z);
/* Keys it can hold; keys it holds now (a count: no walk of the slots). */
unsigned limit_zone_capacity(const struct limit_zone *z);
unsigned limit_zone_keys(const struct limit_zone *z);

/* The 128-bit name of a key's text in zone z (whose seeds it uses). */
struct limit_key limit_key_of(const struct limit_zone *z, const void *p, size_t len);

/* Count a request of key k at now_us against rate r. */
struct limit_result limit_req_take(struct limit_zone *z, struct limit_key k,
				   const struct limit_rate *r, uint64_t now_us);

/* Count an open exchange of key k, when fewer than max are open; h says
 * what to give back. */
struct limit_result limit_conn_take(struct limit_zone *z, struct limit_key k, unsigned max,
				    uint64_t now_ms, struct limit_hold *h);
/* Give back what h holds (h is cleared). */
void limit_conn_release(struct limit_zone *z, struct limit_hold *h, uint64_t now_ms);
/* Open exchanges of key k now (for the unit test). */
unsigned limit_conn_count(struct limit_zone *z, struct limit_key k);

/* The master: take back what process pid (dead) held; the number of
 * exchanges given back. */
unsigned limit_zone_reap(struct limit_zone *z, pid_t pid);

#endif
