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

/* Entered after everything that reads /etc (the user and its groups)
 * and before the uid changes, since only root may chroot. */
static int enter_root(const char *dir, char *err, size_t errlen)
{
	if (chroot(dir) < 0 || chdir("/") < 0) {
		snprintf(err, errlen, "chroot(\"%s\") failed: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int privs_drop(const char *user, bool explicit, const char *root, char *err,
	       size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (root == NULL)
			return 0;
		snprintf(err, errlen, "chroot \"%s\" needs the master to run as root", root);
		return -1;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "getpwnam(\"%s\") failed: %s", user,
			 errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		if (explicit)
			return root ? enter_root(root, err, errlen) : 0;
		snprintf(err, errlen, "refusing to serve as root: write user = \"root\" to mean it");
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0) {
		snprintf(err, errlen, "initgroups(\"%s\") failed: %s", user, strerror(errno));
		return -1;
	}
	if (root != NULL && enter_root(root, err, errlen) < 0)
		return -1;
	if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
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
