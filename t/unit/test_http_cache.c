/*
 * test_http_cache.c: RFC 9111 for a shared cache: Cache-Control parsed,
 * HTTP-dates in their three forms, what may be stored, freshness
 * lifetimes and ages, with the RFC's own examples where it has them;
 * preconditions and ranges (RFC 9110) as the cache answers them; and the
 * stored form: heads kept and merged, Vary's keys.
 */
#include <stdio.h>
#include <string.h>

#include "cache_object.h"
#include "http_cache.h"
#include "http_cond.h"
#include "tap.h"

static struct http_message req, resp;
static char req_buf[2048], resp_buf[2048];

static void parse_req(const char *fields)
{
	int n = snprintf(req_buf, sizeof(req_buf), "GET /x HTTP/1.1\r\nHost: a\r\n%s\r\n", fields);

	if (http_parse_request(req_buf, (size_t)n, &req, NULL) != P_OK)
		printf("# bad test request: %s\n", fields);
}

static void parse_resp(int status, const char *fields)
{
	int n = snprintf(resp_buf, sizeof(resp_buf), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n",
			 status, fields);

	if (http_parse_response(resp_buf, (size_t)n, &resp, NULL, HTTP_GET) != P_OK)
		printf("# bad test response: %s\n", fields);
}

static struct http_cc cc_of(const char *value)
{
	char fields[512];
	struct http_cc cc;

	snprintf(fields, sizeof(fields), "Cache-Control: %s\r\n", value);
	parse_resp(200, fields);
	http_cc_parse(&resp, &cc);
	return cc;
}

static void test_cache_control(void)
{
	struct http_cc cc;

	cc = cc_of("max-age=60, public");
	is_int(cc.max_age, 60, "max-age=60");
	ok(cc.flags == CC_PUBLIC, "... and public, nothing else");
	cc = cc_of("PRIVATE, No-Store, s-maxage=\"30\"");
	ok((cc.flags & (CC_PRIVATE | CC_NO_STORE)) == (CC_PRIVATE | CC_NO_STORE),
	   "names are case-insensitive");
	is_int(cc.s_maxage, 30, "a quoted value is read");
	cc = cc_of("private=\"set-cookie, x-a\", no-cache=\"x-b\"");
	ok((cc.flags & (CC_PRIVATE | CC_NO_CACHE)) == (CC_PRIVATE | CC_NO_CACHE) &&
	   !(cc.flags & CC_INVALID), "private and no-cache with field lists count as the plain forms");
	cc = cc_of("max-age=10, max-age=20");
	is_int(cc.max_age, 10, "a directive given twice keeps its first value");
	cc = cc_of("max-age=99999999999999999999");
	is_int(cc.max_age, CC_DELTA_MAX, "a huge delta becomes 2^31");
	cc = cc_of("max-age=abc");
	ok(cc.flags & CC_INVALID, "max-age=abc is invalid");
	cc = cc_of("max-age=6 0");
	ok(cc.flags & CC_INVALID, "max-age=6 0 is invalid, not 6");
	cc = cc_of("max-age");
	ok(cc.flags & CC_INVALID, "max-age without a value is invalid");
	cc = cc_of("max-age=5,");
	ok(!(cc.flags & CC_INVALID) && cc.max_age == 5, "a trailing comma is an empty element");
	cc = cc_of("community=\"UCI\", max-stale, stale-while-revalidate=30, stale-if-error=600");
	ok((cc.flags & CC_MAX_STALE_ANY) && cc.stale_while_revalidate == 30 &&
	   cc.stale_if_error == 600 && !(cc.flags & CC_INVALID),
	   "extensions are ignored; max-stale alone, stale-while-revalidate, stale-if-error");

	parse_resp(200, "Cache-Control: no-cache\r\nCache-Control: max-age=5\r\n");
	http_cc_parse(&resp, &cc);
	ok((cc.flags & CC_NO_CACHE) && cc.max_age == 5, "two field lines combine");
}

