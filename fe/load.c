/*
 * load: the FE's load coordinator. A load is one transaction on one table:
 *   1. journal a new txn id;
 *   2. parse the CSV (common/csv) with the table's schema;
 *   3. hash each row's key columns to a bucket (tablet);
 *   4. write each tablet's rows to every normal replica (write_rowset) and
 *      seal them (commit_txn), one thread per backend;
 *   5. when every touched tablet has a majority of replicas committed,
 *      journal the publish (new versions; the others are marked lagging),
 *      then tell the replicas (publish_version); a replica that fails to
 *      publish is marked lagging too. Repair re-clones lagging replicas.
 * Without a majority somewhere the txn is aborted on every backend and
 * nothing becomes visible.
 */
#define LOG_MODULE "load"
#include "server_int.h"

#include "buf.h"
#include "csv.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* one replica's part of the load */
struct ld_rep {
    int64_t tablet_id, replica_id, backend_id;
    size_t tablet_idx;
    bool written, committed, published;
    char err[200];
};

struct ld_tablet {
    int64_t id;
    int32_t bucket;
    int nreps;
    size_t *rows;       /* row indexes */
    size_t nrows, cap;
    struct idl_row_batch batch;
    int64_t version;    /* assigned at publish */
};

struct ld {
    struct fe_server *s;
    int64_t txn;
    struct ld_tablet *tablets;   /* per bucket */
    int32_t ntablets;
    struct ld_rep *reps;
    size_t nreps;
    int phase;                   /* 0 write+commit, 1 publish */
};

