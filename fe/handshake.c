/* handshake: FE rules for confirming remote deletes; see handshake.h. */
#define LOG_MODULE "handshake"
#include "handshake.h"

#include "err.h"
#include "log.h"
#include "meta.h"

#include <string.h>

static const char *const reason_names[HS__COUNT] = {
    [HS_CONFIRMED] = "confirmed",
    [HS_NOT_MASTER] = "not_master",
    [HS_UNKNOWN_TABLET] = "unknown_tablet",
    [HS_NO_CONF] = "no_cooldown_conf",
    [HS_NOT_COOLDOWN_REPLICA] = "not_cooldown_replica",
    [HS_STALE_TERM] = "stale_term",
    [HS_REPLICA_DEAD] = "replica_dead",
    [HS_REPLICA_BAD] = "replica_bad",
    [HS_REPLICA_SILENT] = "replica_silent",
    [HS_TERM_MISMATCH] = "term_mismatch",
    [HS_META_MISMATCH] = "meta_mismatch",
    [HS_VERSION_MISMATCH] = "version_mismatch",
    [HS_JOURNAL_FAILED] = "journal_failed",
};

const char *handshake_reason_name(enum hs_reason r)
{
    return (unsigned)r < HS__COUNT ? reason_names[r] : "?";
}

enum hs_reason handshake_check(const struct fe_meta *m, const struct hs_request *rq, int64_t now_ms)
{
    const struct catalog *c = &m->cat;
    if (!m->master)
        return HS_NOT_MASTER;
    const struct fe_tablet *t = catalog_tablet(c, rq->tablet_id);
    if (!t)
        return HS_UNKNOWN_TABLET;
    if (t->cooldown_term == 0 || t->cooldown_replica_id == 0)
        return HS_NO_CONF;
    if (rq->replica_id != t->cooldown_replica_id)
        return HS_NOT_COOLDOWN_REPLICA;
    if (rq->term != t->cooldown_term)
        return HS_STALE_TERM;
    const char *meta = rq->meta_id ? rq->meta_id : "";
    for (int i = 0; i < t->nreplicas; i++) {
        const struct fe_replica *r = &t->replicas[i];
        const struct fe_backend *b = catalog_backend(c, r->backend_id);
        if (!catalog_backend_alive(c, b, now_ms))
            return HS_REPLICA_DEAD;
        if (r->state != FE_REPLICA_NORMAL)
            return HS_REPLICA_BAD;
    }
    for (int i = 0; i < t->nreplicas; i++) {
        const struct fe_replica *r = &t->replicas[i];
        if (r->id == rq->replica_id)
            continue;  /* the request carries the reporter's own state */
        if (r->rep_ms == 0 || now_ms - r->rep_ms > c->params.backend_dead_after_ms)
            return HS_REPLICA_SILENT;
        if (r->rep_cooldown_term != rq->term || r->rep_cooldown_replica_id != rq->replica_id)
            return HS_TERM_MISMATCH;
        if (strcmp(r->rep_meta_id, meta) != 0)
            return HS_META_MISMATCH;
        if (r->rep_cooldowned_version != rq->cooldowned_version)
            return HS_VERSION_MISMATCH;
    }
    return HS_CONFIRMED;
}

enum hs_reason handshake_handle(struct fe_meta *m, const struct hs_request *rq, int64_t now_ms,
                                struct hs_stats *st)
{
    enum hs_reason why = handshake_check(m, rq, now_ms);
    if (why == HS_CONFIRMED) {
        struct err e = { 0 };
        json_t *rec = json_pack("{s:s,s:I,s:I,s:I,s:I}", "op", "delete_confirm", "tablet",
                                (json_int_t)rq->tablet_id, "replica", (json_int_t)rq->replica_id, "term",
                                (json_int_t)rq->term, "delete_id", (json_int_t)rq->delete_id);
        if (meta_commit(m, rec, &e) < 0) {
            tlog_error(rq->tablet_id, "delete %lld not confirmed: %s", (long long)rq->delete_id, err_msg(&e));
            why = HS_JOURNAL_FAILED;
        }
    }
    if (st) {
        if (why == HS_CONFIRMED)
            st->confirmed++;
        else
            st->refused[why]++;
    }
    if (why == HS_CONFIRMED)
        tlog_info(rq->tablet_id, "delete %lld confirmed for replica %lld term %lld", (long long)rq->delete_id,
                  (long long)rq->replica_id, (long long)rq->term);
    else
        tlog_debug(rq->tablet_id, "delete %lld refused: %s", (long long)rq->delete_id, handshake_reason_name(why));
    return why;
}
