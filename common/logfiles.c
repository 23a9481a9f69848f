/*
 * logfiles.c: the log files of a configuration.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "logfiles.h"
#include "syslog.h"

int logfiles_index(const struct logfiles *lf, const char *path)
{
	unsigned i;

	for (i = 0; i < lf->n; i++)
		if (strcmp(lf->paths[i], path) == 0)
			return (int)i;
	return -1;
}

int logfiles_error_fd(const struct logfiles *lf)
{
	return lf->error_syslog == NULL && lf->n > 0 ? lf->fds[0] : -1;
}

struct syslog_dest *logfiles_syslog(const struct logfiles *lf, const char *spec)
{
	unsigned i;

	for (i = 0; i < lf->nsyslogs; i++)
		if (strcmp(lf->syslog_specs[i], spec) == 0)
			return &lf->syslogs[i];
	return NULL;
}

void logfiles_close_syslogs(const struct logfiles *lf)
{
	unsigned i;

	for (i = 0; i < lf->nsyslogs; i++)
		syslog_dest_close(&lf->syslogs[i]);
}

/* A syslog destination of the set, once however many logs name it; the
 * loader checked it. */
static int add_syslog(struct logfiles *lf, const char *spec, char *err, size_t errlen)
{
	char why[256];

	if (logfiles_syslog(lf, spec) != NULL)
		return 0;
	if (syslog_dest_parse(spec, &lf->syslogs[lf->nsyslogs], why, sizeof(why)) < 0) {
		snprintf(err, errlen, "\"%s\": %s", spec, why);
		return -1;
	}
	lf->syslog_specs[lf->nsyslogs++] = spec;
	return 0;
}

/* A destination of the set: a file opened once however many logs name
 * it, or a syslog destination. */
static int add_dest(struct logfiles *lf, char *dest, char *err, size_t errlen)
{
	if (syslog_is_dest(dest))
		return add_syslog(lf, dest, err, errlen);
	if (logfiles_index(lf, dest) < 0)
		lf->paths[lf->n++] = dest;
	return 0;
}

/* The group of the log files we create: adm, which may read the logs on
 * Debian (and which logrotate's "create 0640 root adm" gives the rotated
 * ones), when the system has it. */
static gid_t log_group(void)
{
	const struct group *gr = getgrnam(LOG_GROUP);

	return gr != NULL ? gr->gr_gid : (gid_t)-1;
}

int logfiles_reopen(const struct logfiles *lf, int *fds, char *err, size_t errlen)
{
	gid_t group = log_group();
	unsigned i;

	for (i = 0; i < lf->n; i++) {
		fds[i] = log_open_file(lf->paths[i], group);
		if (fds[i] < 0) {
			snprintf(err, errlen, "open() \"%s\" failed (%d: %s)",
				 lf->paths[i], errno, strerror(errno));
			while (i > 0)
				close(fds[--i]);
			return -1;
		}
	}
	return 0;
}

struct logfiles *logfiles_open(const struct conf *conf, char *err, size_t errlen)
{
	struct logfiles *lf;
	size_t nlogs = 0;
	unsigned i, k;

	lf = calloc(1, sizeof(*lf));
	if (lf == NULL)
		goto nomem;
	for (i = 0; i < conf->nsites; i++)
		nlogs += conf->sites[i].nlogs;
	lf->paths = calloc(nlogs + 1, sizeof(*lf->paths));
	lf->fds = calloc(nlogs + 1, sizeof(*lf->fds));
	lf->syslog_specs = calloc(nlogs + 1, sizeof(*lf->syslog_specs));
	lf->syslogs = calloc(nlogs + 1, sizeof(*lf->syslogs));
	if (lf->paths == NULL || lf->fds == NULL || lf->syslog_specs == NULL ||
	    lf->syslogs == NULL)
		goto nomem;
	if (add_dest(lf, conf->error_log, err, errlen) < 0)
		goto fail;
	lf->error_syslog = logfiles_syslog(lf, conf->error_log);
	for (i = 0; i < conf->nsites; i++)
		for (k = 0; k < conf->sites[i].nlogs; k++)
			if (add_dest(lf, conf->sites[i].logs[k].destination, err, errlen) < 0)
				goto fail;
	if (logfiles_reopen(lf, lf->fds, err, errlen) < 0) {
		lf->n = 0;
		goto fail;
	}
	return lf;
nomem:
	snprintf(err, errlen, "out of memory opening log files");
fail:
	if (lf != NULL)
		logfiles_free(lf);
	return NULL;
}

void logfiles_free(struct logfiles *lf)
{
	unsigned i;

	for (i = 0; i < lf->n; i++)
		if (lf->fds[i] >= 0)
			close(lf->fds[i]);
	logfiles_close_syslogs(lf);
	free(lf->syslogs);
	free(lf->syslog_specs);
	free(lf->paths);
	free(lf->fds);
	free(lf);
}
