/*
 * auth_basic.c: HTTP Basic authentication on the request path.
 *
 * A request to a route that asks for it is let in when its one
 * Authorization field is "Basic" and the base64 of "user:password"
 * (RFC 7617, read strictly: padded base64, no control characters, a
 * bounded length), the user is in the route's file and the password
 * gives the user's hash. Then $remote_user is the user (its bytes other
 * than printable ASCII written \xHH), and the field goes on to the
 * server as it came, as nginx passes it. Anything else is answered 401
 * with the route's challenge; a failed attempt is logged once, at warn,
 * with the client and the user.
 *
 * Hashing a password is slow on purpose, and blocks this worker while
 * it lasts (bcrypt of cost 10: 50 to 100 ms of CPU, cost 12: four times
 * that). So a password found right is remembered for
 * auth_basic_cache_time in the shared auth cache, which every worker
 * reads, and a busy site hashes a user's password once per cache time
 * instead of once per request. An unknown user costs a hash too, so
 * that the time of an answer does not say which users exist.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth_cache.h"
#include "base64.h"
#include "event.h"
#include "htpasswd.h"
#include "log.h"
#include "modules/auth_basic.h"

/* The longest "user:password" taken, and its base64. */
#define CREDENTIALS_MAX 1024
#define BASE64_MAX ((CREDENTIALS_MAX + 2) / 3 * 4)
/* Bytes of a client's user name the error log shows. */
#define LOGGED_USER_MAX 64

struct credentials {
	char text[BASE64_MAX / 4 * 3 + 1];	/* "user:password", NUL-terminated */
	size_t user_len;			/* text[0..user_len) */
	const char *password;			/* NUL-terminated, in text */
};

/* The field's value as credentials; why it is not, for the log. */
static const char *parse_credentials(struct slice v, struct credentials *cr)
{
	const char *p = v.p + 5, *end = v.p + v.len, *colon;
	ssize_t n, i;

	if (v.len < 6 || strncasecmp(v.p, "basic", 5) != 0 || *p != ' ')
		return "not Basic credentials";
	while (p < end && *p == ' ')
		p++;
	if ((size_t)(end - p) > BASE64_MAX)
		return "credentials longer than 1024 bytes";
	if ((n = base64_decode(p, (size_t)(end - p), BASE64_PADDED, (uint8_t *)cr->text,
			       sizeof(cr->text) - 1)) <= 0)
		return "credentials not in base64";
	if (n > CREDENTIALS_MAX)
		return "credentials longer than 1024 bytes";
	for (i = 0; i < n; i++)
		if ((unsigned char)cr->text[i] < 0x20 || cr->text[i] == 0x7f)
			return "credentials with a control character";
	if ((colon = memchr(cr->text, ':', (size_t)n)) == NULL)
		return "credentials without \":\" after the user";
	cr->text[n] = '\0';
	cr->user_len = (size_t)(colon - cr->text);
	cr->password = colon + 1;
	return NULL;
}

/* A client's user name for the log, quoted there: at most
 * LOGGED_USER_MAX bytes of it, escaped. */
static const char *loggable(const char *s, size_t len, char out[LOGGED_USER_MAX * 4 + 4])
{
	size_t n = MIN(len, (size_t)LOGGED_USER_MAX);

	htpasswd_escape(s, n, true, out);
	if (n < len)
		strcat(out, "...");
	return out;
}

/* 401 with the route's challenge. */
static void challenge(struct exchange *x, const struct conf_auth_basic *ab)
{
	STATS_ADD(x->ctx->stats, c.auth_basic_refused, 1);
	exchange_deny(x, 401, "auth_basic", false);
	/* none when the answer could not start and the exchange ended */
	if (x->phase == PH_RESPONSE_HEAD)
		exchange_add_field(x, SLICE_LIT("WWW-Authenticate"),
				   (struct slice){ ab->challenge, strlen(ab->challenge) });
}

static void refuse(struct exchange *x, const struct conf_auth_basic *ab,
		   const struct credentials *cr, const char *why)
{
	char user[LOGGED_USER_MAX * 4 + 4];

	if (cr != NULL)
		exchange_log(x, LL_WARN, 0, "auth_basic: user \"%s\" refused: %s",
			     loggable(cr->text, cr->user_len, user), why);
	else
		exchange_log(x, LL_WARN, 0, "auth_basic: refused: %s", why);
	challenge(x, ab);
}

static bool verify(struct exchange *x, const struct htpasswd_entry *e, const char *password)
{
	STATS_ADD(x->ctx->stats, c.auth_basic_verifications, 1);
	return htpasswd_verify(e, password);
}

/* Whether password is e's, as the auth cache remembers it or as its hash
 * says (and then remembered). */
static bool password_right(struct exchange *x, const struct conf_auth_basic *ab,
			   const struct htpasswd_entry *e, const char *password)
{
	static const uint8_t right = 1;
	struct auth_cache *cache = x->ctx->auth_cache;
	uint8_t key[HTPASSWD_KEY_LEN], val;
	uint64_t now = ev_now_us() / 1000;
	bool remembered = cache != NULL && ab->cache_time > 0 &&
			  htpasswd_cache_key(ab->users, e, password, key);

	if (remembered && auth_cache_get(cache, AUTH_CACHE_BASIC, key, sizeof(key), &val,
					 sizeof(val), now) == 1) {
		STATS_ADD(x->ctx->stats, c.auth_basic_cache_hits, 1);
		return true;
	}
	if (!verify(x, e, password))
		return false;
	if (remembered)
		auth_cache_put(cache, AUTH_CACHE_BASIC, key, sizeof(key), &right, sizeof(right),
			       now + ab->cache_time);
	return true;
}

/* Who cr names, if the password is right; NULL after the answer. */
static const char *let_in(struct exchange *x, const struct conf_auth_basic *ab,
			  const struct credentials *cr)
{
	const struct htpasswd_entry *e = htpasswd_find(ab->users, cr->text, cr->user_len);

	if (e == NULL) {
		if (ab->users->n > 0)
			verify(x, &ab->users->entries[ab->users->decoy], cr->password);
		refuse(x, ab, cr, "unknown user");
		return NULL;
	}
	if (!password_right(x, ab, e, cr->password)) {
		refuse(x, ab, cr, "wrong password");
		return NULL;
	}
	return e->log_name;
}

static int check(struct exchange *x)
{
	const struct conf_auth_basic *ab;
	struct credentials cr;
	const char *why, *user = NULL;
	bool twice;
	struct slice v;

	if (x->route == NULL || !x->route->auth || x->route->auth_basic.realm == NULL)
		return P_OK;
	ab = &x->route->auth_basic;
	v = http_singleton_value(&x->req, "authorization", &twice);
	if (twice) {
		exchange_log(x, LL_WARN, 0, "auth_basic: refused: more than one Authorization "
			     "field");
		exchange_deny(x, 400, "auth_basic", true);
		return P_DONE;
	}
	if (v.p == NULL) {
		challenge(x, ab);
		return P_DONE;
	}
	if ((why = parse_credentials(v, &cr)) != NULL)
		refuse(x, ab, NULL, why);
	else
		user = let_in(x, ab, &cr);
	OPENSSL_cleanse(&cr, sizeof(cr));
	if (user == NULL)
		return P_DONE;
	x->auth_user = user;
	return P_OK;
}

const struct module auth_basic_module = {
	.name = "auth_basic",
	.access = check,
};
