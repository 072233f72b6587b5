/*
 * floectl: the command-line client of a floe cluster. Parses its arguments
 * with ctlargs (fe/ctlargs.h), talks FrontendService to the FE over the
 * authenticated RPC transport and prints human tables (or JSON with
 * --json). Every failure is one line on stderr and a non-zero exit: 1 for
 * a failed operation, 2 for bad usage.
 */
#include "auth.h"
#include "buf.h"
#include "catalog.h"
#include "csv.h"
#include "ctlargs.h"
#include "err.h"
#include "frontend_idl.h"
#include "fsutil.h"
#include "log.h"
#include "rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a human table ---- */

struct tbl {
    int ncols;
    char **cells;   /* row-major, header first */
    size_t nrows;
};

static void tbl_row(struct tbl *t, ...)
{
    va_list ap;
    va_start(ap, t);
    t->cells = xrealloc(t->cells, (t->nrows + 1) * (size_t)t->ncols * sizeof(char *));
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = xstrdup(s ? s : "");
    }
    t->nrows++;
    va_end(ap);
}

static void tbl_free(struct tbl *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

static void tbl_print(struct tbl *t)
{
    size_t *w = xcalloc((size_t)t->ncols, sizeof(size_t));
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                printf("%s", s);
            else
                printf("%-*s  ", (int)w[c], s);
        }
        printf("\n");
    }
    tbl_free(t);
    free(w);
}

static const char *num(char *b, int64_t v)
{
    snprintf(b, 32, "%lld", (long long)v);
    return b;
}

static void json_out(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "null");
    free(s);
    json_decref(j);
}

/* Prints a (with --json) or the table t; consumes both. */
static void tbl_or_json(struct tbl *t, json_t *a, bool json)
{
    if (json) {
        json_out(a);
        tbl_free(t);
    } else {
        json_decref(a);
        tbl_print(t);
    }
}

static const char *type_name(int32_t t)
{
    return t >= 1 && t <= 6 ? catalog_col_type_name((enum fe_col_type)(t - 1)) : "?";
}

/* ---- commands ---- */

static int cmd_backends(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_backends_req rq;
    struct idl_list_backends_reply rp;
    idl_list_backends_req_init(&rq);
    int r = idl_frontend_service_list_backends(cl, &rq, &rp, e);
    idl_list_backends_req_release(&rq);
    if (r < 0)
        return r;
    int64_t now = (int64_t)time(NULL) * 1000;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < rp.backends_len; i++) {
            struct idl_backend_info *b = &rp.backends[i];
            json_array_append_new(a, json_pack("{s:I,s:s,s:i,s:i,s:b,s:b,s:I,s:i,s:I,s:I,s:s}", "backend_id",
                                               (json_int_t)b->backend_id, "host", b->host, "port", b->port,
                                               "http_port", b->http_port, "alive", b->alive, "decommissioned",
                                               b->decommissioned, "last_heartbeat_ms", (json_int_t)b->last_heartbeat_ms,
                                               "tablets", b->num_tablets, "disk_used_bytes",
                                               (json_int_t)b->disk_used_bytes, "disk_capacity_bytes",
                                               (json_int_t)b->disk_capacity_bytes, "version", b->version));
        }
        json_out(a);
    } else {
        struct tbl t = { 10, NULL, 0 };
        tbl_row(&t, "ID", "HOST", "PORT", "HTTP", "ALIVE", "LAST_HB", "DECOMMISSIONED", "TABLETS", "DISK_USED",
                "VERSION");
        for (size_t i = 0; i < rp.backends_len; i++) {
            struct idl_backend_info *b = &rp.backends[i];
            char a[32], p[32], h[32], hb[32], n[32], d[32];
            snprintf(hb, sizeof(hb), "%llds ago", (long long)((now - b->last_heartbeat_ms) / 1000));
            tbl_row(&t, num(a, b->backend_id), b->host, num(p, b->port), num(h, b->http_port),
                    b->alive ? "yes" : "no", b->last_heartbeat_ms ? hb : "never",
                    b->decommissioned ? "yes" : "no", num(n, b->num_tablets), num(d, b->disk_used_bytes), b->version);
        }
        tbl_print(&t);
    }
    idl_list_backends_reply_release(&rp);
    return 0;
}

