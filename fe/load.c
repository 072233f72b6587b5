/*
 * load: the FE's load coordinator. A load is one transaction on one table:
 *   1. journal a new txn id; fix the replica set (normal replicas on alive
 *      backends of every tablet);
 *   2. parse the CSV (common/csv) with the table's schema;
 *   3. hash each row's key columns to a bucket (tablet);
 *   4. write each tablet's rows to its replicas (write_rowset), one thread
 *      per backend;
 *   5. seal them (commit_txn), one thread per backend;
 *   6. when every touched tablet has a majority of replicas committed,
 *      journal the publish (new versions; the others are marked lagging),
 *      then tell the replicas (publish_version); a replica that fails to
 *      publish is marked lagging too. Repair re-clones lagging replicas.
 * Without a majority somewhere the txn is aborted on every backend and
 * nothing becomes visible.
 *
 * A load may come in several chunks (LoadReq.more), all in the same txn:
 * a chunk with more = true runs steps 2-4 and the load stays open in memory
 * (keyed by txn id) until the next chunk; a replica that failed a write is
 * skipped from then on, and a tablet with rows that can no longer reach a
 * majority aborts the load at once. The chunk with more = false runs 2-6.
 * Any error in any chunk aborts the whole txn; an open load idle longer
 * than load_idle_timeout_s is aborted by the background loop.
 */
#define LOG_MODULE "load"
#include "load.h"
#include "server_int.h"

#include "buf.h"
#include "csv.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "ops.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one replica's part of the load (the set is fixed at the first chunk) */
struct ld_rep {
    int64_t tablet_id, replica_id, backend_id;
    size_t tablet_idx;
    bool tried;          /* a write went (or was meant to go) to it: its backend gets the abort */
    bool failed;         /* a write or the commit failed: skipped from then on */
    bool logged;         /* its failure was logged */
    bool written, committed, published;
    char err[200];
};

struct ld_tablet {
    int64_t id;
    int32_t bucket;
    int nreps;
    size_t *rows;        /* this chunk's row indexes */
    size_t nrows, cap;
    struct idl_row_batch batch;   /* this chunk's rows */
    int64_t total;       /* rows of every chunk so far */
    int64_t version;     /* assigned at publish */
};

enum ld_phase { LD_WRITE, LD_COMMIT, LD_PUBLISH };

struct ld {
    struct fe_server *s;
    int64_t txn, table_id;
    char *table;                 /* the table's name at the first chunk */
    char *label;                 /* owned, in s->labels_running until the load ends; NULL = none */
    struct ld_tablet *tablets;   /* per bucket */
    int32_t ntablets;
    struct ld_rep *reps;
    size_t nreps;
    enum ld_phase phase;
    int64_t rows;                /* rows of every chunk so far */
    int64_t last_ms;             /* when its last chunk finished */
    bool busy;                   /* a chunk is being worked on (open_mu) */
    bool journaled;              /* the publish is journaled: it can no longer be aborted */
    int nchunks;                 /* chunks received */
};

struct ld_worker {
    struct ld *ld;
    int64_t backend_id;
    pthread_t th;
};

/* Open multi-chunk loads of every server in this process, and what became
 * of the last finished loads (for a clear error on a late continuation). */
#define LD_FINISHED_KEEP 256
struct ld_finished {
    struct fe_server *s;
    int64_t txn;
    char what[200];
};
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ld **open_v;
static size_t open_n;
static struct ld_finished finished[LD_FINISHED_KEEP];
static size_t finished_next;

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
    r->failed = true;
    snprintf(r->err, sizeof(r->err), "%s: %s", what, err_msg(e));
}

/* Does replica r take part in the current phase? */
static bool rep_in_phase(const struct ld *ld, const struct ld_rep *r)
{
    switch (ld->phase) {
    case LD_WRITE: return !r->failed && ld->tablets[r->tablet_idx].nrows > 0;
    case LD_COMMIT: return !r->failed && r->written;
    default: return r->committed;
    }
}

static void worker_write(struct ld_worker *w, struct rpc_client *cl)
{
    struct ld *ld = w->ld;
    struct err e = { 0 };
    for (size_t i = 0; i < ld->nreps; i++) {
        struct ld_rep *r = &ld->reps[i];
        if (r->backend_id != w->backend_id || !rep_in_phase(ld, r))
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
    }
}

