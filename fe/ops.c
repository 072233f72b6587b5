/* ops: validated catalog operations; see ops.h. */
#define LOG_MODULE "ops"
#include "ops.h"

#include "buf.h"
#include "coolconf.h"
#include "err.h"
#include "log.h"
#include "meta.h"
#include "placement.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ops_backend_register(struct fe_meta *m, int64_t known_id, const char *host, int32_t rpc_port,
                         int32_t http_port, int64_t now_ms, int64_t *ret_id, struct err *e)
{
    struct catalog *c = &m->cat;
    int r;
    if (!host || !*host || strlen(host) > 255 || rpc_port < 1 || rpc_port > 65535 || http_port < 0 ||
        http_port > 65535)
        return err_set(e, FLOE_EBADINPUT, "register: bad backend address '%s:%d'", host ? host : "",
                       (int)rpc_port);
    struct fe_backend *b = known_id > 0 ? catalog_backend(c, known_id) : catalog_backend_by_addr(c, host, rpc_port);
    if (known_id > 0 && !b)
        return err_set(e, FLOE_ENOTFOUND, "register: backend id %lld is not known to this FE "
                       "(its storage belongs to another cluster?)", (long long)known_id);
    if (known_id < 0)
        return err_set(e, FLOE_EBADINPUT, "register: bad backend id %lld", (long long)known_id);
    if (b) {
        struct fe_backend *other = catalog_backend_by_addr(c, host, rpc_port);
        if (other && other != b)
            return err_set(e, FLOE_EEXIST, "register: address %s:%d already belongs to backend %lld",
                           host, (int)rpc_port, (long long)other->id);
        if (strcmp(b->host, host) != 0 || b->rpc_port != rpc_port || b->http_port != http_port) {
            r = meta_commit(m, json_pack("{s:s,s:I,s:s,s:i,s:i}", "op", "backend_addr", "id",
                                         (json_int_t)b->id, "host", host, "rpc_port", (int)rpc_port,
                                         "http_port", (int)http_port), e);
            if (r < 0)
                return r;
        }
        b->last_hb_ms = now_ms;
        *ret_id = b->id;
        return 0;
    }
    int64_t id = c->next_id;
    r = meta_commit(m, json_pack("{s:s,s:I,s:s,s:i,s:i,s:I}", "op", "backend_add", "id", (json_int_t)id,
                                 "host", host, "rpc_port", (int)rpc_port, "http_port", (int)http_port, "ms",
                                 (json_int_t)now_ms), e);
    if (r < 0)
        return r;
    catalog_backend(c, id)->last_hb_ms = now_ms;
    log_info("backend %lld registered at %s:%d", (long long)id, host, (int)rpc_port);
    *ret_id = id;
    return 0;
}

int ops_backend_decommission(struct fe_meta *m, int64_t id, struct err *e)
{
    struct fe_backend *b = catalog_backend(&m->cat, id);
    if (!b)
        return err_set(e, FLOE_ENOTFOUND, "backend %lld does not exist", (long long)id);
    if (b->decommissioned)
        return 0;
    return meta_commit(m, json_pack("{s:s,s:I}", "op", "backend_decommission", "id", (json_int_t)id), e);
}