static int cmd_decommission(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_decommission_backend_req rq;
    struct idl_decommission_backend_reply rp;
    idl_decommission_backend_req_init(&rq);
    rq.backend_id = c->id;
    int r = idl_frontend_service_decommission_backend(cl, &rq, &rp, e);
    idl_decommission_backend_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:I,s:i}", "backend_id", (json_int_t)c->id, "tablets_to_move", rp.tablets_to_move));
    else
        printf("backend %lld decommissioned; %d replicas will move off it\n", (long long)c->id, rp.tablets_to_move);
    idl_decommission_backend_reply_release(&rp);
    return 0;
}

static int cmd_resource_create(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_create_resource_req rq;
    struct idl_create_resource_reply rp;
    idl_create_resource_req_init(&rq);
    struct idl_resource *x = &rq.resource;
    tidl_set_str(&x->name, c->name);
    bool s3 = strcmp(c->type, "s3") == 0;
    x->type = s3 ? IDL_RESOURCE_TYPE_S3 : IDL_RESOURCE_TYPE_LOCAL;
    tidl_set_str(&x->endpoint, c->endpoint ? c->endpoint : "");
    tidl_set_str(&x->region, c->region ? c->region : "");
    tidl_set_str(&x->bucket, c->bucket ? c->bucket : "");
    tidl_set_str(&x->prefix, c->prefix ? c->prefix : "");
    tidl_set_str(&x->root_path, c->root ? c->root : "");
    tidl_set_str(&x->credentials_file, c->credentials_file ? c->credentials_file : "");
    x->path_style = c->path_style;
    tidl_set_str(&x->access_key_env, c->access_key_env ? c->access_key_env : "");
    tidl_set_str(&x->secret_key_env, c->secret_key_env ? c->secret_key_env : "");
    tidl_set_str(&x->profile, c->profile ? c->profile : "");
    int r = idl_frontend_service_create_resource(cl, &rq, &rp, e);
    idl_create_resource_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:s,s:I}", "resource", c->name, "resource_id", (json_int_t)rp.resource_id));
    else
        printf("resource %s created (id %lld)\n", c->name, (long long)rp.resource_id);
    idl_create_resource_reply_release(&rp);
    return 0;
}

static int cmd_resource_check(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_check_resource_req rq;
    struct idl_check_resource_reply rp;
    idl_check_resource_req_init(&rq);
    tidl_set_str(&rq.name, c->name);
    int r = idl_frontend_service_check_resource(cl, &rq, &rp, e);
    idl_check_resource_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json) {
        json_t *nodes = json_array();
        for (size_t i = 0; i < rp.nodes_len; i++)
            json_array_append_new(nodes, json_string(rp.nodes[i]));
        json_out(json_pack("{s:s,s:b,s:s,s:o}", "resource", c->name, "ok", rp.ok, "message", rp.message, "nodes",
                           nodes));
    } else {
        for (size_t i = 0; i < rp.nodes_len; i++)
            printf("%s\n", rp.nodes[i]);
        printf("%s\n", rp.message ? rp.message : "");
    }
    if (!rp.ok)
        r = err_set(e, FLOE_EUNAVAILABLE, "resource %s: check failed", c->name);
    idl_check_resource_reply_release(&rp);
    return r;
}

static int cmd_resources(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_resources_req rq;
    struct idl_list_resources_reply rp;
    idl_list_resources_req_init(&rq);
    int r = idl_frontend_service_list_resources(cl, &rq, &rp, e);
    idl_list_resources_req_release(&rq);
    if (r < 0)
        return r;
    struct tbl t = { 5, NULL, 0 };
    json_t *a = json_array();
    tbl_row(&t, "NAME", "TYPE", "WHERE", "PREFIX", "ID");
    for (size_t i = 0; i < rp.resources_len; i++) {
        struct idl_resource *x = &rp.resources[i];
        bool s3 = x->type == IDL_RESOURCE_TYPE_S3;
        char where[512], id[32];
        if (s3)
            snprintf(where, sizeof(where), "%s/%s (%s%s)", x->endpoint, x->bucket, x->region,
                     x->path_style ? ", path style" : "");
        else
            snprintf(where, sizeof(where), "%s", x->root_path);
        tbl_row(&t, x->name, s3 ? "s3" : "local", where, x->prefix, num(id, x->resource_id));
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:I}", "name", x->name, "type",
                                           s3 ? "s3" : "local", "endpoint", x->endpoint, "region", x->region,
                                           "bucket", x->bucket, "prefix", x->prefix, "path_style", x->path_style,
                                           "root", x->root_path, "resource_id", (json_int_t)x->resource_id));
    }
    tbl_or_json(&t, a, c->json);
    idl_list_resources_reply_release(&rp);
    return 0;
}

