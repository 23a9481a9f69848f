/*
 * stats_series.c: the series of a configuration in the stats zone (its
 * layout), named so that counts are kept by name across reloads.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "stats_series.h"

/* Separates names in a key; names hold no control characters. */
#define SEP "\x1f"
#define NONE "\x1e"

static unsigned route_slots(const struct conf *c)
{
	unsigned i, n = 1;		/* requests of no site */

	for (i = 0; i < c->nsites; i++)
		n += c->sites[i].nroutes + 1;
	return n;
}

static void slot_counts(const struct conf *c, unsigned n[STATS_KINDS])
{
	n[STATS_ROUTE] = route_slots(c);
	n[STATS_SITE] = c->nsites + 1;
	n[STATS_UPSTREAM] = c->nupstreams;
	n[STATS_LISTEN] = c->nlistens;
	n[STATS_LIMIT] = c->nlimits;
}

size_t stats_layout_words(const struct conf *c)
{
	unsigned n[STATS_KINDS], k;
	size_t words = 0;

	slot_counts(c, n);
	for (k = 0; k < STATS_KINDS; k++)
		words += n[k] * stats_kind_words(k);
	return words;
}

/* A layout, its series and their keys, with room for the allocator. */
size_t stats_layout_bytes(const struct conf *c)
{
	unsigned n[STATS_KINDS], k;
	size_t bytes = sizeof(struct stats_layout) + (c->nsites + 2) * sizeof(unsigned) + 64;

	slot_counts(c, n);
	for (k = 0; k < STATS_KINDS; k++)
		bytes += n[k] * (sizeof(void *) + sizeof(struct stats_series) + 128 + 64 +
				 stats_kind_words(k) * sizeof(uint64_t));
	return bytes;
}

/* The key of route slot i of site (i == nroutes: no route; site NULL:
 * no site). */
static void route_key(char *key, size_t len, const struct conf_site *site, unsigned i)
{
	if (site == NULL)
		snprintf(key, len, NONE);
	else if (i == site->nroutes)
		snprintf(key, len, "%s" SEP NONE, site->name);
	else
		snprintf(key, len, "%s" SEP "%s" SEP "%u", site->name, site->routes[i].pattern,
			 stats_route_ordinal(site, i));
}

struct builder {
	struct shm_zone *z;
	struct stats_root *root;
	struct stats_root *from;	/* a zone to carry totals over from */
	struct stats_layout *l;
};

/* The zone's series named key, made when missing (with the totals of
 * the one of that name in b->from); NULL when the zone is full. */
static struct stats_series *series_get(struct builder *b, enum stats_kind kind, const char *key)
{
	struct stats_series *s = stats_series_find(b->root, kind, key), *old;
	size_t vals = stats_kind_words(kind) * sizeof(uint64_t);

	if (s != NULL) {
		s->refs++;
		return s;
	}
	s = shm_alloc_locked(b->z, sizeof(*s) + vals);
	if (s == NULL || (s->key = shm_alloc_locked(b->z, strlen(key) + 1)) == NULL) {
		shm_free_locked(b->z, s);
		return NULL;
	}
	strcpy(s->key, key);
	s->kind = (uint8_t)kind;
	s->refs = 1;
	s->id = b->root->nids[kind]++;
	memset(s->retired, 0, vals);
	if (b->from != NULL && (old = stats_series_find(b->from, kind, key)) != NULL)
		memcpy(s->retired, old->retired, vals);
	s->next = b->root->series;
	b->root->series = s;
	return s;
}

static int fill_slot(struct builder *b, enum stats_kind kind, unsigned i, const char *key)
{
	b->l->series[kind][i] = series_get(b, kind, key);
	return b->l->series[kind][i] != NULL ? 0 : -1;
}

