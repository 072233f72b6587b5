/*
 * scan: table scans through the FE. A cursor walks the table's tablets in
 * bucket order; each tablet is read from one replica chosen by route.h (the
 * cooldown replica for cooled tablets, so one file cache serves them) at
 * the tablet's visible version, streaming the backend's batches back one per
 * call. A replica that cannot open the scan is skipped for the next one;
 * one that fails mid-stream ends the scan with an error (rows were already
 * returned, so it cannot be resumed without duplicates).
 */
#define LOG_MODULE "scan"
#include "server_int.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "route.h"

#include <stdlib.h>
#include <string.h>

struct fe_cursor {
    int64_t id;
    bool busy;
    int64_t last_used_ms;
    struct idl_table_scan_req req;   /* owned copy: columns, predicates, limit */
    struct idl_tablet_schema schema; /* of the returned columns */
    int64_t *tablets, *versions;
    int32_t ntablets, idx;
    int64_t remaining;               /* -1 = no limit */
    int64_t be_cursor;               /* 0 = none open */
    int64_t be_backend;
    uint64_t spread;
};

static void cursor_free(struct fe_cursor *c)
{
    if (!c)
        return;
    idl_table_scan_req_release(&c->req);
    idl_tablet_schema_release(&c->schema);
    free(c->tablets);
    free(c->versions);
    free(c);
}

static void be_close(struct fe_server *s, struct fe_cursor *c)
{
    if (!c->be_cursor)
        return;
    struct rpc_client *cl;
    struct err e = { 0 };
    struct idl_scan_close_req rq;
    struct idl_scan_close_reply rp;
    idl_scan_close_req_init(&rq);
    rq.cursor_id = c->be_cursor;
    if (fe_be_client(s, c->be_backend, BE_DATA, &cl, &e) == 0 && idl_backend_service_scan_close(cl, &rq, &rp, &e) == 0)
        idl_scan_close_reply_release(&rp);
    idl_scan_close_req_release(&rq);
    c->be_cursor = 0;
}

void fe_cursors_expire(struct fe_server *s, int64_t idle_ms)
{
    int64_t now = fe_now_ms();
    struct fe_cursor *dead[64];
    size_t n = 0;
    pthread_mutex_lock(&s->cursors_lock);
    for (size_t i = 0; i < s->cursors.cap && n < 64; i++) {
        struct fe_cursor *c = s->cursors.slots[i].val;
        if (s->cursors.slots[i].key && !c->busy && now - c->last_used_ms > idle_ms) {
            idmap_del(&s->cursors, c->id);
            dead[n++] = c;
            i = (size_t)-1;  /* the table moved; rescan */
        }
    }
    pthread_mutex_unlock(&s->cursors_lock);
    for (size_t i = 0; i < n; i++) {
        be_close(s, dead[i]);
        cursor_free(dead[i]);
    }
}

void fe_cursors_free_all(struct fe_server *s)
{
    for (size_t i = 0; i < s->cursors.cap; i++)
        if (s->cursors.slots[i].key)
            cursor_free(s->cursors.slots[i].val);
    idmap_release(&s->cursors);
}

static int col_index(const struct fe_schema *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return i;
    return -1;
}

