/*
 * balance.c: the balancing algorithms.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "balance.h"
#include "health.h"
#include "upstream.h"

/* Ring points per unit of weight (as ketama and nginx use), and a cap on
 * the whole ring so heavy weights on many servers stay small. */
#define POINTS_PER_WEIGHT 160
#define RING_MAX	(1u << 16)

#define FNV_OFFSET	0xcbf29ce484222325ull
#define FNV_PRIME	0x100000001b3ull

struct ring_point {
	uint64_t hash;
	unsigned server;
};

static uint64_t rng_state;

/* ---- hashing ---- */

static uint64_t fnv_feed(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

static uint64_t fnv_feed_lower(uint64_t h, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		h = (h ^ c) * FNV_PRIME;
	}
	return h;
}

/* FNV-1a alone leaves similar keys close together on the ring; the
 * splitmix64 finalizer spreads them. */
static uint64_t mix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

uint64_t balance_hash(const void *data, size_t len)
{
	return mix(fnv_feed(FNV_OFFSET, data, len));
}

/* ---- the request's key ---- */

static uint64_t feed_part(uint64_t h, const struct conf_key_part *kp,
			  const struct var_source *src)
{
	char scratch[VAR_SCRATCH];
	struct slice v = var_value(kp, src, scratch);

	return var_lower(kp) ? fnv_feed_lower(h, v.p, v.len) : fnv_feed(h, v.p, v.len);
}

void balance_start(struct pick *pk, const struct conf_upstream *cu,
		   const struct var_source *src)
{
	uint64_t h = FNV_OFFSET;
	unsigned i;

	memset(pk->tried, 0, sizeof(pk->tried));
	pk->ntried = 0;
	pk->key = 0;
	pk->region = pk->in_region = BALANCE_ANY_REGION;
	if (cu->balance == BALANCE_IP_HASH)
		h = fnv_feed(h, src->client_addr, strlen(src->client_addr));
	else if (cu->balance == BALANCE_HASH)
		for (i = 0; i < cu->hash_key.nparts; i++)
			h = feed_part(h, &cu->hash_key.parts[i], src);
	else
		return;
	pk->key = mix(h);
}

/* ---- candidates ---- */

static bool tried(const struct pick *pk, unsigned i)
{
	return pk->tried[i / 8] & (1u << (i % 8));
}

static bool candidate(const struct upstream *up, const struct pick *pk, unsigned i,
		      bool backup, uint64_t now)
{
	const struct conf_server *srv = &up->conf->servers[i];
	const struct health_peer *p = up->servers[i].peer;
	bool checked = up->conf->health_check != NULL;

	if (srv->backup != backup || tried(pk, i))
		return false;
	if (pk->in_region != BALANCE_ANY_REGION &&
	    (srv->region != NULL ? srv->region->id : 0) != pk->in_region)
		return false;
	/* With one server there is nowhere else to go: a passive mark would
	 * only turn a passing fault into certain errors. */
	if (up->conf->nservers == 1 ? health_checks_down(p, checked) : !health_up(p, checked, now))
		return false;
	return srv->max_conns == 0 || (unsigned)health_conns(p) < srv->max_conns;
}

/* ---- smooth weighted round robin, over the best-scored candidates ---- */

/*
 * nginx's smooth weighted round robin: every candidate gains its weight,
 * the richest is picked and pays the total; weights 5,1,1 give a a b a c
 * a a rather than a a a a a b c. Only servers with score == best take
 * part, so least_conn and ewma break ties the same fair way.
 */
static int wrr(struct upstream *up, const bool *cand, const unsigned *weight,
	       const double *score, double best)
{
	int total = 0, pick = -1;
	unsigned i;

	for (i = 0; i < up->conf->nservers; i++) {
		struct upstream_server *s = &up->servers[i];
		int w;

		if (!cand[i] || score[i] != best)
			continue;
		w = (int)weight[i];
		s->current_weight += w;
		total += w;
		if (pick < 0 || s->current_weight > up->servers[pick].current_weight)
			pick = (int)i;
	}
	if (pick >= 0)
		up->servers[pick].current_weight -= total;
	return pick;
}

