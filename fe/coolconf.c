/* coolconf: cooldown replica election and the conf pass; see coolconf.h. */
#define LOG_MODULE "coolconf"
#include "coolconf.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "meta.h"

#include <stdint.h>
#include <string.h>

const char *coolconf_reason_name(enum coolconf_reason r)
{
    switch (r) {
    case COOLCONF_KEEP: return "keep";
    case COOLCONF_NONE: return "none";
    case COOLCONF_DROPPED: return "dropped";
    case COOLCONF_BAD: return "bad";
    case COOLCONF_DECOMMISSIONED: return "decommissioned";
    case COOLCONF_TIMEOUT: return "timeout";
    case COOLCONF_TERM_BEHIND: return "term_behind";
    }
    return "?";
}

bool coolconf_eligible(const struct catalog *c, const struct fe_replica *r, int64_t now_ms)
{
    if (r->state != FE_REPLICA_NORMAL)
        return false;
    const struct fe_backend *b = catalog_backend(c, r->backend_id);
    return b && !b->decommissioned && catalog_backend_alive(c, b, now_ms);
}

enum coolconf_reason coolconf_decide(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms)
{
    for (int i = 0; i < t->nreplicas; i++)
        if (t->replicas[i].rep_ms && t->replicas[i].rep_cooldown_term > t->cooldown_term)
            return COOLCONF_TERM_BEHIND;
    if (t->cooldown_replica_id == 0)
        return COOLCONF_NONE;
    const struct fe_replica *r = catalog_replica(t, t->cooldown_replica_id);
    if (!r)
        return COOLCONF_DROPPED;
    const struct fe_backend *b = catalog_backend(c, r->backend_id);
    if (!b)
        return COOLCONF_DROPPED;
    if (r->state == FE_REPLICA_BAD)
        return COOLCONF_BAD;
    if (b->decommissioned)
        return COOLCONF_DECOMMISSIONED;
    if (now_ms - b->last_hb_ms > c->params.cooldown_replica_timeout_ms)
        return COOLCONF_TIMEOUT;
    return COOLCONF_KEEP;
}

static int64_t caught_up(const struct fe_replica *r)
{
    return r->version > r->rep_version ? r->version : r->rep_version;
}

/* planned: uploads chosen earlier in the same pass, backend id -> count */
static const struct fe_replica *pick_planned(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms,
                                             int64_t exclude, const struct idmap *planned)
{
    const struct fe_replica *best = NULL;
    int64_t best_up = 0;
    int64_t best_load = 0;
    for (int i = 0; i < t->nreplicas; i++) {
        const struct fe_replica *r = &t->replicas[i];
        if (r->id == exclude || !coolconf_eligible(c, r, now_ms))
            continue;
        int64_t up = caught_up(r);
        int64_t load = catalog_backend(c, r->backend_id)->nuploaders +
                       (planned ? (intptr_t)idmap_get(planned, r->backend_id) : 0);
        int better;
        if (!best)
            better = 1;
        else if (up != best_up)
            better = up > best_up;
        else if (r->rep_cooldowned_version != best->rep_cooldowned_version)
            better = r->rep_cooldowned_version > best->rep_cooldowned_version;
        else if (load != best_load)
            better = load < best_load;
        else
            better = r->id < best->id;
        if (better) {
            best = r;
            best_up = up;
            best_load = load;
        }
    }
    return best;
}

const struct fe_replica *coolconf_pick(const struct catalog *c, const struct fe_tablet *t, int64_t now_ms,
                                       int64_t exclude)
{
    return pick_planned(c, t, now_ms, exclude, NULL);
}

int64_t coolconf_next_term(const struct fe_tablet *t)
{
    int64_t term = t->cooldown_term;
    for (int i = 0; i < t->nreplicas; i++)
        if (t->replicas[i].rep_cooldown_term > term)
            term = t->replicas[i].rep_cooldown_term;
    return term + 1;
}

