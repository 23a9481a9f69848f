/*
 * http_cache.c: RFC 9111 for a shared cache (http_cache.h).
 */
#include "config.h"

#include "http_cache.h"

#include <string.h>
#include <time.h>

#define HEURISTIC_MAX	86400	/* a guessed lifetime is at most a day */

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* delta-seconds (RFC 9111 1.2.2): digits only, capped; -1 if not that. */
static int64_t delta_seconds(struct slice v)
{
	int64_t n = 0;
	size_t i;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (n < CC_DELTA_MAX)
			n = n * 10 + (v.p[i] - '0');
	}
	return MIN(n, CC_DELTA_MAX);
}

/* A directive with a number: the first one given counts. */
static void set_delta(struct http_cc *cc, int64_t *field, struct slice v, bool has_value)
{
	int64_t n = has_value ? delta_seconds(v) : -1;

	if (n < 0) {
		cc->flags |= CC_INVALID;
		return;
	}
	if (*field == CC_UNSET)
		*field = n;
}

static void directive(struct http_cc *cc, struct slice name, struct slice v, bool has_value)
{
	static const struct { const char *name; unsigned flag; } flags[] = {
		{ "no-store", CC_NO_STORE }, { "no-cache", CC_NO_CACHE },
		{ "private", CC_PRIVATE }, { "public", CC_PUBLIC },
		{ "must-revalidate", CC_MUST_REVALIDATE },
		{ "proxy-revalidate", CC_PROXY_REVALIDATE },
		{ "no-transform", CC_NO_TRANSFORM }, { "only-if-cached", CC_ONLY_IF_CACHED },
		{ "immutable", CC_IMMUTABLE },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(flags); i++)
		if (slice_ieq(name, flags[i].name)) {
			cc->flags |= flags[i].flag;	/* a field list counts as the plain form */
			return;
		}
	if (slice_ieq(name, "max-age"))
		set_delta(cc, &cc->max_age, v, has_value);
	else if (slice_ieq(name, "s-maxage"))
		set_delta(cc, &cc->s_maxage, v, has_value);
	else if (slice_ieq(name, "min-fresh"))
		set_delta(cc, &cc->min_fresh, v, has_value);
	else if (slice_ieq(name, "stale-while-revalidate"))
		set_delta(cc, &cc->stale_while_revalidate, v, has_value);
	else if (slice_ieq(name, "stale-if-error"))
		set_delta(cc, &cc->stale_if_error, v, has_value);
	else if (slice_ieq(name, "max-stale") && !has_value)
		cc->flags |= CC_MAX_STALE_ANY;
	else if (slice_ieq(name, "max-stale"))
		set_delta(cc, &cc->max_stale, v, has_value);
	/* other extensions are ignored (RFC 9111 5.2.3) */
}

/* A quoted-string's content (escapes kept: only digits matter here). */
static const char *quoted(const char *p, const char *e, struct slice *v)
{
	const char *s = ++p;

	while (p < e && *p != '"')
		p += (*p == '\\' && p + 1 < e) ? 2 : 1;
	*v = (struct slice){ s, (size_t)(MIN(p, e) - s) };
	return p < e ? p + 1 : e;
}

/* One Cache-Control field line: #( token [ "=" ( token / quoted-string ) ] ) */
static void cc_line(struct http_cc *cc, struct slice line)
{
	const char *p = line.p, *e = line.p + line.len, *s;
	struct slice name, v;
	bool has_value;

	while (p < e) {
		while (p < e && (is_ows(*p) || *p == ','))
			p++;
		if (p == e)
			break;
		for (s = p; p < e && is_tchar((unsigned char)*p); p++)
			;
		name = (struct slice){ s, (size_t)(p - s) };
		v = (struct slice){ p, 0 };
		while (p < e && is_ows(*p))
			p++;
		has_value = p < e && *p == '=';
		if (has_value) {
			for (p++; p < e && is_ows(*p); p++)
				;
			if (p < e && *p == '"') {
				p = quoted(p, e, &v);
			} else {
				for (s = p; p < e && is_tchar((unsigned char)*p); p++)
					;
				v = (struct slice){ s, (size_t)(p - s) };
			}
		}
		while (p < e && is_ows(*p))
			p++;
		if (name.len == 0 || (p < e && *p != ',')) {
			/* not a directive: distrust the whole field */
			cc->flags |= CC_INVALID;
			while (p < e && *p != ',')
				p++;
			continue;
		}
		directive(cc, name, v, has_value);
	}
}