/* The replica's entry in a per-tablet reply: true when it succeeded; otherwise
 * (failed or missing) false, with its message kept in r->err. */
static bool rep_result(struct ld_rep *r, const struct idl_tablet_result *res, size_t n, const char *what)
{
    bool ok = false;
    for (size_t k = 0; k < n; k++)
        if (res[k].tablet_id == r->tablet_id) {
            ok = res[k].code == 0;
            if (!ok)
                snprintf(r->err, sizeof(r->err), "%s: %s", what, res[k].message ? res[k].message : "failed");
        }
    return ok;
}

static void worker_commit(struct ld_worker *w, struct rpc_client *cl)
{
    struct ld *ld = w->ld;
    struct err e = { 0 };
    struct idl_commit_txn_req cr;
    idl_commit_txn_req_init(&cr);
    cr.txn_id = ld->txn;
    for (size_t i = 0; i < ld->nreps; i++)
        if (ld->reps[i].backend_id == w->backend_id && rep_in_phase(ld, &ld->reps[i]))
            idl_commit_txn_req_add_tablet_ids(&cr, ld->reps[i].tablet_id);
    if (cr.tablet_ids_len > 0) {
        struct idl_commit_txn_reply cp;
        if (idl_backend_service_commit_txn(cl, &cr, &cp, &e) < 0) {
            for (size_t i = 0; i < ld->nreps; i++)
                if (ld->reps[i].backend_id == w->backend_id && rep_in_phase(ld, &ld->reps[i]))
                    rep_fail(&ld->reps[i], "commit_txn", &e);
        } else {
            for (size_t i = 0; i < ld->nreps; i++) {
                struct ld_rep *r = &ld->reps[i];
                if (r->backend_id != w->backend_id || !rep_in_phase(ld, r))
                    continue;
                bool ok = rep_result(r, cp.tablets, cp.tablets_len, "commit_txn");
                r->committed = ok;
                r->failed = !ok;
            }
            idl_commit_txn_reply_release(&cp);
        }
    }
    idl_commit_txn_req_release(&cr);
}

static void worker_publish(struct ld_worker *w, struct rpc_client *cl)
{
    struct ld *ld = w->ld;
    struct err e = { 0 };
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
                    snprintf(ld->reps[i].err, sizeof(ld->reps[i].err), "publish_version: %s", err_msg(&e));
        } else {
            for (size_t i = 0; i < ld->nreps; i++) {
                struct ld_rep *r = &ld->reps[i];
                if (r->backend_id != w->backend_id || !r->committed)
                    continue;
                r->published = rep_result(r, pp.tablets, pp.tablets_len, "publish_version");
            }
            idl_publish_version_reply_release(&pp);
        }
    }
    idl_publish_version_req_release(&pr);
}

static void *worker_main(void *arg)
{
    struct ld_worker *w = arg;
    struct ld *ld = w->ld;
    struct rpc_client *cl;
    struct err e = { 0 };
    if (fe_be_client(ld->s, w->backend_id, BE_DATA, &cl, &e) < 0) {
        for (size_t i = 0; i < ld->nreps; i++) {
            struct ld_rep *r = &ld->reps[i];
            if (r->backend_id != w->backend_id || !rep_in_phase(ld, r))
                continue;
            if (ld->phase == LD_PUBLISH)
                snprintf(r->err, sizeof(r->err), "connect: %s", err_msg(&e));
            else
                rep_fail(r, "connect", &e);
        }
        return NULL;
    }
    switch (ld->phase) {
    case LD_WRITE: worker_write(w, cl); break;
    case LD_COMMIT: worker_commit(w, cl); break;
    case LD_PUBLISH: worker_publish(w, cl); break;
    }
    return NULL;
}

/* Runs the current phase on one thread per backend that has a part in it. */
static void run_phase(struct ld *ld)
{
    struct ld_worker *w = xcalloc(ld->nreps + 1, sizeof(*w));
    size_t nw = 0;
    for (size_t i = 0; i < ld->nreps; i++) {
        if (!rep_in_phase(ld, &ld->reps[i]))
            continue;
        if (ld->phase == LD_WRITE)
            ld->reps[i].tried = true;
        bool seen = false;
        for (size_t k = 0; k < nw; k++)
            seen |= w[k].backend_id == ld->reps[i].backend_id;
        if (!seen) {
            w[nw].ld = ld;
            w[nw].backend_id = ld->reps[i].backend_id;
            nw++;
        }
    }
    for (size_t k = 0; k < nw; k++) {
        if (pthread_create(&w[k].th, NULL, worker_main, &w[k]) != 0) {
            worker_main(&w[k]);
            w[k].backend_id = 0;
        }
    }
    for (size_t k = 0; k < nw; k++)
        if (w[k].backend_id)
            pthread_join(w[k].th, NULL);
    free(w);
}