static bool env_name_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 128 || isdigit((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static bool text_ok(const char *s, size_t max)
{
    if (!s)
        return true;
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

int ops_resource_create(struct fe_meta *m, const struct ops_resource_args *a, struct err *e)
{
    struct catalog *c = &m->cat;
    if (!catalog_name_valid(a->name))
        return err_set(e, FLOE_EBADINPUT, "resource name '%s': use 1-64 letters, digits, '_' or '-'",
                       a->name ? a->name : "");
    if (catalog_resource_by_name(c, a->name))
        return err_set(e, FLOE_EEXIST, "resource '%s' already exists", a->name);
    const char *fields[] = { a->root, a->endpoint, a->region, a->bucket, a->prefix, a->access_key_env,
                             a->secret_key_env, a->credentials_file, a->profile };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!text_ok(fields[i], 1024))
            return err_set(e, FLOE_EBADINPUT, "resource '%s': a field is too long or has control characters",
                           a->name);
    json_t *rec;
    if (a->type && strcmp(a->type, "local") == 0) {
        if (!a->root || a->root[0] != '/')
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --root must be an absolute directory", a->name);
        if (a->endpoint || a->bucket || a->region || a->access_key_env || a->credentials_file)
            return err_set(e, FLOE_EBADINPUT, "resource '%s': s3 options given for a local resource", a->name);
        rec = json_pack("{s:s,s:I,s:s,s:s,s:s}", "op", "resource_create", "id", (json_int_t)c->next_id, "name",
                        a->name, "type", "local", "root", a->root);
    } else if (a->type && strcmp(a->type, "s3") == 0) {
        if (!a->endpoint || (strncmp(a->endpoint, "http://", 7) != 0 && strncmp(a->endpoint, "https://", 8) != 0))
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --endpoint must be an http:// or https:// URL",
                           a->name);
        if (!a->region || !*a->region)
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --region is required", a->name);
        if (!a->bucket || strlen(a->bucket) < 3 || strlen(a->bucket) > 63)
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --bucket must be 3-63 characters", a->name);
        bool envs = a->access_key_env || a->secret_key_env;
        bool file = a->credentials_file || a->profile;
        if (envs && file)
            return err_set(e, FLOE_EBADINPUT, "resource '%s': give either --access-key-env/--secret-key-env "
                           "or --credentials-file/--profile, not both", a->name);
        if (envs && (!env_name_valid(a->access_key_env) || !env_name_valid(a->secret_key_env)))
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --access-key-env and --secret-key-env must both "
                           "name environment variables", a->name);
        if (file && (!a->credentials_file || a->credentials_file[0] != '/'))
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --credentials-file must be an absolute path",
                           a->name);
        if (a->root)
            return err_set(e, FLOE_EBADINPUT, "resource '%s': --root is for local resources", a->name);
        rec = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:b}", "op", "resource_create", "id",
                        (json_int_t)c->next_id, "name", a->name, "type", "s3", "endpoint", a->endpoint, "region",
                        a->region, "bucket", a->bucket, "path_style", (int)a->path_style);
        const char *keys[] = { "prefix", "access_key_env", "secret_key_env", "credentials_file", "profile" };
        const char *vals[] = { a->prefix, a->access_key_env, a->secret_key_env, a->credentials_file, a->profile };
        for (int i = 0; i < 5; i++)
            if (vals[i])
                json_object_set_new(rec, keys[i], json_string(vals[i]));
    } else {
        return err_set(e, FLOE_EBADINPUT, "resource '%s': --type must be s3 or local", a->name);
    }
    return meta_commit(m, rec, e);
}

int ops_policy_create(struct fe_meta *m, const char *name, const char *resource, int64_t ttl_s,
                      int64_t datetime_s, struct err *e)
{
    struct catalog *c = &m->cat;
    if (!catalog_name_valid(name))
        return err_set(e, FLOE_EBADINPUT, "policy name '%s': use 1-64 letters, digits, '_' or '-'",
                       name ? name : "");
    if (catalog_policy_by_name(c, name))
        return err_set(e, FLOE_EEXIST, "policy '%s' already exists", name);
    struct fe_resource *res = resource ? catalog_resource_by_name(c, resource) : NULL;
    if (!res)
        return err_set(e, FLOE_ENOTFOUND, "policy '%s': resource '%s' does not exist", name,
                       resource ? resource : "");
    if ((ttl_s > 0) == (datetime_s > 0) || ttl_s < 0 || datetime_s < 0)
        return err_set(e, FLOE_EBADINPUT, "policy '%s': give exactly one of --cooldown-ttl or "
                       "--cooldown-datetime", name);
    return meta_commit(m, json_pack("{s:s,s:I,s:s,s:I,s:I,s:I}", "op", "policy_create", "id",
                                    (json_int_t)c->next_id, "name", name, "resource_id", (json_int_t)res->id,
                                    "ttl_s", (json_int_t)ttl_s, "datetime_s", (json_int_t)datetime_s), e);
}

