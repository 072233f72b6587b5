/* service: BackendService handlers. */
#define LOG_MODULE "service"
#include "service.h"

#include "auth.h"
#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "idl_conv.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"
#include "scan.h"
#include "segment_reader.h"
#include "tablet_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_BATCH_ROWS 65536
#define FETCH_MAX (16 << 20)

struct cursor {
    int64_t id;
    struct scan *scan;
    struct idl_conv_preds preds;
    struct idl_scan_open_req *req;   /* owns the predicate strings */
    struct column_batch batch;
    int64_t last_used_ms;
    bool busy;
};

struct snap {
    int64_t id;
    struct version *v;
    int64_t last_used_ms;
};

struct be_service {
    struct be_service_opts o;
    struct idl_backend_service_handlers h;
    pthread_mutex_t mu;
    struct cursor **cursors;
    size_t ncursors;
    struct snap *snaps;
    size_t nsnaps;
    int64_t next_id;
    int64_t start_ms;
    /* master fencing (fence_mu) */
    pthread_mutex_t fence_mu;
    int64_t fe_epoch;                /* highest master epoch seen (durable when fence_path is set) */
    char fe_master[256];             /* address the newest master announced */
    char *fence_path;                /* {storage_root}/fe_epoch.json or NULL */
};

static int64_t new_id(struct be_service *s)
{
    return ++s->next_id;
}

/* ---- master fencing ---- */

static int fence_load(struct be_service *s, struct err *e)
{
    struct buf b = BUF_INIT;
    json_t *j = NULL;
    int r = fs_read_file(s->fence_path, &b, 1 << 16, e);
    if (r == -ENOENT) {
        err_clear(e);
        r = 0;
        goto out;
    }
    const char *addr = "";
    if (r < 0 || (r = json_parse(b.data ? b.data : "", b.len, &j, s->fence_path, e)) < 0 ||
        (r = json_get_i64(j, "epoch", &s->fe_epoch, s->fence_path, e)) < 0)
        goto out;
    if (json_object_get(j, "fe_address") && (r = json_get_str(j, "fe_address", &addr, s->fence_path, e)) < 0)
        goto out;
    if (s->fe_epoch < 0 || strlen(addr) >= sizeof(s->fe_master)) {
        r = err_set(e, FLOE_ECORRUPT, "%s: epoch %lld or fe_address is out of range", s->fence_path,
                    (long long)s->fe_epoch);
        goto out;
    }
    snprintf(s->fe_master, sizeof(s->fe_master), "%s", addr);
out:
    if (r < 0 && r != FLOE_ECORRUPT && r >= FLOE_ERR_MIN && r <= FLOE_ERR_MAX) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err_msg(e));
        r = err_set(e, FLOE_ECORRUPT, "%s", msg);
    }
    json_decref(j);
    buf_release(&b);
    return r;
}

/* fence_mu held. */
static int fence_save(struct be_service *s, int64_t epoch, const char *addr, struct err *e)
{
    if (!s->fence_path)
        return 0;
    json_t *j = json_pack("{s:I,s:s}", "epoch", (json_int_t)epoch, "fe_address", addr);
    struct buf b = BUF_INIT;
    int r = json_dump_buf(j, &b, e);
    if (r == 0)
        r = fs_write_atomic(s->fence_path, b.data, b.len, e);
    buf_release(&b);
    json_decref(j);
    return r;
}

int be_service_fence(struct be_service *s, int64_t epoch, const char *what, int64_t tablet_id,
                     const char *fe_address, struct err *e)
{
    if (epoch <= 0)
        return 0;   /* an FE from before fencing: nothing to compare */
    const char *addr = fe_address && *fe_address && strlen(fe_address) < sizeof(s->fe_master) ? fe_address : NULL;
    int r = 0;
    pthread_mutex_lock(&s->fence_mu);
    int64_t seen = s->fe_epoch;
    if (epoch < seen) {
        pthread_mutex_unlock(&s->fence_mu);
        struct buf n = BUF_INIT;
        buf_puts(&n, "floe_be_fenced_total{");
        metrics_label(&n, "method", what);
        buf_puts(&n, "}");
        metrics_inc(metrics_counter(buf_cstr(&n), "requests refused: their FE master epoch is below the highest seen"));
        buf_release(&n);
        if (tablet_id)
            tlog_warn(tablet_id, "refused %s from a deposed FE master: epoch %lld is below %lld", what,
                      (long long)epoch, (long long)seen);
        else
            log_warn("refused %s from a deposed FE master: epoch %lld is below %lld", what, (long long)epoch,
                     (long long)seen);
        return err_set(e, FLOE_ENOTMASTER, "%s: FE master epoch %lld is below %lld seen by this BE (a newer master "
                       "took over)", what, (long long)epoch, (long long)seen);
    }
    bool new_addr = addr && strcmp(addr, s->fe_master) != 0;
    if (epoch > seen || new_addr) {
        const char *keep = addr ? addr : epoch > seen ? "" : s->fe_master;
        if ((r = fence_save(s, epoch, keep, e)) < 0) {
            err_prefix(e, "%s: cannot persist FE master epoch %lld", what, (long long)epoch);
        } else {
            if (epoch > seen)
                log_info("FE master epoch %lld (was %lld)%s%s", (long long)epoch, (long long)seen,
                         addr ? ", master at " : "", addr ? addr : "");
            else
                log_info("FE master at %s (epoch %lld)", addr, (long long)epoch);
            s->fe_epoch = epoch;
            snprintf(s->fe_master, sizeof(s->fe_master), "%s", keep);
        }
    }
    pthread_mutex_unlock(&s->fence_mu);
    return r;
}