static int cmd_policy_create(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_create_policy_req rq;
    struct idl_create_policy_reply rp;
    idl_create_policy_req_init(&rq);
    tidl_set_str(&rq.policy.name, c->name);
    tidl_set_str(&rq.policy.resource, c->resource);
    rq.policy.cooldown_ttl_s = c->ttl_s;
    rq.policy.cooldown_datetime_s = c->datetime_s;
    int r = idl_frontend_service_create_policy(cl, &rq, &rp, e);
    idl_create_policy_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:s,s:I}", "policy", c->name, "policy_id", (json_int_t)rp.policy_id));
    else
        printf("policy %s created (id %lld)\n", c->name, (long long)rp.policy_id);
    idl_create_policy_reply_release(&rp);
    return 0;
}

static int cmd_policies(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_policies_req rq;
    struct idl_list_policies_reply rp;
    idl_list_policies_req_init(&rq);
    int r = idl_frontend_service_list_policies(cl, &rq, &rp, e);
    idl_list_policies_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < rp.policies_len; i++) {
            struct idl_storage_policy *p = &rp.policies[i];
            json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I,s:I}", "name", p->name, "resource", p->resource,
                                               "cooldown_ttl_s", (json_int_t)p->cooldown_ttl_s, "cooldown_datetime_s",
                                               (json_int_t)p->cooldown_datetime_s, "policy_id",
                                               (json_int_t)p->policy_id));
        }
        json_out(a);
    } else {
        struct tbl t = { 4, NULL, 0 };
        tbl_row(&t, "NAME", "RESOURCE", "COOLDOWN", "ID");
        for (size_t i = 0; i < rp.policies_len; i++) {
            struct idl_storage_policy *p = &rp.policies[i];
            char cd[64], id[32];
            if (p->cooldown_ttl_s > 0)
                snprintf(cd, sizeof(cd), "ttl %llds", (long long)p->cooldown_ttl_s);
            else {
                time_t tt = (time_t)p->cooldown_datetime_s;
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(cd, sizeof(cd), "after %Y-%m-%dT%H:%M:%SZ", &tm);
            }
            tbl_row(&t, p->name, p->resource, cd, num(id, p->policy_id));
        }
        tbl_print(&t);
    }
    idl_list_policies_reply_release(&rp);
    return 0;
}

static int cmd_table_create(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct fe_schema s;
    int r = catalog_schema_parse(c->schema, c->key, &s, e);
    if (r < 0)
        return r;
    struct idl_create_table_req rq;
    struct idl_create_table_reply rp;
    idl_create_table_req_init(&rq);
    tidl_set_str(&rq.name, c->name);
    for (int i = 0; i < s.ncols; i++) {
        struct idl_column_def *d = idl_tablet_schema_add_columns(&rq.schema);
        tidl_set_str(&d->name, s.cols[i].name);
        d->type = (int32_t)s.cols[i].type + 1;
        d->nullable = s.cols[i].nullable;
        d->is_key = i < s.nkeys;
    }
    catalog_schema_release(&s);
    rq.schema.key_model = c->model && strcmp(c->model, "unique") == 0 ? IDL_KEY_MODEL_UNIQUE : IDL_KEY_MODEL_DUPLICATE;
    rq.buckets = c->buckets;
    rq.replication = c->replicas;
    tidl_set_str(&rq.storage_policy, c->policy ? c->policy : "");
    r = idl_frontend_service_create_table(cl, &rq, &rp, e);
    idl_create_table_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:s,s:I,s:I}", "table", c->name, "table_id", (json_int_t)rp.table_id, "tablets",
                           (json_int_t)rp.tablet_ids_len));
    else
        printf("table %s created (id %lld, %zu tablets x %d replicas)\n", c->name, (long long)rp.table_id,
               rp.tablet_ids_len, c->replicas);
    idl_create_table_reply_release(&rp);
    return 0;
}

static int cmd_table_drop(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_drop_table_req rq;
    struct idl_drop_table_reply rp;
    idl_drop_table_req_init(&rq);
    tidl_set_str(&rq.name, c->name);
    int r = idl_frontend_service_drop_table(cl, &rq, &rp, e);
    idl_drop_table_req_release(&rq);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:s,s:b}", "table", c->name, "dropped", 1));
    else
        printf("table %s dropped\n", c->name);
    idl_drop_table_reply_release(&rp);
    return 0;
}