struct ld_worker {
    struct ld *ld;
    int64_t backend_id;
    pthread_t th;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t row_hash(const struct csv_batch *b, int nkeys, size_t row)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int k = 0; k < nkeys; k++) {
        const struct csv_column *c = &b->cols[k];
        switch (c->type) {
        case CSV_INT32: {
            int64_t v = ((const int32_t *)c->data)[row];
            h = mix(h, &v, 8);
            break;
        }
        case CSV_INT64:
        case CSV_TIMESTAMP:
            h = mix(h, &((const int64_t *)c->data)[row], 8);
            break;
        case CSV_BOOL:
            h = mix(h, &((const uint8_t *)c->data)[row], 1);
            break;
        case CSV_STRING: {
            uint32_t a = c->offs[row], z = c->offs[row + 1];
            h = mix(h, c->str.data + a, z - a);
            h = mix(h, &a, 0);
            break;
        }
        default:
            h = mix(h, &((const double *)c->data)[row], 8);
        }
        h ^= 0xff;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static bool csv_null(const struct csv_column *c, size_t row)
{
    return c->nulls && c->nulls[row];
}

/* Builds the batch of rows idx[] in schema order (perm maps schema column -> csv column). */
static void build_batch(const struct csv_batch *b, const int *perm, int ncols, const size_t *idx, size_t n,
                        struct idl_row_batch *out)
{
    out->num_rows = (int32_t)n;
    for (int sc = 0; sc < ncols; sc++) {
        const struct csv_column *c = &b->cols[perm[sc]];
        struct idl_column_data *d = idl_row_batch_add_columns(out);
        d->type = c->type;
        bool any_null = false;
        for (size_t i = 0; i < n && !any_null; i++)
            any_null = csv_null(c, idx[i]);
        if (any_null) {
            d->nulls.len = (n + 7) / 8;
            d->nulls.data = xcalloc(d->nulls.len, 1);
            for (size_t i = 0; i < n; i++)
                if (csv_null(c, idx[i]))
                    d->nulls.data[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        switch (c->type) {
        case CSV_INT32:
            d->i32s = xcalloc(n ? n : 1, sizeof(int32_t));
            for (size_t i = 0; i < n; i++)
                d->i32s[i] = ((const int32_t *)c->data)[idx[i]];
            d->i32s_len = n;
            break;
        case CSV_INT64:
        case CSV_TIMESTAMP:
            d->i64s = xcalloc(n ? n : 1, sizeof(int64_t));
            for (size_t i = 0; i < n; i++)
                d->i64s[i] = ((const int64_t *)c->data)[idx[i]];
            d->i64s_len = n;
            break;
        case CSV_DOUBLE:
            d->f64s = xcalloc(n ? n : 1, sizeof(double));
            for (size_t i = 0; i < n; i++)
                d->f64s[i] = ((const double *)c->data)[idx[i]];
            d->f64s_len = n;
            break;
        case CSV_BOOL:
            d->bools = xcalloc(n ? n : 1, sizeof(bool));
            for (size_t i = 0; i < n; i++)
                d->bools[i] = ((const uint8_t *)c->data)[idx[i]] != 0;
            d->bools_len = n;
            break;
        case CSV_STRING: {
            size_t total = 0;
            for (size_t i = 0; i < n; i++)
                total += c->offs[idx[i] + 1] - c->offs[idx[i]];
            d->str_data.data = xmalloc(total ? total : 1);
            d->str_data.len = total;
            d->str_lens = xcalloc(n ? n : 1, sizeof(int32_t));
            d->str_lens_len = n;
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t a = c->offs[idx[i]], z = c->offs[idx[i] + 1];
                memcpy(d->str_data.data + off, c->str.data + a, z - a);
                d->str_lens[i] = (int32_t)(z - a);
                off += z - a;
            }
            break;
        }
        }
    }
}

static void rep_fail(struct ld_rep *r, const char *what, const struct err *e)
{
    snprintf(r->err, sizeof(r->err), "%s: %s", what, err_msg(e));
}

static void *worker_main(void *arg)
{
    struct ld_worker *w = arg;
    struct ld *ld = w->ld;
    struct rpc_client *cl;
    struct err e = { 0 };
    if (fe_be_client(ld->s, w->backend_id, BE_DATA, &cl, &e) < 0) {
        for (size_t i = 0; i < ld->nreps; i++)
            if (ld->reps[i].backend_id == w->backend_id)
                rep_fail(&ld->reps[i], "connect", &e);
        return NULL;
    }
    if (ld->phase == 0) {
        struct idl_commit_txn_req cr;
        idl_commit_txn_req_init(&cr);
        cr.txn_id = ld->txn;
        for (size_t i = 0; i < ld->nreps; i++) {
            struct ld_rep *r = &ld->reps[i];
            if (r->backend_id != w->backend_id)
                continue;
            struct idl_write_rowset_req wr;
            struct idl_write_rowset_reply wp;
            idl_write_rowset_req_init(&wr);
            wr.txn_id = ld->txn;
            wr.tablet_id = r->tablet_id;
            /* borrow the tablet's batch for encoding */
            wr.batches = &ld->tablets[r->tablet_idx].batch;
            wr.batches_len = 1;
            int rc = idl_backend_service_write_rowset(cl, &wr, &wp, &e);
            wr.batches = NULL;
            wr.batches_len = 0;
            idl_write_rowset_req_release(&wr);
            if (rc < 0) {
                rep_fail(r, "write_rowset", &e);
                continue;
            }
            idl_write_rowset_reply_release(&wp);
            r->written = true;
            idl_commit_txn_req_add_tablet_ids(&cr, r->tablet_id);
        }
        if (cr.tablet_ids_len > 0) {
            struct idl_commit_txn_reply cp;
            if (idl_backend_service_commit_txn(cl, &cr, &cp, &e) < 0) {
                for (size_t i = 0; i < ld->nreps; i++)
                    if (ld->reps[i].backend_id == w->backend_id && ld->reps[i].written)
                        rep_fail(&ld->reps[i], "commit_txn", &e);
            } else {
                for (size_t i = 0; i < ld->nreps; i++) {
                    struct ld_rep *r = &ld->reps[i];
                    if (r->backend_id != w->backend_id || !r->written)
                        continue;
                    bool ok = false;
                    for (size_t k = 0; k < cp.tablets_len; k++)
                        if (cp.tablets[k].tablet_id == r->tablet_id) {
                            ok = cp.tablets[k].code == 0;
                            if (!ok)
                                snprintf(r->err, sizeof(r->err), "commit_txn: %s",
                                         cp.tablets[k].message ? cp.tablets[k].message : "failed");
                        }
                    r->committed = ok;
                }
                idl_commit_txn_reply_release(&cp);
            }
        }
        idl_commit_txn_req_release(&cr);
    } else {
        struct idl_publish_version_req pr;
        idl_publish_version_req_init(&pr);
        pr.txn_id = ld->txn;
        for (size_t i = 0; i < ld->nreps; i++) {
            struct ld_rep *r = &ld->reps[i];
            if (r->backend_id != w->backend_id || !r->committed)
                continue;
            struct idl_tablet_version *tv = idl_publish_version_req_add_tablets(&pr);
            tv->tablet_id = r->tablet_id;
            tv->version = ld->tablets[r->tablet_idx].version;
        }
        if (pr.tablets_len > 0) {
            struct idl_publish_version_reply pp;
            if (idl_backend_service_publish_version(cl, &pr, &pp, &e) < 0) {
                for (size_t i = 0; i < ld->nreps; i++)
                    if (ld->reps[i].backend_id == w->backend_id && ld->reps[i].committed)
                        rep_fail(&ld->reps[i], "publish_version", &e);
            } else {
                for (size_t i = 0; i < ld->nreps; i++) {
                    struct ld_rep *r = &ld->reps[i];
                    if (r->backend_id != w->backend_id || !r->committed)
                        continue;
                    for (size_t k = 0; k < pp.tablets_len; k++)
                        if (pp.tablets[k].tablet_id == r->tablet_id) {
                            r->published = pp.tablets[k].code == 0;
                            if (!r->published)
                                snprintf(r->err, sizeof(r->err), "publish_version: %s",
                                         pp.tablets[k].message ? pp.tablets[k].message : "failed");
                        }
                }
                idl_publish_version_reply_release(&pp);
            }
        }
        idl_publish_version_req_release(&pr);
    }
    return NULL;
}

/* Runs the current phase on one thread per backend. */
static void run_phase(struct ld *ld)
{
    struct ld_worker *w = xcalloc(ld->nreps + 1, sizeof(*w));
    size_t nw = 0;
    for (size_t i = 0; i < ld->nreps; i++) {
        bool seen = false;
        for (size_t k = 0; k < nw; k++)
            seen |= w[k].backend_id == ld->reps[i].backend_id;
        if (!seen) {
            w[nw].ld = ld;
            w[nw].backend_id = ld->reps[i].backend_id;
            nw++;
        }
    }
    size_t started = 0;
    for (size_t k = 0; k < nw; k++) {
        if (pthread_create(&w[k].th, NULL, worker_main, &w[k]) != 0) {
            worker_main(&w[k]);
            w[k].backend_id = 0;
        } else {
            started++;
        }
    }
    for (size_t k = 0; k < nw; k++)
        if (w[k].backend_id)
            pthread_join(w[k].th, NULL);
    (void)started;
    free(w);
}

static void abort_all(struct ld *ld)
{
    int64_t done[256];
    size_t nd = 0;
    for (size_t i = 0; i < ld->nreps; i++) {
        bool seen = false;
        for (size_t k = 0; k < nd; k++)
            seen |= done[k] == ld->reps[i].backend_id;
        if (seen || nd >= 256)
            continue;
        done[nd++] = ld->reps[i].backend_id;
        struct rpc_client *cl;
        struct err e = { 0 };
        struct idl_abort_txn_req ar;
        struct idl_abort_txn_reply ap;
        idl_abort_txn_req_init(&ar);
        ar.txn_id = ld->txn;
        if (fe_be_client(ld->s, ld->reps[i].backend_id, BE_DATA, &cl, &e) == 0 &&
            idl_backend_service_abort_txn(cl, &ar, &ap, &e) == 0)
            idl_abort_txn_reply_release(&ap);
        else
            log_warn("txn %lld: abort on backend %lld failed (the backend drops it on its own): %s",
                     (long long)ld->txn, (long long)ld->reps[i].backend_id, err_msg(&e));
        idl_abort_txn_req_release(&ar);
    }
}

int fe_svc_load(void *ctx, const struct idl_load_req *req, struct idl_load_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    struct ld ld = { .s = s };
    struct csv_batch cb = { 0 };
    int *types = NULL, *perm = NULL;
    bool *nullable = NULL;
    const char **names = NULL;
    int r = 0, ncols = 0, nkeys = 0;
    int64_t table_id = 0;
    size_t nrows = 0;
    bool began = false;

    if (req->format != IDL_LOAD_FORMAT_CSV)
        return err_set(e, FLOE_EUNSUPPORTED, "load: only CSV data is supported");
    const char *sep = req->column_separator && *req->column_separator ? req->column_separator : ",";
    if (strlen(sep) != 1)
        return err_set(e, FLOE_EBADINPUT, "load: column separator '%s' must be one character", sep);

    const char *label = req->label && *req->label ? req->label : NULL;
    if (label) {
        size_t ll = strlen(label);
        bool ok = ll <= 256;
        for (size_t i = 0; ok && i < ll; i++)
            ok = (unsigned char)label[i] >= 0x20;
        if (!ok)
            return err_set(e, FLOE_EBADINPUT, "load: label must be 1-256 printable characters");
    }

    /* 1. the table, its tablets and replicas, a txn id */
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    struct fe_table *t = catalog_table_by_name(c, req->table ? req->table : "");
    if (!t) {
        pthread_mutex_unlock(&s->lock);
        return err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", req->table ? req->table : "");
    }
    if (label) {
        const struct fe_label *done = catalog_label(c, t->id, label);
        if (done) {
            reply->txn_id = done->txn;
            reply->num_rows = done->rows;
            reply->version = done->version;
            reply->duplicate = true;
            tidl_set_str(&reply->label, label);
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
        for (size_t i = 0; i < s->nlabels_running; i++)
            if (strcmp(s->labels_running[i], label) == 0) {
                pthread_mutex_unlock(&s->lock);
                return err_set(e, FLOE_EBUSY, "load: a load with label '%s' is running", label);
            }
        s->labels_running = xrealloc(s->labels_running, (s->nlabels_running + 1) * sizeof(char *));
        s->labels_running[s->nlabels_running++] = (char *)label;
    }
    table_id = t->id;
    ncols = t->schema.ncols;
    nkeys = t->schema.nkeys;
    types = xcalloc((size_t)ncols, sizeof(int));
    perm = xcalloc((size_t)ncols, sizeof(int));
    nullable = xcalloc((size_t)ncols, sizeof(bool));
    names = xcalloc((size_t)ncols, sizeof(char *));
    char **namecopy = xcalloc((size_t)ncols, sizeof(char *));
    for (int i = 0; i < ncols; i++)
        namecopy[i] = xstrdup(t->schema.cols[i].name);
    ld.ntablets = t->buckets;
    ld.tablets = xcalloc((size_t)t->buckets, sizeof(*ld.tablets));
    size_t total = 0;
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(c, t->tablet_ids[b]);
        total += tb ? (size_t)tb->nreplicas : 0;
    }
    ld.reps = xcalloc(total + 1, sizeof(*ld.reps));
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(c, t->tablet_ids[b]);
        ld.tablets[b].id = tb->id;
        ld.tablets[b].bucket = b;
        ld.tablets[b].nreps = tb->nreplicas;
        idl_row_batch_init(&ld.tablets[b].batch);
        for (int k = 0; k < tb->nreplicas; k++) {
            if (tb->replicas[k].state != FE_REPLICA_NORMAL ||
                !catalog_backend_alive(c, catalog_backend(c, tb->replicas[k].backend_id), fe_now_ms()))
                continue;  /* lagging, bad or unreachable: it misses this version; repair catches it up */
            struct ld_rep *rp = &ld.reps[ld.nreps++];
            rp->tablet_id = tb->id;
            rp->replica_id = tb->replicas[k].id;
            rp->backend_id = tb->replicas[k].backend_id;
            rp->tablet_idx = (size_t)b;
        }
    }
    r = ops_txn_begin(s->meta, table_id, &ld.txn, e);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        goto out_names;
    began = true;

    /* 2. parse; CSV columns may come in another order (a permutation of the schema) */
    for (int i = 0; i < ncols; i++)
        perm[i] = i;
    if (req->columns_len > 0) {
        if (req->columns_len != (size_t)ncols) {
            r = err_set(e, FLOE_EBADINPUT, "load into '%s': %zu columns named, the table has %d", req->table,
                        req->columns_len, ncols);
            goto out_names;
        }
        for (int sc = 0; sc < ncols; sc++) {
            perm[sc] = -1;
            for (size_t k = 0; k < req->columns_len; k++)
                if (strcmp(req->columns[k], namecopy[sc]) == 0)
                    perm[sc] = (int)k;
            if (perm[sc] < 0) {
                r = err_set(e, FLOE_EBADINPUT, "load into '%s': column '%s' missing from the column list",
                            req->table, namecopy[sc]);
                goto out_names;
            }
        }
    }
    pthread_mutex_lock(&s->lock);
    t = catalog_table(&s->meta->cat, table_id);
    for (int sc = 0; t && sc < ncols; sc++) {
        types[perm[sc]] = (int)t->schema.cols[sc].type + 1;
        nullable[perm[sc]] = t->schema.cols[sc].nullable;
        names[perm[sc]] = namecopy[sc];
    }
    pthread_mutex_unlock(&s->lock);
    if (!t) {
        r = err_set(e, FLOE_ENOTFOUND, "table '%s' was dropped during the load", req->table);
        goto out_names;
    }
    struct csv_options co = { .delim = sep[0], .header = req->header, .names = names };
    if ((r = csv_parse((const char *)req->data.data, req->data.len, ncols, types, nullable, &co, &cb, e)) < 0) {
        err_prefix(e, "load into '%s'", req->table);
        goto out_names;
    }
    nrows = cb.nrows;

    /* 3. rows to buckets (keys are the leading schema columns; hash in schema order) */
    {
        struct csv_batch keyview = cb;
        struct csv_column *kc = xcalloc((size_t)(nkeys ? nkeys : 1), sizeof(*kc));
        for (int k = 0; k < nkeys; k++)
            kc[k] = cb.cols[perm[k]];
        keyview.cols = kc;
        for (size_t row = 0; row < nrows; row++) {
            struct ld_tablet *lt = &ld.tablets[row_hash(&keyview, nkeys, row) % (uint64_t)ld.ntablets];
            if (lt->nrows == lt->cap) {
                lt->cap = lt->cap ? lt->cap * 2 : 256;
                lt->rows = xrealloc(lt->rows, lt->cap * sizeof(size_t));
            }
            lt->rows[lt->nrows++] = row;
        }
        free(kc);
    }
    for (int32_t b = 0; b < ld.ntablets; b++)
        if (ld.tablets[b].nrows > 0)
            build_batch(&cb, perm, ncols, ld.tablets[b].rows, ld.tablets[b].nrows, &ld.tablets[b].batch);
    /* only tablets with rows take part */
    {
        size_t k = 0;
        for (size_t i = 0; i < ld.nreps; i++)
            if (ld.tablets[ld.reps[i].tablet_idx].nrows > 0)
                ld.reps[k++] = ld.reps[i];
        ld.nreps = k;
    }
    if (nrows == 0) {
        reply->txn_id = ld.txn;
        reply->num_rows = 0;
        pthread_mutex_lock(&s->lock);
        t = catalog_table(&s->meta->cat, table_id);
        reply->version = t ? t->version : 0;
        pthread_mutex_unlock(&s->lock);
        goto out_names;
    }

    /* 4. write and commit */
    ld.phase = 0;
    run_phase(&ld);
    for (int32_t b = 0; b < ld.ntablets; b++) {
        struct ld_tablet *lt = &ld.tablets[b];
        if (lt->nrows == 0)
            continue;
        int ok = 0;
        const char *why = "no normal replica";
        for (size_t i = 0; i < ld.nreps; i++)
            if (ld.reps[i].tablet_idx == (size_t)b) {
                if (ld.reps[i].committed)
                    ok++;
                else if (ld.reps[i].err[0])
                    why = ld.reps[i].err;
            }
        if (ok * 2 <= lt->nreps) {
            r = err_set(e, FLOE_EUNAVAILABLE, "load into '%s' aborted: tablet %lld has %d of %d replicas "
                        "committed, a majority is needed (%s)", req->table, (long long)lt->id, ok, lt->nreps, why);
            goto out_abort;
        }
    }

    /* 5. publish: journal first, then tell the replicas */
    {
        int64_t *tids = xcalloc((size_t)ld.ntablets, sizeof(int64_t));
        int64_t *vers = xcalloc((size_t)ld.ntablets, sizeof(int64_t));
        int64_t *lag = xcalloc(ld.nreps + (size_t)ld.ntablets * 64 + 1, sizeof(int64_t));
        size_t nt = 0, nl = 0;
        pthread_mutex_lock(&s->lock);
        for (int32_t b = 0; b < ld.ntablets; b++) {
            if (ld.tablets[b].nrows == 0)
                continue;
            tids[nt++] = ld.tablets[b].id;
            struct fe_tablet *tb = catalog_tablet(&s->meta->cat, ld.tablets[b].id);
            for (int k = 0; tb && k < tb->nreplicas; k++) {
                bool ok = false;
                for (size_t i = 0; i < ld.nreps; i++)
                    if (ld.reps[i].replica_id == tb->replicas[k].id && ld.reps[i].committed)
                        ok = true;
                if (!ok)
                    lag[nl++] = tb->replicas[k].id;
            }
        }
        r = ops_publish_labeled(s->meta, table_id, ld.txn, tids, nt, lag, nl, label, (int64_t)nrows, vers, e);
        for (size_t i = 0; r == 0 && i < nt; i++) {
            struct fe_tablet *tb = catalog_tablet(&s->meta->cat, tids[i]);
            if (tb)
                tb->publish_ms = fe_now_ms();
        }
        t = catalog_table(&s->meta->cat, table_id);
        reply->version = t ? t->version : 0;
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0, k = 0; r == 0 && i < (size_t)ld.ntablets; i++)
            if (ld.tablets[i].nrows > 0)
                ld.tablets[i].version = vers[k++];
        reply->lagging_replicas = (int32_t)nl;
        free(tids);
        free(vers);
        free(lag);
        if (r < 0)
            goto out_abort;
    }
    /* the publish is journaled; a crash here leaves it to repair (reports show the lag) */
    if ((r = FAULT_POINT("fe.load.after_publish_journal")) < 0) {
        err_set(e, r, "load into '%s': publish of txn %lld journaled but not sent (fault)", req->table,
                (long long)ld.txn);
        goto out_names;
    }
    ld.phase = 1;
    run_phase(&ld);
    for (size_t i = 0; i < ld.nreps; i++) {
        struct ld_rep *rp = &ld.reps[i];
        if (!rp->committed || rp->published)
            continue;
        struct err pe = { 0 };
        tlog_warn(rp->tablet_id, "txn %lld: replica %lld on backend %lld missed the publish (%s); marked lagging",
                  (long long)ld.txn, (long long)rp->replica_id, (long long)rp->backend_id, rp->err);
        pthread_mutex_lock(&s->lock);
        meta_commit(s->meta, json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet",
                                       (json_int_t)rp->tablet_id, "replica", (json_int_t)rp->replica_id, "state",
                                       (int)FE_REPLICA_LAGGING, "version",
                                       (json_int_t)(ld.tablets[rp->tablet_idx].version - 1)), &pe);
        pthread_mutex_unlock(&s->lock);
        reply->lagging_replicas++;
    }
    reply->txn_id = ld.txn;
    reply->num_rows = (int64_t)nrows;
    tidl_set_str(&reply->label, req->label ? req->label : "");
    metrics_inc(s->m.txns_ok);
    metrics_add(s->m.rows_loaded, (int64_t)nrows);
    log_info("txn %lld: %zu rows into '%s' published (table version %lld, %d lagging replicas)",
             (long long)ld.txn, nrows, req->table, (long long)reply->version, (int)reply->lagging_replicas);
    goto out_names;

out_abort:
    abort_all(&ld);
    metrics_inc(s->m.txns_failed);
    log_warn("txn %lld aborted: %s", (long long)ld.txn, err_msg(e));
out_names:
    if (r < 0 && began && nrows == 0)
        metrics_inc(s->m.txns_failed);
    if (label) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->nlabels_running; i++)
            if (s->labels_running[i] == label) {
                s->labels_running[i] = s->labels_running[--s->nlabels_running];
                break;
            }
        pthread_mutex_unlock(&s->lock);
    }
    for (int i = 0; i < ncols; i++)
        free(namecopy[i]);
    free(namecopy);
    for (int32_t b = 0; b < ld.ntablets; b++) {
        free(ld.tablets[b].rows);
        idl_row_batch_release(&ld.tablets[b].batch);
    }
    free(ld.tablets);
    free(ld.reps);
    csv_batch_release(&cb);
    free(types);
    free(perm);
    free(nullable);
    free(names);
    return r;
}
