/*
 * cooldown_gc: the uploader's side of the remote delete handshake.
 *
 * gc_prepare lists data/{tablet}/ and offers for deletion only objects that
 * nothing can reach: not in the current meta, not an upload intent, not
 * being uploaded, not retired less than remote_gc_grace_s ago, not held by
 * a live snapshot in this process, and (for unknown objects and metas of
 * older terms) last modified before the grace. The set is kept in memory
 * under a fresh random delete_id; cooldown_delete acts only on that id and
 * re-checks each key against the current state before deleting.
 */
#define LOG_MODULE "cooldown"
#include "cooldown_int.h"

#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int64_t new_delete_id(void)
{
    uint64_t x = 0;
    while ((x & INT64_MAX) == 0)
        if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
            x = (uint64_t)fs_now_ms() ^ ((uint64_t)mono_now_ms() << 20);
    return (int64_t)(x & INT64_MAX);
}

static void clear_cand(struct cd_tablet *t)
{
    for (size_t i = 0; i < t->ncand; i++)
        free(t->cand[i]);
    free(t->cand);
    t->cand = NULL;
    t->ncand = 0;
    t->delete_id = 0;
}

/* True when rowset id is referenced by v, an intent, or an upload in flight (under cd->mu for t). */
static bool referenced(const struct version *v, const struct cd_tablet *t, const char *id)
{
    ssize_t k = version_find_rowset(v, id);
    if (k >= 0 && !rowset_is_local(v->rowsets[k]))
        return true;
    return cd_strv_has(v->cd.upload_intents, v->cd.n_upload_intents, id) || cd_strv_has(t->pending, t->npending, id);
}

int cooldown_gc_prepare(struct cooldown *cd, int64_t tid, int64_t *ret_delete_id, size_t *ret_ncand, struct err *e)
{
    *ret_delete_id = 0;
    *ret_ncand = 0;
    struct cd_snap s;
    cd_step_lock(cd, tid);
    int r = cd_snap(cd, tid, &s, e);
    if (r < 0)
        goto out_unlock;
    const struct cooldown_state *c = &s.v->cd;
    int64_t T = c->cooldown_term;
    if (T <= 0 || c->cooldown_replica_id != s.replica_id || cd_extra_i64(c, "published_term", 0) != T || !s.res) {
        r = err_set(e, FLOE_EBADSTATE, "tablet %" PRId64 ": not the cooldown replica with a published meta", tid);
        goto out;
    }
    char *pre = remote_tablet_prefix(tid);
    struct objstore_list l = { 0 };
    r = objstore_list(s.res->os, pre, &l, e);
    free(pre);
    if (r < 0)
        goto out;
    int64_t now = fs_now_ms(), grace = cd->o.gc_grace_ms;
    json_t *retired = json_object_get(c->extra, "retired");
    char **cand = NULL;
    size_t ncand = 0;
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    /* live snapshots: retired rowsets still referenced by someone besides us */
    size_t w = 0;
    for (size_t i = 0; i < t->nlive; i++) {
        if (__atomic_load_n(&t->live[i]->refs, __ATOMIC_ACQUIRE) > 1)
            t->live[w++] = t->live[i];
        else
            rowset_unref(t->live[i]);
    }
    t->nlive = w;
    for (size_t i = 0; i < l.n; i++) {
        const struct objstore_entry *en = &l.entries[i];
        char id[UUID_STR_LEN];
        int seg;
        int64_t rep, term;
        bool young = en->mtime_ms + grace > now;
        switch (remote_key_parse(en->key, tid, id, &seg, &rep, &term)) {
        case REMOTE_KEY_SEGMENT: {
            if (young || referenced(s.v, t, id))
                continue;
            json_t *rt = json_object_get(retired, id);
            if (json_is_integer(rt) && json_integer_value(rt) + grace > now)
                continue;
            bool live = false;
            for (size_t j = 0; j < t->nlive && !live; j++)
                live = strcmp(t->live[j]->id, id) == 0;
            if (live)
                continue;
            break;
        }
        case REMOTE_KEY_META:
            if (young || term >= T)
                continue;
            break;
        default:
            continue;
        }
        cand = xrealloc(cand, (ncand + 1) * sizeof(*cand));
        cand[ncand++] = xstrdup(en->key);
    }
    /* an unchanged candidate set keeps its id, so a confirmation already on its way still matches */
    bool same = ncand > 0 && ncand == t->ncand && t->delete_id != 0;
    for (size_t i = 0; same && i < ncand; i++)
        same = strcmp(cand[i], t->cand[i]) == 0;
    int64_t keep_id = same ? t->delete_id : 0;
    clear_cand(t);
    t->cand = cand;
    t->ncand = ncand;
    t->delete_id = ncand ? (keep_id ? keep_id : new_delete_id()) : 0;
    *ret_delete_id = t->delete_id;
    *ret_ncand = ncand;
    cd->st.gc_candidates += ncand;
    pthread_mutex_unlock(&cd->mu);
    metrics_add(cd_metrics.gc_cand, (int64_t)ncand);
    if (ncand && !keep_id)
        tlog_info(tid, "remote gc: %zu of %zu objects are delete candidates (delete_id %" PRId64 ")", ncand, l.n,
                  *ret_delete_id);
    objstore_list_release(&l);
out:
    cd_snap_release(&s);
out_unlock:
    cd_step_unlock(cd, tid);
    return r;
}

