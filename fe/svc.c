/*
 * svc: FrontendService handlers for backends (register, heartbeat, tablet
 * report) and for the catalog (backends, resources, policies, tables,
 * tablets). Loads and scans are in load.c and scan.c.
 */
#define LOG_MODULE "svc"
#include "server_int.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "log.h"
#include "objstore.h"
#include "ops.h"
#include "report.h"
#include "uuid.h"

#include <stdlib.h>
#include <string.h>

static int h_register(void *ctx, const struct idl_register_backend_req *req, struct idl_register_backend_reply *reply,
                      struct err *e)
{
    struct fe_server *s = ctx;
    int64_t id = 0;
    int64_t now = fe_now_ms();
    pthread_mutex_lock(&s->lock);
    int r = ops_backend_register(s->meta, req->backend_id, req->host, req->port, req->http_port, now, &id, e);
    if (r == 0) {
        struct fe_backend *b = catalog_backend(&s->meta->cat, id);
        b->disk_capacity_bytes = req->disk_capacity_bytes;
        snprintf(b->version, sizeof(b->version), "%s", req->version ? req->version : "");
    }
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        return r;
    reply->backend_id = id;
    reply->fe_epoch = s->epoch;
    return 0;
}

static int h_heartbeat(void *ctx, const struct idl_heartbeat_req *req, struct idl_heartbeat_reply *reply,
                       struct err *e)
{
    struct fe_server *s = ctx;
    int r = 0;
    pthread_mutex_lock(&s->lock);
    struct fe_backend *b = catalog_backend(&s->meta->cat, req->backend_id);
    if (!b) {
        r = err_set(e, FLOE_ENOTFOUND, "backend %lld is not registered with this FE", (long long)req->backend_id);
    } else {
        b->last_hb_ms = fe_now_ms();
        b->num_tablets = req->num_tablets;
        b->disk_used_bytes = req->disk_used_bytes;
        b->disk_capacity_bytes = req->disk_capacity_bytes;
        b->start_time_ms = req->start_time_ms;
        reply->decommissioned = b->decommissioned;
    }
    pthread_mutex_unlock(&s->lock);
    reply->fe_epoch = s->epoch;
    reply->master_epoch = s->epoch;
    return r;
}

static int h_tablet_report(void *ctx, const struct idl_tablet_report_req *req, struct idl_tablet_report_reply *reply,
                           struct err *e)
{
    struct fe_server *s = ctx;
    size_t n = req->tablets_len;
    struct report_tablet *rt = xcalloc(n ? n : 1, sizeof(*rt));
    for (size_t i = 0; i < n; i++) {
        const struct idl_tablet_info *ti = &req->tablets[i];
        rt[i].tablet_id = ti->tablet_id;
        rt[i].replica_id = ti->replica_id;
        rt[i].version = ti->version;
        rt[i].cooldown_replica_id = ti->cooldown_replica_id;
        rt[i].cooldown_term = ti->cooldown_term;
        rt[i].cooldowned_version = ti->cooldowned_version;
        rt[i].local_bytes = ti->local_bytes;
        rt[i].remote_bytes = ti->remote_bytes;
        rt[i].bad = ti->state == IDL_TABLET_STATE_BAD;
        rt[i].delete_id = ti->delete_id;
        snprintf(rt[i].meta_id, sizeof(rt[i].meta_id), "%s", ti->cooldown_meta_id ? ti->cooldown_meta_id : "");
    }
    struct report_result res = { 0 };
    struct hs_stats hs = { 0 };
    int64_t now = fe_now_ms();
    pthread_mutex_lock(&s->lock);
    struct fe_backend *b = catalog_backend(&s->meta->cat, req->backend_id);
    if (b)
        b->last_hb_ms = now;
    int r = report_process(s->meta, req->backend_id, rt, n, req->full, now, &res, &hs, e);
    s->hs.confirmed += hs.confirmed;
    for (int i = 0; i < HS__COUNT; i++)
        s->hs.refused[i] += hs.refused[i];
    pthread_mutex_unlock(&s->lock);
    free(rt);
    metrics_inc(s->m.reports);
    metrics_add(s->m.confirmed, hs.confirmed);
    for (int i = 1; i < HS__COUNT; i++)
        metrics_add(s->m.refused[i], hs.refused[i]);
    if (r == 0) {
        reply->accepted = (int32_t)n;
        reply->master_epoch = s->epoch;
        for (size_t i = 0; i < res.pushes.n && !FAULT_ON("fe.push.drop"); i++) {
            struct idl_cooldown_conf *c = idl_tablet_report_reply_add_cooldown_confs(reply);
            c->tablet_id = res.pushes.v[i].tablet_id;
            c->cooldown_replica_id = res.pushes.v[i].cooldown_replica_id;
            c->cooldown_term = res.pushes.v[i].term;
        }
        /* replicas the catalog no longer has (dropped table, moved replica): drop them */
        for (size_t i = 0; i < res.ndrops; i++) {
            idl_tablet_report_reply_add_unknown_tablets(reply, res.drops[i].tablet_id);
            fe_send_drop(s, req->backend_id, res.drops[i].tablet_id, res.drops[i].replica_id);
        }
        /* the confirmation is journaled; now tell the uploader (a crash here: the next round asks again) */
        if (res.ndeletes > 0 && FAULT_POINT("fe.delete.after_confirm") < 0)
            res.ndeletes = 0;
        for (size_t i = 0; i < res.ndeletes; i++)
            fe_send_delete(s, req->backend_id, res.deletes[i].tablet_id, res.deletes[i].delete_id,
                           res.deletes[i].term);
    }
    report_result_release(&res);
    return r;
}