static void schema_text(const struct idl_tablet_schema *s, struct buf *out, struct buf *keys)
{
    for (size_t i = 0; i < s->columns_len; i++) {
        buf_printf(out, "%s%s:%s%s", i ? "," : "", s->columns[i].name, type_name(s->columns[i].type),
                   s->columns[i].nullable ? "?" : "");
        if (s->columns[i].is_key)
            buf_printf(keys, "%s%s", keys->len ? "," : "", s->columns[i].name);
    }
}

static int get_table(struct rpc_client *cl, const char *name, struct idl_list_tables_reply *rp, struct err *e)
{
    struct idl_list_tables_req rq;
    idl_list_tables_req_init(&rq);
    tidl_set_str(&rq.name, name ? name : "");
    int r = idl_frontend_service_list_tables(cl, &rq, rp, e);
    idl_list_tables_req_release(&rq);
    if (r == 0 && name && rp->tables_len != 1) {
        idl_list_tables_reply_release(rp);
        r = err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", name);
    }
    return r;
}

static int cmd_tables(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_tables_reply rp;
    int r = get_table(cl, NULL, &rp, e);
    if (r < 0)
        return r;
    struct tbl t = { 8, NULL, 0 };
    json_t *a = json_array();
    tbl_row(&t, "NAME", "ID", "MODEL", "KEY", "BUCKETS", "REPLICAS", "POLICY", "SCHEMA");
    for (size_t i = 0; i < rp.tables_len; i++) {
        struct idl_table_info *x = &rp.tables[i];
        struct buf sch = BUF_INIT, keys = BUF_INIT;
        schema_text(&x->schema, &sch, &keys);
        char id[32], b[32], rr[32];
        const char *model = x->schema.key_model == IDL_KEY_MODEL_UNIQUE ? "unique" : "duplicate";
        tbl_row(&t, x->name, num(id, x->table_id), model, buf_cstr(&keys), num(b, x->buckets),
                num(rr, x->replication), x->storage_policy && *x->storage_policy ? x->storage_policy : "-",
                buf_cstr(&sch));
        json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:s,s:s,s:i,s:i,s:s,s:I}", "name", x->name, "table_id",
                                           (json_int_t)x->table_id, "model", model, "key", buf_cstr(&keys), "schema",
                                           buf_cstr(&sch), "buckets", x->buckets, "replicas", x->replication,
                                           "policy", x->storage_policy, "version", (json_int_t)x->version));
        buf_release(&sch);
        buf_release(&keys);
    }
    tbl_or_json(&t, a, c->json);
    idl_list_tables_reply_release(&rp);
    return 0;
}

static int cmd_tablets(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_tablets_req rq;
    struct idl_list_tablets_reply rp;
    idl_list_tablets_req_init(&rq);
    tidl_set_str(&rq.table, c->name);
    int r = idl_frontend_service_list_tablets(cl, &rq, &rp, e);
    idl_list_tablets_req_release(&rq);
    if (r < 0)
        return r;
    struct tbl t = { 11, NULL, 0 };
    json_t *a = json_array();
    tbl_row(&t, "TABLET", "REPLICA", "BACKEND", "VERSION", "COOLDOWN_REPLICA_ID", "COOLDOWN_TERM", "COOLDOWNED_VERSION",
            "COOLDOWN_META_ID", "LOCAL_BYTES", "REMOTE_BYTES", "STATE");
    for (size_t i = 0; i < rp.tablets_len; i++) {
        struct idl_tablet_replicas *x = &rp.tablets[i];
        for (size_t k = 0; k < x->replicas_len; k++) {
            struct idl_replica_info *ri = &x->replicas[k];
            struct idl_tablet_info *rep = &ri->reported;
            bool reported = rep->state != IDL_TABLET_STATE_UNKNOWN;
            const char *state =
                ri->fe_state && *ri->fe_state ? ri->fe_state :
                ri->bad ? "bad" : ri->state == IDL_TABLET_STATE_RUNNING ? "normal" : "notready";
            char b[11][40];
            num(b[0], x->tablet_id);
            num(b[1], ri->replica_id);
            num(b[2], ri->backend_id);
            num(b[3], ri->version);
            num(b[4], reported ? rep->cooldown_replica_id : x->cooldown_replica_id);
            num(b[5], reported ? rep->cooldown_term : x->cooldown_term);
            if (reported && rep->cooldowned_version >= 0)
                num(b[6], rep->cooldowned_version);
            else
                snprintf(b[6], sizeof(b[6]), "-");
            num(b[8], rep->local_bytes);
            num(b[9], rep->remote_bytes);
            tbl_row(&t, b[0], b[1], b[2], b[3], b[4], b[5], b[6],
                    reported && rep->cooldown_meta_id && *rep->cooldown_meta_id ? rep->cooldown_meta_id : "-",
                    reported ? b[8] : "-", reported ? b[9] : "-", state);
            json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:s,s:b}",
                                               "tablet", (json_int_t)x->tablet_id, "replica",
                                               (json_int_t)ri->replica_id, "backend", (json_int_t)ri->backend_id,
                                               "version", (json_int_t)ri->version, "cooldown_replica_id",
                                               (json_int_t)rep->cooldown_replica_id, "cooldown_term",
                                               (json_int_t)rep->cooldown_term, "fe_cooldown_replica_id",
                                               (json_int_t)x->cooldown_replica_id, "fe_cooldown_term",
                                               (json_int_t)x->cooldown_term, "cooldown_meta_id",
                                               rep->cooldown_meta_id ? rep->cooldown_meta_id : "", "cooldowned_version",
                                               (json_int_t)rep->cooldowned_version, "local_bytes",
                                               (json_int_t)rep->local_bytes, "state", state, "reported", reported));
            json_object_set_new(json_array_get(a, json_array_size(a) - 1), "remote_bytes",
                                json_integer(rep->remote_bytes));
        }
    }
    tbl_or_json(&t, a, c->json);
    idl_list_tablets_reply_release(&rp);
    return 0;
}