void http_cc_parse(const struct http_message *msg, struct http_cc *cc)
{
	unsigned i;

	*cc = (struct http_cc){ .max_age = CC_UNSET, .s_maxage = CC_UNSET,
				.max_stale = CC_UNSET, .min_fresh = CC_UNSET,
				.stale_while_revalidate = CC_UNSET, .stale_if_error = CC_UNSET };
	for (i = 0; i < msg->nheaders; i++)
		if (slice_ieq(msg->headers[i].name, "cache-control"))
			cc_line(cc, msg->headers[i].value);
}

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int month_of(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int m;

	for (m = 0; m < 12; m++)
		if (memcmp(p, months + 3 * m, 3) == 0)
			return m + 1;
	return 0;
}

/* n digits at p, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

static int64_t make_time(int year, int mon, int day, const char *hms)
{
	int h = digits(hms, 2), mi = digits(hms + 3, 2), s = digits(hms + 6, 2);

	if (mon == 0 || day < 1 || day > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    s < 0 || s > 60 || hms[2] != ':' || hms[5] != ':' || year < 1970)
		return -1;
	return days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + h * 3600 + mi * 60 + s;
}

/* A two-digit year: the one closest before 50 years from now (RFC 9110 5.6.7). */
static int full_year(int yy)
{
	time_t now = time(NULL);
	struct tm tm;
	int year;

	gmtime_r(&now, &tm);
	year = (tm.tm_year + 1900) / 100 * 100 + yy;
	return year > tm.tm_year + 1900 + 50 ? year - 100 : year;
}

int64_t http_date_parse(struct slice s)
{
	char b[40];
	const char *comma;

	if (s.len >= sizeof(b))
		return -1;
	memcpy(b, s.p, s.len);
	b[s.len] = '\0';
	comma = memchr(b, ',', s.len);
	if (s.len == 29 && comma == b + 3 && memcmp(b + 25, " GMT", 4) == 0 &&
	    b[4] == ' ' && b[7] == ' ' && b[11] == ' ' && b[16] == ' ')
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		return make_time(digits(b + 12, 4), month_of(b + 8), digits(b + 5, 2), b + 17);
	if (comma != NULL && s.len > 24 && (size_t)(comma - b) + 24 == s.len &&
	    comma[1] == ' ' && comma[4] == '-' && comma[8] == '-' && comma[11] == ' ' &&
	    memcmp(comma + 20, " GMT", 4) == 0) {
		/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
		int yy = digits(comma + 9, 2);

		return yy < 0 ? -1 : make_time(full_year(yy), month_of(comma + 5),
					       digits(comma + 2, 2), comma + 12);
	}
	if (s.len == 24 && comma == NULL && b[3] == ' ' && b[7] == ' ' && b[10] == ' ' &&
	    b[19] == ' ')
		/* asctime-date: Sun Nov  6 08:49:37 1994 */
		return make_time(digits(b + 20, 4), month_of(b + 4),
				 b[8] == ' ' ? digits(b + 9, 1) : digits(b + 8, 2), b + 11);
	return -1;
}

static int64_t header_date(const struct http_message *msg, const char *name)
{
	struct slice v = http_header_value(msg, name);

	return v.p == NULL ? -1 : http_date_parse(v);
}

/* ---- storing ---- */

const char *http_cache_refusal_name(enum http_cache_refusal why)
{
	static const char *const names[] = {
		[HC_STORABLE] = "storable", [HC_METHOD] = "method", [HC_STATUS] = "status",
		[HC_NO_STORE] = "no-store", [HC_PRIVATE] = "private",
		[HC_AUTHORIZATION] = "authorization", [HC_SET_COOKIE] = "set-cookie",
		[HC_VARY_STAR] = "vary", [HC_NO_FRESHNESS] = "no-freshness",
	};

	return (unsigned)why < ARRAY_LEN(names) ? names[why] : "?";
}

