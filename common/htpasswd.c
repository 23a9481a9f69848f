/*
 * htpasswd.c: the users of an htpasswd file and the check of their
 * passwords (htpasswd.h).
 */
#include "config.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth_cache.h"
#include "core.h"
#include "htpasswd.h"

#define USER_MAX 255
#define HASH_MAX 255
#define PASSWORD_MAX 1024	/* longer ones have no cache key */

#define REMAKE ": make it again with bcrypt (htpasswd -B, mkpasswd -m bcrypt) or yescrypt " \
	"(mkpasswd -m yescrypt)"

/* The characters of crypt's base-64 alphabet. */
static bool crypt_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/';
}

static bool crypt_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!crypt_char(s[i]))
			return false;
	return true;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "$2b$", two digits of cost, "$", then 22 characters of salt and 31 of
 * hash. */
static const char *bcrypt_refused(const char *h)
{
	const char *p = h + 4;
	int cost;

	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != '$' ||
	    strlen(p + 3) != 53 || !crypt_chars(p + 3, 53))
		return "a malformed bcrypt hash (\"$2b$\", two digits of cost, \"$\" and 53 "
		       "characters)";
	cost = (p[0] - '0') * 10 + (p[1] - '0');
	if (cost < 4 || cost > 31)
		return "a bcrypt hash whose cost is not within 04..31";
	return NULL;
}

/* "$y$", parameters, "$", salt, "$", then 43 characters of hash. */
static const char *yescrypt_refused(const char *h)
{
	const char *params = h + 3, *salt = strchr(params, '$'), *hash;

	if (salt == NULL || salt == params || !crypt_chars(params, (size_t)(salt - params)))
		goto bad;
	salt++;
	if ((hash = strchr(salt, '$')) == NULL || hash == salt ||
	    !crypt_chars(salt, (size_t)(hash - salt)))
		goto bad;
	hash++;
	if (strlen(hash) == 43 && crypt_chars(hash, 43))
		return NULL;
bad:
	return "a malformed yescrypt hash (\"$y$\", parameters, \"$\", salt, \"$\" and 43 "
	       "characters)";
}

/* "$6$" or "$5$", "rounds=N$" or not, 1 to 16 characters of salt, "$",
 * then len characters of hash. */
static bool shacrypt_ok(const char *h, size_t len)
{
	const char *salt = h + 3, *hash;

	if (starts(salt, "rounds=")) {
		const char *d = salt + 7;

		salt = d + strspn(d, "0123456789");
		if (salt == d || *salt != '$')
			return false;
		salt++;
	}
	if ((hash = strchr(salt, '$')) == NULL || hash == salt || hash - salt > 16)
		return false;
	for (; salt < hash; salt++)
		if (*salt <= ' ' || *salt == ':' || *salt == 0x7f)
			return false;
	hash++;
	return strlen(hash) == len && crypt_chars(hash, len);
}

/* Traditional DES-crypt: 13 characters; BSDi's: "_" and 19. */
static bool des_crypt(const char *h)
{
	size_t n = strlen(h);

	return (n == 13 && crypt_chars(h, n)) || (n == 20 && h[0] == '_' && crypt_chars(h + 1, 19));
}

static const char *kind_refused(const char *h)
{
	if (*h == '\0')
		return "no password hash";
	if (starts(h, "$2y$") || starts(h, "$2b$") || starts(h, "$2a$"))
		return bcrypt_refused(h);
	if (starts(h, "$y$"))
		return yescrypt_refused(h);
	if (starts(h, "$6$"))
		return shacrypt_ok(h, 86) ? NULL : "a malformed SHA-512-crypt hash";
	if (starts(h, "$5$"))
		return shacrypt_ok(h, 43) ? NULL : "a malformed SHA-256-crypt hash";
	if (starts(h, "$apr1$"))
		return "an Apache MD5 (apr1) hash, too weak to accept" REMAKE;
	if (starts(h, "$1$"))
		return "an MD5-crypt hash, too weak to accept" REMAKE;
	if (starts(h, "{SHA}") || starts(h, "{SSHA}"))
		return "a SHA-1 hash, too weak to accept" REMAKE;
	if (starts(h, "$2x$"))
		return "a bcrypt hash of the $2x$ kind, which a broken implementation made" REMAKE;
	if (des_crypt(h))
		return "a DES-crypt hash, too weak to accept (it keeps 8 characters of a "
		       "password)" REMAKE;
	if (h[0] == '$')
		return "a kind of hash portico does not take (bcrypt $2y$, $2b$, $2a$, yescrypt "
		       "$y$, SHA-512-crypt $6$, SHA-256-crypt $5$)";
	return "not a password hash (a password in plain text?): the file holds hashes "
	       "only" REMAKE;
}

const char *htpasswd_hash_refused(const char *hash)
{
	const char *why = kind_refused(hash);
	int r;

	if (strlen(hash) > HASH_MAX)
		return "a hash longer than 255 characters";
	if (why != NULL)
		return why;
	/* Debian's libcrypt calls SHA-256-crypt legacy, yet verifies it */
	r = crypt_checksalt(hash);
	if (r != CRYPT_SALT_OK && r != CRYPT_SALT_METHOD_LEGACY)
		return "a kind of hash this system's libcrypt does not verify";
	return NULL;
}

