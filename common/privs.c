/*
 * privs.c: privilege drop.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privs.h"

int privs_drop(const char *user, bool explicit, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "getpwnam(\"%s\") failed: %s", user,
			 errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		if (explicit)
			return 0;
		snprintf(err, errlen, "refusing to serve as root: write user = \"root\" to mean it");
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become user \"%s\": %s", user, strerror(errno));
		return -1;
	}
	/* Make sure the drop cannot be undone. */
	if (setuid(0) == 0) {
		snprintf(err, errlen, "setuid(0) succeeded after dropping to \"%s\"", user);
		return -1;
	}
	return 0;
}
