/*
 * stats.c: adding up the per-process counters.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "stats.h"

static void counters_add(struct stats_counters *to, const struct stats_counters *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;
	size_t i;

	for (i = 0; i < STATS_NCOUNTERS; i++)
		t[i] += __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

void stats_sum(struct shm_zone *z, struct stats_root *root,
	       struct stats_counters *c, struct stats_gauges *g, unsigned *nprocs)
{
	const struct stats_proc *p;

	memset(c, 0, sizeof(*c));
	memset(g, 0, sizeof(*g));
	*nprocs = 0;
	/* A lock taken over from a dead holder is still a lock: the list is
	 * only relinked by the master, which does not die mid-way. */
	if (shm_lock(z) == P_ERROR)
		return;
	counters_add(c, &root->retired);
	for (p = root->procs; p != NULL; p = p->next) {
		counters_add(c, &p->c);
		g->connections_open += __atomic_load_n(&p->g.connections_open, __ATOMIC_RELAXED);
		(*nprocs)++;
	}
	shm_unlock(z);
}

void stats_retire(struct stats_root *root, struct stats_proc *p)
{
	counters_add(&root->retired, &p->c);
}

/* Fit for a proxy: a cache hit to a slow page. */
const uint64_t stats_bounds_us[STATS_BOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000
};

const char *const stats_method_names[STATS_METHODS] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"
};

unsigned stats_bucket(uint64_t us)
{
	unsigned i;

	for (i = 0; i < STATS_BOUNDS && us > stats_bounds_us[i]; i++)
		;
	return i;
}

/* By enum http_method: OTHER GET HEAD POST PUT DELETE CONNECT OPTIONS
 * TRACE PATCH. */
unsigned stats_method(unsigned http_method)
{
	static const uint8_t place[] = { 7, 0, 1, 2, 3, 4, 7, 6, 7, 5 };

	return http_method < sizeof(place) ? place[http_method] : 7;
}

size_t stats_kind_words(enum stats_kind kind)
{
	static const size_t size[STATS_KINDS] = {
		[STATS_ROUTE] = sizeof(struct stats_route_vals),
		[STATS_SITE] = sizeof(struct stats_site_vals),
		[STATS_UPSTREAM] = sizeof(struct stats_upstream_vals),
		[STATS_LISTEN] = sizeof(struct stats_listen_vals),
		[STATS_LIMIT] = sizeof(struct stats_limit_vals),
	};

	return size[kind] / sizeof(uint64_t);
}

size_t stats_kind_counters(enum stats_kind kind)
{
	return kind == STATS_LISTEN ? 1 : stats_kind_words(kind);
}

static void words_add(uint64_t *to, const uint64_t *from, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

/* A live record's values, into the sums of the series its slots name. */
static void proc_series_add(uint64_t *sums[STATS_KINDS], const unsigned nids[STATS_KINDS],
			    const struct stats_proc *p)
{
	const struct stats_layout *l = p->layout;
	const uint64_t *v = p->vals;
	unsigned k, i;

	for (k = 0; k < STATS_KINDS; k++) {
		size_t w = stats_kind_words(k);

		for (i = 0; i < l->n[k]; i++, v += w)
			if (l->series[k][i]->id < nids[k])
				words_add(sums[k] + l->series[k][i]->id * w, v, w);
	}
}

int stats_sum_series(struct shm_zone *z, struct stats_root *root,
		     uint64_t *sums[STATS_KINDS], unsigned nids[STATS_KINDS])
{
	const struct stats_series *s;
	const struct stats_proc *p;
	unsigned k;

	memset(sums, 0, STATS_KINDS * sizeof(sums[0]));
	if (shm_lock(z) == P_ERROR)
		return -1;
	for (k = 0; k < STATS_KINDS; k++) {
		nids[k] = root->nids[k];
		sums[k] = calloc(nids[k] + 1, stats_kind_words(k) * sizeof(uint64_t));
		if (sums[k] == NULL)
			break;
	}
	if (k == STATS_KINDS) {
		for (s = root->series; s != NULL; s = s->next)
			words_add(sums[s->kind] + s->id * stats_kind_words(s->kind), s->retired,
				  stats_kind_words(s->kind));
		for (p = root->procs; p != NULL; p = p->next)
			if (p->layout != NULL)
				proc_series_add(sums, nids, p);
	}
	shm_unlock(z);
	if (k == STATS_KINDS)
		return 0;
	for (k = 0; k < STATS_KINDS; k++)
		free(sums[k]);
	return -1;
}

struct stats_series *stats_series_find(struct stats_root *root, enum stats_kind kind,
				       const char *key)
{
	struct stats_series *s;

	for (s = root->series; s != NULL; s = s->next)
		if (s->kind == kind && strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

/* vals (laid out as p's) into root's series of the same names; taken
 * back with minus. */
static void series_fold(struct stats_root *root, const struct stats_proc *p, const uint64_t *vals,
			bool same, bool minus)
{
	const struct stats_layout *l = p->layout;
	unsigned k, i, j;

	if (l == NULL)
		return;
	for (k = 0; k < STATS_KINDS; k++)
		for (i = 0; i < l->n[k]; i++) {
			struct stats_series *s = l->series[k][i];
			const uint64_t *v = vals + l->at[k] + i * l->width[k];

			if (!same)
				s = stats_series_find(root, k, s->key);
			for (j = 0; s != NULL && j < stats_kind_counters(k); j++)
				s->retired[j] += minus ? -__atomic_load_n(&v[j], __ATOMIC_RELAXED) :
					__atomic_load_n(&v[j], __ATOMIC_RELAXED);
		}
}

void stats_retire_series(struct stats_root *root, const struct stats_proc *p, bool same)
{
	series_fold(root, p, p->vals, same, false);
}

struct stats_snapshot *stats_snapshot(const struct stats_proc *p)
{
	size_t words = p->layout != NULL ? p->layout->words : 0;
	struct stats_snapshot *s = malloc(sizeof(*s) + words * sizeof(uint64_t));
	size_t i;

	if (s == NULL)
		return NULL;
	memset(&s->c, 0, sizeof(s->c));
	counters_add(&s->c, &p->c);
	for (i = 0; i < words; i++)
		s->vals[i] = __atomic_load_n(&p->vals[i], __ATOMIC_RELAXED);
	return s;
}

void stats_fold_snapshot(struct stats_root *root, const struct stats_proc *p,
			 const struct stats_snapshot *s, bool minus)
{
	uint64_t *t = (uint64_t *)&root->retired;
	const uint64_t *f = (const uint64_t *)&s->c;
	size_t i;

	for (i = 0; i < STATS_NCOUNTERS; i++)
		t[i] += minus ? -f[i] : f[i];
	series_fold(root, p, s->vals, false, minus);
}

/* Routes of one site may share a pattern (conditions tell them apart):
 * the how-manieth with its pattern route i is, from 1. */
unsigned stats_route_ordinal(const struct conf_site *site, unsigned i)
{
	unsigned j, n = 1;

	for (j = 0; j < i; j++)
		n += strcmp(site->routes[j].pattern, site->routes[i].pattern) == 0;
	return n;
}
