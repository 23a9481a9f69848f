/*
 * route_lookup.c: what finding the route of a path costs with N prefix
 * routes, through the trie routes use (common/route_trie.c), beside the
 * scan of every route that portico did before it.
 *
 *	make bench/route_lookup && ./bench/route_lookup [N...]
 *
 * (default: 10, 1000 and 100000). The routes are "/" and N - 1 prefixes
 * of one to three segments of random lower-case words ("/shop/cart/"),
 * as a site with many applications has them. The paths looked up are
 * random too: half of them below a listed prefix (with a segment or two
 * more), half anywhere, in an order that defeats the caches. A lookup is
 * what the router does for a route without conditions: the trie walk and
 * the first id of the longest prefix. Times are CPU times of the process,
 * so that a busy machine disturbs them less.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_trie.h"
#include "lookup_bench.h"

#define LOOKUPS 2000000u
#define PATH_MAX_LEN 64
/* Scans stop after about this many route comparisons in all. */
#define SCAN_WORK 400000000ull

/* "/word" segments, n of them, after out[0..at); the new length. */
static size_t add_segments(char *out, size_t at, unsigned n)
{
	unsigned i, j, len;

	for (i = 0; i < n && at < PATH_MAX_LEN - 12; i++) {
		out[at++] = '/';
		len = 3 + rnd() % 6;
		for (j = 0; j < len; j++)
			out[at++] = (char)('a' + rnd() % 26);
	}
	out[at] = '\0';
	return at;
}

/* The route the old router chose: the longest prefix, by a scan. */
static uint32_t scan(const struct route_trie_key *keys, unsigned n, const char *path,
		     size_t len)
{
	uint32_t best = 0;
	size_t best_len = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		if (keys[i].len <= len && keys[i].len > best_len &&
		    memcmp(keys[i].key, path, keys[i].len) == 0) {
			best = keys[i].id;
			best_len = keys[i].len;
		}
	return best;
}

static uint32_t trie(const struct route_trie *t, const char *path, size_t len)
{
	struct route_trie_match m = route_trie_lookup(t, path, len);
	const uint32_t *ids;

	if (m.prefix == ROUTE_TRIE_NONE || route_trie_ids(t, m.prefix, false, &ids) == 0)
		return UINT32_MAX;
	return ids[0];
}

static int run(unsigned n)
{
	char (*texts)[PATH_MAX_LEN] = malloc((size_t)n * PATH_MAX_LEN);
	char (*paths)[PATH_MAX_LEN] = malloc((size_t)LOOKUPS * PATH_MAX_LEN);
	struct route_trie_key *keys = malloc((size_t)n * sizeof(*keys));
	size_t *lens = malloc((size_t)LOOKUPS * sizeof(*lens));
	unsigned i, scans = (unsigned)(SCAN_WORK / n < LOOKUPS ? SCAN_WORK / n : LOOKUPS);
	struct route_trie *t;
	double t0, build, look, scanned;
	uint64_t sum = 0, sum_scan = 0, sum_trie = 0;
	size_t len;

	if (texts == NULL || paths == NULL || keys == NULL || lens == NULL)
		return -1;
	strcpy(texts[0], "/");
	keys[0] = (struct route_trie_key){ texts[0], 1, 0, false };
	for (i = 1; i < n; i++) {
		len = add_segments(texts[i], 0, 1 + rnd() % 3);
		texts[i][len++] = '/';
		texts[i][len] = '\0';
		keys[i] = (struct route_trie_key){ texts[i], len, i, false };
	}
	for (i = 0; i < LOOKUPS; i++) {
		len = 0;
		if (i % 2) {
			const struct route_trie_key *k = &keys[rnd() % n];

			memcpy(paths[i], k->key, k->len);
			len = k->len - 1;	/* add_segments adds the '/' */
		}
		lens[i] = add_segments(paths[i], len, 1 + rnd() % 2);
	}
	t0 = cpu();
	if ((t = route_trie_build(keys, n)) == NULL)
		return -1;
	build = cpu() - t0;
	t0 = cpu();
	for (i = 0; i < LOOKUPS; i++)
		sum += trie(t, paths[i], lens[i]);
	look = cpu() - t0;
	t0 = cpu();
	for (i = 0; i < scans; i++)
		sum_scan += scan(keys, n, paths[i], lens[i]);
	scanned = cpu() - t0;
	for (i = 0; i < scans; i++)
		sum_trie += trie(t, paths[i], lens[i]);
	printf("%7u prefix routes: trie of %zu nodes, %.2f MB, built in %.3f s; lookup %.0f ns "
	       "(scan of every route: %.0f ns)%s\n", n, route_trie_nodes(t),
	       route_trie_bytes(t) / 1e6, build, look / LOOKUPS * 1e9, scanned / scans * 1e9,
	       sum_scan == sum_trie ? "" : "  MISMATCH");
	(void)sum;
	route_trie_free(t);
	free(lens);
	free(keys);
	free(paths);
	free(texts);
	return sum_scan == sum_trie ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const char *const def[] = { "10", "1000", "100000" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : def;
	int i, n = argc > 1 ? argc - 1 : 3;

	for (i = 0; i < n; i++) {
		unsigned size = (unsigned)strtoul(sizes[i], NULL, 10);

		if (size == 0 || run(size) < 0) {
			fprintf(stderr, "route_lookup: %s: not a number of routes, out of memory, "
				"or the trie and the scan disagree\n", sizes[i]);
			return 1;
		}
	}
	return 0;
}