/*
 * Decayed response time x (open requests + 1). A server without a sample
 * (new, or idle so long its average decayed away) gets the first request
 * free, to learn its speed, but while that one is open it costs a large
 * penalty per request, as in Finagle: otherwise it would take every
 * request until its first answer came back.
 */
#define EWMA_PENALTY_US 10e6

static double ewma_score(const struct health_peer *p, const struct conf_upstream *cu,
			 uint64_t now)
{
	uint64_t ewma = health_ewma(p, now, cu->ewma_decay);
	int32_t conns = health_conns(p);

	if (ewma == 0)
		return EWMA_PENALTY_US * conns;
	return (double)ewma * (conns + 1);
}

static double score_of(const struct upstream *up, unsigned i, double w, uint64_t now)
{
	const struct conf_upstream *cu = up->conf;
	const struct health_peer *p = up->servers[i].peer;

	switch (cu->balance) {
	case BALANCE_LEAST_CONN:
		return health_conns(p) / w;
	case BALANCE_EWMA:
		return ewma_score(p, cu, now) / w;
	default:
		return 0;
	}
}

static int pick_scored(struct upstream *up, const struct pick *pk, bool backup, uint64_t now)
{
	bool cand[CONF_MAX_SERVERS];
	unsigned weight[CONF_MAX_SERVERS], i;
	double score[CONF_MAX_SERVERS], best = 0;
	bool any = false;

	/* Each weight once: the score and the round robin both use it. */
	for (i = 0; i < up->conf->nservers; i++) {
		cand[i] = candidate(up, pk, i, backup, now);
		if (!cand[i])
			continue;
		weight[i] = health_weight(up->servers[i].peer, &up->conf->servers[i], now);
		score[i] = score_of(up, i, weight[i], now);
		if (!any || score[i] < best)
			best = score[i];
		any = true;
	}
	return any ? wrr(up, cand, weight, score, best) : -1;
}

/* ---- random2 ---- */

