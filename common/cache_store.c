/*
 * cache_store.c: a cache zone's objects in shared memory (cache_store.h
 * says how it holds together).
 *
 * Entry 0 and block 0 are never handed out, so that 0 ends every list
 * and an untouched (zero) page needs no setting up: a zone of many GiB
 * costs only what it stores.
 */
#include "config.h"

#include "cache_store.h"
#include "shm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "portico2": change it with anything in the zone's layout, so that a
 * binary never takes over a zone another one laid out differently */
#define CS_MAGIC	0x706f727469636f32ULL
#define CS_MIN_SIZE	(64 * 1024)
#define CS_PAGE		4096

enum { E_FREE, E_WRITING, E_READY };

struct cs_entry {
	uint64_t hash;
	uint64_t version;	/* changes before the blocks go to anyone else */
	uint64_t len;		/* bytes stored: the key, then the data */
	uint32_t key_len;
	uint32_t first, last, nblocks;
	uint32_t link;		/* next in the bucket, or in the free list */
	uint32_t lru_prev, lru_next;	/* READY only; head: most recent */
	union {
		int32_t writer;	/* WRITING: the writing process */
		uint32_t used;	/* READY: when last asked for (zone_clock) */
	};
	uint32_t state;
};

struct cache_store {
	uint64_t magic;
	size_t requested;	/* the size asked for, which the layout derives from */
	size_t size;		/* bytes mapped */
	char name[32];
	pthread_mutex_t lock;
	uint64_t seed;
	uint32_t nbuckets, nentries, nblocks;
	uint32_t entries_hwm, blocks_hwm;	/* none at or above was ever used */
	uint32_t free_entries, free_blocks;	/* list heads */
	uint32_t blocks_free;			/* on the free list */
	uint32_t lru_head, lru_tail;
	uint32_t objects, writing;
	uint32_t inactive;		/* s an object may go unasked; 0: forever */
	unsigned long stored, evicted, expired, reaped, recoveries;
	size_t off_buckets, off_entries, off_next, off_blocks;
};

static uint32_t *buckets(const struct cache_store *cs)
{
	return (uint32_t *)((char *)cs + cs->off_buckets);
}

static struct cs_entry *entry(const struct cache_store *cs, uint32_t i)
{
	return (struct cs_entry *)((char *)cs + cs->off_entries) + i;
}

static uint32_t *next_block(const struct cache_store *cs)
{
	return (uint32_t *)((char *)cs + cs->off_next);
}

static char *block(const struct cache_store *cs, uint32_t b)
{
	return (char *)cs + cs->off_blocks + (size_t)b * CS_BLOCK;
}

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Seeded per zone, so that nobody can choose keys that share a bucket. */
static uint64_t key_hash(const struct cache_store *cs, const char *k, size_t n)
{
	uint64_t h = cs->seed ^ (n * 0x9e3779b97f4a7c15ULL), w;

	for (; n >= 8; k += 8, n -= 8) {
		memcpy(&w, k, 8);
		h = mix(h ^ w);
	}
	w = 0;
	memcpy(&w, k, n);
	return mix(h ^ w);
}

/* ---- the zone ---- */

static void layout(struct cache_store *cs, size_t size)
{
	size_t header = align_up(sizeof(*cs), 64);
	/* each block, its link, and its share of an entry and of buckets
	 * (one entry for two blocks: an object takes two blocks or more) */
	size_t per_block = CS_BLOCK + sizeof(uint32_t) + sizeof(struct cs_entry) / 2 +
			   sizeof(uint32_t);
	size_t nblocks = (size - header - 2 * CS_PAGE) / per_block;

	if (nblocks > UINT32_MAX - 1)
		nblocks = UINT32_MAX - 1;
	cs->nblocks = (uint32_t)nblocks;
	cs->nentries = (uint32_t)(nblocks / 2 + 1);
	for (cs->nbuckets = 1; cs->nbuckets < cs->nentries; cs->nbuckets <<= 1)
		;
	cs->off_buckets = header;
	cs->off_entries = align_up(cs->off_buckets + (size_t)cs->nbuckets * 4, 64);
	cs->off_next = align_up(cs->off_entries + (size_t)cs->nentries * sizeof(struct cs_entry), 64);
	cs->off_blocks = align_up(cs->off_next + (size_t)cs->nblocks * 4, CS_PAGE);
	cs->size = cs->off_blocks + (size_t)cs->nblocks * CS_BLOCK;
}

