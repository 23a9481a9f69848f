/*
 * log_level.c: the names of the log levels.
 */
#include "config.h"

#include <string.h>

#include "log_level.h"

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};

int log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < LL_EMERG || level > LL_DEBUG)
		return "?";
	return level_names[level];
}
