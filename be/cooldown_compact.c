/*
 * cooldown_compact: cold compaction on the uploader. The remote rowsets
 * (a prefix from version 0) are read through the file cache, merged into
 * new local segment files under a fresh rowset id, uploaded, and the
 * remote meta plus the local meta are switched to the merged rowset on the
 * worker (after checking term, meta id and inputs). The local segment
 * files are temporary: they are removed afterwards (or by the restart
 * sweep, which deletes files no meta references). The replaced objects
 * are retired and go through the delete handshake.
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

#define COLD_SEGMENT_ROWS 4000000ull

int cooldown_cold_compact(struct cooldown *cd, int64_t tid, int min_rowsets, bool *ret_done, struct err *e)
{
    *ret_done = false;
    if (min_rowsets < 2)
        min_rowsets = 2;
    struct cd_snap s;
    cd_step_lock(cd, tid);
    int r = cd_snap(cd, tid, &s, e);
    if (r < 0)
        goto out_unlock;
    const struct cooldown_state *c = &s.v->cd;
    if (c->cooldown_term <= 0 || c->cooldown_replica_id != s.replica_id ||
        cd_extra_i64(c, "published_term", 0) != c->cooldown_term || !s.res) {
        r = err_set(e, FLOE_EBADSTATE, "tablet %" PRId64 ": cold compaction runs only on the cooldown replica", tid);
        goto out;
    }
    size_t k = cd_remote_prefix(s.v);
    if (k < (size_t)min_rowsets)
        goto out;
    char id[UUID_STR_LEN];
    if ((r = uuid_new_str(id)) < 0) {
        err_errno(e, -r, "uuid");
        goto out;
    }
    char *dir = xasprintf("%s/data/%" PRId64, engine_root(cd->eng), tid);
    struct rowset_segment *segs = NULL;
    int nsegs = 0;
    char **keys = NULL, **paths = NULL;
    uint64_t *sizes = NULL;
    struct rowset *out_rs = NULL;
    char(*src)[UUID_STR_LEN] = xcalloc(k, sizeof(*src));
    bool meta_attempted = false;
    for (size_t i = 0; i < k; i++)
        memcpy(src[i], s.v->rowsets[i]->id, UUID_STR_LEN);
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    t->pending = xrealloc(t->pending, (t->npending + 1) * sizeof(char *));
    t->pending[t->npending++] = xstrdup(id);
    pthread_mutex_unlock(&cd->mu);
    if ((r = fs_mkdir_p(dir, 0755, e)) < 0 ||
        (r = compaction_merge_to_local(s.v->schema, s.v->rowsets, k, dir, id, COLD_SEGMENT_ROWS, &segs, &nsegs,
                                       e)) < 0)
        goto done;
    keys = xcalloc((size_t)nsegs + 1, sizeof(char *));
    paths = xcalloc((size_t)nsegs + 1, sizeof(char *));
    sizes = xcalloc((size_t)nsegs + 1, sizeof(uint64_t));
    int64_t newest = 0;
    for (size_t i = 0; i < k; i++)
        if (s.v->rowsets[i]->newest_write_ms > newest)
            newest = s.v->rowsets[i]->newest_write_ms;
    for (int i = 0; i < nsegs; i++) {
        keys[i] = remote_segment_key(tid, id, i);
        paths[i] = xasprintf("%s/%s_%d.dat", dir, id, i);
        sizes[i] = segs[i].size;
    }
    if ((r = cd_upload_files(cd, s.res->os, keys, paths, sizes, (size_t)nsegs, e)) < 0)
        goto done;
    if ((r = FAULT_POINT("cooldown.cold_compaction.after_upload")) < 0) {
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.cold_compaction.after_upload fault", tid);
        goto done;
    }
    out_rs = rowset_new(id, tid, s.v->rowsets[0]->start, s.v->rowsets[k - 1]->end, segs, nsegs, newest,
                        s.res->name, NULL);
    struct publish_arg pa = { .cd = cd, .res = s.res, .term = c->cooldown_term,
                              .expect_meta_id = c->cooldown_meta_id, .from = 0, .n = k, .src_ids = src,
                              .with = &out_rs, .nwith = 1, .fault_after_meta = "cooldown.cold_compaction.meta_write" };
    r = engine_tablet_exec(cd->eng, tid, cd_publish_on_worker, &pa, e);
    meta_attempted = pa.meta_attempted;
    if (r == 0) {
        *ret_done = true;
        metrics_inc(cd_metrics.cold_compactions);
        pthread_mutex_lock(&cd->mu);
        cd->st.cold_compactions++;
        pthread_mutex_unlock(&cd->mu);
        tlog_info(tid, "cold compaction merged %zu remote rowsets [%" PRId64 ",%" PRId64 "] into %s", k,
                  out_rs->start, out_rs->end, id);
    }
done:
    if (r < 0 && meta_attempted) {
        pthread_mutex_lock(&cd->mu);
        cd_tablet_get(cd, tid)->recovered = false;
        pthread_mutex_unlock(&cd->mu);
    } else if (r < 0 && keys) {
        struct err de = { 0 };
        if (objstore_delete_many(s.res->os, (const char *const *)keys, (size_t)nsegs, NULL, &de) < 0)
            tlog_warn(tid, "cleanup after failed cold compaction: %s (left for remote GC)", err_msg(&de));
    }
    rowset_delete_local_files(dir, id, nsegs);
    pthread_mutex_lock(&cd->mu);
    t = cd_tablet_get(cd, tid);
    for (size_t i = 0; i < t->npending; i++)
        if (strcmp(t->pending[i], id) == 0) {
            free(t->pending[i]);
            t->pending[i] = t->pending[--t->npending];
            break;
        }
    pthread_mutex_unlock(&cd->mu);
    for (int i = 0; keys && i < nsegs; i++) {
        free(keys[i]);
        free(paths[i]);
    }
    free(keys);
    free(paths);
    free(sizes);
    free(segs);
    free(src);
    free(dir);
    rowset_unref(out_rs);
out:
    cd_snap_release(&s);
out_unlock:
    cd_step_unlock(cd, tid);
    return r;
}
