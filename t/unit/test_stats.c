/*
 * test_stats.c: the series of the stats zone: latency buckets, method
 * labels, sums by name over live records and retired totals, and a
 * snapshot taken over by a new zone and taken back at exit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "http_parse.h"
#include "stats.h"

static void test_buckets(void)
{
	is_int(stats_bucket(0), 0, "0 us: the first bucket");
	is_int(stats_bucket(1000), 0, "1 ms: still the first (le is inclusive)");
	is_int(stats_bucket(1001), 1, "just over 1 ms: the second");
	is_int(stats_bucket(30000000), STATS_BOUNDS - 1, "30 s: the last bound");
	is_int(stats_bucket(30000001), STATS_BOUNDS, "beyond: +Inf");
}

static void test_methods(void)
{
	is_str(stats_method_names[stats_method(HTTP_GET)], "GET", "GET");
	is_str(stats_method_names[stats_method(HTTP_PATCH)], "PATCH", "PATCH");
	is_str(stats_method_names[stats_method(HTTP_OPTIONS)], "OPTIONS", "OPTIONS");
	is_str(stats_method_names[stats_method(HTTP_CONNECT)], "other", "CONNECT is other");
	is_str(stats_method_names[stats_method(HTTP_OTHER_METHOD)], "other", "unknown is other");
	is_str(stats_method_names[stats_method(200)], "other", "out of range is other");
}

/* A zone with one upstream series named "app" and a record laid out for
 * it; what the master does, by hand. */
struct fixture {
	struct shm_zone *z;
	struct stats_root *root;
	struct stats_layout *l;
	struct stats_series *s;
	struct stats_proc *p;
};

static int fixture_make(struct fixture *f, const char *name)
{
	size_t w = stats_kind_words(STATS_UPSTREAM);
	char err[128];

	memset(f, 0, sizeof(*f));
	f->z = shm_zone_create(name, 1 << 20, err, sizeof(err));
	if (f->z == NULL)
		return -1;
	f->root = shm_alloc(f->z, sizeof(*f->root));
	f->l = shm_alloc(f->z, sizeof(*f->l));
	f->s = shm_alloc(f->z, sizeof(*f->s) + w * sizeof(uint64_t));
	f->p = shm_alloc(f->z, sizeof(*f->p) + w * sizeof(uint64_t));
	if (f->root == NULL || f->l == NULL || f->s == NULL || f->p == NULL)
		return -1;
	memset(f->root, 0, sizeof(*f->root));
	memset(f->l, 0, sizeof(*f->l));
	memset(f->s, 0, sizeof(*f->s) + w * sizeof(uint64_t));
	memset(f->p, 0, sizeof(*f->p) + w * sizeof(uint64_t));
	f->s->key = (char *)"app";
	f->s->kind = STATS_UPSTREAM;
	f->root->series = f->s;
	f->root->nids[STATS_UPSTREAM] = 1;
	f->l->n[STATS_UPSTREAM] = 1;
	f->l->series[STATS_UPSTREAM] = &f->s;
	f->l->width[STATS_UPSTREAM] = w;
	f->l->words = w;
	f->p->layout = f->l;
	f->p->vals = (uint64_t *)(f->p + 1);
	f->root->procs = f->p;
	return 0;
}

/* The count of upstream "app"'s header-time histogram, as a reader sums it. */
static uint64_t app_count(struct fixture *f)
{
	uint64_t *sums[STATS_KINDS];
	unsigned nids[STATS_KINDS], k, b;
	uint64_t n = 0;

	if (stats_sum_series(f->z, f->root, sums, nids) < 0)
		return (uint64_t)-1;
	for (b = 0; b < STATS_BUCKETS; b++)
		n += sums[STATS_UPSTREAM][b];
	for (k = 0; k < STATS_KINDS; k++)
		free(sums[k]);
	return n;
}

static void observe(struct stats_proc *p, unsigned n)
{
	struct stats_upstream_vals *v = (void *)stats_slot(p, STATS_UPSTREAM, 0);

	while (n-- > 0)
		stats_observe(&v->header_time, stats_bucket(5000), 5000);
}

static void test_sums_and_carry(void)
{
	struct fixture old, new;
	struct stats_snapshot *snap;

	if (!ok(fixture_make(&old, "stats-old") == 0 && fixture_make(&new, "stats-new") == 0,
		"two zones made"))
		return;
	new.root->procs = NULL;		/* the new zone's workers count nothing yet */
	observe(old.p, 3);
	is_int(app_count(&old), 3, "a live record's counts are summed");

	/* The old zone's record is taken over by the new zone ... */
	snap = stats_snapshot(old.p);
	ok(snap != NULL, "a snapshot of the live record");
	stats_fold_snapshot(new.root, old.p, snap, false);
	is_int(app_count(&new), 3, "the new zone shows what it took over");
	/* ... counts on in the old one ... */
	observe(old.p, 2);
	is_int(app_count(&old), 5, "the old zone sums its record as ever");
	/* ... and at its exit the new zone gets only the rest. */
	stats_retire_series(new.root, old.p, false);
	stats_fold_snapshot(new.root, old.p, snap, true);
	is_int(app_count(&new), 5, "after the exit, the new zone holds all of it, once");
	free(snap);

	/* A record retired into its own zone leaves its counts to the totals. */
	old.root->procs = NULL;
	stats_retire_series(old.root, old.p, true);
	is_int(app_count(&old), 5, "retired totals keep what an exited record counted");
	shm_zone_destroy(old.z);
	shm_zone_destroy(new.z);
}

int main(void)
{
	test_buckets();
	test_methods();
	test_sums_and_carry();
	done_testing();
}
