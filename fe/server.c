/*
 * server: floe-fe lifecycle, backend clients, asynchronous sends and the
 * background loop (liveness, cooldown-conf passes, repair); see server.h.
 */
#define LOG_MODULE "server"
#include "server_int.h"

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "fault.h"
#include "httpd.h"
#include "load.h"
#include "log.h"
#include "repair.h"
#include "rpc.h"
#include "tpool.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONF_FIELD(f) offsetof(struct fe_conf, f)

const struct conf_entry fe_conf_table[] = {
    { "rpc_port", CONF_PORT, 1, 65535, "9020", "FrontendService port (backends and floectl connect here)",
      CONF_FIELD(rpc_port) },
    { "http_port", CONF_PORT, 0, 65535, "8030", "HTTP port for /metrics, /health and /status; 0 = off",
      CONF_FIELD(http_port) },
    { "listen_host", CONF_STRING, 0, 0, "0.0.0.0", "address the RPC server binds (HTTP binds 127.0.0.1 "
      "unless this is set to another address)", CONF_FIELD(listen_host) },
    { "advertise_host", CONF_STRING, 0, 0, "", "host backends reach this FE at; sent with every ping so "
      "backends send heartbeats and reports to the newest master (empty: listen_host, unless that is 0.0.0.0, "
      "then not sent)", CONF_FIELD(advertise_host) },
    { "meta_dir", CONF_STRING, 0, 0, NULL, "directory of the catalog journal and checkpoint image",
      CONF_FIELD(meta_dir) },
    { "cluster_token_file", CONF_STRING, 0, 0, NULL, "file with the cluster token (mode 0600)",
      CONF_FIELD(cluster_token_file) },
    { "heartbeat_interval_s", CONF_INT, 1, 3600, "5", "how often the FE pings each backend",
      CONF_FIELD(heartbeat_interval_s) },
    { "backend_dead_after_s", CONF_INT, 2, 86400, "30",
      "a backend silent this long is dead: no scans, loads or elections go to it",
      CONF_FIELD(backend_dead_after_s) },
    { "cooldown_replica_timeout_s", CONF_INT, 1, 30 * 86400, "1800",
      "re-elect a tablet's cooldown replica when its backend was silent this long",
      CONF_FIELD(cooldown_replica_timeout_s) },
    { "cooldown_conf_check_interval_s", CONF_INT, 1, 86400, "10",
      "how often the cooldown-conf handler checks every tablet and pushes confs",
      CONF_FIELD(cooldown_conf_check_interval_s) },
    { "repair_interval_s", CONF_INT, 1, 86400, "5", "how often lagging or bad replicas are repaired",
      CONF_FIELD(repair_interval_s) },
    { "checkpoint_records", CONF_INT, 0, 100000000, "100000",
      "journal records between checkpoint images; 0 = only at shutdown", CONF_FIELD(checkpoint_records) },
    { "rpc_workers", CONF_INT, 1, 256, "16", "RPC worker threads", CONF_FIELD(rpc_workers) },
    { "load_idle_timeout_s", CONF_INT, 1, 86400, "300",
      "a load sent in chunks that gets no next chunk for this long is aborted (nothing of it becomes visible)",
      CONF_FIELD(load_idle_timeout_s) },
    { "log_level", CONF_STRING, 0, 0, "info", "debug, info, warn or error", CONF_FIELD(log_level) },
    { "log_file", CONF_STRING, 0, 0, "", "append logs here instead of stderr", CONF_FIELD(log_file) },
    CONF_END,
};

int fe_conf_load(struct fe_conf *c, const char *path, char **overrides, int noverrides, struct err *e)
{
    int r;
    memset(c, 0, sizeof(*c));
    if ((r = conf_defaults(fe_conf_table, c, e)) < 0)
        return r;
    if (path && (r = conf_load_file(fe_conf_table, c, path, e)) < 0)
        return r;
    for (int i = 0; i < noverrides; i++) {
        char *eq = strchr(overrides[i], '=');
        if (!eq)
            return err_set(e, FLOE_ECONFIG, "override '%s': expected key=value", overrides[i]);
        char *key = xstrndup(overrides[i], (size_t)(eq - overrides[i]));
        r = conf_set(fe_conf_table, c, key, eq + 1, e);
        free(key);
        if (r < 0)
            return r;
    }
    if ((r = conf_check_required(fe_conf_table, c, e)) < 0)
        return r;
    enum log_level lvl;
    if (log_parse_level(c->log_level, &lvl) < 0)
        return err_set(e, FLOE_ECONFIG, "key 'log_level': '%s' is not debug, info, warn or error", c->log_level);
    if (c->cooldown_replica_timeout_s < c->backend_dead_after_s)
        return err_set(e, FLOE_ECONFIG, "key 'cooldown_replica_timeout_s' (%lld) must not be below "
                       "backend_dead_after_s (%lld)", (long long)c->cooldown_replica_timeout_s,
                       (long long)c->backend_dead_after_s);
    return 0;
}

void fe_conf_release(struct fe_conf *c)
{
    conf_release(fe_conf_table, c);
}

int64_t fe_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- conversions ---- */

void fe_schema_to_idl(const struct fe_schema *s, enum fe_key_model model, struct idl_tablet_schema *out)
{
    for (int i = 0; i < s->ncols; i++) {
        struct idl_column_def *c = idl_tablet_schema_add_columns(out);
        tidl_set_str(&c->name, s->cols[i].name);
        c->type = (int32_t)s->cols[i].type + 1;
        c->nullable = s->cols[i].nullable;
        c->is_key = i < s->nkeys;
    }
    out->key_model = model == FE_MODEL_UNIQUE ? IDL_KEY_MODEL_UNIQUE : IDL_KEY_MODEL_DUPLICATE;
}

void fe_resource_to_idl(const struct fe_resource *r, struct idl_resource *out)
{
    tidl_set_str(&out->name, r->name);
    out->type = r->type == FE_RES_S3 ? IDL_RESOURCE_TYPE_S3 : IDL_RESOURCE_TYPE_LOCAL;
    tidl_set_str(&out->endpoint, r->endpoint ? r->endpoint : "");
    tidl_set_str(&out->region, r->region ? r->region : "");
    tidl_set_str(&out->bucket, r->bucket ? r->bucket : "");
    tidl_set_str(&out->prefix, r->prefix ? r->prefix : "");
    out->path_style = r->path_style;
    tidl_set_str(&out->root_path, r->root ? r->root : "");
    tidl_set_str(&out->credentials_file, r->credentials_file ? r->credentials_file : "");
    out->resource_id = r->id;
    tidl_set_str(&out->access_key_env, r->access_key_env ? r->access_key_env : "");
    tidl_set_str(&out->secret_key_env, r->secret_key_env ? r->secret_key_env : "");
    tidl_set_str(&out->profile, r->profile ? r->profile : "");
}

