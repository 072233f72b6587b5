/* route: scan replica choice; see route.h. */
#include "route.h"

static bool qualifies(const struct catalog *c, const struct fe_replica *r, int64_t version, int64_t now_ms)
{
    if (r->state != FE_REPLICA_NORMAL || r->version < version)
        return false;
    return catalog_backend_alive(c, catalog_backend(c, r->backend_id), now_ms);
}

const struct fe_replica *route_pick(const struct catalog *c, const struct fe_tablet *t, int64_t version,
                                    int64_t now_ms, uint64_t spread)
{
    const struct fe_replica *ok[64];
    int n = 0;
    for (int i = 0; i < t->nreplicas && n < 64; i++) {
        const struct fe_replica *r = &t->replicas[i];
        if (!qualifies(c, r, version, now_ms))
            continue;
        if (t->cooldown_replica_id && r->id == t->cooldown_replica_id)
            return r;
        /* keep ok[] sorted by replica id so the fixed choice does not depend on order */
        int k = n++;
        while (k > 0 && ok[k - 1]->id > r->id) {
            ok[k] = ok[k - 1];
            k--;
        }
        ok[k] = r;
    }
    if (n == 0)
        return NULL;
    if (t->cooldown_replica_id) {
        uint64_t h = (uint64_t)t->id * 0x9e3779b97f4a7c15ULL;
        return ok[(h >> 32) % (uint64_t)n];
    }
    return ok[spread % (uint64_t)n];
}