static int init_lock(struct cache_store *cs, char *err, size_t errlen)
{
	int r = shm_mutex_init(&cs->lock);

	if (r != 0)
		snprintf(err, errlen, "cache \"%s\": cannot make its lock: %s", cs->name, strerror(r));
	return r == 0 ? P_OK : P_ERROR;
}

/* The zone's memory: a memfd, so that a new binary can map it again. */
static struct cache_store *map_new(const char *name, size_t size, int *fd, char *err,
				   size_t errlen)
{
	void *p;

	if ((*fd = memfd_create(name, MFD_CLOEXEC)) < 0 || ftruncate(*fd, (off_t)size) != 0) {
		snprintf(err, errlen, "cache \"%s\": cannot make %zu bytes of shared memory: %s",
			 name, size, strerror(errno));
		if (*fd >= 0)
			close(*fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, *fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cache \"%s\": mmap(%zu): %s", name, size, strerror(errno));
		close(*fd);
		return NULL;
	}
	return p;
}

struct cache_store *cs_create(const char *name, size_t size, int *fd, char *err, size_t errlen)
{
	struct cache_store plan = { 0 }, *cs;

	snprintf(plan.name, sizeof(plan.name), "%s", name);
	plan.requested = size < CS_MIN_SIZE ? CS_MIN_SIZE : size;
	layout(&plan, plan.requested);
	if ((cs = map_new(name, plan.size, fd, err, errlen)) == NULL)
		return NULL;
	*cs = plan;
	cs->magic = CS_MAGIC;
	cs->entries_hwm = cs->blocks_hwm = 1;
	if (getrandom(&cs->seed, sizeof(cs->seed), 0) != sizeof(cs->seed))
		cs->seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	if (init_lock(cs, err, errlen) != P_OK) {
		munmap(cs, plan.size);
		close(*fd);
		return NULL;
	}
	return cs;
}

/* Whether cs is laid out exactly as this binary would lay out a zone of
 * the size it was asked for, in a mapping of size bytes. */
static bool layout_matches(const struct cache_store *cs, size_t size)
{
	struct cache_store plan = { 0 };

	if (cs->magic != CS_MAGIC || cs->size != size || cs->requested < CS_MIN_SIZE)
		return false;
	layout(&plan, cs->requested);
	return plan.size == size && plan.nblocks == cs->nblocks &&
	       plan.nentries == cs->nentries && plan.nbuckets == cs->nbuckets &&
	       plan.off_buckets == cs->off_buckets && plan.off_entries == cs->off_entries &&
	       plan.off_next == cs->off_next && plan.off_blocks == cs->off_blocks;
}

struct cache_store *cs_attach(int fd, char *err, size_t errlen)
{
	struct cache_store *cs;
	struct stat st;

	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(*cs)) {
		snprintf(err, errlen, "inherited cache zone (fd %d): not a cache zone", fd);
		return NULL;
	}
	cs = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		  fd, 0);
	if (cs == MAP_FAILED) {
		snprintf(err, errlen, "inherited cache zone (fd %d): mmap: %s", fd, strerror(errno));
		return NULL;
	}
	if (!layout_matches(cs, (size_t)st.st_size)) {
		snprintf(err, errlen, "inherited cache zone (fd %d): not a cache zone of this version",
			 fd);
		munmap(cs, (size_t)st.st_size);
		return NULL;
	}
	return cs;
}

void cs_set_inactive(struct cache_store *cs, unsigned seconds)
{
	__atomic_store_n(&cs->inactive, seconds, __ATOMIC_RELAXED);
}

const char *cs_name(const struct cache_store *cs)
{
	return cs->name;
}

size_t cs_requested_size(const struct cache_store *cs)
{
	return cs->requested;
}

void cs_destroy(struct cache_store *cs)
{
	if (cs != NULL)
		munmap(cs, cs->size);
}

/* ---- lists ---- */

static void lru_unlink(struct cache_store *cs, uint32_t i)
{
	struct cs_entry *e = entry(cs, i);

	if (e->lru_prev)
		entry(cs, e->lru_prev)->lru_next = e->lru_next;
	else
		cs->lru_head = e->lru_next;
	if (e->lru_next)
		entry(cs, e->lru_next)->lru_prev = e->lru_prev;
	else
		cs->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = 0;
}