/* abort_txn on every backend a write of this txn went to. */
static void abort_all(struct ld *ld)
{
    int64_t done[256];
    size_t nd = 0;
    for (size_t i = 0; i < ld->nreps; i++) {
        if (!ld->reps[i].tried)
            continue;
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
            log_warn("txn %lld: abort on backend %lld failed (its staged data stays until it restarts): %s",
                     (long long)ld->txn, (long long)ld->reps[i].backend_id, err_msg(&e));
        idl_abort_txn_req_release(&ar);
    }
}

/* After the publish of a load in several chunks: replicas that failed a
 * later write or the commit hold staged rows of this txn that will never be
 * published; drop them (one abort_txn per backend, naming the tablets). */
static void drop_failed_writes(struct ld *ld)
{
    for (size_t i = 0; i < ld->nreps; i++) {
        struct ld_rep *first = &ld->reps[i];
        if (!first->written || first->committed)
            continue;
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= ld->reps[k].backend_id == first->backend_id && ld->reps[k].written && !ld->reps[k].committed;
        if (seen)
            continue;
        struct rpc_client *cl;
        struct err e = { 0 };
        struct idl_abort_txn_req ar;
        struct idl_abort_txn_reply ap;
        idl_abort_txn_req_init(&ar);
        ar.txn_id = ld->txn;
        for (size_t k = i; k < ld->nreps; k++)
            if (ld->reps[k].backend_id == first->backend_id && ld->reps[k].written && !ld->reps[k].committed)
                idl_abort_txn_req_add_tablet_ids(&ar, ld->reps[k].tablet_id);
        if (fe_be_client(ld->s, first->backend_id, BE_DATA, &cl, &e) == 0 &&
            idl_backend_service_abort_txn(cl, &ar, &ap, &e) == 0)
            idl_abort_txn_reply_release(&ap);
        else
            log_warn("txn %lld: dropping the staged rows of its %zu uncommitted replicas on backend %lld failed: %s",
                     (long long)ld->txn, ar.tablet_ids_len, (long long)first->backend_id, err_msg(&e));
        idl_abort_txn_req_release(&ar);
    }
}

/* Frees this chunk's rows and batches. */
static void chunk_reset(struct ld *ld)
{
    for (int32_t b = 0; b < ld->ntablets; b++) {
        struct ld_tablet *lt = &ld->tablets[b];
        free(lt->rows);
        lt->rows = NULL;
        lt->nrows = lt->cap = 0;
        idl_row_batch_release(&lt->batch);
        idl_row_batch_init(&lt->batch);
    }
}

static void finished_note(struct fe_server *s, int64_t txn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finished_note(struct fe_server *s, int64_t txn, const char *fmt, ...)
{
    pthread_mutex_lock(&open_mu);
    struct ld_finished *f = &finished[finished_next++ % LD_FINISHED_KEEP];
    f->s = s;
    f->txn = txn;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof(f->what), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&open_mu);
}

/* The end of a load: aborts it on the backends when asked, releases its
 * label, frees it. */
static void ld_end(struct ld *ld, bool abort)
{
    struct fe_server *s = ld->s;
    if (abort) {
        abort_all(ld);
        metrics_inc(s->m.txns_failed);
    }
    if (ld->label) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->nlabels_running; i++)
            if (s->labels_running[i] == ld->label) {
                s->labels_running[i] = s->labels_running[--s->nlabels_running];
                break;
            }
        pthread_mutex_unlock(&s->lock);
        free(ld->label);
    }
    chunk_reset(ld);
    for (int32_t b = 0; b < ld->ntablets; b++)
        idl_row_batch_release(&ld->tablets[b].batch);
    free(ld->tablets);
    free(ld->reps);
    free(ld->table);
    free(ld);
}

/* Step 1: the table, its tablets and replicas, a txn id. A label that
 * already published fills reply with that load's result and returns 1. */
