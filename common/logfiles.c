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

int logfiles_index(const struct logfiles *lf, const char *path)
{
	unsigned i;

	for (i = 0; i < lf->n; i++)
		if (strcmp(lf->paths[i], path) == 0)
			return (int)i;
	return -1;
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
	lf->paths[lf->n++] = conf->error_log;
	for (i = 0; i < conf->nsites; i++)
		for (k = 0; k < conf->sites[i].nlogs; k++) {
			char *p = conf->sites[i].logs[k].destination;

			if (logfiles_index(lf, p) < 0)
				lf->paths[lf->n++] = p;
		}
	if (logfiles_reopen(lf, lf->fds, err, errlen) < 0) {
		lf->n = 0;
		logfiles_free(lf);
		return NULL;
	}
	return lf;
nomem:
	snprintf(err, errlen, "out of memory opening log files");
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
	free(lf->paths);
	free(lf->fds);
	free(lf);
}