static void test_dates(void)
{
	int64_t t = 784111777;	/* RFC 9110 5.6.7's example */

	is_int(http_date_parse(SLICE_LIT("Sun, 06 Nov 1994 08:49:37 GMT")), t, "IMF-fixdate");
	is_int(http_date_parse(SLICE_LIT("Sunday, 06-Nov-94 08:49:37 GMT")), t, "RFC 850 date");
	is_int(http_date_parse(SLICE_LIT("Sun Nov  6 08:49:37 1994")), t, "asctime date");
	is_int(http_date_parse(SLICE_LIT("Thu, 01 Jan 1970 00:00:00 GMT")), 0, "the epoch");
	is_int(http_date_parse(SLICE_LIT("Fri, 04 Dec 2026 21:39:17 GMT")), 1796420357, "a date of this year");
	is_int(http_date_parse(SLICE_LIT("Sun, 06 Nov 1994 08:49:37 UTC")), -1, "not GMT: refused");
	is_int(http_date_parse(SLICE_LIT("Sun, 06 Xyz 1994 08:49:37 GMT")), -1, "no such month: refused");
	is_int(http_date_parse(SLICE_LIT("Sun, 06 Nov 1994 25:49:37 GMT")), -1, "hour 25: refused");
	is_int(http_date_parse(SLICE_LIT("0")), -1, "Expires: 0 is not a date");
	is_int(http_date_parse(SLICE_LIT("")), -1, "nor is nothing");
}

static enum http_cache_refusal verdict(const char *req_fields, int status, const char *resp_fields,
				       bool allow_set_cookie)
{
	struct http_cc rq, rs;

	parse_req(req_fields);
	parse_resp(status, resp_fields);
	http_cc_parse(&req, &rq);
	http_cc_parse(&resp, &rs);
	return http_cache_storable(&req, &rq, &resp, &rs, allow_set_cookie, false);
}

/* The verdict on a 200 to a GET without Authorization that
 * authentication let in (by a cookie, say). */
static enum http_cache_refusal credentials_verdict(const char *resp_fields)
{
	struct http_cc rq, rs;

	parse_req("");
	parse_resp(200, resp_fields);
	http_cc_parse(&req, &rq);
	http_cc_parse(&resp, &rs);
	return http_cache_storable(&req, &rq, &resp, &rs, false, true);
}

