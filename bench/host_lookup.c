/*
 * host_lookup.c: what finding a request's site costs (common/host_index.c)
 * as the number of sites grows, so that 10,000 sites can be seen to cost
 * about what 1 costs.
 *
 *	make bench/host_lookup && ./bench/host_lookup [N...]
 *
 * (default: 1, 100 and 10000 sites). Site i lists three patterns,
 * "site<i>.example.com", "*.w<i>.example.net" and "www.t<i>.*", and two
 * more sites list one regex each, after them in the file (a listener's
 * regexes are tried one after another, as nginx's are: their count, not
 * the sites', sets their cost). Lookups are of Host values of random sites,
 * in an order that defeats the caches, one kind at a time: an exact name
 * (mixed case, with a port), a leading wildcard's, a trailing wildcard's,
 * a regex's, and a miss (a name nothing matches, which is tried against
 * every kind before it falls to the default site); then all kinds mixed;
 * then all kinds mixed over the first 64 sites only ("hot": traffic that
 * goes mostly to a few sites, whose part of the index stays in the
 * caches). For comparison, "scan" is the linear scan this index replaced:
 * every site's names and "*.suffix" wildcards compared with the Host, on
 * mixed lookups. Times are CPU times of the process, so that a busy
 * machine disturbs them less, the best of 3 rounds.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host_index.h"
#include "lookup_bench.h"

#define LOOKUPS 1000000u
#define ROUNDS 3			/* the best of them is shown */
#define HOST_MAX 48
#define REGEXES 2
#define HOT_SITES 64

enum kind { K_EXACT, K_LEADING, K_TRAILING, K_REGEX, K_MISS, K_MIXED, K_HOT, KINDS };

static const char *const kind_names[KINDS] = {
	"exact", "*.lead", "trail.*", "regex", "miss", "mixed", "hot"
};

struct sites {
	unsigned n;			/* sites with names and wildcards */
	struct conf_site *site;		/* n + REGEXES */
	char (*name)[16];
	struct conf_host *host;		/* 3 per site, then the regexes */
	unsigned nhosts;
	struct host_index *idx;
};

static int add_pattern(struct sites *s, const char *text, unsigned site)
{
	struct conf_host *h = &s->host[s->nhosts];
	const struct conf_site *holder;
	char err[320];

	if (host_pattern_parse(text, h, err, sizeof(err)) < 0) {
		fprintf(stderr, "host_lookup: %s: %s\n", text, err);
		return -1;
	}
	s->nhosts++;
	return host_index_add(s->idx, h, &s->site[site], &holder) == 0 ? 0 : -1;
}

static int make_sites(struct sites *s, unsigned n)
{
	static const char *const regexes[REGEXES] = {
		"~ ^api\\d+\\.regex\\.test$", "~ ^(cdn|img)\\d*\\.media\\.test$"
	};
	char text[64];
	unsigned i;

	s->n = n;
	s->nhosts = 0;
	s->site = calloc(n + REGEXES, sizeof(*s->site));
	s->name = calloc(n + REGEXES, sizeof(*s->name));
	s->host = calloc(3 * n + REGEXES, sizeof(*s->host));
	if (s->site == NULL || s->name == NULL || s->host == NULL ||
	    (s->idx = host_index_new()) == NULL)
		return -1;
	for (i = 0; i < n + REGEXES; i++) {
		snprintf(s->name[i], sizeof(s->name[i]), "s%u", i);
		s->site[i].name = s->name[i];
		s->site[i].hosts = &s->host[s->nhosts];
		if (i >= n) {
			if (add_pattern(s, regexes[i - n], i) < 0)
				return -1;
			s->site[i].nhosts = 1;
			continue;
		}
		snprintf(text, sizeof(text), "site%u.example.com", i);
		if (add_pattern(s, text, i) < 0)
			return -1;
		snprintf(text, sizeof(text), "*.w%u.example.net", i);
		if (add_pattern(s, text, i) < 0)
			return -1;
		snprintf(text, sizeof(text), "www.t%u.*", i);
		if (add_pattern(s, text, i) < 0)
			return -1;
		s->site[i].nhosts = 3;
	}
	return 0;
}

static void free_sites(struct sites *s)
{
	unsigned i;

	host_index_free(s->idx);
	for (i = 0; i < s->nhosts; i++)
		host_pattern_free(&s->host[i]);
	free(s->host);
	free(s->name);
	free(s->site);
}

