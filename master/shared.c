/*
 * shared.c: zones, health entries and stats records, seen from the master.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "core.h"
#include "geo_table.h"
#include "shared.h"
#include "stats_series.h"

#define ZONE_MIN	(64 * 1024)
#define PEER_COST	(256 + 128)	/* an entry's slab block and its key */

/* What a new stats zone took over from a live record of this one. */
struct carried {
	const struct stats_proc *p;
	struct stats_snapshot *counted;	/* p's counts then */
	struct carried *next;
};

struct zone_ref {
	struct shm_zone *z;
	unsigned refs;			/* struct shared using it */
	struct health_peer *peers;	/* "health": every entry */
	struct stats_root *root;	/* "stats": the first block */
	struct carried *carried;	/* "stats": taken over by a newer zone */
	struct tls_cache *cache;	/* "tls": the first block */
	struct auth_cache *auth;	/* "auth": the first block */
};

/* Room for need bytes with slack, in powers of two, so that a reload
 * adding a server or two usually keeps the same size (and the zone). */
static size_t zone_size(size_t need)
{
	size_t size = ZONE_MIN;

	while (size < 2 * need)
		size *= 2;
	return size;
}

static size_t health_size(const struct conf *c)
{
	return zone_size((size_t)c->nservers * PEER_COST);
}

/* A record: its counters, conns[] and its series (8-byte aligned). */
static size_t proc_bytes(unsigned nservers, size_t words)
{
	size_t conns = (nservers * sizeof(int32_t) + 7) & ~(size_t)7;

	return sizeof(struct stats_proc) + conns + words * sizeof(uint64_t);
}

static size_t proc_size(const struct conf *c)
{
	return proc_bytes(c->nservers, stats_layout_words(c));
}

/* Every worker and the checker, of up to three generations at once. */
static size_t stats_size(const struct conf *c)
{
	return zone_size(3 * (c->workers + 1) * (proc_size(c) + 64) +
			 sizeof(struct stats_root) + 3 * stats_layout_bytes(c));
}

/* What tls_session_cache asks for; never less than the smallest zone,
 * which the ticket keys need when the cache is off. */
static size_t tls_size(const struct conf *c)
{
	return MAX(c->tls_session_cache, (size_t)ZONE_MIN);
}

/* What auth_cache_size asks for, and never less than the smallest zone. */
static size_t auth_size(const struct conf *c)
{
	return MAX(c->auth_cache_size, (size_t)ZONE_MIN);
}

static struct zone_ref *zone_new(const char *name, size_t size, char *err, size_t errlen)
{
	struct zone_ref *zr = calloc(1, sizeof(*zr));

	if (zr == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	zr->z = shm_zone_create(name, size, err, errlen);
	if (zr->z == NULL) {
		free(zr);
		return NULL;
	}
	zr->refs = 1;
	return zr;
}

static void zone_put(struct zone_ref *zr)
{
	struct carried *k;

	if (zr == NULL || --zr->refs > 0)
		return;
	while ((k = zr->carried) != NULL) {
		zr->carried = k->next;
		free(k->counted);
		free(k);
	}
	shm_zone_destroy(zr->z);
	free(zr);
}

/* The zone prev used, when it is still the right size; else a new one. */
static struct zone_ref *zone_get(struct zone_ref *prev, const char *name, size_t size,
				 bool *is_new, char *err, size_t errlen)
{
	if (prev != NULL && shm_zone_matches(prev->z, name, size)) {
		prev->refs++;
		*is_new = false;
		return prev;
	}
	*is_new = true;
	log_msg(LL_INFO, "shared memory zone \"%s\": %zu KiB", name, size / 1024);
	return zone_new(name, size, err, errlen);
}

static struct health_peer *peer_find(struct zone_ref *zr, const char *key)
{
	struct health_peer *p;