void fe_policy_to_idl(const struct catalog *c, const struct fe_policy *p, struct idl_storage_policy *out)
{
    const struct fe_resource *r = catalog_resource(c, p->resource_id);
    tidl_set_str(&out->name, p->name);
    tidl_set_str(&out->resource, r ? r->name : "");
    out->cooldown_ttl_s = p->cooldown_ttl_s;
    out->cooldown_datetime_s = p->cooldown_datetime_s;
    out->policy_id = p->id;
}

int32_t fe_state_to_idl(enum fe_replica_state st)
{
    switch (st) {
    case FE_REPLICA_NORMAL: return IDL_TABLET_STATE_RUNNING;
    case FE_REPLICA_BAD: return IDL_TABLET_STATE_BAD;
    default: return IDL_TABLET_STATE_NOTREADY;
    }
}

void fe_fill_create(const struct catalog *c, const struct fe_tablet *t, const struct fe_replica *r,
                    struct idl_create_tablet_req *req)
{
    const struct fe_table *tb = catalog_table(c, t->table_id);
    req->tablet_id = t->id;
    req->replica_id = r->id;
    req->table_id = t->table_id;
    req->version = 1;
    if (tb)
        fe_schema_to_idl(&tb->schema, tb->model, &req->schema);
    const struct fe_policy *p = tb && tb->policy_id ? catalog_policy(c, tb->policy_id) : NULL;
    const struct fe_resource *res = p ? catalog_resource(c, p->resource_id) : NULL;
    if (p && res) {
        req->has_policy = true;
        fe_policy_to_idl(c, p, &req->policy);
        req->has_resource = true;
        fe_resource_to_idl(res, &req->resource);
    }
    if (t->cooldown_term > 0) {
        req->has_cooldown = true;
        req->cooldown.tablet_id = t->id;
        req->cooldown.cooldown_replica_id = t->cooldown_replica_id;
        req->cooldown.cooldown_term = t->cooldown_term;
    }
}

/* ---- backend clients ---- */

static void be_client_free(struct be_client *bc)
{
    if (!bc)
        return;
    for (int i = 0; i < BE_CHANS; i++)
        rpc_client_free(bc->c[i]);
    free(bc->host);
    free(bc);
}

int fe_be_client(struct fe_server *s, int64_t backend_id, enum be_chan ch, struct rpc_client **ret,
                 struct err *e)
{
    char host[256];
    int port;
    pthread_mutex_lock(&s->lock);
    struct fe_backend *b = catalog_backend(&s->meta->cat, backend_id);
    if (b) {
        snprintf(host, sizeof(host), "%s", b->host);
        port = b->rpc_port;
    }
    pthread_mutex_unlock(&s->lock);
    if (!b)
        return err_set(e, FLOE_ENOTFOUND, "backend %lld is not in the catalog", (long long)backend_id);
    int r = 0;
    pthread_mutex_lock(&s->clients_lock);
    struct be_client *bc = idmap_get(&s->clients, backend_id);
    if (bc && (bc->port != port || strcmp(bc->host, host) != 0)) {
        s->retired = xrealloc(s->retired, (s->nretired + 1) * sizeof(*s->retired));
        s->retired[s->nretired++] = bc;
        idmap_del(&s->clients, backend_id);
        bc = NULL;
    }
    if (!bc) {
        bc = xcalloc(1, sizeof(*bc));
        bc->backend_id = backend_id;
        bc->host = xstrdup(host);
        bc->port = port;
        for (int i = 0; i < BE_CHANS && r == 0; i++) {
            struct rpc_client_opts o = { .host = host, .port = port, .token = &s->token,
                                         .connect_timeout_ms = i == BE_PUSH ? FE_PUSH_CONNECT_MS : 3000,
                                         .call_timeout_ms = i == BE_PUSH ? FE_PUSH_CALL_MS
                                                            : i == BE_CTL ? 120000 : 300000 };
            r = rpc_client_new(&o, &bc->c[i], e);
        }
        if (r < 0) {
            be_client_free(bc);
            pthread_mutex_unlock(&s->clients_lock);
            return r;
        }
        idmap_put(&s->clients, backend_id, bc);
    }
    *ret = bc->c[ch];
    pthread_mutex_unlock(&s->clients_lock);
    return 0;
}

/* ---- asynchronous sends ---- */

/*
 * Cooldown conf pushes: one job per backend, all backends at once on the
 * pusher pool, over the short-timeout push channel, so a dead or hung
 * backend costs one thread for at most FE_PUSH_CONNECT_MS / FE_PUSH_CALL_MS
 * and never holds up the others. At most one push per backend is in flight;
 * confs for a backend that is still busy, and confs whose push failed, are
 * marked pending on their replicas and sent again by the next conf pass.
 */
struct push_job {
    struct fe_server *s;
    int64_t backend_id;
    struct idl_push_cooldown_conf_req req;
};

/* Catalog lock held. */
static void push_mark_pending(struct fe_server *s, int64_t backend_id, const struct idl_push_cooldown_conf_req *req)
{
    for (size_t i = 0; i < req->confs_len; i++) {
        struct coolconf_push p = { .backend_id = backend_id, .tablet_id = req->confs[i].tablet_id,
                                   .cooldown_replica_id = req->confs[i].cooldown_replica_id,
                                   .term = req->confs[i].cooldown_term };
        coolconf_push_failed(&s->meta->cat, &p);
    }
}

static void push_job_free(struct push_job *j)
{
    idl_push_cooldown_conf_req_release(&j->req);
    free(j);
}

static void push_job_run(void *arg)
{
    struct push_job *j = arg;
    struct fe_server *s = j->s;
    struct rpc_client *cl;
    struct err e = { 0 };
    struct idl_push_cooldown_conf_reply rep;
    bool ok = false;
    if (FAULT_ON("fe.push.drop")) {
        log_warn("fault fe.push.drop: %zu cooldown confs to backend %lld dropped", j->req.confs_len,
                 (long long)j->backend_id);
        ok = true;   /* lost on the way: only the reports repair it */
        goto done;
    }
    j->req.has_fe_epoch = true;
    j->req.fe_epoch = s->epoch;
    if (FAULT_ON("fe.push.repeat") && fe_be_client(s, j->backend_id, BE_PUSH, &cl, &e) == 0 &&
        idl_backend_service_push_cooldown_conf(cl, &j->req, &rep, &e) == 0)
        idl_push_cooldown_conf_reply_release(&rep);
    if (fe_be_client(s, j->backend_id, BE_PUSH, &cl, &e) == 0 &&
        idl_backend_service_push_cooldown_conf(cl, &j->req, &rep, &e) == 0) {
        ok = true;
        metrics_add(s->m.pushes, (int64_t)j->req.confs_len);
        for (size_t i = 0; i < rep.tablets_len; i++)
            if (rep.tablets[i].code != 0 && rep.tablets[i].code != FLOE_ESTALE_TERM)
                tlog_warn(rep.tablets[i].tablet_id, "backend %lld refused the cooldown conf: %s",
                          (long long)j->backend_id, rep.tablets[i].message ? rep.tablets[i].message : "");
        idl_push_cooldown_conf_reply_release(&rep);
    } else if (fe_fenced(s, j->backend_id, "push_cooldown_conf", &e)) {
        metrics_inc(s->m.push_errors);
        ok = true;   /* a deposed FE retries nothing */
    } else {
        metrics_inc(s->m.push_errors);
        log_debug("push of %zu cooldown confs to backend %lld failed (retried next pass): %s",
                  j->req.confs_len, (long long)j->backend_id, err_msg(&e));
    }
done:
    pthread_mutex_lock(&s->lock);
    idmap_del(&s->push_busy, j->backend_id);
    if (!ok)
        push_mark_pending(s, j->backend_id, &j->req);
    pthread_mutex_unlock(&s->lock);
    push_job_free(j);
}