static int h_list_backends(void *ctx, const struct idl_list_backends_req *req, struct idl_list_backends_reply *reply,
                           struct err *e)
{
    struct fe_server *s = ctx;
    (void)e;
    int64_t now = fe_now_ms();
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    /* sorted by id */
    int64_t *ids = xcalloc(c->backends.count + 1, sizeof(*ids));
    size_t n = 0;
    for (size_t i = 0; i < c->backends.cap; i++)
        if (c->backends.slots[i].key) {
            size_t k = n++;
            while (k > 0 && ids[k - 1] > c->backends.slots[i].key) {
                ids[k] = ids[k - 1];
                k--;
            }
            ids[k] = c->backends.slots[i].key;
        }
    for (size_t i = 0; i < n; i++) {
        struct fe_backend *b = catalog_backend(c, ids[i]);
        bool alive = catalog_backend_alive(c, b, now);
        if (req->only_alive && !alive)
            continue;
        struct idl_backend_info *bi = idl_list_backends_reply_add_backends(reply);
        bi->backend_id = b->id;
        tidl_set_str(&bi->host, b->host);
        bi->port = b->rpc_port;
        bi->http_port = b->http_port;
        bi->alive = alive;
        bi->last_heartbeat_ms = b->last_hb_ms;
        bi->decommissioned = b->decommissioned;
        bi->num_tablets = (int32_t)b->nreplicas;
        bi->disk_used_bytes = b->disk_used_bytes;
        bi->disk_capacity_bytes = b->disk_capacity_bytes;
        tidl_set_str(&bi->version, b->version);
    }
    pthread_mutex_unlock(&s->lock);
    free(ids);
    return 0;
}

