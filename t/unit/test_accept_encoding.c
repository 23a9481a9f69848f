/*
 * test_accept_encoding.c: what Accept-Encoding values say of gzip and
 * the other codings (http_coding.c): q-values, "*", x-gzip, several
 * fields, and values that cannot be read refusing rather than accepting.
 * And what Accept says of a media type: the most specific range's weight.
 */
#include "config.h"

#include <string.h>

#include "http_coding.h"
#include "tap.h"

static bool accepts(const char *a, const char *b)
{
	struct accept_coding ac;

	accept_coding_init(&ac);
	accept_coding_add(&ac, (struct slice){ a, strlen(a) });
	if (b != NULL)
		accept_coding_add(&ac, (struct slice){ b, strlen(b) });
	return accept_coding_allows(&ac, CODING_GZIP);
}

/* The weight Accept fields a and b (NULL: none) give type. */
static int media_q(const char *a, const char *b, const char *type)
{
	static struct http_message m;

	m.nheaders = 0;
	if (a != NULL)
		m.headers[m.nheaders++] = (struct http_header){ .name = SLICE_LIT("Accept"),
								.value = { a, strlen(a) } };
	if (b != NULL)
		m.headers[m.nheaders++] = (struct http_header){ .name = SLICE_LIT("accept"),
								.value = { b, strlen(b) } };
	return http_accept_media(&m, type);
}

int main(void)
{
	static const struct {
		const char *a, *b;
		bool want;
	} cases[] = {
		{ "gzip", NULL, true },
		{ "GZip", NULL, true },
		{ "x-gzip", NULL, true },
		{ "gzip, deflate, br", NULL, true },
		{ "br;q=1.0, gzip;q=0.8", NULL, true },
		{ "gzip;q=0.001", NULL, true },
		{ "gzip ; Q=1", NULL, true },
		{ "*", NULL, true },
		{ "*;q=0.5, br", NULL, true },
		{ "gzip;q=0", NULL, false },
		{ "gzip;q=0.0", NULL, false },
		{ "gzip;q=0.000", NULL, false },
		{ "*, gzip;q=0", NULL, false },
		{ "gzip;q=0, *", NULL, false },
		{ "*;q=0", NULL, false },
		{ "identity", NULL, false },
		{ "identity;q=1, *;q=0", NULL, false },
		{ "br, deflate", NULL, false },
		{ "", NULL, false },
		{ ",,, ,", NULL, false },
		{ "gzip;q=2", NULL, false },
		{ "gzip;q=0.0001", NULL, false },
		{ "gzip;q=abc", NULL, false },
		{ "gzip;q=", NULL, false },
		{ "gzipx", NULL, false },
		{ "br", "gzip", true },
		{ "gzip", "gzip;q=0", false },
		{ "*", "identity", true },
	};

	/* each coding on its own: br, deflate, gzip, zstd allowed (1) or not */
	static const struct {
		const char *value, *want;
	} each[] = {
		{ "br, gzip", "1010" },
		{ "*;q=0.5, deflate;q=0", "1011" },
		{ "zstd;q=0.1, br;q=0, x-gzip", "0011" },
		{ "DEFLATE ; q=1.0", "0100" },
		{ "identity, *;q=0", "0000" },
		{ "", "0000" },
	};
	struct accept_coding ac;
	unsigned i, k;

	for (i = 0; i < ARRAY_LEN(cases); i++)
		is_int(accepts(cases[i].a, cases[i].b), cases[i].want, "\"%s\"%s%s%s: %s",
		       cases[i].a, cases[i].b ? " + \"" : "", cases[i].b ? cases[i].b : "",
		       cases[i].b ? "\"" : "", cases[i].want ? "gzip" : "not gzip");
	for (i = 0; i < ARRAY_LEN(each); i++) {
		char got[CODING_COUNT + 1];

		accept_coding_init(&ac);
		accept_coding_add(&ac, (struct slice){ each[i].value, strlen(each[i].value) });
		for (k = 0; k < CODING_COUNT; k++)
			got[k] = accept_coding_allows(&ac, (enum http_coding)k) ? '1' : '0';
		got[CODING_COUNT] = '\0';
		is_str(got, each[i].want, "\"%s\": br, deflate, gzip, zstd", each[i].value);
	}
	is_str(http_coding_name(CODING_GZIP), "gzip", "a coding's name");

	static const struct {
		const char *a, *b, *type;
		int want;
	} media[] = {
		{ NULL, NULL, "text/html", -1 },
		{ "text/html", NULL, "text/html", 1000 },
		{ "Text/HTML", NULL, "text/html", 1000 },
		{ "text/*", NULL, "text/html", 1000 },
		{ "*/*", NULL, "application/json", 1000 },
		{ "*/*;q=0.8", NULL, "application/json", 800 },
		{ "image/png", NULL, "text/html", 0 },
		{ "", NULL, "text/html", 0 },
		{ "text/html;level=1;q=0.4", NULL, "text/html", 400 },
		{ "text/html ; q=0.5 , application/json", NULL, "text/html", 500 },
		{ "text/*;q=0.3, text/html;q=0.7, */*;q=0.1", NULL, "text/html", 700 },
		{ "text/*;q=0.3, text/html;q=0.7, */*;q=0.1", NULL, "text/plain", 300 },
		{ "text/*;q=0.3, text/html;q=0.7, */*;q=0.1", NULL, "application/json", 100 },
		{ "text/html;q=0, */*", NULL, "text/html", 0 },
		{ "*/*, text/html;q=0", NULL, "text/html", 0 },
		{ "text/html;q=0.9", "text/html;q=0.2", "text/html", 200 },
		{ "text/html;q=abc", NULL, "text/html", 0 },
		{ "texthtml", NULL, "text/html", 0 },
		{ "text/htmlx", NULL, "text/html", 0 },
		{ "tex/*", NULL, "text/html", 0 },
		{ "application/json", "text/html", "text/html", 1000 },
	};
	for (i = 0; i < ARRAY_LEN(media); i++)
		is_int(media_q(media[i].a, media[i].b, media[i].type), media[i].want,
		       "Accept \"%s\"%s%s%s: %s weighs %d", media[i].a ? media[i].a : "(none)",
		       media[i].b ? " + \"" : "", media[i].b ? media[i].b : "",
		       media[i].b ? "\"" : "", media[i].type, media[i].want);
	return done_testing();
}