int64_t be_service_fe_epoch(struct be_service *s)
{
    pthread_mutex_lock(&s->fence_mu);
    int64_t v = s->fe_epoch;
    pthread_mutex_unlock(&s->fence_mu);
    return v;
}

void be_service_fe_master(struct be_service *s, char *buf, size_t len)
{
    pthread_mutex_lock(&s->fence_mu);
    snprintf(buf, len, "%s", s->fe_master);
    pthread_mutex_unlock(&s->fence_mu);
}

/* ---- ping ---- */

static int h_ping(void *ctx, const struct idl_ping_req *req, struct idl_ping_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    int r = be_service_fence(s, req->has_master_epoch ? req->master_epoch : 0, "ping", 0, req->fe_address, e);
    if (r < 0)
        return r;
    rep->backend_id = s->o.backend_id ? __atomic_load_n(s->o.backend_id, __ATOMIC_RELAXED) : 0;
    tidl_set_str(&rep->version, FLOE_VERSION);
    rep->start_time_ms = s->start_ms;
    struct tablet_info *tis;
    size_t n;
    engine_tablet_infos(s->o.eng, &tis, &n);
    rep->num_tablets = (int32_t)n;
    for (size_t i = 0; i < n; i++)
        rep->disk_used_bytes += (int64_t)tis[i].local_size;
    free(tis);
    struct statvfs st;
    if (statvfs(engine_root(s->o.eng), &st) == 0)
        rep->disk_capacity_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
    return 0;
}

/* ---- tablet info ---- */

static void fill_info(struct be_service *s, int64_t id, bool with_rowsets, struct idl_tablet_info *out)
{
    struct tablet_info ti;
    if (engine_tablet_info(s->o.eng, id, &ti, NULL) < 0) {
        out->tablet_id = id;
        out->state = IDL_TABLET_STATE_DROPPED;
        return;
    }
    struct version *v = NULL;
    if (!ti.bad)
        engine_snapshot(s->o.eng, id, &v, NULL);
    idl_conv_tablet_info(&ti, v, with_rowsets, out);
    version_unref(v);
    if (s->o.hooks.fill_tablet_info && !ti.bad)
        s->o.hooks.fill_tablet_info(s->o.hooks.ctx, out);
}

void be_service_tablet_infos(struct be_service *s, struct idl_tablet_info **ret, size_t *ret_n)
{
    struct tablet_info *tis;
    size_t n;
    engine_tablet_infos(s->o.eng, &tis, &n);
    struct idl_tablet_info *v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        idl_tablet_info_init(&v[i]);
        fill_info(s, tis[i].tablet_id, false, &v[i]);
    }
    free(tis);
    *ret = v;
    *ret_n = n;
}

static int h_tablet_info(void *ctx, const struct idl_tablet_info_req *req, struct idl_tablet_info_reply *rep,
                         struct err *e)
{
    struct be_service *s = ctx;
    (void)e;
    if (req->tablet_ids_len) {
        for (size_t i = 0; i < req->tablet_ids_len; i++)
            fill_info(s, req->tablet_ids[i], req->with_rowsets, idl_tablet_info_reply_add_tablets(rep));
        return 0;
    }
    struct tablet_info *tis;
    size_t n;
    engine_tablet_infos(s->o.eng, &tis, &n);
    for (size_t i = 0; i < n; i++)
        fill_info(s, tis[i].tablet_id, req->with_rowsets, idl_tablet_info_reply_add_tablets(rep));
    free(tis);
    return 0;
}

/* ---- create / drop ---- */

