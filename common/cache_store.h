/*
 * cache_store.h: the objects of one cache zone, shared by every worker.
 *
 * Owns: one shared mapping per cache, made by the master before it forks.
 * It holds a header, a hash table of buckets, a table of entries (one per
 * object), the chain links of the blocks, and the blocks. An object is a
 * key followed by its data (opaque bytes to the store), laid in a chain
 * of CS_BLOCK-byte blocks.
 *
 * Indexes, not pointers: every reference inside the zone is an index into
 * the entries or the blocks, so a zone means the same mapped at any
 * address, and a new binary may inherit it.
 *
 * Writing: every change happens under the zone's lock, a robust,
 * process-shared mutex. An object is written while WRITING (a lookup then
 * answers CS_BUSY) and becomes READY with a single store once complete; a
 * READY object never changes again. Room is made by evicting the least
 * recently used READY objects; objects nobody asked for within the
 * inactive time go too (as new ones are stored, and when looked up).
 *
 * Reading takes the lock only to find the object. The copying does not: an
 * entry's version changes before its blocks can be given to another
 * object, and a read checks the version after it copied, so a reader
 * overtaken by eviction is told CS_GONE and never hands out another
 * object's bytes. A reader holds nothing a crash could leak.
 *
 * Crash recovery: the entries are the truth. A process killed while it
 * held the lock may leave the buckets, the LRU list or the free lists half
 * changed; the next locker rebuilds all of them from the READY entries
 * (whose chains never change) and the WRITING ones of live writers, and
 * frees everything else. A writer killed outside the lock leaves a
 * WRITING entry behind: cs_reap() frees it (the master calls it for every
 * worker that died).
 *
 * Example, a worker storing an answer and another serving it:
 *
 *	struct cs_writer w;
 *	if (cs_begin(cs, key, klen, getpid(), &w) == P_OK &&
 *	    cs_append(cs, &w, head, hlen) == P_OK &&
 *	    cs_append(cs, &w, body, blen) == P_OK)
 *		cs_commit(cs, &w);
 *	else
 *		cs_abort(cs, &w);
 *
 *	struct cs_reader r;
 *	if (cs_lookup(cs, key, klen, &r) == CS_HIT)
 *		while ((n = cs_read(cs, &r, buf, sizeof(buf))) > 0)
 *			send_somewhere(buf, n);    (n == CS_GONE: evicted meanwhile)
 */
#ifndef PORTICO_CACHE_STORE_H
#define PORTICO_CACHE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

#define CS_BLOCK	1024
#define CS_KEY_MAX	8192

/* cs_lookup() */
#define CS_MISS		0
#define CS_HIT		1
#define CS_BUSY		2	/* being written; not readable yet */

/* cs_read(): the object was evicted or replaced while being read. */
#define CS_GONE		(-2)

struct cache_store;

struct cs_writer {
	uint32_t entry;
	uint64_t version;
};

struct cs_reader {
	uint32_t entry;
	uint64_t version;
	uint64_t data_len;	/* the object's data, key excluded */
	uint64_t done;		/* data bytes read so far */
	uint32_t block;		/* where the next byte is */
	uint32_t offset;
};

struct cs_stats {
	size_t size;		/* bytes mapped */
	uint32_t blocks;	/* blocks in the zone */
	uint32_t blocks_used;
	uint32_t entries;	/* entries in the zone */
	uint32_t objects;	/* READY objects */
	uint32_t writing;	/* WRITING objects */
	unsigned long stored;	/* objects committed */
	unsigned long evicted;	/* READY objects dropped for room */
	unsigned long expired;	/* ... dropped for going unasked (inactive) */
	unsigned long reaped;	/* WRITING objects of dead writers freed */
	unsigned long recoveries;	/* locks taken over from the dead */
};

/*
 * Make a zone of about size bytes (at least 64 KiB): its blocks and the
 * index that serves them, in a memfd whose descriptor goes to *fd (close
 * on exec; the caller keeps it to hand the zone on). NULL with a reason
 * in err on failure.
 */
struct cache_store *cs_create(const char *name, size_t size, int *fd, char *err, size_t errlen);
/* Map a zone handed on as fd (a new binary inheriting it); NULL with a
 * reason in err when fd is not a zone laid out as this binary lays them. */
struct cache_store *cs_attach(int fd, char *err, size_t errlen);
/* Unmap this process's view; the zone lives while a mapping or fd does. */
void cs_destroy(struct cache_store *cs);

const char *cs_name(const struct cache_store *cs);
/* Objects nobody asks for within seconds are dropped (0: kept until room
 * is needed); a zone's setting, changed by a reload. */
void cs_set_inactive(struct cache_store *cs, unsigned seconds);
/* The size asked for at creation (a reload keeps a zone of the same). */
size_t cs_requested_size(const struct cache_store *cs);

/* Start an object under key: P_OK; CS_BUSY when a live process writes
 * one under key already (one fill at a time: the others wait for it);
 * P_ERROR when the zone cannot make room. */
int cs_begin(struct cache_store *cs, const char *key, size_t klen, pid_t writer,
	     struct cs_writer *w);
/* Add data; P_ERROR when no room can be made (the caller then aborts). */
int cs_append(struct cache_store *cs, const struct cs_writer *w, const void *data, size_t len);
/* Overwrite len bytes of what was appended, from data byte off on (a
 * length known only at the end); P_ERROR past what was appended. */
int cs_write_at(struct cache_store *cs, const struct cs_writer *w, uint64_t off,
		const void *data, size_t len);
/* Make it READY, replacing an older object of the same key. */
int cs_commit(struct cache_store *cs, const struct cs_writer *w);
void cs_abort(struct cache_store *cs, const struct cs_writer *w);

/* CS_HIT (r set up to read the data, the object now the most recently
 * used), CS_BUSY or CS_MISS. */
int cs_lookup(struct cache_store *cs, const char *key, size_t klen, struct cs_reader *r);
/* Up to len bytes of data: the count (0 at the end) or CS_GONE. */
ssize_t cs_read(const struct cache_store *cs, struct cs_reader *r, void *buf, size_t len);

/* Lend up to max bytes of data where r is, in place: one run of blocks
 * that follow each other in the zone, at *p. The count (0 at the end)
 * or CS_GONE. Bytes lent are the object's only if cs_reader_valid()
 * says so after they were used: a reader must ask before it counts on
 * them (before it lets an answer made of them complete). */
ssize_t cs_view(const struct cache_store *cs, struct cs_reader *r, size_t max, const char **p);
/* Whether the object r reads has not been freed since the lookup. */
bool cs_reader_valid(const struct cache_store *cs, const struct cs_reader *r);

/* Drop the READY object of key: 1 if there was one, else 0. */
int cs_remove(struct cache_store *cs, const char *key, size_t klen);
/* Drop every READY object whose key starts with prefix: how many. */
unsigned cs_remove_prefix(struct cache_store *cs, const char *prefix, size_t plen);
/* Free what a dead writer left WRITING: the number of objects freed. */
unsigned cs_reap(struct cache_store *cs, pid_t writer);

void cs_stats(struct cache_store *cs, struct cs_stats *out);
/* Verify every list and count against the entries: P_OK, or P_ERROR
 * with the first inconsistency in err. Takes the lock. */
int cs_check(struct cache_store *cs, char *err, size_t errlen);

#endif