void fe_send_pushes(struct fe_server *s, struct coolconf_push_vec *pv)
{
    /* group by backend: one request per backend */
    struct idmap jobs = IDMAP_INIT;
    for (size_t i = 0; i < pv->n; i++) {
        struct coolconf_push *p = &pv->v[i];
        struct push_job *j = idmap_get(&jobs, p->backend_id);
        if (!j) {
            j = xcalloc(1, sizeof(*j));
            j->s = s;
            j->backend_id = p->backend_id;
            idl_push_cooldown_conf_req_init(&j->req);
            idmap_put(&jobs, p->backend_id, j);
        }
        struct idl_cooldown_conf *c = idl_push_cooldown_conf_req_add_confs(&j->req);
        c->tablet_id = p->tablet_id;
        c->cooldown_replica_id = p->cooldown_replica_id;
        c->cooldown_term = p->term;
    }
    for (size_t i = 0; i < jobs.cap; i++) {
        struct push_job *j = jobs.slots[i].val;
        if (!jobs.slots[i].key)
            continue;
        pthread_mutex_lock(&s->lock);
        bool busy = idmap_get(&s->push_busy, j->backend_id) != NULL;
        if (busy)
            push_mark_pending(s, j->backend_id, &j->req);
        else
            idmap_put(&s->push_busy, j->backend_id, (void *)1);
        pthread_mutex_unlock(&s->lock);
        if (busy) {
            log_debug("a push to backend %lld is still in flight: %zu confs deferred to the next pass",
                      (long long)j->backend_id, j->req.confs_len);
            push_job_free(j);
        } else if (tpool_try_submit(s->pusher, push_job_run, j) < 0) {
            pthread_mutex_lock(&s->lock);
            idmap_del(&s->push_busy, j->backend_id);
            push_mark_pending(s, j->backend_id, &j->req);
            pthread_mutex_unlock(&s->lock);
            push_job_free(j);
        }
    }
    idmap_release(&jobs);
    coolconf_push_vec_release(pv);
}

struct small_job {
    struct fe_server *s;
    int kind;                 /* 0 delete, 1 drop, 2 ping */
    int64_t backend_id, tablet_id, id2, term;
};

