/* report: tablet report processing; see report.h. */
#define LOG_MODULE "report"
#include "report.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "meta.h"

#include <stdlib.h>
#include <string.h>

void report_result_release(struct report_result *r)
{
    if (!r)
        return;
    coolconf_push_vec_release(&r->pushes);
    free(r->drops);
    free(r->deletes);
    memset(r, 0, sizeof(*r));
}

static void add_drop(struct report_result *out, size_t *cap, int64_t tablet, int64_t replica)
{
    if (out->ndrops == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->drops = xrealloc(out->drops, *cap * sizeof(*out->drops));
    }
    out->drops[out->ndrops].tablet_id = tablet;
    out->drops[out->ndrops].replica_id = replica;
    out->ndrops++;
}

static int mark_bad(struct fe_meta *m, struct fe_tablet *t, struct fe_replica *r, const char *why,
                    struct err *e)
{
    tlog_warn(t->id, "replica %lld on backend %lld marked bad: %s", (long long)r->id,
              (long long)r->backend_id, why);
    return meta_commit(m, json_pack("{s:s,s:I,s:I,s:i}", "op", "replica_state", "tablet", (json_int_t)t->id,
                                    "replica", (json_int_t)r->id, "state", (int)FE_REPLICA_BAD), e);
}

int report_process(struct fe_meta *m, int64_t backend_id, const struct report_tablet *rt, size_t n, bool full,
                   int64_t now_ms, struct report_result *out, struct hs_stats *hs, struct err *e)
{
    struct catalog *c = &m->cat;
    struct fe_backend *b = catalog_backend(c, backend_id);
    size_t drop_cap = 0;
    int r = 0;
    if (!b)
        return err_set(e, FLOE_ENOTFOUND, "tablet report from unknown backend %lld", (long long)backend_id);
    b->last_report_ms = now_ms;
    for (size_t i = 0; i < n; i++) {
        const struct report_tablet *x = &rt[i];
        struct fe_tablet *t = catalog_tablet(c, x->tablet_id);
        struct fe_replica *rep = t ? catalog_replica(t, x->replica_id) : NULL;
        if (!rep || rep->backend_id != backend_id) {
            add_drop(out, &drop_cap, x->tablet_id, x->replica_id);
            continue;
        }
        rep->rep_ms = now_ms;
        rep->missing_reports = 0;
        rep->rep_version = x->version;
        rep->rep_cooldown_replica_id = x->cooldown_replica_id;
        rep->rep_cooldown_term = x->cooldown_term;
        rep->rep_cooldowned_version = x->cooldowned_version;
        rep->local_bytes = x->local_bytes;
        rep->remote_bytes = x->remote_bytes;
        memcpy(rep->rep_meta_id, x->meta_id, UUID_STR_LEN);
        rep->rep_meta_id[UUID_STR_LEN - 1] = '\0';
        if (x->bad && rep->state != FE_REPLICA_BAD) {
            if ((r = mark_bad(m, t, rep, "reported bad by its backend", e)) < 0)
                goto out;
            out->marked_bad++;
            continue;
        }
        if (rep->state == FE_REPLICA_NORMAL && x->version < rep->version &&
            now_ms - t->publish_ms > REPORT_PUBLISH_GRACE_MS) {
            tlog_warn(t->id, "replica %lld reports version %lld, the FE published %lld: marked lagging",
                      (long long)rep->id, (long long)x->version, (long long)rep->version);
            r = meta_commit(m, json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet", (json_int_t)t->id,
                                         "replica", (json_int_t)rep->id, "state", (int)FE_REPLICA_LAGGING, "version",
                                         (json_int_t)x->version), e);
            if (r < 0)
                goto out;
            out->marked_lagging++;
        }
        if (t->cooldown_term == 0)
            continue;
        if (x->cooldown_term > t->cooldown_term) {
            out->term_behind++;
            tlog_warn(t->id, "replica %lld reports term %lld above the FE's %lld; next pass lifts it",
                      (long long)rep->id, (long long)x->cooldown_term, (long long)t->cooldown_term);
        } else if (x->cooldown_term != t->cooldown_term || x->cooldown_replica_id != t->cooldown_replica_id) {
            coolconf_push_vec_add(&out->pushes, backend_id, t);
        }
    }
    /* replicas the FE placed here that the backend did not mention */
    for (size_t i = 0; full && i < c->tablets.cap; i++) {
        struct fe_tablet *t = c->tablets.slots[i].val;
        if (!c->tablets.slots[i].key)
            continue;
        for (int k = 0; k < t->nreplicas; k++) {
            struct fe_replica *rep = &t->replicas[k];
            if (rep->backend_id != backend_id || rep->rep_ms == now_ms || rep->state == FE_REPLICA_BAD ||
                rep->state == FE_REPLICA_CLONING)
                continue;
            if (++rep->missing_reports >= 2) {
                if ((r = mark_bad(m, t, rep, "missing from its backend's reports", e)) < 0)
                    goto out;
                out->marked_bad++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct report_tablet *x = &rt[i];
        if (x->delete_id == 0)
            continue;
        struct hs_request rq = {
            .tablet_id = x->tablet_id, .replica_id = x->replica_id, .term = x->cooldown_term,
            .cooldowned_version = x->cooldowned_version, .meta_id = x->meta_id, .delete_id = x->delete_id,
        };
        if (handshake_handle(m, &rq, now_ms, hs) != HS_CONFIRMED)
            continue;
        out->deletes = xrealloc(out->deletes, (out->ndeletes + 1) * sizeof(*out->deletes));
        out->deletes[out->ndeletes].tablet_id = x->tablet_id;
        out->deletes[out->ndeletes].delete_id = x->delete_id;
        out->deletes[out->ndeletes].term = x->cooldown_term;
        out->ndeletes++;
    }
out:
    return r;
}
