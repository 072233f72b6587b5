/*
 * route: which replica serves a scan of a tablet. A replica qualifies when
 * its backend is alive, it is in normal state and it has the visible
 * version. A tablet with a cooldown conf (its data is, or will be, remote)
 * goes to the same replica every time so one file cache serves it: the
 * cooldown replica when it qualifies, otherwise a choice fixed by the tablet
 * id among the qualifying replicas. Other tablets rotate with `spread` to
 * share the load.
 */
#ifndef FLOE_FE_ROUTE_H
#define FLOE_FE_ROUTE_H

#include "catalog.h"

#include <stdint.h>

/* NULL when no replica qualifies. */
const struct fe_replica *route_pick(const struct catalog *c, const struct fe_tablet *t, int64_t version,
                                    int64_t now_ms, uint64_t spread);

#endif