/* A Host of kind k for a random site (of the first HOT_SITES: K_HOT). */
static void make_host(char *out, enum kind k, unsigned n)
{
	unsigned i = rnd() % (k == K_HOT ? MIN(n, HOT_SITES) : n);

	if (k == K_MIXED || k == K_HOT)
		k = (enum kind)(rnd() % K_MIXED);
	switch (k) {
	case K_EXACT:
		snprintf(out, HOST_MAX, "Site%u.Example.COM:8080", i);
		break;
	case K_LEADING:
		snprintf(out, HOST_MAX, "a.w%u.example.net", i);
		break;
	case K_TRAILING:
		snprintf(out, HOST_MAX, "www.t%u.example.org", i);
		break;
	case K_REGEX:
		snprintf(out, HOST_MAX, i % 2 ? "api%u.regex.test" : "cdn%u.media.test", i);
		break;
	default:
		snprintf(out, HOST_MAX, "site%u.example.org", i);
		break;
	}
}

/* The scan the index replaced: exact names, then the longest "*.suffix";
 * the two other kinds are not in it. */
static const struct conf_site *scan(const struct sites *s, struct slice host)
{
	const struct conf_site *best = NULL;
	size_t best_len = 0;
	unsigned i, j;

	host = host_name_of(host);
	for (i = 0; i < s->n; i++)
		for (j = 0; j < s->site[i].nhosts; j++) {
			const struct conf_host *h = &s->site[i].hosts[j];

			if (h->kind == HOST_EXACT && h->len == host.len &&
			    strncasecmp(h->name, host.p, host.len) == 0)
				return &s->site[i];
			if (h->kind == HOST_LEADING && host.len > h->len && h->len > best_len &&
			    strncasecmp(h->name, host.p + host.len - h->len, h->len) == 0) {
				best = &s->site[i];
				best_len = h->len;
			}
		}
	return best;
}

/* ns a lookup of kind k, the best of ROUNDS over count random hosts;
 * -1 when a lookup finds the wrong kind of answer. */
static double time_lookups(const struct sites *s, enum kind k, unsigned count, bool linear)
{
	char (*hosts)[HOST_MAX] = malloc((size_t)count * HOST_MAX);
	double t0, t, best = 0;
	unsigned i, round;
	bool wrong = false;
	size_t found;

	if (hosts == NULL)
		return -1;
	for (i = 0; i < count; i++)
		make_host(hosts[i], k, s->n);
	for (round = 0; round < ROUNDS; round++) {
		found = 0;
		t0 = cpu();
		for (i = 0; i < count; i++) {
			struct slice h = { hosts[i], strlen(hosts[i]) };

			found += (linear ? scan(s, h) : host_index_find(s->idx, h)) != NULL;
		}
		t = cpu() - t0;
		wrong |= (k == K_MISS && found != 0) || (k < K_MISS && found != count);
		if (round == 0 || t < best)
			best = t;
	}
	free(hosts);
	return wrong ? -1 : best / count * 1e9;
}

static int run(unsigned n)
{
	struct sites s;
	double t0, build, ns[KINDS], scan_ns;
	unsigned k, scans = n > 100 ? 1000 : 100000;

	rng = BENCH_SEED;
	t0 = cpu();
	if (make_sites(&s, n) < 0)
		return -1;
	build = cpu() - t0;
	for (k = 0; k < KINDS; k++)
		if ((ns[k] = time_lookups(&s, (enum kind)k, LOOKUPS, false)) < 0)
			return -1;
	scan_ns = time_lookups(&s, K_MIXED, scans, true);
	printf("%8u %9.3f", n, build * 1e3);
	for (k = 0; k < KINDS; k++)
		printf(" %8.0f", ns[k]);
	printf(" %10.0f\n", scan_ns);
	free_sites(&s);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const def[] = { "1", "100", "10000" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : def;
	int i, k, n = argc > 1 ? argc - 1 : 3;

	printf("ns per lookup, %u lookups of each kind (+%d regex sites; scan: the linear "
	       "scan replaced, mixed lookups)\n", LOOKUPS, REGEXES);
	printf("%8s %9s", "sites", "build ms");
	for (k = 0; k < KINDS; k++)
		printf(" %8s", kind_names[k]);
	printf(" %10s\n", "scan");
	for (i = 0; i < n; i++) {
		unsigned size = (unsigned)strtoul(sizes[i], NULL, 10);

		if (size == 0 || run(size) < 0) {
			fprintf(stderr, "host_lookup: %s: not a number of sites, a wrong answer, "
				"or out of memory\n", sizes[i]);
			return 1;
		}
	}
	return 0;
}
