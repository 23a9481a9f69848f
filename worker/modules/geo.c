/*
 * geo.c: the client's region, looked up in a geo table.
 */
#include "config.h"

#include "geo.h"
#include "geo_table.h"

static unsigned lookup(const struct exchange *x, const struct conf_geo *g)
{
	const uint8_t *addr = exchange_client_bin(x);
	unsigned region = g->table != NULL && addr != NULL ? geo_table_lookup(g->table, addr) : 0;

	if (region == 0 && g->default_region != NULL)
		region = g->default_region->id;
	return region;
}

unsigned geo_region_of_exchange(struct exchange *x)
{
	const struct conf_geo *g = x->site != NULL ? x->site->geo : NULL;

	if (g == NULL)
		return 0;
	if (x->geo_of != g) {
		x->geo_region = lookup(x, g);
		x->geo_of = g;
	}
	return x->geo_region;
}

unsigned geo_region_in(struct exchange *x, const struct conf_geo *g)
{
	if (g == NULL)
		return 0;
	if (x->site != NULL && g == x->site->geo)
		return geo_region_of_exchange(x);
	return lookup(x, g);
}

static int geo_route(struct exchange *x)
{
	geo_region_of_exchange(x);
	return P_OK;
}

const struct module geo_module = {
	.name = "geo",
	.route = geo_route,
};
