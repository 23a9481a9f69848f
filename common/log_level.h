/*
 * log_level.h: the levels of log lines, from emerg (0) to debug (7), as
 * syslog numbers its severities, and their names in the configuration.
 */
#ifndef PORTICO_LOG_LEVEL_H
#define PORTICO_LOG_LEVEL_H

enum log_level {
	LL_EMERG = 0, LL_ALERT, LL_CRIT, LL_ERROR, LL_WARN, LL_NOTICE,
	LL_INFO, LL_DEBUG
};

/* Level from its name ("error", "warn", ...); -1 if unknown. */
int log_level_parse(const char *name);

/* The name of level, "?" for none. */
const char *log_level_name(int level);

#endif
