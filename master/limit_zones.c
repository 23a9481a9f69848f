/*
 * limit_zones.c: limit zones seen from the master.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "limit_zones.h"
#include "process.h"

/* Handed on by the binary before us, until a configuration takes them. */
static struct limit_zone **inherited;
static unsigned ninherited;

static void adopt(int fd)
{
	struct limit_zone **grown, *z;
	char err[256];

	if ((z = limit_zone_attach(fd, err, sizeof(err))) == NULL) {
		log_msg(LL_WARN, "binary upgrade: limit zone fd %d not taken over: %s", fd, err);
		close(fd);
		return;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	grown = realloc(inherited, (ninherited + 1) * sizeof(*inherited));
	if (grown == NULL) {
		log_msg(LL_ERROR, "binary upgrade: out of memory taking over limit \"%s\"",
			limit_zone_name(z));
		limit_zone_destroy(z);
		return;
	}
	inherited = grown;
	inherited[ninherited++] = z;
}

void limit_zones_inherit(void)
{
	process_inherit_fds(LIMIT_FDS_ENV, adopt);
}

void limit_zones_drop_inherited(void)
{
	unsigned i;

	for (i = 0; i < ninherited; i++) {
		log_msg(LL_NOTICE, "limit \"%s\" of the previous binary is not configured any "
			"more (or changed size or workers): dropped", limit_zone_name(inherited[i]));
		limit_zone_destroy(inherited[i]);
	}
	free(inherited);
	inherited = NULL;
	ninherited = 0;
}

static bool fits(const struct limit_zone *z, const struct conf_limit *l, unsigned workers)
{
	return limit_zone_matches(z, l->name, (enum limit_kind)l->kind, l->size, workers);
}

static struct limit_zone *take_inherited(const struct conf_limit *l, unsigned workers)
{
	struct limit_zone *z;
	unsigned i;

	for (i = 0; i < ninherited; i++) {
		if (!fits(inherited[i], l, workers))
			continue;
		z = inherited[i];
		inherited[i] = inherited[--ninherited];
		log_msg(LL_NOTICE, "%s taken over from the previous binary: %u keys", l->refused_by,
			limit_zone_keys(z));
		return z;
	}
	return NULL;
}

struct limit_ref *limit_ref_get(struct limit_ref *const *prev, unsigned nprev,
				const struct conf_limit *l, unsigned workers, char *err,
				size_t errlen)
{
	struct limit_ref *r;
	unsigned i;

	for (i = 0; i < nprev; i++)
		if (prev[i] != NULL && fits(prev[i]->z, l, workers)) {
			prev[i]->refs++;
			return prev[i];
		}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->refs = 1;
	if ((r->z = take_inherited(l, workers)) != NULL)
		return r;
	r->z = limit_zone_create(l->name, (enum limit_kind)l->kind, l->size, workers, err, errlen);
	if (r->z == NULL) {
		free(r);
		return NULL;
	}
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

static int ref_fd_at(const void *refs, unsigned i)
{
	return limit_zone_fd(((struct limit_ref *const *)refs)[i]->z);
}

void limit_zones_export(struct limit_ref *const *refs, unsigned n)
{
	process_export_fds(LIMIT_FDS_ENV, refs, n, ref_fd_at);
}

void limit_zones_reap(struct limit_ref *const *refs, unsigned n, pid_t pid)
{
	unsigned i, given;

	for (i = 0; i < n; i++)
		if ((given = limit_zone_reap(refs[i]->z, pid)) > 0)
			log_msg(LL_NOTICE, "limit_conn \"%s\": %u open requests of pid %ld given back",
				limit_zone_name(refs[i]->z), given, (long)pid);
}