static int h_create(void *ctx, const struct idl_create_tablet_req *req, struct idl_create_tablet_reply *rep,
                    struct err *e)
{
    struct be_service *s = ctx;
    struct schema *sc;
    int r = idl_conv_schema_from(&req->schema, &sc, e);
    if (r < 0) {
        err_prefix(e, "create tablet %lld", (long long)req->tablet_id);
        return r;
    }
    struct cooldown_state cd;
    cooldown_state_init(&cd);
    if (req->has_policy) {
        cd.storage_policy = xstrdup(req->policy.name ? req->policy.name : "");
        cd.resource_id = xstrdup(req->policy.resource ? req->policy.resource : "");
        json_object_set_new(cd.extra, "policy",
                            json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", cd.storage_policy, "resource",
                                      cd.resource_id, "cooldown_ttl_s", (json_int_t)req->policy.cooldown_ttl_s,
                                      "cooldown_datetime_s", (json_int_t)req->policy.cooldown_datetime_s,
                                      "policy_id", (json_int_t)req->policy.policy_id));
    }
    if (req->has_cooldown) {
        cd.cooldown_replica_id = req->cooldown.cooldown_replica_id;
        cd.cooldown_term = req->cooldown.cooldown_term;
    }
    r = engine_create_tablet_ex(s->o.eng, req->tablet_id, req->replica_id, sc, req->version, &cd, e);
    if (r == FLOE_EEXIST) {
        /* a retried create of the same tablet is fine */
        struct version *v;
        struct tablet_info ti;
        if (engine_snapshot(s->o.eng, req->tablet_id, &v, NULL) == 0) {
            bool same = schema_equal(v->schema, sc) && engine_tablet_info(s->o.eng, req->tablet_id, &ti, NULL) == 0 &&
                        ti.replica_id == req->replica_id;
            version_unref(v);
            if (same)
                r = 0;
        }
    }
    cooldown_state_release(&cd);
    schema_unref(sc);
    if (r < 0)
        return r;
    if (s->o.hooks.tablet_created)
        s->o.hooks.tablet_created(s->o.hooks.ctx, req->tablet_id, req->has_policy ? &req->policy : NULL,
                                  req->has_resource ? &req->resource : NULL);
    fill_info(s, req->tablet_id, false, &rep->tablet);
    return 0;
}

static int h_drop(void *ctx, const struct idl_drop_tablet_req *req, struct idl_drop_tablet_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    struct tablet_info ti;
    int r = be_service_fence(s, req->has_fe_epoch ? req->fe_epoch : 0, "drop_tablet", req->tablet_id, NULL, e);
    if (r < 0)
        return r;
    if (req->replica_id && engine_tablet_info(s->o.eng, req->tablet_id, &ti, NULL) == 0 &&
        ti.replica_id != req->replica_id)
        return err_set(e, FLOE_EBADREQ, "drop tablet %lld: this BE holds replica %lld, not %lld",
                       (long long)req->tablet_id, (long long)ti.replica_id, (long long)req->replica_id);
    r = s->o.hooks.drop_tablet ? s->o.hooks.drop_tablet(s->o.hooks.ctx, req->tablet_id, req->delete_remote, e)
                               : engine_drop_tablet(s->o.eng, req->tablet_id, e);
    rep->existed = r == 0;
    if (r == FLOE_ENOTFOUND) {
        err_clear(e);
        r = 0;
    }
    /* the last replica of a dropped table: the FE names the resource, so the
     * prefix goes even when a report already dropped the tablet here and a
     * restart lost what the cooldown code remembered of it */
    if (r == 0 && req->delete_remote && req->has_resource) {
        int64_t n = 0;
        if (!s->o.hooks.delete_remote_prefix)
            r = err_set(e, FLOE_EUNSUPPORTED, "drop tablet %lld: remote deletes are not available on this BE",
                        (long long)req->tablet_id);
        else if ((r = s->o.hooks.delete_remote_prefix(s->o.hooks.ctx, req->tablet_id, &req->resource, &n, e)) < 0)
            err_prefix(e, "drop tablet %lld: delete remote prefix on resource '%s'", (long long)req->tablet_id,
                       req->resource.name ? req->resource.name : "");
        else if (n > 0)
            tlog_info(req->tablet_id, "dropped tablet: deleted %lld remote objects on resource '%s'", (long long)n,
                      req->resource.name ? req->resource.name : "");
    }
    return r;
}

/* ---- loads ---- */

static int h_write(void *ctx, const struct idl_write_rowset_req *req, struct idl_write_rowset_reply *rep,
                   struct err *e)
{
    struct be_service *s = ctx;
    struct version *v;
    int r = engine_snapshot(s->o.eng, req->tablet_id, &v, e);
    if (r < 0)
        return r;
    /* all batches of one request become one segment: many small batches must not make many tiny files */
    struct column_batch all;
    column_batch_init_schema(&all, v->schema, NULL, 0);
    for (size_t i = 0; i < req->batches_len && r == 0; i++) {
        struct column_batch b;
        r = idl_conv_batch_from(&req->batches[i], v->schema, &b, e);
        if (r < 0)
            err_prefix(e, "tablet %lld txn %lld batch %zu", (long long)req->tablet_id, (long long)req->txn_id, i);
        else
            column_batch_append_rows(&all, &b, 0, b.nrows);
        column_batch_release(&b);
    }
    if (r == 0 &&
        (r = engine_txn_write(s->o.eng, req->tablet_id, req->txn_id, &all, e)) == 0)
        rep->num_rows = (int64_t)all.nrows;
    column_batch_release(&all);
    version_unref(v);
    if (r < 0)
        return r;
    uint64_t rows = 0;
    if (engine_txn_info(s->o.eng, req->tablet_id, req->txn_id, &rows, NULL, NULL) == 0)
        rep->txn_rows = (int64_t)rows;
    return 0;
}