static void check_tablet(struct catalog *c, struct fe_tablet *t, int64_t now_ms, json_t *confs,
                         struct coolconf_stats *st, struct idmap *planned)
{
    st->checked++;
    enum coolconf_reason why = coolconf_decide(c, t, now_ms);
    if (why == COOLCONF_KEEP)
        return;
    const struct fe_replica *pick = NULL;
    if (why == COOLCONF_TERM_BEHIND) {
        /* keep the same uploader when it is still fine, only lift the term */
        const struct fe_replica *cur = catalog_replica(t, t->cooldown_replica_id);
        if (cur && coolconf_eligible(c, cur, now_ms))
            pick = cur;
    }
    if (!pick)
        pick = pick_planned(c, t, now_ms, why == COOLCONF_NONE || why == COOLCONF_TERM_BEHIND
                                              ? 0 : t->cooldown_replica_id, planned);
    if (!pick) {
        st->no_candidate++;
        tlog_warn(t->id, "cooldown replica %lld must be replaced (%s) but no replica is eligible",
                  (long long)t->cooldown_replica_id, coolconf_reason_name(why));
        return;
    }
    int64_t term = coolconf_next_term(t);
    if (pick->id != t->cooldown_replica_id)
        idmap_put(planned, pick->backend_id, (void *)((intptr_t)idmap_get(planned, pick->backend_id) + 1));
    if (why == COOLCONF_NONE)
        st->elected++;
    else {
        st->reelected++;
        tlog_info(t->id, "cooldown replica %lld -> %lld (%s), term %lld", (long long)t->cooldown_replica_id,
                  (long long)pick->id, coolconf_reason_name(why), (long long)term);
    }
    json_array_append_new(confs, json_pack("[I,I,I]", (json_int_t)t->id, (json_int_t)pick->id,
                                           (json_int_t)term));
}

int coolconf_pass(struct fe_meta *m, int64_t table_id, int64_t now_ms, struct coolconf_stats *st,
                  struct err *e)
{
    struct catalog *c = &m->cat;
    struct coolconf_stats local = { 0 };
    json_t *confs = json_array();
    struct idmap planned = IDMAP_INIT;
    for (size_t i = 0; i < c->tables.cap; i++) {
        struct fe_table *tb = c->tables.slots[i].val;
        if (!c->tables.slots[i].key || !tb->policy_id || (table_id && tb->id != table_id))
            continue;
        for (int32_t b = 0; b < tb->buckets; b++) {
            struct fe_tablet *t = catalog_tablet(c, tb->tablet_ids[b]);
            if (t)
                check_tablet(c, t, now_ms, confs, &local, &planned);
        }
    }
    idmap_release(&planned);
    int n = (int)json_array_size(confs);
    m->no_candidate += local.no_candidate;
    if (st) {
        st->checked += local.checked;
        st->elected += local.elected;
        st->reelected += local.reelected;
        st->no_candidate += local.no_candidate;
    }
    if (n == 0) {
        json_decref(confs);
        return 0;
    }
    int r = meta_commit(m, json_pack("{s:s,s:o}", "op", "cooldown_conf", "confs", confs), e);
    if (r == 0) {
        m->elected += local.elected;
        m->reelected += local.reelected;
    }
    return r < 0 ? r : n;
}

void coolconf_push_vec_add(struct coolconf_push_vec *pv, int64_t backend, const struct fe_tablet *t)
{
    if (pv->n == pv->cap) {
        pv->cap = pv->cap ? pv->cap * 2 : 64;
        pv->v = xrealloc(pv->v, pv->cap * sizeof(*pv->v));
    }
    pv->v[pv->n].backend_id = backend;
    pv->v[pv->n].tablet_id = t->id;
    pv->v[pv->n].cooldown_replica_id = t->cooldown_replica_id;
    pv->v[pv->n].term = t->cooldown_term;
    pv->n++;
}

void coolconf_push_vec_release(struct coolconf_push_vec *pv)
{
    if (!pv)
        return;
    free(pv->v);
    pv->v = NULL;
    pv->n = pv->cap = 0;
}

void coolconf_collect_pushes(struct catalog *c, struct coolconf_push_vec *out)
{
    for (size_t i = 0; i < c->tablets.cap; i++) {
        struct fe_tablet *t = c->tablets.slots[i].val;
        if (!c->tablets.slots[i].key)
            continue;
        bool all = t->push_needed;
        t->push_needed = false;
        for (int k = 0; k < t->nreplicas; k++) {
            struct fe_replica *r = &t->replicas[k];
            bool one = r->push_pending;
            r->push_pending = false;
            if (t->cooldown_term != 0 && (all || one))
                coolconf_push_vec_add(out, r->backend_id, t);
        }
    }
}

int coolconf_push_failed(struct catalog *c, const struct coolconf_push *p)
{
    struct fe_tablet *t = catalog_tablet(c, p->tablet_id);
    if (!t || t->cooldown_term != p->term || t->cooldown_replica_id != p->cooldown_replica_id)
        return 0;
    int n = 0;
    for (int k = 0; k < t->nreplicas; k++)
        if (t->replicas[k].backend_id == p->backend_id) {
            t->replicas[k].push_pending = true;
            n++;
        }
    return n;
}
