/* placement: balanced choice of distinct alive backends; see placement.h. */
#include "placement.h"

#include "buf.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>

struct cand {
    int64_t id;
    int64_t load;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->load != y->load)
        return x->load < y->load ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int placement_choose(const struct catalog *c, int64_t now_ms, int n, struct idmap *extra_counts,
                     const int64_t *exclude, int nexclude, int64_t *ret_ids, struct err *e)
{
    size_t cap = c->backends.count ? c->backends.count : 1;
    struct cand *cands = xcalloc(cap, sizeof(*cands));
    size_t nc = 0;
    for (size_t i = 0; i < c->backends.cap; i++) {
        struct fe_backend *b = c->backends.slots[i].val;
        if (!c->backends.slots[i].key || b->decommissioned || !catalog_backend_alive(c, b, now_ms))
            continue;
        int skip = 0;
        for (int k = 0; k < nexclude; k++)
            skip |= exclude[k] == b->id;
        if (skip)
            continue;
        cands[nc].id = b->id;
        cands[nc].load = b->nreplicas + (extra_counts ? (intptr_t)idmap_get(extra_counts, b->id) : 0);
        nc++;
    }
    if (nc < (size_t)n) {
        free(cands);
        return err_set(e, FLOE_EUNAVAILABLE, "need %d alive backends for the replicas, only %zu available",
                       n, nc);
    }
    qsort(cands, nc, sizeof(*cands), cand_cmp);
    for (int i = 0; i < n; i++) {
        ret_ids[i] = cands[i].id;
        if (extra_counts)
            idmap_put(extra_counts, cands[i].id,
                      (void *)((intptr_t)idmap_get(extra_counts, cands[i].id) + 1));
    }
    free(cands);
    return 0;
}