/* The end of the last whole CSV record in data[0..len) (quotes respected). */
static size_t record_cut(const char *data, size_t len)
{
    bool q = false;
    size_t cut = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '"')
            q = !q;
        else if (data[i] == '\n' && !q)
            cut = i + 1;
    }
    return cut;
}

/* An error the FE itself returned, as opposed to a lost connection or a
 * timeout (after which the outcome of a final chunk is unknown). */
static bool load_err_from_fe(int code)
{
    return code <= FLOE_ERR_MAX && code != FLOE_ETIMEOUT && code != FLOE_EPROTO && code != FLOE_ETRANSIENT &&
           code != FLOE_ESHUTDOWN;
}

/*
 * A file is one load (one transaction) however big it is: it goes in chunks
 * of at most --chunk-mb MiB cut at record boundaries; the first is sent with
 * txn_id 0, the later ones with the txn id of the first reply, all but the
 * last with more = true. The FE makes the rows visible only with the last
 * chunk, and aborts the whole load on any error.
 */
static int cmd_load(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct buf data = BUF_INIT;
    int r = fs_read_file(c->file, &data, (size_t)1 << 40, e);
    if (r < 0)
        return r;
    const size_t chunk = (size_t)(c->chunk_mb > 0 ? c->chunk_mb : 16) << 20;
    /* every cut first: a record too long for a chunk is refused before anything is sent */
    size_t *ends = NULL, nchunks = 0, cap = 0;
    for (size_t off = 0; off < data.len || nchunks == 0;) {
        size_t n = data.len - off;
        if (n > chunk && (n = record_cut(data.data + off, chunk)) == 0) {
            r = err_set(e, FLOE_EBADINPUT, "%s: a record longer than %zu bytes (--chunk-mb %d) at byte %zu; "
                        "nothing was loaded", c->file, chunk, (int)c->chunk_mb, off);
            break;
        }
        if (nchunks == cap) {
            cap = cap ? cap * 2 : 16;
            ends = xrealloc(ends, cap * sizeof(*ends));
        }
        off += n;
        ends[nchunks++] = off;
        if (data.len == 0)
            break;
    }
    bool tty = isatty(2) && nchunks > 1;
    int64_t rows = 0, version = 0, lagging = 0, txn = 0;
    bool dup = false;
    size_t off = 0, sent = 0;
    rpc_client_set_call_timeout(cl, 600000);
    for (size_t k = 0; r == 0 && k < nchunks; k++) {
        bool last = k + 1 == nchunks;
        struct idl_load_req rq;
        struct idl_load_reply rp;
        idl_load_req_init(&rq);
        tidl_set_str(&rq.table, c->name);
        rq.format = IDL_LOAD_FORMAT_CSV;
        rq.data.data = (uint8_t *)(data.data ? data.data + off : NULL);
        rq.data.len = ends[k] - off;
        rq.header = c->header && k == 0;
        rq.txn_id = txn;
        rq.more = !last;
        if (c->label && k == 0)
            tidl_set_str(&rq.label, c->label);
        r = idl_frontend_service_load(cl, &rq, &rp, e);
        rq.data.data = NULL;
        rq.data.len = 0;
        idl_load_req_release(&rq);
        if (r < 0) {
            if (last && !load_err_from_fe(r))
                err_prefix(e, "%s: the outcome of the load is unknown (run it again with the same --label to "
                           "load it at most once)", c->file);
            else
                err_prefix(e, "%s: nothing was loaded%s", c->file,
                           sent > 0 && !load_err_from_fe(r) ? " (the FE aborts the open load after its load_idle_timeout_s)" : "");
            break;
        }
        sent++;
        rows = rp.num_rows;
        version = rp.version;
        lagging = rp.lagging_replicas;
        txn = rp.txn_id;
        dup = rp.duplicate;
        idl_load_reply_release(&rp);
        off = ends[k];
        if (tty)
            fprintf(stderr, "\r%s: %zu/%zu MiB sent, %lld rows", c->file, off >> 20, data.len >> 20, (long long)rows);
        if (dup)
            break;   /* this label was loaded before: nothing more to send */
    }
    if (tty)
        fprintf(stderr, "\n");
    free(ends);
    buf_release(&data);
    if (r < 0)
        return r;
    if (c->json)
        json_out(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b}", "table", c->name, "rows", (json_int_t)rows, "version",
                           (json_int_t)version, "txn", (json_int_t)txn, "chunks", (json_int_t)sent,
                           "lagging_replicas", (json_int_t)lagging, "duplicate", dup));
    else if (dup)
        printf("already loaded under label %s: %lld rows into %s, version %lld (txn %lld); nothing loaded now\n",
               c->label, (long long)rows, c->name, (long long)version, (long long)txn);
    else
        printf("loaded %lld rows into %s: version %lld (txn %lld%s)\n", (long long)rows, c->name, (long long)version,
               (long long)txn, lagging ? ", some replicas lag and are being repaired" : "");
    return 0;
}