static void lru_push(struct cache_store *cs, uint32_t i)
{
	struct cs_entry *e = entry(cs, i);

	e->lru_prev = 0;
	e->lru_next = cs->lru_head;
	if (cs->lru_head)
		entry(cs, cs->lru_head)->lru_prev = i;
	else
		cs->lru_tail = i;
	cs->lru_head = i;
}

static void bucket_add(struct cache_store *cs, uint32_t i)
{
	uint32_t *head = &buckets(cs)[entry(cs, i)->hash & (cs->nbuckets - 1)];

	entry(cs, i)->link = *head;
	*head = i;
}

static void bucket_remove(struct cache_store *cs, uint32_t i)
{
	uint32_t *p = &buckets(cs)[entry(cs, i)->hash & (cs->nbuckets - 1)];

	while (*p && *p != i)
		p = &entry(cs, *p)->link;
	if (*p)
		*p = entry(cs, i)->link;
}

static void block_put(struct cache_store *cs, uint32_t b)
{
	next_block(cs)[b] = cs->free_blocks;
	cs->free_blocks = b;
	cs->blocks_free++;
}

/* Put e's chain on the free list as it is, so that the next object takes
 * its blocks in the same order: in runs that follow each other in
 * memory, which a hit lends in one piece each (cs_view). */
static void chain_put(struct cache_store *cs, const struct cs_entry *e)
{
	if (e->nblocks == 0)
		return;
	next_block(cs)[e->last] = cs->free_blocks;
	cs->free_blocks = e->first;
	cs->blocks_free += e->nblocks;
}

static void entry_put(struct cache_store *cs, uint32_t i)
{
	entry(cs, i)->link = cs->free_entries;
	cs->free_entries = i;
}

/*
 * Free an object. It leaves its state first, in one store, and its
 * version changes before its blocks can be written by anyone else: a
 * crash after that point leaves blocks no entry claims (recovery frees
 * them), and a reader still copying them sees the new version.
 */
static void entry_free(struct cache_store *cs, uint32_t i)
{
	struct cs_entry *e = entry(cs, i);
	uint32_t state = e->state;

	__atomic_store_n(&e->version, e->version + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->state, E_FREE, __ATOMIC_RELEASE);
	bucket_remove(cs, i);
	if (state == E_READY) {
		lru_unlink(cs, i);
		cs->objects--;
	} else if (state == E_WRITING) {
		cs->writing--;
	}
	chain_put(cs, e);
	e->first = e->last = e->nblocks = 0;
	e->len = 0;
	entry_put(cs, i);
}

/* Seconds on a clock every process of the machine shares and that no
 * one sets: when an object was last asked for. */
static uint32_t zone_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

static bool inactive(const struct cache_store *cs, const struct cs_entry *e, uint32_t now)
{
	return cs->inactive != 0 && now - e->used > cs->inactive;
}

/* Objects nobody asked for within the inactive time go, from the least
 * recently used on, a few at a time (every new object pays for some). */
static void expire_some(struct cache_store *cs, uint32_t now)
{
	unsigned n;

	for (n = 0; n < 8 && cs->lru_tail != 0 && inactive(cs, entry(cs, cs->lru_tail), now); n++) {
		entry_free(cs, cs->lru_tail);
		cs->expired++;
	}
}

/* Room for one more: the least recently used object goes. */
static bool evict_one(struct cache_store *cs)
{
	if (cs->lru_tail == 0)
		return false;
	entry_free(cs, cs->lru_tail);
	cs->evicted++;
	return true;
}

static uint32_t entry_take(struct cache_store *cs)
{
	uint32_t i;

	for (;;) {
		if ((i = cs->free_entries) != 0) {
			cs->free_entries = entry(cs, i)->link;
			return i;
		}
		if (cs->entries_hwm < cs->nentries)
			return cs->entries_hwm++;
		if (!evict_one(cs))
			return 0;
	}
}

static uint32_t block_take(struct cache_store *cs)
{
	uint32_t b;

	for (;;) {
		if ((b = cs->free_blocks) != 0) {
			cs->free_blocks = next_block(cs)[b];
			cs->blocks_free--;
			return b;
		}
		if (cs->blocks_hwm < cs->nblocks)
			return cs->blocks_hwm++;
		if (!evict_one(cs))
			return 0;
	}
}

