/*
 * cooldown: uploader, follower, conf and policy updates, remote reads.
 * Remote GC and cold compaction live in cooldown_gc.c and
 * cooldown_compact.c; shared internals in cooldown_int.h.
 *
 * Every change of a tablet's state runs on its worker (engine_tablet_exec)
 * and re-checks there what the slow part (uploads, GETs) assumed: the term,
 * the meta id and the rowsets involved. Slow I/O runs outside the worker.
 */
#define LOG_MODULE "cooldown"
#include "cooldown_int.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "objstore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cooldown_metrics cd_metrics;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_setup(void)
{
    cd_metrics.up_bytes = metrics_counter("floe_cooldown_uploaded_bytes_total", "Segment bytes uploaded by cooldown");
    cd_metrics.up_objects = metrics_counter("floe_cooldown_uploaded_objects_total", "Segment objects uploaded");
    cd_metrics.metas = metrics_counter("floe_cooldown_metas_written_total", "Remote metas written");
    cd_metrics.adopted = metrics_counter("floe_cooldown_follows_total{result=\"adopted\"}", "Follower meta checks");
    cd_metrics.refused = metrics_counter("floe_cooldown_follows_total{result=\"refused\"}", "Follower meta checks");
    cd_metrics.not_modified =
        metrics_counter("floe_cooldown_follows_total{result=\"not_modified\"}", "Follower meta checks");
    cd_metrics.gc_cand = metrics_counter("floe_remote_gc_candidates_total", "Objects offered for deletion");
    cd_metrics.gc_deleted = metrics_counter("floe_remote_gc_deleted_total", "Objects deleted by remote GC");
    cd_metrics.up_fail = metrics_counter("floe_cooldown_upload_failures_total", "Failed cooldown uploads");
    cd_metrics.cold_compactions = metrics_counter("floe_cooldown_cold_compactions_total", "Cold compactions done");
    cd_metrics.recuts = metrics_counter("floe_cooldown_recuts_total",
                                        "Earlier-term metas a new uploader re-cut at a local rowset boundary");
    cd_metrics.damaged = metrics_counter("floe_cooldown_damaged_segment_reads_total",
                                         "Reads of remote segments that failed a check (their cached blocks are dropped)");
}

void cooldown_opts_default(struct cooldown_opts *o)
{
    o->check_interval_ms = 60000;
    o->gc_grace_ms = 1800000;
    o->gc_interval_ms = 600000;
    o->upload_threads = 4;
    o->cold_compaction_min_rowsets = 10;
    o->background = true;
}

/* ---- per-tablet runtime state ---- */

struct cd_tablet *cd_tablet_get(struct cooldown *cd, int64_t id)
{
    /* caller holds cd->mu */
    for (size_t i = 0; i < cd->ntab; i++)
        if (cd->tabs[i]->id == id)
            return cd->tabs[i];
    struct cd_tablet *t = xcalloc(1, sizeof(*t));
    t->id = id;
    t->replica_id = -1;
    buf_init(&t->body);
    cd->tabs = xrealloc(cd->tabs, (cd->ntab + 1) * sizeof(*cd->tabs));
    cd->tabs[cd->ntab++] = t;
    return t;
}

void cd_step_lock(struct cooldown *cd, int64_t id)
{
    pthread_mutex_lock(&cd->mu);
    while (cd_tablet_get(cd, id)->stepping)
        pthread_cond_wait(&cd->step_cond, &cd->mu);
    cd_tablet_get(cd, id)->stepping = true;
    pthread_mutex_unlock(&cd->mu);
}

void cd_step_unlock(struct cooldown *cd, int64_t id)
{
    pthread_mutex_lock(&cd->mu);
    cd_tablet_get(cd, id)->stepping = false;
    pthread_cond_broadcast(&cd->step_cond);
    pthread_mutex_unlock(&cd->mu);
}

static void cd_tablet_free(struct cd_tablet *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->npending; i++)
        free(t->pending[i]);
    free(t->pending);
    for (size_t i = 0; i < t->nsources; i++)
        free(t->sources[i]);
    free(t->sources);
    for (size_t i = 0; i < t->ncand; i++)
        free(t->cand[i]);
    free(t->cand);
    for (size_t i = 0; i < t->nlive; i++)
        rowset_unref(t->live[i]);
    free(t->live);
    buf_release(&t->body);
    free(t);
}

static void cd_tablet_forget(struct cooldown *cd, int64_t id)
{
    pthread_mutex_lock(&cd->mu);
    for (size_t i = 0; i < cd->ntab; i++)
        if (cd->tabs[i]->id == id) {
            cd_tablet_free(cd->tabs[i]);
            cd->tabs[i] = cd->tabs[--cd->ntab];
            break;
        }
    pthread_mutex_unlock(&cd->mu);
}

static void strv_add(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = xstrdup(s);
}

static void strv_del(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0) {
            free((*v)[i]);
            (*v)[i] = (*v)[--(*n)];
            return;
        }
}

bool cd_strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* ---- cooldown_state helpers ---- */

int64_t cd_extra_i64(const struct cooldown_state *c, const char *key, int64_t def)
{
    json_t *j = json_object_get(c->extra, key);
    return json_is_integer(j) ? (int64_t)json_integer_value(j) : def;
}

void cd_policy_times(const struct cooldown_state *c, int64_t *ttl_s, int64_t *datetime_s)
{
    /* set by cooldown_set_policy at the top level, or by create_tablet under "policy" */
    json_t *p = json_object_get(c->extra, "policy");
    const json_t *src = json_object_get(c->extra, "cooldown_ttl_s") || !json_is_object(p) ? c->extra : p;
    json_t *t = json_object_get(src, "cooldown_ttl_s"), *d = json_object_get(src, "cooldown_datetime_s");
    *ttl_s = json_is_integer(t) ? (int64_t)json_integer_value(t) : 0;
    *datetime_s = json_is_integer(d) ? (int64_t)json_integer_value(d) : 0;
}

void cd_extra_set_i64(struct cooldown_state *c, const char *key, int64_t v)
{
    json_object_set_new(c->extra, key, json_integer((json_int_t)v));
}

/*
 * Records remote rowsets that nv no longer lists (compared with old) as
 * retired now, in nv's extra (persisted), and keeps a reference in memory
 * so the GC sees whether a snapshot still holds them. Drops persisted
 * entries older than the grace (they are plain orphans by then).
 */
void cd_note_retired(struct cooldown *cd, const struct version *old, struct version *nv)
{
    int64_t now = fs_now_ms();
    json_t *ret = json_object_get(nv->cd.extra, "retired");
    json_t *keep = json_object();
    if (json_is_object(ret)) {
        const char *k;
        json_t *v;
        json_object_foreach(ret, k, v)
        {
            if (json_is_integer(v) && json_integer_value(v) + cd->o.gc_grace_ms > now)
                json_object_set(keep, k, v);
        }
    }
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, old->tablet_id);
    for (size_t i = 0; i < old->nrowsets; i++) {
        struct rowset *rs = old->rowsets[i];
        if (rowset_is_local(rs) || version_find_rowset(nv, rs->id) >= 0)
            continue;
        json_object_set_new(keep, rs->id, json_integer((json_int_t)now));
        t->live = xrealloc(t->live, (t->nlive + 1) * sizeof(*t->live));
        t->live[t->nlive++] = rowset_ref(rs);
    }
    pthread_mutex_unlock(&cd->mu);
    json_object_set_new(nv->cd.extra, "retired", keep);
}

/* Number of leading remote rowsets of v. */
size_t cd_remote_prefix(const struct version *v)
{
    size_t k = 0;
    while (k < v->nrowsets && !rowset_is_local(v->rowsets[k]))
        k++;
    return k;
}

static bool is_uploader(const struct version *v, int64_t replica_id)
{
    return v->cd.cooldown_term > 0 && v->cd.cooldown_replica_id > 0 && v->cd.cooldown_replica_id == replica_id;
}

/* ---- remote reads ---- */

struct cd_source {
    struct io_source base;
    struct io_source *inner;
    struct resource *res;
};

