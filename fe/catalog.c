/*
 * catalog: in-memory model and the apply function for journal records.
 * See catalog.h for the invariants. Every apply_* function validates the
 * whole record first and only then mutates, so a refused record changes
 * nothing.
 */
#define LOG_MODULE "catalog"
#include "catalog.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fejson.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void catalog_init(struct catalog *c, const struct fe_params *params)
{
    memset(c, 0, sizeof(*c));
    if (params)
        c->params = *params;
    else {
        c->params.backend_dead_after_ms = 30000;
        c->params.cooldown_replica_timeout_ms = 1800000;
    }
    c->next_id = 1;
    c->next_txn = 1;
    idmap_init(&c->backends);
    idmap_init(&c->tables);
    idmap_init(&c->tablets);
    idmap_init(&c->resources);
    idmap_init(&c->policies);
    idmap_init(&c->labels);
    idmap_init(&c->rdrops);
}

static void rdrop_free(struct fe_rdrop *d)
{
    if (!d)
        return;
    free(d->replica_ids);
    free(d->backend_ids);
    free(d);
}

struct fe_rdrop *catalog_rdrop(const struct catalog *c, int64_t tablet_id)
{
    return idmap_get(&c->rdrops, tablet_id);
}

/* Opens (or replaces) the pending entry of a tablet. Takes the arrays. */
static void rdrop_put(struct catalog *c, int64_t tablet_id, int64_t resource_id, int n, int64_t *replicas,
                      int64_t *backends)
{
    struct fe_rdrop *d = xcalloc(1, sizeof(*d));
    d->tablet_id = tablet_id;
    d->resource_id = resource_id;
    d->nreplicas = n;
    d->replica_ids = replicas;
    d->backend_ids = backends;
    rdrop_free(idmap_get(&c->rdrops, tablet_id));
    idmap_put(&c->rdrops, tablet_id, d);
}

static int64_t label_key(int64_t table_id, const char *label)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)table_id;
    for (const char *p = label; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 31;
    return (int64_t)(h | 1);  /* never 0 */
}

const struct fe_label *catalog_label(const struct catalog *c, int64_t table_id, const char *label)
{
    for (const struct fe_label *l = idmap_get(&c->labels, label_key(table_id, label)); l; l = l->next)
        if (l->table_id == table_id && strcmp(l->label, label) == 0)
            return l;
    return NULL;
}

static void label_add(struct catalog *c, int64_t table_id, const char *label, int64_t txn, int64_t rows,
                      int64_t version)
{
    if (catalog_label(c, table_id, label))
        return;
    int64_t k = label_key(table_id, label);
    struct fe_label *l = xcalloc(1, sizeof(*l));
    l->table_id = table_id;
    l->label = xstrdup(label);
    l->txn = txn;
    l->rows = rows;
    l->version = version;
    l->next = idmap_get(&c->labels, k);
    idmap_put(&c->labels, k, l);
}

static void label_chain_free(struct fe_label *l)
{
    while (l) {
        struct fe_label *n = l->next;
        free(l->label);
        free(l);
        l = n;
    }
}

static void backend_free(struct fe_backend *b)
{
    if (!b)
        return;
    free(b->host);
    free(b);
}

void catalog_schema_release(struct fe_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i].name);
    free(s->cols);
    s->cols = NULL;
    s->ncols = s->nkeys = 0;
}

static void table_free(struct fe_table *t)
{
    if (!t)
        return;
    free(t->name);
    catalog_schema_release(&t->schema);
    free(t->tablet_ids);
    free(t);
}

static void tablet_free(struct fe_tablet *t)
{
    if (!t)
        return;
    free(t->replicas);
    free(t);
}

static void resource_free(struct fe_resource *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->root);
    free(r->endpoint);
    free(r->region);
    free(r->bucket);
    free(r->prefix);
    free(r->access_key_env);
    free(r->secret_key_env);
    free(r->credentials_file);
    free(r->profile);
    free(r);
}

static void policy_free(struct fe_policy *p)
{
    if (!p)
        return;
    free(p->name);
    free(p);
}

void catalog_release(struct catalog *c)
{
    if (!c)
        return;
    IDMAP_FOREACH(&c->backends, i) backend_free(c->backends.slots[i].val);
    IDMAP_FOREACH(&c->tables, i) table_free(c->tables.slots[i].val);
    IDMAP_FOREACH(&c->tablets, i) tablet_free(c->tablets.slots[i].val);
    IDMAP_FOREACH(&c->resources, i) resource_free(c->resources.slots[i].val);
    IDMAP_FOREACH(&c->policies, i) policy_free(c->policies.slots[i].val);
    IDMAP_FOREACH(&c->labels, i) label_chain_free(c->labels.slots[i].val);
    IDMAP_FOREACH(&c->rdrops, i) rdrop_free(c->rdrops.slots[i].val);
    idmap_release(&c->rdrops);
    idmap_release(&c->backends);
    idmap_release(&c->tables);
    idmap_release(&c->tablets);
    idmap_release(&c->resources);
    idmap_release(&c->policies);
    idmap_release(&c->labels);
}

struct fe_backend *catalog_backend(const struct catalog *c, int64_t id)
{
    return idmap_get(&c->backends, id);
}

struct fe_backend *catalog_backend_by_addr(const struct catalog *c, const char *host, int32_t port)
{
    IDMAP_FOREACH(&c->backends, i) {
        struct fe_backend *b = c->backends.slots[i].val;
        if (b->rpc_port == port && strcmp(b->host, host) == 0)
            return b;
    }
    return NULL;
}

struct fe_table *catalog_table(const struct catalog *c, int64_t id)
{
    return idmap_get(&c->tables, id);
}

