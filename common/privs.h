/*
 * privs.h: dropping root in a child process before it serves anyone.
 */
#ifndef PORTICO_PRIVS_H
#define PORTICO_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Become user (its uid, primary gid and supplementary groups), first
 * changing the root directory to root unless it is NULL. Only when
 * running as root; otherwise does nothing, or fails if a root was asked
 * for. Refuses to keep uid 0 unless explicit (the operator wrote
 * user = "root"). Returns 0, or -1 with the reason in err[errlen].
 */
int privs_drop(const char *user, bool explicit, const char *root, char *err,
	       size_t errlen);

#endif