/* One ping in flight per backend: a backend that does not answer gets no queue of pings. */
static bool ping_claim(struct fe_server *s, int64_t backend_id)
{
    pthread_mutex_lock(&s->lock);
    struct fe_backend *b = catalog_backend(&s->meta->cat, backend_id);
    bool ok = b && !b->ping_inflight;
    if (ok)
        b->ping_inflight = true;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void ping_done(struct fe_server *s, int64_t backend_id)
{
    pthread_mutex_lock(&s->lock);
    struct fe_backend *b = catalog_backend(&s->meta->cat, backend_id);
    if (b)
        b->ping_inflight = false;
    pthread_mutex_unlock(&s->lock);
}

static void small_job_run(void *arg)
{
    struct small_job *j = arg;
    struct fe_server *s = j->s;
    struct rpc_client *cl;
    struct err e = { 0 };
    /* pings go on the push channel: a stopped backend holds a sender thread for seconds, not minutes */
    int r = fe_be_client(s, j->backend_id, j->kind == 2 ? BE_PUSH : BE_CTL, &cl, &e);
    /* the confirmation is journaled and the send is on its way: a delay here
     * is a master that stalls (GC pause, SIGSTOP) and is deposed meanwhile */
    if (r == 0 && j->kind == 0 && FAULT_POINT("fe.delete.before_send") < 0) {
        tlog_warn(j->tablet_id, "fault fe.delete.before_send: cooldown_delete %lld not sent", (long long)j->id2);
    } else if (r == 0 && j->kind == 0 && FAULT_ON("fe.delete.drop")) {
        tlog_warn(j->tablet_id, "fault fe.delete.drop: cooldown_delete %lld not sent", (long long)j->id2);
    } else if (r == 0 && j->kind == 0) {
        struct idl_cooldown_delete_req rq;
        struct idl_cooldown_delete_reply rp;
        idl_cooldown_delete_req_init(&rq);
        rq.tablet_id = j->tablet_id;
        rq.delete_id = j->id2;
        rq.cooldown_term = j->term;
        rq.has_fe_epoch = true;
        rq.fe_epoch = s->epoch;
        if (FAULT_ON("fe.delete.repeat") && idl_backend_service_cooldown_delete(cl, &rq, &rp, &e) == 0)
            idl_cooldown_delete_reply_release(&rp);
        r = idl_backend_service_cooldown_delete(cl, &rq, &rp, &e);
        if (r == 0) {
            tlog_info(j->tablet_id, "cooldown_delete %lld: %s, %lld objects deleted", (long long)j->id2,
                      rp.accepted ? "accepted" : "stale on the backend", (long long)rp.deleted_objects);
            idl_cooldown_delete_reply_release(&rp);
        }
        idl_cooldown_delete_req_release(&rq);
    } else if (r == 0 && j->kind == 1) {
        struct idl_drop_tablet_req rq;
        struct idl_drop_tablet_reply rp;
        idl_drop_tablet_req_init(&rq);
        rq.tablet_id = j->tablet_id;
        rq.replica_id = j->id2;
        rq.has_fe_epoch = true;
        rq.fe_epoch = s->epoch;
        r = idl_backend_service_drop_tablet(cl, &rq, &rp, &e);
        if (r == 0)
            idl_drop_tablet_reply_release(&rp);
        idl_drop_tablet_req_release(&rq);
    } else if (r == 0 && j->kind == 2) {
        struct idl_ping_req rq;
        struct idl_ping_reply rp;
        idl_ping_req_init(&rq);
        rq.backend_id = j->backend_id;
        rq.fe_epoch = s->epoch;
        rq.has_master_epoch = true;
        rq.master_epoch = s->epoch;
        if (s->fe_address[0])
            tidl_set_str(&rq.fe_address, s->fe_address);
        r = idl_backend_service_ping(cl, &rq, &rp, &e);
        if (r == 0) {
            pthread_mutex_lock(&s->lock);
            struct fe_backend *b = catalog_backend(&s->meta->cat, j->backend_id);
            if (b && rp.backend_id == j->backend_id)
                b->last_hb_ms = fe_now_ms();
            pthread_mutex_unlock(&s->lock);
            idl_ping_reply_release(&rp);
        }
        idl_ping_req_release(&rq);
    }
    if (j->kind == 2)
        ping_done(s, j->backend_id);
    if (r < 0 && fe_fenced(s, j->backend_id, j->kind == 0 ? "cooldown_delete" : j->kind == 1 ? "drop_tablet" : "ping",
                           &e))
        ;
    else if (r < 0 && j->kind != 2)
        tlog_warn(j->tablet_id, "%s to backend %lld failed: %s", j->kind == 0 ? "cooldown_delete" : "drop_tablet",
                  (long long)j->backend_id, err_msg(&e));
    free(j);
}

static void submit_small(struct fe_server *s, int kind, int64_t be, int64_t tablet, int64_t id2, int64_t term)
{
    if (kind == 2 && !ping_claim(s, be))
        return;  /* the last ping has not returned: this round skips it */
    struct small_job *j = xcalloc(1, sizeof(*j));
    *j = (struct small_job){ s, kind, be, tablet, id2, term };
    if (tpool_try_submit(s->sender, small_job_run, j) < 0) {
        if (kind == 2) {
            ping_done(s, be);
            free(j);  /* a ping can wait for the next round */
        } else {
            small_job_run(j);
        }
    }
}

void fe_send_delete(struct fe_server *s, int64_t backend_id, int64_t tablet_id, int64_t delete_id, int64_t term)
{
    submit_small(s, 0, backend_id, tablet_id, delete_id, term);
}

void fe_send_drop(struct fe_server *s, int64_t backend_id, int64_t tablet_id, int64_t replica_id)
{
    submit_small(s, 1, backend_id, tablet_id, replica_id, 0);
}

struct tdrop_job {
    struct fe_server *s;
    int64_t tablet_id;
    int n;
    bool cooled;
    int64_t backends[64], replicas[64];
};

/* Drops replica (0 = any) of tablet on backend be; remote: also delete the
 * tablet's prefix, on resource res when given (taken: left initialised). */
static int drop_one(struct fe_server *s, int64_t be, int64_t tablet, int64_t replica, bool remote,
                    struct idl_resource *res, struct err *e)
{
    struct rpc_client *cl;
    struct idl_drop_tablet_req rq;
    struct idl_drop_tablet_reply rp;
    idl_drop_tablet_req_init(&rq);
    rq.tablet_id = tablet;
    rq.replica_id = replica;
    rq.delete_remote = remote;
    rq.has_fe_epoch = true;
    rq.fe_epoch = s->epoch;
    if (remote && res) {
        rq.has_resource = true;
        rq.resource = *res;
        idl_resource_init(res);
    }
    int r = fe_be_client(s, be, BE_CTL, &cl, e);
    if (r == 0 && (r = idl_backend_service_drop_tablet(cl, &rq, &rp, e)) == 0)
        idl_drop_tablet_reply_release(&rp);
    idl_drop_tablet_req_release(&rq);
    if (r < 0)
        fe_fenced(s, be, "drop_tablet", e);
    return r;
}

static void tdrop_run(void *arg)
{
    struct tdrop_job *j = arg;
    struct err e = { 0 };
    int failed = 0;
    for (int i = 0; i < j->n - 1; i++)
        if (drop_one(j->s, j->backends[i], j->tablet_id, j->replicas[i], false, NULL, &e) < 0) {
            failed++;
            tlog_warn(j->tablet_id, "drop of replica %lld on backend %lld failed (its next report retries): %s",
                      (long long)j->replicas[i], (long long)j->backends[i], err_msg(&e));
        }
    int last = j->n - 1;
    bool remote = j->cooled && failed == 0;
    if (j->cooled && failed)
        tlog_warn(j->tablet_id, "remote data kept: %d replicas did not confirm the drop", failed);
    if (last >= 0 && drop_one(j->s, j->backends[last], j->tablet_id, j->replicas[last], remote, NULL, &e) < 0)
        tlog_warn(j->tablet_id, "drop of replica %lld on backend %lld failed%s: %s", (long long)j->replicas[last],
                  (long long)j->backends[last], remote ? " (remote data kept)" : "", err_msg(&e));
    free(j);
}

void fe_send_tablet_drop(struct fe_server *s, int64_t tablet_id, const int64_t *backends, const int64_t *replicas,
                         int n, bool cooled)
{
    struct tdrop_job *j = xcalloc(1, sizeof(*j));
    j->s = s;
    j->tablet_id = tablet_id;
    j->cooled = cooled;
    j->n = n < 64 ? n : 64;
    for (int i = 0; i < j->n; i++) {
        j->backends[i] = backends[i];
        j->replicas[i] = replicas[i];
    }
    if (tpool_submit(s->sender, tdrop_run, j) < 0)
        tdrop_run(j);
}

bool fe_fenced(struct fe_server *s, int64_t backend_id, const char *what, const struct err *err)
{
    if (!err || err->code != FLOE_ENOTMASTER)
        return false;
    metrics_inc(s->m.fenced);
    pthread_mutex_lock(&s->lock);
    bool was = s->meta->master;
    s->meta->master = false;
    pthread_mutex_unlock(&s->lock);
    if (was)
        log_error("backend %lld refused %s under master epoch %lld (%s): a newer FE master took over; this FE "
                  "stops acting as master", (long long)backend_id, what, (long long)s->epoch, err_msg(err));
    return true;
}

/* ---- remote delete pending (dropped cooled tablets) ---- */

#define RDROP_BACKOFF_MAX_MS 60000

struct rdrop_job {
    struct fe_server *s;
    int64_t tablet_id;
    int n;
    int64_t *bids;
    uint64_t acked;
    int64_t delete_be;            /* backend asked to delete the prefix; 0 = none alive */
    struct idl_resource res;
};

static void rdrop_job_free(struct rdrop_job *j)
{
    if (!j)
        return;
    free(j->bids);
    idl_resource_release(&j->res);
    free(j);
}

static void rdrop_run(void *arg)
{
    struct rdrop_job *j = arg;
    struct fe_server *s = j->s;
    struct err e = { 0 };
    int failed = 0;
    bool deleted = false;
    uint64_t acked = j->acked;
    if (FAULT_POINT("fe.rdrop.send") < 0) {
        failed++;
        err_set(&e, FLOE_EFAULT, "fault fe.rdrop.send");
    }
    /* every replica first, so no upload of theirs lands after the prefix is gone */
    for (int k = 0; k < j->n && !failed; k++) {
        uint64_t bit = k < 64 ? 1ull << k : 0;
        if (bit && (acked & bit))
            continue;
        pthread_mutex_lock(&s->lock);
        bool known = catalog_backend(&s->meta->cat, j->bids[k]) != NULL;
        pthread_mutex_unlock(&s->lock);
        if (!known || drop_one(s, j->bids[k], j->tablet_id, 0, false, NULL, &e) == 0) {
            acked |= bit;
        } else {
            failed++;
            tlog_warn(j->tablet_id, "remote delete pending: drop on backend %lld failed (retried): %s",
                      (long long)j->bids[k], err_msg(&e));
        }
    }
    if (!failed && !j->delete_be) {
        failed++;
        err_set(&e, FLOE_EUNAVAILABLE, "no alive backend to delete the remote prefix");
    } else if (!failed) {
        if (drop_one(s, j->delete_be, j->tablet_id, 0, true, &j->res, &e) == 0)
            deleted = true;
        else
            failed++;
    }
    int64_t now = fe_now_ms();
    pthread_mutex_lock(&s->lock);
    struct fe_rdrop *d = catalog_rdrop(&s->meta->cat, j->tablet_id);
    int r = 0;
    if (d) {
        d->busy = false;
        d->acked = acked;
        if (deleted)
            r = meta_commit(s->meta, json_pack("{s:s,s:I}", "op", "remote_deleted", "tablet",
                                               (json_int_t)j->tablet_id), &e);
        if (deleted && r == 0) {
            d = NULL;   /* the record freed the entry */
        } else {
            d->attempts++;
            int64_t wait = 1000ll << (d->attempts < 6 ? d->attempts : 6);
            d->next_ms = now + (wait < RDROP_BACKOFF_MAX_MS ? wait : RDROP_BACKOFF_MAX_MS);
        }
    }
    int attempts = d ? d->attempts : 0;
    int64_t next = d ? d->next_ms - now : 0;
    pthread_mutex_unlock(&s->lock);
    if (deleted && r == 0) {
        metrics_inc(s->m.rdrop_done);
        tlog_info(j->tablet_id, "dropped tablet: remote prefix deleted by backend %lld", (long long)j->delete_be);
    } else {
        metrics_inc(s->m.rdrop_failed);
        tlog_warn(j->tablet_id, "dropped tablet: remote prefix not deleted yet (attempt %d, next in %lld ms): %s",
                  attempts, (long long)next, err_msg(&e));
    }
    rdrop_job_free(j);
}

/* Catalog lock held: the backend to delete a tablet's prefix — the last
 * listed replica's backend when alive, else any alive one. */
static int64_t rdrop_pick_backend(const struct catalog *c, const struct fe_rdrop *d, int64_t now)
{
    for (int k = d->nreplicas - 1; k >= 0; k--) {
        const struct fe_backend *b = catalog_backend(c, d->backend_ids[k]);
        if (b && catalog_backend_alive(c, b, now))
            return b->id;
    }
    IDMAP_FOREACH(&c->backends, i) {
        const struct fe_backend *b = c->backends.slots[i].val;
        if (!b->decommissioned && catalog_backend_alive(c, b, now))
            return b->id;
    }
    return 0;
}

void fe_rdrop_pass(struct fe_server *s)
{
    int64_t now = fe_now_ms();
    struct rdrop_job **jobs = NULL;
    size_t njobs = 0;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    metrics_set(s->m.rdrop_pending, (int64_t)c->rdrops.count);
    IDMAP_FOREACH(&c->rdrops, i) {
        struct fe_rdrop *d = c->rdrops.slots[i].val;
        const struct fe_resource *res = catalog_resource(c, d->resource_id);
        if (!s->meta->master || d->busy || d->next_ms > now || !res)
            continue;
        struct rdrop_job *j = xcalloc(1, sizeof(*j));
        j->s = s;
        j->tablet_id = d->tablet_id;
        j->n = d->nreplicas;
        j->bids = xcalloc((size_t)d->nreplicas, sizeof(*j->bids));
        memcpy(j->bids, d->backend_ids, (size_t)d->nreplicas * sizeof(*j->bids));
        j->acked = d->acked;
        j->delete_be = rdrop_pick_backend(c, d, now);
        idl_resource_init(&j->res);
        fe_resource_to_idl(res, &j->res);
        d->busy = true;
        jobs = xrealloc(jobs, (njobs + 1) * sizeof(*jobs));
        jobs[njobs++] = j;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < njobs; i++) {
        if (tpool_try_submit(s->sender, rdrop_run, jobs[i]) == 0)
            continue;
        pthread_mutex_lock(&s->lock);
        struct fe_rdrop *d = catalog_rdrop(&s->meta->cat, jobs[i]->tablet_id);
        if (d)
            d->busy = false;
        pthread_mutex_unlock(&s->lock);
        rdrop_job_free(jobs[i]);
    }
    free(jobs);
}

/* ---- background ---- */

static void conf_pass(struct fe_server *s)
{
    struct coolconf_push_vec pv = { 0 };
    struct coolconf_stats st = { 0 };
    struct err e = { 0 };
    pthread_mutex_lock(&s->lock);
    int n = coolconf_pass(s->meta, 0, fe_now_ms(), &st, &e);
    coolconf_collect_pushes(&s->meta->cat, &pv);
    pthread_mutex_unlock(&s->lock);
    if (n < 0)
        log_error("cooldown-conf pass failed: %s", err_msg(&e));
    /* the new terms are journaled; a crash here must leave the pushes to the reports */
    if (FAULT_POINT("fe.conf.after_journal") < 0) {
        log_warn("fault fe.conf.after_journal: %zu pushes not sent", pv.n);
        coolconf_push_vec_release(&pv);
        return;
    }
    fe_send_pushes(s, &pv);
}

static void liveness(struct fe_server *s, bool ping)
{
    int64_t now = fe_now_ms();
    int64_t ids[1024];
    size_t n = 0, alive = 0, dead = 0;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    for (size_t i = 0; i < c->backends.cap; i++) {
        struct fe_backend *b = c->backends.slots[i].val;
        if (!c->backends.slots[i].key)
            continue;
        if (catalog_backend_alive(c, b, now))
            alive++;
        else
            dead++;
        if (n < 1024)
            ids[n++] = b->id;
    }
    int64_t el = s->meta->elected, re = s->meta->reelected, nc = s->meta->no_candidate;
    pthread_mutex_unlock(&s->lock);
    metrics_set(s->m.elected, el);
    metrics_set(s->m.reelected, re);
    metrics_set(s->m.no_candidate, nc);
    metrics_set(s->m.backends_alive, (int64_t)alive);
    metrics_set(s->m.backends_dead, (int64_t)dead);
    pthread_mutex_lock(&s->lock);
    bool master = s->meta->master;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; ping && master && i < n; i++)
        submit_small(s, 2, ids[i], 0, 0, 0);
}