static int cds_read(struct io_source *s, uint64_t off, size_t len, void *out, struct err *e)
{
    struct cd_source *c = (struct cd_source *)s;
    return io_source_read_at(c->inner, off, len, out, e);
}

static int cds_prefetch(struct io_source *s, const struct io_range *r, size_t n, struct err *e)
{
    struct cd_source *c = (struct cd_source *)s;
    return io_source_prefetch(c->inner, r, n, e);
}

static void cds_close(struct io_source *s)
{
    struct cd_source *c = (struct cd_source *)s;
    io_source_close(c->inner);
    resource_unref(c->res);
    free(s->name);
    free(c);
}

/* A damaged remote segment is reported, and its cached blocks dropped so a repaired object is read afresh. */
static void cds_damaged(struct io_source *s)
{
    struct cd_source *c = (struct cd_source *)s;
    metrics_inc(cd_metrics.damaged);
    log_warn("remote segment %s of resource %s failed a check; its cached blocks are dropped", s->name,
             c->res->name);
    io_source_damaged(c->inner);
}

static const struct io_source_ops cds_ops = { cds_read, cds_prefetch, cds_close, cds_damaged };

/*
 * The engine has one remote opener per process; it reads through the most
 * recently opened cooldown still open (a BE has one; tests may open two
 * against the same object store).
 */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cooldown **open_list;
static size_t n_open;

static int remote_open(void *ctx, const struct rowset *rs, int seg, struct io_source **ret, struct err *e)
{
    (void)ctx;
    pthread_mutex_lock(&open_mu);
    struct cooldown *cd = n_open ? open_list[n_open - 1] : NULL;
    struct resource *res = cd ? resource_get(cd->res, rs->resource_id, e) : NULL;
    struct file_cache *cache = cd ? cd->cache : NULL;
    pthread_mutex_unlock(&open_mu);
    if (!cd)
        return err_set(e, FLOE_EUNSUPPORTED, "rowset %s lives on resource %s and cooldown is not running", rs->id,
                       rs->resource_id);
    if (!res)
        return FLOE_ENOTFOUND;
    char *key = remote_segment_key(rs->tablet_id, rs->id, seg);
    char *id = xasprintf("%s/%s", rs->resource_id, key);
    struct io_source *in = NULL;
    int r = file_cache_open_source(cache, res->os, id, key, rs->segs[seg].size, &in, e);
    if (r == 0) {
        struct cd_source *c = xcalloc(1, sizeof(*c));
        c->base.ops = &cds_ops;
        c->base.name = xstrdup(key);
        c->base.size = rs->segs[seg].size;
        c->inner = in;
        c->res = res;
        *ret = &c->base;
        res = NULL;
    }
    resource_unref(res);
    free(key);
    free(id);
    return r;
}

/* ---- compaction filter ---- */

static bool compaction_filter(void *ctx, const struct version *v, const struct rowset *rs)
{
    struct cooldown *cd = ctx;
    bool allow = true;
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, v->tablet_id);
    if (cd_strv_has(t->sources, t->nsources, rs->id))
        allow = false; /* being uploaded right now */
    int64_t rep = t->replica_id;
    pthread_mutex_unlock(&cd->mu);
    if (allow && v->cd.storage_policy && v->cd.cooldown_term > 0 && !is_uploader(v, rep)) {
        /* a follower keeps its cold rowsets as loaded so they line up with the uploader's meta */
        int64_t ttl, dt;
        cd_policy_times(&v->cd, &ttl, &dt);
        if (storage_policy_is_cold(ttl, dt, rs->newest_write_ms, fs_now_ms()))
            allow = false;
    }
    return allow;
}

/* ---- conf and policy ---- */

struct conf_arg {
    int64_t replica_id, term;
};

static int conf_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct conf_arg *a = arg;
    const struct version *v = tablet_current(t);
    if (a->term <= v->cd.cooldown_term)
        return err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": cooldown term %" PRId64 " is not higher than %" PRId64,
                       tablet_id(t), a->term, v->cd.cooldown_term);
    int r = FAULT_POINT("cooldown.conf");
    if (r < 0)
        return err_set(e, r, "tablet %" PRId64 ": injected cooldown.conf fault", tablet_id(t));
    struct version *nv = version_copy(v);
    nv->cd.cooldown_replica_id = a->replica_id > 0 ? a->replica_id : -1;
    nv->cd.cooldown_term = a->term;
    r = tablet_install(t, nv, e);
    if (r == 0)
        tlog_info(tablet_id(t), "cooldown conf: replica %" PRId64 " term %" PRId64, a->replica_id, a->term);
    return r;
}

int cooldown_push_conf(struct cooldown *cd, int64_t tablet_id, int64_t cooldown_replica_id, int64_t term,
                       struct err *e)
{
    if (term < 1)
        return err_set(e, FLOE_EBADINPUT, "tablet %" PRId64 ": cooldown term %" PRId64 " must be >= 1", tablet_id, term);
    struct conf_arg a = { cooldown_replica_id, term };
    return engine_tablet_exec(cd->eng, tablet_id, conf_on_worker, &a, e);
}

struct policy_arg {
    const char *policy, *resource;
    int64_t ttl_s, datetime_s;
};

static int policy_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct policy_arg *a = arg;
    const struct version *v = tablet_current(t);
    bool has_remote = cd_remote_prefix(v) > 0;
    if (has_remote && (!a->resource || !v->cd.resource_id || strcmp(a->resource, v->cd.resource_id) != 0))
        return err_set(e, FLOE_EBADSTATE, "tablet %" PRId64 ": has data on resource %s; its resource cannot change",
                       tablet_id(t), v->cd.resource_id ? v->cd.resource_id : "?");
    struct version *nv = version_copy(v);
    free(nv->cd.storage_policy);
    free(nv->cd.resource_id);
    nv->cd.storage_policy = a->policy ? xstrdup(a->policy) : NULL;
    nv->cd.resource_id = a->resource ? xstrdup(a->resource) : NULL;
    cd_extra_set_i64(&nv->cd, "cooldown_ttl_s", a->ttl_s);
    cd_extra_set_i64(&nv->cd, "cooldown_datetime_s", a->datetime_s);
    return tablet_install(t, nv, e);
}

int cooldown_set_policy(struct cooldown *cd, int64_t tablet_id, const char *policy, const char *resource,
                        int64_t ttl_s, int64_t datetime_s, struct err *e)
{
    if ((policy && !*policy) || (resource && !*resource) || (!policy) != (!resource))
        return err_set(e, FLOE_EBADINPUT, "tablet %" PRId64 ": a storage policy needs both a name and a resource",
                       tablet_id);
    if (ttl_s < 0 || datetime_s < 0)
        return err_set(e, FLOE_EBADINPUT, "tablet %" PRId64 ": cooldown_ttl_s / cooldown_datetime_s must be >= 0",
                       tablet_id);
    struct policy_arg a = { policy, resource, ttl_s, datetime_s };
    return engine_tablet_exec(cd->eng, tablet_id, policy_on_worker, &a, e);
}

/* ---- snapshots of state taken on the worker ---- */

static int snap_on_worker(struct tablet *t, void *arg, struct err *e)
{
    (void)e;
    struct cd_snap *s = arg;
    s->v = version_ref((struct version *)tablet_current(t));
    s->replica_id = tablet_replica_id(t);
    return 0;
}

int cd_snap(struct cooldown *cd, int64_t tablet_id, struct cd_snap *s, struct err *e)
{
    memset(s, 0, sizeof(*s));
    int r = engine_tablet_exec(cd->eng, tablet_id, snap_on_worker, s, e);
    if (r < 0)
        return r;
    pthread_mutex_lock(&cd->mu);
    cd_tablet_get(cd, tablet_id)->replica_id = s->replica_id;
    pthread_mutex_unlock(&cd->mu);
    if (s->v->cd.resource_id) {
        s->res = resource_get(cd->res, s->v->cd.resource_id, NULL);
    }
    return 0;
}

void cd_snap_release(struct cd_snap *s)
{
    version_unref(s->v);
    resource_unref(s->res);
    memset(s, 0, sizeof(*s));
}

/* ---- adopting a remote meta ---- */

