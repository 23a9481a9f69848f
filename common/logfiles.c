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

/* The error log's destination, when it is syslog; the loader checked it. */
static int error_syslog_parse(struct logfiles *lf, const char *spec, char *err, size_t errlen)
{
	char why[256];

	lf->error_syslog = malloc(sizeof(*lf->error_syslog));
	if (lf->error_syslog == NULL) {
		snprintf(err, errlen, "out of memory opening log files");
		return -1;
	}
	if (syslog_dest_parse(spec, lf->error_syslog, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "error_log \"%s\": %s", spec, why);
		return -1;
	}
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
	if (lf->paths == NULL || lf->fds == NULL)
		goto nomem;
	if (!syslog_is_dest(conf->error_log))
		lf->paths[lf->n++] = conf->error_log;
	else if (error_syslog_parse(lf, conf->error_log, err, errlen) < 0)
		goto fail;
	for (i = 0; i < conf->nsites; i++)
		for (k = 0; k < conf->sites[i].nlogs; k++) {
			char *p = conf->sites[i].logs[k].destination;

			if (logfiles_index(lf, p) < 0)
				lf->paths[lf->n++] = p;
		}
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
	if (lf->error_syslog != NULL) {
		syslog_dest_close(lf->error_syslog);
		free(lf->error_syslog);
	}
	free(lf->paths);
	free(lf->fds);
	free(lf);
}