static void *bg_main(void *arg)
{
    struct fe_server *s = arg;
    int64_t last_ping = 0, last_conf = 0, last_cursor = 0;
    while (!atomic_load(&s->stopping)) {
        int64_t now = fe_now_ms();
        bool ping = now - last_ping >= s->conf.heartbeat_interval_s * 1000;
        if (ping)
            last_ping = now;
        liveness(s, ping);
        if (now - last_conf >= s->conf.cooldown_conf_check_interval_s * 1000) {
            last_conf = now;
            conf_pass(s);
        }
        fe_rdrop_pass(s);
        if (now - last_cursor >= 10000) {
            last_cursor = now;
            fe_cursors_expire(s, 600000);
        }
        fe_loads_expire(s, (s->conf.load_idle_timeout_s > 0 ? s->conf.load_idle_timeout_s : 300) * 1000);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&s->bg_mu);
        if (!atomic_load(&s->stopping))
            pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &ts);
        pthread_mutex_unlock(&s->bg_mu);
    }
    return NULL;
}

/* Repair runs on its own thread: a clone may take minutes and must not hold
 * up liveness checks and conf pushes. */
static void *repair_main(void *arg)
{
    struct fe_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        fe_repair_round(s);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->conf.repair_interval_s;
        pthread_mutex_lock(&s->bg_mu);
        if (!atomic_load(&s->stopping))
            pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &ts);
        pthread_mutex_unlock(&s->bg_mu);
    }
    return NULL;
}