/* ---- the lock, and recovery from a dead holder ---- */

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static bool marked(const uint8_t *mark, uint32_t b)
{
	return mark[b / 8] & (1u << (b % 8));
}

static void set_mark(uint8_t *mark, uint32_t b, bool on)
{
	if (on)
		mark[b / 8] |= (uint8_t)(1u << (b % 8));
	else
		mark[b / 8] &= (uint8_t)~(1u << (b % 8));
}

/*
 * Whether e's chain is whole: as many blocks as its length needs, each
 * in range and claimed by no other entry, ending at e->last. On success
 * its blocks are marked.
 */
static bool claim_chain(const struct cache_store *cs, const struct cs_entry *e, uint8_t *mark)
{
	uint32_t b = e->first, n, prev = 0, undo;

	if (e->nblocks != (e->len + CS_BLOCK - 1) / CS_BLOCK || e->len < e->key_len)
		return false;
	for (n = 0; n < e->nblocks; n++) {
		if (b == 0 || b >= cs->blocks_hwm || marked(mark, b))
			break;
		set_mark(mark, b, true);
		prev = b;
		b = next_block(cs)[b];
	}
	if (n == e->nblocks && prev == e->last)
		return true;
	for (undo = e->first; n > 0; n--, undo = next_block(cs)[undo])
		set_mark(mark, undo, false);
	return false;
}

/* Every list and count again from the entries (the lock is held, its
 * previous holder died somewhere in the middle of a change). */
static void rebuild(struct cache_store *cs)
{
	uint8_t *mark = calloc((size_t)cs->nblocks / 8 + 1, 1);
	uint32_t i, b;

	memset(buckets(cs), 0, (size_t)cs->nbuckets * 4);
	cs->lru_head = cs->lru_tail = cs->free_entries = cs->free_blocks = 0;
	cs->objects = cs->writing = cs->blocks_free = 0;
	for (i = cs->entries_hwm - 1; i > 0; i--) {
		struct cs_entry *e = entry(cs, i);
		bool keep = mark != NULL &&
			    (e->state == E_READY || (e->state == E_WRITING && alive(e->writer)));

		if (keep && claim_chain(cs, e, mark)) {
			bucket_add(cs, i);
			if (e->state == E_READY) {
				lru_push(cs, i);
				cs->objects++;
			} else {
				cs->writing++;
			}
			continue;
		}
		if (e->state != E_FREE) {
			__atomic_store_n(&e->version, e->version + 1, __ATOMIC_RELEASE);
			e->state = E_FREE;
		}
		e->first = e->last = e->nblocks = 0;
		e->len = 0;
		entry_put(cs, i);
	}
	for (b = cs->blocks_hwm - 1; b > 0; b--)
		if (mark == NULL || !marked(mark, b))
			block_put(cs, b);
	free(mark);
}

static void repair(void *arg)
{
	struct cache_store *cs = arg;

	rebuild(cs);
	cs->recoveries++;
}

static int cs_lock(struct cache_store *cs)
{
	return shm_mutex_lock(&cs->lock, repair, cs) == P_ERROR ? P_ERROR : P_OK;
}

static void cs_unlock(struct cache_store *cs)
{
	pthread_mutex_unlock(&cs->lock);
}

/* ---- writing ---- */

/* Append under the lock: fill the last block, then chain new ones. */
static int append_locked(struct cache_store *cs, struct cs_entry *e, const char *p, size_t len)
{
	while (len > 0) {
		size_t used = e->len % CS_BLOCK, n;

		if (used == 0) {
			uint32_t b = block_take(cs);

			if (b == 0)
				return P_ERROR;
			next_block(cs)[b] = 0;
			if (e->nblocks == 0)
				e->first = b;
			else
				next_block(cs)[e->last] = b;
			e->last = b;
			e->nblocks++;
		}
		n = MIN(len, (size_t)CS_BLOCK - used);
		memcpy(block(cs, e->last) + used, p, n);
		e->len += n;
		p += n;
		len -= n;
	}
	return P_OK;
}

