/*
 * geo_load.c: what a geo file of N prefixes costs: the time the
 * configuration takes to load with it (the CSV read, sorted, built into
 * the tree and copied into its shared mapping), the memory the table
 * takes, and the time of a lookup.
 *
 *	make bench/geo_load && ./bench/geo_load [N] [portico]
 *
 * N defaults to 1000000: 80 % IPv4 (/8 to /32, most of them /16 to /24),
 * 20 % IPv6 (/16 to /64, most /32 to /48), in 250 regions, written in
 * random order (the loader sorts them). With the path of a portico
 * binary, "portico -t" is timed on the same configuration too: the whole
 * check an operator runs. Lookups are of random addresses, half of them
 * inside a listed prefix, in an order that defeats the caches.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "cidr.h"
#include "conf.h"
#include "geo_table.h"
#include "lookup_bench.h"

#define LOOKUPS 4000000u
#define REGIONS 250

/* Prefix lengths as real tables have them. */
static unsigned v4_bits(void)
{
	unsigned r = rnd() % 100;

	return r < 70 ? 16 + rnd() % 9 : r < 85 ? 8 + rnd() % 8 : 25 + rnd() % 8;
}

static unsigned v6_bits(void)
{
	return rnd() % 100 < 75 ? 32 + rnd() % 17 : 16 + rnd() % 49;
}

static void random_prefix(struct cidr *c)
{
	unsigned i;

	memset(c->addr, 0, 16);
	if (rnd() % 5 != 0) {
		c->addr[10] = c->addr[11] = 0xff;
		for (i = 12; i < 16; i++)
			c->addr[i] = (uint8_t)rnd();
		c->bits = 96 + v4_bits();
	} else {
		c->addr[0] = 0x20;
		for (i = 1; i < 16; i++)
			c->addr[i] = (uint8_t)rnd();
		c->bits = v6_bits();
	}
	for (i = c->bits; i < 128; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static int cidr_cmp(const void *x, const void *y)
{
	const struct cidr *a = x, *b = y;
	int d = memcmp(a->addr, b->addr, 16);

	return d != 0 ? d : (int)a->bits - (int)b->bits;
}

/* n distinct random prefixes, in random order: drawn until there are
 * n different ones (short IPv4 prefixes come out more than once). */
static struct cidr *make_prefixes(size_t n)
{
	size_t cap = n + n / 4 + 16, i, j, m = 0;
	struct cidr *list = malloc(cap * sizeof(*list)), t;

	if (list == NULL)
		return NULL;
	while (m < n) {
		for (i = m; i < cap; i++)
			random_prefix(&list[i]);
		qsort(list, cap, sizeof(*list), cidr_cmp);
		for (i = 0, m = 0; i < cap; i++)
			if (m == 0 || cidr_cmp(&list[m - 1], &list[i]) != 0)
				list[m++] = list[i];
	}
	for (i = m; i > 1; i--) {
		j = rnd() % i;
		t = list[i - 1];
		list[i - 1] = list[j];
		list[j] = t;
	}
	return list;
}

static int write_csv(const char *path, const struct cidr *list, size_t n)
{
	FILE *f = fopen(path, "w");
	char text[64];
	size_t i;

	if (f == NULL)
		return -1;
	fputs("# CIDR,region\n", f);
	for (i = 0; i < n; i++) {
		cidr_format(&list[i], text, sizeof(text));
		fprintf(f, "%s,r%03u\n", text, (unsigned)(i % REGIONS));
	}
	return fclose(f);
}

static int write_conf(const char *path, const char *dir, const char *csv)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "error_log = \"%s/error.log\"\npid_file = \"%s/portico.pid\"\n", dir, dir);
	fprintf(f, "geo regions { file = \"%s\"  default = \"r000\" }\n"
		"listen http { address = \"127.0.0.1:8080\" }\n"
		"site s { route \"/\" { status = true } }\n", csv);
	return fclose(f);
}

/* Addresses to look up: half in a listed prefix (host bits random), half
 * anywhere. */
static uint8_t (*make_addrs(const struct cidr *list, size_t n))[16]
{
	uint8_t (*a)[16] = malloc(LOOKUPS * sizeof(*a));
	unsigned i, k;

	if (a == NULL)
		return NULL;
	for (i = 0; i < LOOKUPS; i++) {
		const struct cidr *c = &list[rnd() % n];

		for (k = 0; k < 16; k++)
			a[i][k] = (uint8_t)rnd();
		if (i % 2 == 0) {
			for (k = 0; k < c->bits; k++) {
				uint8_t bit = (uint8_t)(0x80 >> (k % 8));

				a[i][k / 8] = (uint8_t)((a[i][k / 8] & ~bit) | (c->addr[k / 8] & bit));
			}
		} else if (rnd() % 5 != 0) {
			memset(a[i], 0, 10);
			a[i][10] = a[i][11] = 0xff;
		}
	}
	return a;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000, i;
	char dir[] = "/tmp/geo-load-XXXXXX", csv[64], path[64], cmd[512], *errs;
	uint8_t (*addrs)[16];
	struct cidr *list;
	struct conf *c;
	struct rusage ru;
	double t0, c0, load_s, load_cpu, lookup_s;
	uint32_t sum = 0;

	if (mkdtemp(dir) == NULL || (list = make_prefixes(n)) == NULL)
		return 1;
	snprintf(csv, sizeof(csv), "%s/regions.csv", dir);
	snprintf(path, sizeof(path), "%s/portico.conf", dir);
	if (write_csv(csv, list, n) < 0 || write_conf(path, dir, csv) < 0)
		return 1;

	t0 = wall();
	c0 = cpu();
	c = conf_load(path, 0, &errs);
	load_cpu = cpu() - c0;
	load_s = wall() - t0;
	if (c == NULL || c->ngeos != 1 || c->geos[0].table == NULL) {
		fprintf(stderr, "loading failed:\n%s", errs ? errs : "");
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("prefixes:          %zu in %u regions (%s)\n",
	       geo_table_prefixes(c->geos[0].table), c->nregions - 1, csv);
	printf("load (conf_load):  %.3f s (%.3f s of CPU)\n", load_s, load_cpu);
	printf("shared table:      %.1f MiB (%.1f bytes a prefix)\n",
	       geo_table_bytes(c->geos[0].table) / 1048576.0,
	       (double)geo_table_bytes(c->geos[0].table) / (double)n);
	printf("peak RSS of load:  %.1f MiB (the parsed lines, the tree, the table)\n",
	       ru.ru_maxrss / 1024.0);

	if ((addrs = make_addrs(list, n)) == NULL)
		return 1;
	t0 = cpu();
	for (i = 0; i < LOOKUPS; i++)
		sum += geo_table_lookup(c->geos[0].table, addrs[i]);
	lookup_s = cpu() - t0;
	printf("lookup:            %.0f ns (mean of %u random addresses; checksum %u)\n",
	       lookup_s * 1e9 / LOOKUPS, LOOKUPS, sum);

	if (argc > 2) {
		snprintf(cmd, sizeof(cmd), "%s -t -c %s >/dev/null 2>&1", argv[2], path);
		t0 = wall();
		if (system(cmd) != 0)
			fprintf(stderr, "%s failed\n", cmd);
		printf("portico -t:        %.3f s (the whole check, from exec to exit)\n",
		       wall() - t0);
	}
	conf_free(c);
	free(addrs);
	free(list);
	unlink(csv);
	unlink(path);
	rmdir(dir);
	return 0;
}