static int ld_begin(struct fe_server *s, const struct idl_load_req *req, const char *label, struct ld **ret,
                    struct idl_load_reply *reply, struct err *e)
{
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
            return 1;
        }
        for (size_t i = 0; i < s->nlabels_running; i++)
            if (strcmp(s->labels_running[i], label) == 0) {
                pthread_mutex_unlock(&s->lock);
                return err_set(e, FLOE_EBUSY, "load: a load with label '%s' is running", label);
            }
    }
    struct ld *ld = xcalloc(1, sizeof(*ld));
    ld->s = s;
    ld->table_id = t->id;
    ld->table = xstrdup(t->name);
    if (label) {
        ld->label = xstrdup(label);
        s->labels_running = xrealloc(s->labels_running, (s->nlabels_running + 1) * sizeof(char *));
        s->labels_running[s->nlabels_running++] = ld->label;
    }
    ld->ntablets = t->buckets;
    ld->tablets = xcalloc((size_t)t->buckets, sizeof(*ld->tablets));
    size_t total = 0;
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(c, t->tablet_ids[b]);
        total += tb ? (size_t)tb->nreplicas : 0;
    }
    ld->reps = xcalloc(total + 1, sizeof(*ld->reps));
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(c, t->tablet_ids[b]);
        ld->tablets[b].id = tb->id;
        ld->tablets[b].bucket = b;
        ld->tablets[b].nreps = tb->nreplicas;
        idl_row_batch_init(&ld->tablets[b].batch);
        for (int k = 0; k < tb->nreplicas; k++) {
            if (tb->replicas[k].state != FE_REPLICA_NORMAL ||
                !catalog_backend_alive(c, catalog_backend(c, tb->replicas[k].backend_id), fe_now_ms()))
                continue;  /* lagging, bad or unreachable: it misses this version; repair catches it up */
            struct ld_rep *rp = &ld->reps[ld->nreps++];
            rp->tablet_id = tb->id;
            rp->replica_id = tb->replicas[k].id;
            rp->backend_id = tb->replicas[k].backend_id;
            rp->tablet_idx = (size_t)b;
        }
    }
    int r = ops_txn_begin(s->meta, ld->table_id, &ld->txn, e);
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        ld_end(ld, false);
        return r;
    }
    *ret = ld;
    return 0;
}

/* Steps 2-3 for one chunk: parse req's CSV with the table's schema (CSV
 * columns may come in another order, a permutation of the schema) and hash
 * its rows to the tablets' batches of this chunk. */
static int ld_parse(struct ld *ld, const struct idl_load_req *req, const char *sep, size_t *ret_rows,
                    struct err *e)
{
    struct fe_server *s = ld->s;
    struct csv_batch cb = { 0 };
    int r = 0, ncols = 0, nkeys = 0;
    *ret_rows = 0;
    pthread_mutex_lock(&s->lock);
    struct fe_table *t = catalog_table(&s->meta->cat, ld->table_id);
    if (!t || t->buckets != ld->ntablets) {
        pthread_mutex_unlock(&s->lock);
        return err_set(e, FLOE_ENOTFOUND, "table '%s' was dropped during the load", ld->table);
    }
    ncols = t->schema.ncols;
    nkeys = t->schema.nkeys;
    int *types = xcalloc((size_t)ncols, sizeof(int));
    int *perm = xcalloc((size_t)ncols, sizeof(int));
    bool *nullable = xcalloc((size_t)ncols, sizeof(bool));
    const char **names = xcalloc((size_t)ncols, sizeof(char *));
    char **namecopy = xcalloc((size_t)ncols, sizeof(char *));
    int *stype = xcalloc((size_t)ncols, sizeof(int));
    bool *snull = xcalloc((size_t)ncols, sizeof(bool));
    for (int i = 0; i < ncols; i++) {
        namecopy[i] = xstrdup(t->schema.cols[i].name);
        stype[i] = (int)t->schema.cols[i].type + 1;
        snull[i] = t->schema.cols[i].nullable;
    }
    pthread_mutex_unlock(&s->lock);

