/*
 * test_htpasswd.c: the hashes an htpasswd file may hold, the table of
 * its users, and the check of a password against hashes the system's
 * tools made (mkpasswd, openssl passwd), through libcrypt.
 */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "htpasswd.h"

static const char bcrypt[] = "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a";
static const char yescrypt[] =
	"$y$j9T$wmGTLwx2U2Ej7Mi2aA1uU.$WYX9QqIpvxHpfpVwhz3SLPxONjoeglVZftcH2CXHyUD";
static const char sha512[] = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5"
			     "knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
static const char sha512_rounds[] = "$6$rounds=5000$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt"
				    "6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
static const char sha256[] = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
static const char utf8[] = "$2b$05$m9gIfrcnBR5CENbM92QknOl7n8xI17EXqCkoToqP29riYWqhQZ3Qq";

static void test_accepted(void)
{
	const char *good[] = { bcrypt, yescrypt, sha512, sha512_rounds, sha256,
			       "$2y$10$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
			       "$2a$12$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a" };
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(htpasswd_hash_refused(good[i]) == NULL, "accepted: %.12s...", good[i]);
}

static void refused(const char *hash, const char *why_has, const char *what)
{
	const char *why = htpasswd_hash_refused(hash);

	ok(why != NULL && strstr(why, why_has) != NULL, "refused, %s: %s", what,
	   why ? why : "(accepted)");
}