/* ---- repair ---- */

static int do_clone(struct fe_server *s, const struct repair_task *t, int64_t target_replica, struct err *e)
{
    struct idl_clone_req rq;
    struct idl_clone_reply rp;
    struct rpc_client *cl;
    idl_clone_req_init(&rq);
    int r;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    struct fe_tablet *tb = catalog_tablet(c, t->tablet_id);
    struct fe_backend *src = catalog_backend(c, t->src_backend_id);
    if (!tb || !src || !catalog_replica(tb, target_replica)) {
        pthread_mutex_unlock(&s->lock);
        idl_clone_req_release(&rq);
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld changed while planning", (long long)t->tablet_id);
    }
    struct idl_create_tablet_req cr;
    idl_create_tablet_req_init(&cr);
    fe_fill_create(c, tb, catalog_replica(tb, target_replica), &cr);
    rq.tablet_id = t->tablet_id;
    rq.replica_id = target_replica;
    tidl_set_str(&rq.src_host, src->host);
    rq.src_port = src->rpc_port;
    rq.version = t->version;
    rq.has_fe_epoch = true;
    rq.fe_epoch = s->epoch;
    rq.schema = cr.schema;
    idl_tablet_schema_init(&cr.schema);
    if (cr.has_policy) {
        rq.has_policy = true;
        rq.policy = cr.policy;
        idl_storage_policy_init(&cr.policy);
        rq.has_resource = true;
        rq.resource = cr.resource;
        idl_resource_init(&cr.resource);
    }
    if (cr.has_cooldown) {
        rq.has_cooldown = true;
        rq.cooldown = cr.cooldown;
    }
    idl_create_tablet_req_release(&cr);
    pthread_mutex_unlock(&s->lock);
    if ((r = fe_be_client(s, t->backend_id, BE_CTL, &cl, e)) == 0 &&
        (r = idl_backend_service_clone(cl, &rq, &rp, e)) == 0) {
        if (rp.tablet.version < t->version)
            r = err_set(e, FLOE_EVERSION, "clone reached version %lld, wanted %lld", (long long)rp.tablet.version,
                        (long long)t->version);
        idl_clone_reply_release(&rp);
    }
    if (r < 0)
        fe_fenced(s, t->backend_id, "clone", e);
    idl_clone_req_release(&rq);
    return r;
}

static int do_create(struct fe_server *s, const struct repair_task *t, struct err *e)
{
    struct idl_create_tablet_req rq;
    struct idl_create_tablet_reply rp;
    struct rpc_client *cl;
    idl_create_tablet_req_init(&rq);
    pthread_mutex_lock(&s->lock);
    struct fe_tablet *tb = catalog_tablet(&s->meta->cat, t->tablet_id);
    struct fe_replica *r = tb ? catalog_replica(tb, t->replica_id) : NULL;
    if (r)
        fe_fill_create(&s->meta->cat, tb, r, &rq);
    pthread_mutex_unlock(&s->lock);
    int rc;
    if (!r)
        rc = err_set(e, FLOE_ENOTFOUND, "tablet %lld changed while planning", (long long)t->tablet_id);
    else if ((rc = fe_be_client(s, t->backend_id, BE_CTL, &cl, e)) == 0 &&
             (rc = idl_backend_service_create_tablet(cl, &rq, &rp, e)) == 0)
        idl_create_tablet_reply_release(&rp);
    if (rc == FLOE_EEXIST)
        rc = 0;
    idl_create_tablet_req_release(&rq);
    return rc;
}

static int do_republish(struct fe_server *s, const struct repair_task *t, struct err *e)
{
    struct rpc_client *cl;
    struct idl_publish_version_req rq;
    struct idl_publish_version_reply rp;
    /* once per version: if it does not help, the next round clones */
    pthread_mutex_lock(&s->lock);
    struct fe_tablet *tb = catalog_tablet(&s->meta->cat, t->tablet_id);
    struct fe_replica *rep = tb ? catalog_replica(tb, t->replica_id) : NULL;
    if (rep)
        rep->republished_version = t->version;
    pthread_mutex_unlock(&s->lock);
    if (!rep)
        return err_set(e, FLOE_ENOTFOUND, "tablet %lld changed while planning", (long long)t->tablet_id);
    idl_publish_version_req_init(&rq);
    rq.txn_id = t->txn;
    struct idl_tablet_version *tv = idl_publish_version_req_add_tablets(&rq);
    tv->tablet_id = t->tablet_id;
    tv->version = t->version;
    int r = fe_be_client(s, t->backend_id, BE_CTL, &cl, e);
    if (r == 0 && (r = idl_backend_service_publish_version(cl, &rq, &rp, e)) == 0) {
        for (size_t i = 0; i < rp.tablets_len; i++) {
            struct idl_tablet_result *tr = &rp.tablets[i];
            if (tr->tablet_id != t->tablet_id)
                continue;
            if (tr->code != 0)
                r = err_set(e, tr->code, "%s", tr->message ? tr->message : "refused");
            else if (tr->version > 0 && tr->version < t->version)
                r = err_set(e, FLOE_EVERSION, "the replica stays at version %lld", (long long)tr->version);
        }
        idl_publish_version_reply_release(&rp);
    }
    idl_publish_version_req_release(&rq);
    return r;
}

