/*
 * stats.c: adding up the per-process counters.
 */
#include "config.h"

#include <string.h>

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