    for (int i = 0; i < ncols; i++)
        perm[i] = i;
    if (req->columns_len > 0) {
        if (req->columns_len != (size_t)ncols) {
            r = err_set(e, FLOE_EBADINPUT, "load into '%s': %zu columns named, the table has %d", ld->table,
                        req->columns_len, ncols);
            goto out;
        }
        for (int sc = 0; sc < ncols; sc++) {
            perm[sc] = -1;
            for (size_t k = 0; k < req->columns_len; k++)
                if (strcmp(req->columns[k], namecopy[sc]) == 0)
                    perm[sc] = (int)k;
            if (perm[sc] < 0) {
                r = err_set(e, FLOE_EBADINPUT, "load into '%s': column '%s' missing from the column list",
                            ld->table, namecopy[sc]);
                goto out;
            }
        }
    }
    for (int sc = 0; sc < ncols; sc++) {
        types[perm[sc]] = stype[sc];
        nullable[perm[sc]] = snull[sc];
        names[perm[sc]] = namecopy[sc];
    }
    struct csv_options co = { .delim = sep[0], .header = req->header, .names = names };
    if ((r = csv_parse((const char *)req->data.data, req->data.len, ncols, types, nullable, &co, &cb, e)) < 0) {
        err_prefix(e, "load into '%s'", ld->table);
        goto out;
    }
    /* keys are the leading schema columns; hash in schema order */
    {
        struct csv_batch keyview = cb;
        struct csv_column *kc = xcalloc((size_t)(nkeys ? nkeys : 1), sizeof(*kc));
        for (int k = 0; k < nkeys; k++)
            kc[k] = cb.cols[perm[k]];
        keyview.cols = kc;
        for (size_t row = 0; row < cb.nrows; row++) {
            struct ld_tablet *lt = &ld->tablets[row_hash(&keyview, nkeys, row) % (uint64_t)ld->ntablets];
            if (lt->nrows == lt->cap) {
                lt->cap = lt->cap ? lt->cap * 2 : 256;
                lt->rows = xrealloc(lt->rows, lt->cap * sizeof(size_t));
            }
            lt->rows[lt->nrows++] = row;
        }
        free(kc);
    }
    for (int32_t b = 0; b < ld->ntablets; b++) {
        struct ld_tablet *lt = &ld->tablets[b];
        if (lt->nrows > 0) {
            build_batch(&cb, perm, ncols, lt->rows, lt->nrows, &lt->batch);
            lt->total += (int64_t)lt->nrows;
        }
    }
    *ret_rows = cb.nrows;
out:
    csv_batch_release(&cb);
    for (int i = 0; i < ncols; i++)
        free(namecopy[i]);
    free(namecopy);
    free(types);
    free(perm);
    free(nullable);
    free(names);
    free(stype);
    free(snull);
    return r;
}

/* A load in chunks: one line per replica that failed since the last call. */
static void log_failures(struct ld *ld)
{
    for (size_t i = 0; i < ld->nreps; i++) {
        struct ld_rep *r = &ld->reps[i];
        if (!r->failed || r->logged)
            continue;
        r->logged = true;
        tlog_warn(r->tablet_id, "txn %lld: replica %lld on backend %lld failed in chunk %d (%s); it gets no more "
                  "writes of this load", (long long)ld->txn, (long long)r->replica_id, (long long)r->backend_id,
                  ld->nchunks, r->err);
    }
}

/* Every tablet with rows so far has a majority of its replicas ok (committed
 * when committed is set, else not failed)? Otherwise fills e. */
static int ld_majority(struct ld *ld, bool committed, struct err *e)
{
    for (int32_t b = 0; b < ld->ntablets; b++) {
        struct ld_tablet *lt = &ld->tablets[b];
        if (lt->total == 0)
            continue;
        int ok = 0;
        const char *why = "no normal replica";
        for (size_t i = 0; i < ld->nreps; i++)
            if (ld->reps[i].tablet_idx == (size_t)b) {
                if (committed ? ld->reps[i].committed : !ld->reps[i].failed)
                    ok++;
                else if (ld->reps[i].err[0])
                    why = ld->reps[i].err;
            }
        if (ok * 2 <= lt->nreps)
            return err_set(e, FLOE_EUNAVAILABLE, "load into '%s' aborted: tablet %lld has %d of %d replicas %s, "
                           "a majority is needed (%s)", ld->table, (long long)lt->id, ok, lt->nreps,
                           committed ? "committed" : "left", why);
    }
    return 0;
}