/*
 * Builds the version that follows meta m from v: rowsets up to m's
 * cooldowned_version are replaced by m's. FLOE_ENOTALIGNED when no local
 * rowset ends there; FLOE_EBADSTATE when v holds remote rowsets beyond m
 * (adopting would drop them).
 */
static int build_adopted(const struct version *v, const struct remote_meta *m, struct version **ret, struct err *e)
{
    *ret = NULL;
    int64_t M = m->cooldowned_version;
    for (size_t i = 0; i < v->nrowsets; i++)
        if (!rowset_is_local(v->rowsets[i]) && v->rowsets[i]->end > M &&
            !(i < m->nrowsets && strcmp(v->rowsets[i]->id, m->rowsets[i]->id) == 0))
            return err_set(e, FLOE_EBADSTATE,
                           "tablet %" PRId64 ": remote meta %s ends at version %" PRId64
                           " but this replica holds remote rowset %s up to %" PRId64 "; refusing to drop it",
                           v->tablet_id, m->cooldown_meta_id, M, v->rowsets[i]->id, v->rowsets[i]->end);
    if (M > v->max_version)
        return err_set(e, FLOE_ENOTALIGNED, "tablet %" PRId64 ": remote meta reaches version %" PRId64
                       ", this replica only has %" PRId64, v->tablet_id, M, v->max_version);
    ssize_t j = -1;
    if (M >= 0) {
        for (size_t i = 0; i < v->nrowsets; i++)
            if (v->rowsets[i]->end == M)
                j = (ssize_t)i;
        if (j < 0)
            return err_set(e, FLOE_ENOTALIGNED,
                           "tablet %" PRId64 ": remote meta ends at version %" PRId64 ", inside a local rowset",
                           v->tablet_id, M);
    }
    struct version *nv = version_copy(v);
    version_replace_rowsets(nv, 0, (size_t)(j + 1), m->rowsets, m->nrowsets);
    snprintf(nv->cd.cooldown_meta_id, sizeof(nv->cd.cooldown_meta_id), "%s", m->cooldown_meta_id);
    nv->cd.cooldowned_version = M;
    *ret = nv;
    return 0;
}

struct adopt_arg {
    struct cooldown *cd;
    const struct remote_meta *m;
    int64_t term, uploader;      /* conf the meta was fetched under */
    bool as_uploader;            /* also mark published_term = term */
    bool changed;
};

static int adopt_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct adopt_arg *a = arg;
    const struct version *v = tablet_current(t);
    if (v->cd.cooldown_term != a->term || v->cd.cooldown_replica_id != a->uploader)
        return err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": cooldown conf changed while following", tablet_id(t));
    if (strcmp(v->cd.cooldown_meta_id, a->m->cooldown_meta_id) == 0)
        return 0;
    struct version *nv;
    int r = build_adopted(v, a->m, &nv, e);
    if (r < 0)
        return r;
    if ((r = FAULT_POINT(a->as_uploader ? "cooldown.adopt" : "cooldown.follow")) < 0) {
        version_unref(nv);
        return err_set(e, r, "tablet %" PRId64 ": injected fault before adopting", tablet_id(t));
    }
    cd_note_retired(a->cd, v, nv);
    if ((r = tablet_install(t, nv, e)) < 0)
        return r;
    a->changed = true;
    tlog_info(tablet_id(t), "adopted remote meta %s of replica %" PRId64 " term %" PRId64 " up to version %" PRId64,
              a->m->cooldown_meta_id, a->m->replica_id, a->m->term, a->m->cooldowned_version);
    if (!a->as_uploader && (r = FAULT_POINT("cooldown.follow.after_swap")) < 0)
        return err_set(e, r, "tablet %" PRId64 ": injected fault after adopting", tablet_id(t));
    return 0;
}

/* Fetches and decodes a meta; FLOE_ENOTFOUND when it does not exist. */
static int fetch_meta(struct resource *res, const char *key, int64_t tablet_id, struct remote_meta *m,
                      struct err *e)
{
    struct buf b = BUF_INIT;
    int r = objstore_get_cond(res->os, key, NULL, &b, NULL, e);
    if (r == 0)
        r = remote_meta_decode(buf_cstr(&b), b.len, key, tablet_id, res->name, m, e);
    buf_release(&b);
    return r;
}

/* ---- follower ---- */

static int follow(struct cooldown *cd, int64_t tid, struct cd_snap *s, enum cooldown_action *act, struct err *e)
{
    const struct cooldown_state *c = &s->v->cd;
    char *key = remote_meta_key(tid, c->cooldown_replica_id, c->cooldown_term);
    char etag[OBJSTORE_ETAG_MAX] = "";
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    if (strcmp(t->etag_key, key) == 0)
        snprintf(etag, sizeof(etag), "%s", t->etag);
    pthread_mutex_unlock(&cd->mu);
    struct buf b = BUF_INIT;
    struct objstore_info info;
    struct remote_meta m;
    remote_meta_init(&m);
    int r = objstore_get_cond(s->res->os, key, etag[0] ? etag : NULL, &b, &info, e);
    if (r == OBJSTORE_NOT_MODIFIED) {
        metrics_inc(cd_metrics.not_modified);
        pthread_mutex_lock(&cd->mu);
        cd->st.follows_not_modified++;
        t = cd_tablet_get(cd, tid);
        buf_reset(&b);
        buf_append(&b, t->body.data, t->body.len);
        pthread_mutex_unlock(&cd->mu);
        r = 0;
    } else if (r == FLOE_ENOTFOUND) {
        r = 0; /* the uploader has not published under this term yet */
        goto out;
    } else if (r < 0) {
        goto out;
    } else {
        pthread_mutex_lock(&cd->mu);
        t = cd_tablet_get(cd, tid);
        snprintf(t->etag_key, sizeof(t->etag_key), "%s", key);
        snprintf(t->etag, sizeof(t->etag), "%s", info.etag);
        buf_reset(&t->body);
        buf_append(&t->body, b.data, b.len);
        pthread_mutex_unlock(&cd->mu);
    }
    if (b.len == 0)
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: empty object (a meta is never empty)", key);
    if (r < 0 || (r = remote_meta_decode(buf_cstr(&b), b.len, key, tid, s->res->name, &m, e)) < 0) {
        pthread_mutex_lock(&cd->mu);
        cd_tablet_get(cd, tid)->etag_key[0] = 0;
        pthread_mutex_unlock(&cd->mu);
        goto out;
    }
    if (m.term != c->cooldown_term || m.replica_id != c->cooldown_replica_id) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: written by replica %" PRId64 " term %" PRId64, key,
                    m.replica_id, m.term);
        goto out;
    }
    if (strcmp(m.cooldown_meta_id, c->cooldown_meta_id) == 0)
        goto out;
    struct adopt_arg a = { cd, &m, c->cooldown_term, c->cooldown_replica_id, false, false };
    r = engine_tablet_exec(cd->eng, tid, adopt_on_worker, &a, e);
    if (r == FLOE_ENOTALIGNED) {
        *act = COOLDOWN_WAITING;
        r = 0;
    } else if (r == FLOE_EBADSTATE) {
        metrics_inc(cd_metrics.refused);
        pthread_mutex_lock(&cd->mu);
        cd->st.follows_refused++;
        pthread_mutex_unlock(&cd->mu);
    } else if (r == 0 && a.changed) {
        *act = COOLDOWN_ADOPTED;
        metrics_inc(cd_metrics.adopted);
        pthread_mutex_lock(&cd->mu);
        cd->st.follows_adopted++;
        pthread_mutex_unlock(&cd->mu);
    }
out:
    remote_meta_release(&m);
    buf_release(&b);
    free(key);
    return r;
}

/* ---- uploader ---- */

