/*
 * http_coding.c: Accept-Encoding read, q-values honoured; and Accept,
 * for an answer that comes in several media types.
 */
#include "config.h"

#include <strings.h>

#include "http_coding.h"

static const char *const coding_names[CODING_COUNT] = {
	[CODING_BR] = "br", [CODING_DEFLATE] = "deflate", [CODING_GZIP] = "gzip",
	[CODING_ZSTD] = "zstd",
};

const char *http_coding_name(enum http_coding coding)
{
	return coding_names[coding];
}

void accept_coding_init(struct accept_coding *a)
{
	unsigned i;

	for (i = 0; i < CODING_COUNT; i++)
		a->q[i] = -1;
	a->any_q = -1;
}

/* A weight seen again: the lowest holds (refusing is the safe side). */
static void weigh(int *field, int q)
{
	*field = *field < 0 ? q : MIN(*field, q);
}

/* The coding a token names, or CODING_COUNT for none we know. */
static enum http_coding coding_of(struct slice token)
{
	unsigned i;

	if (slice_ieq(token, "x-gzip"))
		return CODING_GZIP;
	for (i = 0; i < CODING_COUNT; i++)
		if (slice_ieq(token, coding_names[i]))
			return (enum http_coding)i;
	return CODING_COUNT;
}

/* A qvalue (RFC 9110 12.4.2): "0", "0.5", "1.000"; in thousandths, or
 * -1 when it is not one. */
static int parse_qvalue(struct slice s)
{
	int q, scale = 100;
	size_t i;

	if (s.len == 0 || (s.p[0] != '0' && s.p[0] != '1'))
		return -1;
	q = (s.p[0] - '0') * 1000;
	if (s.len == 1)
		return q;
	if (s.p[1] != '.' || s.len > 5)
		return -1;
	for (i = 2; i < s.len; i++, scale /= 10) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		q += (s.p[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* The weight of one list member, "coding;q=0.5" (1000 without q); a
 * weight that cannot be read counts as 0, as refusing is the safe side. */
static int member_weight(struct slice params)
{
	const char *p = params.p, *end = params.p + params.len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		struct slice param = slice_trim((struct slice){ p, (size_t)((semi ? semi : end) - p) });

		p = semi ? semi + 1 : end;
		if (param.len >= 2 && (param.p[0] | 0x20) == 'q' && param.p[1] == '=') {
			int q = parse_qvalue(slice_trim((struct slice){ param.p + 2, param.len - 2 }));

			return q < 0 ? 0 : q;
		}
	}
	return 1000;
}

void accept_coding_add(struct accept_coding *a, struct slice value)
{
	const char *p = value.p, *end = value.p + value.len;
	struct slice item;

	while (slice_list_next(&p, end, &item)) {
		const char *semi = memchr(item.p, ';', item.len);
		struct slice coding = slice_trim((struct slice){ item.p, semi ? (size_t)(semi - item.p)
								     : item.len });
		struct slice params = semi ? (struct slice){ semi + 1,
							     (size_t)(item.p + item.len - semi - 1) }
					   : (struct slice){ item.p + item.len, 0 };
		enum http_coding known;

		if (coding.len == 0)
			continue;
		if (slice_ieq(coding, "*"))
			weigh(&a->any_q, member_weight(params));
		else if ((known = coding_of(coding)) != CODING_COUNT)
			weigh(&a->q[known], member_weight(params));
	}
}

bool accept_coding_allows(const struct accept_coding *a, enum http_coding coding)
{
	if (a->q[coding] >= 0)
		return a->q[coding] > 0;
	return a->any_q > 0;
}

void http_accept_coding(const struct http_message *req, struct accept_coding *a)
{
	unsigned i;

	accept_coding_init(a);
	for (i = 0; i < req->nheaders; i++)
		if (slice_ieq(req->headers[i].name, "accept-encoding"))
			accept_coding_add(a, req->headers[i].value);
}

bool http_accepts_gzip(const struct http_message *req)
{
	struct accept_coding a;

	http_accept_coding(req, &a);
	return accept_coding_allows(&a, CODING_GZIP);
}

/* How closely a media range names type: 3 the type itself, 2 the range
 * of its major type ("text" and a star), 1 the range of every type, 0
 * not at all. */
static int range_match(struct slice range, const char *type)
{
	size_t major = (size_t)(strchr(type, '/') - type) + 1;	/* "text/" */

	if (slice_ieq(range, type))
		return 3;
	if (range.len == major + 1 && range.p[major] == '*' &&
	    strncasecmp(range.p, type, major) == 0)
		return 2;
	return slice_ieq(range, "*/*") ? 1 : 0;
}

int http_accept_media(const struct http_message *req, const char *type)
{
	int best = 0, q = 0;
	bool seen = false;
	unsigned i;

	for (i = 0; i < req->nheaders; i++) {
		const char *p, *end;
		struct slice item;

		if (!slice_ieq(req->headers[i].name, "accept"))
			continue;
		seen = true;
		p = req->headers[i].value.p;
		end = p + req->headers[i].value.len;
		while (slice_list_next(&p, end, &item)) {
			const char *semi = memchr(item.p, ';', item.len);
			size_t range_len = semi ? (size_t)(semi - item.p) : item.len;
			struct slice params = { item.p + range_len, item.len - range_len };
			int how = range_match(slice_trim((struct slice){ item.p, range_len }), type);

			if (how == 0 || how < best)
				continue;
			if (params.len > 0) {
				params.p++;
				params.len--;
			}
			/* the same range twice: the lowest holds, as for codings */
			q = how > best ? member_weight(params) : MIN(q, member_weight(params));
			best = how;
		}
	}
	return seen ? q : -1;
}