/* Step 6: journal the publish, then tell the replicas. A failure after the
 * journal write (a fault point; repair sends the publish) sets journaled. */
static int ld_publish(struct ld *ld, struct idl_load_reply *reply, struct err *e)
{
    struct fe_server *s = ld->s;
    int r;
    {
        int64_t *tids = xcalloc((size_t)ld->ntablets, sizeof(int64_t));
        int64_t *vers = xcalloc((size_t)ld->ntablets, sizeof(int64_t));
        int64_t *lag = xcalloc(ld->nreps + (size_t)ld->ntablets * 64 + 1, sizeof(int64_t));
        size_t nt = 0, nl = 0;
        pthread_mutex_lock(&s->lock);
        for (int32_t b = 0; b < ld->ntablets; b++) {
            if (ld->tablets[b].total == 0)
                continue;
            tids[nt++] = ld->tablets[b].id;
            struct fe_tablet *tb = catalog_tablet(&s->meta->cat, ld->tablets[b].id);
            for (int k = 0; tb && k < tb->nreplicas; k++) {
                bool ok = false;
                for (size_t i = 0; i < ld->nreps; i++)
                    if (ld->reps[i].replica_id == tb->replicas[k].id && ld->reps[i].committed)
                        ok = true;
                if (!ok)
                    lag[nl++] = tb->replicas[k].id;
            }
        }
        r = ops_publish_labeled(s->meta, ld->table_id, ld->txn, tids, nt, lag, nl, ld->label, ld->rows, vers, e);
        ld->journaled = r == 0;
        for (size_t i = 0; r == 0 && i < nt; i++) {
            struct fe_tablet *tb = catalog_tablet(&s->meta->cat, tids[i]);
            if (tb)
                tb->publish_ms = fe_now_ms();
        }
        struct fe_table *t = catalog_table(&s->meta->cat, ld->table_id);
        reply->version = t ? t->version : 0;
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0, k = 0; r == 0 && i < (size_t)ld->ntablets; i++)
            if (ld->tablets[i].total > 0)
                ld->tablets[i].version = vers[k++];
        reply->lagging_replicas = (int32_t)nl;
        free(tids);
        free(vers);
        free(lag);
        if (r < 0)
            return r;
    }
    /* the publish is journaled; a crash here leaves it to repair (reports show the lag) */
    if ((r = FAULT_POINT("fe.load.after_publish_journal")) < 0) {
        return err_set(e, r, "load into '%s': publish of txn %lld journaled but not sent (fault)", ld->table,
                       (long long)ld->txn);
    }
    ld->phase = LD_PUBLISH;
    run_phase(ld);
    for (size_t i = 0; i < ld->nreps; i++) {
        struct ld_rep *rp = &ld->reps[i];
        if (!rp->committed || rp->published)
            continue;
        struct err pe = { 0 };
        tlog_warn(rp->tablet_id, "txn %lld: replica %lld on backend %lld missed the publish (%s); marked lagging",
                  (long long)ld->txn, (long long)rp->replica_id, (long long)rp->backend_id, rp->err);
        pthread_mutex_lock(&s->lock);
        meta_commit(s->meta, json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet",
                                       (json_int_t)rp->tablet_id, "replica", (json_int_t)rp->replica_id, "state",
                                       (int)FE_REPLICA_LAGGING, "version",
                                       (json_int_t)(ld->tablets[rp->tablet_idx].version - 1)), &pe);
        pthread_mutex_unlock(&s->lock);
        reply->lagging_replicas++;
    }
    if (ld->nchunks > 1)
        drop_failed_writes(ld);   /* a single-call load makes no extra calls, as before */
    return 0;
}

/* Claims the open load txn for one more chunk (busy until it is put back). */
static int ld_claim(struct fe_server *s, int64_t txn, struct ld **ret, struct err *e)
{
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < open_n; i++) {
        struct ld *ld = open_v[i];
        if (ld->s != s || ld->txn != txn)
            continue;
        if (ld->busy) {
            pthread_mutex_unlock(&open_mu);
            return err_set(e, FLOE_EBUSY, "load txn %lld: its previous chunk is still being written", (long long)txn);
        }
        ld->busy = true;
        *ret = ld;
        pthread_mutex_unlock(&open_mu);
        return 0;
    }
    char what[200] = "";
    for (size_t i = 0; i < LD_FINISHED_KEEP; i++)
        if (finished[i].s == s && finished[i].txn == txn)
            snprintf(what, sizeof(what), "%s", finished[i].what);
    pthread_mutex_unlock(&open_mu);
    if (what[0])
        return err_set(e, FLOE_ETXN, "load txn %lld is already finished (%s); start a new load", (long long)txn,
                       what);
    return err_set(e, FLOE_ENOTFOUND, "load txn %lld is not an open load on this FE (unknown txn id, or the FE "
                   "restarted or aborted it since its last chunk)", (long long)txn);
}

