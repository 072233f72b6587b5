/* repair: planning of clones, creates, migrations and drops; see repair.h. */
#include "repair.h"

#include "placement.h"

const char *repair_kind_name(enum repair_kind k)
{
    switch (k) {
    case REPAIR_CLONE: return "clone";
    case REPAIR_CREATE: return "create";
    case REPAIR_MIGRATE: return "migrate";
    case REPAIR_DROP: return "drop";
    case REPAIR_PUBLISH: return "publish";
    }
    return "?";
}

static bool live(const struct catalog *c, int64_t backend_id, int64_t now_ms)
{
    const struct fe_backend *b = catalog_backend(c, backend_id);
    return b && catalog_backend_alive(c, b, now_ms);
}

const struct fe_replica *repair_source(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms)
{
    const struct fe_replica *best = NULL;
    for (int i = 0; i < t->nreplicas; i++) {
        const struct fe_replica *r = &t->replicas[i];
        if (r->state != FE_REPLICA_NORMAL || r->version < t->version || !live(c, r->backend_id, now_ms))
            continue;
        if (r->id == t->cooldown_replica_id)
            return r;
        if (!best || r->id < best->id)
            best = r;
    }
    return best;
}

size_t repair_plan(const struct catalog *c, int64_t now_ms, const struct idmap *busy, struct repair_task *out,
                   size_t max)
{
    size_t n = 0;
    bool migrating = false;  /* one migration per round keeps the load gentle */
    for (size_t i = 0; i < c->tablets.cap && n < max; i++) {
        const struct fe_tablet *t = c->tablets.slots[i].val;
        if (!c->tablets.slots[i].key || (busy && idmap_get(busy, t->id)))
            continue;
        const struct fe_table *tb = catalog_table(c, t->table_id);
        const struct fe_replica *src = repair_source(c, t, now_ms);
        int healthy_off_decom = 0;
        const struct fe_replica *on_decom = NULL;
        bool cloning = false;
        for (int k = 0; k < t->nreplicas; k++) {
            const struct fe_replica *r = &t->replicas[k];
            const struct fe_backend *b = catalog_backend(c, r->backend_id);
            if (b && b->decommissioned) {
                if (!on_decom)
                    on_decom = r;
                continue;
            }
            if (r->state == FE_REPLICA_NORMAL && r->version >= t->version)
                healthy_off_decom++;
            if (r->state == FE_REPLICA_CLONING)
                cloning = true;
        }
        bool planned = false;
        for (int k = 0; k < t->nreplicas && n < max; k++) {
            const struct fe_replica *r = &t->replicas[k];
            const struct fe_backend *b = catalog_backend(c, r->backend_id);
            if (r->state == FE_REPLICA_NORMAL || !b || b->decommissioned || !live(c, r->backend_id, now_ms))
                continue;
            struct repair_task *task = &out[n];
            *task = (struct repair_task){ .tablet_id = t->id, .replica_id = r->id, .backend_id = r->backend_id,
                                          .version = t->version };
            if (r->state == FE_REPLICA_LAGGING && r->republished_version != t->version && t->last_txn > 0 &&
                r->version == t->version - 1) {
                task->kind = REPAIR_PUBLISH;
                task->txn = t->last_txn;
            } else if (src && src->id != r->id) {
                task->kind = REPAIR_CLONE;
                task->src_replica_id = src->id;
                task->src_backend_id = src->backend_id;
            } else if (t->version <= 1) {
                task->kind = REPAIR_CREATE;
            } else {
                continue;  /* no healthy peer yet: wait */
            }
            n++;
            planned = true;
        }
        if (planned || !on_decom || n >= max)
            continue;
        if (tb && healthy_off_decom >= tb->replication) {
            out[n++] = (struct repair_task){ .kind = REPAIR_DROP, .tablet_id = t->id, .replica_id = on_decom->id,
                                             .backend_id = on_decom->backend_id, .version = t->version };
            continue;
        }
        if (migrating || cloning || !src)
            continue;
        int64_t exclude[64];
        int ne = 0;
        for (int k = 0; k < t->nreplicas && ne < 64; k++)
            exclude[ne++] = t->replicas[k].backend_id;
        int64_t target;
        if (placement_choose(c, now_ms, 1, NULL, exclude, ne, &target, NULL) < 0)
            continue;
        out[n++] = (struct repair_task){ .kind = REPAIR_MIGRATE, .tablet_id = t->id, .replica_id = on_decom->id,
                                         .backend_id = target, .src_replica_id = src->id,
                                         .src_backend_id = src->backend_id, .version = t->version };
        migrating = true;
    }
    return n;
}