/* ---- scan ---- */

static int typed_value(const struct idl_column_def *col, const char *text, struct idl_value *v, struct err *e)
{
    char *end;
    errno = 0;
    switch (col->type) {
    case 1:
    case 2: {
        long long x = strtoll(text, &end, 10);
        if (errno || end == text || *end || (col->type == 1 && (x < INT32_MIN || x > INT32_MAX)))
            return err_set(e, FLOE_EBADINPUT, "--where: '%s' is not a valid %s for column '%s'", text,
                           type_name(col->type), col->name);
        v->i = x;
        return 0;
    }
    case 6:
        if (csv_parse_timestamp(text, strlen(text), &v->i) < 0)
            return err_set(e, FLOE_EBADINPUT, "--where: '%s' is not a timestamp (YYYY-MM-DD[ HH:MM:SS]) for "
                           "column '%s'", text, col->name);
        return 0;
    case 3:
        v->d = strtod(text, &end);
        if (errno || end == text || *end)
            return err_set(e, FLOE_EBADINPUT, "--where: '%s' is not a number for column '%s'", text, col->name);
        return 0;
    case 4:
        if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0)
            v->b = true;
        else if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)
            v->b = false;
        else
            return err_set(e, FLOE_EBADINPUT, "--where: '%s' is not true or false for column '%s'", text, col->name);
        return 0;
    default:
        tidl_set_str(&v->s, text);
        return 0;
    }
}

static void csv_field(struct buf *out, const char *s, size_t n)
{
    bool q = n == 0;
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!q && n == 2 && s[0] == '\\' && s[1] == 'N')
        q = true;
    if (!q) {
        buf_append(out, s, n);
        return;
    }
    buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf_putc(out, '"');
        buf_putc(out, s[i]);
    }
    buf_putc(out, '"');
}