static void test_refused(void)
{
	refused("", "no password hash", "empty");
	refused("secret", "plain text", "plain text");
	refused("{PLAIN}secret", "plain text", "plain text, Dovecot's way");
	refused("Ea5Y.zUlAoUz.", "DES-crypt", "DES");
	refused("_J9..abcdabcdabcdabc", "DES-crypt", "BSDi's extended DES");
	refused("$1$ubnaABrk$gRpE5Dv5HwyUs47itS4fT/", "MD5-crypt", "MD5-crypt");
	refused("$apr1$R.gBtD49$za7bI/m2aMoRtGG2oZACp.", "apr1", "Apache MD5");
	refused("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "SHA-1", "SHA-1");
	refused("$2x$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", "$2x$", "bcrypt $2x$");
	refused("$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0", "malformed bcrypt",
		"bcrypt one character short");
	refused("$2b$03$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a", "cost",
		"bcrypt of cost 3");
	refused("$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0!", "malformed bcrypt",
		"bcrypt with a character outside crypt's alphabet");
	refused("$y$j9T$wmGTLwx2U2Ej7Mi2aA1uU.$", "malformed yescrypt", "yescrypt without hash");
	refused("$y$j9T$WYX9QqIpvxHpfpVwhz3SLPxONjoeglVZftcH2CXHyUD", "malformed yescrypt",
		"yescrypt without salt");
	refused("$6$saltsalt$TVLl", "malformed SHA-512", "SHA-512-crypt cut short");
	refused("$6$saltsaltsaltsaltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5"
		"knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1", "malformed SHA-512",
		"SHA-512-crypt with a salt over 16 characters (crypt would cut it)");
	refused("$6$rounds=$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5"
		"knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1", "malformed SHA-512", "rounds= without a number");
	refused("$5$saltsalt$0IyaXrmV7", "malformed SHA-256", "SHA-256-crypt cut short");
	refused("$7$CU..../....abcdefgh$xyz", "does not take", "scrypt");
	refused("$gy$j9T$abc$def", "does not take", "gost-yescrypt");
}

static void test_users(void)
{
	ok(htpasswd_user_refused("alice", 5) == NULL, "a plain user name is fine");
	ok(htpasswd_user_refused("jos\xc3\xa9 q", 7) == NULL, "UTF-8 and spaces are fine");
	ok(htpasswd_user_refused("", 0) != NULL, "an empty name is not");
	ok(htpasswd_user_refused("a\tb", 3) != NULL, "nor one with a control character");
}

static void test_table(void)
{
	struct htpasswd *h = htpasswd_new();
	const struct htpasswd_entry *e, *twice;
	unsigned first = 0;

	if (!ok(h != NULL, "a table"))
		return;
	htpasswd_add(h, "carol", 5, sha512, 3);
	htpasswd_add(h, "alice", 5, bcrypt, 1);
	htpasswd_add(h, "bob", 3, yescrypt, 2);
	htpasswd_add(h, "jos\xc3\xa9 q", 7, utf8, 4);
	htpasswd_add(h, "dave", 4, sha256, 5);
	ok(htpasswd_finish(h, &first) == NULL, "no user twice");
	e = htpasswd_find(h, "bob", 3);
	ok(e != NULL && strcmp(e->hash, yescrypt) == 0, "bob is found");
	ok(htpasswd_find(h, "bo", 2) == NULL && htpasswd_find(h, "bobb", 4) == NULL &&
	   htpasswd_find(h, "Bob", 3) == NULL, "... and only bob, by its exact bytes");
	ok(htpasswd_find(h, "alice", 5) != NULL && htpasswd_find(h, "carol", 5) != NULL &&
	   htpasswd_find(h, "dave", 4) != NULL, "the others too");

	ok(htpasswd_verify(htpasswd_find(h, "alice", 5), "secret"), "bcrypt: right password");
	ok(!htpasswd_verify(htpasswd_find(h, "alice", 5), "Secret"), "bcrypt: wrong password");
	ok(!htpasswd_verify(htpasswd_find(h, "alice", 5), ""), "bcrypt: empty password");
	ok(htpasswd_verify(e, "secret"), "yescrypt: right password");
	ok(!htpasswd_verify(e, "secret "), "yescrypt: wrong password");
	ok(htpasswd_verify(htpasswd_find(h, "carol", 5), "secret"), "SHA-512-crypt: right");
	ok(!htpasswd_verify(htpasswd_find(h, "carol", 5), "secre"), "SHA-512-crypt: wrong");
	ok(htpasswd_verify(htpasswd_find(h, "dave", 4), "secret"), "SHA-256-crypt: right");
	e = htpasswd_find(h, "jos\xc3\xa9 q", 7);
	ok(e != NULL && htpasswd_verify(e, "p\xc3\xa4ssw\xc3\xb6rd"),
	   "a UTF-8 password, as its bytes");
	is_str(e ? e->log_name : NULL, "jos\\xc3\\xa9\\x20q",
	       "$remote_user of a name beyond printable ASCII: \\xHH");
	is_str(htpasswd_find(h, "bob", 3)->log_name, "bob", "... of a plain one: itself");

	htpasswd_add(h, "bob", 3, sha512, 9);
	twice = htpasswd_finish(h, &first);
	ok(twice != NULL && twice->line == 9 && first == 2,
	   "a user named twice: its second line (9), and its first (2)");
	htpasswd_free(h);
}

static void test_cache_key(void)
{
	struct htpasswd *a = htpasswd_new(), *b = htpasswd_new();
	uint8_t k1[HTPASSWD_KEY_LEN], k2[HTPASSWD_KEY_LEN];
	const struct htpasswd_entry *e;
	char long_password[1100];

	htpasswd_add(a, "alice", 5, bcrypt, 1);
	htpasswd_add(a, "alic", 4, bcrypt, 2);
	htpasswd_add(b, "alice", 5, bcrypt, 1);
	htpasswd_finish(a, &(unsigned){ 0 });
	htpasswd_finish(b, &(unsigned){ 0 });
	e = htpasswd_find(a, "alice", 5);
	ok(htpasswd_cache_key(a, e, "secret", k1) && htpasswd_cache_key(a, e, "secret", k2) &&
	   memcmp(k1, k2, sizeof(k1)) == 0, "a cache key is the same each time");
	htpasswd_cache_key(a, e, "secreT", k2);
	ok(memcmp(k1, k2, sizeof(k1)) != 0, "another password: another key");
	htpasswd_cache_key(a, htpasswd_find(a, "alic", 4), "esecret", k2);
	ok(memcmp(k1, k2, sizeof(k1)) != 0, "the user's end is not the password's start");
	htpasswd_cache_key(b, htpasswd_find(b, "alice", 5), "secret", k2);
	ok(memcmp(k1, k2, sizeof(k1)) != 0, "another reading of the file: another key");
	memset(long_password, 'x', sizeof(long_password) - 1);
	long_password[sizeof(long_password) - 1] = '\0';
	ok(!htpasswd_cache_key(a, e, long_password, k2), "a password over 1024 bytes has none");
	htpasswd_free(a);
	htpasswd_free(b);
}

/* An unknown user is checked against an entry of the kind and cost most
 * entries have, whatever sorts first: the time of a refusal does not
 * tell whether the user exists. */
static void test_decoy(void)
{
	struct htpasswd *h = htpasswd_new();
	const struct htpasswd_entry *d;

	htpasswd_add(h, "aaron", 5, sha512, 1);	/* sorts first, hashes fast */
	htpasswd_add(h, "bob", 3, bcrypt, 2);
	htpasswd_add(h, "carol", 5, utf8, 3);	/* bcrypt of the same cost */
	htpasswd_add(h, "dave", 4, yescrypt, 4);
	htpasswd_add(h, "erin", 4, sha512_rounds, 5);
	htpasswd_finish(h, &(unsigned){ 0 });
	d = &h->entries[h->decoy];
	ok(strncmp(d->hash, "$2b$05$", 7) == 0, "the decoy is of the most common kind and cost "
	   "(%s's)", d->user);
	htpasswd_free(h);
	h = htpasswd_new();
	htpasswd_add(h, "erin", 4, sha512_rounds, 1);
	htpasswd_add(h, "fred", 4, sha512_rounds, 2);
	htpasswd_add(h, "alice", 5, sha512, 3);
	htpasswd_finish(h, &(unsigned){ 0 });
	ok(strncmp(h->entries[h->decoy].hash, "$6$rounds=5000$", 15) == 0,
	   "SHA-crypt's rounds count as its cost, its salt does not");
	htpasswd_free(h);
}

int main(void)
{
	test_accepted();
	test_refused();
	test_users();
	test_table();
	test_cache_key();
	test_decoy();
	return done_testing();
}