/* Puts a claimed or new load (back) in the open set. */
static void ld_put(struct ld *ld, bool add)
{
    pthread_mutex_lock(&open_mu);
    ld->busy = false;
    ld->last_ms = fe_now_ms();
    if (add) {
        open_v = xrealloc(open_v, (open_n + 1) * sizeof(*open_v));
        open_v[open_n++] = ld;
    }
    pthread_mutex_unlock(&open_mu);
}

/* Removes a load from the open set (no-op when it is not there). */
static void ld_unlist(struct ld *ld)
{
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < open_n; i++)
        if (open_v[i] == ld) {
            open_v[i] = open_v[--open_n];
            break;
        }
    pthread_mutex_unlock(&open_mu);
}

static int check_label(const char *label, struct err *e)
{
    size_t ll = strlen(label);
    bool ok = ll <= 256;
    for (size_t i = 0; ok && i < ll; i++)
        ok = (unsigned char)label[i] >= 0x20;
    return ok ? 0 : err_set(e, FLOE_EBADINPUT, "load: label must be 1-256 printable characters");
}

int fe_svc_load(void *ctx, const struct idl_load_req *req, struct idl_load_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    struct ld *ld = NULL;
    size_t nrows = 0;
    int r;
    const char *sep = req->column_separator && *req->column_separator ? req->column_separator : ",";
    const char *label = req->label && *req->label ? req->label : NULL;

    if (req->txn_id != 0) {
        /* a later chunk of an open load: any error from here on aborts it */
        if ((r = ld_claim(s, req->txn_id, &ld, e)) < 0)
            return r;
        if (strcmp(req->table ? req->table : "", ld->table) != 0)
            r = err_set(e, FLOE_EBADINPUT, "load txn %lld is a load into '%s', not '%s'", (long long)ld->txn,
                        ld->table, req->table ? req->table : "");
        else if (req->format != IDL_LOAD_FORMAT_CSV)
            r = err_set(e, FLOE_EUNSUPPORTED, "load: only CSV data is supported");
        else if (strlen(sep) != 1)
            r = err_set(e, FLOE_EBADINPUT, "load: column separator '%s' must be one character", sep);
        else if (label && (!ld->label || strcmp(label, ld->label) != 0))
            r = err_set(e, FLOE_EBADINPUT, "load txn %lld: label '%s' is not the load's label '%s'",
                        (long long)ld->txn, label, ld->label ? ld->label : "");
        if (r < 0)
            goto fail;
    } else {
        if (req->format != IDL_LOAD_FORMAT_CSV)
            return err_set(e, FLOE_EUNSUPPORTED, "load: only CSV data is supported");
        if (strlen(sep) != 1)
            return err_set(e, FLOE_EBADINPUT, "load: column separator '%s' must be one character", sep);
        if (label && (r = check_label(label, e)) < 0)
            return r;
        if ((r = ld_begin(s, req, label, &ld, reply, e)) != 0)
            return r < 0 ? r : 0;   /* 1: the label's earlier result */
    }

    /* 2-3. parse and hash this chunk */
    if ((r = ld_parse(ld, req, sep, &nrows, e)) < 0)
        goto fail;
    ld->rows += (int64_t)nrows;
    ld->nchunks++;

    if (req->more) {
        /* 4. write this chunk; the load stays open for the next one */
        ld->phase = LD_WRITE;
        run_phase(ld);
        chunk_reset(ld);
        log_failures(ld);
        if ((r = ld_majority(ld, false, e)) < 0)
            goto fail;
        reply->txn_id = ld->txn;
        reply->num_rows = ld->rows;
        pthread_mutex_lock(&s->lock);
        struct fe_table *t = catalog_table(&s->meta->cat, ld->table_id);
        reply->version = t ? t->version : 0;
        pthread_mutex_unlock(&s->lock);
        tidl_set_str(&reply->label, ld->label ? ld->label : "");
        log_debug("txn %lld: %zu more rows into '%s' written (%lld so far), more to come", (long long)ld->txn,
                  nrows, ld->table, (long long)ld->rows);
        ld_put(ld, req->txn_id == 0);
        return 0;
    }

    /* the last (or only) chunk */
    ld_unlist(ld);
    if (ld->rows == 0) {
        reply->txn_id = ld->txn;
        reply->num_rows = 0;
        pthread_mutex_lock(&s->lock);
        struct fe_table *t = catalog_table(&s->meta->cat, ld->table_id);
        reply->version = t ? t->version : 0;
        pthread_mutex_unlock(&s->lock);
        finished_note(s, ld->txn, "finished with no rows");
        ld_end(ld, false);
        return 0;
    }
    /* 4. write */
    ld->phase = LD_WRITE;
    run_phase(ld);
    if (ld->nchunks > 1)
        log_failures(ld);
    /* 5. commit */
    if ((r = FAULT_POINT("fe.load.before_commit")) < 0) {
        err_set(e, r, "load into '%s': injected fault before the commit of txn %lld", ld->table, (long long)ld->txn);
        goto fail;
    }
    ld->phase = LD_COMMIT;
    run_phase(ld);
    if ((r = ld_majority(ld, true, e)) < 0)
        goto fail;
    /* 6. publish */
    if ((r = ld_publish(ld, reply, e)) < 0 && ld->journaled) {
        finished_note(s, ld->txn, "published, not yet delivered to the replicas");
        ld_end(ld, false);
        return r;
    }
    if (r < 0)
        goto fail;
    reply->txn_id = ld->txn;
    reply->num_rows = ld->rows;
    tidl_set_str(&reply->label, ld->label ? ld->label : "");
    metrics_inc(s->m.txns_ok);
    metrics_add(s->m.rows_loaded, ld->rows);
    log_info("txn %lld: %lld rows into '%s' published (table version %lld, %d lagging replicas)", (long long)ld->txn,
             (long long)ld->rows, ld->table, (long long)reply->version, (int)reply->lagging_replicas);
    finished_note(s, ld->txn, "published as table version %lld", (long long)reply->version);
    ld_end(ld, false);
    return 0;

fail:
    ld_unlist(ld);
    log_warn("txn %lld aborted: %s", (long long)ld->txn, err_msg(e));
    finished_note(s, ld->txn, "aborted: %s", err_msg(e));
    ld_end(ld, true);
    return r;
}