static int commit_locked(struct fe_server *s, json_t *rec, struct err *e)
{
    pthread_mutex_lock(&s->lock);
    int r = meta_commit(s->meta, rec, e);
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void run_task(struct fe_server *s, struct repair_task *t)
{
    struct err e = { 0 };
    int r = 0;
    int64_t target = t->replica_id;
    switch (t->kind) {
    case REPAIR_CLONE:
    case REPAIR_CREATE:
    case REPAIR_PUBLISH:
        r = t->kind == REPAIR_CLONE ? do_clone(s, t, target, &e)
            : t->kind == REPAIR_CREATE ? do_create(s, t, &e) : do_republish(s, t, &e);
        if (r == 0)
            r = commit_locked(s, json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet",
                                           (json_int_t)t->tablet_id, "replica", (json_int_t)target, "state",
                                           (int)FE_REPLICA_NORMAL, "version", (json_int_t)t->version), &e);
        break;
    case REPAIR_MIGRATE:
        pthread_mutex_lock(&s->lock);
        target = s->meta->cat.next_id;
        r = meta_commit(s->meta, json_pack("{s:s,s:I,s:I,s:I,s:i}", "op", "replica_add", "tablet",
                                           (json_int_t)t->tablet_id, "replica", (json_int_t)target, "backend",
                                           (json_int_t)t->backend_id, "state", (int)FE_REPLICA_CLONING), &e);
        pthread_mutex_unlock(&s->lock);
        if (r == 0)
            r = do_clone(s, t, target, &e);
        if (r == 0)
            r = commit_locked(s, json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet",
                                           (json_int_t)t->tablet_id, "replica", (json_int_t)target, "state",
                                           (int)FE_REPLICA_NORMAL, "version", (json_int_t)t->version), &e);
        break;
    case REPAIR_DROP:
        r = commit_locked(s, json_pack("{s:s,s:I,s:I}", "op", "replica_drop", "tablet", (json_int_t)t->tablet_id,
                                       "replica", (json_int_t)t->replica_id), &e);
        if (r == 0)
            fe_send_drop(s, t->backend_id, t->tablet_id, t->replica_id);
        break;
    }
    if (r == 0) {
        metrics_inc(s->m.repairs_ok);
        tlog_info(t->tablet_id, "repair %s of replica %lld on backend %lld done (version %lld)",
                  repair_kind_name(t->kind), (long long)target, (long long)t->backend_id, (long long)t->version);
    } else {
        metrics_inc(s->m.repairs_failed);
        tlog_warn(t->tablet_id, "repair %s of replica %lld on backend %lld failed: %s", repair_kind_name(t->kind),
                  (long long)target, (long long)t->backend_id, err_msg(&e));
    }
}

void fe_repair_round(struct fe_server *s)
{
    struct repair_task tasks[16];
    pthread_mutex_lock(&s->lock);
    size_t n = s->meta->master ? repair_plan(&s->meta->cat, fe_now_ms(), &s->busy, tasks, 16) : 0;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n && !atomic_load(&s->stopping); i++)
        run_task(s, &tasks[i]);
    if (n > 0) {
        /* a clone may change what the replicas should be told */
        struct coolconf_push_vec pv = { 0 };
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < n; i++) {
            struct fe_tablet *t = catalog_tablet(&s->meta->cat, tasks[i].tablet_id);
            if (t)
                t->push_needed = true;
        }
        coolconf_collect_pushes(&s->meta->cat, &pv);
        pthread_mutex_unlock(&s->lock);
        fe_send_pushes(s, &pv);
    }
}

/* ---- HTTP ---- */