static int h_decommission(void *ctx, const struct idl_decommission_backend_req *req,
                          struct idl_decommission_backend_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    pthread_mutex_lock(&s->lock);
    int r = ops_backend_decommission(s->meta, req->backend_id, e);
    if (r == 0) {
        struct fe_backend *b = catalog_backend(&s->meta->cat, req->backend_id);
        reply->tablets_to_move = (int32_t)b->nreplicas;
        log_info("backend %lld decommissioned: %lld replicas to move", (long long)b->id, (long long)b->nreplicas);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

static int h_create_resource(void *ctx, const struct idl_create_resource_req *req,
                             struct idl_create_resource_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    const struct idl_resource *x = &req->resource;
    struct ops_resource_args a = {
        .name = x->name,
        .type = x->type == IDL_RESOURCE_TYPE_S3 ? "s3" : x->type == IDL_RESOURCE_TYPE_LOCAL ? "local" : "?",
        .root = nz(x->root_path), .endpoint = nz(x->endpoint), .region = nz(x->region), .bucket = nz(x->bucket),
        .prefix = nz(x->prefix), .path_style = x->path_style, .credentials_file = nz(x->credentials_file),
        .access_key_env = nz(x->access_key_env), .secret_key_env = nz(x->secret_key_env), .profile = nz(x->profile),
    };
    pthread_mutex_lock(&s->lock);
    struct fe_resource *old = catalog_resource_by_name(&s->meta->cat, x->name ? x->name : "");
    int r;
    if (old && req->if_not_exists) {
        reply->resource_id = old->id;
        r = 0;
    } else {
        r = ops_resource_create(s->meta, &a, e);
        if (r == 0)
            reply->resource_id = catalog_resource_by_name(&s->meta->cat, x->name)->id;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* Probes the resource from the FE host: put, get, list, delete of a probe object. */
static int h_check_resource(void *ctx, const struct idl_check_resource_req *req,
                            struct idl_check_resource_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    struct objstore_conf oc;
    objstore_conf_init(&oc);
    int r = 0;
    pthread_mutex_lock(&s->lock);
    struct fe_resource *res = catalog_resource_by_name(&s->meta->cat, req->name ? req->name : "");
    if (res) {
        oc.type = res->type == FE_RES_S3 ? OBJSTORE_S3 : OBJSTORE_LOCAL;
        const char *k[] = { "root", "prefix", "endpoint", "region", "bucket", "credentials_file", "profile" };
        const char *v[] = { res->root, res->prefix, res->endpoint, res->region, res->bucket, res->credentials_file,
                            res->profile };
        for (int i = 0; i < 7 && r == 0; i++)
            if (v[i])
                r = objstore_conf_set(&oc, k[i], v[i], e);
        oc.path_style = res->path_style;
        if (res->credentials_file)
            oc.cred_source = OBJSTORE_CRED_FILE;
        else if (res->access_key_env && res->secret_key_env) {
            const char *ak = getenv(res->access_key_env), *sk = getenv(res->secret_key_env);
            if (ak && sk) {
                oc.cred_source = OBJSTORE_CRED_EXPLICIT;
                oc.access_key = xstrdup(ak);
                oc.secret_key = xstrdup(sk);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (!res) {
        objstore_conf_release(&oc);
        return err_set(e, FLOE_ENOTFOUND, "resource '%s' does not exist", req->name ? req->name : "");
    }
    struct objstore *os = NULL;
    struct buf msg = BUF_INIT, got = BUF_INIT;
    char key[80], id[UUID_STR_LEN];
    struct err pe = { 0 };
    uuid_new_str(id);
    snprintf(key, sizeof(key), "floe-probe/fe-%s", id);
    const char *step = "open";
    if (r == 0 && (r = objstore_open(&oc, &os, &pe)) == 0) {
        step = "put";
        r = objstore_put(os, key, "floe probe", 10, &pe);
        if (r == 0) {
            step = "get";
            r = objstore_get_buf(os, key, 0, OBJSTORE_TO_END, &got, &pe);
        }
        if (r == 0 && (got.len != 10 || memcmp(got.data, "floe probe", 10) != 0)) {
            step = "get";
            r = err_set(&pe, FLOE_ECORRUPT, "probe object %s read back different bytes", key);
        }
        if (r == 0) {
            step = "list";
            struct objstore_list l = { NULL, 0 };
            r = objstore_list(os, "floe-probe/", &l, &pe);
            bool found = false;
            for (size_t i = 0; r == 0 && i < l.n; i++)
                found |= strcmp(l.entries[i].key, key) == 0;
            objstore_list_release(&l);
            if (r == 0 && !found)
                r = err_set(&pe, FLOE_ENOTFOUND, "probe object %s missing from the listing", key);
        }
        if (r == 0) {
            step = "delete";
            r = objstore_delete(os, key, &pe);
        }
    } else if (r < 0 && pe.code == 0) {
        pe = *e;
    }
    bool all_ok = r == 0;
    if (r == 0)
        buf_printf(&msg, "fe: put/get/list/delete of %s ok", key);
    else
        buf_printf(&msg, "fe: %s failed: %s", step, err_msg(&pe));
    idl_check_resource_reply_add_nodes(reply, buf_cstr(&msg));
    /* then from every alive backend, with its own credentials; a backend that
     * is not alive (and not decommissioned) is named as not probed and fails
     * the check, so a down node never passes silently */
    int64_t ids[256], down[256];
    size_t nb = 0, nd = 0;
    struct idl_resource ires;
    idl_resource_init(&ires);
    pthread_mutex_lock(&s->lock);
    struct catalog *cat = &s->meta->cat;
    int64_t now = fe_now_ms();
    res = catalog_resource_by_name(cat, req->name);
    if (res)
        fe_resource_to_idl(res, &ires);
    for (size_t i = 0; res && i < cat->backends.cap && nb < 256; i++) {
        struct fe_backend *b = cat->backends.slots[i].val;
        if (!cat->backends.slots[i].key || b->decommissioned)
            continue;
        if (catalog_backend_alive(cat, b, now))
            ids[nb++] = b->id;
        else if (nd < 256)
            down[nd++] = b->id;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < nb; i++) {
        struct rpc_client *bcl;
        struct idl_probe_resource_req pq;
        struct idl_probe_resource_reply pr;
        struct err be = { 0 };
        idl_probe_resource_req_init(&pq);
        struct buf enc = BUF_INIT;
        idl_resource_encode(&ires, &enc);
        idl_resource_release(&pq.resource);
        idl_resource_decode(enc.data, enc.len, NULL, &pq.resource, NULL);
        buf_release(&enc);
        char bid[UUID_STR_LEN];
        uuid_new_str(bid);
        char *bkey = xasprintf("floe-probe/be-%lld-%s", (long long)ids[i], bid);
        tidl_set_str(&pq.probe_key, bkey);
        free(bkey);
        buf_reset(&msg);
        int rc = fe_be_client(s, ids[i], BE_CTL, &bcl, &be);
        if (rc == 0 && (rc = idl_backend_service_probe_resource(bcl, &pq, &pr, &be)) == 0) {
            buf_printf(&msg, "backend %lld: %s%s%s", (long long)ids[i], pr.ok ? "ok" : "failed",
                       pr.message && *pr.message ? ": " : "", pr.message ? pr.message : "");
            all_ok &= pr.ok;
            idl_probe_resource_reply_release(&pr);
        } else {
            buf_printf(&msg, "backend %lld: probe failed: %s", (long long)ids[i], err_msg(&be));
            all_ok = false;
        }
        idl_check_resource_reply_add_nodes(reply, buf_cstr(&msg));
        idl_probe_resource_req_release(&pq);
    }
    for (size_t i = 0; i < nd; i++) {
        buf_reset(&msg);
        buf_printf(&msg, "backend %lld: not alive, not probed", (long long)down[i]);
        idl_check_resource_reply_add_nodes(reply, buf_cstr(&msg));
        all_ok = false;
    }
    idl_resource_release(&ires);
    reply->ok = all_ok;
    buf_reset(&msg);
    if (nd > 0)
        buf_printf(&msg, "resource %s: %s (%zu nodes checked, %zu backends not alive)", req->name,
                   all_ok ? "ok" : "FAILED", nb + 1, nd);
    else
        buf_printf(&msg, "resource %s: %s (%zu nodes checked)", req->name, all_ok ? "ok" : "FAILED", nb + 1);
    tidl_set_str(&reply->message, buf_cstr(&msg));
    objstore_close(os);
    objstore_conf_release(&oc);
    buf_release(&msg);
    buf_release(&got);
    return 0;
}

static int h_list_resources(void *ctx, const struct idl_list_resources_req *req,
                            struct idl_list_resources_reply *reply, struct err *e)
{
    struct fe_server *s = ctx;
    (void)e;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    for (size_t i = 0; i < c->resources.cap; i++) {
        struct fe_resource *r = c->resources.slots[i].val;
        if (!c->resources.slots[i].key || (req->name && *req->name && strcmp(req->name, r->name) != 0))
            continue;
        fe_resource_to_idl(r, idl_list_resources_reply_add_resources(reply));
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int h_create_policy(void *ctx, const struct idl_create_policy_req *req, struct idl_create_policy_reply *reply,
                           struct err *e)
{
    struct fe_server *s = ctx;
    const struct idl_storage_policy *p = &req->policy;
    pthread_mutex_lock(&s->lock);
    struct fe_policy *old = catalog_policy_by_name(&s->meta->cat, p->name ? p->name : "");
    int r = 0;
    if (old && req->if_not_exists) {
        reply->policy_id = old->id;
    } else {
        r = ops_policy_create(s->meta, p->name, p->resource, p->cooldown_ttl_s, p->cooldown_datetime_s, e);
        if (r == 0)
            reply->policy_id = catalog_policy_by_name(&s->meta->cat, p->name)->id;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int h_list_policies(void *ctx, const struct idl_list_policies_req *req, struct idl_list_policies_reply *reply,
                           struct err *e)
{
    struct fe_server *s = ctx;
    (void)e;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    for (size_t i = 0; i < c->policies.cap; i++) {
        struct fe_policy *p = c->policies.slots[i].val;
        if (!c->policies.slots[i].key || (req->name && *req->name && strcmp(req->name, p->name) != 0))
            continue;
        fe_policy_to_idl(c, p, idl_list_policies_reply_add_policies(reply));
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

struct create_job {
    int64_t backend_id;
    struct idl_create_tablet_req req;
    int64_t tablet_id, replica_id;
};

static int h_create_table(void *ctx, const struct idl_create_table_req *req, struct idl_create_table_reply *reply,
                          struct err *e)
{
    struct fe_server *s = ctx;
    struct buf schema = BUF_INIT, keys = BUF_INIT;
    for (size_t i = 0; i < req->schema.columns_len; i++) {
        const struct idl_column_def *c = &req->schema.columns[i];
        int32_t t = c->type - 1;
        const char *tn = t >= 0 && t <= FE_COL_TIMESTAMP ? catalog_col_type_name((enum fe_col_type)t) : "unknown";
        buf_printf(&schema, "%s%s:%s%s", i ? "," : "", c->name ? c->name : "", tn, c->nullable ? "?" : "");
        if (c->is_key)
            buf_printf(&keys, "%s%s", keys.len ? "," : "", c->name ? c->name : "");
    }
    struct ops_table_args a = { .name = req->name, .schema = buf_cstr(&schema), .keys = buf_cstr(&keys),
                                .model = req->schema.key_model == IDL_KEY_MODEL_UNIQUE ? "unique" : "duplicate",
                                .buckets = req->buckets, .replicas = req->replication,
                                .policy = req->storage_policy };
    if (req->distribution_len > 0) {
        buf_release(&schema);
        buf_release(&keys);
        return err_set(e, FLOE_EUNSUPPORTED, "table '%s': distribution columns other than the key are not "
                       "supported", req->name);
    }
    int64_t id = 0;
    struct create_job *jobs = NULL;
    size_t njobs = 0;
    pthread_mutex_lock(&s->lock);
    struct fe_table *old = catalog_table_by_name(&s->meta->cat, req->name ? req->name : "");
    int r;
    if (old && req->if_not_exists) {
        id = old->id;
        r = 0;
    } else {
        r = ops_table_create(s->meta, &a, fe_now_ms(), &id, e);
        struct fe_table *t = r == 0 ? catalog_table(&s->meta->cat, id) : NULL;
        if (t) {
            jobs = xcalloc((size_t)t->buckets * (size_t)t->replication, sizeof(*jobs));
            for (int32_t b = 0; b < t->buckets; b++) {
                struct fe_tablet *tb = catalog_tablet(&s->meta->cat, t->tablet_ids[b]);
                for (int k = 0; k < tb->nreplicas; k++) {
                    struct create_job *j = &jobs[njobs++];
                    j->backend_id = tb->replicas[k].backend_id;
                    j->tablet_id = tb->id;
                    j->replica_id = tb->replicas[k].id;
                    idl_create_tablet_req_init(&j->req);
                    fe_fill_create(&s->meta->cat, tb, &tb->replicas[k], &j->req);
                }
            }
            /* the confs in the create requests are the delivery of the election */
            for (int32_t b = 0; b < t->buckets; b++)
                catalog_tablet(&s->meta->cat, t->tablet_ids[b])->push_needed = false;
        }
    }
    if (r == 0) {
        struct fe_table *t = catalog_table(&s->meta->cat, id);
        reply->table_id = id;
        for (int32_t b = 0; t && b < t->buckets; b++)
            idl_create_table_reply_add_tablet_ids(reply, t->tablet_ids[b]);
    }
    pthread_mutex_unlock(&s->lock);
    buf_release(&schema);
    buf_release(&keys);
    /* create the replicas; one that fails is marked bad and the repair loop creates it */
    size_t failed = 0;
    for (size_t i = 0; i < njobs; i++) {
        struct rpc_client *cl;
        struct idl_create_tablet_reply rp;
        struct err ce = { 0 };
        int rc = fe_be_client(s, jobs[i].backend_id, BE_CTL, &cl, &ce);
        if (rc == 0 && (rc = idl_backend_service_create_tablet(cl, &jobs[i].req, &rp, &ce)) == 0)
            idl_create_tablet_reply_release(&rp);
        if (rc < 0) {
            failed++;
            tlog_warn(jobs[i].tablet_id, "creating replica %lld on backend %lld failed (repair retries): %s",
                      (long long)jobs[i].replica_id, (long long)jobs[i].backend_id, err_msg(&ce));
            pthread_mutex_lock(&s->lock);
            meta_commit(s->meta, json_pack("{s:s,s:I,s:I,s:i}", "op", "replica_state", "tablet",
                                           (json_int_t)jobs[i].tablet_id, "replica", (json_int_t)jobs[i].replica_id,
                                           "state", (int)FE_REPLICA_BAD), &ce);
            pthread_mutex_unlock(&s->lock);
        }
        idl_create_tablet_req_release(&jobs[i].req);
    }
    free(jobs);
    if (failed)
        log_warn("table '%s': %zu of %zu replicas could not be created yet", req->name, failed, njobs);
    return r;
}

static int h_drop_table(void *ctx, const struct idl_drop_table_req *req, struct idl_drop_table_reply *reply,
                        struct err *e)
{
    struct fe_server *s = ctx;
    struct drop_plan {
        int64_t tablet;
        int n;
        bool cooled;
        int64_t bes[64], reps[64];
    } *plan = NULL;
    int32_t nplan = 0;
    pthread_mutex_lock(&s->lock);
    struct fe_table *t = catalog_table_by_name(&s->meta->cat, req->name ? req->name : "");
    int r = 0;
    if (!t) {
        if (!req->if_exists)
            r = err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", req->name ? req->name : "");
    } else {
        reply->existed = true;
        plan = xcalloc((size_t)t->buckets, sizeof(*plan));
        for (int32_t b = 0; b < t->buckets; b++) {
            struct fe_tablet *tb = catalog_tablet(&s->meta->cat, t->tablet_ids[b]);
            if (!tb)
                continue;
            struct drop_plan *p = &plan[nplan++];
            p->tablet = tb->id;
            p->cooled = tb->cooldown_term > 0;
            for (int k = 0; k < tb->nreplicas && k < 64; k++) {
                p->bes[p->n] = tb->replicas[k].backend_id;
                p->reps[p->n++] = tb->replicas[k].id;
            }
        }
        r = ops_table_drop(s->meta, req->name, e);
    }
    /* a cooled tablet got a journaled remote delete pending entry with the drop:
     * the background pass drops its replicas and deletes its prefix, retrying */
    for (int32_t i = 0; r == 0 && i < nplan; i++)
        if (catalog_rdrop(&s->meta->cat, plan[i].tablet))
            plan[i].n = -1;
    pthread_mutex_unlock(&s->lock);
    /* journaled: now drop the replicas (a backend that misses it is told again via its reports) */
    bool kick = false;
    for (int32_t i = 0; r == 0 && i < nplan; i++) {
        if (plan[i].n < 0)
            kick = true;
        else
            fe_send_tablet_drop(s, plan[i].tablet, plan[i].bes, plan[i].reps, plan[i].n, plan[i].cooled);
    }
    free(plan);
    if (kick)
        fe_rdrop_pass(s);
    return r;
}

static void table_info(const struct catalog *c, const struct fe_table *t, struct idl_table_info *ti)
{
    ti->table_id = t->id;
    tidl_set_str(&ti->name, t->name);
    fe_schema_to_idl(&t->schema, t->model, &ti->schema);
    ti->buckets = t->buckets;
    ti->replication = t->replication;
    const struct fe_policy *p = t->policy_id ? catalog_policy(c, t->policy_id) : NULL;
    tidl_set_str(&ti->storage_policy, p ? p->name : "");
    ti->version = t->version;
}

static int h_list_tables(void *ctx, const struct idl_list_tables_req *req, struct idl_list_tables_reply *reply,
                         struct err *e)
{
    struct fe_server *s = ctx;
    int r = 0;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    if (req->name && *req->name) {
        struct fe_table *t = catalog_table_by_name(c, req->name);
        if (!t)
            r = err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", req->name);
        else
            table_info(c, t, idl_list_tables_reply_add_tables(reply));
    } else {
        for (size_t i = 0; i < c->tables.cap; i++)
            if (c->tables.slots[i].key)
                table_info(c, c->tables.slots[i].val, idl_list_tables_reply_add_tables(reply));
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void tablet_replicas(const struct catalog *c, const struct fe_table *tb, const struct fe_tablet *t,
                            struct idl_tablet_replicas *out)
{
    (void)c;
    out->tablet_id = t->id;
    out->table_id = t->table_id;
    tidl_set_str(&out->table, tb->name);
    out->bucket = t->bucket;
    out->cooldown_replica_id = t->cooldown_replica_id;
    out->cooldown_term = t->cooldown_term;
    for (int k = 0; k < t->nreplicas; k++) {
        const struct fe_replica *r = &t->replicas[k];
        struct idl_replica_info *ri = idl_tablet_replicas_add_replicas(out);
        ri->replica_id = r->id;
        ri->backend_id = r->backend_id;
        ri->version = r->version;
        ri->state = fe_state_to_idl(r->state);
        ri->bad = r->state == FE_REPLICA_BAD;
        tidl_set_str(&ri->fe_state, catalog_replica_state_name(r->state));
        ri->reported.tablet_id = t->id;
        ri->reported.replica_id = r->id;
        if (r->rep_ms) {
            ri->reported.version = r->rep_version;
            ri->reported.cooldown_replica_id = r->rep_cooldown_replica_id;
            ri->reported.cooldown_term = r->rep_cooldown_term;
            ri->reported.cooldowned_version = r->rep_cooldowned_version;
            tidl_set_str(&ri->reported.cooldown_meta_id, r->rep_meta_id);
            ri->reported.local_bytes = r->local_bytes;
            ri->reported.remote_bytes = r->remote_bytes;
        } else {
            ri->reported.state = IDL_TABLET_STATE_UNKNOWN;
        }
    }
}

static int h_list_tablets(void *ctx, const struct idl_list_tablets_req *req, struct idl_list_tablets_reply *reply,
                          struct err *e)
{
    struct fe_server *s = ctx;
    int r = 0;
    pthread_mutex_lock(&s->lock);
    struct catalog *c = &s->meta->cat;
    if (req->tablet_ids_len > 0) {
        for (size_t i = 0; i < req->tablet_ids_len; i++) {
            struct fe_tablet *t = catalog_tablet(c, req->tablet_ids[i]);
            if (!t) {
                r = err_set(e, FLOE_ENOTFOUND, "tablet %lld does not exist", (long long)req->tablet_ids[i]);
                break;
            }
            tablet_replicas(c, catalog_table(c, t->table_id), t, idl_list_tablets_reply_add_tablets(reply));
        }
    } else if (req->table && *req->table) {
        struct fe_table *t = catalog_table_by_name(c, req->table);
        if (!t)
            r = err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", req->table);
        for (int32_t b = 0; t && b < t->buckets; b++)
            tablet_replicas(c, t, catalog_tablet(c, t->tablet_ids[b]), idl_list_tablets_reply_add_tablets(reply));
    } else {
        for (size_t i = 0; i < c->tables.cap; i++) {
            struct fe_table *t = c->tables.slots[i].val;
            for (int32_t b = 0; c->tables.slots[i].key && b < t->buckets; b++)
                tablet_replicas(c, t, catalog_tablet(c, t->tablet_ids[b]), idl_list_tablets_reply_add_tablets(reply));
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

void fe_svc_init(struct fe_server *s)
{
    struct idl_frontend_service_handlers *h = &s->handlers;
    memset(h, 0, sizeof(*h));
    h->ctx = s;
    h->register_backend = h_register;
    h->heartbeat = h_heartbeat;
    h->tablet_report = h_tablet_report;
    h->load = fe_svc_load;
    h->scan = fe_svc_scan;
    h->scan_close = fe_svc_scan_close;
    h->list_backends = h_list_backends;
    h->decommission_backend = h_decommission;
    h->create_resource = h_create_resource;
    h->check_resource = h_check_resource;
    h->list_resources = h_list_resources;
    h->create_policy = h_create_policy;
    h->list_policies = h_list_policies;
    h->create_table = h_create_table;
    h->drop_table = h_drop_table;
    h->list_tables = h_list_tables;
    h->list_tablets = h_list_tablets;
}
