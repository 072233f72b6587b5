/*
 * txn: loads. A write stages one segment under the txn's rowset id (files
 * exist, nothing references them durably); commit records the rowset in the
 * tablet meta; publish turns it into version [v,v] in one meta save; abort
 * removes the txn and its files. Segment files are written on the caller's
 * thread; only the bookkeeping runs on the tablet's worker.
 */
#define LOG_MODULE "txn"
#include "engine_int.h"

#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "segment_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* floe_be_txns_total{result}: committed, published (first time) or aborted (while it existed). */
static void count_txn(const char *result)
{
    char n[64];
    snprintf(n, sizeof(n), "floe_be_txns_total{result=\"%s\"}", result);
    metrics_inc(metrics_counter(n, "load transactions on this BE's tablets by outcome"));
}

static struct stx *find_txn(struct tablet *t, int64_t txn_id)
{
    for (size_t i = 0; i < t->ntxns; i++)
        if (t->txns[i].txn_id == txn_id)
            return &t->txns[i];
    return NULL;
}

static const struct pub_entry *find_pub(struct tablet *t, int64_t txn_id)
{
    for (size_t i = t->npubs; i-- > 0;)
        if (t->pubs[i].txn_id == txn_id)
            return &t->pubs[i];
    return NULL;
}

static void remove_txn(struct tablet *t, struct stx *x)
{
    size_t i = (size_t)(x - t->txns);
    stx_release(x);
    t->txns[i] = t->txns[t->ntxns - 1];
    t->ntxns--;
}

struct write_ctx {
    int64_t txn_id;
    char rowset_id[UUID_STR_LEN];
    int slot;
    struct segment_stats st;
    struct schema *schema;
};

static int reserve_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct write_ctx *c = arg;
    const struct pub_entry *p = find_pub(t, c->txn_id);
    if (p)
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: already published at version %lld", (long long)t->id,
                       (long long)c->txn_id, (long long)p->version);
    struct stx *x = find_txn(t, c->txn_id);
    if (x && x->committed)
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: already committed, no more writes", (long long)t->id,
                       (long long)c->txn_id);
    if (!x) {
        char id[UUID_STR_LEN];
        int r = uuid_new_str(id);
        if (r < 0)
            return err_errno(e, -r, "uuid");
        t->txns = xrealloc(t->txns, (t->ntxns + 1) * sizeof(*t->txns));
        x = &t->txns[t->ntxns++];
        memset(x, 0, sizeof(*x));
        x->txn_id = c->txn_id;
        memcpy(x->rowset_id, id, sizeof(id));
        x->write_ms = fs_now_ms();
        x->first_ms = x->write_ms;
    }
    memcpy(c->rowset_id, x->rowset_id, sizeof(c->rowset_id));
    c->schema = schema_ref(t->cur->schema);
    if (c->slot < 0)
        return 0;
    c->slot = x->nsegs++;
    x->segs = xrealloc(x->segs, (size_t)x->nsegs * sizeof(*x->segs));
    x->done = xrealloc(x->done, (size_t)x->nsegs * sizeof(*x->done));
    memset(&x->segs[c->slot], 0, sizeof(x->segs[0]));
    x->done[c->slot] = false;
    return 0;
}

static int finish_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct write_ctx *c = arg;
    struct stx *x = find_txn(t, c->txn_id);
    if (!x || x->committed || strcmp(x->rowset_id, c->rowset_id) != 0 || c->slot >= x->nsegs) {
        char *path = xasprintf("%s/%s_%d.dat", t->data_dir, c->rowset_id, c->slot);
        unlink(path);
        free(path);
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: aborted while the write ran", (long long)t->id,
                       (long long)c->txn_id);
    }
    x->segs[c->slot].size = c->st.size;
    x->segs[c->slot].rows = c->st.rows;
    x->done[c->slot] = true;
    x->write_ms = fs_now_ms();
    return 0;
}

int engine_txn_write(struct engine *eng, int64_t tablet_id, int64_t txn_id, const struct column_batch *b,
                     struct err *e)
{
    struct write_ctx c;
    memset(&c, 0, sizeof(c));
    c.txn_id = txn_id;
    c.slot = b->nrows == 0 ? -1 : 0;
    struct version *v;
    int r = engine_snapshot(eng, tablet_id, &v, e);
    if (r < 0)
        return r;
    r = column_batch_check(b, v->schema, e);
    version_unref(v);
    if (r < 0) {
        err_prefix(e, "tablet %lld txn %lld", (long long)tablet_id, (long long)txn_id);
        return r;
    }
    if ((r = engine_tablet_exec(eng, tablet_id, reserve_on_worker, &c, e)) < 0)
        return r;
    if (c.slot < 0) {
        schema_unref(c.schema);
        return 0;
    }
    char *path = xasprintf("%s/%lld/%s_%d.dat", eng->data_dir, (long long)tablet_id, c.rowset_id, c.slot);
    struct segment_writer *w = NULL;
    if ((r = segment_writer_open(path, c.schema, &w, e)) == 0 && (r = segment_writer_add(w, b, 0, b->nrows, e)) == 0)
        r = segment_writer_finish(w, &c.st, e);
    segment_writer_free(w);
    schema_unref(c.schema);
    free(path);
    if (r < 0) {
        err_prefix(e, "tablet %lld txn %lld", (long long)tablet_id, (long long)txn_id);
        return r;
    }
    return engine_tablet_exec(eng, tablet_id, finish_on_worker, &c, e);
}