/* Whether the entry we were given is still the one we began. */
static struct cs_entry *writer_entry(struct cache_store *cs, const struct cs_writer *w)
{
	struct cs_entry *e;

	if (w->entry == 0 || w->entry >= cs->entries_hwm)
		return NULL;
	e = entry(cs, w->entry);
	return e->state == E_WRITING && e->version == w->version ? e : NULL;
}

/* Whether entry e holds key: the hash, the length, then the bytes. */
static bool key_equals(const struct cache_store *cs, const struct cs_entry *e, uint64_t hash,
		       const char *key, size_t klen)
{
	uint32_t b = e->first;
	size_t n;

	if (e->hash != hash || e->key_len != klen || e->len < klen)
		return false;
	for (; klen > 0; b = next_block(cs)[b]) {
		n = MIN(klen, (size_t)CS_BLOCK);
		if (memcmp(block(cs, b), key, n) != 0)
			return false;
		key += n;
		klen -= n;
	}
	return true;
}

/* The WRITING entry of key, or 0; one its writer left by dying is freed
 * on the way (the master would reap it later). */
static uint32_t writer_of(struct cache_store *cs, uint64_t hash, const char *key, size_t klen)
{
	uint32_t i, next;

	for (i = buckets(cs)[hash & (cs->nbuckets - 1)]; i != 0; i = next) {
		const struct cs_entry *e = entry(cs, i);

		next = e->link;
		if (e->state != E_WRITING || !key_equals(cs, e, hash, key, klen))
			continue;
		if (alive(e->writer))
			return i;
		entry_free(cs, i);
		cs->reaped++;
	}
	return 0;
}

int cs_begin(struct cache_store *cs, const char *key, size_t klen, pid_t writer,
	     struct cs_writer *w)
{
	uint64_t hash = key_hash(cs, key, klen);
	struct cs_entry *e;
	uint32_t i;

	w->entry = 0;
	if (klen == 0 || klen > CS_KEY_MAX || cs_lock(cs) != P_OK)
		return P_ERROR;
	if (writer_of(cs, hash, key, klen) != 0) {
		cs_unlock(cs);
		return CS_BUSY;
	}
	expire_some(cs, zone_clock());
	if ((i = entry_take(cs)) == 0) {
		cs_unlock(cs);
		return P_ERROR;
	}
	e = entry(cs, i);
	e->hash = hash;
	e->key_len = (uint32_t)klen;
	e->len = 0;
	e->first = e->last = e->nblocks = 0;
	e->lru_prev = e->lru_next = 0;
	e->writer = (int32_t)writer;
	__atomic_store_n(&e->state, E_WRITING, __ATOMIC_RELEASE);
	bucket_add(cs, i);
	cs->writing++;
	w->entry = i;
	w->version = e->version;
	if (append_locked(cs, e, key, klen) != P_OK) {
		entry_free(cs, i);
		w->entry = 0;
		cs_unlock(cs);
		return P_ERROR;
	}
	cs_unlock(cs);
	return P_OK;
}

int cs_write_at(struct cache_store *cs, const struct cs_writer *w, uint64_t off,
		const void *data, size_t len)
{
	const char *p = data;
	struct cs_entry *e;
	uint64_t at;
	uint32_t b;
	size_t n;
	int rc = P_ERROR;

	if (cs_lock(cs) != P_OK)
		return P_ERROR;
	e = writer_entry(cs, w);
	if (e == NULL || off + len < off || e->key_len + off + len > e->len)
		goto out;
	at = e->key_len + off;
	for (b = e->first; at >= CS_BLOCK; at -= CS_BLOCK)
		b = next_block(cs)[b];
	for (; len > 0; b = next_block(cs)[b], at = 0) {
		n = MIN(len, (size_t)(CS_BLOCK - at));
		memcpy(block(cs, b) + at, p, n);
		p += n;
		len -= n;
	}
	rc = P_OK;
out:
	cs_unlock(cs);
	return rc;
}

int cs_append(struct cache_store *cs, const struct cs_writer *w, const void *data, size_t len)
{
	struct cs_entry *e;
	int rc = P_ERROR;

	if (cs_lock(cs) != P_OK)
		return P_ERROR;
	if ((e = writer_entry(cs, w)) != NULL)
		rc = append_locked(cs, e, data, len);
	cs_unlock(cs);
	return rc;
}