/* Writes the remote meta of this replica/term listing rowsets; fresh meta id into ret_id. */
static int write_meta(struct resource *res, int64_t tid, int64_t replica, int64_t term, struct rowset *const *rs,
                      size_t n, char ret_id[UUID_STR_LEN], struct err *e)
{
    struct remote_meta m;
    remote_meta_init(&m);
    m.tablet_id = tid;
    m.replica_id = replica;
    m.term = term;
    int r = uuid_new_str(m.cooldown_meta_id);
    if (r < 0)
        return err_errno(e, -r, "uuid");
    for (size_t i = 0; i < n; i++)
        remote_meta_add_rowset(&m, rs[i]);
    struct buf b = BUF_INIT;
    char *key = remote_meta_key(tid, replica, term);
    if ((r = remote_meta_encode(&m, &b, e)) == 0 && (r = FAULT_POINT("cooldown.meta_write")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected fault writing %s", tid, key);
    if (r == 0)
        r = objstore_put(res->os, key, b.data, b.len, e);
    if (r == 0) {
        memcpy(ret_id, m.cooldown_meta_id, UUID_STR_LEN);
        metrics_inc(cd_metrics.metas);
    }
    free(key);
    buf_release(&b);
    remote_meta_release(&m);
    return r;
}


/*
 * On the worker: checks term/meta/rowsets unchanged, writes the remote meta
 * (remote prefix with the replacement), then installs the local meta.
 */
int cd_publish_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct publish_arg *a = arg;
    const struct version *v = tablet_current(t);
    int64_t tid = tablet_id(t);
    if (v->cd.cooldown_term != a->term || !is_uploader(v, tablet_replica_id(t)))
        return err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": term %" PRId64 " is no longer this replica's; not publishing",
                       tid, a->term);
    if (strcmp(v->cd.cooldown_meta_id, a->expect_meta_id) != 0)
        return err_set(e, FLOE_EBUSY, "tablet %" PRId64 ": remote meta changed meanwhile", tid);
    if (a->from + a->n > v->nrowsets)
        return err_set(e, FLOE_EBUSY, "tablet %" PRId64 ": rowsets changed meanwhile", tid);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(v->rowsets[a->from + i]->id, a->src_ids[i]) != 0)
            return err_set(e, FLOE_EBUSY, "tablet %" PRId64 ": rowsets changed meanwhile", tid);
    struct version *nv = version_copy(v);
    version_replace_rowsets(nv, a->from, a->n, a->with, a->nwith);
    size_t k = cd_remote_prefix(nv);
    int r = version_check(nv, e);
    char mid[UUID_STR_LEN];
    if (r == 0) {
        a->meta_attempted = true;
        r = write_meta(a->res, tid, tablet_replica_id(t), a->term, nv->rowsets, k, mid, e);
    }
    if (r == 0 && a->fault_after_meta && (r = FAULT_POINT(a->fault_after_meta)) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected fault %s", tid, a->fault_after_meta);
    if (r == 0 && (r = FAULT_POINT("cooldown.local_swap")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.local_swap fault", tid);
    if (r < 0) {
        version_unref(nv);
        return r;
    }
    memcpy(nv->cd.cooldown_meta_id, mid, UUID_STR_LEN);
    nv->cd.cooldowned_version = k ? nv->rowsets[k - 1]->end : -1;
    cooldown_state_set_intents(&nv->cd, NULL, 0);
    if (a->mark_published)
        cd_extra_set_i64(&nv->cd, "published_term", a->term);
    cd_note_retired(a->cd, v, nv);
    pthread_mutex_lock(&a->cd->mu);
    a->cd->st.metas_written++;
    pthread_mutex_unlock(&a->cd->mu);
    return tablet_install(t, nv, e);
}

struct intent_arg {
    int64_t term;
    char (*ids)[UUID_STR_LEN];
    size_t n;
    bool clear_only;         /* drop these intents instead of setting them */
};

static int intent_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct intent_arg *a = arg;
    const struct version *v = tablet_current(t);
    if (!a->clear_only && (v->cd.cooldown_term != a->term || !is_uploader(v, tablet_replica_id(t))))
        return err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": term changed before upload", tablet_id(t));
    int r = FAULT_POINT("cooldown.intent");
    if (!a->clear_only && r < 0)
        return err_set(e, r, "tablet %" PRId64 ": injected cooldown.intent fault", tablet_id(t));
    struct version *nv = version_copy(v);
    const char **ids = xcalloc(v->cd.n_upload_intents + a->n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < v->cd.n_upload_intents; i++) {
        bool drop = false;
        for (size_t j = 0; j < a->n && a->clear_only; j++)
            drop |= strcmp(v->cd.upload_intents[i], a->ids[j]) == 0;
        if (!drop)
            ids[k++] = v->cd.upload_intents[i];
    }
    if (!a->clear_only)
        for (size_t j = 0; j < a->n; j++)
            ids[k++] = a->ids[j];
    cooldown_state_set_intents(&nv->cd, ids, k);
    free(ids);
    return tablet_install(t, nv, e);
}

struct up_job {
    struct objstore *os;
    char *key, *path;
    uint64_t size;
    int r;
    struct err e;
    struct up_group *g;
};

struct up_group {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t left;
};

static void up_main(void *arg)
{
    struct up_job *j = arg;
    j->r = FAULT_POINT("cooldown.upload");
    if (j->r < 0)
        err_set(&j->e, j->r, "injected cooldown.upload fault for %s", j->key);
    else
        j->r = objstore_put_file(j->os, j->key, j->path, &j->e);
    pthread_mutex_lock(&j->g->mu);
    if (--j->g->left == 0)
        pthread_cond_broadcast(&j->g->cond);
    pthread_mutex_unlock(&j->g->mu);
}

/* Uploads files in parallel; on any failure deletes every key it was given. */
int cd_upload_files(struct cooldown *cd, struct objstore *os, char **keys, char **paths, const uint64_t *sizes,
                    size_t n, struct err *e)
{
    if (n == 0)
        return 0;
    struct up_group g;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cond, NULL);
    g.left = n;
    struct up_job *jobs = xcalloc(n, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (struct up_job){ .os = os, .key = keys[i], .path = paths[i], .size = sizes[i], .g = &g };
        if (tpool_submit(cd->up_pool, up_main, &jobs[i]) < 0) {
            jobs[i].r = err_set(&jobs[i].e, FLOE_ESHUTDOWN, "upload pool is shutting down");
            pthread_mutex_lock(&g.mu);
            g.left--;
            pthread_mutex_unlock(&g.mu);
        }
    }
    pthread_mutex_lock(&g.mu);
    while (g.left > 0)
        pthread_cond_wait(&g.cond, &g.mu);
    pthread_mutex_unlock(&g.mu);
    int r = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].r < 0 && r == 0) {
            r = jobs[i].r;
            err_set(e, r, "%s", err_msg(&jobs[i].e));
        }
        if (jobs[i].r == 0)
            bytes += sizes[i];
    }
    if (r < 0) {
        struct err de = { 0 };
        if (objstore_delete_many(os, (const char *const *)keys, n, NULL, &de) < 0)
            log_warn("cleanup after failed upload: %s (left for remote GC)", err_msg(&de));
        metrics_inc(cd_metrics.up_fail);
        pthread_mutex_lock(&cd->mu);
        cd->st.upload_failures++;
        pthread_mutex_unlock(&cd->mu);
    } else {
        metrics_add(cd_metrics.up_bytes, (int64_t)bytes);
        metrics_add(cd_metrics.up_objects, (int64_t)n);
        pthread_mutex_lock(&cd->mu);
        cd->st.uploaded_bytes += bytes;
        cd->st.uploaded_objects += n;
        pthread_mutex_unlock(&cd->mu);
    }
    free(jobs);
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.mu);
    return r;
}

/* ---- re-cut: a new uploader that does not line up with the earlier meta ---- */

static bool meta_has(const struct remote_meta *m, const char *id)
{
    for (size_t i = 0; i < m->nrowsets; i++)
        if (strcmp(m->rowsets[i]->id, id) == 0)
            return true;
    return false;
}

/* True when every segment object of rs is in the listing l (sorted by key). */
static bool listed(const struct objstore_list *l, const struct rowset *rs, char **ret_missing)
{
    for (int sg = 0; sg < rs->nsegs; sg++) {
        char *key = remote_segment_key(rs->tablet_id, rs->id, sg);
        size_t lo = 0, hi = l->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(l->entries[mid].key, key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == l->n || strcmp(l->entries[lo].key, key) != 0) {
            *ret_missing = key;
            return false;
        }
        free(key);
    }
    return true;
}