static int commit_on_worker(struct tablet *t, void *arg, struct err *e)
{
    int64_t txn_id = *(int64_t *)arg;
    struct stx *x = find_txn(t, txn_id);
    if (!x) {
        if (find_pub(t, txn_id))
            return 0;
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld txn %lld: unknown (never written or aborted)",
                       (long long)t->id, (long long)txn_id);
    }
    if (x->committed)
        return 0;
    for (int i = 0; i < x->nsegs; i++)
        if (!x->done[i])
            return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: write %d did not complete; abort and retry",
                           (long long)t->id, (long long)txn_id, i);
    int r = fs_fsync_dir(t->data_dir, e);
    if (r < 0)
        return r;
    if ((r = FAULT_POINT("txn.commit")) < 0)
        return err_set(e, r, "tablet %lld txn %lld: injected commit fault", (long long)t->id, (long long)txn_id);
    struct stx tmp = *x;
    tmp.committed = true;
    tmp.rs = rowset_new(x->rowset_id, t->id, -1, -1, x->segs, x->nsegs, x->write_ms, NULL, t->data_dir);
    if (x->first_ms > 0 && x->first_ms < x->write_ms)
        tmp.rs->oldest_write_ms = x->first_ms;
    if ((r = tablet_save_meta(t, t->cur, TXN_NONE, &tmp, NULL, e)) < 0) {
        rowset_unref(tmp.rs);
        return r;
    }
    x->committed = true;
    x->rs = tmp.rs;
    count_txn("committed");
    return 0;
}

int engine_txn_commit(struct engine *eng, int64_t tablet_id, int64_t txn_id, struct err *e)
{
    return engine_tablet_exec(eng, tablet_id, commit_on_worker, &txn_id, e);
}

struct publish_ctx {
    int64_t txn_id, version;
};

static int publish_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct publish_ctx *c = arg;
    const struct pub_entry *p = find_pub(t, c->txn_id);
    if (p) {
        if (p->version == c->version)
            return 0;
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: already published at version %lld, not %lld",
                       (long long)t->id, (long long)c->txn_id, (long long)p->version, (long long)c->version);
    }
    struct stx *x = find_txn(t, c->txn_id);
    if (!x)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld txn %lld: unknown (never written or aborted)",
                       (long long)t->id, (long long)c->txn_id);
    if (!x->committed)
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: not committed", (long long)t->id, (long long)c->txn_id);
    if (c->version != t->cur->max_version + 1)
        return err_set(e, FLOE_EVERSION, "tablet %lld txn %lld: publish at version %lld, but the tablet is at %lld "
                       "(expected %lld)", (long long)t->id, (long long)c->txn_id, (long long)c->version,
                       (long long)t->cur->max_version, (long long)(t->cur->max_version + 1));
    int r = FAULT_POINT("txn.publish");
    if (r < 0)
        return err_set(e, r, "tablet %lld txn %lld: injected publish fault", (long long)t->id, (long long)c->txn_id);
    struct version *nv = version_copy(t->cur);
    nv->max_version = c->version;
    struct rowset *rs = rowset_clone(x->rs, c->version, c->version, NULL);
    version_add_rowset(nv, rs);
    rowset_unref(rs);
    struct pub_entry pe = { c->txn_id, c->version };
    if ((r = tablet_save_meta(t, nv, c->txn_id, NULL, &pe, e)) < 0) {
        version_unref(nv);
        return r;
    }
    (void)FAULT_POINT("txn.publish.after_save");
    if (t->npubs >= TABLET_META_KEEP_PUBLISHED) {
        memmove(t->pubs, t->pubs + 1, (t->npubs - 1) * sizeof(*t->pubs));
        t->npubs--;
    }
    t->pubs = xrealloc(t->pubs, (t->npubs + 1) * sizeof(*t->pubs));
    t->pubs[t->npubs++] = pe;
    remove_txn(t, x);
    tablet_swap(t, nv);
    tlog_debug(t->id, "txn %lld published as version %lld", (long long)c->txn_id, (long long)c->version);
    count_txn("published");
    return 0;
}

