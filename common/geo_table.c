/*
 * geo_table.c: a prefix tree copied into a read-only shared mapping.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "geo_table.h"
#include "prefix_tree.h"

/* At the start of the mapping; the tree follows it. */
struct geo_table {
	const struct prefix_tree *tree;
	size_t bytes;			/* of the whole mapping */
	size_t prefixes;
	uint64_t pad;			/* the tree starts 16-byte aligned */
};

struct geo_table *geo_table_create(const struct prefix_tree *t)
{
	size_t bytes = sizeof(struct geo_table) + prefix_tree_placed_size(t);
	struct geo_table *g;
	void *mem;

	/* Populated at once: a page fault per page of a large table costs
	 * more than the copy into it. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	g = mem;
	g->bytes = bytes;
	g->prefixes = prefix_tree_count(t);
	g->tree = prefix_tree_place(t, g + 1);
	/* Nobody writes it from here on: a worker that tried would crash
	 * rather than change every other worker's answers. */
	if (mprotect(mem, bytes, PROT_READ) < 0) {
		int e = errno;

		munmap(mem, bytes);
		errno = e;
		return NULL;
	}
	return g;
}

uint32_t geo_table_lookup(const struct geo_table *g, const uint8_t addr[16])
{
	uint32_t region;

	return prefix_tree_lookup(g->tree, addr, &region) ? region : 0;
}

size_t geo_table_prefixes(const struct geo_table *g)
{
	return g->prefixes;
}

size_t geo_table_bytes(const struct geo_table *g)
{
	return g->bytes;
}

void geo_table_free(struct geo_table *g)
{
	if (g != NULL)
		munmap(g, g->bytes);
}