static void result(struct idl_tablet_result *tr, int64_t tid, int r, const struct err *e, int64_t version)
{
    tr->tablet_id = tid;
    tr->code = r;
    tidl_set_str(&tr->message, r < 0 ? err_msg(e) : "");
    tr->version = version;
}

static int h_commit(void *ctx, const struct idl_commit_txn_req *req, struct idl_commit_txn_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    (void)e;
    for (size_t i = 0; i < req->tablet_ids_len; i++) {
        int64_t tid = req->tablet_ids[i];
        struct err te = { 0 };
        int r = engine_txn_commit(s->o.eng, tid, req->txn_id, &te);
        result(idl_commit_txn_reply_add_tablets(rep), tid, r, &te, 0);
        struct idl_rowset_info *ri = idl_commit_txn_reply_add_rowsets(rep);
        struct rowset *rs = NULL;
        if (r == 0 && engine_txn_info(s->o.eng, tid, req->txn_id, NULL, &rs, NULL) == 0 && rs)
            idl_conv_rowset_info(rs, ri);
        else
            tidl_set_str(&ri->rowset_id, "");
        rowset_unref(rs);
    }
    return 0;
}

static int h_publish(void *ctx, const struct idl_publish_version_req *req, struct idl_publish_version_reply *rep,
                     struct err *e)
{
    struct be_service *s = ctx;
    (void)e;
    for (size_t i = 0; i < req->tablets_len; i++) {
        const struct idl_tablet_version *tv = &req->tablets[i];
        struct err te = { 0 };
        int r = engine_txn_publish(s->o.eng, tv->tablet_id, req->txn_id, tv->version, &te);
        struct tablet_info ti = { 0 };
        engine_tablet_info(s->o.eng, tv->tablet_id, &ti, NULL);
        result(idl_publish_version_reply_add_tablets(rep), tv->tablet_id, r, &te, ti.max_version);
        if (r < 0)
            tlog_warn(tv->tablet_id, "publish txn %lld at %lld: %s", (long long)req->txn_id, (long long)tv->version,
                      err_msg(&te));
    }
    return 0;
}

static int h_abort(void *ctx, const struct idl_abort_txn_req *req, struct idl_abort_txn_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    int64_t *ids = req->tablet_ids;
    size_t n = req->tablet_ids_len;
    struct tablet_info *tis = NULL;
    if (n == 0) {
        engine_tablet_infos(s->o.eng, &tis, &n);
        ids = xcalloc(n + 1, sizeof(*ids));
        for (size_t i = 0; i < n; i++)
            ids[i] = tis[i].tablet_id;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        bool existed = false;
        struct err te = { 0 };
        int r = engine_txn_abort_ex(s->o.eng, ids[i], req->txn_id, &existed, &te);
        if (r == 0 && existed)
            rep->aborted++;
        if (r < 0 && req->tablet_ids_len && r != FLOE_ENOTFOUND && rc == 0) {
            rc = r;
            err_set(e, r, "%s", err_msg(&te));
        }
    }
    if (tis) {
        free(ids);
        free(tis);
    }
    return rc;
}

/* ---- scans ---- */

static void cursor_free(struct cursor *c)
{
    if (!c)
        return;
    scan_free(c->scan);
    idl_conv_preds_free(&c->preds);
    if (c->req) {
        idl_scan_open_req_release(c->req);
        free(c->req);
    }
    column_batch_release(&c->batch);
    free(c);
}

static struct idl_scan_open_req *copy_req(const struct idl_scan_open_req *req)
{
    /* predicates reference request strings: keep a private copy for the cursor's life */
    struct buf b = BUF_INIT;
    idl_scan_open_req_encode(req, &b);
    struct idl_scan_open_req *c = xcalloc(1, sizeof(*c));
    if (idl_scan_open_req_decode(b.data, b.len, NULL, c, NULL) < 0) {
        free(c);
        c = NULL;
    }
    buf_release(&b);
    return c;
}

