/*
 * headers.c: the site's response fields.
 */
#include "config.h"

#include "headers.h"

static int site_fields(struct exchange *x)
{
	const struct conf_site *site = x->site;
	int r = 0;

	if (site == NULL)
		return P_OK;
	if (site->hide_server && !x->own_answer)
		exchange_drop_known_field(x, HDR_SERVER);
	if (site->hsts != NULL && x->client.tls) {
		exchange_drop_field(x, "strict-transport-security");
		r |= exchange_add_field(x, SLICE_LIT("Strict-Transport-Security"),
					(struct slice){ site->hsts, strlen(site->hsts) });
	}
	if (site->via && !x->own_answer)
		r |= exchange_add_field(x, SLICE_LIT("Via"), SLICE_LIT("1.1 portico"));
	return r == 0 ? P_OK : P_ERROR;
}

const struct module headers_module = {
	.name = "headers",
	.response_head = site_fields,
};