/* The READY object of key, or 0. */
static uint32_t find_ready(const struct cache_store *cs, uint64_t hash, const char *key,
			   size_t klen, bool *busy)
{
	uint32_t i;

	for (i = buckets(cs)[hash & (cs->nbuckets - 1)]; i != 0; i = entry(cs, i)->link) {
		const struct cs_entry *e = entry(cs, i);

		if (!key_equals(cs, e, hash, key, klen))
			continue;
		if (e->state == E_READY)
			return i;
		if (busy != NULL)
			*busy = true;
	}
	return 0;
}

/* Whether entries a and b hold the same key, compared block by block. */
static bool same_key(const struct cache_store *cs, const struct cs_entry *a,
		     const struct cs_entry *b)
{
	uint32_t x = a->first, y = b->first;
	size_t left = a->key_len, n;

	if (a->hash != b->hash || a->key_len != b->key_len || b->len < b->key_len)
		return false;
	for (; left > 0; x = next_block(cs)[x], y = next_block(cs)[y]) {
		n = MIN(left, (size_t)CS_BLOCK);
		if (memcmp(block(cs, x), block(cs, y), n) != 0)
			return false;
		left -= n;
	}
	return true;
}

/* The READY object that entry i, once committed, replaces; or 0. */
static uint32_t replaced_by(const struct cache_store *cs, uint32_t i)
{
	const struct cs_entry *e = entry(cs, i);
	uint32_t j;

	for (j = buckets(cs)[e->hash & (cs->nbuckets - 1)]; j != 0; j = entry(cs, j)->link)
		if (j != i && entry(cs, j)->state == E_READY && same_key(cs, entry(cs, j), e))
			return j;
	return 0;
}

int cs_commit(struct cache_store *cs, const struct cs_writer *w)
{
	struct cs_entry *e;
	uint32_t old;

	if (cs_lock(cs) != P_OK)
		return P_ERROR;
	if ((e = writer_entry(cs, w)) == NULL) {
		cs_unlock(cs);
		return P_ERROR;
	}
	if ((old = replaced_by(cs, w->entry)) != 0)
		entry_free(cs, old);
	__atomic_store_n(&e->state, E_READY, __ATOMIC_RELEASE);
	e->used = zone_clock();
	lru_push(cs, w->entry);
	cs->writing--;
	cs->objects++;
	cs->stored++;
	cs_unlock(cs);
	return P_OK;
}

void cs_abort(struct cache_store *cs, const struct cs_writer *w)
{
	if (cs_lock(cs) != P_OK)
		return;
	if (writer_entry(cs, w) != NULL)
		entry_free(cs, w->entry);
	cs_unlock(cs);
}

/* ---- reading ---- */

int cs_lookup(struct cache_store *cs, const char *key, size_t klen, struct cs_reader *r)
{
	uint64_t hash = key_hash(cs, key, klen);
	bool busy = false;
	struct cs_entry *e;
	uint32_t i, b, now;
	size_t skip;

	if (klen == 0 || klen > CS_KEY_MAX || cs_lock(cs) != P_OK)
		return CS_MISS;
	if ((i = find_ready(cs, hash, key, klen, &busy)) == 0) {
		cs_unlock(cs);
		return busy ? CS_BUSY : CS_MISS;
	}
	e = entry(cs, i);
	now = zone_clock();
	if (inactive(cs, e, now)) {
		entry_free(cs, i);
		cs->expired++;
		cs_unlock(cs);
		return CS_MISS;
	}
	e->used = now;
	lru_unlink(cs, i);
	lru_push(cs, i);
	for (b = e->first, skip = klen; skip >= CS_BLOCK; skip -= CS_BLOCK)
		b = next_block(cs)[b];
	*r = (struct cs_reader){ .entry = i, .version = e->version, .data_len = e->len - klen,
				 .block = b, .offset = (uint32_t)skip };
	cs_unlock(cs);
	return CS_HIT;
}

