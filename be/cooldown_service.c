/* cooldown_service: BackendService hooks for cooldown and the resources file. */
#define LOG_MODULE "cooldown"
#include "cooldown_service.h"

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "idl_conv.h"
#include "jsonutil.h"
#include "log.h"
#include "objstore.h"
#include "resource.h"
#include "tidl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *nz(const char *s) { return s ? s : ""; }

int cooldown_resource_conf(const struct idl_resource *r, struct objstore_conf *conf, struct err *e)
{
    objstore_conf_init(conf);
    const char *name = nz(r->name);
    int rc = 0;
#define SET(k, v)                                                                                                      \
    do {                                                                                                               \
        if (rc == 0 && (v) && *(v))                                                                                    \
            rc = objstore_conf_set(conf, (k), (v), e);                                                                 \
    } while (0)
    if (r->type == IDL_RESOURCE_TYPE_LOCAL) {
        SET("type", "local");
        if (!r->root_path || !*r->root_path)
            rc = err_set(e, FLOE_ECONFIG, "resource %s: type local needs root_path", name);
        SET("root", r->root_path);
        SET("prefix", r->prefix);
    } else if (r->type == IDL_RESOURCE_TYPE_S3) {
        SET("type", "s3");
        SET("endpoint", r->endpoint);
        SET("region", r->region);
        SET("bucket", r->bucket);
        SET("prefix", r->prefix);
        SET("path_style", r->path_style ? "true" : "false");
        if (rc == 0 && r->access_key_env && *r->access_key_env) {
            const char *ak = getenv(r->access_key_env);
            const char *sk = r->secret_key_env && *r->secret_key_env ? getenv(r->secret_key_env) : NULL;
            if (!ak || !sk)
                rc = err_set(e, FLOE_ECONFIG,
                             "resource %s: environment variables %s / %s with the credentials are not set", name,
                             r->access_key_env, nz(r->secret_key_env));
            SET("credentials", "explicit");
            SET("access_key", ak);
            SET("secret_key", sk);
        } else if (rc == 0 && r->credentials_file && *r->credentials_file) {
            SET("credentials", "file");
            SET("credentials_file", r->credentials_file);
            SET("profile", r->profile);
        } else {
            SET("credentials", "env");
        }
    } else {
        rc = err_set(e, FLOE_ECONFIG, "resource %s: unknown type %d", name, (int)r->type);
    }
#undef SET
    if (rc < 0) {
        err_prefix(e, "resource %s", name);
        objstore_conf_release(conf);
    }
    return rc;
}

/* ---- resources.json ---- */

static json_t *resource_to_json(const struct idl_resource *r)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s}", "name", nz(r->name), "type",
                     (int)r->type, "endpoint", nz(r->endpoint), "region", nz(r->region), "bucket", nz(r->bucket),
                     "prefix", nz(r->prefix), "path_style", (int)r->path_style, "root_path", nz(r->root_path),
                     "credentials_file", nz(r->credentials_file), "access_key_env", nz(r->access_key_env),
                     "secret_key_env", nz(r->secret_key_env), "profile", nz(r->profile));
}

static int resource_from_json(const json_t *j, struct idl_resource *r, const char *ctx, struct err *e)
{
    idl_resource_init(r);
    const char *s;
    int64_t type;
    int rc;
    if ((rc = json_get_i64(j, "type", &type, ctx, e)) < 0)
        return rc;
    r->type = (int32_t)type;
    bool ps = true;
    if ((rc = json_get_bool(j, "path_style", &ps, ctx, e)) < 0)
        return rc;
    r->path_style = ps;
    static const char *keys[] = { "name", "endpoint", "region", "bucket", "prefix", "root_path", "credentials_file",
                                  "access_key_env", "secret_key_env", "profile" };
    char **dst[] = { &r->name, &r->endpoint, &r->region, &r->bucket, &r->prefix, &r->root_path, &r->credentials_file,
                     &r->access_key_env, &r->secret_key_env, &r->profile };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if ((rc = json_get_str(j, keys[i], &s, ctx, e)) < 0)
            return rc;
        tidl_set_str(dst[i], s);
    }
    return 0;
}

