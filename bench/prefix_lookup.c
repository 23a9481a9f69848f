/*
 * prefix_lookup.c: how fast the prefix tree (common/prefix_tree.c) is
 * built and read, and what it takes, with N random prefixes: 80 % IPv4
 * (/8 to /32, most of them /16 to /24), 20 % IPv6 (/16 to /64, most of
 * them /32 to /48), as allow/deny and geo lists are made of.
 *
 *	make bench/prefix_lookup && ./bench/prefix_lookup [N...]
 *
 * (default: 100000 and 1000000), each added in random order and in
 * address order (as geo tables come). Lookups are of random addresses,
 * half of them inside a listed prefix, in an order that defeats the
 * caches: the figure is the cost of a cold lookup. Times are CPU times
 * of the process, so that a busy machine disturbs them less.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "prefix_tree.h"
#include "lookup_bench.h"

#define LOOKUPS 4000000u

/* Resident bytes of this process. */
static size_t rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;

	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static void random_prefix(struct cidr *c)
{
	unsigned i;

	for (i = 0; i < 16; i++)
		c->addr[i] = (uint8_t)rnd();
	if (rnd() % 5 != 0) {
		memset(c->addr, 0, 10);
		c->addr[10] = c->addr[11] = 0xff;
		c->bits = 96 + (rnd() % 4 ? 16 + rnd() % 9 : 8 + rnd() % 25);
	} else {
		c->addr[0] = 0x20;
		c->bits = rnd() % 4 ? 32 + rnd() % 17 : 16 + rnd() % 49;
	}
	for (i = c->bits; i < 128; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* An address inside p, or (when p is NULL) anywhere near the lists. */
static void random_addr(uint8_t a[16], const struct cidr *p)
{
	struct cidr c;
	unsigned i;

	random_prefix(&c);
	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	memcpy(a, c.addr, c.bits / 8);
	if (p == NULL)
		return;
	memcpy(a, p->addr, (p->bits + 7) / 8);
	for (i = p->bits; i < (p->bits + 7) / 8 * 8; i++)
		a[i / 8] |= (uint8_t)(rnd() & (0x80 >> (i % 8)));
}

static int by_address(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;
	int d = memcmp(x->addr, y->addr, 16);

	return d != 0 ? d : (int)x->bits - (int)y->bits;
}

/* Build a tree of n random prefixes, added in random order or (sorted)
 * in address order, and look up LOOKUPS addresses in it. */
static int run(unsigned n, bool sorted)
{
	struct cidr *list = malloc((size_t)n * sizeof(*list));
	uint8_t (*addrs)[16] = malloc((size_t)LOOKUPS * 16);
	struct prefix_tree *t;
	size_t rss0, hits = 0;
	double t0, build, look;
	unsigned i;

	if (list == NULL || addrs == NULL)
		return -1;
	rng = BENCH_SEED;	/* the same prefixes in both orders */
	for (i = 0; i < n; i++)
		random_prefix(&list[i]);
	for (i = 0; i < LOOKUPS; i++)
		random_addr(addrs[i], i % 2 ? &list[rnd() % n] : NULL);
	if (sorted)
		qsort(list, n, sizeof(*list), by_address);
	rss0 = rss();
	t0 = cpu();
	if ((t = prefix_tree_new()) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (prefix_tree_add(t, &list[i], i) < 0)
			return -1;
	if (prefix_tree_seal(t) < 0)
		return -1;
	build = cpu() - t0;
	t0 = cpu();
	for (i = 0; i < LOOKUPS; i++)
		hits += prefix_tree_lookup(t, addrs[i], NULL);
	look = cpu() - t0;
	printf("%8u prefixes (%zu distinct), %s order: build %.3f s, %.1f MB (%.0f bytes a "
	       "prefix), RSS +%.1f MB; lookup %.0f ns (%zu of %u matched)\n", n,
	       prefix_tree_count(t), sorted ? "address" : "random", build, prefix_tree_bytes(t) / 1e6,
	       (double)prefix_tree_bytes(t) / (double)n, (double)(rss() - rss0) / 1e6,
	       look / LOOKUPS * 1e9, hits, LOOKUPS);
	prefix_tree_free(t);
	free(addrs);
	free(list);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const def[] = { "100000", "1000000" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : def;
	int i, n = argc > 1 ? argc - 1 : 2;

	for (i = 0; i < n; i++) {
		unsigned size = (unsigned)strtoul(sizes[i], NULL, 10);

		if (size == 0 || run(size, false) < 0 || run(size, true) < 0) {
			fprintf(stderr, "prefix_lookup: %s: not a number of prefixes, or out "
				"of memory\n", sizes[i]);
			return 1;
		}
	}
	return 0;
}