ssize_t cs_read(const struct cache_store *cs, struct cs_reader *r, void *buf, size_t len)
{
	char *out = buf;
	size_t n = 0, want;

	while (n < len && r->done < r->data_len) {
		if (r->block == 0 || r->block >= cs->nblocks)
			return CS_GONE;	/* a link read while being rewritten */
		want = MIN(len - n, (size_t)CS_BLOCK - r->offset);
		want = MIN(want, r->data_len - r->done);
		memcpy(out + n, block(cs, r->block) + r->offset, want);
		n += want;
		r->done += want;
		r->offset += (uint32_t)want;
		if (r->offset == CS_BLOCK) {
			r->block = __atomic_load_n(&next_block(cs)[r->block], __ATOMIC_RELAXED);
			r->offset = 0;
		}
	}
	/* what was copied counts only if the object was not freed meanwhile */
	return cs_reader_valid(cs, r) ? (ssize_t)n : CS_GONE;
}

bool cs_reader_valid(const struct cache_store *cs, const struct cs_reader *r)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&entry(cs, r->entry)->version, __ATOMIC_RELAXED) == r->version;
}

ssize_t cs_view(const struct cache_store *cs, struct cs_reader *r, size_t max, const char **p)
{
	size_t n = 0, want = (size_t)MIN((uint64_t)max, r->data_len - r->done), take;
	uint32_t next;

	if (want == 0)
		return 0;
	if (r->block == 0 || r->block >= cs->nblocks)
		return CS_GONE;
	*p = block(cs, r->block) + r->offset;
	for (;;) {
		take = MIN(want - n, (size_t)CS_BLOCK - r->offset);
		n += take;
		r->done += take;
		r->offset += (uint32_t)take;
		if (r->offset < CS_BLOCK)
			break;
		next = __atomic_load_n(&next_block(cs)[r->block], __ATOMIC_RELAXED);
		r->offset = 0;
		/* on while the next block is the next one in memory */
		if (n == want || next != r->block + 1) {
			r->block = next;
			break;
		}
		r->block = next;
	}
	return (ssize_t)n;
}

/* ---- removal, reaping, stats ---- */

/* Whether entry e's key starts with prefix[plen]. */
static bool key_has_prefix(const struct cache_store *cs, const struct cs_entry *e,
			   const char *prefix, size_t plen)
{
	uint32_t b = e->first;
	size_t n;

	if (e->key_len < plen || e->len < plen)
		return false;
	for (; plen > 0; b = next_block(cs)[b]) {
		n = MIN(plen, (size_t)CS_BLOCK);
		if (memcmp(block(cs, b), prefix, n) != 0)
			return false;
		prefix += n;
		plen -= n;
	}
	return true;
}

unsigned cs_remove_prefix(struct cache_store *cs, const char *prefix, size_t plen)
{
	unsigned removed = 0;
	uint32_t i;

	if (cs_lock(cs) != P_OK)
		return 0;
	for (i = 1; i < cs->entries_hwm; i++) {
		const struct cs_entry *e = entry(cs, i);

		if (e->state == E_READY && key_has_prefix(cs, e, prefix, plen)) {
			entry_free(cs, i);
			removed++;
		}
	}
	cs_unlock(cs);
	return removed;
}

int cs_remove(struct cache_store *cs, const char *key, size_t klen)
{
	uint32_t i;

	if (klen == 0 || klen > CS_KEY_MAX || cs_lock(cs) != P_OK)
		return 0;
	if ((i = find_ready(cs, key_hash(cs, key, klen), key, klen, NULL)) != 0)
		entry_free(cs, i);
	cs_unlock(cs);
	return i != 0;
}

unsigned cs_reap(struct cache_store *cs, pid_t writer)
{
	unsigned n = 0;
	uint32_t i;

	if (cs_lock(cs) != P_OK)
		return 0;
	for (i = 1; i < cs->entries_hwm; i++) {
		struct cs_entry *e = entry(cs, i);

		if (e->state == E_WRITING && e->writer == (int32_t)writer) {
			entry_free(cs, i);
			n++;
		}
	}
	cs->reaped += n;
	cs_unlock(cs);
	return n;
}

void cs_stats(struct cache_store *cs, struct cs_stats *out)
{
	bool locked = cs_lock(cs) == P_OK;

	*out = (struct cs_stats){
		.size = cs->size, .blocks = cs->nblocks - 1,
		.blocks_used = cs->blocks_hwm - 1 - cs->blocks_free,
		.entries = cs->nentries - 1, .objects = cs->objects, .writing = cs->writing,
		.stored = cs->stored, .evicted = cs->evicted, .expired = cs->expired,
		.reaped = cs->reaped,
		.recoveries = cs->recoveries,
	};
	if (locked)
		cs_unlock(cs);
}