int cooldown_delete(struct cooldown *cd, int64_t tid, int64_t delete_id, bool *ret_accepted, uint64_t *ret_deleted,
                    struct err *e)
{
    *ret_accepted = false;
    *ret_deleted = 0;
    struct cd_snap s;
    cd_step_lock(cd, tid);
    int r = cd_snap(cd, tid, &s, e);
    if (r < 0)
        goto out_unlock;
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    if (delete_id == 0 || t->delete_id != delete_id || !s.res) {
        pthread_mutex_unlock(&cd->mu);
        tlog_info(tid, "cooldown_delete %" PRId64 ": does not match the candidate set; ignored", delete_id);
        goto out;
    }
    const char **keys = xcalloc(t->ncand + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < t->ncand; i++) {
        char id[UUID_STR_LEN];
        int seg;
        int64_t rep, term;
        enum remote_key_kind k = remote_key_parse(t->cand[i], tid, id, &seg, &rep, &term);
        if (k == REMOTE_KEY_SEGMENT && referenced(s.v, t, id))
            continue; /* became referenced since (never expected; kept to be safe) */
        if (k == REMOTE_KEY_META && term >= s.v->cd.cooldown_term)
            continue;
        keys[n++] = t->cand[i];
    }
    /* take the candidate strings out of t so the lock can be dropped during the delete */
    char **owned = t->cand;
    size_t nowned = t->ncand;
    t->cand = NULL;
    t->ncand = 0;
    t->delete_id = 0;
    pthread_mutex_unlock(&cd->mu);
    *ret_accepted = true;
    if ((r = FAULT_POINT("cooldown.gc.delete")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.gc.delete fault", tid);
    else if (n)
        r = objstore_delete_many(s.res->os, keys, n, NULL, e);
    if (r == 0) {
        *ret_deleted = n;
        metrics_add(cd_metrics.gc_deleted, (int64_t)n);
        pthread_mutex_lock(&cd->mu);
        cd->st.gc_deleted += n;
        pthread_mutex_unlock(&cd->mu);
        tlog_info(tid, "remote gc: deleted %zu objects (delete_id %" PRId64 ")", n, delete_id);
        if ((r = FAULT_POINT("cooldown.gc.after_delete")) < 0)
            err_set(e, r, "tablet %" PRId64 ": injected cooldown.gc.after_delete fault", tid);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(keys);
out:
    cd_snap_release(&s);
out_unlock:
    cd_step_unlock(cd, tid);
    return r;
}
