/*
 * limit_zones.c: limit zones seen from the master.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "limit_zones.h"

static bool fits(const struct limit_ref *r, const struct conf_limit *l)
{
	return limit_zone_matches(r->z, l->name, (enum limit_kind)l->kind, l->size);
}

struct limit_ref *limit_ref_get(struct limit_ref *const *prev, unsigned nprev,
				const struct conf_limit *l, char *err, size_t errlen)
{
	struct limit_ref *r;
	unsigned i;

	for (i = 0; i < nprev; i++)
		if (prev[i] != NULL && fits(prev[i], l)) {
			prev[i]->refs++;
			return prev[i];
		}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->z = limit_zone_create(l->name, (enum limit_kind)l->kind, l->size, err, errlen);
	if (r->z == NULL) {
		free(r);
		return NULL;
	}
	r->refs = 1;
	log_msg(LL_INFO, "%s: a new zone of %zu KiB for %u keys", l->refused_by, l->size >> 10,
		limit_zone_capacity(r->z));
	return r;
}

void limit_ref_put(struct limit_ref *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	limit_zone_destroy(r->z);
	free(r);
}

void limit_zones_reap(struct limit_ref *const *refs, unsigned n, pid_t pid)
{
	unsigned i, given;

	for (i = 0; i < n; i++)
		if ((given = limit_zone_reap(refs[i]->z, pid)) > 0)
			log_msg(LL_NOTICE, "limit_conn \"%s\": %u open requests of pid %ld given back",
				limit_zone_name(refs[i]->z), given, (long)pid);
}