static int cursor_open(struct fe_server *s, const struct idl_table_scan_req *req, struct fe_cursor **ret,
                       struct err *e)
{
    struct fe_cursor *c = xcalloc(1, sizeof(*c));
    idl_table_scan_req_init(&c->req);
    idl_tablet_schema_init(&c->schema);
    struct buf enc = BUF_INIT;
    idl_table_scan_req_encode(req, &enc);
    int r = idl_table_scan_req_decode(enc.data, enc.len, NULL, &c->req, e);
    buf_release(&enc);
    if (r < 0)
        goto fail;
    c->remaining = req->limit >= 0 ? req->limit : -1;
    pthread_mutex_lock(&s->lock);
    struct catalog *cat = &s->meta->cat;
    struct fe_table *t = catalog_table_by_name(cat, req->table ? req->table : "");
    if (!t) {
        pthread_mutex_unlock(&s->lock);
        r = err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", req->table ? req->table : "");
        goto fail;
    }
    for (size_t i = 0; i < req->columns_len; i++) {
        int k = col_index(&t->schema, req->columns[i]);
        if (k < 0) {
            r = err_set(e, FLOE_EBADINPUT, "scan '%s': no column '%s'", t->name, req->columns[i]);
            pthread_mutex_unlock(&s->lock);
            goto fail;
        }
        struct idl_column_def *d = idl_tablet_schema_add_columns(&c->schema);
        tidl_set_str(&d->name, t->schema.cols[k].name);
        d->type = (int32_t)t->schema.cols[k].type + 1;
        d->nullable = t->schema.cols[k].nullable;
        d->is_key = k < t->schema.nkeys;
    }
    if (req->columns_len == 0)
        fe_schema_to_idl(&t->schema, t->model, &c->schema);
    c->schema.key_model = t->model == FE_MODEL_UNIQUE ? IDL_KEY_MODEL_UNIQUE : IDL_KEY_MODEL_DUPLICATE;
    for (size_t i = 0; i < req->predicates_len; i++) {
        const struct idl_predicate *p = &req->predicates[i];
        if (col_index(&t->schema, p->column ? p->column : "") < 0) {
            r = err_set(e, FLOE_EBADINPUT, "scan '%s': predicate on unknown column '%s'", t->name,
                        p->column ? p->column : "");
            pthread_mutex_unlock(&s->lock);
            goto fail;
        }
    }
    c->ntablets = t->buckets;
    c->tablets = xcalloc((size_t)t->buckets, sizeof(int64_t));
    c->versions = xcalloc((size_t)t->buckets, sizeof(int64_t));
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(cat, t->tablet_ids[b]);
        c->tablets[b] = tb->id;
        c->versions[b] = tb->version;
    }
    pthread_mutex_unlock(&s->lock);
    c->last_used_ms = fe_now_ms();
    c->busy = true;
    pthread_mutex_lock(&s->cursors_lock);
    c->id = s->next_cursor++;
    c->spread = (uint64_t)c->id;
    idmap_put(&s->cursors, c->id, c);
    pthread_mutex_unlock(&s->cursors_lock);
    metrics_inc(s->m.scans);
    *ret = c;
    return 0;
fail:
    cursor_free(c);
    return r;
}

