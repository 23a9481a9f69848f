/*
 * cache_zones.c: cache zones seen from the master.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "cache_zones.h"
#include "process.h"

/* Handed on by the binary before us, until a configuration takes them. */
static struct cache_zone **inherited;
static unsigned ninherited;

static struct cache_zone *zone_wrap(struct cache_store *cs, int fd)
{
	struct cache_zone *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->cs = cs;
	z->fd = fd;
	z->refs = 1;
	return z;
}

static void zone_free(struct cache_zone *z)
{
	cs_destroy(z->cs);
	close(z->fd);
	free(z);
}

static void adopt(int fd)
{
	struct cache_zone **grown, *z;
	struct cache_store *cs;
	char err[256];

	cs = cs_attach(fd, err, sizeof(err));
	if (cs == NULL) {
		log_msg(LL_WARN, "binary upgrade: cache zone fd %d not taken over: %s", fd, err);
		close(fd);
		return;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	grown = realloc(inherited, (ninherited + 1) * sizeof(*inherited));
	if (grown != NULL)
		inherited = grown;
	if (grown == NULL || (z = zone_wrap(cs, fd)) == NULL) {
		log_msg(LL_ERROR, "binary upgrade: out of memory taking over cache \"%s\"",
			cs_name(cs));
		cs_destroy(cs);
		close(fd);
		return;
	}
	inherited[ninherited++] = z;
}

void cache_zones_inherit(void)
{
	process_inherit_fds(CACHE_FDS_ENV, adopt);
}

void cache_zones_drop_inherited(void)
{
	unsigned i;

	for (i = 0; i < ninherited; i++) {
		log_msg(LL_NOTICE, "cache \"%s\" of the previous binary is not configured any "
			"more (or changed size): dropped", cs_name(inherited[i]->cs));
		zone_free(inherited[i]);
	}
	free(inherited);
	inherited = NULL;
	ninherited = 0;
}

static bool fits(const struct cache_zone *z, const struct conf_cache *cc)
{
	return strcmp(cs_name(z->cs), cc->name) == 0 && cs_requested_size(z->cs) == cc->size;
}

static struct cache_zone *take_inherited(const struct conf_cache *cc)
{
	struct cache_zone *z;
	struct cs_stats st;
	unsigned i;

	for (i = 0; i < ninherited; i++) {
		if (!fits(inherited[i], cc))
			continue;
		z = inherited[i];
		inherited[i] = inherited[--ninherited];
		cs_stats(z->cs, &st);
		log_msg(LL_NOTICE, "cache \"%s\" taken over from the previous binary: %u objects",
			cc->name, st.objects);
		return z;
	}
	return NULL;
}

/* The zone for cc: kept, inherited or new. */
static struct cache_zone *zone_for(struct cache_zone *const *prev, unsigned nprev,
				   const struct conf_cache *cc, char *err, size_t errlen)
{
	struct cache_store *cs;
	struct cache_zone *z;
	unsigned i;
	int fd;

	for (i = 0; i < nprev; i++)
		if (prev[i] != NULL && fits(prev[i], cc)) {
			prev[i]->refs++;
			return prev[i];
		}
	if ((z = take_inherited(cc)) != NULL)
		return z;
	cs = cs_create(cc->name, cc->size, &fd, err, errlen);
	if (cs == NULL)
		return NULL;
	if ((z = zone_wrap(cs, fd)) == NULL) {
		snprintf(err, errlen, "out of memory");
		cs_destroy(cs);
		close(fd);
		return NULL;
	}
	log_msg(LL_INFO, "cache \"%s\": a new zone of %zu MiB", cc->name, cc->size >> 20);
	return z;
}

struct cache_zone *cache_zone_get(struct cache_zone *const *prev, unsigned nprev,
				  const struct conf_cache *cc, char *err, size_t errlen)
{
	struct cache_zone *z = zone_for(prev, nprev, cc, err, errlen);

	/* a setting of the zone, not of its layout: the last reload's holds */
	if (z != NULL)
		cs_set_inactive(z->cs, (cc->inactive + 999) / 1000);
	return z;
}

void cache_zone_put(struct cache_zone *z)
{
	if (z != NULL && --z->refs == 0)
		zone_free(z);
}

static int zone_fd_at(const void *zones, unsigned i)
{
	return ((struct cache_zone *const *)zones)[i]->fd;
}

void cache_zones_export(struct cache_zone *const *zones, unsigned n)
{
	process_export_fds(CACHE_FDS_ENV, zones, n, zone_fd_at);
}

void cache_zones_reap(struct cache_zone *const *zones, unsigned n, pid_t writer)
{
	unsigned i, freed;

	for (i = 0; i < n; i++)
		if ((freed = cs_reap(zones[i]->cs, writer)) > 0)
			log_msg(LL_WARN, "cache \"%s\": %u objects half written by pid %ld freed",
				cs_name(zones[i]->cs), freed, (long)writer);
}