static void test_storable(void)
{
	is_int(verdict("", 200, "Cache-Control: max-age=60\r\n", false), HC_STORABLE, "200 with max-age: stored");
	is_int(verdict("", 200, "", false), HC_STORABLE, "200 without expiry: heuristically cacheable");
	is_int(verdict("", 302, "", false), HC_NO_FRESHNESS, "302 without expiry: not stored");
	is_int(verdict("", 302, "Cache-Control: max-age=60\r\n", false), HC_STORABLE, "302 with max-age: stored");
	is_int(verdict("", 503, "Expires: Sun, 06 Nov 2094 08:49:37 GMT\r\n", false), HC_STORABLE,
	       "503 with Expires: stored");
	is_int(verdict("", 206, "Cache-Control: max-age=60\r\n", false), HC_STATUS, "206: not stored (yet)");
	is_int(verdict("", 200, "Cache-Control: no-store, max-age=60\r\n", false), HC_NO_STORE, "no-store in the response");
	is_int(verdict("Cache-Control: no-store\r\n", 200, "Cache-Control: max-age=60\r\n", false), HC_NO_STORE,
	       "no-store in the request");
	is_int(verdict("", 200, "Cache-Control: private, max-age=60\r\n", false), HC_PRIVATE, "private");
	is_int(verdict("Authorization: Basic eDp5\r\n", 200, "Cache-Control: max-age=60\r\n", false),
	       HC_AUTHORIZATION, "asked with Authorization, max-age alone: not shared");
	is_int(verdict("Authorization: Basic eDp5\r\n", 200, "Cache-Control: s-maxage=60\r\n", false),
	       HC_STORABLE, "... with s-maxage: shared");
	is_int(verdict("Authorization: Basic eDp5\r\n", 200, "Cache-Control: public\r\n", false),
	       HC_STORABLE, "... with public: shared");
	is_int(verdict("Authorization: Basic eDp5\r\n", 200, "Cache-Control: must-revalidate, max-age=5\r\n", false),
	       HC_STORABLE, "... with must-revalidate: shared");
	is_int(credentials_verdict("Cache-Control: max-age=60\r\n"), HC_AUTHORIZATION,
	       "let in by credentials elsewhere than in Authorization, max-age alone: not shared");
	is_int(credentials_verdict("Cache-Control: public, max-age=60\r\n"), HC_STORABLE,
	       "... with public: shared");
	is_int(verdict("", 200, "Set-Cookie: a=b\r\nCache-Control: max-age=60\r\n", false), HC_SET_COOKIE,
	       "Set-Cookie: not stored by default");
	is_int(verdict("", 200, "Set-Cookie: a=b\r\nCache-Control: max-age=60\r\n", true), HC_STORABLE,
	       "... unless allowed");
	is_int(verdict("", 200, "Vary: accept, *\r\nCache-Control: max-age=60\r\n", false), HC_VARY_STAR, "Vary: *");
	is_int(verdict("", 200, "Vary: x-*, accept\r\nCache-Control: max-age=60\r\n", false), HC_STORABLE,
	       "a field name holding * is not Vary: *");
	is_int(verdict("", 200, "Cache-Control: no-cache\r\n", false), HC_STORABLE,
	       "no-cache: stored (and revalidated before each use)");
	is_str(http_cache_refusal_name(HC_AUTHORIZATION), "authorization", "refusals have names");
}

static int64_t lifetime(int status, const char *fields, int64_t response_time)
{
	struct http_cc cc;

	parse_resp(status, fields);
	http_cc_parse(&resp, &cc);
	return http_freshness_lifetime(&resp, &cc, response_time);
}

static void test_freshness(void)
{
	const char *date = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
	int64_t t = 784111777;
	char f[512];

	is_int(lifetime(200, "Cache-Control: max-age=60, s-maxage=300\r\n", t), 300, "s-maxage wins over max-age");
	is_int(lifetime(200, "Cache-Control: max-age=60\r\nExpires: Sun, 06 Nov 2094 08:49:37 GMT\r\n", t), 60,
	       "max-age wins over Expires");
	snprintf(f, sizeof(f), "%sExpires: Sun, 06 Nov 1994 09:49:37 GMT\r\n", date);
	is_int(lifetime(200, f, 0), 3600, "Expires less Date");
	is_int(lifetime(200, "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n", t + 600), 3000,
	       "no Date: Expires less the time it arrived");
	snprintf(f, sizeof(f), "%sExpires: 0\r\n", date);
	is_int(lifetime(200, f, t), 0, "Expires: 0 means expired");
	snprintf(f, sizeof(f), "%sLast-Modified: Sun, 06 Nov 1994 06:49:37 GMT\r\n", date);
	is_int(lifetime(200, f, t), 720, "heuristic: a tenth of the time since Last-Modified");
	is_int(lifetime(302, f, t), 0, "... only for heuristically cacheable statuses");
	snprintf(f, sizeof(f), "%sLast-Modified: Sun, 06 Nov 1904 06:49:37 GMT\r\n", date);
	is_int(lifetime(404, f, t), 0, "... and only from a real date (1904 is before the epoch)");
	snprintf(f, sizeof(f), "%sLast-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\n", date);
	is_int(lifetime(404, f, t), 86400, "... at most a day");
	is_int(lifetime(200, "Cache-Control: max-age=abc\r\n", t), 0, "an unreadable max-age: stale at once");
}

static int64_t initial_age(const char *fields, int64_t request_time, int64_t response_time)
{
	parse_resp(200, fields);
	return http_initial_age(&resp, request_time, response_time);
}