int engine_txn_publish(struct engine *eng, int64_t tablet_id, int64_t txn_id, int64_t version, struct err *e)
{
    struct publish_ctx c = { txn_id, version };
    return engine_tablet_exec(eng, tablet_id, publish_on_worker, &c, e);
}

/* Worker only: drops an unpublished txn, its meta entry first when committed, then its files. */
static int drop_txn(struct tablet *t, struct stx *x, struct err *e)
{
    int64_t txn_id = x->txn_id;
    int r = FAULT_POINT("txn.abort");
    if (r < 0)
        return err_set(e, r, "tablet %lld txn %lld: injected abort fault", (long long)t->id, (long long)txn_id);
    if (x->committed && (r = tablet_save_meta(t, t->cur, txn_id, NULL, NULL, e)) < 0)
        return r;
    rowset_delete_local_files(t->data_dir, x->rowset_id, x->nsegs);
    remove_txn(t, x);
    return 0;
}

static int abort_on_worker(struct tablet *t, void *arg, struct err *e)
{
    int64_t txn_id = *(int64_t *)arg;
    const struct pub_entry *p = find_pub(t, txn_id);
    if (p)
        return err_set(e, FLOE_ETXN, "tablet %lld txn %lld: already published at version %lld, cannot abort",
                       (long long)t->id, (long long)txn_id, (long long)p->version);
    struct stx *x = find_txn(t, txn_id);
    if (!x)
        return 0;
    int r = drop_txn(t, x, e);
    if (r < 0)
        return r;
    tlog_debug(t->id, "txn %lld aborted", (long long)txn_id);
    count_txn("aborted");
    return 0;
}

struct txn_expire_ctx {
    int64_t now_ms, timeout_ms;
    size_t n;
};

static int expire_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct txn_expire_ctx *c = arg;
    for (size_t i = 0; i < t->ntxns;) {
        struct stx *x = &t->txns[i];
        int64_t idle = c->now_ms - x->write_ms;
        if (idle <= c->timeout_ms) {
            i++;
            continue;
        }
        int64_t txn_id = x->txn_id;
        bool committed = x->committed;
        int r = drop_txn(t, x, e);   /* x is gone: the next txn moved into slot i */
        if (r < 0)
            return r;
        tlog_warn(t->id, "txn %lld %s but neither published nor aborted for %lld s: aborted (txn_timeout_s)",
                  (long long)txn_id, committed ? "committed" : "written", (long long)(idle / 1000));
        count_txn("expired");
        c->n++;
    }
    return 0;
}

int engine_txn_expire(struct engine *eng, int64_t tablet_id, int64_t now_ms, int64_t timeout_ms, size_t *ret_n,
                      struct err *e)
{
    struct txn_expire_ctx c = { now_ms < 0 ? fs_now_ms() : now_ms, timeout_ms < 0 ? 0 : timeout_ms, 0 };
    int r = engine_tablet_exec(eng, tablet_id, expire_on_worker, &c, e);
    if (ret_n)
        *ret_n = c.n;
    return r;
}

int engine_txn_abort(struct engine *eng, int64_t tablet_id, int64_t txn_id, struct err *e)
{
    return engine_tablet_exec(eng, tablet_id, abort_on_worker, &txn_id, e);
}

struct txn_query {
    int64_t txn_id;
    uint64_t rows;
    bool committed;
    struct rowset *rs;
    bool existed;
};

static int query_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct txn_query *q = arg;
    struct stx *x = find_txn(t, q->txn_id);
    if (!x)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld txn %lld: unknown", (long long)t->id, (long long)q->txn_id);
    for (int i = 0; i < x->nsegs; i++)
        if (x->done[i])
            q->rows += x->segs[i].rows;
    q->committed = x->committed;
    q->rs = rowset_ref(x->rs);
    return 0;
}

int engine_txn_info(struct engine *eng, int64_t tablet_id, int64_t txn_id, uint64_t *ret_rows,
                    struct rowset **ret_rowset, struct err *e)
{
    struct txn_query q = { .txn_id = txn_id };
    int r = engine_tablet_exec(eng, tablet_id, query_on_worker, &q, e);
    if (ret_rows)
        *ret_rows = q.rows;
    if (ret_rowset)
        *ret_rowset = q.rs;
    else
        rowset_unref(q.rs);
    return r;
}

static int abort_ex_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct txn_query *q = arg;
    q->existed = find_txn(t, q->txn_id) != NULL;
    return abort_on_worker(t, &q->txn_id, e);
}

int engine_txn_abort_ex(struct engine *eng, int64_t tablet_id, int64_t txn_id, bool *ret_existed, struct err *e)
{
    struct txn_query q = { .txn_id = txn_id };
    int r = engine_tablet_exec(eng, tablet_id, abort_ex_on_worker, &q, e);
    if (ret_existed)
        *ret_existed = r == 0 && q.existed;
    return r;
}