static int http_status(void *arg, const struct httpd_req *req, struct buf *out, struct err *e)
{
    struct fe_server *s = arg;
    (void)req;
    (void)e;
    size_t loads_open = fe_loads_open(s);
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    buf_printf(out, "{\"role\":\"fe\",\"master\":%s,\"master_epoch\":%lld,\"remote_delete_pending\":%zu,"
               "\"loads_open\":%zu,"
               "\"last_seq\":%lld,\"backends\":%zu,\"tables\":%zu,"
               "\"tablets\":%zu,\"replicas\":%lld,\"max_term\":%lld,\"delete_confirmed\":%lld,\"delete_refused\":{",
               s->meta->master ? "true" : "false", (long long)s->epoch, c->rdrops.count, loads_open, (long long)c->last_seq, c->backends.count, c->tables.count,
               c->tablets.count, (long long)c->nreplicas, (long long)c->max_term, (long long)s->hs.confirmed);
    for (int i = 1; i < HS__COUNT; i++)
        buf_printf(out, "%s\"%s\":%lld", i > 1 ? "," : "", handshake_reason_name((enum hs_reason)i),
                   (long long)s->hs.refused[i]);
    buf_printf(out, "},\"elections\":%lld,\"reelections\":%lld,\"no_candidate\":%lld}", (long long)s->meta->elected,
               (long long)s->meta->reelected, (long long)s->meta->no_candidate);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void metrics_setup(struct fe_server *s)
{
    struct fe_metrics *m = &s->m;
    m->confirmed = metrics_counter("floe_fe_gc_confirmed_total", "remote delete candidate sets confirmed");
    for (int i = 1; i < HS__COUNT; i++) {
        struct buf n = BUF_INIT;
        buf_puts(&n, "floe_fe_gc_refused_total{");
        metrics_label(&n, "reason", handshake_reason_name((enum hs_reason)i));
        buf_puts(&n, "}");
        m->refused[i] = metrics_counter(buf_cstr(&n), "remote delete candidate sets refused, by reason");
        buf_release(&n);
    }
    m->elected = metrics_counter("floe_fe_cooldown_elections_total{kind=\"first\"}", "cooldown replica elections");
    m->reelected = metrics_counter("floe_fe_cooldown_elections_total{kind=\"replace\"}", "cooldown replica elections");
    m->no_candidate = metrics_counter("floe_fe_cooldown_no_candidate_total",
                                      "tablets that needed a new cooldown replica but had none eligible");
    m->pushes = metrics_counter("floe_fe_conf_pushes_total", "cooldown confs delivered to backends");
    m->push_errors = metrics_counter("floe_fe_conf_push_errors_total", "failed cooldown conf pushes");
    m->txns_ok = metrics_counter("floe_fe_txns_total{result=\"published\"}", "load transactions");
    m->txns_failed = metrics_counter("floe_fe_txns_total{result=\"aborted\"}", "load transactions");
    m->rows_loaded = metrics_counter("floe_fe_rows_loaded_total", "rows made visible by loads");
    m->repairs_ok = metrics_counter("floe_fe_repairs_total{result=\"ok\"}", "replica repairs");
    m->repairs_failed = metrics_counter("floe_fe_repairs_total{result=\"failed\"}", "replica repairs");
    m->backends_alive = metrics_gauge("floe_fe_backends{state=\"alive\"}", "backends by liveness");
    m->backends_dead = metrics_gauge("floe_fe_backends{state=\"dead\"}", "backends by liveness");
    m->scans = metrics_counter("floe_fe_scans_total", "table scans opened");
    m->reports = metrics_counter("floe_fe_tablet_reports_total", "tablet reports processed");
    m->fenced = metrics_counter("floe_fe_fenced_total",
                                "backend calls refused because a newer FE master (higher epoch) took over");
    m->rdrop_done = metrics_counter("floe_fe_remote_drop_total{result=\"deleted\"}",
                                    "dropped tablets' remote prefix deletions");
    m->rdrop_failed = metrics_counter("floe_fe_remote_drop_total{result=\"retry\"}",
                                      "dropped tablets' remote prefix deletions");
    m->rdrop_pending = metrics_gauge("floe_fe_remote_drop_pending", "dropped tablets whose remote prefix is not deleted yet");
}

/* ---- lifecycle ---- */

int fe_server_start(const struct fe_conf *conf, struct fe_server **ret, struct err *e)
{
    struct fe_server *s = xcalloc(1, sizeof(*s));
    int r;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->clients_lock, NULL);
    pthread_mutex_init(&s->cursors_lock, NULL);
    pthread_mutex_init(&s->bg_mu, NULL);
    pthread_cond_init(&s->bg_cv, NULL);
    atomic_init(&s->stopping, false);
    s->conf = *conf;   /* strings borrowed: the caller keeps conf alive */
    s->next_cursor = 1;
    metrics_setup(s);
    if ((r = auth_token_load(conf->cluster_token_file, &s->token, e)) < 0) {
        err_prefix(e, "cluster_token_file");
        goto fail;
    }
    struct fe_params p = { .backend_dead_after_ms = conf->backend_dead_after_s * 1000,
                           .cooldown_replica_timeout_ms = conf->cooldown_replica_timeout_s * 1000 };
    if ((r = meta_open(conf->meta_dir, &p, &s->meta, e)) < 0)
        goto fail;
    s->meta->checkpoint_every = conf->checkpoint_records;
    /* a new master epoch, durable before anything is sent to a backend: a
     * backend that has seen it refuses every older master (DESIGN §3) */
    if ((r = meta_commit(s->meta, json_pack("{s:s,s:I}", "op", "master_epoch", "epoch",
                                            (json_int_t)(s->meta->cat.master_epoch + 1)), e)) < 0) {
        err_prefix(e, "meta_dir %s: cannot journal the master epoch", conf->meta_dir);
        goto fail;
    }
    s->epoch = s->meta->cat.master_epoch;
    s->sender = tpool_new("fe-send", 4, 4096);
    s->pusher = tpool_new("fe-push", FE_PUSH_THREADS, 4096);
    if (!s->sender || !s->pusher) {
        r = err_set(e, FLOE_EINTERNAL, "cannot start the sender threads");
        goto fail;
    }
    fe_svc_init(s);
    struct rpc_server_opts o = { .name = "fe", .host = conf->listen_host, .port = (int)conf->rpc_port,
                                 .token = &s->token, .workers = (int)conf->rpc_workers };
    if ((r = rpc_server_new(&o, &s->rpc, e)) < 0 ||
        (r = idl_frontend_service_register(s->rpc, &s->handlers, e)) < 0 || (r = rpc_server_start(s->rpc, e)) < 0)
        goto fail;
    {
        const char *adv = conf->advertise_host && *conf->advertise_host ? conf->advertise_host
                          : conf->listen_host && strcmp(conf->listen_host, "0.0.0.0") != 0 ? conf->listen_host : "";
        if (*adv)
            snprintf(s->fe_address, sizeof(s->fe_address), "%s:%d", adv, rpc_server_port(s->rpc));
    }
    if (conf->http_port > 0) {
        const char *bind = strcmp(conf->listen_host, "0.0.0.0") == 0 ? NULL : conf->listen_host;
        if ((r = httpd_start((int)conf->http_port, bind, &s->http, e)) < 0 ||
            (r = httpd_add_get(s->http, "/status", http_status, s, e)) < 0) {
            err_prefix(e, "http_port %lld", (long long)conf->http_port);
            goto fail;
        }
    }
    if (pthread_create(&s->bg, NULL, bg_main, s) != 0) {
        r = err_set(e, FLOE_EINTERNAL, "cannot start the background thread");
        goto fail;
    }
    s->bg_started = true;
    if (pthread_create(&s->repair_th, NULL, repair_main, s) != 0) {
        r = err_set(e, FLOE_EINTERNAL, "cannot start the repair thread");
        goto fail;
    }
    s->repair_started = true;
    log_info("floe-fe %s serving rpc on %s:%d, http on %lld, meta %s, master epoch %lld%s%s", FLOE_VERSION,
             conf->listen_host, rpc_server_port(s->rpc), (long long)conf->http_port, conf->meta_dir,
             (long long)s->epoch, s->fe_address[0] ? ", announced to backends as " : "", s->fe_address);
    *ret = s;
    return 0;
fail:
    fe_server_stop(s);
    return r;
}

int fe_server_rpc_port(const struct fe_server *s)
{
    return rpc_server_port(s->rpc);
}

void fe_server_stop(struct fe_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    pthread_mutex_lock(&s->bg_mu);
    pthread_cond_broadcast(&s->bg_cv);
    pthread_mutex_unlock(&s->bg_mu);
    if (s->rpc)
        rpc_server_stop(s->rpc);
    if (s->bg_started)
        pthread_join(s->bg, NULL);
    if (s->repair_started)
        pthread_join(s->repair_th, NULL);
    httpd_stop(s->http);
    fe_loads_free_all(s);   /* no chunk is running: the RPC server is stopped */
    tpool_free(s->sender);
    tpool_free(s->pusher);
    rpc_server_free(s->rpc);
    fe_cursors_free_all(s);
    if (s->meta && s->meta->master) {
        struct err e = { 0 };
        if (meta_checkpoint(s->meta, &e) < 0)
            log_warn("checkpoint at shutdown failed: %s", err_msg(&e));
    }
    for (size_t i = 0; i < s->clients.cap; i++)
        if (s->clients.slots[i].key)
            be_client_free(s->clients.slots[i].val);
    idmap_release(&s->clients);
    for (size_t i = 0; i < s->nretired; i++)
        be_client_free(s->retired[i]);
    free(s->retired);
    idmap_release(&s->cursors);
    idmap_release(&s->busy);
    idmap_release(&s->push_busy);
    free(s->labels_running);
    meta_close(s->meta);
    auth_token_release(&s->token);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->clients_lock);
    pthread_mutex_destroy(&s->cursors_lock);
    pthread_mutex_destroy(&s->bg_mu);
    pthread_cond_destroy(&s->bg_cv);
    free(s);
}
