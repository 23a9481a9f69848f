/*
 * request_id.c: making request ids, and keeping a trusted client's.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "cidr.h"
#include "exchange.h"
#include "log.h"
#include "request_id.h"

static uint64_t seed_hi, seed_lo;	/* the worker's, plus the ids made */

static int request_id_init(const struct worker_ctx *ctx)
{
	uint64_t seed[2];

	(void)ctx;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		log_errno(LL_EMERG, errno, "getrandom() for the request id seed failed");
		return -1;
	}
	seed_hi = seed[0];
	seed_lo = seed[1];
	return 0;
}

static void put_hex64(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 15; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 15];
}

void request_id_make(char out[REQUEST_ID_MAX + 1])
{
	if (++seed_lo == 0)
		seed_hi++;
	put_hex64(out, seed_hi);
	put_hex64(out + 16, seed_lo);
	out[32] = '\0';
}

bool request_id_acceptable(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > REQUEST_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '"' || p[i] == '\'' || p[i] == '\\')
			return false;
	return true;
}

uint64_t request_id_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a, then a finalizer: ids
						 * made in a row differ in their
						 * last digits only */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* Before realip: the peer that sent the id is the one trusted, not the
 * client it names. */
static int keep_trusted_id(struct exchange *x)
{
	const struct conf_site *s = x->site;
	char lower[64];
	struct slice v;
	size_t i;

	if (s == NULL || s->nrequest_id_trusted == 0 || s->request_id_header == NULL ||
	    !cidr_list_match(s->request_id_trusted, s->nrequest_id_trusted,
			     exchange_client_bin(x)))
		return P_OK;
	for (i = 0; s->request_id_header[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)s->request_id_header[i]);
	lower[i] = '\0';
	v = http_header_value(&x->req, lower);
	if (request_id_acceptable(v.p, v.len)) {
		memcpy(x->request_id, v.p, v.len);
		x->request_id[v.len] = '\0';
	}
	return P_OK;
}

const struct module request_id_module = {
	.name = "request_id",
	.init = request_id_init,
	.route = keep_trusted_id,
};