/* Adds r to the file (replacing an entry of the same name). */
static int persist(struct cooldown_service *cs, const struct idl_resource *r, struct err *e)
{
    struct buf b = BUF_INIT;
    json_t *root = NULL;
    int rc = fs_read_file(cs->resources_path, &b, 16u << 20, e);
    if (rc == -ENOENT) {
        root = json_object();
        err_clear(e);
        rc = 0;
    } else if (rc == 0) {
        rc = json_parse(buf_cstr(&b), b.len, &root, cs->resources_path, e);
    }
    if (rc == 0) {
        json_object_set_new(root, nz(r->name), resource_to_json(r));
        buf_reset(&b);
        if ((rc = json_dump_buf(root, &b, e)) == 0)
            rc = fs_write_atomic(cs->resources_path, b.data, b.len, e);
    }
    json_decref(root);
    buf_release(&b);
    return rc;
}

static int put_resource(struct cooldown_service *cs, const struct idl_resource *r, struct err *e)
{
    struct objstore_conf conf;
    int rc = cooldown_resource_conf(r, &conf, e);
    if (rc < 0)
        return rc;
    rc = resource_put(cs->reg, nz(r->name), &conf, e);
    objstore_conf_release(&conf);
    return rc;
}

int cooldown_service_put_resource(struct cooldown_service *cs, const struct idl_resource *r, struct err *e)
{
    int rc = put_resource(cs, r, e);
    if (rc == 0)
        rc = persist(cs, r, e);
    return rc;
}

int cooldown_service_init(struct cooldown_service *cs, struct cooldown *cd, struct resource_registry *reg,
                          const char *storage_root, struct err *e)
{
    memset(cs, 0, sizeof(*cs));
    cs->cd = cd;
    cs->reg = reg;
    cs->resources_path = xasprintf("%s/resources.json", storage_root);
    struct buf b = BUF_INIT;
    json_t *root = NULL;
    int rc = fs_read_file(cs->resources_path, &b, 16u << 20, e);
    if (rc == -ENOENT) {
        err_clear(e);
        rc = 0;
        goto out;
    }
    if (rc < 0 || (rc = json_parse(buf_cstr(&b), b.len, &root, cs->resources_path, e)) < 0)
        goto out;
    if (!json_is_object(root)) {
        rc = err_set(e, FLOE_ECORRUPT, "%s: not a JSON object", cs->resources_path);
        goto out;
    }
    const char *name;
    json_t *j;
    json_object_foreach(root, name, j)
    {
        struct idl_resource r;
        rc = resource_from_json(j, &r, cs->resources_path, e);
        if (rc == 0 && (rc = put_resource(cs, &r, e)) < 0)
            log_warn("%s: %s (skipped until the FE pushes it again)", cs->resources_path, err_msg(e));
        idl_resource_release(&r);
        if (rc == FLOE_ECORRUPT)
            goto out;
        rc = 0;
    }
out:
    json_decref(root);
    buf_release(&b);
    return rc;
}

void cooldown_service_release(struct cooldown_service *cs)
{
    if (!cs)
        return;
    free(cs->resources_path);
    memset(cs, 0, sizeof(*cs));
}

/* ---- hooks ---- */

static int h_push_conf(void *ctx, const struct idl_push_cooldown_conf_req *req,
                       struct idl_push_cooldown_conf_reply *rep, struct err *e)
{
    struct cooldown_service *cs = ctx;
    (void)e;
    for (size_t i = 0; i < req->confs_len; i++) {
        const struct idl_cooldown_conf *c = &req->confs[i];
        struct err te = { 0 };
        int r = cooldown_push_conf(cs->cd, c->tablet_id, c->cooldown_replica_id, c->cooldown_term, &te);
        struct idl_tablet_result *tr = idl_push_cooldown_conf_reply_add_tablets(rep);
        tr->tablet_id = c->tablet_id;
        tr->code = r;
        if (r < 0)
            tidl_set_str(&tr->message, err_msg(&te));
    }
    return 0;
}

static int h_cooldown_delete(void *ctx, const struct idl_cooldown_delete_req *req,
                             struct idl_cooldown_delete_reply *rep, struct err *e)
{
    struct cooldown_service *cs = ctx;
    struct cooldown_report cr;
    int r = cooldown_tablet_report(cs->cd, req->tablet_id, &cr, e);
    if (r < 0)
        return r;
    if (req->cooldown_term && req->cooldown_term != cr.cooldown_term) {
        tlog_info(req->tablet_id, "cooldown_delete for term %" PRId64 " but this replica is at term %" PRId64
                  "; ignored", req->cooldown_term, cr.cooldown_term);
        rep->accepted = false;
        return 0;
    }
    uint64_t n = 0;
    bool acc = false;
    r = cooldown_delete(cs->cd, req->tablet_id, req->delete_id, &acc, &n, e);
    rep->accepted = acc;
    rep->deleted_objects = (int64_t)n;
    return r;
}

