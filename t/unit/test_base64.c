/*
 * test_base64.c: strict base64 (Basic credentials) and base64url (JWS,
 * JWK) decoding: values, alphabets, padding, lengths, unused bits, room.
 */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "base64.h"

static ssize_t dec(const char *in, enum base64_form form, uint8_t *out, size_t cap)
{
	return base64_decode(in, strlen(in), form, out, cap);
}

static void test_url(void)
{
	uint8_t out[8];

	is_int(dec("", BASE64_URL, out, sizeof(out)), 0, "url: empty");
	is_int(dec("Zg", BASE64_URL, out, sizeof(out)), 1, "url: Zg, one byte");
	ok(out[0] == 'f', "... f");
	is_int(dec("Zm9v", BASE64_URL, out, sizeof(out)), 3, "url: Zm9v, foo");
	ok(memcmp(out, "foo", 3) == 0, "... right");
	is_int(dec("-_8", BASE64_URL, out, sizeof(out)), 2, "url: '-' and '_' are 62 and 63");
	ok(out[0] == 0xfb && out[1] == 0xff, "... right");
	is_int(dec("Zh", BASE64_URL, out, sizeof(out)), -1, "url: unused bits not zero");
	is_int(dec("Zg==", BASE64_URL, out, sizeof(out)), -1, "url: padding");
	is_int(dec("Z", BASE64_URL, out, sizeof(out)), -1, "url: a length no encoding has");
	is_int(dec("+/8", BASE64_URL, out, sizeof(out)), -1, "url: base64's '+' and '/'");
	is_int(dec("Zm9v", BASE64_URL, out, 2), -1, "url: no room");
}

static void test_padded(void)
{
	uint8_t out[16];

	is_int(dec("dTpw", BASE64_PADDED, out, sizeof(out)), 3, "padded: dTpw, u:p");
	ok(memcmp(out, "u:p", 3) == 0, "... right");
	is_int(dec("dTpwdw==", BASE64_PADDED, out, sizeof(out)), 4, "padded: two '='");
	ok(memcmp(out, "u:pw", 4) == 0, "... right");
	is_int(dec("dTpwd3c=", BASE64_PADDED, out, sizeof(out)), 5, "padded: one '='");
	ok(memcmp(out, "u:pww", 5) == 0, "... right");
	is_int(dec("+/8=", BASE64_PADDED, out, sizeof(out)), 2, "padded: '+' and '/'");
	ok(out[0] == 0xfb && out[1] == 0xff, "... are 62 and 63");
	is_int(dec("dTpwdw", BASE64_PADDED, out, sizeof(out)), -1, "padded: padding missing");
	is_int(dec("dTpwdx==", BASE64_PADDED, out, sizeof(out)), -1, "padded: unused bits not zero");
	is_int(dec("dTpw====", BASE64_PADDED, out, sizeof(out)), -1, "padded: four '='");
	is_int(dec("dT=w", BASE64_PADDED, out, sizeof(out)), -1, "padded: '=' inside");
	is_int(dec("d===", BASE64_PADDED, out, sizeof(out)), -1, "padded: three '='");
	is_int(dec("-_8=", BASE64_PADDED, out, sizeof(out)), -1, "padded: base64url's '-' and '_'");
	is_int(dec("dTpw", BASE64_PADDED, out, 2), -1, "padded: no room");
}

int main(void)
{
	test_url();
	test_padded();
	done_testing();
}