static int h_scan_open(void *ctx, const struct idl_scan_open_req *req0, struct idl_scan_open_reply *rep,
                       struct err *e)
{
    struct be_service *s = ctx;
    struct cursor *c = xcalloc(1, sizeof(*c));
    c->req = copy_req(req0);
    if (!c->req) {
        free(c);
        return err_set(e, FLOE_EINTERNAL, "scan: cannot copy the request");
    }
    const struct idl_scan_open_req *req = c->req;
    struct version *v = NULL;
    int *proj = NULL;
    int r = engine_snapshot(s->o.eng, req->tablet_id, &v, e);
    if (r < 0)
        goto fail;
    proj = xcalloc(req->columns_len + 1, sizeof(int));
    for (size_t i = 0; i < req->columns_len; i++) {
        proj[i] = schema_find(v->schema, req->columns[i] ? req->columns[i] : "");
        if (proj[i] < 0) {
            r = err_set(e, FLOE_EBADINPUT, "scan tablet %lld: no column '%s'", (long long)req->tablet_id,
                        req->columns[i] ? req->columns[i] : "");
            goto fail;
        }
    }
    if ((r = idl_conv_preds_from(req->predicates, req->predicates_len, v->schema, &c->preds, e)) < 0)
        goto fail;
    struct scan_opts so = {
        .version = req->version,
        .proj = req->columns_len ? proj : NULL,
        .nproj = (int)req->columns_len,
        .preds = c->preds.preds,
        .npreds = c->preds.n,
        .limit = req->limit,
        .batch_rows = req->batch_rows <= 0 ? 4096 : req->batch_rows > MAX_BATCH_ROWS ? MAX_BATCH_ROWS
                                                                                       : (size_t)req->batch_rows,
    };
    if ((r = scan_open(v, &so, &c->scan, e)) < 0)
        goto fail;
    scan_init_batch(c->scan, &c->batch);
    bool eof;
    if ((r = scan_next(c->scan, &c->batch, &eof, e)) < 0)
        goto fail;
    idl_conv_schema_to(v->schema, req->columns_len ? proj : NULL, (int)req->columns_len, &rep->schema);
    idl_conv_batch_to(&c->batch, &rep->batch);
    rep->version = req->version >= 0 ? req->version : v->max_version;
    rep->eos = eof;
    version_unref(v);
    free(proj);
    if (eof) {
        cursor_free(c);
        return 0;
    }
    c->last_used_ms = mono_now_ms();
    pthread_mutex_lock(&s->mu);
    c->id = new_id(s);
    s->cursors = xrealloc(s->cursors, (s->ncursors + 1) * sizeof(*s->cursors));
    s->cursors[s->ncursors++] = c;
    rep->cursor_id = c->id;
    pthread_mutex_unlock(&s->mu);
    return 0;
fail:
    version_unref(v);
    free(proj);
    cursor_free(c);
    return r;
}