static int h_compact_cold(void *ctx, const struct idl_compact_req *req, struct idl_compact_reply *rep, struct err *e)
{
    struct cooldown_service *cs = ctx;
    bool done = false;
    int r = cooldown_cold_compact(cs->cd, req->tablet_id, 2, &done, e);
    if (r < 0)
        return r;
    rep->compacted = done;
    rep->tablet.tablet_id = req->tablet_id;
    return 0;
}

static void h_fill(void *ctx, struct idl_tablet_info *ti)
{
    struct cooldown_service *cs = ctx;
    struct cooldown_report cr;
    if (cooldown_tablet_report(cs->cd, ti->tablet_id, &cr, NULL) < 0)
        return;
    ti->cooldown_replica_id = cr.cooldown_replica_id;
    ti->cooldown_term = cr.cooldown_term;
    tidl_set_str(&ti->cooldown_meta_id, cr.cooldown_meta_id);
    ti->cooldowned_version = cr.cooldowned_version;
    ti->delete_id = cr.delete_id;
    ti->delete_candidates = (int64_t)cr.delete_candidates;
    ti->remote_bytes = (int64_t)cr.remote_bytes;
    tidl_set_str(&ti->storage_policy, cr.storage_policy);
}

static int h_drop(void *ctx, int64_t tablet_id, bool delete_remote, struct err *e)
{
    struct cooldown_service *cs = ctx;
    return cooldown_drop_tablet(cs->cd, tablet_id, delete_remote, e);
}

/* put, ranged get, list, delete of one probe object with the resource as described (its own handle). */
static int h_probe(void *ctx, const struct idl_probe_resource_req *req, struct idl_probe_resource_reply *rep,
                   struct err *e)
{
    (void)ctx;
    (void)e;
    struct objstore_conf conf;
    struct objstore *os = NULL;
    struct err pe = { 0 };
    const char *key = req->probe_key ? req->probe_key : "";
    const char *step = "describe";
    int r = cooldown_resource_conf(&req->resource, &conf, &pe);
    if (r == 0) {
        step = "open";
        r = objstore_open(&conf, &os, &pe);
        objstore_conf_release(&conf);
    }
    static const char body[] = "floe probe object";
    char got[sizeof(body)];
    if (r == 0 && !*key)
        r = err_set(&pe, FLOE_EBADINPUT, "probe_key is empty");
    if (r == 0) {
        step = "put";
        r = objstore_put(os, key, body, sizeof(body), &pe);
    }
    if (r == 0) {
        step = "get";
        r = objstore_get(os, key, 0, sizeof(body), got, &pe);
        if (r == 0 && memcmp(got, body, sizeof(body)) != 0)
            r = err_set(&pe, FLOE_ECORRUPT, "probe object %s: read back different bytes", key);
    }
    if (r == 0) {
        step = "list";
        struct objstore_list l = { 0 };
        r = objstore_list(os, key, &l, &pe);
        if (r == 0 && (l.n != 1 || strcmp(l.entries[0].key, key) != 0))
            r = err_set(&pe, FLOE_EPROTO, "probe object %s: not listed", key);
        objstore_list_release(&l);
    }
    if (r == 0) {
        step = "delete";
        r = objstore_delete(os, key, &pe);
    }
    objstore_close(os);
    rep->ok = r == 0;
    if (r < 0) {
        char *m = xasprintf("%s: %s", step, err_msg(&pe));
        tidl_set_str(&rep->message, m);
        free(m);
    }
    return 0;
}

static void h_created(void *ctx, int64_t tablet_id, const struct idl_storage_policy *policy,
                      const struct idl_resource *resource)
{
    struct cooldown_service *cs = ctx;
    (void)policy;
    if (!resource)
        return;
    struct err e = { 0 };
    if (cooldown_service_put_resource(cs, resource, &e) < 0)
        tlog_warn(tablet_id, "%s", err_msg(&e));
}

void cooldown_service_hooks(struct cooldown_service *cs, struct be_service_hooks *ret)
{
    ret->ctx = cs;
    ret->push_cooldown_conf = h_push_conf;
    ret->cooldown_delete = h_cooldown_delete;
    ret->compact_cold = h_compact_cold;
    ret->fill_tablet_info = h_fill;
    ret->tablet_created = h_created;
    ret->drop_tablet = h_drop;
    ret->probe_resource = h_probe;
}