/* ---- self-check ---- */

#define CHECK(cond, ...) do { if (!(cond)) { snprintf(err, errlen, __VA_ARGS__); return P_ERROR; } } while (0)

static int check_entries(const struct cache_store *cs, uint8_t *seen, char *err, size_t errlen)
{
	uint32_t i, n, count[3] = { 0 };

	for (i = 1; i < cs->entries_hwm; i++) {
		CHECK(entry(cs, i)->state <= E_READY, "entry %u: state %u", i, entry(cs, i)->state);
		count[entry(cs, i)->state]++;
	}
	CHECK(count[E_READY] == cs->objects, "%u READY entries, %u counted", count[E_READY], cs->objects);
	CHECK(count[E_WRITING] == cs->writing, "%u WRITING entries, %u counted", count[E_WRITING],
	      cs->writing);
	for (n = 0, i = cs->free_entries; i != 0; i = entry(cs, i)->link, n++) {
		CHECK(i < cs->entries_hwm && entry(cs, i)->state == E_FREE && !seen[i],
		      "free entry list: entry %u", i);
		seen[i] = 1;
	}
	CHECK(n == count[E_FREE], "%u FREE entries, %u on the free list", count[E_FREE], n);
	for (n = 0, i = 0; i < cs->nbuckets; i++) {
		uint32_t j;

		for (j = buckets(cs)[i]; j != 0; j = entry(cs, j)->link, n++) {
			CHECK(j < cs->entries_hwm && !seen[j] && entry(cs, j)->state != E_FREE &&
			      (entry(cs, j)->hash & (cs->nbuckets - 1)) == i, "bucket %u: entry %u", i, j);
			seen[j] = 1;
		}
	}
	CHECK(n == cs->objects + cs->writing, "%u entries in buckets, %u live", n,
	      cs->objects + cs->writing);
	return P_OK;
}

static int check_lru(const struct cache_store *cs, char *err, size_t errlen)
{
	uint32_t i, prev = 0, n = 0;

	for (i = cs->lru_head; i != 0 && n <= cs->objects; prev = i, i = entry(cs, i)->lru_next, n++)
		CHECK(entry(cs, i)->state == E_READY && entry(cs, i)->lru_prev == prev,
		      "LRU list: entry %u", i);
	CHECK(n == cs->objects && cs->lru_tail == prev, "LRU list: %u entries, %u READY", n,
	      cs->objects);
	return P_OK;
}

static int check_blocks(const struct cache_store *cs, uint8_t *mark, char *err, size_t errlen)
{
	uint32_t i, b, n, used = 0;

	for (i = 1; i < cs->entries_hwm; i++) {
		const struct cs_entry *e = entry(cs, i);

		if (e->state == E_FREE)
			continue;
		CHECK(claim_chain(cs, e, mark), "entry %u: broken chain of %u blocks", i, e->nblocks);
		used += e->nblocks;
	}
	for (n = 0, b = cs->free_blocks; b != 0; b = next_block(cs)[b], n++) {
		CHECK(b < cs->blocks_hwm && !marked(mark, b), "free block list: block %u", b);
		set_mark(mark, b, true);
	}
	CHECK(n == cs->blocks_free, "%u blocks on the free list, %u counted", n, cs->blocks_free);
	CHECK(used + n == cs->blocks_hwm - 1, "%u blocks used and %u free of %u", used, n,
	      cs->blocks_hwm - 1);
	return P_OK;
}

int cs_check(struct cache_store *cs, char *err, size_t errlen)
{
	uint8_t *seen = calloc(cs->nentries, 1), *mark = calloc((size_t)cs->nblocks / 8 + 1, 1);
	int rc = P_ERROR;

	if (seen == NULL || mark == NULL)
		snprintf(err, errlen, "out of memory");
	else if (cs_lock(cs) != P_OK)
		snprintf(err, errlen, "cannot take the lock");
	else {
		if ((rc = check_entries(cs, seen, err, errlen)) == P_OK &&
		    (rc = check_lru(cs, err, errlen)) == P_OK)
			rc = check_blocks(cs, mark, err, errlen);
		cs_unlock(cs);
	}
	free(seen);
	free(mark);
	return rc;
}