static int fill_routes(struct builder *b, const struct conf *c)
{
	char key[1024];
	unsigned i, j, slot = 0;

	for (i = 0; i <= c->nsites; i++) {
		const struct conf_site *site = i < c->nsites ? &c->sites[i] : NULL;
		unsigned n = site != NULL ? site->nroutes + 1 : 1;

		b->l->route_base[i] = slot;
		for (j = 0; j < n; j++, slot++) {
			route_key(key, sizeof(key), site, j);
			if (fill_slot(b, STATS_ROUTE, slot, key) < 0)
				return -1;
		}
	}
	b->l->route_base[c->nsites + 1] = slot;
	return 0;
}

static int fill_sites(struct builder *b, const struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nsites; i++)
		if (fill_slot(b, STATS_SITE, i, c->sites[i].name) < 0)
			return -1;
	return fill_slot(b, STATS_SITE, c->nsites, NONE);
}

/* Upstreams, listeners and limits, by name. */
static int fill_named(struct builder *b, const struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nupstreams; i++)
		if (fill_slot(b, STATS_UPSTREAM, i, c->upstreams[i].name) < 0)
			return -1;
	for (i = 0; i < c->nlistens; i++)
		if (fill_slot(b, STATS_LISTEN, i, c->listens[i].name) < 0)
			return -1;
	for (i = 0; i < c->nlimits; i++)
		if (fill_slot(b, STATS_LIMIT, i, c->limits[i].name) < 0)
			return -1;
	return 0;
}

/* Let go of a layout's series and memory; the caller holds the lock. */
static void layout_free(struct shm_zone *z, struct stats_root *root, struct stats_layout *l)
{
	struct stats_series **pp;
	unsigned k, i;

	for (k = 0; k < STATS_KINDS; k++) {
		for (i = 0; l->series[k] != NULL && i < l->n[k]; i++) {
			struct stats_series *s = l->series[k][i];

			if (s == NULL || --s->refs > 0)
				continue;
			for (pp = &root->series; *pp != s; pp = &(*pp)->next)
				;
			*pp = s->next;
			shm_free_locked(z, s->key);
			shm_free_locked(z, s);
		}
		shm_free_locked(z, l->series[k]);
	}
	shm_free_locked(z, l->route_base);
	shm_free_locked(z, l);
}

static int layout_alloc(struct shm_zone *z, struct stats_layout *l, const struct conf *c)
{
	unsigned k;

	memset(l, 0, sizeof(*l));
	slot_counts(c, l->n);
	for (k = 0; k < STATS_KINDS; k++) {
		l->at[k] = l->words;
		l->width[k] = stats_kind_words(k);
		l->words += l->n[k] * l->width[k];
	}
	l->refs = 1;
	l->route_base = shm_alloc_locked(z, (c->nsites + 2) * sizeof(unsigned));
	if (l->route_base == NULL)
		return -1;
	for (k = 0; k < STATS_KINDS; k++) {
		if (l->n[k] == 0)
			continue;
		l->series[k] = shm_alloc_locked(z, l->n[k] * sizeof(l->series[k][0]));
		if (l->series[k] == NULL)
			return -1;
		memset(l->series[k], 0, l->n[k] * sizeof(l->series[k][0]));
	}
	return 0;
}

struct stats_layout *stats_layout_new(struct shm_zone *z, struct stats_root *root,
				      const struct conf *c, struct stats_root *from)
{
	struct builder b = { z, root, from, NULL };
	int rc;

	if (shm_lock(z) == P_ERROR)
		return NULL;
	b.l = shm_alloc_locked(z, sizeof(*b.l));
	rc = b.l == NULL ? -1 : layout_alloc(z, b.l, c);
	if (rc == 0)
		rc = fill_routes(&b, c) < 0 || fill_sites(&b, c) < 0 || fill_named(&b, c) < 0;
	if (rc != 0 && b.l != NULL) {
		layout_free(z, root, b.l);
		b.l = NULL;
	}
	shm_unlock(z);
	return b.l;
}

void stats_layout_put(struct shm_zone *z, struct stats_root *root, struct stats_layout *l)
{
	if (l == NULL || shm_lock(z) == P_ERROR)
		return;
	if (--l->refs == 0)
		layout_free(z, root, l);
	shm_unlock(z);
}