/*
 * Builds the re-cut version of v against meta m (which v cannot adopt as
 * is): the longest prefix m->rowsets[0..p) whose end E is a rowset
 * boundary of v (E = -1 for p = 0), followed by v's own rowsets above E
 * (local ones, and remote ones this replica already references). m's
 * rowsets above the cut are left out; ret_cut gets their ids (caller
 * frees the array). Only when v holds every version m covers
 * (v->max_version >= M): otherwise the versions above the cut exist only
 * remotely and cutting would lose them, so it is FLOE_ENOTALIGNED (wait).
 * Every remote rowset of the result must be listed in l (FLOE_ECORRUPT
 * naming the missing object otherwise).
 */
static int build_recut(const struct version *v, const struct remote_meta *m, const struct objstore_list *l,
                       struct version **ret, size_t *ret_p, char (**ret_cut)[UUID_STR_LEN], size_t *ret_ncut,
                       struct err *e)
{
    *ret = NULL;
    *ret_p = 0;
    *ret_cut = NULL;
    *ret_ncut = 0;
    int64_t M = m->cooldowned_version;
    if (M > v->max_version)
        return err_set(e, FLOE_ENOTALIGNED,
                       "tablet %" PRId64 ": remote meta %s of replica %" PRId64 " term %" PRId64
                       " reaches version %" PRId64 ", this replica only has %" PRId64
                       "; it cannot re-cut versions it does not hold and waits for them",
                       v->tablet_id, m->cooldown_meta_id, m->replica_id, m->term, M, v->max_version);
    /* j: index of v's rowset ending at E (-1 when the cut is before version 0) */
    size_t p = m->nrowsets;
    ssize_t j = -1;
    for (; p > 0; p--) {
        int64_t E = m->rowsets[p - 1]->end;
        for (size_t i = 0; i < v->nrowsets && j < 0; i++)
            if (v->rowsets[i]->end == E)
                j = (ssize_t)i;
        if (j >= 0)
            break;
    }
    struct version *nv = version_copy(v);
    version_replace_rowsets(nv, 0, (size_t)(j + 1), m->rowsets, p);
    int r = version_check(nv, e);
    for (size_t i = 0; r == 0 && i < nv->nrowsets && !rowset_is_local(nv->rowsets[i]); i++) {
        char *missing = NULL;
        if (!listed(l, nv->rowsets[i], &missing)) {
            r = err_set(e, FLOE_ECORRUPT,
                        "tablet %" PRId64 ": re-cut would reference %s (rowset %s, versions [%" PRId64 ",%" PRId64
                        "]), which does not exist; not publishing",
                        v->tablet_id, missing, nv->rowsets[i]->id, nv->rowsets[i]->start, nv->rowsets[i]->end);
            free(missing);
        }
    }
    if (r < 0) {
        version_unref(nv);
        return r;
    }
    if (p < m->nrowsets) {
        *ret_cut = xcalloc(m->nrowsets - p, sizeof(**ret_cut));
        for (size_t i = p; i < m->nrowsets; i++)
            if (version_find_rowset(nv, m->rowsets[i]->id) < 0)
                memcpy((*ret_cut)[(*ret_ncut)++], m->rowsets[i]->id, UUID_STR_LEN);
    }
    *ret = nv;
    *ret_p = p;
    return 0;
}

struct recut_arg {
    struct cooldown *cd;
    struct resource *res;
    const struct remote_meta *m;
    const struct objstore_list *l;
    int64_t term;
    const char *expect_meta_id;  /* the meta id the step saw (the adopt it tried was refused) */
    size_t p;                    /* out: rowsets of m kept */
    size_t ncut;                 /* out: rowsets of m left out */
    int64_t cut_at;              /* out: end of the kept prefix */
    bool meta_attempted;         /* out: the meta PUT was issued */
};

/*
 * On the worker: re-cut and publish in one go. Writes this replica's meta
 * for the term listing the re-cut remote prefix, then installs it locally
 * as published. A crash before the local install leaves the meta of this
 * term written and published_term unset: the next step redoes the sync
 * (or, after a restart, adopts that meta) — never a reference to a
 * missing object, since the meta only lists objects that exist.
 */