static void test_age(void)
{
	const char *date = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
	int64_t t = 784111777;
	char f[512];

	is_int(initial_age(date, t, t), 0, "fresh from the server: age 0");
	is_int(initial_age(date, t, t + 5), 5, "apparent age: arrived 5 s after its Date");
	snprintf(f, sizeof(f), "%sAge: 100\r\n", date);
	is_int(initial_age(f, t, t + 2), 102, "Age plus the time the request took");
	is_int(initial_age(f, t, t + 200), 300, "... the Age and the delay, when larger than the apparent age");
	snprintf(f, sizeof(f), "%sAge: 5\r\n", date);
	is_int(initial_age(f, t + 190, t + 200), 200, "the apparent age, when larger");
	is_int(initial_age("Age: 7\r\n", t, t), 7, "no Date: the Age");
	is_int(initial_age("Age: x\r\n", t, t + 1), 1, "an unreadable Age is ignored");
	snprintf(f, sizeof(f), "Date: Sun, 06 Nov 1994 09:49:37 GMT\r\n");
	is_int(initial_age(f, t, t), 0, "a Date in the future gives no negative age");
}

static struct slice lit(const char *s)
{
	return (struct slice){ s, strlen(s) };
}

static void test_conditions(void)
{
	struct slice etag = lit("\"v1\""), lm = lit("Tue, 01 Dec 2026 10:00:00 GMT");

	parse_req("If-None-Match: \"v1\"\r\n");
	ok(http_not_modified(&req, etag, lm), "If-None-Match with the ETag: not modified");
	parse_req("If-None-Match: \"a\", W/\"v1\"\r\n");
	ok(http_not_modified(&req, etag, lm), "... weakly, in a list");
	parse_req("If-None-Match: \"a\"\r\nIf-None-Match: *\r\n");
	ok(http_not_modified(&req, etag, lm), "... * on a second line");
	parse_req("If-None-Match: \"v2\"\r\nIf-Modified-Since: Tue, 01 Dec 2026 10:00:00 GMT\r\n");
	ok(!http_not_modified(&req, etag, lm), "If-None-Match decides alone when it is there");
	parse_req("If-Modified-Since: Wed, 02 Dec 2026 10:00:00 GMT\r\n");
	ok(http_not_modified(&req, etag, lm), "If-Modified-Since after Last-Modified: not modified");
	parse_req("If-Modified-Since: Mon, 30 Nov 2026 10:00:00 GMT\r\n");
	ok(!http_not_modified(&req, etag, lm), "... before it: modified");
	parse_req("If-Modified-Since: yesterday\r\n");
	ok(!http_not_modified(&req, etag, lm), "... not a date: ignored");
	parse_req("");
	ok(!http_not_modified(&req, etag, lm), "no precondition: the whole answer");
}