static void print_rows(const struct idl_tablet_schema *sch, const struct idl_row_batch *b, bool as_json,
                       struct buf *out)
{
    size_t *soff = xcalloc(b->columns_len + 1, sizeof(size_t));
    for (int32_t row = 0; row < b->num_rows; row++) {
        json_t *o = as_json ? json_object() : NULL;
        for (size_t ci = 0; ci < b->columns_len; ci++) {
            const struct idl_column_data *d = &b->columns[ci];
            const char *name = ci < sch->columns_len ? sch->columns[ci].name : "?";
            bool isnull = d->nulls.len > (size_t)row / 8 && (d->nulls.data[row / 8] >> (row % 8)) & 1;
            char tmp[64];
            const char *txt = NULL;
            size_t tlen = 0;
            json_t *jv = NULL;
            const char *sp = NULL;
            size_t sl = 0;
            if (d->type == 5 && (size_t)row < d->str_lens_len) {
                sl = (size_t)d->str_lens[row];
                sp = (const char *)d->str_data.data + soff[ci];
                soff[ci] += sl;
            }
            if (isnull) {
                jv = json_null();
            } else {
                switch (d->type) {
                case 1:
                    snprintf(tmp, sizeof(tmp), "%d", d->i32s[row]);
                    jv = json_integer(d->i32s[row]);
                    break;
                case 2:
                    snprintf(tmp, sizeof(tmp), "%lld", (long long)d->i64s[row]);
                    jv = json_integer(d->i64s[row]);
                    break;
                case 6:
                    csv_format_timestamp(d->i64s[row], tmp);
                    jv = json_string(tmp);
                    break;
                case 3:
                    snprintf(tmp, sizeof(tmp), "%.17g", d->f64s[row]);
                    jv = json_real(d->f64s[row]);
                    break;
                case 4:
                    snprintf(tmp, sizeof(tmp), "%s", d->bools[row] ? "true" : "false");
                    jv = json_boolean(d->bools[row]);
                    break;
                case 5:
                    txt = sp;
                    tlen = sl;
                    jv = json_stringn(sp ? sp : "", sl);
                    break;
                default:
                    snprintf(tmp, sizeof(tmp), "?");
                    jv = json_null();
                }
                if (!txt) {
                    txt = tmp;
                    tlen = strlen(tmp);
                }
            }
            if (o) {
                json_object_set_new(o, name, jv);
            } else {
                json_decref(jv);
                if (ci)
                    buf_putc(out, ',');
                if (!isnull)
                    csv_field(out, txt, tlen);
            }
        }
        if (o) {
            char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            buf_puts(out, s ? s : "{}");
            free(s);
            json_decref(o);
        }
        buf_putc(out, '\n');
        if (out->len > (1 << 20)) {
            fwrite(out->data, 1, out->len, stdout);
            buf_reset(out);
        }
    }
    free(soff);
}

static int cmd_scan(struct rpc_client *cl, const struct ctl_cmd *c, struct err *e)
{
    struct idl_list_tables_reply tr;
    int r = get_table(cl, c->name, &tr, e);
    if (r < 0)
        return r;
    const struct idl_tablet_schema *sch = &tr.tables[0].schema;
    struct idl_table_scan_req rq;
    idl_table_scan_req_init(&rq);
    tidl_set_str(&rq.table, c->name);
    rq.limit = c->limit;
    if (c->columns) {
        char *cols = xstrdup(c->columns);
        for (char *p = cols, *next; p; p = next) {
            next = strchr(p, ',');
            if (next)
                *next++ = '\0';
            char *dup = xstrdup(p);
            rq.columns = xrealloc(rq.columns, (rq.columns_len + 1) * sizeof(char *));
            rq.columns[rq.columns_len++] = dup;
        }
        free(cols);
    }
    for (int i = 0; i < c->nwhere && r == 0; i++) {
        const struct ctl_where *w = &c->where[i];
        const struct idl_column_def *col = NULL;
        for (size_t k = 0; k < sch->columns_len; k++)
            if (strcmp(sch->columns[k].name, w->column) == 0)
                col = &sch->columns[k];
        if (!col) {
            r = err_set(e, FLOE_EBADINPUT, "--where: table '%s' has no column '%s'", c->name, w->column);
            break;
        }
        struct idl_predicate *p = idl_table_scan_req_add_predicates(&rq);
        tidl_set_str(&p->column, w->column);
        static const int32_t ops[] = { IDL_PRED_OP_EQ, IDL_PRED_OP_NE, IDL_PRED_OP_LT, IDL_PRED_OP_LE,
                                       IDL_PRED_OP_GT, IDL_PRED_OP_GE, IDL_PRED_OP_IS_NULL,
                                       IDL_PRED_OP_IS_NOT_NULL, IDL_PRED_OP_IN };
        p->op = ops[w->op];
        for (int k = 0; k < w->nvalues && r == 0; k++)
            r = typed_value(col, w->values[k], idl_predicate_add_values(p), e);
    }
    bool as_json = c->format_json || c->json;
    struct buf out = BUF_INIT;
    bool header_done = false;
    int64_t total = 0;
    while (r == 0) {
        struct idl_table_scan_reply rp;
        r = idl_frontend_service_scan(cl, &rq, &rp, e);
        if (r < 0)
            break;
        if (!header_done && !as_json) {
            for (size_t i = 0; i < rp.schema.columns_len; i++) {
                if (i)
                    buf_putc(&out, ',');
                csv_field(&out, rp.schema.columns[i].name, strlen(rp.schema.columns[i].name));
            }
            buf_putc(&out, '\n');
            header_done = true;
        }
        print_rows(&rp.schema, &rp.batch, as_json, &out);
        total += rp.batch.num_rows;
        bool eos = rp.eos || rp.cursor_id == 0;
        rq.cursor_id = rp.cursor_id;
        idl_table_scan_reply_release(&rp);
        if (eos)
            break;
    }
    if (out.len)
        fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    buf_release(&out);
    idl_table_scan_req_release(&rq);
    idl_list_tables_reply_release(&tr);
    (void)total;
    return r;
}