bool http_status_heuristic(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 206: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return true;
	}
	return false;
}

/* Vary = #( "*" / field-name ): whether one element is "*" ("*" alone;
 * a field name may hold the character too). */
static bool vary_star(const struct http_message *resp)
{
	unsigned i;

	for (i = 0; i < resp->nheaders; i++) {
		const char *p, *e, *s;

		if (!slice_ieq(resp->headers[i].name, "vary"))
			continue;
		p = resp->headers[i].value.p;
		e = p + resp->headers[i].value.len;
		while (p < e) {
			while (p < e && (is_ows(*p) || *p == ','))
				p++;
			for (s = p; p < e && *p != ',' && !is_ows(*p); p++)
				;
			if (p - s == 1 && *s == '*')
				return true;
			while (p < e && *p != ',')
				p++;
		}
	}
	return false;
}

enum http_cache_refusal http_cache_storable(const struct http_message *req,
					    const struct http_cc *req_cc,
					    const struct http_message *resp,
					    const struct http_cc *resp_cc,
					    bool allow_set_cookie, bool credentials)
{
	bool explicit_expiry = resp_cc->max_age != CC_UNSET || resp_cc->s_maxage != CC_UNSET ||
			       http_header_value(resp, "expires").p != NULL;

	if (req->method_id != HTTP_GET)
		return HC_METHOD;
	if (resp->status < 200 || resp->status > 599 || resp->status == 206 ||
	    resp->status == 304)
		return HC_STATUS;
	if ((req_cc->flags | resp_cc->flags) & CC_NO_STORE)
		return HC_NO_STORE;
	if (resp_cc->flags & CC_PRIVATE)
		return HC_PRIVATE;
	if ((credentials || http_header_value(req, "authorization").p != NULL) &&
	    !(resp_cc->flags & (CC_PUBLIC | CC_MUST_REVALIDATE)) && resp_cc->s_maxage == CC_UNSET)
		return HC_AUTHORIZATION;
	if (!allow_set_cookie && http_header_value(resp, "set-cookie").p != NULL)
		return HC_SET_COOKIE;
	if (vary_star(resp))
		return HC_VARY_STAR;
	if (!explicit_expiry && !(resp_cc->flags & CC_PUBLIC) && !http_status_heuristic(resp->status))
		return HC_NO_FRESHNESS;
	return HC_STORABLE;
}

/* ---- freshness and age ---- */

int64_t http_freshness_lifetime(const struct http_message *resp, const struct http_cc *cc,
				int64_t response_time)
{
	int64_t date, expires, modified;

	if (cc->flags & CC_INVALID)
		return 0;
	if (cc->s_maxage != CC_UNSET)
		return cc->s_maxage;
	if (cc->max_age != CC_UNSET)
		return cc->max_age;
	if ((date = header_date(resp, "date")) < 0)
		date = response_time;
	if (http_header_value(resp, "expires").p != NULL) {
		/* an Expires that is not a date means "already expired" */
		expires = header_date(resp, "expires");
		return expires > date ? expires - date : 0;
	}
	if (!http_status_heuristic(resp->status) ||
	    (modified = header_date(resp, "last-modified")) < 0 || modified >= date)
		return 0;
	return MIN((date - modified) / 10, (int64_t)HEURISTIC_MAX);
}

int64_t http_initial_age(const struct http_message *resp, int64_t request_time,
			 int64_t response_time)
{
	struct slice v = http_header_value(resp, "age");
	int64_t age_value = v.p != NULL ? delta_seconds(v) : 0;
	int64_t date = header_date(resp, "date");
	int64_t apparent_age = date < 0 ? 0 : MAX(0, response_time - date);
	int64_t response_delay = MAX(0, response_time - request_time);

	if (age_value < 0)
		age_value = 0;	/* an Age that is not a number is ignored */
	return MAX(apparent_age, age_value + response_delay);
}