static void test_ranges(void)
{
	struct slice etag = lit("\"v1\""), lm = lit("Tue, 01 Dec 2026 10:00:00 GMT");
	uint64_t a = 0, b = 0;

	parse_req("Range: bytes=0-99\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART && a == 0 && b == 99,
	   "bytes=0-99");
	parse_req("Range: bytes=900-\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART && a == 900 && b == 999,
	   "bytes=900-: to the end");
	parse_req("Range: bytes=-100\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART && a == 900 && b == 999,
	   "bytes=-100: the last 100");
	parse_req("Range: bytes=-5000\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART && a == 0 && b == 999,
	   "a suffix longer than the body: all of it");
	parse_req("Range: bytes=500-99999\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART && b == 999,
	   "an end past the body is cut to it");
	parse_req("Range: bytes=1000-\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_UNSATISFIABLE,
	   "a start at the length: unsatisfiable");
	parse_req("Range: bytes=0-1,5-6\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_NONE, "several ranges: the whole");
	parse_req("Range: bytes=9-1\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_NONE, "an invalid range: ignored");
	parse_req("Range: items=0-1\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_NONE, "another unit: ignored");
	parse_req("Range: bytes=0-1\r\nIf-Range: \"v1\"\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART, "If-Range with the ETag");
	parse_req("Range: bytes=0-1\r\nIf-Range: W/\"v1\"\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_NONE,
	   "If-Range with a weak ETag: never (strong comparison)");
	parse_req("Range: bytes=0-1\r\nIf-Range: Tue, 01 Dec 2026 10:00:00 GMT\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_PART, "If-Range with the date");
	parse_req("Range: bytes=0-1\r\nIf-Range: Mon, 30 Nov 2026 10:00:00 GMT\r\n");
	ok(http_range(&req, 1000, etag, lm, &a, &b) == HTTP_RANGE_NONE, "... another date: the whole");
}

static void test_stored_form(void)
{
	struct http_message stored, merged;
	char head[1024], out[1024], names[256], key[512];
	struct cache_rules rules = { .ignore = 0 };
	enum http_cache_refusal why;
	struct cache_meta m;
	size_t n, klen;
	bool star;

	parse_resp(200, "Connection: keep-alive\r\nAge: 5\r\nCache-Control: max-age=60\r\n"
		   "ETag: \"a\"\r\nSet-Cookie: s=1\r\nX-A: 1\r\n");
	n = cache_head_write(&resp, CONF_IGNORE_SET_COOKIE, head, sizeof(head));
	ok(n > 0 && strstr(head, "HTTP/1.1 200 X\r\n") == head, "a stored head starts with the status line");
	ok(strstr(head, "Content-Length") == NULL && strstr(head, "Age") == NULL &&
	   strstr(head, "Connection") == NULL, "... without framing, Age or hop-by-hop fields");
	ok(strstr(head, "Set-Cookie") == NULL && strstr(head, "X-A: 1\r\n") != NULL,
	   "... without the cookie it may be stored without, with the rest");
	is_int(cache_head_write(&resp, 0, head, 20), 0, "a head that does not fit: 0");

	n = cache_head_write(&resp, 0, head, sizeof(head));
	http_parse_response(head, n, &stored, NULL, HTTP_GET);
	parse_resp(304, "Cache-Control: max-age=120\r\nX-B: 2\r\n");
	n = cache_head_merge(&stored, &resp, out, sizeof(out));
	ok(n > 0 && http_parse_response(out, n, &merged, NULL, HTTP_GET) == P_OK, "a 304 merges in");
	is_int(merged.status, 200, "... the status stays");
	ok(slice_ieq(http_header_value(&merged, "cache-control"), "max-age=120"),
	   "... its fields replace the stored ones");
	ok(http_header_value(&merged, "etag").p != NULL && http_header_value(&merged, "x-b").p != NULL,
	   "... the others stay, the new ones come");

	/* a stored answer recoded by portico has the weak form of the
	 * server's ETag, which a 304 with the strong one does not undo */
	parse_resp(200, "ETag: W/\"a\"\r\nContent-Encoding: gzip\r\nCache-Control: max-age=1\r\n");
	n = cache_head_write(&resp, 0, head, sizeof(head));
	http_parse_response(head, n, &stored, NULL, HTTP_GET);
	parse_resp(304, "ETag: \"a\"\r\nCache-Control: max-age=120\r\n");
	n = cache_head_merge(&stored, &resp, out, sizeof(out));
	ok(n > 0 && http_parse_response(out, n, &merged, NULL, HTTP_GET) == P_OK &&
	   http_header_value(&merged, "etag").len == 5 &&
	   memcmp(http_header_value(&merged, "etag").p, "W/\"a\"", 5) == 0,
	   "a 304's strong ETag leaves the stored weak form of it");
	parse_resp(304, "ETag: \"b\"\r\n");
	n = cache_head_merge(&stored, &resp, out, sizeof(out));
	ok(n > 0 && http_parse_response(out, n, &merged, NULL, HTTP_GET) == P_OK &&
	   slice_ieq(http_header_value(&merged, "etag"), "\"b\""),
	   "... another ETag replaces it");

	parse_req("");
	parse_resp(200, "Cache-Control: max-age=60\r\nAge: 10\r\n");
	ok(cache_meta_make(&req, &resp, &rules, 1000, 1000, &m, &why), "a meta for a storable answer");
	is_int(m.lifetime, 60, "... its lifetime");
	is_int(m.initial_age, 10, "... its age on arrival");
	parse_resp(200, "X-A: 1\r\n");
	ok(!cache_meta_make(&req, &resp, &rules, 1000, 1000, &m, &why) && why == HC_NO_FRESHNESS,
	   "no freshness and no validator: not stored");
	rules.valid_s = 30;
	ok(cache_meta_make(&req, &resp, &rules, 1000, 1000, &m, &why) && m.lifetime == 30,
	   "... unless cache_valid gives it a lifetime");
	parse_resp(200, "Cache-Control: no-store\r\n");
	rules.ignore = CONF_IGNORE_CACHE_CONTROL;
	ok(cache_meta_make(&req, &resp, &rules, 1000, 1000, &m, &why) && m.lifetime == 30,
	   "an ignored Cache-Control: no-store does not stop it");
	parse_resp(200, "Cache-Control: s-maxage=5, no-cache\r\n");
	rules.ignore = 0;
	ok(cache_meta_make(&req, &resp, &rules, 1000, 1000, &m, &why) &&
	   m.flags == (META_NO_CACHE | META_MUST_REVALIDATE), "no-cache and s-maxage flags");

	parse_resp(200, "Vary: Accept-Encoding, accept-language\r\nVary: ACCEPT-encoding, X-A\r\n");
	n = cache_vary_names(&resp, names, sizeof(names), &star);
	is_str((n <= sizeof(names) ? (names[n] = '\0', names) : ""),
	       "accept-encoding, accept-language, x-a", "Vary's names, lower-case, once each");
	ok(!star, "... no *");
	parse_resp(200, "Vary: x, *\r\n");
	cache_vary_names(&resp, names, sizeof(names), &star);
	ok(star, "Vary with * is seen");

	memcpy(key, "k", 1);
	klen = 1;
	parse_req("Accept-Encoding: gzip;q=0.5, br;q=0, *;q=0.1\r\nX-A: 1\r\nX-A: 2\r\n");
	ok(cache_vary_key(&req, lit("accept-encoding, x-a"), key, &klen, sizeof(key)), "a secondary key");
	key[klen] = '\0';
	is_str(key, "k\naccept-encoding:deflate,gzip,zstd\nx-a:1,2,", "... codings normalised, "
	       "br refused, * takes the others; every line of a field");
	klen = 1;
	parse_req("Accept-Encoding: identity\r\n");
	cache_vary_key(&req, lit("accept-encoding"), key, &klen, sizeof(key));
	key[klen] = '\0';
	is_str(key, "k\naccept-encoding:", "identity only: no coding");
	klen = 1;
	parse_req("Accept-Encoding: X-GZIP, br\r\nAccept-Encoding: br;q=0, zstd;q=0.000\r\n");
	cache_vary_key(&req, lit("accept-encoding"), key, &klen, sizeof(key));
	key[klen] = '\0';
	is_str(key, "k\naccept-encoding:gzip", "x-gzip is gzip; every field counts, q=0 refuses");
	klen = 1;
	parse_req("Accept-Encoding: gzip;q=0\r\n");
	cache_vary_key(&req, lit("accept-encoding"), key, &klen, sizeof(key));
	key[klen] = '\0';
	is_str(key, "k\naccept-encoding:", "gzip;q=0: the same variant as no field");
}

int main(void)
{
	test_cache_control();
	test_dates();
	test_storable();
	test_freshness();
	test_age();
	test_conditions();
	test_ranges();
	test_stored_form();
	return done_testing();
}