int ops_table_create(struct fe_meta *m, const struct ops_table_args *a, int64_t now_ms, int64_t *ret_id,
                     struct err *e)
{
    struct catalog *c = &m->cat;
    struct fe_schema schema = { 0, 0, NULL };
    struct idmap planned = IDMAP_INIT;
    int64_t *bes = NULL;
    int r;
    if (!catalog_name_valid(a->name))
        return err_set(e, FLOE_EBADINPUT, "table name '%s': use 1-64 letters, digits, '_' or '-'",
                       a->name ? a->name : "");
    if (catalog_table_by_name(c, a->name))
        return err_set(e, FLOE_EEXIST, "table '%s' already exists", a->name);
    if (a->buckets < 1 || a->buckets > 65536)
        return err_set(e, FLOE_EBADINPUT, "table '%s': --buckets must be 1..65536", a->name);
    if (a->replicas < 1 || a->replicas > 16)
        return err_set(e, FLOE_EBADINPUT, "table '%s': --replicas must be 1..16", a->name);
    enum fe_key_model model = FE_MODEL_DUPLICATE;
    if (a->model && *a->model) {
        if (strcmp(a->model, "unique") == 0)
            model = FE_MODEL_UNIQUE;
        else if (strcmp(a->model, "duplicate") != 0)
            return err_set(e, FLOE_EBADINPUT, "table '%s': --model must be duplicate or unique", a->name);
    }
    struct fe_policy *pol = NULL;
    if (a->policy && *a->policy) {
        pol = catalog_policy_by_name(c, a->policy);
        if (!pol)
            return err_set(e, FLOE_ENOTFOUND, "table '%s': policy '%s' does not exist", a->name, a->policy);
    }
    if ((r = catalog_schema_parse(a->schema, a->keys, &schema, e)) < 0) {
        err_prefix(e, "table '%s'", a->name);
        return r;
    }
    int64_t next = c->next_id;
    int64_t table_id = next++;
    json_t *tablets = json_array();
    bes = xcalloc((size_t)a->replicas, sizeof(*bes));
    for (int32_t b = 0; b < a->buckets; b++) {
        if ((r = placement_choose(c, now_ms, a->replicas, &planned, NULL, 0, bes, e)) < 0) {
            err_prefix(e, "table '%s'", a->name);
            json_decref(tablets);
            goto out;
        }
        json_t *reps = json_array();
        int64_t tid = next++;
        for (int i = 0; i < a->replicas; i++)
            json_array_append_new(reps, json_pack("[I,I]", (json_int_t)next++, (json_int_t)bes[i]));
        json_array_append_new(tablets, json_pack("[I,o]", (json_int_t)tid, reps));
    }
    json_t *rec = json_pack("{s:s,s:I,s:s,s:o,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:o}", "op", "table_create", "id",
                            (json_int_t)table_id, "name", a->name, "schema", catalog_schema_to_json(&schema),
                            "nkeys", schema.nkeys, "model", (int)model, "buckets", (int)a->buckets,
                            "replication", (int)a->replicas, "policy_id", (json_int_t)(pol ? pol->id : 0),
                            "version", (json_int_t)1, "ms", (json_int_t)now_ms, "tablets", tablets);
    if ((r = meta_commit(m, rec, e)) < 0)
        goto out;
    log_info("table '%s' (id %lld) created: %d buckets x %d replicas%s%s", a->name, (long long)table_id,
             (int)a->buckets, (int)a->replicas, pol ? ", policy " : "", pol ? pol->name : "");
    *ret_id = table_id;
    if (pol) {
        struct err ce = { 0 };
        if (coolconf_pass(m, table_id, now_ms, NULL, &ce) < 0)
            log_warn("table '%s': electing cooldown replicas failed (the next pass retries): %s", a->name,
                     err_msg(&ce));
    }
out:
    free(bes);
    idmap_release(&planned);
    catalog_schema_release(&schema);
    return r;
}

int ops_table_drop(struct fe_meta *m, const char *name, struct err *e)
{
    struct fe_table *t = name ? catalog_table_by_name(&m->cat, name) : NULL;
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "table '%s' does not exist", name ? name : "");
    return meta_commit(m, json_pack("{s:s,s:I}", "op", "table_drop", "id", (json_int_t)t->id), e);
}