struct fe_table *catalog_table_by_name(const struct catalog *c, const char *name)
{
    IDMAP_FOREACH(&c->tables, i) {
        struct fe_table *t = c->tables.slots[i].val;
        if (strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

struct fe_tablet *catalog_tablet(const struct catalog *c, int64_t id)
{
    return idmap_get(&c->tablets, id);
}

struct fe_replica *catalog_replica(const struct fe_tablet *t, int64_t replica_id)
{
    for (int i = 0; i < t->nreplicas; i++)
        if (t->replicas[i].id == replica_id)
            return &t->replicas[i];
    return NULL;
}

struct fe_resource *catalog_resource(const struct catalog *c, int64_t id)
{
    return idmap_get(&c->resources, id);
}

struct fe_resource *catalog_resource_by_name(const struct catalog *c, const char *name)
{
    IDMAP_FOREACH(&c->resources, i) {
        struct fe_resource *r = c->resources.slots[i].val;
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

struct fe_policy *catalog_policy(const struct catalog *c, int64_t id)
{
    return idmap_get(&c->policies, id);
}

struct fe_policy *catalog_policy_by_name(const struct catalog *c, const char *name)
{
    IDMAP_FOREACH(&c->policies, i) {
        struct fe_policy *p = c->policies.slots[i].val;
        if (strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}

bool catalog_backend_alive(const struct catalog *c, const struct fe_backend *b, int64_t now_ms)
{
    return b && b->last_hb_ms > 0 && now_ms - b->last_hb_ms <= c->params.backend_dead_after_ms;
}

bool catalog_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* ---- schema ---- */

static const char *const col_type_names[] = {
    [FE_COL_INT32] = "int32", [FE_COL_INT64] = "int64", [FE_COL_DOUBLE] = "double",
    [FE_COL_BOOL] = "bool", [FE_COL_STRING] = "string", [FE_COL_TIMESTAMP] = "timestamp",
};

const char *catalog_col_type_name(enum fe_col_type t)
{
    return (unsigned)t <= FE_COL_TIMESTAMP ? col_type_names[t] : "?";
}

int catalog_col_type_parse(const char *s, enum fe_col_type *ret)
{
    for (int i = 0; i <= FE_COL_TIMESTAMP; i++)
        if (strcmp(s, col_type_names[i]) == 0) {
            *ret = (enum fe_col_type)i;
            return 0;
        }
    return FLOE_EBADINPUT;
}

const char *catalog_replica_state_name(enum fe_replica_state s)
{
    switch (s) {
    case FE_REPLICA_NORMAL: return "normal";
    case FE_REPLICA_LAGGING: return "lagging";
    case FE_REPLICA_BAD: return "bad";
    case FE_REPLICA_CLONING: return "cloning";
    }
    return "?";
}

const char *catalog_model_name(enum fe_key_model m)
{
    return m == FE_MODEL_UNIQUE ? "unique" : "duplicate";
}

#define SCHEMA_MAX_COLS 1024

static bool col_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > 64 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

int catalog_schema_parse(const char *text, const char *keys, struct fe_schema *ret, struct err *e)
{
    struct fe_schema s = { 0, 0, NULL };
    int r = 0;
    char *copy = NULL;
    if (!text || !*text)
        return err_set(e, FLOE_EBADINPUT, "schema: empty (expected \"name:type,...\")");
    if (!keys || !*keys)
        return err_set(e, FLOE_EBADINPUT, "schema: no key columns given");
    s.cols = xcalloc(SCHEMA_MAX_COLS, sizeof(*s.cols));
    const char *p = text;
    while (1) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon) {
            r = err_set(e, FLOE_EBADINPUT, "schema: column %d '%.*s': expected name:type",
                        s.ncols + 1, (int)len, p);
            goto out;
        }
        size_t nlen = (size_t)(colon - p);
        if (!col_name_valid(p, nlen)) {
            r = err_set(e, FLOE_EBADINPUT,
                        "schema: column %d: bad name '%.*s' (letters, digits, _; max 64)",
                        s.ncols + 1, (int)nlen, p);
            goto out;
        }
        const char *tp = colon + 1;
        size_t tlen = len - nlen - 1;
        bool nullable = tlen > 0 && tp[tlen - 1] == '?';
        if (nullable)
            tlen--;
        char tname[32];
        if (tlen == 0 || tlen >= sizeof(tname)) {
            r = err_set(e, FLOE_EBADINPUT, "schema: column '%.*s': missing or bad type",
                        (int)nlen, p);
            goto out;
        }
        memcpy(tname, tp, tlen);
        tname[tlen] = '\0';
        enum fe_col_type ty;
        if (catalog_col_type_parse(tname, &ty) < 0) {
            r = err_set(e, FLOE_EBADINPUT,
                        "schema: column '%.*s': unknown type '%s' (int32, int64, double, bool, "
                        "string, timestamp)", (int)nlen, p, tname);
            goto out;
        }
        for (int i = 0; i < s.ncols; i++)
            if (strlen(s.cols[i].name) == nlen && memcmp(s.cols[i].name, p, nlen) == 0) {
                r = err_set(e, FLOE_EBADINPUT, "schema: duplicate column '%.*s'", (int)nlen, p);
                goto out;
            }
        if (s.ncols >= SCHEMA_MAX_COLS) {
            r = err_set(e, FLOE_EBADINPUT, "schema: more than %d columns", SCHEMA_MAX_COLS);
            goto out;
        }
        s.cols[s.ncols].name = xstrndup(p, nlen);
        s.cols[s.ncols].type = ty;
        s.cols[s.ncols].nullable = nullable;
        s.ncols++;
        if (!end)
            break;
        p = end + 1;
    }
    copy = xstrdup(keys);
    int nk = 0;
    for (char *k = copy, *next; k; k = next) {
        next = strchr(k, ',');
        if (next)
            *next++ = '\0';
        if (nk >= s.ncols || strcmp(s.cols[nk].name, k) != 0) {
            int found = -1;
            for (int i = 0; i < s.ncols; i++)
                if (strcmp(s.cols[i].name, k) == 0)
                    found = i;
            if (found < 0)
                r = err_set(e, FLOE_EBADINPUT, "key column '%s' is not in the schema", k);
            else
                r = err_set(e, FLOE_EBADINPUT,
                            "key column '%s' must come at position %d: key columns are the "
                            "leading columns of the schema, in key order", k, nk + 1);
            goto out;
        }
        if (s.cols[nk].nullable) {
            r = err_set(e, FLOE_EBADINPUT, "key column '%s' cannot be nullable", k);
            goto out;
        }
        if (s.cols[nk].type == FE_COL_DOUBLE) {
            r = err_set(e, FLOE_EBADINPUT, "key column '%s' cannot be double", k);
            goto out;
        }
        nk++;
    }
    s.nkeys = nk;
    s.cols = xrealloc(s.cols, (size_t)s.ncols * sizeof(*s.cols));
    *ret = s;
    s.cols = NULL;
    s.ncols = 0;
out:
    free(copy);
    catalog_schema_release(&s);
    return r;
}

void catalog_schema_format(const struct fe_schema *s, struct buf *out)
{
    for (int i = 0; i < s->ncols; i++)
        buf_printf(out, "%s%s:%s%s", i ? "," : "", s->cols[i].name,
                   catalog_col_type_name(s->cols[i].type), s->cols[i].nullable ? "?" : "");
}

json_t *catalog_schema_to_json(const struct fe_schema *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->ncols; i++)
        json_array_append_new(a, json_pack("[s,s,b]", s->cols[i].name,
                                           catalog_col_type_name(s->cols[i].type),
                                           (int)s->cols[i].nullable));
    return a;
}

static int schema_from_json(const json_t *a, int64_t nkeys, struct fe_schema *ret, const char *ctx,
                            struct err *e)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > SCHEMA_MAX_COLS || nkeys < 1 || (size_t)nkeys > n)
        return err_set(e, FLOE_ECORRUPT, "%s: bad schema", ctx);
    struct fe_schema s = { 0, (int)nkeys, xcalloc(n, sizeof(struct fe_column)) };
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(a, i);
        const char *name = json_string_value(json_array_get(c, 0));
        const char *tn = json_string_value(json_array_get(c, 1));
        json_t *nl = json_array_get(c, 2);
        enum fe_col_type ty;
        if (!name || !tn || !json_is_boolean(nl) || catalog_col_type_parse(tn, &ty) < 0) {
            catalog_schema_release(&s);
            return err_set(e, FLOE_ECORRUPT, "%s: bad schema column %zu", ctx, i);
        }
        s.cols[i].name = xstrdup(name);
        s.cols[i].type = ty;
        s.cols[i].nullable = json_is_true(nl);
        s.ncols++;
    }
    *ret = s;
    return 0;
}

/* ---- records ---- */

static void bump_id(struct catalog *c, int64_t id)
{
    if (id >= c->next_id)
        c->next_id = id + 1;
}

static int apply_backend_add(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id, rpc_port, http_port, ms;
    const char *host;
    if (fj_i64(rec, "id", &id, "backend_add", e) < 0 || fj_str(rec, "host", &host, "backend_add", e) < 0 ||
        fj_i64(rec, "rpc_port", &rpc_port, "backend_add", e) < 0 ||
        fj_opt_i64(rec, "http_port", 0, &http_port, "backend_add", e) < 0 ||
        fj_opt_i64(rec, "ms", 0, &ms, "backend_add", e) < 0)
        return FLOE_ECORRUPT;
    if (id <= 0 || catalog_backend(c, id))
        return err_set(e, FLOE_ECORRUPT, "backend_add: id %lld is invalid or exists", (long long)id);
    bool decom;
    if (fj_opt_bool(rec, "decommissioned", &decom, "backend_add", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_backend *b = xcalloc(1, sizeof(*b));
    b->id = id;
    b->host = xstrdup(host);
    b->rpc_port = (int32_t)rpc_port;
    b->http_port = (int32_t)http_port;
    b->registered_ms = ms;
    b->decommissioned = decom;
    b->last_hb_ms = c->load_ms;
    idmap_put(&c->backends, id, b);
    bump_id(c, id);
    return 0;
}

static int apply_backend_addr(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id, rpc_port, http_port;
    const char *host;
    if (fj_i64(rec, "id", &id, "backend_addr", e) < 0 || fj_str(rec, "host", &host, "backend_addr", e) < 0 ||
        fj_i64(rec, "rpc_port", &rpc_port, "backend_addr", e) < 0 ||
        fj_opt_i64(rec, "http_port", 0, &http_port, "backend_addr", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_backend *b = catalog_backend(c, id);
    if (!b)
        return err_set(e, FLOE_ECORRUPT, "backend_addr: unknown backend %lld", (long long)id);
    free(b->host);
    b->host = xstrdup(host);
    b->rpc_port = (int32_t)rpc_port;
    b->http_port = (int32_t)http_port;
    return 0;
}

static int apply_backend_decommission(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id;
    if (fj_i64(rec, "id", &id, "backend_decommission", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_backend *b = catalog_backend(c, id);
    if (!b)
        return err_set(e, FLOE_ECORRUPT, "backend_decommission: unknown backend %lld", (long long)id);
    b->decommissioned = true;
    return 0;
}

static int apply_resource_create(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id;
    const char *name, *type;
    const char *f[9];
    static const char *const keys[9] = { "root", "endpoint", "region", "bucket", "prefix",
                                         "access_key_env", "secret_key_env", "credentials_file",
                                         "profile" };
    bool path_style;
    if (fj_i64(rec, "id", &id, "resource_create", e) < 0 ||
        fj_str(rec, "name", &name, "resource_create", e) < 0 ||
        fj_str(rec, "type", &type, "resource_create", e) < 0 ||
        fj_opt_bool(rec, "path_style", &path_style, "resource_create", e) < 0)
        return FLOE_ECORRUPT;
    for (int i = 0; i < 9; i++)
        if (fj_opt_str(rec, keys[i], &f[i], "resource_create", e) < 0)
            return FLOE_ECORRUPT;
    bool s3 = strcmp(type, "s3") == 0;
    if (!s3 && strcmp(type, "local") != 0)
        return err_set(e, FLOE_ECORRUPT, "resource_create: unknown type '%s'", type);
    if (id <= 0 || catalog_resource(c, id) || catalog_resource_by_name(c, name))
        return err_set(e, FLOE_ECORRUPT, "resource_create: id %lld or name '%s' exists",
                       (long long)id, name);
    struct fe_resource *r = xcalloc(1, sizeof(*r));
    r->id = id;
    r->name = xstrdup(name);
    r->type = s3 ? FE_RES_S3 : FE_RES_LOCAL;
    r->path_style = path_style;
    char **dst[9] = { &r->root, &r->endpoint, &r->region, &r->bucket, &r->prefix,
                      &r->access_key_env, &r->secret_key_env, &r->credentials_file, &r->profile };
    for (int i = 0; i < 9; i++)
        *dst[i] = f[i] ? xstrdup(f[i]) : NULL;
    idmap_put(&c->resources, id, r);
    bump_id(c, id);
    return 0;
}

json_t *catalog_resource_to_json(const struct fe_resource *r)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)r->id, "name", r->name, "type",
                          r->type == FE_RES_S3 ? "s3" : "local", "path_style", (int)r->path_style);
    const char *keys[9] = { "root", "endpoint", "region", "bucket", "prefix",
                            "access_key_env", "secret_key_env", "credentials_file", "profile" };
    const char *vals[9] = { r->root, r->endpoint, r->region, r->bucket, r->prefix,
                            r->access_key_env, r->secret_key_env, r->credentials_file, r->profile };
    for (int i = 0; i < 9; i++)
        if (vals[i])
            json_object_set_new(o, keys[i], json_string(vals[i]));
    return o;
}

static int apply_resource_drop(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id;
    if (fj_i64(rec, "id", &id, "resource_drop", e) < 0)
        return FLOE_ECORRUPT;
    if (!catalog_resource(c, id))
        return err_set(e, FLOE_ECORRUPT, "resource_drop: unknown resource %lld", (long long)id);
    IDMAP_FOREACH(&c->policies, i) {
        struct fe_policy *p = c->policies.slots[i].val;
        if (p->resource_id == id)
            return err_set(e, FLOE_ECORRUPT, "resource_drop: resource %lld used by policy '%s'",
                           (long long)id, p->name);
    }
    IDMAP_FOREACH(&c->rdrops, i) {
        struct fe_rdrop *d = c->rdrops.slots[i].val;
        if (d->resource_id == id)
            return err_set(e, FLOE_ECORRUPT, "resource_drop: resource %lld still has the remote data of "
                           "dropped tablet %lld to delete", (long long)id, (long long)d->tablet_id);
    }
    resource_free(idmap_del(&c->resources, id));
    return 0;
}

static int apply_policy_create(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id, res, ttl, dt;
    const char *name;
    if (fj_i64(rec, "id", &id, "policy_create", e) < 0 || fj_str(rec, "name", &name, "policy_create", e) < 0 ||
        fj_i64(rec, "resource_id", &res, "policy_create", e) < 0 ||
        fj_opt_i64(rec, "ttl_s", 0, &ttl, "policy_create", e) < 0 ||
        fj_opt_i64(rec, "datetime_s", 0, &dt, "policy_create", e) < 0)
        return FLOE_ECORRUPT;
    if (id <= 0 || catalog_policy(c, id) || catalog_policy_by_name(c, name) || !catalog_resource(c, res))
        return err_set(e, FLOE_ECORRUPT, "policy_create: id %lld/name '%s' exists or resource %lld unknown",
                       (long long)id, name, (long long)res);
    struct fe_policy *p = xcalloc(1, sizeof(*p));
    p->id = id;
    p->name = xstrdup(name);
    p->resource_id = res;
    p->cooldown_ttl_s = ttl;
    p->cooldown_datetime_s = dt;
    idmap_put(&c->policies, id, p);
    bump_id(c, id);
    return 0;
}

static int apply_policy_drop(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id;
    if (fj_i64(rec, "id", &id, "policy_drop", e) < 0)
        return FLOE_ECORRUPT;
    if (!catalog_policy(c, id))
        return err_set(e, FLOE_ECORRUPT, "policy_drop: unknown policy %lld", (long long)id);
    IDMAP_FOREACH(&c->tables, i) {
        struct fe_table *t = c->tables.slots[i].val;
        if (t->policy_id == id)
            return err_set(e, FLOE_ECORRUPT, "policy_drop: policy %lld used by table '%s'",
                           (long long)id, t->name);
    }
    policy_free(idmap_del(&c->policies, id));
    return 0;
}

json_t *catalog_replica_to_json(const struct fe_replica *r)
{
    return json_pack("[I,I,I,i]", (json_int_t)r->id, (json_int_t)r->backend_id,
                     (json_int_t)r->version, (int)r->state);
}

static void tablet_link(struct catalog *c, struct fe_tablet *t)
{
    idmap_put(&c->tablets, t->id, t);
    for (int i = 0; i < t->nreplicas; i++) {
        struct fe_backend *b = catalog_backend(c, t->replicas[i].backend_id);
        if (b)
            b->nreplicas++;
        if (b && t->replicas[i].id == t->cooldown_replica_id)
            b->nuploaders++;
        bump_id(c, t->replicas[i].id);
    }
    c->nreplicas += t->nreplicas;
    bump_id(c, t->id);
    if (t->cooldown_term > c->max_term)
        c->max_term = t->cooldown_term;
}

static void tablet_unlink(struct catalog *c, struct fe_tablet *t)
{
    idmap_del(&c->tablets, t->id);
    for (int i = 0; i < t->nreplicas; i++) {
        struct fe_backend *b = catalog_backend(c, t->replicas[i].backend_id);
        if (b)
            b->nreplicas--;
        if (b && t->replicas[i].id == t->cooldown_replica_id)
            b->nuploaders--;
    }
    c->nreplicas -= t->nreplicas;
}

/* Parses [[rid, be, version, state], ...] (version/state optional). */
static int replicas_from_json(struct catalog *c, const json_t *a, struct fe_tablet *t, const char *ctx,
                              struct err *e)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > 64)
        return err_set(e, FLOE_ECORRUPT, "%s: tablet %lld: bad replica list", ctx, (long long)t->id);
    t->replicas = xcalloc(n, sizeof(*t->replicas));
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(a, i);
        int64_t v[4] = { 0, 0, 0, 0 };
        size_t m = json_array_size(r);
        if (m < 2 || m > 4)
            return err_set(e, FLOE_ECORRUPT, "%s: tablet %lld: bad replica %zu", ctx, (long long)t->id, i);
        for (size_t k = 0; k < m; k++)
            if (fj_at_i64(r, k, &v[k], ctx, e) < 0)
                return FLOE_ECORRUPT;
        if (v[0] <= 0 || !catalog_backend(c, v[1]) || v[3] < 0 || v[3] > FE_REPLICA_CLONING)
            return err_set(e, FLOE_ECORRUPT, "%s: tablet %lld: replica %lld: bad id, backend or state",
                           ctx, (long long)t->id, (long long)v[0]);
        for (size_t k = 0; k < i; k++)
            if (t->replicas[k].backend_id == v[1] || t->replicas[k].id == v[0])
                return err_set(e, FLOE_ECORRUPT, "%s: tablet %lld: two replicas share backend or id",
                               ctx, (long long)t->id);
        t->replicas[i].id = v[0];
        t->replicas[i].backend_id = v[1];
        t->replicas[i].version = v[2];
        t->replicas[i].state = (enum fe_replica_state)v[3];
        t->nreplicas++;
    }
    return 0;
}

/* Builds a table from a table_create record or an image line (without tablets). */
static int table_from_json(struct catalog *c, const json_t *rec, struct fe_table **ret, const char *ctx,
                           struct err *e)
{
    int64_t id, nkeys, model, buckets, repl, policy, version, ms;
    const char *name;
    json_t *schema;
    if (fj_i64(rec, "id", &id, ctx, e) < 0 || fj_str(rec, "name", &name, ctx, e) < 0 ||
        fj_array(rec, "schema", &schema, ctx, e) < 0 || fj_i64(rec, "nkeys", &nkeys, ctx, e) < 0 ||
        fj_i64(rec, "model", &model, ctx, e) < 0 || fj_i64(rec, "buckets", &buckets, ctx, e) < 0 ||
        fj_i64(rec, "replication", &repl, ctx, e) < 0 ||
        fj_opt_i64(rec, "policy_id", 0, &policy, ctx, e) < 0 ||
        fj_opt_i64(rec, "version", 1, &version, ctx, e) < 0 || fj_opt_i64(rec, "ms", 0, &ms, ctx, e) < 0)
        return FLOE_ECORRUPT;
    if (id <= 0 || catalog_table(c, id) || catalog_table_by_name(c, name))
        return err_set(e, FLOE_ECORRUPT, "%s: table id %lld or name '%s' exists", ctx, (long long)id, name);
    if (buckets < 1 || buckets > 65536 || repl < 1 || repl > 16 || model < 0 || model > 1)
        return err_set(e, FLOE_ECORRUPT, "%s: table '%s': bad buckets/replication/model", ctx, name);
    if (policy && !catalog_policy(c, policy))
        return err_set(e, FLOE_ECORRUPT, "%s: table '%s': unknown policy %lld", ctx, name, (long long)policy);
    struct fe_table *t = xcalloc(1, sizeof(*t));
    if (schema_from_json(schema, nkeys, &t->schema, ctx, e) < 0) {
        free(t);
        return FLOE_ECORRUPT;
    }
    t->id = id;
    t->name = xstrdup(name);
    t->model = (enum fe_key_model)model;
    t->buckets = (int32_t)buckets;
    t->replication = (int32_t)repl;
    t->policy_id = policy;
    t->version = version;
    t->created_ms = ms;
    t->tablet_ids = xcalloc((size_t)buckets, sizeof(int64_t));
    *ret = t;
    return 0;
}

static int apply_table_create(struct catalog *c, const json_t *rec, struct err *e)
{
    struct fe_table *t = NULL;
    struct fe_tablet **tabs = NULL;
    struct idmap seen = IDMAP_INIT;
    json_t *tablets;
    int r = table_from_json(c, rec, &t, "table_create", e);
    if (r < 0)
        return r;
    if (fj_array(rec, "tablets", &tablets, "table_create", e) < 0 ||
        json_array_size(tablets) != (size_t)t->buckets) {
        r = err_set(e, FLOE_ECORRUPT, "table_create: table '%s': tablet list does not match buckets", t->name);
        goto out;
    }
    tabs = xcalloc((size_t)t->buckets, sizeof(*tabs));
    for (int32_t b = 0; b < t->buckets; b++) {
        json_t *tj = json_array_get(tablets, (size_t)b);
        int64_t tid;
        json_t *reps;
        if (fj_at_i64(tj, 0, &tid, "table_create", e) < 0) {
            r = FLOE_ECORRUPT;
            goto out;
        }
        reps = json_array_get(tj, 1);
        if (tid <= 0 || catalog_tablet(c, tid)) {
            r = err_set(e, FLOE_ECORRUPT, "table_create: tablet id %lld invalid or exists", (long long)tid);
            goto out;
        }
        if (idmap_get(&seen, tid)) {
            r = err_set(e, FLOE_ECORRUPT, "table_create: duplicate tablet id %lld", (long long)tid);
            goto out;
        }
        idmap_put(&seen, tid, tabs);
        tabs[b] = xcalloc(1, sizeof(struct fe_tablet));
        tabs[b]->id = tid;
        tabs[b]->table_id = t->id;
        tabs[b]->bucket = b;
        if ((r = replicas_from_json(c, reps, tabs[b], "table_create", e)) < 0)
            goto out;
        tabs[b]->version = t->version;
        for (int i = 0; i < tabs[b]->nreplicas; i++)
            tabs[b]->replicas[i].version = t->version;
    }
    for (int32_t b = 0; b < t->buckets; b++) {
        t->tablet_ids[b] = tabs[b]->id;
        tablet_link(c, tabs[b]);
        tabs[b] = NULL;
    }
    idmap_put(&c->tables, t->id, t);
    bump_id(c, t->id);
    t = NULL;
out:
    if (tabs)
        for (int32_t b = 0; t && b < t->buckets; b++)
            tablet_free(tabs[b]);
    free(tabs);
    table_free(t);
    idmap_release(&seen);
    return r;
}

static int apply_table_drop(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id;
    if (fj_i64(rec, "id", &id, "table_drop", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_table *t = catalog_table(c, id);
    if (!t)
        return err_set(e, FLOE_ECORRUPT, "table_drop: unknown table %lld", (long long)id);
    const struct fe_policy *pol = t->policy_id ? catalog_policy(c, t->policy_id) : NULL;
    for (int32_t b = 0; b < t->buckets; b++) {
        struct fe_tablet *tb = catalog_tablet(c, t->tablet_ids[b]);
        if (tb && tb->cooldown_term > 0 && pol && catalog_resource(c, pol->resource_id) && tb->nreplicas > 0) {
            /* cooled (or cooling): its remote prefix must go too, whatever happens to the drops */
            int64_t *reps = xcalloc((size_t)tb->nreplicas, sizeof(*reps));
            int64_t *bes = xcalloc((size_t)tb->nreplicas, sizeof(*bes));
            for (int k = 0; k < tb->nreplicas; k++) {
                reps[k] = tb->replicas[k].id;
                bes[k] = tb->replicas[k].backend_id;
            }
            rdrop_put(c, tb->id, pol->resource_id, tb->nreplicas, reps, bes);
        }
        if (tb) {
            tablet_unlink(c, tb);
            tablet_free(tb);
        }
    }
    idmap_del(&c->tables, id);
    table_free(t);
    return 0;
}

static int apply_table_set_policy(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t id, policy;
    if (fj_i64(rec, "id", &id, "table_set_policy", e) < 0 ||
        fj_i64(rec, "policy_id", &policy, "table_set_policy", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_table *t = catalog_table(c, id);
    if (!t || (policy && !catalog_policy(c, policy)))
        return err_set(e, FLOE_ECORRUPT, "table_set_policy: unknown table %lld or policy %lld",
                       (long long)id, (long long)policy);
    t->policy_id = policy;
    return 0;
}

static int apply_txn_begin(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t txn;
    if (fj_i64(rec, "txn", &txn, "txn_begin", e) < 0)
        return FLOE_ECORRUPT;
    if (txn < c->next_txn)
        return err_set(e, FLOE_ECORRUPT, "txn_begin: txn %lld reused (next is %lld)", (long long)txn,
                       (long long)c->next_txn);
    c->next_txn = txn + 1;
    return 0;
}

static bool id_in(const json_t *a, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
        if (json_integer_value(v) == id)
            return true;
    return false;
}

/* {table, txn, tablets: [[tablet, version], ...], lagging: [replica, ...]}: each
 * listed tablet moves to its next version; its replicas move along unless
 * they are listed as lagging (those are marked for repair). */
static int apply_publish(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t table, txn;
    json_t *lagging, *tablets;
    if (fj_i64(rec, "table", &table, "publish", e) < 0 || fj_i64(rec, "txn", &txn, "publish", e) < 0 ||
        fj_array(rec, "tablets", &tablets, "publish", e) < 0 ||
        fj_array(rec, "lagging", &lagging, "publish", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_table *t = catalog_table(c, table);
    if (!t)
        return err_set(e, FLOE_ECORRUPT, "publish: unknown table %lld", (long long)table);
    size_t i;
    json_t *tv;
    json_array_foreach(tablets, i, tv) {
        int64_t tid, v;
        if (fj_at_i64(tv, 0, &tid, "publish", e) < 0 || fj_at_i64(tv, 1, &v, "publish", e) < 0)
            return FLOE_ECORRUPT;
        struct fe_tablet *tb = catalog_tablet(c, tid);
        if (!tb || tb->table_id != table || v != tb->version + 1)
            return err_set(e, FLOE_ECORRUPT, "publish: tablet %lld of table '%s': unknown or version %lld "
                           "does not follow", (long long)tid, t->name, (long long)v);
    }
    json_array_foreach(tablets, i, tv) {
        struct fe_tablet *tb = catalog_tablet(c, json_integer_value(json_array_get(tv, 0)));
        int64_t v = json_integer_value(json_array_get(tv, 1));
        tb->version = v;
        tb->last_txn = txn;
        for (int k = 0; k < tb->nreplicas; k++) {
            struct fe_replica *r = &tb->replicas[k];
            if (id_in(lagging, r->id)) {
                if (r->state == FE_REPLICA_NORMAL)
                    r->state = FE_REPLICA_LAGGING;
            } else if (r->version == v - 1) {
                r->version = v;
            }
        }
    }
    t->version++;
    if (txn >= c->next_txn)
        c->next_txn = txn + 1;
    const char *label;
    int64_t rows;
    if (fj_opt_str(rec, "label", &label, "publish", e) == 0 && label && *label &&
        fj_opt_i64(rec, "rows", 0, &rows, "publish", e) == 0)
        label_add(c, table, label, txn, rows, t->version);
    return 0;
}

static int tablet_replica_args(struct catalog *c, const json_t *rec, const char *ctx,
                               struct fe_tablet **ret_t, int64_t *ret_rid, struct err *e)
{
    int64_t tid;
    if (fj_i64(rec, "tablet", &tid, ctx, e) < 0 || fj_i64(rec, "replica", ret_rid, ctx, e) < 0)
        return FLOE_ECORRUPT;
    *ret_t = catalog_tablet(c, tid);
    if (!*ret_t)
        return err_set(e, FLOE_ECORRUPT, "%s: unknown tablet %lld", ctx, (long long)tid);
    return 0;
}

static int apply_replica_state(struct catalog *c, const json_t *rec, struct err *e)
{
    struct fe_tablet *t;
    int64_t rid, state, version;
    if (tablet_replica_args(c, rec, "replica_state", &t, &rid, e) < 0 ||
        fj_i64(rec, "state", &state, "replica_state", e) < 0 ||
        fj_opt_i64(rec, "version", -1, &version, "replica_state", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_replica *r = catalog_replica(t, rid);
    if (!r || state < 0 || state > FE_REPLICA_CLONING)
        return err_set(e, FLOE_ECORRUPT, "replica_state: tablet %lld: unknown replica %lld or bad state",
                       (long long)t->id, (long long)rid);
    r->state = (enum fe_replica_state)state;
    if (version >= 0)
        r->version = version;
    return 0;
}

static int apply_replica_add(struct catalog *c, const json_t *rec, struct err *e)
{
    struct fe_tablet *t;
    int64_t rid, be, state;
    if (tablet_replica_args(c, rec, "replica_add", &t, &rid, e) < 0 ||
        fj_i64(rec, "backend", &be, "replica_add", e) < 0 ||
        fj_opt_i64(rec, "state", FE_REPLICA_CLONING, &state, "replica_add", e) < 0)
        return FLOE_ECORRUPT;
    if (rid <= 0 || !catalog_backend(c, be) || state < 0 || state > FE_REPLICA_CLONING || t->nreplicas >= 64)
        return err_set(e, FLOE_ECORRUPT, "replica_add: tablet %lld: bad replica %lld or backend %lld",
                       (long long)t->id, (long long)rid, (long long)be);
    for (int i = 0; i < t->nreplicas; i++)
        if (t->replicas[i].id == rid || t->replicas[i].backend_id == be)
            return err_set(e, FLOE_ECORRUPT, "replica_add: tablet %lld: replica %lld or backend %lld taken",
                           (long long)t->id, (long long)rid, (long long)be);
    t->replicas = xrealloc(t->replicas, (size_t)(t->nreplicas + 1) * sizeof(*t->replicas));
    struct fe_replica *r = &t->replicas[t->nreplicas++];
    memset(r, 0, sizeof(*r));
    r->id = rid;
    r->backend_id = be;
    r->state = (enum fe_replica_state)state;
    catalog_backend(c, be)->nreplicas++;
    c->nreplicas++;
    bump_id(c, rid);
    return 0;
}

static int apply_replica_drop(struct catalog *c, const json_t *rec, struct err *e)
{
    struct fe_tablet *t;
    int64_t rid;
    if (tablet_replica_args(c, rec, "replica_drop", &t, &rid, e) < 0)
        return FLOE_ECORRUPT;
    struct fe_replica *r = catalog_replica(t, rid);
    if (!r || t->nreplicas <= 1)
        return err_set(e, FLOE_ECORRUPT, "replica_drop: tablet %lld: unknown or last replica %lld",
                       (long long)t->id, (long long)rid);
    struct fe_backend *b = catalog_backend(c, r->backend_id);
    if (b) {
        b->nreplicas--;
        if (rid == t->cooldown_replica_id)
            b->nuploaders--;
    }
    size_t idx = (size_t)(r - t->replicas);
    memmove(r, r + 1, (size_t)(t->nreplicas - 1 - (int)idx) * sizeof(*r));
    t->nreplicas--;
    c->nreplicas--;
    /* the cooldown replica id stays: the conf handler sees it dropped and re-elects */
    return 0;
}

static int apply_cooldown_conf(struct catalog *c, const json_t *rec, struct err *e)
{
    json_t *confs;
    if (fj_array(rec, "confs", &confs, "cooldown_conf", e) < 0)
        return FLOE_ECORRUPT;
    size_t n = json_array_size(confs);
    /* validate all first */
    for (size_t i = 0; i < n; i++) {
        json_t *cj = json_array_get(confs, i);
        int64_t v[3];
        for (size_t k = 0; k < 3; k++)
            if (fj_at_i64(cj, k, &v[k], "cooldown_conf", e) < 0)
                return FLOE_ECORRUPT;
        struct fe_tablet *t = catalog_tablet(c, v[0]);
        if (!t)
            return err_set(e, FLOE_ECORRUPT, "cooldown_conf: unknown tablet %lld", (long long)v[0]);
        if (!catalog_replica(t, v[1]))
            return err_set(e, FLOE_ECORRUPT, "cooldown_conf: tablet %lld has no replica %lld",
                           (long long)v[0], (long long)v[1]);
        if (v[2] <= t->cooldown_term)
            return err_set(e, FLOE_ECORRUPT, "cooldown_conf: tablet %lld: term %lld is not above %lld",
                           (long long)v[0], (long long)v[2], (long long)t->cooldown_term);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *cj = json_array_get(confs, i);
        int64_t tid = json_integer_value(json_array_get(cj, 0));
        int64_t rid = json_integer_value(json_array_get(cj, 1));
        int64_t term = json_integer_value(json_array_get(cj, 2));
        struct fe_tablet *t = catalog_tablet(c, tid);
        struct fe_replica *old = catalog_replica(t, t->cooldown_replica_id);
        if (old) {
            struct fe_backend *b = catalog_backend(c, old->backend_id);
            if (b)
                b->nuploaders--;
        }
        struct fe_backend *nb = catalog_backend(c, catalog_replica(t, rid)->backend_id);
        if (nb)
            nb->nuploaders++;
        t->cooldown_replica_id = rid;
        t->cooldown_term = term;
        t->push_needed = true;
        if (term > c->max_term)
            c->max_term = term;
    }
    return 0;
}

static int apply_delete_confirm(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t tid, term, did;
    if (fj_i64(rec, "tablet", &tid, "delete_confirm", e) < 0 ||
        fj_i64(rec, "term", &term, "delete_confirm", e) < 0 ||
        fj_i64(rec, "delete_id", &did, "delete_confirm", e) < 0)
        return FLOE_ECORRUPT;
    (void)c;
    /* an audit record: the tablet may be gone by the time it is replayed */
    return 0;
}

static int apply_master_epoch(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t ep;
    if (fj_i64(rec, "epoch", &ep, "master_epoch", e) < 0)
        return FLOE_ECORRUPT;
    if (ep <= c->master_epoch)
        return err_set(e, FLOE_ECORRUPT, "master_epoch: epoch %lld is not above %lld", (long long)ep,
                       (long long)c->master_epoch);
    c->master_epoch = ep;
    return 0;
}

static int apply_remote_deleted(struct catalog *c, const json_t *rec, struct err *e)
{
    int64_t tid;
    if (fj_i64(rec, "tablet", &tid, "remote_deleted", e) < 0)
        return FLOE_ECORRUPT;
    struct fe_rdrop *d = idmap_get(&c->rdrops, tid);
    if (!d)
        return err_set(e, FLOE_ECORRUPT, "remote_deleted: tablet %lld has no remote delete pending", (long long)tid);
    idmap_del(&c->rdrops, tid);
    rdrop_free(d);
    return 0;
}

typedef int (*apply_fn)(struct catalog *c, const json_t *rec, struct err *e);
static const struct {
    const char *op;
    apply_fn fn;
} apply_table[] = {
    { "backend_add", apply_backend_add },
    { "backend_addr", apply_backend_addr },
    { "backend_decommission", apply_backend_decommission },
    { "resource_create", apply_resource_create },
    { "resource_drop", apply_resource_drop },
    { "policy_create", apply_policy_create },
    { "policy_drop", apply_policy_drop },
    { "table_create", apply_table_create },
    { "table_drop", apply_table_drop },
    { "table_set_policy", apply_table_set_policy },
    { "txn_begin", apply_txn_begin },
    { "publish", apply_publish },
    { "replica_state", apply_replica_state },
    { "replica_add", apply_replica_add },
    { "replica_drop", apply_replica_drop },
    { "cooldown_conf", apply_cooldown_conf },
    { "delete_confirm", apply_delete_confirm },
    { "master_epoch", apply_master_epoch },
    { "remote_deleted", apply_remote_deleted },
};

int catalog_apply(struct catalog *c, const json_t *rec, struct err *e)
{
    const char *op;
    int64_t seq;
    if (!json_is_object(rec))
        return err_set(e, FLOE_ECORRUPT, "journal record is not an object");
    if (fj_str(rec, "op", &op, "journal record", e) < 0 || fj_i64(rec, "seq", &seq, "journal record", e) < 0)
        return FLOE_ECORRUPT;
    for (size_t i = 0; i < sizeof(apply_table) / sizeof(apply_table[0]); i++) {
        if (strcmp(apply_table[i].op, op) == 0) {
            int r = apply_table[i].fn(c, rec, e);
            if (r < 0)
                return r;
            c->last_seq = seq;
            return 0;
        }
    }
    return err_set(e, FLOE_ECORRUPT, "journal record: unknown op '%s'", op);
}

/* ---- image ---- */

static int image_line(FILE *f, json_t *j)
{
    int r = json_dumpf(j, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF ? 0 : -EIO;
    json_decref(j);
    return r;
}

int catalog_image_write(const struct catalog *c, const char *path, struct err *e)
{
    char *tmp = xasprintf("%s.tmp", path);
    int r = 0;
    int64_t count = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        r = err_errno(e, errno, "image %s: create", tmp);
        goto out;
    }
    r |= image_line(f, json_pack("{s:i,s:I,s:I,s:I,s:I,s:I}", "image", 1, "last_seq", (json_int_t)c->last_seq,
                                 "next_id", (json_int_t)c->next_id, "next_txn", (json_int_t)c->next_txn,
                                 "max_term", (json_int_t)c->max_term, "master_epoch",
                                 (json_int_t)c->master_epoch));
    IDMAP_FOREACH(&c->backends, i) {
        struct fe_backend *b = c->backends.slots[i].val;
        r |= image_line(f, json_pack("{s:s,s:I,s:s,s:i,s:i,s:I,s:b}", "k", "backend", "id", (json_int_t)b->id,
                                     "host", b->host, "rpc_port", (int)b->rpc_port, "http_port",
                                     (int)b->http_port, "ms", (json_int_t)b->registered_ms,
                                     "decommissioned", (int)b->decommissioned));
        count++;
    }
    IDMAP_FOREACH(&c->resources, i) {
        json_t *j = catalog_resource_to_json(c->resources.slots[i].val);
        json_object_set_new(j, "k", json_string("resource"));
        r |= image_line(f, j);
        count++;
    }
    IDMAP_FOREACH(&c->policies, i) {
        struct fe_policy *p = c->policies.slots[i].val;
        r |= image_line(f, json_pack("{s:s,s:I,s:s,s:I,s:I,s:I}", "k", "policy", "id", (json_int_t)p->id,
                                     "name", p->name, "resource_id", (json_int_t)p->resource_id, "ttl_s",
                                     (json_int_t)p->cooldown_ttl_s, "datetime_s",
                                     (json_int_t)p->cooldown_datetime_s));
        count++;
    }
    IDMAP_FOREACH(&c->tables, i) {
        struct fe_table *t = c->tables.slots[i].val;
        r |= image_line(f, json_pack("{s:s,s:I,s:s,s:o,s:i,s:i,s:i,s:i,s:I,s:I,s:I}", "k", "table", "id",
                                     (json_int_t)t->id, "name", t->name, "schema",
                                     catalog_schema_to_json(&t->schema), "nkeys", t->schema.nkeys, "model",
                                     (int)t->model, "buckets", (int)t->buckets, "replication",
                                     (int)t->replication, "policy_id", (json_int_t)t->policy_id, "version",
                                     (json_int_t)t->version, "ms", (json_int_t)t->created_ms));
        count++;
    }
    /* tablets are most of the image and hold only integers: formatted directly */
    IDMAP_FOREACH(&c->tablets, i) {
        const struct fe_tablet *t = c->tablets.slots[i].val;
        fprintf(f, "{\"k\":\"tablet\",\"id\":%lld,\"table\":%lld,\"bucket\":%d,\"version\":%lld,\"txn\":%lld,"
                "\"cr\":%lld,\"term\":%lld,\"replicas\":[", (long long)t->id, (long long)t->table_id, (int)t->bucket,
                (long long)t->version, (long long)t->last_txn, (long long)t->cooldown_replica_id,
                (long long)t->cooldown_term);
        for (int k = 0; k < t->nreplicas; k++)
            fprintf(f, "%s[%lld,%lld,%lld,%d]", k ? "," : "", (long long)t->replicas[k].id,
                    (long long)t->replicas[k].backend_id, (long long)t->replicas[k].version,
                    (int)t->replicas[k].state);
        fputs("]}\n", f);
        count++;
    }
    IDMAP_FOREACH(&c->labels, i) {
        for (const struct fe_label *l = c->labels.slots[i].val; l; l = l->next) {
            r |= image_line(f, json_pack("{s:s,s:I,s:s,s:I,s:I,s:I}", "k", "label", "table", (json_int_t)l->table_id,
                                         "label", l->label, "txn", (json_int_t)l->txn, "rows", (json_int_t)l->rows,
                                         "version", (json_int_t)l->version));
            count++;
        }
    }
    IDMAP_FOREACH(&c->rdrops, i) {
        const struct fe_rdrop *d = c->rdrops.slots[i].val;
        json_t *reps = json_array();
        for (int k = 0; k < d->nreplicas; k++)
            json_array_append_new(reps, json_pack("[I,I]", (json_int_t)d->replica_ids[k],
                                                  (json_int_t)d->backend_ids[k]));
        r |= image_line(f, json_pack("{s:s,s:I,s:I,s:o}", "k", "rdrop", "tablet", (json_int_t)d->tablet_id,
                                     "resource", (json_int_t)d->resource_id, "replicas", reps));
        count++;
    }
    r |= image_line(f, json_pack("{s:I}", "end", (json_int_t)count));
    if (r != 0 || fflush(f) != 0 || ferror(f)) {
        r = err_errno(e, EIO, "image %s: write", tmp);
        goto out;
    }
    if ((r = FAULT_POINT("image.fsync")) < 0) {
        err_set(e, r, "image %s: fsync failed (fault)", tmp);
        goto out;
    }
    if (fsync(fileno(f)) != 0) {
        r = err_errno(e, errno, "image %s: fsync", tmp);
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        r = err_errno(e, errno, "image %s: close", tmp);
        goto out;
    }
    f = NULL;
    if ((r = FAULT_POINT("image.rename")) < 0) {
        err_set(e, r, "image %s: rename failed (fault)", path);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        r = err_errno(e, errno, "image %s: rename", path);
        goto out;
    }
    {
        char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
        if (dfd < 0 || fsync(dfd) != 0)
            r = err_errno(e, errno, "image %s: fsync directory", path);
        if (dfd >= 0)
            close(dfd);
        free(dir);
    }
out:
    if (f) {
        fclose(f);
        unlink(tmp);
    }
    free(tmp);
    return r;
}

static int image_apply_line(struct catalog *c, json_t *j, const char *ctx, struct err *e)
{
    const char *k;
    if (fj_str(j, "k", &k, ctx, e) < 0)
        return FLOE_ECORRUPT;
    if (strcmp(k, "backend") == 0)
        return apply_backend_add(c, j, e);
    if (strcmp(k, "resource") == 0)
        return apply_resource_create(c, j, e);
    if (strcmp(k, "policy") == 0)
        return apply_policy_create(c, j, e);
    if (strcmp(k, "table") == 0) {
        struct fe_table *t;
        int r = table_from_json(c, j, &t, ctx, e);
        if (r < 0)
            return r;
        idmap_put(&c->tables, t->id, t);
        bump_id(c, t->id);
        return 0;
    }
    if (strcmp(k, "tablet") == 0) {
        int64_t id, table, bucket, cr, term, version, txn;
        json_t *reps;
        if (fj_i64(j, "id", &id, ctx, e) < 0 || fj_i64(j, "table", &table, ctx, e) < 0 ||
            fj_i64(j, "version", &version, ctx, e) < 0 || fj_opt_i64(j, "txn", 0, &txn, ctx, e) < 0 ||
            fj_i64(j, "bucket", &bucket, ctx, e) < 0 || fj_i64(j, "cr", &cr, ctx, e) < 0 ||
            fj_i64(j, "term", &term, ctx, e) < 0 || fj_array(j, "replicas", &reps, ctx, e) < 0)
            return FLOE_ECORRUPT;
        struct fe_table *t = catalog_table(c, table);
        if (!t || bucket < 0 || bucket >= t->buckets || t->tablet_ids[bucket] != 0 || id <= 0 ||
            catalog_tablet(c, id) || term < 0)
            return err_set(e, FLOE_ECORRUPT, "%s: tablet %lld: bad table, bucket or id", ctx, (long long)id);
        struct fe_tablet *tb = xcalloc(1, sizeof(*tb));
        tb->id = id;
        tb->table_id = table;
        tb->bucket = (int32_t)bucket;
        tb->version = version;
        tb->last_txn = txn;
        tb->cooldown_replica_id = cr;
        tb->cooldown_term = term;
        tb->push_needed = term > 0;
        if (replicas_from_json(c, reps, tb, ctx, e) < 0) {
            tablet_free(tb);
            return FLOE_ECORRUPT;
        }
        t->tablet_ids[bucket] = id;
        tablet_link(c, tb);
        return 0;
    }
    if (strcmp(k, "rdrop") == 0) {
        int64_t tid, res;
        json_t *reps;
        if (fj_i64(j, "tablet", &tid, ctx, e) < 0 || fj_i64(j, "resource", &res, ctx, e) < 0 ||
            fj_array(j, "replicas", &reps, ctx, e) < 0)
            return FLOE_ECORRUPT;
        size_t n = json_array_size(reps);
        if (tid <= 0 || n == 0 || n > 1024 || catalog_rdrop(c, tid) || !catalog_resource(c, res))
            return err_set(e, FLOE_ECORRUPT, "%s: remote delete of tablet %lld: bad tablet, replicas or resource",
                           ctx, (long long)tid);
        int64_t *rids = xcalloc(n, sizeof(*rids)), *bids = xcalloc(n, sizeof(*bids));
        for (size_t k = 0; k < n; k++) {
            json_t *p = json_array_get(reps, k);
            if (json_array_size(p) != 2 || fj_at_i64(p, 0, &rids[k], ctx, e) < 0 ||
                fj_at_i64(p, 1, &bids[k], ctx, e) < 0) {
                free(rids);
                free(bids);
                return err_set(e, FLOE_ECORRUPT, "%s: remote delete of tablet %lld: replica %zu is not [id, backend]",
                               ctx, (long long)tid, k);
            }
        }
        rdrop_put(c, tid, res, (int)n, rids, bids);
        return 0;
    }
    if (strcmp(k, "label") == 0) {
        int64_t table, txn, rows, version;
        const char *label;
        if (fj_i64(j, "table", &table, ctx, e) < 0 || fj_str(j, "label", &label, ctx, e) < 0 ||
            fj_i64(j, "txn", &txn, ctx, e) < 0 || fj_i64(j, "rows", &rows, ctx, e) < 0 ||
            fj_i64(j, "version", &version, ctx, e) < 0)
            return FLOE_ECORRUPT;
        if (catalog_table(c, table))
            label_add(c, table, label, txn, rows, version);
        return 0;
    }
    return err_set(e, FLOE_ECORRUPT, "%s: unknown kind '%s'", ctx, k);
}

int catalog_image_load(struct catalog *c, const char *path, struct err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_errno(e, errno, "image %s: open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0, count = 0;
    bool ended = false;
    int r = 0;
    char ctx[64 + PATH_MAX];
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(ctx, sizeof(ctx), "image %s line %lld", path, (long long)lineno);
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, 0, &je);
        if (!j || ended) {
            json_decref(j);
            r = err_set(e, FLOE_ECORRUPT, "%s: %s", ctx, ended ? "data after the end line" : je.text);
            goto out;
        }
        if (lineno == 1) {
            int64_t v, seq, nid, ntx, mt, ep;
            if (fj_i64(j, "image", &v, ctx, e) < 0 || v != 1 || fj_i64(j, "last_seq", &seq, ctx, e) < 0 ||
                fj_i64(j, "next_id", &nid, ctx, e) < 0 || fj_i64(j, "next_txn", &ntx, ctx, e) < 0 ||
                fj_i64(j, "max_term", &mt, ctx, e) < 0 || fj_opt_i64(j, "master_epoch", 0, &ep, ctx, e) < 0 ||
                ep < 0) {
                json_decref(j);
                r = err_set(e, FLOE_ECORRUPT, "%s: not an image header", ctx);
                goto out;
            }
            c->last_seq = seq;
            c->next_id = nid;
            c->next_txn = ntx;
            c->max_term = mt;
            c->master_epoch = ep;
        } else if (json_object_get(j, "end")) {
            int64_t want = json_integer_value(json_object_get(j, "end"));
            ended = true;
            if (want != count) {
                json_decref(j);
                r = err_set(e, FLOE_ECORRUPT, "%s: end line says %lld objects, found %lld", ctx,
                            (long long)want, (long long)count);
                goto out;
            }
        } else {
            r = image_apply_line(c, j, ctx, e);
            count++;
        }
        json_decref(j);
        if (r < 0)
            goto out;
    }
    if (!ended) {
        r = err_set(e, FLOE_ECORRUPT, "image %s: truncated (no end line after line %lld)", path,
                    (long long)lineno);
        goto out;
    }
    IDMAP_FOREACH(&c->tables, i) {
        struct fe_table *t = c->tables.slots[i].val;
        for (int32_t b = 0; b < t->buckets; b++)
            if (t->tablet_ids[b] == 0) {
                r = err_set(e, FLOE_ECORRUPT, "image %s: table '%s' has no tablet for bucket %d", path,
                            t->name, (int)b);
                goto out;
            }
    }
out:
    free(line);
    fclose(f);
    return r;
}