	for (p = zr->peers; p != NULL; p = p->next)
		if (strcmp(p->key, key) == 0)
			return p;
	return NULL;
}

/* What a server has learnt survives a move to a new zone; its open
 * connections belong to the processes of the old one. */
static void peer_carry_over(struct health_peer *to, const struct health_peer *from)
{
	struct health_peer keep = *to;

	*to = *from;
	to->conns = 0;
	to->key = keep.key;
	to->refs = keep.refs;
	to->next = keep.next;
}

static struct health_peer *peer_new(struct zone_ref *zr, const char *key)
{
	struct health_peer *p = shm_alloc_locked(zr->z, sizeof(*p));
	char *k = shm_alloc_locked(zr->z, strlen(key) + 1);

	if (p == NULL || k == NULL) {
		shm_free_locked(zr->z, p);
		shm_free_locked(zr->z, k);
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	strcpy(k, key);
	p->key = k;
	p->next = zr->peers;
	zr->peers = p;
	return p;
}

static void peer_put(struct zone_ref *zr, struct health_peer *p)
{
	struct health_peer **pp;

	if (--p->refs > 0)
		return;
	for (pp = &zr->peers; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	shm_free_locked(zr->z, p->key);
	shm_free_locked(zr->z, p);
}

static int peers_bind(struct shared *sh, const struct conf *c, struct zone_ref *old,
		      char *err, size_t errlen)
{
	struct zone_ref *zr = sh->health;
	unsigned i, j;
	char key[512];
	int rc = 0;

	if (shm_lock(zr->z) == P_ERROR) {
		snprintf(err, errlen, "health zone lock unusable");
		return -1;
	}
	for (i = 0; i < c->nupstreams && rc == 0; i++) {
		const struct conf_upstream *u = &c->upstreams[i];

		for (j = 0; j < u->nservers; j++) {
			const struct conf_server *srv = &u->servers[j];
			struct health_peer *p, *from;

			snprintf(key, sizeof(key), "%s/%s", u->name, srv->address);
			p = peer_find(zr, key);
			if (p == NULL) {
				p = peer_new(zr, key);
				if (p == NULL) {
					snprintf(err, errlen, "health zone full");
					rc = -1;
					break;
				}
				if (old != NULL && (from = peer_find(old, key)) != NULL)
					peer_carry_over(p, from);
			}
			/* Nobody would lift a mark of checks that are gone. */
			if (u->health_check == NULL)
				p->check_down = 0;
			p->refs++;
			sh->peers[srv->id] = p;
		}
	}
	shm_unlock(zr->z);
	return rc;
}

static void peers_unbind(struct shared *sh)
{
	unsigned i;

	if (shm_lock(sh->health->z) == P_ERROR)
		return;
	for (i = 0; i < sh->npeers; i++)
		if (sh->peers[i] != NULL)
			peer_put(sh->health, sh->peers[i]);
	shm_unlock(sh->health->z);
}

/* A new stats zone starts from the totals of the one before it. */
static int stats_init(struct zone_ref *zr, const struct zone_ref *prev, char *err,
		      size_t errlen)
{
	zr->root = shm_alloc(zr->z, sizeof(*zr->root));
	if (zr->root == NULL) {
		snprintf(err, errlen, "stats zone full");
		return -1;
	}
	memset(zr->root, 0, sizeof(*zr->root));
	zr->root->master.start_time = (uint64_t)time(NULL);
	if (prev != NULL && shm_lock(prev->z) != P_ERROR) {
		zr->root->retired = prev->root->retired;
		zr->root->master = prev->root->master;
		shm_unlock(prev->z);
	}
	return 0;
}

/*
 * A new stats zone takes over what the live records of the one it
 * replaces have counted so far, so that no counter seems to go back while
 * they drain; each one's exit then adds only what it counted after
 * (retire). A record that cannot be copied (out of memory) adds all of it
 * at its exit, as before.
 */
static void stats_carry(struct zone_ref *to, struct zone_ref *from)
{
	struct carried *k, *taken = NULL;
	const struct stats_proc *p;

	if (shm_lock(from->z) == P_ERROR)
		return;
	for (p = from->root->procs; p != NULL; p = p->next) {
		if ((k = malloc(sizeof(*k))) == NULL || (k->counted = stats_snapshot(p)) == NULL) {
			free(k);
			continue;
		}
		k->p = p;
		k->next = taken;
		taken = k;
	}
	shm_unlock(from->z);
	if (shm_lock(to->z) != P_ERROR) {
		for (k = taken; k != NULL; k = k->next)
			stats_fold_snapshot(to->root, k->p, k->counted, false);
		shm_unlock(to->z);
	}
	while ((k = taken) != NULL) {
		taken = k->next;
		k->next = from->carried;
		from->carried = k;
	}
}

/* The snapshot a newer zone took of p, now p's (NULL: none). */
static struct stats_snapshot *carried_take(struct zone_ref *zr, const struct stats_proc *p)
{
	struct carried **kk, *k;
	struct stats_snapshot *s;

	for (kk = &zr->carried; *kk != NULL; kk = &(*kk)->next)
		if ((*kk)->p == p) {
			k = *kk;
			*kk = k->next;
			s = k->counted;
			free(k);
			return s;
		}
	return NULL;
}

/* A new cache keeps the ticket keys of the one before it, so tickets
 * issued before a reload still resume. */
static int tls_init(struct zone_ref *zr, struct zone_ref *prev, char *err, size_t errlen)
{
	zr->cache = tls_cache_create(zr->z);
	if (zr->cache == NULL) {
		snprintf(err, errlen, "tls zone too small");
		return -1;
	}
	if (prev != NULL)
		tls_cache_copy_keys(zr->cache, prev->cache);
	return 0;
}

static int auth_init(struct zone_ref *zr, char *err, size_t errlen)
{
	zr->auth = auth_cache_create(zr->z);
	if (zr->auth == NULL) {
		snprintf(err, errlen, "auth zone too small");
		return -1;
	}
	return 0;
}

/* The operator's keys when c names key files (read with c, at start and
 * on every reload), else a new key of our own on top of the ones kept. */
static int tls_keys_init(struct tls_cache *cache, const struct conf *c, bool reload,
			 char *err, size_t errlen)
{
	if (c->ntls_ticket_keys > 0) {
		tls_cache_set_keys(cache, c->tls_ticket_keys, c->ntls_ticket_keys);
		log_msg(LL_INFO, "TLS ticket keys read from %s and %u more file%s",
			c->tls_ticket_key_files[0], c->ntls_ticket_keys - 1,
			c->ntls_ticket_keys == 2 ? "" : "s");
		return 0;
	}
	if (tls_cache_rotate_keys(cache) < 0) {
		snprintf(err, errlen, "no random bytes for a TLS ticket key");
		return -1;
	}
	if (reload)
		log_msg(LL_INFO, "TLS ticket keys rotated");
	return 0;
}

/* Every cache of c: kept from prev when unchanged. */
static int caches_get(struct shared *sh, const struct conf *c, const struct shared *prev,
		      char *err, size_t errlen)
{
	unsigned i;

	if (c->ncaches == 0)
		return 0;
	sh->caches = calloc(c->ncaches, sizeof(*sh->caches));
	sh->stores = calloc(c->ncaches, sizeof(*sh->stores));
	if (sh->caches == NULL || sh->stores == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sh->ncaches = c->ncaches;
	for (i = 0; i < c->ncaches; i++) {
		sh->caches[i] = cache_zone_get(prev ? prev->caches : NULL, prev ? prev->ncaches : 0,
					       &c->caches[i], err, errlen);
		if (sh->caches[i] == NULL)
			return -1;
		sh->stores[i] = sh->caches[i]->cs;
	}
	return 0;
}

/* Every limit of c: kept from prev when unchanged. */
static int limits_get(struct shared *sh, const struct conf *c, const struct shared *prev,
		      char *err, size_t errlen)
{
	unsigned i;

	if (c->nlimits == 0)
		return 0;
	sh->limit_refs = calloc(c->nlimits, sizeof(*sh->limit_refs));
	sh->limits = calloc(c->nlimits, sizeof(*sh->limits));
	if (sh->limit_refs == NULL || sh->limits == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sh->nlimits = c->nlimits;
	for (i = 0; i < c->nlimits; i++) {
		sh->limit_refs[i] = limit_ref_get(prev ? prev->limit_refs : NULL,
						  prev ? prev->nlimits : 0, &c->limits[i],
						  c->workers, err, errlen);
		if (sh->limit_refs[i] == NULL)
			return -1;
		sh->limits[i] = sh->limit_refs[i]->z;
	}
	return 0;
}

static void shared_free(struct shared *sh)
{
	unsigned i;

	for (i = 0; i < sh->nlimits; i++)
		limit_ref_put(sh->limit_refs[i]);
	free(sh->limit_refs);
	free(sh->limits);

	for (i = 0; i < sh->ncaches; i++)
		cache_zone_put(sh->caches[i]);
	free(sh->caches);
	free(sh->stores);
	if (sh->health != NULL)
		peers_unbind(sh);
	if (sh->layout != NULL)
		stats_layout_put(sh->stats->z, sh->stats->root, sh->layout);
	zone_put(sh->health);
	zone_put(sh->stats);
	zone_put(sh->tls);
	zone_put(sh->auth);
	free(sh->peers);
	free(sh);
}

/* The geo tables the configuration loaded into shared memory (each
 * load makes new ones: the file is read again at every reload). */
static void geos_log(const struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->ngeos; i++)
		log_msg(LL_INFO, "geo \"%s\": %zu prefixes from %s, %zu KiB of shared memory",
			c->geos[i].name, geo_table_prefixes(c->geos[i].table), c->geos[i].file,
			geo_table_bytes(c->geos[i].table) >> 10);
}

struct shared *shared_create(const struct conf *c, struct shared *prev,
			     char *err, size_t errlen)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	bool fresh;

	if (sh == NULL || (sh->peers = calloc(c->nservers + 1, sizeof(*sh->peers))) == NULL) {
		free(sh);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->npeers = c->nservers;
	sh->refs = 1;
	geos_log(c);
	sh->health = zone_get(prev ? prev->health : NULL, "health", health_size(c), &fresh,
			      err, errlen);
	if (sh->health == NULL ||
	    peers_bind(sh, c, fresh && prev ? prev->health : NULL, err, errlen) < 0)
		goto fail;
	sh->stats = zone_get(prev ? prev->stats : NULL, "stats", stats_size(c), &fresh,
			     err, errlen);
	if (sh->stats == NULL ||
	    (fresh && stats_init(sh->stats, prev ? prev->stats : NULL, err, errlen) < 0))
		goto fail;
	sh->layout = stats_layout_new(sh->stats->z, sh->stats->root, c,
				      fresh && prev ? prev->stats->root : NULL);
	if (sh->layout == NULL) {
		snprintf(err, errlen, "stats zone full");
		goto fail;
	}
	if (caches_get(sh, c, prev, err, errlen) < 0 ||
	    limits_get(sh, c, prev, err, errlen) < 0)
		goto fail;
	if (c->auth_cache_size > 0) {
		sh->auth = zone_get(prev ? prev->auth : NULL, "auth", auth_size(c), &fresh, err,
				    errlen);
		if (sh->auth == NULL || (fresh && auth_init(sh->auth, err, errlen) < 0))
			goto fail;
	}
	if (!c->tls_used)
		return sh;
	sh->tls = zone_get(prev ? prev->tls : NULL, "tls", tls_size(c), &fresh, err, errlen);
	if (sh->tls == NULL ||
	    (fresh && tls_init(sh->tls, prev ? prev->tls : NULL, err, errlen) < 0))
		goto fail;
	if (tls_keys_init(sh->tls->cache, c, prev != NULL && prev->tls != NULL, err,
			  errlen) < 0)
		goto fail;
	return sh;
fail:
	shared_free(sh);
	return NULL;
}

void shared_take_over(struct shared *sh, struct shared *prev)
{
	if (sh->stats != prev->stats)
		stats_carry(sh->stats, prev->stats);
}

void shared_put(struct shared *sh)
{
	if (sh != NULL && --sh->refs == 0)
		shared_free(sh);
}

struct shm_zone *shared_stats_zone(const struct shared *sh)
{
	return sh->stats->z;
}

struct stats_root *shared_stats_root(const struct shared *sh)
{
	return sh->stats->root;
}

struct stats_master *shared_master_stats(const struct shared *sh)
{
	return &sh->stats->root->master;
}

struct tls_cache *shared_tls_cache(const struct shared *sh)
{
	return sh->tls ? sh->tls->cache : NULL;
}

struct auth_cache *shared_auth_cache(const struct shared *sh)
{
	return sh->auth ? sh->auth->auth : NULL;
}

void shared_rotate_ticket_keys(struct shared *sh)
{
	if (sh->tls == NULL)
		return;
	if (tls_cache_rotate_keys(sh->tls->cache) < 0)
		log_msg(LL_ERROR, "rotating the TLS ticket keys failed: no random bytes");
	else
		log_msg(LL_INFO, "TLS ticket keys rotated");
}

struct stats_proc *shared_proc_new(struct shared *sh, unsigned generation)
{
	struct zone_ref *zr = sh->stats;
	struct stats_proc *p;
	size_t size = proc_bytes(sh->npeers, sh->layout->words);

	if (shm_lock(zr->z) == P_ERROR)
		return NULL;
	p = shm_alloc_locked(zr->z, size);
	if (p != NULL) {
		memset(p, 0, size);
		p->generation = generation;
		p->nservers = sh->npeers;
		p->layout = sh->layout;
		p->vals = (uint64_t *)((char *)p + size) - sh->layout->words;
		p->next = zr->root->procs;
		zr->root->procs = p;
	}
	shm_unlock(zr->z);
	if (p == NULL)
		log_msg(LL_ERROR, "stats zone full: a child counts privately");
	else
		sh->refs++;
	return p;
}

void shared_count_master(struct shared *sh, uint64_t syslog_dropped)
{
	struct zone_ref *zr = sh->stats;

	if (shm_lock(zr->z) == P_ERROR)
		return;
	zr->root->retired.syslog_dropped += syslog_dropped;
	shm_unlock(zr->z);
}

/* What the dead cannot close any more. */
static void conns_give_back(struct shared *sh, const struct stats_proc *p)
{
	unsigned i;

	for (i = 0; i < p->nservers && i < sh->npeers; i++)
		if (p->conns[i] != 0)
			__atomic_sub_fetch(&sh->peers[i]->conns, p->conns[i], __ATOMIC_RELAXED);
}

/* p's counts into the zone the status page reads now (into), which may
 * have replaced the one the process counted in (from): less what a newer
 * zone took over from it already (counted). The caller holds the lock of
 * into. */
static void retire(struct zone_ref *into, struct zone_ref *from, struct stats_proc *p,
		   const struct stats_snapshot *counted)
{
	stats_retire(into->root, p);
	stats_retire_series(into->root, p, into == from);
	if (counted != NULL)
		stats_fold_snapshot(into->root, p, counted, true);
}

/*
 * In p's own zone, its counts move to the retired totals and p leaves the
 * list of records under one lock: a reader between the two would add
 * them twice, then see every counter of p go back (a reset, to a
 * scraper).
 */
void shared_proc_exited(struct shared *sh, struct stats_proc *p, struct shared *now)
{
	struct zone_ref *zr = sh->stats, *into = now->stats;
	struct stats_snapshot *counted = carried_take(zr, p);
	struct stats_proc **pp;

	conns_give_back(sh, p);
	if (into != zr && shm_lock(into->z) != P_ERROR) {
		retire(into, zr, p, counted);
		shm_unlock(into->z);
	}
	if (shm_lock(zr->z) != P_ERROR) {
		if (into == zr)
			retire(into, zr, p, counted);
		for (pp = &zr->root->procs; *pp != NULL && *pp != p; pp = &(*pp)->next)
			;
		if (*pp == p)
			*pp = p->next;
		shm_free_locked(zr->z, p);
		shm_unlock(zr->z);
	}
	free(counted);
	shared_put(sh);
}