int ops_txn_begin(struct fe_meta *m, int64_t table_id, int64_t *ret_txn, struct err *e)
{
    if (!catalog_table(&m->cat, table_id))
        return err_set(e, FLOE_ENOTFOUND, "table %lld does not exist", (long long)table_id);
    int64_t txn = m->cat.next_txn;
    int r = meta_commit(m, json_pack("{s:s,s:I,s:I}", "op", "txn_begin", "txn", (json_int_t)txn, "table",
                                     (json_int_t)table_id), e);
    if (r == 0)
        *ret_txn = txn;
    return r;
}

int ops_publish(struct fe_meta *m, int64_t table_id, int64_t txn, const int64_t *tablets, size_t n,
                const int64_t *lagging, size_t nlag, int64_t *ret_versions, struct err *e)
{
    return ops_publish_labeled(m, table_id, txn, tablets, n, lagging, nlag, NULL, 0, ret_versions, e);
}

int ops_publish_labeled(struct fe_meta *m, int64_t table_id, int64_t txn, const int64_t *tablets, size_t n,
                        const int64_t *lagging, size_t nlag, const char *label, int64_t rows, int64_t *ret_versions,
                        struct err *e)
{
    struct fe_table *t = catalog_table(&m->cat, table_id);
    if (!t)
        return err_set(e, FLOE_ENOTFOUND, "table %lld does not exist (dropped during the load?)",
                       (long long)table_id);
    json_t *tv = json_array(), *lag = json_array();
    for (size_t i = 0; i < n; i++) {
        struct fe_tablet *tb = catalog_tablet(&m->cat, tablets[i]);
        if (!tb || tb->table_id != table_id) {
            json_decref(tv);
            json_decref(lag);
            return err_set(e, FLOE_ENOTFOUND, "tablet %lld is not in table '%s'", (long long)tablets[i], t->name);
        }
        if (ret_versions)
            ret_versions[i] = tb->version + 1;
        json_array_append_new(tv, json_pack("[I,I]", (json_int_t)tb->id, (json_int_t)(tb->version + 1)));
    }
    for (size_t i = 0; i < nlag; i++)
        json_array_append_new(lag, json_integer(lagging[i]));
    json_t *rec = json_pack("{s:s,s:I,s:I,s:o,s:o}", "op", "publish", "table", (json_int_t)table_id, "txn",
                            (json_int_t)txn, "tablets", tv, "lagging", lag);
    if (label && *label) {
        json_object_set_new(rec, "label", json_string(label));
        json_object_set_new(rec, "rows", json_integer(rows));
    }
    return meta_commit(m, rec, e);
}

int ops_parse_duration_s(const char *text, int64_t *ret_s, struct err *e)
{
    if (!text || !*text)
        return err_set(e, FLOE_EBADINPUT, "duration: empty (expected e.g. 30s, 10m, 1h, 7d)");
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v <= 0 || !isdigit((unsigned char)text[0]))
        return err_set(e, FLOE_EBADINPUT, "duration '%s': expected a positive number with s, m, h or d", text);
    int64_t mul = 1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60;
    else if (strcmp(end, "h") == 0)
        mul = 3600;
    else if (strcmp(end, "d") == 0)
        mul = 86400;
    else
        return err_set(e, FLOE_EBADINPUT, "duration '%s': unknown unit '%s' (s, m, h, d)", text, end);
    if (v > INT64_MAX / mul / 1000)
        return err_set(e, FLOE_EBADINPUT, "duration '%s': too large", text);
    *ret_s = v * mul;
    return 0;
}

int ops_parse_datetime(const char *text, int64_t *ret_s, struct err *e)
{
    int Y, M, D, h, mi, s;
    char z = 0;
    int n = 0;
    if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &Y, &M, &D, &h, &mi, &s, &z, &n) != 7 || z != 'Z' ||
        text[n] != '\0' || strlen(text) != 20 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 ||
        s > 60 || Y < 1970)
        return err_set(e, FLOE_EBADINPUT, "datetime '%s': expected YYYY-MM-DDTHH:MM:SSZ (UTC)", text ? text : "");
    struct tm tm = { 0 };
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t t = timegm(&tm);
    if (tm.tm_mday != D)
        return err_set(e, FLOE_EBADINPUT, "datetime '%s': no such day", text);
    *ret_s = (int64_t)t;
    return 0;
}
