/*
 * engine: opening the storage root, the tablet map, create/drop, snapshots,
 * installing versions, the restart sweep and the compaction scheduler.
 */
#define LOG_MODULE "engine"
#include "engine_int.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "tpool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void engine_opts_default(struct engine_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->workers = 4;
    o->compaction_threads = 1;
    o->auto_compaction = false;
    o->compaction_interval_ms = 1000;
    o->cumulative_min_rowsets = 5;
    o->cumulative_max_rowsets = 50;
    o->cumulative_max_bytes = 64ull << 20;
    o->base_min_rowsets = 8;
    o->base_size_ratio_pct = 30;
    o->stale_rowset_keep_ms = 300 * 1000;
    o->txn_timeout_ms = 3600 * 1000;
}

const char *engine_root(const struct engine *eng) { return eng->root; }

struct tablet *tablet_ref(struct tablet *t)
{
    if (t)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void stx_release(struct stx *x)
{
    free(x->segs);
    free(x->done);
    rowset_unref(x->rs);
    memset(x, 0, sizeof(*x));
}

void tablet_unref(struct tablet *t)
{
    if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    version_unref(t->cur);
    for (size_t i = 0; i < t->ntxns; i++)
        stx_release(&t->txns[i]);
    free(t->txns);
    free(t->pubs);
    free(t->meta_path);
    free(t->data_dir);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct tablet *tablet_alloc(struct engine *eng, int64_t id)
{
    struct tablet *t = xcalloc(1, sizeof(*t));
    t->refs = 1;
    t->id = id;
    t->eng = eng;
    t->meta_path = xasprintf("%s/%lld.json", eng->meta_dir, (long long)id);
    t->data_dir = xasprintf("%s/%lld", eng->data_dir, (long long)id);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

int64_t tablet_id(const struct tablet *t) { return t->id; }
int64_t tablet_replica_id(const struct tablet *t) { return t->replica_id; }
const char *tablet_data_dir(const struct tablet *t) { return t->data_dir; }
struct engine *tablet_engine(const struct tablet *t) { return t->eng; }
const struct version *tablet_current(const struct tablet *t) { return t->cur; }

struct version *tablet_snapshot(struct tablet *t)
{
    pthread_mutex_lock(&t->mu);
    struct version *v = version_ref(t->cur);
    pthread_mutex_unlock(&t->mu);
    return v;
}

/* ---- the tablet map ---- */

static size_t map_lower(struct engine *eng, int64_t id)
{
    size_t lo = 0, hi = eng->ntablets;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (eng->tablets[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Called with eng->mu held. Takes over the caller's reference. */
static void map_insert(struct engine *eng, struct tablet *t)
{
    size_t i = map_lower(eng, t->id);
    if (eng->ntablets == eng->cap) {
        eng->cap = eng->cap ? eng->cap * 2 : 64;
        eng->tablets = xrealloc(eng->tablets, eng->cap * sizeof(*eng->tablets));
    }
    memmove(eng->tablets + i + 1, eng->tablets + i, (eng->ntablets - i) * sizeof(*eng->tablets));
    eng->tablets[i] = t;
    eng->ntablets++;
}

static struct tablet *map_remove(struct engine *eng, int64_t id)
{
    size_t i = map_lower(eng, id);
    if (i >= eng->ntablets || eng->tablets[i]->id != id)
        return NULL;
    struct tablet *t = eng->tablets[i];
    memmove(eng->tablets + i, eng->tablets + i + 1, (eng->ntablets - i - 1) * sizeof(*eng->tablets));
    eng->ntablets--;
    return t;
}

struct tablet *engine_get_tablet(struct engine *eng, int64_t id)
{
    pthread_mutex_lock(&eng->mu);
    size_t i = map_lower(eng, id);
    struct tablet *t = i < eng->ntablets && eng->tablets[i]->id == id ? tablet_ref(eng->tablets[i]) : NULL;
    pthread_mutex_unlock(&eng->mu);
    return t;
}

/* ---- meta save and install ---- */

int tablet_save_meta(struct tablet *t, const struct version *nv, int64_t skip_txn, const struct stx *add_txn,
                     const struct pub_entry *add_pub, struct err *e)
{
    struct tablet_meta m;
    memset(&m, 0, sizeof(m));
    m.tablet_id = t->id;
    m.replica_id = t->replica_id;
    m.v = (struct version *)nv;
    m.txns = xcalloc(t->ntxns + 2, sizeof(*m.txns));
    for (size_t i = 0; i < t->ntxns; i++)
        if (t->txns[i].committed && t->txns[i].txn_id != skip_txn)
            m.txns[m.ntxns++] = (struct txn_entry){ t->txns[i].txn_id, t->txns[i].rs };
    if (add_txn)
        m.txns[m.ntxns++] = (struct txn_entry){ add_txn->txn_id, add_txn->rs };
    size_t keep = t->npubs;
    size_t first = keep >= TABLET_META_KEEP_PUBLISHED ? keep - TABLET_META_KEEP_PUBLISHED + 1 : 0;
    m.pubs = xcalloc(keep + 2, sizeof(*m.pubs));
    for (size_t i = first; i < keep; i++)
        m.pubs[m.npubs++] = t->pubs[i];
    if (add_pub)
        m.pubs[m.npubs++] = *add_pub;
    int r = tablet_meta_save(t->meta_path, &m, e);
    free(m.txns);
    free(m.pubs);
    return r;
}

/* Retires rs when it is local and nv lists it neither as a local rowset nor as stale. */
static void retire_if_gone(const struct version *nv, struct rowset *rs)
{
    if (!rowset_is_local(rs) || version_has_stale(nv, rs->id))
        return;
    ssize_t k = version_find_rowset(nv, rs->id);
    if (k < 0 || !rowset_is_local(nv->rowsets[k]))
        rowset_retire(rs);
}

void tablet_swap(struct tablet *t, struct version *nv)
{
    pthread_mutex_lock(&t->mu);
    struct version *old = t->cur;
    t->cur = nv;
    pthread_mutex_unlock(&t->mu);
    if (old) {
        for (size_t i = 0; i < old->nrowsets; i++)
            retire_if_gone(nv, old->rowsets[i]);
        for (size_t i = 0; i < old->nstale; i++)
            retire_if_gone(nv, old->stale[i]);
    }
    version_unref(old);
}

int tablet_install(struct tablet *t, struct version *nv, struct err *e)
{
    int r = version_check(nv, e);
    if (r == 0)
        r = tablet_save_meta(t, nv, TXN_NONE, NULL, NULL, e);
    if (r < 0) {
        version_unref(nv);
        return r;
    }
    tablet_swap(t, nv);
    return 0;
}

/* ---- exec ---- */

struct exec_ctx {
    struct tablet *t;
    tablet_fn fn;
    void *arg;
};

static int exec_thunk(void *arg, struct err *e)
{
    struct exec_ctx *c = arg;
    if (c->t->dropped)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld was dropped", (long long)c->t->id);
    return c->fn(c->t, c->arg, e);
}

int engine_tablet_exec(struct engine *eng, int64_t id, tablet_fn fn, void *arg, struct err *e)
{
    struct tablet *t = engine_get_tablet(eng, id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld not found", (long long)id);
    if (t->bad) {
        int r = err_set(e, FLOE_EBADSTATE, "tablet %lld is bad: %s", (long long)id, t->reason);
        tablet_unref(t);
        return r;
    }
    struct exec_ctx c = { t, fn, arg };
    int r = worker_group_exec(eng->workers, (uint64_t)id, exec_thunk, &c, e);
    tablet_unref(t);
    return r;
}

int engine_snapshot(struct engine *eng, int64_t id, struct version **ret, struct err *e)
{
    *ret = NULL;
    struct tablet *t = engine_get_tablet(eng, id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld not found", (long long)id);
    int r = 0;
    if (t->bad)
        r = err_set(e, FLOE_EBADSTATE, "tablet %lld is bad: %s", (long long)id, t->reason);
    else
        *ret = tablet_snapshot(t);
    tablet_unref(t);
    return r;
}

/* ---- create / drop ---- */

struct create_ctx {
    struct engine *eng;
    int64_t id, replica_id;
    struct schema *schema;
    int64_t version;
    const struct cooldown_state *cd;
    struct version *clone;      /* clone install: the full state to adopt */
};

/* On the id's worker, so two creates of one id are serialised. */
static int create_on_worker(void *arg, struct err *e)
{
    struct create_ctx *c = arg;
    struct engine *eng = c->eng;
    int64_t id = c->id;
    struct tablet *existing = engine_get_tablet(eng, id);
    if (existing && c->clone && !existing->bad && !existing->dropped) {
        int r = 0;
        if (existing->cur->max_version > c->clone->max_version)
            r = err_set(e, FLOE_EVERSION, "tablet %lld: at version %lld, newer than the clone source's %lld",
                        (long long)id, (long long)existing->cur->max_version, (long long)c->clone->max_version);
        else if (!schema_equal(existing->cur->schema, c->clone->schema))
            r = err_set(e, FLOE_EBADINPUT, "tablet %lld: the clone source has a different schema", (long long)id);
        else if ((r = tablet_install(existing, version_ref(c->clone), e)) == 0)
            tlog_info(id, "clone installed at version %lld", (long long)c->clone->max_version);
        tablet_unref(existing);
        return r;
    }
    if (existing) {
        bool same = !existing->bad && existing->cur && schema_equal(existing->cur->schema, c->schema) &&
                    existing->replica_id == c->replica_id;
        tablet_unref(existing);
        return err_set(e, FLOE_EEXIST, "tablet %lld already exists%s", (long long)id,
                       same ? " with the same schema" : " with a different schema or replica");
    }
    struct tablet *t = tablet_alloc(eng, id);
    t->replica_id = c->replica_id;
    int r;
    if ((r = fs_mkdir_p(t->data_dir, 0755, e)) < 0 || (r = fs_fsync_dir(eng->data_dir, e)) < 0)
        goto fail;
    char idbuf[UUID_STR_LEN];
    if ((r = uuid_new_str(idbuf)) < 0) {
        r = err_errno(e, -r, "tablet %lld: uuid", (long long)id);
        goto fail;
    }
    struct version *v;
    if (c->clone) {
        v = version_ref(c->clone);
    } else {
        v = version_new(id, c->schema, c->version);
        struct rowset *rs = rowset_new(idbuf, id, 0, c->version, NULL, 0, fs_now_ms(), NULL, t->data_dir);
        version_add_rowset(v, rs);
        rowset_unref(rs);
        if (c->cd) {
            cooldown_state_release(&v->cd);
            cooldown_state_copy(&v->cd, c->cd);
        }
    }
    if ((r = tablet_save_meta(t, v, TXN_NONE, NULL, NULL, e)) < 0) {
        version_unref(v);
        goto fail;
    }
    t->cur = v;
    pthread_mutex_lock(&eng->mu);
    map_insert(eng, t);
    pthread_mutex_unlock(&eng->mu);
    tlog_info(id, "created (replica %lld, %d columns, %s model)", (long long)c->replica_id, c->schema->ncols,
              c->schema->model == KEY_UNIQUE ? "unique" : "duplicate");
    return 0;
fail:
    tablet_unref(t);
    return r;
}

int engine_create_tablet_ex(struct engine *eng, int64_t id, int64_t replica_id, struct schema *schema,
                            int64_t version, const struct cooldown_state *cd, struct err *e)
{
    if (id <= 0)
        return err_set(e, FLOE_EBADINPUT, "tablet id %lld: must be positive", (long long)id);
    if (version < 1)
        return err_set(e, FLOE_EBADINPUT, "tablet %lld: initial version %lld, must be >= 1", (long long)id,
                       (long long)version);
    struct create_ctx c = { eng, id, replica_id, schema, version, cd, NULL };
    return worker_group_exec(eng->workers, (uint64_t)id, create_on_worker, &c, e);
}

int engine_create_tablet(struct engine *eng, int64_t id, int64_t replica_id, struct schema *schema, struct err *e)
{
    return engine_create_tablet_ex(eng, id, replica_id, schema, 1, NULL, e);
}

int engine_install_clone(struct engine *eng, int64_t id, int64_t replica_id, struct version *v, struct err *e)
{
    if (id <= 0 || v->tablet_id != id)
        return err_set(e, FLOE_EBADINPUT, "clone of tablet %lld: bad tablet id", (long long)id);
    int r = version_check(v, e);
    if (r < 0)
        return r;
    struct create_ctx c = { eng, id, replica_id, v->schema, v->max_version, NULL, v };
    return worker_group_exec(eng->workers, (uint64_t)id, create_on_worker, &c, e);
}

char *engine_tablet_dir(struct engine *eng, int64_t id)
{
    return xasprintf("%s/%lld", eng->data_dir, (long long)id);
}

static int drop_on_worker(struct tablet *t, void *arg, struct err *e)
{
    (void)arg;
    int r = FAULT_POINT("tablet.drop");
    if (r < 0)
        return err_set(e, r, "tablet %lld: injected drop fault", (long long)t->id);
    if (unlink(t->meta_path) < 0 && errno != ENOENT)
        return err_errno(e, errno, "drop tablet %lld: remove %s", (long long)t->id, t->meta_path);
    if ((r = fs_fsync_dir(t->eng->meta_dir, e)) < 0)
        return r;
    t->dropped = true;
    pthread_mutex_lock(&t->eng->mu);
    struct tablet *m = map_remove(t->eng, t->id);
    pthread_mutex_unlock(&t->eng->mu);
    for (size_t i = 0; i < t->ntxns; i++) {
        struct stx *x = &t->txns[i];
        rowset_delete_local_files(t->data_dir, x->rowset_id, x->nsegs);
        stx_release(x);
    }
    t->ntxns = 0;
    pthread_mutex_lock(&t->mu);
    struct version *old = t->cur;
    t->cur = NULL;
    pthread_mutex_unlock(&t->mu);
    if (old) {
        for (size_t i = 0; i < old->nrowsets; i++)
            rowset_retire(old->rowsets[i]);
        for (size_t i = 0; i < old->nstale; i++)
            rowset_retire(old->stale[i]);
    }
    version_unref(old);
    rmdir(t->data_dir); /* succeeds only when no snapshot keeps files alive; the restart sweep does the rest */
    tlog_info(t->id, "dropped");
    tablet_unref(m);
    return 0;
}

int engine_drop_tablet(struct engine *eng, int64_t id, struct err *e)
{
    struct tablet *t = engine_get_tablet(eng, id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld not found", (long long)id);
    int r;
    if (t->bad) {
        /* a bad tablet has no worker state: remove its meta and files directly */
        if (unlink(t->meta_path) < 0 && errno != ENOENT) {
            r = err_errno(e, errno, "drop tablet %lld: remove %s", (long long)id, t->meta_path);
        } else {
            pthread_mutex_lock(&eng->mu);
            struct tablet *m = map_remove(eng, id);
            pthread_mutex_unlock(&eng->mu);
            tablet_unref(m);
            r = fs_remove_all(t->data_dir, e);
        }
        tablet_unref(t);
        return r;
    }
    tablet_unref(t);
    return engine_tablet_exec(eng, id, drop_on_worker, NULL, e);
}

/* ---- stale rowsets ---- */

struct expire_arg {
    int64_t now_ms;
    size_t n;
};

static int expire_on_worker(struct tablet *t, void *arg, struct err *e)
{
    (void)e;
    struct expire_arg *a = arg;
    const struct version *v = t->cur;
    size_t due = 0;
    for (size_t i = 0; i < v->nstale; i++)
        due += v->stale_expire_ms[i] <= a->now_ms;
    if (due == 0)
        return 0;
    /* stale rowsets are not in the meta: dropping them needs no meta write */
    struct version *nv = version_copy(v);
    a->n = version_drop_expired_stale(nv, a->now_ms);
    tablet_swap(t, nv);
    tlog_debug(t->id, "%zu stale rowsets expired, %zu kept", a->n, t->cur->nstale);
    return 0;
}

int engine_expire_stale(struct engine *eng, int64_t tablet_id, int64_t now_ms, size_t *ret_n, struct err *e)
{
    struct expire_arg a = { now_ms < 0 ? fs_now_ms() : now_ms, 0 };
    int r = engine_tablet_exec(eng, tablet_id, expire_on_worker, &a, e);
    if (ret_n)
        *ret_n = a.n;
    return r;
}

/* The scheduler's check: expire on the worker only when something is due. */
static void expire_schedule_tablet(struct engine *eng, struct tablet *t)
{
    if (t->bad || t->dropped)
        return;
    struct version *v = tablet_snapshot(t);
    if (!v)
        return;
    int64_t now = fs_now_ms();
    bool due = false;
    for (size_t i = 0; i < v->nstale && !due; i++)
        due = v->stale_expire_ms[i] <= now;
    version_unref(v);
    struct err e = { 0 };
    if (due && engine_expire_stale(eng, t->id, now, NULL, &e) < 0 && e.code != FLOE_ENOTFOUND)
        tlog_warn(t->id, "expiring stale rowsets: %s", err_msg(&e));
}

/* ---- info ---- */

static void fill_info(struct tablet *t, struct tablet_info *ti)
{
    memset(ti, 0, sizeof(*ti));
    ti->tablet_id = t->id;
    ti->replica_id = t->replica_id;
    ti->bad = t->bad;
    snprintf(ti->reason, sizeof(ti->reason), "%s", t->reason);
    struct version *v = t->bad ? NULL : tablet_snapshot(t);
    if (v) {
        ti->max_version = v->max_version;
        ti->nrowsets = v->nrowsets;
        for (size_t i = 0; i < v->nrowsets; i++) {
            ti->num_rows += v->rowsets[i]->num_rows;
            ti->data_size += v->rowsets[i]->data_size;
            if (rowset_is_local(v->rowsets[i]))
                ti->local_size += v->rowsets[i]->data_size;
        }
        ti->nstale = v->nstale;
        for (size_t i = 0; i < v->nstale; i++)
            ti->stale_size += v->stale[i]->data_size;
        ti->cooldown_replica_id = v->cd.cooldown_replica_id;
        ti->cooldown_term = v->cd.cooldown_term;
        ti->cooldowned_version = v->cd.cooldowned_version;
        memcpy(ti->cooldown_meta_id, v->cd.cooldown_meta_id, sizeof(ti->cooldown_meta_id));
    }
    ti->ntxns = __atomic_load_n(&t->ntxns, __ATOMIC_RELAXED);
    version_unref(v);
}

int engine_tablet_info(struct engine *eng, int64_t id, struct tablet_info *ret, struct err *e)
{
    struct tablet *t = engine_get_tablet(eng, id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld not found", (long long)id);
    fill_info(t, ret);
    tablet_unref(t);
    return 0;
}

int engine_tablet_infos(struct engine *eng, struct tablet_info **ret, size_t *ret_n)
{
    pthread_mutex_lock(&eng->mu);
    size_t n = eng->ntablets;
    struct tablet **ts = xcalloc(n + 1, sizeof(*ts));
    for (size_t i = 0; i < n; i++)
        ts[i] = tablet_ref(eng->tablets[i]);
    pthread_mutex_unlock(&eng->mu);
    struct tablet_info *v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        fill_info(ts[i], &v[i]);
        tablet_unref(ts[i]);
    }
    free(ts);
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- open: load metas, sweep unreferenced files ---- */

static bool parse_id(const char *s, const char *suffix, int64_t *ret)
{
    size_t n = strlen(s), sl = strlen(suffix);
    if (n <= sl || strcmp(s + n - sl, suffix) != 0)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n - sl; i++) {
        if (s[i] < '0' || s[i] > '9' || v > INT64_MAX / 10 - 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return v > 0;
}

static void load_tablet(struct engine *eng, int64_t id)
{
    struct tablet *t = tablet_alloc(eng, id);
    struct tablet_meta m;
    struct err e = { 0 };
    if (tablet_meta_load(t->meta_path, id, t->data_dir, &m, &e) < 0) {
        t->bad = true;
        snprintf(t->reason, sizeof(t->reason), "%s", err_msg(&e));
        tlog_error(id, "tablet marked bad: %s", err_msg(&e));
    } else {
        t->replica_id = m.replica_id;
        t->cur = version_ref(m.v);
        t->txns = xcalloc(m.ntxns + 1, sizeof(*t->txns));
        for (size_t i = 0; i < m.ntxns; i++) {
            struct stx *x = &t->txns[i];
            x->txn_id = m.txns[i].txn_id;
            x->committed = true;
            x->rs = rowset_ref(m.txns[i].rs);
            snprintf(x->rowset_id, sizeof(x->rowset_id), "%s", x->rs->id);
            x->nsegs = x->rs->nsegs;
            /* every write of a committed txn completed: rebuild the per-write sizes and flags */
            x->segs = xcalloc((size_t)x->nsegs + 1, sizeof(*x->segs));
            if (x->nsegs > 0)
                memcpy(x->segs, x->rs->segs, (size_t)x->nsegs * sizeof(*x->segs));
            x->done = xcalloc((size_t)x->nsegs + 1, sizeof(*x->done));
            for (int k = 0; k < x->nsegs; k++)
                x->done[k] = true;
            x->write_ms = x->rs->newest_write_ms;
        }
        t->ntxns = m.ntxns;
        t->pubs = xcalloc(m.npubs + 1, sizeof(*t->pubs));
        memcpy(t->pubs, m.pubs, m.npubs * sizeof(*t->pubs));
        t->npubs = m.npubs;
        tablet_meta_release(&m);
    }
    map_insert(eng, t);
}

static bool tablet_references(struct tablet *t, const char *rowset_id)
{
    ssize_t k = version_find_rowset(t->cur, rowset_id);
    if (k >= 0 && rowset_is_local(t->cur->rowsets[k]))
        return true;
    for (size_t i = 0; i < t->ntxns; i++)
        if (strcmp(t->txns[i].rowset_id, rowset_id) == 0)
            return true;
    return false;
}

static void sweep_tablet_dir(struct engine *eng, const char *dir, struct tablet *t)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    size_t removed = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char id[UUID_STR_LEN];
        int seg;
        if (rowset_parse_segment_name(de->d_name, id, &seg) && tablet_references(t, id))
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        struct err e = { 0 };
        if (FAULT_POINT("file.delete") < 0)
            log_warn("sweep %s: injected fault", p);
        else if (fs_remove_all(p, &e) < 0)
            log_warn("sweep: %s", err_msg(&e));
        else
            removed++;
        free(p);
    }
    closedir(d);
    (void)eng;
    if (removed)
        tlog_info(t->id, "restart sweep removed %zu unreferenced files", removed);
}

static int sweep(struct engine *eng, struct err *e)
{
    (void)e;
    /* temp files of interrupted atomic writes */
    DIR *d = opendir(eng->meta_dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strstr(de->d_name, ".json.tmp.")) {
                char *p = xasprintf("%s/%s", eng->meta_dir, de->d_name);
                unlink(p);
                free(p);
            }
        }
        closedir(d);
    }
    d = opendir(eng->data_dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int64_t id;
        char *p = xasprintf("%s/%s", eng->data_dir, de->d_name);
        struct tablet *t = parse_id(de->d_name, "", &id) ? engine_get_tablet(eng, id) : NULL;
        if (!t) {
            struct err le = { 0 };
            if (FAULT_POINT("file.delete") < 0 || fs_remove_all(p, &le) < 0)
                log_warn("sweep %s: %s", p, err_msg(&le));
            else
                log_info("restart sweep removed %s (no tablet meta)", p);
        } else if (!t->bad) {
            sweep_tablet_dir(eng, p, t);
        }
        tablet_unref(t);
        free(p);
    }
    closedir(d);
    return 0;
}

static void *sched_main(void *arg);

int engine_open(const struct engine_opts *o, struct engine **ret, struct err *e)
{
    *ret = NULL;
    if (!o->root || !*o->root)
        return err_set(e, FLOE_ECONFIG, "engine: storage root is not set");
    struct engine *eng = xcalloc(1, sizeof(*eng));
    eng->opts = *o;
    if (eng->opts.workers < 1)
        eng->opts.workers = 1;
    if (eng->opts.compaction_threads < 1)
        eng->opts.compaction_threads = 1;
    eng->root = xstrdup(o->root);
    eng->opts.root = eng->root;
    eng->meta_dir = xasprintf("%s/meta", o->root);
    eng->data_dir = xasprintf("%s/data", o->root);
    pthread_mutex_init(&eng->mu, NULL);
    pthread_cond_init(&eng->stop_cond, NULL);
    int r;
    if ((r = fs_mkdir_p(eng->meta_dir, 0755, e)) < 0 || (r = fs_mkdir_p(eng->data_dir, 0755, e)) < 0)
        goto fail;
    DIR *d = opendir(eng->meta_dir);
    if (!d) {
        r = err_errno(e, errno, "engine: open %s", eng->meta_dir);
        goto fail;
    }
    struct dirent *de;
    size_t nbad = 0;
    while ((de = readdir(d)) != NULL) {
        int64_t id;
        if (!parse_id(de->d_name, ".json", &id))
            continue;
        load_tablet(eng, id);
    }
    closedir(d);
    for (size_t i = 0; i < eng->ntablets; i++)
        nbad += eng->tablets[i]->bad;
    if ((r = sweep(eng, e)) < 0)
        goto fail;
    eng->workers = worker_group_new(eng->opts.workers);
    eng->cpool = tpool_new("compaction", eng->opts.compaction_threads, 1024);
    if (!eng->workers || !eng->cpool) {
        r = err_set(e, FLOE_EINTERNAL, "engine: cannot start threads");
        goto fail;
    }
    if (eng->opts.stale_rowset_keep_ms < 0)
        eng->opts.stale_rowset_keep_ms = 0;
    if (eng->opts.txn_timeout_ms < 0)
        eng->opts.txn_timeout_ms = 0;
    if (eng->opts.auto_compaction || eng->opts.stale_rowset_keep_ms > 0 || eng->opts.txn_timeout_ms > 0) {
        if (pthread_create(&eng->sched, NULL, sched_main, eng) != 0) {
            r = err_set(e, FLOE_EINTERNAL, "engine: cannot start the compaction scheduler");
            goto fail;
        }
        eng->sched_running = true;
    }
    log_info("engine at %s: %zu tablets loaded, %zu bad", eng->root, eng->ntablets, nbad);
    *ret = eng;
    return 0;
fail:
    engine_close(eng);
    return r;
}

/* How often the scheduler looks for timed-out txns: a quarter of the timeout, at most once a minute. */
static int64_t txn_check_period_ms(const struct engine *eng)
{
    int64_t p = eng->opts.txn_timeout_ms / 4;
    return p < 60000 ? p : 60000;
}

static void *sched_main(void *arg)
{
    struct engine *eng = arg;
    int64_t next_txn_check = fs_now_ms() + txn_check_period_ms(eng);
    pthread_mutex_lock(&eng->mu);
    while (!eng->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (eng->opts.compaction_interval_ms % 1000) * 1000000;
        ts.tv_sec += eng->opts.compaction_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&eng->stop_cond, &eng->mu, &ts);
        if (eng->stop)
            break;
        size_t n = eng->ntablets;
        struct tablet **ts2 = xcalloc(n + 1, sizeof(*ts2));
        for (size_t i = 0; i < n; i++)
            ts2[i] = tablet_ref(eng->tablets[i]);
        pthread_mutex_unlock(&eng->mu);
        int64_t now = fs_now_ms();
        bool txn_check = eng->opts.txn_timeout_ms > 0 && now >= next_txn_check;
        if (txn_check)
            next_txn_check = now + txn_check_period_ms(eng);
        for (size_t i = 0; i < n; i++) {
            struct err te = { 0 };
            if (txn_check && !ts2[i]->bad && !ts2[i]->dropped &&
                engine_txn_expire(eng, ts2[i]->id, now, eng->opts.txn_timeout_ms, NULL, &te) < 0 &&
                te.code != FLOE_ENOTFOUND)
                tlog_warn(ts2[i]->id, "expiring timed-out txns: %s", err_msg(&te));
            expire_schedule_tablet(eng, ts2[i]);
            if (eng->opts.auto_compaction)
                compaction_schedule_tablet(eng, ts2[i]);
            tablet_unref(ts2[i]);
        }
        free(ts2);
        pthread_mutex_lock(&eng->mu);
    }
    pthread_mutex_unlock(&eng->mu);
    return NULL;
}

void engine_close(struct engine *eng)
{
    if (!eng)
        return;
    if (eng->sched_running) {
        pthread_mutex_lock(&eng->mu);
        eng->stop = true;
        pthread_cond_broadcast(&eng->stop_cond);
        pthread_mutex_unlock(&eng->mu);
        pthread_join(eng->sched, NULL);
    }
    tpool_free(eng->cpool);
    worker_group_free(eng->workers);
    for (size_t i = 0; i < eng->ntablets; i++)
        tablet_unref(eng->tablets[i]);
    free(eng->tablets);
    pthread_mutex_destroy(&eng->mu);
    pthread_cond_destroy(&eng->stop_cond);
    free(eng->root);
    free(eng->meta_dir);
    free(eng->data_dir);
    free(eng);
}

void engine_set_compaction_filter(struct engine *eng, compaction_filter_cb cb, void *ctx)
{
    pthread_mutex_lock(&eng->mu);
    eng->filter = cb;
    eng->filter_ctx = ctx;
    pthread_mutex_unlock(&eng->mu);
}