int main(int argc, char **argv)
{
    log_set_role("ctl");
    log_set_level(LOG_WARN);
    struct ctl_cmd c;
    struct err e = { 0 };
    static const char *const defaults[] = { "/etc/floe/fe.conf", "/etc/floe/be.conf", NULL };
    if (ctlargs_parse(argc, argv, getenv("FLOE_FE"), getenv("FLOE_TOKEN_FILE"), getenv("FLOE_CONFIG"), defaults, &c,
                      &e) < 0) {
        fprintf(stderr, "floectl: %s\n", err_msg(&e));
        return 2;
    }
    if (c.kind == CTL_HELP) {
        fputs(ctlargs_usage, stdout);
        ctlargs_release(&c);
        return 0;
    }
    if (c.kind == CTL_VERSION) {
        printf("floectl %s\n", FLOE_VERSION);
        ctlargs_release(&c);
        return 0;
    }
    int r = 0;
    struct auth_token tok = { { 0 }, 0 };
    struct rpc_client *cl = NULL;
    if (!c.token_file) {
        fprintf(stderr, "floectl: no cluster token: give --token-file FILE or --config FILE, or set FLOE_TOKEN_FILE\n");
        ctlargs_release(&c);
        return 2;
    }
    if ((r = auth_token_load(c.token_file, &tok, &e)) < 0) {
        err_prefix(&e, "token file");
        goto out;
    }
    struct rpc_client_opts o = { .host = c.fe_host, .port = c.fe_port, .token = &tok, .connect_timeout_ms = 5000,
                                 .call_timeout_ms = 120000 };
    if ((r = rpc_client_new(&o, &cl, &e)) < 0)
        goto out;
    switch (c.kind) {
    case CTL_BACKENDS: r = cmd_backends(cl, &c, &e); break;
    case CTL_BACKEND_DECOMMISSION: r = cmd_decommission(cl, &c, &e); break;
    case CTL_RESOURCE_CREATE: r = cmd_resource_create(cl, &c, &e); break;
    case CTL_RESOURCE_CHECK: r = cmd_resource_check(cl, &c, &e); break;
    case CTL_RESOURCES: r = cmd_resources(cl, &c, &e); break;
    case CTL_POLICY_CREATE: r = cmd_policy_create(cl, &c, &e); break;
    case CTL_POLICIES: r = cmd_policies(cl, &c, &e); break;
    case CTL_TABLE_CREATE: r = cmd_table_create(cl, &c, &e); break;
    case CTL_TABLE_DROP: r = cmd_table_drop(cl, &c, &e); break;
    case CTL_TABLES: r = cmd_tables(cl, &c, &e); break;
    case CTL_LOAD: r = cmd_load(cl, &c, &e); break;
    case CTL_SCAN: r = cmd_scan(cl, &c, &e); break;
    case CTL_TABLETS: r = cmd_tablets(cl, &c, &e); break;
    default: r = err_set(&e, FLOE_EINTERNAL, "unhandled command"); break;
    }
out:
    if (r < 0) {
        const char *m = err_msg(&e);
        /* one line, always */
        fputs("floectl: ", stderr);
        for (; *m; m++)
            fputc(*m == '\n' ? ' ' : *m, stderr);
        fputc('\n', stderr);
    }
    rpc_client_free(cl);
    auth_token_release(&tok);
    ctlargs_release(&c);
    return r < 0 ? 1 : 0;
}