/* xorshift64*: fast, and each worker is seeded apart. */
static uint64_t rng_next(void)
{
	if (rng_state == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng_state = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ull;
	}
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A candidate at random, in proportion to weight; skip is excluded. */
static int weighted_random(struct upstream *up, const bool *cand, int skip, uint64_t now)
{
	uint64_t total = 0, r;
	unsigned i;

	for (i = 0; i < up->conf->nservers; i++)
		if (cand[i] && (int)i != skip)
			total += health_weight(up->servers[i].peer, &up->conf->servers[i], now);
	if (total == 0)
		return -1;
	r = rng_next() % total;
	for (i = 0; i < up->conf->nservers; i++) {
		uint64_t w;

		if (!cand[i] || (int)i == skip)
			continue;
		w = health_weight(up->servers[i].peer, &up->conf->servers[i], now);
		if (r < w)
			return (int)i;
		r -= w;
	}
	return -1;
}

static int pick_random2(struct upstream *up, const struct pick *pk, bool backup, uint64_t now)
{
	bool cand[CONF_MAX_SERVERS];
	unsigned i;
	int a, b;
	double la, lb;

	for (i = 0; i < up->conf->nservers; i++)
		cand[i] = candidate(up, pk, i, backup, now);
	a = weighted_random(up, cand, -1, now);
	if (a < 0)
		return -1;
	b = weighted_random(up, cand, a, now);
	if (b < 0)
		return a;
	/* Fewer connections relative to weight; a tie goes to the first. */
	la = health_conns(up->servers[a].peer) /
	     (double)health_weight(up->servers[a].peer, &up->conf->servers[a], now);
	lb = health_conns(up->servers[b].peer) /
	     (double)health_weight(up->servers[b].peer, &up->conf->servers[b], now);
	return lb < la ? b : a;
}

/* ---- consistent hashing ---- */

static int point_cmp(const void *x, const void *y)
{
	const struct ring_point *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->server < b->server ? -1 : a->server > b->server;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b != 0) {
		unsigned t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* The primaries' weights divided by their greatest common divisor:
 * weights of 100 each ring like weights of 1. */
static unsigned weight_unit(const struct conf_upstream *cu)
{
	unsigned i, g = 0;

	for (i = 0; i < cu->nservers; i++)
		if (!cu->servers[i].backup)
			g = gcd((unsigned)cu->servers[i].weight, g);
	return g ? g : 1;
}

/*
 * Points are hashed from the server's address, not its position, so that
 * adding or removing a server leaves every other server's points alone.
 * That holds while the ring is under RING_MAX points (reduced weights
 * adding up to 409); past it every server's share of points is scaled
 * down, and a change of servers moves some other keys too.
 */
int balance_init(struct upstream *up)
{
	const struct conf_upstream *cu = up->conf;
	unsigned i, j, n = 0, unit = weight_unit(cu);
	uint64_t total = 0;

	if (cu->balance != BALANCE_HASH && cu->balance != BALANCE_IP_HASH)
		return 0;
	for (i = 0; i < cu->nservers; i++)
		if (!cu->servers[i].backup)
			total += (uint64_t)POINTS_PER_WEIGHT * (unsigned)cu->servers[i].weight / unit;
	up->ring = calloc(MIN(total, (uint64_t)RING_MAX) + cu->nservers, sizeof(*up->ring));
	if (up->ring == NULL)
		return -1;
	for (i = 0; i < cu->nservers; i++) {
		uint64_t points = (uint64_t)POINTS_PER_WEIGHT * (unsigned)cu->servers[i].weight / unit;

		if (cu->servers[i].backup)
			continue;
		if (total > RING_MAX)
			points = MAX(points * RING_MAX / total, (uint64_t)1);
		for (j = 0; j < points; j++) {
			char name[320];
			int len = snprintf(name, sizeof(name), "%s#%u", cu->servers[i].address, j);

			up->ring[n].hash = balance_hash(name, (size_t)len);
			up->ring[n].server = i;
			n++;
		}
	}
	qsort(up->ring, n, sizeof(*up->ring), point_cmp);
	up->nring = n;
	return 0;
}

/* The first point at or after key, going round; then the next points
 * until one belongs to a candidate, so a server that is down or tried
 * hands its keys to its neighbours and nobody else's keys move. */
static int pick_ring(struct upstream *up, const struct pick *pk, uint64_t now)
{
	unsigned lo = 0, hi = up->nring, k;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (up->ring[mid].hash < pk->key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = 0; k < up->nring; k++) {
		unsigned s = up->ring[(lo + k) % up->nring].server;

		if (candidate(up, pk, s, false, now))
			return (int)s;
	}
	return -1;
}

/* ---- choosing ---- */

static int pick_among(struct upstream *up, const struct pick *pk, bool backup, uint64_t now)
{
	switch (up->conf->balance) {
	case BALANCE_HASH:
	case BALANCE_IP_HASH:
		if (!backup)
			return pick_ring(up, pk, now);
		return pick_scored(up, pk, true, now);
	case BALANCE_RANDOM2:
		return pick_random2(up, pk, backup, now);
	default:
		return pick_scored(up, pk, backup, now);
	}
}

void balance_set_region(struct pick *pk, unsigned region)
{
	pk->region = region != 0 ? region : BALANCE_ANY_REGION;
}

/* Among the servers of the client's first region that has a candidate,
 * in the order of its region; among all without regions. */
static int pick_by_region(struct upstream *up, struct pick *pk, bool backup, uint64_t now)
{
	const unsigned *order;
	unsigned n, k;
	int s;

	pk->in_region = BALANCE_ANY_REGION;
	if (up->conf->gslb == NULL || pk->region == BALANCE_ANY_REGION)
		return pick_among(up, pk, backup, now);
	order = conf_gslb_order(up->conf->gslb, pk->region, &n);
	for (k = 0; k < n; k++) {
		pk->in_region = order[k];
		if ((s = pick_among(up, pk, backup, now)) >= 0)
			return s;
	}
	return -1;
}

int balance_pick(struct upstream *up, struct pick *pk, uint64_t now)
{
	int s = pick_by_region(up, pk, false, now);

	if (s < 0)
		s = pick_by_region(up, pk, true, now);
	if (s >= 0) {
		pk->tried[s / 8] |= (uint8_t)(1u << (s % 8));
		pk->ntried++;
	}
	return s;
}
