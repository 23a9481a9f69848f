/*
 * htpasswd.h: the users of HTTP Basic authentication, as an htpasswd
 * file lists them ("user:hash" lines), and the check of a password.
 *
 * Owns: which password hashes are accepted (bcrypt $2y$/$2b$/$2a$,
 * yescrypt $y$, SHA-512-crypt $6$, SHA-256-crypt $5$: the kinds the
 * system's libcrypt makes today) and why the others are refused, the
 * table of users the master reads (conf_auth_basic.c), found by name in
 * a worker, and the verification itself, through libcrypt's crypt_rn()
 * and a comparison in constant time.
 *
 * Verifying is slow on purpose (bcrypt of cost 10 takes 50 to 100 ms of
 * CPU, cost 12 four times that, yescrypt as mkpasswd makes it about as
 * long as bcrypt of cost 10) and blocks the calling process for that
 * long; the worker remembers the passwords it verified (auth_basic.c).
 */
#ifndef PORTICO_HTPASSWD_H
#define PORTICO_HTPASSWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htpasswd_entry {
	char *user;			/* as written, without NUL or control bytes */
	size_t user_len;
	char *hash;			/* as written: "$2b$10$..." */
	char *log_name;			/* user for $remote_user and the logs:
					 * itself when printable ASCII without
					 * spaces, else with \xHH for the other
					 * bytes */
	unsigned line;			/* in the file */
};

struct htpasswd {
	struct htpasswd_entry *entries;	/* sorted by user, for lookups */
	unsigned n, cap;
	uint8_t secret[32];		/* random, one per reading: keys the
					 * names of remembered verifications */
	unsigned decoy;			/* the entry an unknown user is checked
					 * against: one of the most common kind
					 * and cost, so that the time of an
					 * answer does not tell users apart */
};

/* Why hash cannot be an entry's (a static text: "an MD5-crypt hash, too
 * weak ..."), or NULL when it is one of the accepted kinds, well formed,
 * and this system's libcrypt verifies it. */
const char *htpasswd_hash_refused(const char *hash);

/* Why user cannot be an entry's name, or NULL. */
const char *htpasswd_user_refused(const char *user, size_t len);

/* A new empty table with a fresh secret; NULL when out of memory or when
 * no random bytes could be had. */
struct htpasswd *htpasswd_new(void);

/* Add user (len bytes) with hash, from line; -1 when out of memory. The
 * caller has checked both. */
int htpasswd_add(struct htpasswd *h, const char *user, size_t len, const char *hash,
		 unsigned line);

/* Sort the table once every entry is in, and choose its decoy. The first
 * user named twice, if any, is returned (its second entry; *first_line is
 * the first's line). */
const struct htpasswd_entry *htpasswd_finish(struct htpasswd *h, unsigned *first_line);

/* The entry of user (len bytes), or NULL. */
const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, const char *user,
					   size_t len);

/* Whether password (NUL-terminated) is e's: hashed with e's settings by
 * crypt_rn(), compared with e's hash in constant time. Blocks for as long
 * as the hash takes. */
bool htpasswd_verify(const struct htpasswd_entry *e, const char *password);

/* The name under which a verification of password for e is remembered:
 * HMAC-SHA-256, keyed by h's secret, of e's user and hash and password,
 * so that neither the password nor a fast hash of it is ever stored;
 * false for a password over 1024 bytes, which is not remembered. */
#define HTPASSWD_KEY_LEN 32
bool htpasswd_cache_key(const struct htpasswd *h, const struct htpasswd_entry *e,
			const char *password, uint8_t key[HTPASSWD_KEY_LEN]);

/* name[len] into out (room for len * 4 + 1 bytes, NUL-terminated) with
 * '\\' and the bytes that are not printable ASCII written \xHH, and the
 * space too unless quoted (where '"' is written \x22 instead): as the
 * logs and $remote_user show user names, each name one way only. */
void htpasswd_escape(const char *name, size_t len, bool quoted, char *out);

void htpasswd_free(struct htpasswd *h);

#endif