/* Opens the current tablet on some replica; fills batch/eos from the first reply. */
static int tablet_open(struct fe_server *s, struct fe_cursor *c, struct idl_row_batch *batch, bool *ret_eos,
                       struct err *e)
{
    int64_t tid = c->tablets[c->idx], version = c->versions[c->idx];
    int64_t tried[64];
    int ntried = 0;
    struct err last = { 0 };
    while (ntried < 64) {
        int64_t be = 0;
        pthread_mutex_lock(&s->lock);
        struct fe_tablet *t = catalog_tablet(&s->meta->cat, tid);
        if (t) {
            /* route among replicas not tried yet */
            struct fe_tablet view = *t;
            struct fe_replica reps[64];
            int n = 0;
            for (int k = 0; k < t->nreplicas && n < 64; k++) {
                bool skip = false;
                for (int q = 0; q < ntried; q++)
                    skip |= tried[q] == t->replicas[k].id;
                if (!skip)
                    reps[n++] = t->replicas[k];
            }
            view.replicas = reps;
            view.nreplicas = n;
            const struct fe_replica *r = route_pick(&s->meta->cat, &view, version, fe_now_ms(), c->spread);
            if (r) {
                be = r->backend_id;
                tried[ntried++] = r->id;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (!t)
            return err_set(e, FLOE_ENOTFOUND, "tablet %lld was dropped during the scan", (long long)tid);
        if (!be) {
            if (last.code)
                return err_set(e, FLOE_EUNAVAILABLE, "tablet %lld: no replica could serve version %lld (last: %s)",
                               (long long)tid, (long long)version, err_msg(&last));
            return err_set(e, FLOE_EUNAVAILABLE, "tablet %lld: no alive replica has version %lld", (long long)tid,
                           (long long)version);
        }
        struct rpc_client *cl;
        struct idl_scan_open_req rq;
        struct idl_scan_open_reply rp;
        idl_scan_open_req_init(&rq);
        rq.tablet_id = tid;
        rq.version = version;
        rq.columns = c->req.columns;
        rq.columns_len = c->req.columns_len;
        rq.predicates = c->req.predicates;
        rq.predicates_len = c->req.predicates_len;
        rq.limit = c->remaining;
        rq.batch_rows = c->req.batch_rows > 0 ? c->req.batch_rows : 4096;
        int rc = fe_be_client(s, be, BE_DATA, &cl, &last);
        if (rc == 0)
            rc = idl_backend_service_scan_open(cl, &rq, &rp, &last);
        rq.columns = NULL;
        rq.columns_len = 0;
        rq.predicates = NULL;
        rq.predicates_len = 0;
        idl_scan_open_req_release(&rq);
        if (rc < 0) {
            tlog_warn(tid, "scan_open on backend %lld failed, trying another replica: %s", (long long)be,
                      err_msg(&last));
            if (rc == FLOE_EBADINPUT || rc == FLOE_EBADREQ)
                return err_set(e, rc, "%s", err_msg(&last));  /* the request itself is wrong */
            continue;
        }
        *batch = rp.batch;
        idl_row_batch_init(&rp.batch);
        *ret_eos = rp.eos;
        c->be_cursor = rp.eos ? 0 : rp.cursor_id;
        c->be_backend = be;
        idl_scan_open_reply_release(&rp);
        return 0;
    }
    return err_set(e, FLOE_EUNAVAILABLE, "tablet %lld: no replica could serve", (long long)tid);
}

static int cursor_step(struct fe_server *s, struct fe_cursor *c, struct idl_table_scan_reply *reply, struct err *e)
{
    while (c->idx < c->ntablets && c->remaining != 0) {
        struct idl_row_batch batch;
        idl_row_batch_init(&batch);
        bool eos = false;
        int r;
        if (c->be_cursor == 0) {
            r = tablet_open(s, c, &batch, &eos, e);
        } else {
            struct rpc_client *cl;
            struct idl_scan_next_req rq;
            struct idl_scan_next_reply rp;
            idl_scan_next_req_init(&rq);
            rq.cursor_id = c->be_cursor;
            r = fe_be_client(s, c->be_backend, BE_DATA, &cl, e);
            if (r == 0)
                r = idl_backend_service_scan_next(cl, &rq, &rp, e);
            idl_scan_next_req_release(&rq);
            if (r == 0) {
                batch = rp.batch;
                idl_row_batch_init(&rp.batch);
                eos = rp.eos;
                idl_scan_next_reply_release(&rp);
            } else {
                err_prefix(e, "tablet %lld on backend %lld (scan cannot resume)", (long long)c->tablets[c->idx],
                           (long long)c->be_backend);
                c->be_cursor = 0;
            }
        }
        if (r < 0) {
            idl_row_batch_release(&batch);
            return r;
        }
        if (eos) {
            c->be_cursor = 0;
            c->idx++;
        }
        if (batch.num_rows > 0) {
            if (c->remaining > 0)
                c->remaining = c->remaining > batch.num_rows ? c->remaining - batch.num_rows : 0;
            idl_row_batch_release(&reply->batch);
            reply->batch = batch;
            return 0;
        }
        idl_row_batch_release(&batch);
    }
    return 0;
}

int fe_svc_scan(void *ctx, const struct idl_table_scan_req *req, struct idl_table_scan_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    struct fe_cursor *c = NULL;
    int r;
    if (req->cursor_id == 0) {
        if ((r = cursor_open(s, req, &c, e)) < 0)
            return r;
    } else {
        pthread_mutex_lock(&s->cursors_lock);
        c = idmap_get(&s->cursors, req->cursor_id);
        if (c && c->busy)
            c = NULL;
        if (c)
            c->busy = true;
        pthread_mutex_unlock(&s->cursors_lock);
        if (!c)
            return err_set(e, FLOE_ENOTFOUND, "scan cursor %lld does not exist (expired or in use)",
                           (long long)req->cursor_id);
    }
    r = cursor_step(s, c, reply, e);
    bool done = r < 0 || c->idx >= c->ntablets || c->remaining == 0;
    if (r == 0) {
        struct buf enc = BUF_INIT;
        idl_tablet_schema_encode(&c->schema, &enc);
        idl_tablet_schema_release(&reply->schema);
        idl_tablet_schema_decode(enc.data, enc.len, NULL, &reply->schema, NULL);
        buf_release(&enc);
        reply->eos = done;
        reply->cursor_id = done ? 0 : c->id;
        if (reply->batch.columns_len == 0) {
            /* an empty result still names its columns */
            reply->batch.num_rows = 0;
            for (size_t i = 0; i < c->schema.columns_len; i++)
                idl_row_batch_add_columns(&reply->batch)->type = c->schema.columns[i].type;
        }
    }
    pthread_mutex_lock(&s->cursors_lock);
    if (done)
        idmap_del(&s->cursors, c->id);
    else {
        c->busy = false;
        c->last_used_ms = fe_now_ms();
    }
    pthread_mutex_unlock(&s->cursors_lock);
    if (done) {
        be_close(s, c);
        cursor_free(c);
    }
    return r;
}

int fe_svc_scan_close(void *ctx, const struct idl_table_scan_close_req *req, struct idl_table_scan_close_reply *reply,
                      struct err *e)
{
    struct fe_server *s = ctx;
    (void)e;
    pthread_mutex_lock(&s->cursors_lock);
    struct fe_cursor *c = idmap_get(&s->cursors, req->cursor_id);
    if (c && !c->busy)
        idmap_del(&s->cursors, c->id);
    else
        c = NULL;
    pthread_mutex_unlock(&s->cursors_lock);
    reply->existed = c != NULL;
    if (c) {
        be_close(s, c);
        cursor_free(c);
    }
    return 0;
}