static struct cursor *take_cursor(struct be_service *s, int64_t id, bool remove)
{
    struct cursor *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ncursors; i++) {
        if (s->cursors[i]->id != id)
            continue;
        if (s->cursors[i]->busy)
            break;
        c = s->cursors[i];
        if (remove)
            s->cursors[i] = s->cursors[--s->ncursors];
        else
            c->busy = true;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void put_cursor(struct be_service *s, struct cursor *c)
{
    pthread_mutex_lock(&s->mu);
    c->busy = false;
    c->last_used_ms = mono_now_ms();
    pthread_mutex_unlock(&s->mu);
}

static int h_scan_next(void *ctx, const struct idl_scan_next_req *req, struct idl_scan_next_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    struct cursor *c = take_cursor(s, req->cursor_id, false);
    if (!c)
        return err_set(e, FLOE_ENOTFOUND, "scan cursor %lld: unknown, expired or in use", (long long)req->cursor_id);
    bool eof = false;
    int r = scan_next(c->scan, &c->batch, &eof, e);
    if (r == 0) {
        idl_conv_batch_to(&c->batch, &rep->batch);
        rep->eos = eof;
    }
    if (r < 0 || eof) {
        put_cursor(s, c);
        cursor_free(take_cursor(s, req->cursor_id, true));
    } else {
        put_cursor(s, c);
    }
    return r;
}

static int h_scan_close(void *ctx, const struct idl_scan_close_req *req, struct idl_scan_close_reply *rep,
                        struct err *e)
{
    struct be_service *s = ctx;
    (void)e;
    struct cursor *c = take_cursor(s, req->cursor_id, true);
    rep->existed = c != NULL;
    cursor_free(c);
    return 0;
}

size_t be_service_cursors(struct be_service *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->ncursors;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- compaction ---- */

static int h_compact(void *ctx, const struct idl_compact_req *req, struct idl_compact_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    if (req->cold) {
        if (!s->o.hooks.compact_cold)
            return err_set(e, FLOE_EUNSUPPORTED, "tablet %lld: cold compaction is not available",
                           (long long)req->tablet_id);
        return s->o.hooks.compact_cold(s->o.hooks.ctx, req, rep, e);
    }
    bool done = false;
    int r = engine_compact(s->o.eng, req->tablet_id, COMPACTION_CUMULATIVE, &done, e);
    if (r == 0 && !done)
        r = engine_compact(s->o.eng, req->tablet_id, COMPACTION_BASE, &done, e);
    if (r < 0)
        return r;
    rep->compacted = done;
    fill_info(s, req->tablet_id, false, &rep->tablet);
    return 0;
}

/* ---- clone: source side ---- */

static int h_make_snapshot(void *ctx, const struct idl_snapshot_req *req, struct idl_snapshot_reply *rep,
                           struct err *e)
{
    struct be_service *s = ctx;
    struct version *v;
    int r = engine_snapshot(s->o.eng, req->tablet_id, &v, e);
    if (r < 0)
        return r;
    if (req->version >= 0 && req->version > v->max_version) {
        r = err_set(e, FLOE_EVERSION, "snapshot of tablet %lld: at version %lld, %lld asked", (long long)req->tablet_id,
                    (long long)v->max_version, (long long)req->version);
        version_unref(v);
        return r;
    }
    struct tablet_info ti;
    engine_tablet_info(s->o.eng, req->tablet_id, &ti, NULL);
    idl_conv_tablet_info(&ti, v, true, &rep->tablet);
    idl_conv_schema_to(v->schema, NULL, 0, &rep->schema);
    struct tablet_meta m = { .tablet_id = req->tablet_id, .replica_id = ti.replica_id, .v = v };
    struct buf b = BUF_INIT;
    if ((r = tablet_meta_encode(&m, &b, e)) < 0) {
        buf_release(&b);
        version_unref(v);
        return r;
    }
    rep->meta_json = buf_detach(&b, NULL);
    pthread_mutex_lock(&s->mu);
    rep->snapshot_id = new_id(s);
    s->snaps = xrealloc(s->snaps, (s->nsnaps + 1) * sizeof(*s->snaps));
    s->snaps[s->nsnaps++] = (struct snap){ rep->snapshot_id, v, mono_now_ms() };
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int h_fetch_file(void *ctx, const struct idl_fetch_file_req *req, struct idl_fetch_file_reply *rep,
                        struct err *e)
{
    struct be_service *s = ctx;
    struct rowset *rs = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsnaps; i++) {
        if (s->snaps[i].id != req->snapshot_id)
            continue;
        s->snaps[i].last_used_ms = mono_now_ms();
        ssize_t k = version_find_rowset(s->snaps[i].v, req->rowset_id ? req->rowset_id : "");
        if (k >= 0)
            rs = rowset_ref(s->snaps[i].v->rowsets[k]);
        break;
    }
    pthread_mutex_unlock(&s->mu);
    if (!rs)
        return err_set(e, FLOE_ENOTFOUND, "snapshot %lld: no rowset '%s'", (long long)req->snapshot_id,
                       req->rowset_id ? req->rowset_id : "");
    int r = 0;
    struct io_source *src = NULL;
    if (!rowset_is_local(rs) || req->segment < 0 || req->segment >= rs->nsegs || req->offset < 0 ||
        req->length <= 0 || req->length > FETCH_MAX) {
        r = err_set(e, FLOE_EBADREQ, "fetch rowset %s segment %d at %lld (%d bytes): not a local segment or bad range",
                    rs->id, (int)req->segment, (long long)req->offset, (int)req->length);
        goto out;
    }
    if ((r = rowset_open_segment(rs, req->segment, &src, e)) < 0)
        goto out;
    uint64_t size = rs->segs[req->segment].size;
    rep->file_size = (int64_t)size;
    uint64_t off = (uint64_t)req->offset;
    size_t n = off >= size ? 0 : (size - off < (uint64_t)req->length ? (size_t)(size - off) : (size_t)req->length);
    rep->data.data = xmalloc(n + 1);
    rep->data.len = n;
    if (n && (r = io_source_read_at(src, off, n, rep->data.data, e)) < 0)
        goto out;
    rep->eof = off + n >= size;
out:
    io_source_close(src);
    rowset_unref(rs);
    return r;
}

static int h_release_snapshot(void *ctx, const struct idl_release_snapshot_req *req,
                              struct idl_release_snapshot_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    (void)e;
    struct version *v = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsnaps; i++) {
        if (s->snaps[i].id == req->snapshot_id) {
            v = s->snaps[i].v;
            s->snaps[i] = s->snaps[--s->nsnaps];
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    rep->existed = v != NULL;
    version_unref(v);
    return 0;
}

/* ---- clone: destination side ---- */

static int fetch_segment(struct rpc_client *cl, int64_t snap, const struct rowset *rs, int seg, const char *path,
                         struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_errno(e, errno, "clone: create %s", path);
    int r = 0;
    uint64_t off = 0;
    for (;;) {
        struct idl_fetch_file_req fr;
        idl_fetch_file_req_init(&fr);
        fr.snapshot_id = snap;
        tidl_set_str(&fr.rowset_id, rs->id);
        fr.segment = seg;
        fr.offset = (int64_t)off;
        fr.length = 4 << 20;
        struct idl_fetch_file_reply rep;
        r = idl_backend_service_fetch_file(cl, &fr, &rep, e);
        idl_fetch_file_req_release(&fr);
        if (r < 0)
            break;
        if (rep.data.len && (r = fs_write_full(fd, rep.data.data, rep.data.len)) < 0)
            r = err_errno(e, -r, "clone: write %s", path);
        off += rep.data.len;
        bool eof = rep.eof || rep.data.len == 0;
        idl_fetch_file_reply_release(&rep);
        if (r < 0 || eof)
            break;
    }
    if (r == 0 && off != rs->segs[seg].size)
        r = err_set(e, FLOE_ECORRUPT, "clone: %s: got %llu bytes, the meta says %llu", path, (unsigned long long)off,
                    (unsigned long long)rs->segs[seg].size);
    if (r == 0 && fsync(fd) < 0)
        r = err_errno(e, errno, "clone: fsync %s", path);
    close(fd);
    if (r == 0) {
        /* the trailer and footer checksums must hold before the copy is adopted (pages are checked on read) */
        struct io_source *src;
        struct segment_reader *rd;
        if ((r = io_source_open_file(path, rs->segs[seg].size, &src, e)) == 0 &&
            (r = segment_reader_open(src, &rd, e)) == 0) {
            if (segment_reader_rows(rd) != rs->segs[seg].rows)
                r = err_set(e, FLOE_ECORRUPT, "clone: %s: %llu rows, the meta says %llu", path,
                            (unsigned long long)segment_reader_rows(rd), (unsigned long long)rs->segs[seg].rows);
            segment_reader_free(rd);
        }
    }
    if (r < 0)
        unlink(path);
    return r;
}

static int h_clone(void *ctx, const struct idl_clone_req *req, struct idl_clone_reply *rep, struct err *e)
{
    struct be_service *s = ctx;
    int fr = be_service_fence(s, req->has_fe_epoch ? req->fe_epoch : 0, "clone", req->tablet_id, NULL, e);
    if (fr < 0)
        return fr;
    if (!s->o.token)
        return err_set(e, FLOE_EUNSUPPORTED, "clone: no cluster token configured");
    struct rpc_client_opts co = { .host = req->src_host, .port = req->src_port, .token = s->o.token };
    struct rpc_client *cl = NULL;
    int r = rpc_client_new(&co, &cl, e);
    if (r < 0)
        return r;
    struct idl_snapshot_req sr;
    idl_snapshot_req_init(&sr);
    sr.tablet_id = req->tablet_id;
    sr.version = req->version;
    struct idl_snapshot_reply snap;
    bool have_snap = false;
    struct tablet_meta m = { 0 };
    char *dir = engine_tablet_dir(s->o.eng, req->tablet_id);
    if ((r = idl_backend_service_make_snapshot(cl, &sr, &snap, e)) < 0)
        goto out;
    have_snap = true;
    char *ctxs = xasprintf("clone source %s:%d tablet %lld", req->src_host, (int)req->src_port,
                           (long long)req->tablet_id);
    r = tablet_meta_decode(snap.meta_json, strlen(snap.meta_json), ctxs, req->tablet_id, dir, &m, e);
    free(ctxs);
    if (r < 0)
        goto out;
    if ((r = fs_mkdir_p(dir, 0755, e)) < 0)
        goto out;
    for (size_t i = 0; i < m.v->nrowsets && r == 0; i++) {
        const struct rowset *rs = m.v->rowsets[i];
        if (!rowset_is_local(rs))
            continue; /* remote rowsets are cloned by meta only */
        for (int k = 0; k < rs->nsegs && r == 0; k++) {
            char *p = rowset_segment_path(rs, k);
            if (access(p, F_OK) != 0)
                r = fetch_segment(cl, snap.snapshot_id, rs, k, p, e);
            free(p);
        }
    }
    if (r == 0 && (r = fs_fsync_dir(dir, e)) == 0 &&
        (r = engine_install_clone(s->o.eng, req->tablet_id, req->replica_id, m.v, e)) == 0) {
        if (s->o.hooks.tablet_created && (req->has_policy || req->has_resource))
            s->o.hooks.tablet_created(s->o.hooks.ctx, req->tablet_id, req->has_policy ? &req->policy : NULL,
                                      req->has_resource ? &req->resource : NULL);
        fill_info(s, req->tablet_id, false, &rep->tablet);
        tlog_info(req->tablet_id, "cloned from %s:%d at version %lld", req->src_host, (int)req->src_port,
                  (long long)m.v->max_version);
    }
out:
    if (have_snap) {
        struct idl_release_snapshot_req rr;
        struct idl_release_snapshot_reply rrep;
        idl_release_snapshot_req_init(&rr);
        rr.snapshot_id = snap.snapshot_id;
        if (idl_backend_service_release_snapshot(cl, &rr, &rrep, NULL) == 0)
            idl_release_snapshot_reply_release(&rrep);
        idl_release_snapshot_req_release(&rr);
        idl_snapshot_reply_release(&snap);
    }
    idl_snapshot_req_release(&sr);
    tablet_meta_release(&m);
    free(dir);
    rpc_client_free(cl);
    return r;
}

/* ---- cooldown hooks ---- */

static int h_push_conf(void *ctx, const struct idl_push_cooldown_conf_req *req, struct idl_push_cooldown_conf_reply *rep,
                       struct err *e)
{
    struct be_service *s = ctx;
    int r = be_service_fence(s, req->has_fe_epoch ? req->fe_epoch : 0, "push_cooldown_conf", 0, NULL, e);
    if (r < 0)
        return r;
    if (!s->o.hooks.push_cooldown_conf)
        return err_set(e, FLOE_EUNSUPPORTED, "push_cooldown_conf: cooldown is not available on this BE");
    return s->o.hooks.push_cooldown_conf(s->o.hooks.ctx, req, rep, e);
}

static int h_cooldown_delete(void *ctx, const struct idl_cooldown_delete_req *req, struct idl_cooldown_delete_reply *rep,
                             struct err *e)
{
    struct be_service *s = ctx;
    /* a deposed master's confirmation deletes nothing (DESIGN §3) */
    int r = be_service_fence(s, req->has_fe_epoch ? req->fe_epoch : 0, "cooldown_delete", req->tablet_id, NULL, e);
    if (r < 0)
        return r;
    if (!s->o.hooks.cooldown_delete)
        return err_set(e, FLOE_EUNSUPPORTED, "cooldown_delete: cooldown is not available on this BE");
    return s->o.hooks.cooldown_delete(s->o.hooks.ctx, req, rep, e);
}

static int h_probe_resource(void *ctx, const struct idl_probe_resource_req *req, struct idl_probe_resource_reply *rep,
                            struct err *e)
{
    struct be_service *s = ctx;
    if (!s->o.hooks.probe_resource)
        return err_set(e, FLOE_EUNSUPPORTED, "probe_resource: resources are not available on this BE");
    return s->o.hooks.probe_resource(s->o.hooks.ctx, req, rep, e);
}

/* ---- lifecycle ---- */

int be_service_new(const struct be_service_opts *o, struct be_service **ret, struct err *e)
{
    if (!o->eng)
        return err_set(e, FLOE_EINTERNAL, "be service: no engine");
    struct be_service *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    if (s->o.cursor_idle_ms <= 0)
        s->o.cursor_idle_ms = 300000;
    if (s->o.snapshot_idle_ms <= 0)
        s->o.snapshot_idle_ms = 3600000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->fence_mu, NULL);
    if (o->storage_root) {
        s->fence_path = xasprintf("%s/fe_epoch.json", o->storage_root);
        int r = fence_load(s, e);
        if (r < 0) {
            be_service_free(s);
            return r;
        }
        if (s->fe_epoch > 0)
            log_info("FE master epoch %lld (from %s)", (long long)s->fe_epoch, s->fence_path);
    }
    s->start_ms = fs_now_ms();
    s->next_id = (s->start_ms % 1000000) * 1000;
    s->h.ctx = s;
    s->h.ping = h_ping;
    s->h.create_tablet = h_create;
    s->h.drop_tablet = h_drop;
    s->h.write_rowset = h_write;
    s->h.commit_txn = h_commit;
    s->h.publish_version = h_publish;
    s->h.abort_txn = h_abort;
    s->h.scan_open = h_scan_open;
    s->h.scan_next = h_scan_next;
    s->h.scan_close = h_scan_close;
    s->h.compact = h_compact;
    s->h.push_cooldown_conf = h_push_conf;
    s->h.cooldown_delete = h_cooldown_delete;
    s->h.clone = h_clone;
    s->h.tablet_info = h_tablet_info;
    s->h.make_snapshot = h_make_snapshot;
    s->h.fetch_file = h_fetch_file;
    s->h.release_snapshot = h_release_snapshot;
    s->h.probe_resource = h_probe_resource;
    *ret = s;
    return 0;
}

int be_service_register(struct be_service *s, struct rpc_server *srv, struct err *e)
{
    return idl_backend_service_register(srv, &s->h, e);
}

void be_service_tick(struct be_service *s)
{
    int64_t now = mono_now_ms();
    struct cursor **dead = NULL;
    size_t ndead = 0;
    struct version **dv = NULL;
    size_t ndv = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ncursors;) {
        struct cursor *c = s->cursors[i];
        if (!c->busy && now - c->last_used_ms > s->o.cursor_idle_ms) {
            dead = xrealloc(dead, (ndead + 1) * sizeof(*dead));
            dead[ndead++] = c;
            s->cursors[i] = s->cursors[--s->ncursors];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < s->nsnaps;) {
        if (now - s->snaps[i].last_used_ms > s->o.snapshot_idle_ms) {
            dv = xrealloc(dv, (ndv + 1) * sizeof(*dv));
            dv[ndv++] = s->snaps[i].v;
            s->snaps[i] = s->snaps[--s->nsnaps];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < ndead; i++)
        cursor_free(dead[i]);
    for (size_t i = 0; i < ndv; i++)
        version_unref(dv[i]);
    if (ndead || ndv)
        log_info("expired %zu idle scan cursors and %zu clone snapshots", ndead, ndv);
    free(dead);
    free(dv);
}

void be_service_free(struct be_service *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncursors; i++)
        cursor_free(s->cursors[i]);
    free(s->cursors);
    for (size_t i = 0; i < s->nsnaps; i++)
        version_unref(s->snaps[i].v);
    free(s->snaps);
    free(s->fence_path);
    pthread_mutex_destroy(&s->fence_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