const char *htpasswd_user_refused(const char *user, size_t len)
{
	size_t i;

	if (len == 0)
		return "an empty user name";
	if (len > USER_MAX)
		return "a user name longer than 255 bytes";
	for (i = 0; i < len; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return "a user name with a control character";
	return NULL;
}

struct htpasswd *htpasswd_new(void)
{
	struct htpasswd *h = calloc(1, sizeof(*h));

	if (h != NULL && RAND_bytes(h->secret, sizeof(h->secret)) != 1) {
		free(h);
		return NULL;
	}
	return h;
}

/* The name as $remote_user has it: printable ASCII without spaces but
 * '\', the other bytes written \xHH (so that two names never read
 * alike). NULL when out of memory. */
static char *log_name_of(const char *user, size_t len)
{
	char *out = malloc(len * 4 + 1);

	if (out != NULL)
		htpasswd_escape(user, len, false, out);
	return out;
}

void htpasswd_escape(const char *name, size_t len, bool quoted, char *out)
{
	unsigned char lowest = quoted ? ' ' : '!';
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= lowest && c < 0x7f && c != '\\' && !(quoted && c == '"')) {
			*out++ = (char)c;
		} else {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = "0123456789abcdef"[c >> 4];
			*out++ = "0123456789abcdef"[c & 15];
		}
	}
	*out = '\0';
}

int htpasswd_add(struct htpasswd *h, const char *user, size_t len, const char *hash,
		 unsigned line)
{
	struct htpasswd_entry *v, *e;

	if (h->n == h->cap) {
		v = realloc(h->entries, (h->cap ? h->cap * 2 : 8) * sizeof(*v));
		if (v == NULL)
			return -1;
		h->entries = v;
		h->cap = h->cap ? h->cap * 2 : 8;
	}
	e = &h->entries[h->n];
	e->user = malloc(len + 1);
	e->hash = strdup(hash);
	e->log_name = log_name_of(user, len);
	if (e->user == NULL || e->hash == NULL || e->log_name == NULL) {
		free(e->user);
		free(e->hash);
		free(e->log_name);
		return -1;
	}
	memcpy(e->user, user, len);
	e->user[len] = '\0';
	e->user_len = len;
	e->line = line;
	h->n++;
	return 0;
}

static int compare_names(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, MIN(alen, blen));

	return r != 0 ? r : alen < blen ? -1 : alen > blen;
}

static int compare_entries(const void *a, const void *b)
{
	const struct htpasswd_entry *x = a, *y = b;
	int r = compare_names(x->user, x->user_len, y->user, y->user_len);

	return r != 0 ? r : x->line < y->line ? -1 : 1;
}

/* The length of hash's settings, what sets the time it takes: its kind
 * and cost ("$2b$10$", "$y$j9T$", "$6$rounds=9000$"; "$6$" alone for
 * the default rounds), not its salt. */
static size_t settings_len(const char *hash)
{
	unsigned dollars = hash[1] == '5' || hash[1] == '6' ? 2 : 3, seen = 0;
	size_t i;

	if (dollars == 2 && strncmp(hash + 3, "rounds=", 7) == 0)
		dollars = 3;
	for (i = 0; hash[i] != '\0'; i++)
		if (hash[i] == '$' && ++seen == dollars)
			return i + 1;
	return i;
}

/* Among the first entries (a sample: a file is usually one kind and cost
 * throughout), the one whose settings most others share. */
static unsigned choose_decoy(const struct htpasswd *h)
{
	unsigned n = MIN(h->n, 64u), best = 0, best_count = 0, i, k;

	for (i = 0; i < n; i++) {
		const char *a = h->entries[i].hash;
		size_t len = settings_len(a);
		unsigned count = 0;

		for (k = 0; k < n; k++)
			count += settings_len(h->entries[k].hash) == len &&
				 strncmp(h->entries[k].hash, a, len) == 0;
		if (count > best_count) {
			best = i;
			best_count = count;
		}
	}
	return best;
}

const struct htpasswd_entry *htpasswd_finish(struct htpasswd *h, unsigned *first_line)
{
	unsigned i;

	if (h->n > 1)
		qsort(h->entries, h->n, sizeof(*h->entries), compare_entries);
	h->decoy = choose_decoy(h);
	for (i = 1; i < h->n; i++)
		if (compare_names(h->entries[i - 1].user, h->entries[i - 1].user_len,
				  h->entries[i].user, h->entries[i].user_len) == 0) {
			*first_line = h->entries[i - 1].line;
			return &h->entries[i];
		}
	return NULL;
}

const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, const char *user,
					   size_t len)
{
	unsigned lo = 0, hi = h->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct htpasswd_entry *e = &h->entries[mid];
		int r = compare_names(user, len, e->user, e->user_len);

		if (r == 0)
			return e;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool htpasswd_verify(const struct htpasswd_entry *e, const char *password)
{
	/* 32 KiB: one per process, which hashes one password at a time */
	static struct crypt_data scratch;
	const char *out = crypt_rn(password, e->hash, &scratch, sizeof(scratch));
	size_t n = strlen(e->hash);
	bool same = out != NULL && strlen(out) == n && CRYPTO_memcmp(out, e->hash, n) == 0;

	/* what a password left in it is nobody's business */
	OPENSSL_cleanse(&scratch, sizeof(scratch));
	return same;
}

bool htpasswd_cache_key(const struct htpasswd *h, const struct htpasswd_entry *e,
			const char *password, uint8_t key[HTPASSWD_KEY_LEN])
{
	const struct slice parts[] = {
		{ e->user, e->user_len }, { e->hash, strlen(e->hash) },
		{ password, strlen(password) },
	};

	if (parts[2].len > PASSWORD_MAX)
		return false;
	return auth_cache_key(h->secret, parts, ARRAY_LEN(parts), key);
}

void htpasswd_free(struct htpasswd *h)
{
	unsigned i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		free(h->entries[i].user);
		free(h->entries[i].hash);
		free(h->entries[i].log_name);
	}
	free(h->entries);
	OPENSSL_cleanse(h->secret, sizeof(h->secret));
	free(h);
}