size_t fe_loads_expire(struct fe_server *s, int64_t idle_ms)
{
    int64_t now = fe_now_ms();
    struct ld **gone = NULL;
    size_t ngone = 0;
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < open_n;) {
        struct ld *ld = open_v[i];
        if (ld->s == s && !ld->busy && now - ld->last_ms > idle_ms) {
            gone = xrealloc(gone, (ngone + 1) * sizeof(*gone));
            gone[ngone++] = ld;
            open_v[i] = open_v[--open_n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&open_mu);
    for (size_t i = 0; i < ngone; i++) {
        struct ld *ld = gone[i];
        log_warn("txn %lld: load into '%s' had no chunk for %llds (load_idle_timeout_s %llds): aborted, "
                 "%lld rows written so far are dropped", (long long)ld->txn, ld->table,
                 (long long)((now - ld->last_ms) / 1000), (long long)(idle_ms / 1000), (long long)ld->rows);
        finished_note(s, ld->txn, "aborted: no chunk for more than %llds", (long long)(idle_ms / 1000));
        ld_end(ld, true);
    }
    free(gone);
    return ngone;
}

void fe_loads_free_all(struct fe_server *s)
{
    size_t n;
    while ((n = fe_loads_expire(s, -1)) > 0)
        ;
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < LD_FINISHED_KEEP; i++)
        if (finished[i].s == s)
            memset(&finished[i], 0, sizeof(finished[i]));
    if (open_n == 0) {
        free(open_v);
        open_v = NULL;
    }
    pthread_mutex_unlock(&open_mu);
}

size_t fe_loads_open(struct fe_server *s)
{
    size_t n = 0;
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < open_n; i++)
        n += open_v[i]->s == s;
    pthread_mutex_unlock(&open_mu);
    return n;
}
