/*
 * placement: where the replicas of a new tablet go. Replicas land on
 * distinct alive, non-decommissioned backends, the ones holding the fewest
 * replicas first (ties by backend id), so load spreads by count.
 */
#ifndef FLOE_FE_PLACEMENT_H
#define FLOE_FE_PLACEMENT_H

#include "catalog.h"

struct err;

/*
 * Chooses n distinct backends for one tablet into ret_ids (n entries).
 * extra_counts (may be NULL) is a per-call scratch map of replicas already
 * planned in this operation but not yet in the catalog: backend id -> count
 * (stored as (void *)(intptr_t)count). FLOE_EUNAVAILABLE when fewer than n
 * backends qualify. exclude (may be NULL, nexclude entries) lists backends to
 * avoid (e.g. those already holding a replica of the tablet).
 */
int placement_choose(const struct catalog *c, int64_t now_ms, int n, struct idmap *extra_counts,
                     const int64_t *exclude, int nexclude, int64_t *ret_ids, struct err *e);

#endif
