/*
 * test_log_escape.c: access log values in the three escapes: what each
 * writes for quotes, backslashes, control bytes, UTF-8 and stray bytes,
 * and that an escape is never cut when room runs out.
 */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "log_escape.h"

static char out[256];

static const char *esc(enum conf_log_escape mode, const char *in, size_t cap)
{
	size_t n = log_escape(mode, in, strlen(in), out, cap);

	out[n] = '\0';
	return out;
}

static void test_default(void)
{
	is_str(esc(LOG_ESCAPE_DEFAULT, "GET /a?b=c", 200), "GET /a?b=c", "default: plain text");
	is_str(esc(LOG_ESCAPE_DEFAULT, "a\"b\\c", 200), "a\\x22b\\x5Cc",
	       "default: quote and backslash as \\xHH");
	is_str(esc(LOG_ESCAPE_DEFAULT, "\t\n\x7f", 200), "\\x09\\x0A\\x7F", "default: control bytes");
	is_str(esc(LOG_ESCAPE_DEFAULT, "caf\xc3\xa9", 200), "caf\\xC3\\xA9",
	       "default: every non-ASCII byte");
	is_str(esc(LOG_ESCAPE_DEFAULT, "ab\"", 5), "ab", "default: an escape that does not fit is "
	       "left out whole");
}

static void test_json(void)
{
	is_str(esc(LOG_ESCAPE_JSON, "a\"b\\c", 200), "a\\\"b\\\\c", "json: \\\" and \\\\");
	is_str(esc(LOG_ESCAPE_JSON, "\t\n\r\b\f", 200), "\\t\\n\\r\\b\\f", "json: short escapes");
	is_str(esc(LOG_ESCAPE_JSON, "\x01\x1f\x7f", 200), "\\u0001\\u001f\\u007f",
	       "json: other control bytes as \\u00XX");
	is_str(esc(LOG_ESCAPE_JSON, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 200),
	       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "json: valid UTF-8 kept");
	is_str(esc(LOG_ESCAPE_JSON, "\xff\xc3(\xc0\xaf", 200), "\\u00ff\\u00c3(\\u00c0\\u00af",
	       "json: stray bytes, a cut sequence and an overlong form as \\u00XX");
	is_str(esc(LOG_ESCAPE_JSON, "\xed\xa0\x80", 200), "\\u00ed\\u00a0\\u0080",
	       "json: a surrogate is not UTF-8");
	is_str(esc(LOG_ESCAPE_JSON, "ab\x01", 7), "ab", "json: \\u00XX is not cut");
	is_str(esc(LOG_ESCAPE_JSON, "a\xe2\x82\xac", 3), "a", "json: a UTF-8 sequence is not cut");
}

static void test_none(void)
{
	is_str(esc(LOG_ESCAPE_NONE, "a\"b\\c\t\xff", 200), "a\"b\\c\t\xff", "none: as it is");
	is_str(esc(LOG_ESCAPE_NONE, "abcdef", 3), "abc", "none: cut at the room");
}

int main(void)
{
	test_default();
	test_json();
	test_none();
	done_testing();
}
