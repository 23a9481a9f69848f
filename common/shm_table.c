/*
 * shm_table.c: expiring entries in shared memory, hashed, with an LRU.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "shm_table.h"

#define MIN_BUCKETS 64
/* Entries evicted to make room for one, at most. */
#define EVICT_MAX 16
#define NAME_MAX_LEN 32

struct entry {
	struct entry *hash_next;
	struct entry *lru_prev, *lru_next;	/* most recently used first */
	uint64_t expires;
	uint8_t kind;
	uint8_t idlen;
	uint8_t id[SHM_TABLE_ID_MAX];
	uint32_t len;
	uint8_t val[];
};

struct shm_table {
	struct shm_zone *zone;
	struct entry *lru_head, *lru_tail;
	unsigned count;
	unsigned nbuckets;		/* a power of two */
	char name[NAME_MAX_LEN];
	struct entry *buckets[];
};

struct shm_table *shm_table_create(struct shm_zone *z, const char *name,
				   size_t bytes_per_entry)
{
	struct shm_stats st;
	struct shm_table *t;
	unsigned nb = MIN_BUCKETS;
	size_t size;

	shm_stats(z, &st);
	while ((size_t)nb * 2 * bytes_per_entry <= st.size)
		nb *= 2;
	size = sizeof(*t) + nb * sizeof(t->buckets[0]);
	if ((t = shm_alloc(z, size)) == NULL)
		return NULL;
	memset(t, 0, size);
	t->zone = z;
	t->nbuckets = nb;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

static unsigned bucket_of(const struct shm_table *t, unsigned kind, const uint8_t *id,
			  size_t idlen)
{
	uint32_t h = 2166136261u ^ kind;
	size_t i;

	for (i = 0; i < idlen; i++)
		h = (h ^ id[i]) * 16777619u;
	return h & (t->nbuckets - 1);
}

/* After a holder of the lock died, the index may point anywhere: start
 * over with none. The entries' memory is lost until the zone is made
 * anew; the allocator itself was repaired by shm_lock(). */
static void reset_index(struct shm_table *t)
{
	log_msg(LL_ALERT, "%s: a process died holding its lock, dropping %u entries",
		t->name, t->count);
	memset(t->buckets, 0, t->nbuckets * sizeof(t->buckets[0]));
	t->lru_head = t->lru_tail = NULL;
	t->count = 0;
}

int shm_table_lock(struct shm_table *t)
{
	int r = shm_lock(t->zone);

	if (r == SHM_RECOVERED)
		reset_index(t);
	return r == P_ERROR ? -1 : 0;
}

void shm_table_unlock(struct shm_table *t)
{
	shm_unlock(t->zone);
}

static void lru_unlink(struct shm_table *t, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
}

static void lru_push(struct shm_table *t, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = e;
	else
		t->lru_tail = e;
	t->lru_head = e;
}

/* The link pointing at the entry for (kind, id), or at the NULL that
 * ends its bucket. */
static struct entry **find(struct shm_table *t, unsigned kind, const uint8_t *id,
			   size_t idlen)
{
	struct entry **pp = &t->buckets[bucket_of(t, kind, id, idlen)];

	for (; *pp != NULL; pp = &(*pp)->hash_next)
		if ((*pp)->kind == kind && (*pp)->idlen == idlen &&
		    memcmp((*pp)->id, id, idlen) == 0)
			break;
	return pp;
}

static void drop(struct shm_table *t, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hash_next;
	lru_unlink(t, e);
	t->count--;
	shm_free_locked(t->zone, e);
}

static void evict_oldest(struct shm_table *t)
{
	struct entry *e = t->lru_tail;

	drop(t, find(t, e->kind, e->id, e->idlen));
}

static struct entry *alloc_entry(struct shm_table *t, size_t len)
{
	struct entry *e;
	int i;

	for (i = 0; i < EVICT_MAX; i++) {
		e = shm_alloc_locked(t->zone, sizeof(*e) + len);
		if (e != NULL || t->lru_tail == NULL)
			return e;
		evict_oldest(t);
	}
	return NULL;
}

static bool id_fits(size_t idlen)
{
	return idlen > 0 && idlen <= SHM_TABLE_ID_MAX;
}

int shm_table_put(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen,
		  const void *val, size_t len, uint64_t expires)
{
	struct entry **pp, *e;

	if (!id_fits(idlen) || kind > UINT8_MAX || len > UINT32_MAX || shm_table_lock(t) < 0)
		return -1;
	pp = find(t, kind, id, idlen);
	if (*pp != NULL)
		drop(t, pp);
	e = alloc_entry(t, len);
	if (e != NULL) {
		e->expires = expires;
		e->kind = (uint8_t)kind;
		e->idlen = (uint8_t)idlen;
		memcpy(e->id, id, idlen);
		e->len = (uint32_t)len;
		memcpy(e->val, val, len);
		/* Eviction may have changed the bucket's chain. */
		pp = &t->buckets[bucket_of(t, kind, id, idlen)];
		e->hash_next = *pp;
		*pp = e;
		lru_push(t, e);
		t->count++;
	}
	shm_table_unlock(t);
	return e != NULL ? 0 : -1;
}

ssize_t shm_table_get(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen,
		      void *out, size_t cap, uint64_t now)
{
	struct entry **pp, *e;
	ssize_t len = -1;

	if (!id_fits(idlen) || shm_table_lock(t) < 0)
		return -1;
	pp = find(t, kind, id, idlen);
	e = *pp;
	if (e != NULL && e->expires <= now) {
		drop(t, pp);
	} else if (e != NULL && e->len <= cap) {
		len = e->len;
		memcpy(out, e->val, e->len);
		lru_unlink(t, e);
		lru_push(t, e);
	}
	shm_table_unlock(t);
	return len;
}

void shm_table_remove(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen)
{
	struct entry **pp;

	if (!id_fits(idlen) || shm_table_lock(t) < 0)
		return;
	pp = find(t, kind, id, idlen);
	if (*pp != NULL)
		drop(t, pp);
	shm_table_unlock(t);
}

unsigned shm_table_count(struct shm_table *t)
{
	unsigned n;

	if (shm_table_lock(t) < 0)
		return 0;
	n = t->count;
	shm_table_unlock(t);
	return n;
}