static int recut_on_worker(struct tablet *t, void *arg, struct err *e)
{
    struct recut_arg *a = arg;
    const struct version *v = tablet_current(t);
    int64_t tid = tablet_id(t);
    if (v->cd.cooldown_term != a->term || !is_uploader(v, tablet_replica_id(t)))
        return err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": term %" PRId64 " is no longer this replica's; not re-cutting",
                       tid, a->term);
    if (strcmp(v->cd.cooldown_meta_id, a->expect_meta_id) != 0)
        return err_set(e, FLOE_EBUSY, "tablet %" PRId64 ": remote meta changed meanwhile", tid);
    struct version *nv;
    char(*cut)[UUID_STR_LEN] = NULL;
    size_t ncut = 0;
    int r = build_recut(v, a->m, a->l, &nv, &a->p, &cut, &ncut, e);
    if (r < 0)
        return r;
    a->ncut = ncut;
    a->cut_at = a->p ? a->m->rowsets[a->p - 1]->end : -1;
    size_t k = cd_remote_prefix(nv);
    char mid[UUID_STR_LEN];
    if ((r = FAULT_POINT("cooldown.recut")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.recut fault", tid);
    if (r == 0) {
        a->meta_attempted = true;
        r = write_meta(a->res, tid, tablet_replica_id(t), a->term, nv->rowsets, k, mid, e);
    }
    if (r == 0 && (r = FAULT_POINT("cooldown.recut.after_meta_write")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.recut.after_meta_write fault", tid);
    if (r < 0) {
        free(cut);
        version_unref(nv);
        return r;
    }
    memcpy(nv->cd.cooldown_meta_id, mid, UUID_STR_LEN);
    nv->cd.cooldowned_version = k ? nv->rowsets[k - 1]->end : -1;
    cd_extra_set_i64(&nv->cd, "published_term", a->term);
    cd_note_retired(a->cd, v, nv);
    /* the earlier meta's rowsets above the cut: retired now, so followers' scans get the grace */
    json_t *ret = json_object_get(nv->cd.extra, "retired");
    int64_t now = fs_now_ms();
    for (size_t i = 0; i < ncut && json_is_object(ret); i++)
        json_object_set_new(ret, cut[i], json_integer((json_int_t)now));
    free(cut);
    pthread_mutex_lock(&a->cd->mu);
    a->cd->st.metas_written++;
    pthread_mutex_unlock(&a->cd->mu);
    return tablet_install(t, nv, e);
}

/*
 * The uploader cannot adopt meta m as is: list the tablet's objects, then
 * re-cut and publish on the worker (recut_on_worker). FLOE_ENOTALIGNED when
 * this replica lacks versions m covers (it waits for them).
 */
static int recut(struct cooldown *cd, int64_t tid, struct cd_snap *s, const struct remote_meta *m,
                 enum cooldown_action *act, struct err *e)
{
    const struct cooldown_state *c = &s->v->cd;
    char *pre = remote_tablet_prefix(tid);
    struct objstore_list l = { 0 };
    int r = objstore_list(s->res->os, pre, &l, e);
    free(pre);
    if (r < 0)
        return r;
    struct recut_arg ra = { .cd = cd, .res = s->res, .m = m, .l = &l, .term = c->cooldown_term,
                            .expect_meta_id = c->cooldown_meta_id };
    r = engine_tablet_exec(cd->eng, tid, recut_on_worker, &ra, e);
    objstore_list_release(&l);
    if (r < 0) {
        if (ra.meta_attempted) {
            pthread_mutex_lock(&cd->mu);
            cd_tablet_get(cd, tid)->recovered = false;
            pthread_mutex_unlock(&cd->mu);
        }
        return r;
    }
    *act = COOLDOWN_PUBLISHED;
    metrics_inc(cd_metrics.recuts);
    pthread_mutex_lock(&cd->mu);
    cd->st.recuts++;
    pthread_mutex_unlock(&cd->mu);
    tlog_info(tid, "re-cut remote meta %s of replica %" PRId64 " term %" PRId64 " (up to version %" PRId64
              ") at version %" PRId64 ": kept %zu of its rowsets, %zu left for remote GC; published term %" PRId64,
              m->cooldown_meta_id, m->replica_id, m->term, m->cooldowned_version, ra.cut_at, ra.p, ra.ncut,
              c->cooldown_term);
    return 0;
}

/*
 * Restart recovery and new-term sync of the uploader. When this replica
 * has not published under the current term: adopt the newest meta of an
 * earlier term (any replica), then publish its own. On the first step after
 * a start: re-read its own meta of the current term (a crash may have
 * happened between writing it and the local swap) and adopt it, then drop
 * upload intents: objects no meta references are deleted. A meta that does
 * not line up (or would drop remote rowsets this replica holds) is re-cut
 * and published in one go (recut); a replica lacking versions it covers
 * waits (COOLDOWN_WAITING) and uploads nothing under the term.
 */
static int uploader_sync(struct cooldown *cd, int64_t tid, struct cd_snap *s, enum cooldown_action *act,
                         struct err *e)
{
    const struct cooldown_state *c = &s->v->cd;
    int64_t T = c->cooldown_term, R = s->replica_id;
    int64_t published = cd_extra_i64(c, "published_term", 0);
    pthread_mutex_lock(&cd->mu);
    bool recovered = cd_tablet_get(cd, tid)->recovered;
    pthread_mutex_unlock(&cd->mu);
    int r = 0;
    struct remote_meta m;
    remote_meta_init(&m);
    if (published != T || !recovered) {
        char *key = NULL;
        if (published == T) {
            key = remote_meta_key(tid, R, T);
        } else {
            /* newest meta of an earlier term */
            char *pre = remote_tablet_prefix(tid);
            struct objstore_list l = { 0 };
            r = objstore_list(s->res->os, pre, &l, e);
            free(pre);
            if (r < 0)
                return r;
            int64_t best = 0, best_rep = -1;
            for (size_t i = 0; i < l.n; i++) {
                int64_t rep, term;
                if (remote_key_parse(l.entries[i].key, tid, NULL, NULL, &rep, &term) == REMOTE_KEY_META &&
                    term < T && term > best) {
                    best = term;
                    best_rep = rep;
                }
            }
            objstore_list_release(&l);
            if (best > 0)
                key = remote_meta_key(tid, best_rep, best);
        }
        if (key) {
            r = fetch_meta(s->res, key, tid, &m, e);
            free(key);
            if (r == FLOE_ENOTFOUND) {
                r = 0;
            } else if (r < 0) {
                goto out;
            } else if (strcmp(m.cooldown_meta_id, c->cooldown_meta_id) != 0) {
                struct adopt_arg a = { cd, &m, T, c->cooldown_replica_id, true, false };
                r = engine_tablet_exec(cd->eng, tid, adopt_on_worker, &a, e);
                if (r == FLOE_ENOTALIGNED || r == FLOE_EBADSTATE) {
                    /* misaligned (own compaction across M) or holding remote rowsets beyond M: re-cut */
                    tlog_info(tid, "%s; re-cutting under term %" PRId64, err_msg(e), T);
                    err_clear(e);
                    r = recut(cd, tid, s, &m, act, e);
                    if (r == FLOE_ENOTALIGNED) {
                        tlog_warn(tid, "%s; not uploading under term %" PRId64 " yet", err_msg(e), T);
                        *act = COOLDOWN_WAITING;
                        r = 0;
                        goto out;
                    }
                }
                if (r < 0)
                    goto out;
                if (a.changed)
                    *act = COOLDOWN_ADOPTED;
            }
        }
        /* re-read the state after a possible adoption */
        cd_snap_release(s);
        if ((r = cd_snap(cd, tid, s, e)) < 0)
            goto out;
        c = &s->v->cd;
        if (c->cooldown_term != T || !s->res) {
            r = err_set(e, FLOE_ESTALE_TERM, "tablet %" PRId64 ": term changed during sync", tid);
            goto out;
        }
    }
    if (c->n_upload_intents > 0) {
        /* intents of a crashed upload: their objects are referenced by no meta (the own meta was adopted above) */
        char *pre = remote_tablet_prefix(tid);
        struct objstore_list l = { 0 };
        r = objstore_list(s->res->os, pre, &l, e);
        free(pre);
        if (r < 0)
            goto out;
        char **del = xcalloc(l.n + 1, sizeof(char *));
        size_t nd = 0;
        for (size_t i = 0; i < l.n; i++) {
            char id[UUID_STR_LEN];
            int seg;
            if (remote_key_parse(l.entries[i].key, tid, id, &seg, NULL, NULL) == REMOTE_KEY_SEGMENT &&
                cd_strv_has(c->upload_intents, c->n_upload_intents, id) && version_find_rowset(s->v, id) < 0 &&
                !meta_has(&m, id))
                del[nd++] = l.entries[i].key; /* a re-cut meta's rowsets may be held by followers: GC's */
        }
        if (nd)
            r = objstore_delete_many(s->res->os, (const char *const *)del, nd, NULL, e);
        free(del);
        objstore_list_release(&l);
        if (r < 0)
            goto out;
        struct intent_arg ia = { T, NULL, c->n_upload_intents, true };
        ia.ids = xcalloc(c->n_upload_intents, sizeof(*ia.ids));
        for (size_t i = 0; i < c->n_upload_intents; i++)
            snprintf(ia.ids[i], UUID_STR_LEN, "%s", c->upload_intents[i]);
        r = engine_tablet_exec(cd->eng, tid, intent_on_worker, &ia, e);
        free(ia.ids);
        if (r < 0)
            goto out;
        tlog_info(tid, "cleaned %zu objects of an interrupted upload", nd);
        cd_snap_release(s);
        if ((r = cd_snap(cd, tid, s, e)) < 0)
            goto out;
        c = &s->v->cd;
    }
    if (cd_extra_i64(c, "published_term", 0) != T) {
        /* publish this replica's meta for the new term: the same remote rowsets under a fresh id */
        struct publish_arg pa = { .cd = cd, .res = s->res, .term = T, .expect_meta_id = c->cooldown_meta_id,
                                  .mark_published = true };
        r = engine_tablet_exec(cd->eng, tid, cd_publish_on_worker, &pa, e);
        if (r < 0)
            goto out;
        *act = COOLDOWN_PUBLISHED;
        tlog_info(tid, "published remote meta for term %" PRId64, T);
        cd_snap_release(s);
        if ((r = cd_snap(cd, tid, s, e)) < 0)
            goto out;
    }
    pthread_mutex_lock(&cd->mu);
    cd_tablet_get(cd, tid)->recovered = true;
    pthread_mutex_unlock(&cd->mu);
out:
    remote_meta_release(&m);
    return r;
}

static int upload_cold(struct cooldown *cd, int64_t tid, struct cd_snap *s, enum cooldown_action *act,
                       struct err *e)
{
    const struct version *v = s->v;
    const struct cooldown_state *c = &v->cd;
    int64_t ttl, dt;
    cd_policy_times(c, &ttl, &dt);
    int64_t now = fs_now_ms();
    size_t from = cd_remote_prefix(v), n = 0;
    while (from + n < v->nrowsets && rowset_is_local(v->rowsets[from + n]) &&
           storage_policy_is_cold(ttl, dt, v->rowsets[from + n]->newest_write_ms, now))
        n++;
    if (n == 0)
        return 0;
    int r = 0;
    char(*src)[UUID_STR_LEN] = xcalloc(n, sizeof(*src));
    char(*ids)[UUID_STR_LEN] = xcalloc(n, sizeof(*ids));
    struct rowset **with = xcalloc(n, sizeof(*with));
    size_t nfiles = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(src[i], v->rowsets[from + i]->id, UUID_STR_LEN);
        if ((r = uuid_new_str(ids[i])) < 0) {
            err_errno(e, -r, "uuid");
            goto out_free;
        }
        nfiles += (size_t)v->rowsets[from + i]->nsegs;
    }
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    for (size_t i = 0; i < n; i++) {
        strv_add(&t->pending, &t->npending, ids[i]);
        strv_add(&t->sources, &t->nsources, src[i]);
    }
    pthread_mutex_unlock(&cd->mu);
    struct intent_arg ia = { c->cooldown_term, ids, n, false };
    char **keys = xcalloc(nfiles + 1, sizeof(char *)), **paths = xcalloc(nfiles + 1, sizeof(char *));
    uint64_t *sizes = xcalloc(nfiles + 1, sizeof(uint64_t));
    size_t k = 0;
    if ((r = engine_tablet_exec(cd->eng, tid, intent_on_worker, &ia, e)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct rowset *rs = v->rowsets[from + i];
        for (int sg = 0; sg < rs->nsegs; sg++) {
            keys[k] = remote_segment_key(tid, ids[i], sg);
            paths[k] = rowset_segment_path(rs, sg);
            sizes[k] = rs->segs[sg].size;
            k++;
        }
        with[i] = rowset_new(ids[i], tid, rs->start, rs->end, rs->segs, rs->nsegs, rs->newest_write_ms,
                             s->res->name, NULL);
    }
    bool meta_attempted = false;
    r = cd_upload_files(cd, s->res->os, keys, paths, sizes, k, e);
    if (r == 0 && (r = FAULT_POINT("cooldown.after_upload")) < 0)
        err_set(e, r, "tablet %" PRId64 ": injected cooldown.after_upload fault", tid);
    if (r == 0) {
        struct publish_arg pa = { .cd = cd, .res = s->res, .term = c->cooldown_term,
                                  .expect_meta_id = c->cooldown_meta_id, .from = from, .n = n, .src_ids = src,
                                  .with = with, .nwith = n, .fault_after_meta = "cooldown.after_meta_write" };
        r = engine_tablet_exec(cd->eng, tid, cd_publish_on_worker, &pa, e);
        meta_attempted = pa.meta_attempted;
    }
    if (r < 0 && meta_attempted) {
        /* the meta may be visible although the call failed: keep objects and intents, resync next step */
        pthread_mutex_lock(&cd->mu);
        cd_tablet_get(cd, tid)->recovered = false;
        pthread_mutex_unlock(&cd->mu);
    } else if (r < 0) {
        /* never published: the objects are nobody's */
        struct err de = { 0 }, ie = { 0 };
        if (k && objstore_delete_many(s->res->os, (const char *const *)keys, k, NULL, &de) < 0)
            tlog_warn(tid, "cleanup of unpublished upload: %s (left for remote GC)", err_msg(&de));
        struct intent_arg ca = { c->cooldown_term, ids, n, true };
        if (engine_tablet_exec(cd->eng, tid, intent_on_worker, &ca, &ie) < 0)
            tlog_warn(tid, "clearing upload intents: %s (cleaned at the next start)", err_msg(&ie));
    } else {
        *act = COOLDOWN_UPLOADED;
        uint64_t bytes = 0;
        for (size_t i = 0; i < k; i++)
            bytes += sizes[i];
        tlog_info(tid, "cooled down %zu rowsets [%" PRId64 ",%" PRId64 "], %zu objects, %" PRIu64 " bytes", n,
                  v->rowsets[from]->start, v->rowsets[from + n - 1]->end, k, bytes);
        if ((r = FAULT_POINT("cooldown.after_swap")) < 0)
            err_set(e, r, "tablet %" PRId64 ": injected cooldown.after_swap fault", tid);
    }
out:
    pthread_mutex_lock(&cd->mu);
    t = cd_tablet_get(cd, tid);
    for (size_t i = 0; i < n; i++) {
        strv_del(&t->pending, &t->npending, ids[i]);
        strv_del(&t->sources, &t->nsources, src[i]);
    }
    pthread_mutex_unlock(&cd->mu);
    for (size_t i = 0; i < k; i++) {
        free(keys[i]);
        free(paths[i]);
    }
    free(keys);
    free(paths);
    free(sizes);
out_free:
    for (size_t i = 0; i < n; i++)
        rowset_unref(with[i]);
    free(with);
    free(src);
    free(ids);
    return r;
}

int cooldown_tablet_step(struct cooldown *cd, int64_t tid, enum cooldown_action *ret_action, struct err *e)
{
    enum cooldown_action act = COOLDOWN_NONE;
    struct cd_snap s;
    cd_step_lock(cd, tid);
    int r = cd_snap(cd, tid, &s, e);
    if (r < 0)
        goto out_unlock;
    const struct cooldown_state *c = &s.v->cd;
    if (!c->storage_policy || !c->resource_id || c->cooldown_term <= 0 || c->cooldown_replica_id <= 0)
        goto out;
    if (!s.res) {
        r = err_set(e, FLOE_ENOTFOUND, "tablet %" PRId64 ": resource %s is not known on this backend yet", tid,
                    c->resource_id);
        goto out;
    }
    if (is_uploader(s.v, s.replica_id)) {
        if ((r = uploader_sync(cd, tid, &s, &act, e)) < 0 || act == COOLDOWN_WAITING)
            goto out;
        r = upload_cold(cd, tid, &s, &act, e);
    } else {
        r = follow(cd, tid, &s, &act, e);
    }
out:
    cd_snap_release(&s);
out_unlock:
    cd_step_unlock(cd, tid);
    if (ret_action)
        *ret_action = act;
    return r;
}

/* ---- report, drop, stats ---- */

int cooldown_tablet_report(struct cooldown *cd, int64_t tid, struct cooldown_report *ret, struct err *e)
{
    memset(ret, 0, sizeof(*ret));
    struct version *v;
    int r = engine_snapshot(cd->eng, tid, &v, e);
    if (r < 0)
        return r;
    ret->cooldown_replica_id = v->cd.cooldown_replica_id > 0 ? v->cd.cooldown_replica_id : 0;
    ret->cooldown_term = v->cd.cooldown_term;
    memcpy(ret->cooldown_meta_id, v->cd.cooldown_meta_id, UUID_STR_LEN);
    ret->cooldowned_version = v->cd.cooldowned_version;
    snprintf(ret->storage_policy, sizeof(ret->storage_policy), "%s", v->cd.storage_policy ? v->cd.storage_policy : "");
    for (size_t i = 0; i < v->nrowsets; i++)
        if (!rowset_is_local(v->rowsets[i]))
            ret->remote_bytes += v->rowsets[i]->data_size;
    version_unref(v);
    pthread_mutex_lock(&cd->mu);
    struct cd_tablet *t = cd_tablet_get(cd, tid);
    ret->delete_id = t->delete_id;
    ret->delete_candidates = t->ncand;
    pthread_mutex_unlock(&cd->mu);
    return 0;
}

#define CD_DROPPED_MAX 1024

/* Remember the resource of a tablet dropped here (under cd->mu). */
static void cd_dropped_add(struct cooldown *cd, int64_t tid, const char *resource)
{
    if (cd->ndropped == CD_DROPPED_MAX) {
        free(cd->dropped[0].resource);
        memmove(cd->dropped, cd->dropped + 1, (cd->ndropped - 1) * sizeof(*cd->dropped));
        cd->ndropped--;
    }
    cd->dropped = xrealloc(cd->dropped, (cd->ndropped + 1) * sizeof(*cd->dropped));
    cd->dropped[cd->ndropped].id = tid;
    cd->dropped[cd->ndropped++].resource = xstrdup(resource);
}

/* The resource of a tablet dropped here earlier, or NULL (caller frees). */
static char *cd_dropped_resource(struct cooldown *cd, int64_t tid)
{
    char *ret = NULL;
    pthread_mutex_lock(&cd->mu);
    for (size_t i = cd->ndropped; i-- > 0 && !ret;)
        if (cd->dropped[i].id == tid)
            ret = xstrdup(cd->dropped[i].resource);
    pthread_mutex_unlock(&cd->mu);
    return ret;
}

/* Delete every object under the tablet's remote prefix. */
static int cd_delete_prefix(struct cooldown *cd, int64_t tid, const char *resource, struct err *e)
{
    struct resource *res = resource_get(cd->res, resource, e);
    if (!res)
        return FLOE_ENOTFOUND;
    char *pre = remote_tablet_prefix(tid);
    struct objstore_list l = { 0 };
    int r = objstore_list(res->os, pre, &l, e);
    if (r == 0 && l.n > 0) {
        const char **keys = xcalloc(l.n, sizeof(char *));
        for (size_t i = 0; i < l.n; i++)
            keys[i] = l.entries[i].key;
        r = objstore_delete_many(res->os, keys, l.n, NULL, e);
        free(keys);
        if (r == 0) {
            metrics_add(cd_metrics.gc_deleted, (int64_t)l.n);
            tlog_info(tid, "last replica dropped: deleted %zu remote objects", l.n);
        }
    }
    objstore_list_release(&l);
    free(pre);
    resource_unref(res);
    return r;
}

/*
 * Drop the local replica. The tablet's step lock is taken first, so an
 * upload or meta write in flight finishes before the drop returns: when
 * the FE then drops the last replica with last_replica set, nothing of this
 * replica can land under the prefix after it is deleted. The last replica
 * may already be gone locally (a report told this BE the tablet is unknown
 * before the FE's drop arrived): its prefix is deleted all the same.
 */
int cooldown_drop_tablet(struct cooldown *cd, int64_t tid, bool last_replica, struct err *e)
{
    struct version *v;
    int r = engine_snapshot(cd->eng, tid, &v, e);
    if (r == FLOE_ENOTFOUND && last_replica) {
        char *resource = cd_dropped_resource(cd, tid);
        if (resource) {
            struct err de = { 0 };
            int dr = cd_delete_prefix(cd, tid, resource, &de);
            free(resource);
            if (dr < 0) {
                err_set(e, dr, "%s", err_msg(&de));
                return dr;
            }
        }
        return r;
    }
    if (r < 0)
        return r;
    char *resource = v->cd.resource_id ? xstrdup(v->cd.resource_id) : NULL;
    version_unref(v);
    cd_step_lock(cd, tid);
    r = engine_drop_tablet(cd->eng, tid, e);
    cd_step_unlock(cd, tid);
    if (r == 0) {
        cd_tablet_forget(cd, tid);
        if (resource) {
            pthread_mutex_lock(&cd->mu);
            cd_dropped_add(cd, tid, resource);
            pthread_mutex_unlock(&cd->mu);
        }
    }
    if ((r == 0 || r == FLOE_ENOTFOUND) && last_replica && resource) {
        /* not found: a concurrent drop of this replica won the step lock */
        int dr = cd_delete_prefix(cd, tid, resource, e);
        if (dr < 0)
            r = dr;
    }
    free(resource);
    return r;
}

void cooldown_stats_get(struct cooldown *cd, struct cooldown_stats *ret)
{
    pthread_mutex_lock(&cd->mu);
    *ret = cd->st;
    pthread_mutex_unlock(&cd->mu);
}

/* ---- the background pass ---- */

void cooldown_pass(struct cooldown *cd)
{
    struct tablet_info *ti = NULL;
    size_t n = 0;
    if (engine_tablet_infos(cd->eng, &ti, &n) < 0)
        return;
    resource_export_metrics(cd->res);
    int64_t now = mono_now_ms();
    bool gc = cd->last_gc_ms == 0 || now - cd->last_gc_ms >= cd->o.gc_interval_ms;
    if (gc)
        cd->last_gc_ms = now;
    for (size_t i = 0; i < n; i++) {
        if (ti[i].bad)
            continue;
        struct err e = { 0 };
        int64_t tid = ti[i].tablet_id;
        if (cooldown_tablet_step(cd, tid, NULL, &e) < 0 && e.code != FLOE_ENOTFOUND)
            tlog_warn(tid, "cooldown step: %s", err_msg(&e));
        if (ti[i].cooldown_replica_id > 0 && ti[i].cooldown_replica_id == ti[i].replica_id) {
            bool done = false;
            err_clear(&e);
            if (cd->o.cold_compaction_min_rowsets >= 2 &&
                cooldown_cold_compact(cd, tid, cd->o.cold_compaction_min_rowsets, &done, &e) < 0)
                tlog_warn(tid, "cold compaction: %s", err_msg(&e));
            int64_t did;
            size_t nc;
            err_clear(&e);
            if (gc && cooldown_gc_prepare(cd, tid, &did, &nc, &e) < 0 && e.code != FLOE_EBADSTATE)
                tlog_warn(tid, "remote gc: %s", err_msg(&e));
        }
    }
    free(ti);
}

static void *pass_main(void *arg)
{
    struct cooldown *cd = arg;
    pthread_mutex_lock(&cd->mu);
    while (!cd->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (cd->o.check_interval_ms % 1000) * 1000000;
        ts.tv_sec += cd->o.check_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&cd->cond, &cd->mu, &ts);
        if (cd->stop)
            break;
        pthread_mutex_unlock(&cd->mu);
        cooldown_pass(cd);
        pthread_mutex_lock(&cd->mu);
    }
    pthread_mutex_unlock(&cd->mu);
    return NULL;
}

int cooldown_open(struct engine *eng, struct resource_registry *res, struct file_cache *cache,
                  const struct cooldown_opts *o, struct cooldown **ret, struct err *e)
{
    *ret = NULL;
    pthread_once(&metrics_once, metrics_setup);
    if (o->check_interval_ms < 10 || o->gc_grace_ms < 0 || o->upload_threads < 1 || o->upload_threads > 256 ||
        o->cold_compaction_min_rowsets < 0)
        return err_set(e, FLOE_ECONFIG, "cooldown: cooldown_check_interval_s, remote_gc_grace_s or upload threads "
                                        "out of range");
    struct cooldown *cd = xcalloc(1, sizeof(*cd));
    cd->eng = eng;
    cd->res = res;
    cd->cache = cache;
    cd->o = *o;
    pthread_mutex_init(&cd->mu, NULL);
    pthread_cond_init(&cd->cond, NULL);
    pthread_cond_init(&cd->step_cond, NULL);
    cd->up_pool = tpool_new("upload", o->upload_threads, 1024);
    if (!cd->up_pool) {
        cooldown_close(cd);
        return err_set(e, FLOE_EINTERNAL, "cooldown: cannot start upload threads");
    }
    pthread_mutex_lock(&open_mu);
    open_list = xrealloc(open_list, (n_open + 1) * sizeof(*open_list));
    open_list[n_open++] = cd;
    rowset_set_remote_opener(remote_open, NULL);
    pthread_mutex_unlock(&open_mu);
    engine_set_compaction_filter(eng, compaction_filter, cd);
    if (o->background) {
        if (pthread_create(&cd->thread, NULL, pass_main, cd) != 0) {
            cooldown_close(cd);
            return err_set(e, FLOE_EINTERNAL, "cooldown: cannot start the pass thread");
        }
        cd->running = true;
    }
    *ret = cd;
    return 0;
}

void cooldown_close(struct cooldown *cd)
{
    if (!cd)
        return;
    if (cd->running) {
        pthread_mutex_lock(&cd->mu);
        cd->stop = true;
        pthread_cond_broadcast(&cd->cond);
        pthread_mutex_unlock(&cd->mu);
        pthread_join(cd->thread, NULL);
    }
    if (cd->eng)
        engine_set_compaction_filter(cd->eng, NULL, NULL);
    pthread_mutex_lock(&open_mu);
    for (size_t i = 0; i < n_open; i++)
        if (open_list[i] == cd) {
            memmove(open_list + i, open_list + i + 1, (n_open - i - 1) * sizeof(*open_list));
            n_open--;
            break;
        }
    if (n_open == 0) {
        rowset_set_remote_opener(NULL, NULL);
        free(open_list);
        open_list = NULL;
    }
    pthread_mutex_unlock(&open_mu);
    tpool_free(cd->up_pool);
    for (size_t i = 0; i < cd->ntab; i++)
        cd_tablet_free(cd->tabs[i]);
    free(cd->tabs);
    for (size_t i = 0; i < cd->ndropped; i++)
        free(cd->dropped[i].resource);
    free(cd->dropped);
    pthread_cond_destroy(&cd->cond);
    pthread_cond_destroy(&cd->step_cond);
    pthread_mutex_destroy(&cd->mu);
    free(cd);
}
