/* ctlargs: floectl argument parsing; see ctlargs.h. */
#include "ctlargs.h"

#include "buf.h"
#include "err.h"
#include "ops.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char ctlargs_usage[] =
    "usage: floectl [--fe HOST:PORT] [--token-file FILE] [--config FILE] [--json] COMMAND ...\n"
    "\n"
    "  backends                               list backends\n"
    "  backend decommission ID                move replicas off backend ID, place none there\n"
    "  resource create NAME --type s3 --endpoint URL --region R --bucket B [--prefix P]\n"
    "                  [--path-style] [--access-key-env VAR --secret-key-env VAR |\n"
    "                  --credentials-file F --profile P]\n"
    "  resource create NAME --type local --root DIR\n"
    "  resource check NAME                    probe the store from every backend\n"
    "  resources | policies                   list them\n"
    "  policy create NAME --resource R (--cooldown-ttl 30s|10m|1h|7d |\n"
    "                  --cooldown-datetime 2026-12-01T00:00:00Z)\n"
    "  table create NAME --schema \"k:int64,ts:timestamp,v:double,s:string?\" --key k\n"
    "                  [--model duplicate|unique] [--buckets N] [--replicas N] [--policy P]\n"
    "  table drop NAME\n"
    "  tables\n"
    "  load NAME FILE.csv [--header] [--label L] [--chunk-mb N]\n"
    "                  one transaction, sent in chunks of N MiB (1..64, default 16);\n"
    "                  a retry with the same label loads nothing twice\n"
    "  scan NAME [--columns a,b] [--where \"v > 10\"]... [--limit N] [--format csv|json]\n"
    "  tablets NAME                           per replica state, cooldown conf and sizes\n"
    "\n"
    "  --fe and --token-file default to what --config FILE (an fe.conf or be.conf,\n"
    "  or $FLOE_CONFIG) says, then $FLOE_FE and $FLOE_TOKEN_FILE, then\n"
    "  /etc/floe/fe.conf or /etc/floe/be.conf, then 127.0.0.1:9020.\n"
    "  Exit status is 0 on success, 1 on failure, 2 on bad usage.\n";

int ctlargs_parse_addr(const char *text, char **ret_host, int *ret_port, struct err *e)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon || colon == text)
        return err_set(e, FLOE_EBADINPUT, "--fe '%s': expected HOST:PORT", text ? text : "");
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        return err_set(e, FLOE_EBADINPUT, "--fe '%s': port must be 1..65535", text);
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    *ret_host = xstrndup(h, hl);
    *ret_port = (int)port;
    return 0;
}

const char *ctlargs_op_name(enum ctl_where_op op)
{
    static const char *const n[] = { "=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL", "IN" };
    return (unsigned)op <= CTL_OP_IN ? n[op] : "?";
}

void ctlargs_where_release(struct ctl_where *w)
{
    if (!w)
        return;
    free(w->column);
    for (int i = 0; i < w->nvalues; i++)
        free(w->values[i]);
    free(w->values);
    memset(w, 0, sizeof(*w));
}

static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* A literal: 'quoted' or a bare run of [^ ,()]. */
static int read_value(const char **p, const char *text, char **ret, struct err *e)
{
    skip_ws(p);
    const char *s = *p;
    if (*s == '\'') {
        struct buf b = BUF_INIT;
        s++;
        while (1) {
            if (!*s) {
                buf_release(&b);
                return err_set(e, FLOE_EBADINPUT, "--where '%s': unterminated quoted value", text);
            }
            if (*s == '\'' && s[1] == '\'') {
                buf_putc(&b, '\'');
                s += 2;
            } else if (*s == '\'') {
                s++;
                break;
            } else {
                buf_putc(&b, *s++);
            }
        }
        *p = s;
        *ret = buf_detach(&b, NULL);
        return 0;
    }
    const char *st = s;
    while (*s && !isspace((unsigned char)*s) && *s != ',' && *s != '(' && *s != ')')
        s++;
    if (s == st)
        return err_set(e, FLOE_EBADINPUT, "--where '%s': missing value", text);
    *ret = xstrndup(st, (size_t)(s - st));
    *p = s;
    return 0;
}

static bool word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

int ctlargs_parse_where(const char *text, struct ctl_where *w, struct err *e)
{
    memset(w, 0, sizeof(*w));
    const char *p = text;
    int r = 0;
    skip_ws(&p);
    const char *cs = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    if (p == cs)
        return err_set(e, FLOE_EBADINPUT, "--where '%s': expected a column name first", text);
    w->column = xstrndup(cs, (size_t)(p - cs));
    skip_ws(&p);
    if (word_at(p, "IS")) {
        p += 2;
        skip_ws(&p);
        if (word_at(p, "NOT")) {
            p += 3;
            skip_ws(&p);
            w->op = CTL_OP_NOT_NULL;
        } else {
            w->op = CTL_OP_IS_NULL;
        }
        if (!word_at(p, "NULL")) {
            r = err_set(e, FLOE_EBADINPUT, "--where '%s': expected IS [NOT] NULL", text);
            goto out;
        }
        p += 4;
    } else if (word_at(p, "IN")) {
        p += 2;
        skip_ws(&p);
        if (*p++ != '(') {
            r = err_set(e, FLOE_EBADINPUT, "--where '%s': expected IN (v1, v2, ...)", text);
            goto out;
        }
        w->op = CTL_OP_IN;
        while (1) {
            char *v;
            if ((r = read_value(&p, text, &v, e)) < 0)
                goto out;
            w->values = xrealloc(w->values, (size_t)(w->nvalues + 1) * sizeof(char *));
            w->values[w->nvalues++] = v;
            skip_ws(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ')') {
                p++;
                break;
            }
            r = err_set(e, FLOE_EBADINPUT, "--where '%s': expected ',' or ')' in the IN list", text);
            goto out;
        }
    } else {
        static const struct {
            const char *t;
            enum ctl_where_op op;
        } ops[] = { { "!=", CTL_OP_NE }, { "<>", CTL_OP_NE }, { "<=", CTL_OP_LE }, { ">=", CTL_OP_GE },
                    { "=", CTL_OP_EQ },  { "<", CTL_OP_LT },  { ">", CTL_OP_GT } };
        size_t k;
        for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
            if (strncmp(p, ops[k].t, strlen(ops[k].t)) == 0)
                break;
        if (k == sizeof(ops) / sizeof(ops[0])) {
            r = err_set(e, FLOE_EBADINPUT,
                        "--where '%s': expected an operator (= != < <= > >= IS NULL IS NOT NULL IN) "
                        "after '%s'", text, w->column);
            goto out;
        }
        w->op = ops[k].op;
        p += strlen(ops[k].t);
        w->values = xcalloc(1, sizeof(char *));
        skip_ws(&p);
        if (*p != '\'' && *p) {
            /* an unquoted value is the rest of the text: ts >= 2026-01-01 00:00:00 */
            const char *end = p + strlen(p);
            while (end > p && isspace((unsigned char)end[-1]))
                end--;
            w->values[0] = xstrndup(p, (size_t)(end - p));
            p = end;
        } else if ((r = read_value(&p, text, &w->values[0], e)) < 0) {
            goto out;
        }
        w->nvalues = 1;
    }
    skip_ws(&p);
    if (*p)
        r = err_set(e, FLOE_EBADINPUT, "--where '%s': unexpected text '%s'", text, p);
out:
    if (r < 0)
        ctlargs_where_release(w);
    return r;
}

void ctlargs_release(struct ctl_cmd *c)
{
    if (!c)
        return;
    free(c->fe_host);
    free(c->cfg_token);
    for (int i = 0; i < c->nwhere; i++)
        ctlargs_where_release(&c->where[i]);
    memset(c, 0, sizeof(*c));
}

static int parse_int(const char *opt, const char *v, int64_t min, int64_t max, int64_t *ret, struct err *e)
{
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < min || x > max)
        return err_set(e, FLOE_EBADINPUT, "%s '%s': expected an integer in %lld..%lld", opt, v ? v : "",
                       (long long)min, (long long)max);
    *ret = x;
    return 0;
}

/* Options a command accepts: "name" takes a value, "name!" is a flag. */
struct optdef {
    const char *name;
    bool flag;
    const char **dst;  /* for values */
    bool *bdst;        /* for flags */
};

static char *trim_value(char *v)
{
    while (isspace((unsigned char)*v))
        v++;
    char *end = v + strlen(v);
    while (end > v && isspace((unsigned char)end[-1]))
        *--end = '\0';
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        v++;
    }
    return v;
}

int ctlargs_read_config(const char *path, char **ret_token, char **ret_fe, struct err *e)
{
    *ret_token = *ret_fe = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return err_errno(e, errno, "config %s", path);
    char line[4096];
    char *port = NULL;
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim_value(line), *v = trim_value(eq + 1);
        if (strcmp(k, "cluster_token_file") == 0 && *v) {
            free(*ret_token);
            *ret_token = xstrdup(v);
        } else if (strcmp(k, "fe_address") == 0 && *v) {
            char *comma = strchr(v, ',');
            if (comma)
                *comma = '\0';
            free(*ret_fe);
            *ret_fe = xstrdup(trim_value(v));
        } else if (strcmp(k, "rpc_port") == 0 && *v) {
            free(port);
            port = xstrdup(v);
        }
    }
    fclose(f);
    /* an fe.conf: the FE is this host */
    if (!*ret_fe && port)
        *ret_fe = xasprintf("127.0.0.1:%s", port);
    free(port);
    return 0;
}

int ctlargs_parse(int argc, char **argv, const char *env_fe, const char *env_token, const char *env_config,
                  const char *const *default_configs, struct ctl_cmd *ret, struct err *e)
{
    struct ctl_cmd *c = ret;
    memset(c, 0, sizeof(*c));
    c->limit = -1;
    c->buckets = 8;
    c->replicas = 3;
    c->chunk_mb = 16;
    const char *fe = NULL, *config = NULL;
    c->token_file = NULL;
    const char *words[4] = { 0 };
    int nwords = 0;
    const char *buckets = NULL, *replicas = NULL, *chunk_mb = NULL, *limit = NULL, *format = NULL, *ttl = NULL, *dt = NULL;
    const char *where_txt[CTL_MAX_WHERE];
    int nwhere_txt = 0;
    int r = 0;
    /* every option of every command; which ones a command allows is checked after */
    struct optdef opts[] = {
        { "--type", false, &c->type, NULL },           { "--endpoint", false, &c->endpoint, NULL },
        { "--region", false, &c->region, NULL },       { "--bucket", false, &c->bucket, NULL },
        { "--prefix", false, &c->prefix, NULL },       { "--root", false, &c->root, NULL },
        { "--path-style", true, NULL, &c->path_style },
        { "--access-key-env", false, &c->access_key_env, NULL },
        { "--secret-key-env", false, &c->secret_key_env, NULL },
        { "--credentials-file", false, &c->credentials_file, NULL },
        { "--profile", false, &c->profile, NULL },     { "--resource", false, &c->resource, NULL },
        { "--cooldown-ttl", false, &ttl, NULL },       { "--cooldown-datetime", false, &dt, NULL },
        { "--schema", false, &c->schema, NULL },       { "--key", false, &c->key, NULL },
        { "--model", false, &c->model, NULL },         { "--buckets", false, &buckets, NULL },
        { "--replicas", false, &replicas, NULL },      { "--policy", false, &c->policy, NULL },
        { "--header", true, NULL, &c->header },        { "--columns", false, &c->columns, NULL },
        { "--limit", false, &limit, NULL },            { "--format", false, &format, NULL },
        { "--label", false, &c->label, NULL },         { "--chunk-mb", false, &chunk_mb, NULL },
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    const char *given[64];
    int ngiven = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->kind = CTL_HELP;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            c->kind = CTL_VERSION;
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            c->json = true;
            continue;
        }
        if (strcmp(a, "--fe") == 0 || strcmp(a, "--token-file") == 0 || strcmp(a, "--where") == 0 ||
            strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                return err_set(e, FLOE_EBADINPUT, "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c')
                config = v;
            else if (a[2] == 'f')
                fe = v;
            else if (a[2] == 't')
                c->token_file = v;
            else if (nwhere_txt >= CTL_MAX_WHERE)
                return err_set(e, FLOE_EBADINPUT, "at most %d --where options", CTL_MAX_WHERE);
            else
                where_txt[nwhere_txt++] = v;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            size_t k;
            for (k = 0; k < nopts; k++)
                if (strcmp(opts[k].name, a) == 0)
                    break;
            if (k == nopts)
                return err_set(e, FLOE_EBADINPUT, "unknown option '%s' (try --help)", a);
            for (int g = 0; g < ngiven; g++)
                if (strcmp(given[g], a) == 0)
                    return err_set(e, FLOE_EBADINPUT, "option '%s' given twice", a);
            if (ngiven < 64)
                given[ngiven++] = opts[k].name;
            if (opts[k].flag) {
                *opts[k].bdst = true;
            } else {
                if (i + 1 >= argc)
                    return err_set(e, FLOE_EBADINPUT, "%s needs a value", a);
                *opts[k].dst = argv[++i];
            }
            continue;
        }
        if (a[0] == '-' && a[1] != '\0')
            return err_set(e, FLOE_EBADINPUT, "unknown option '%s' (try --help)", a);
        if (nwords >= 4)
            return err_set(e, FLOE_EBADINPUT, "unexpected argument '%s'", a);
        words[nwords++] = a;
    }
    if (nwords == 0)
        return err_set(e, FLOE_EBADINPUT, "no command given (try --help)");
    /* command table: words, how many positional args, allowed options */
    static const struct {
        const char *w1, *w2;
        enum ctl_kind kind;
        int nargs;         /* positional args after the words */
        const char *allowed;
    } cmds[] = {
        { "backends", NULL, CTL_BACKENDS, 0, "" },
        { "backend", "decommission", CTL_BACKEND_DECOMMISSION, 1, "" },
        { "resource", "create", CTL_RESOURCE_CREATE, 1,
          " --type --endpoint --region --bucket --prefix --root --path-style --access-key-env "
          "--secret-key-env --credentials-file --profile " },
        { "resource", "check", CTL_RESOURCE_CHECK, 1, "" },
        { "resources", NULL, CTL_RESOURCES, 0, "" },
        { "policy", "create", CTL_POLICY_CREATE, 1, " --resource --cooldown-ttl --cooldown-datetime " },
        { "policies", NULL, CTL_POLICIES, 0, "" },
        { "table", "create", CTL_TABLE_CREATE, 1, " --schema --key --model --buckets --replicas --policy " },
        { "table", "drop", CTL_TABLE_DROP, 1, "" },
        { "tables", NULL, CTL_TABLES, 0, "" },
        { "load", NULL, CTL_LOAD, 2, " --header --label --chunk-mb " },
        { "scan", NULL, CTL_SCAN, 1, " --columns --limit --format --where " },
        { "tablets", NULL, CTL_TABLETS, 1, "" },
    };
    size_t ci;
    for (ci = 0; ci < sizeof(cmds) / sizeof(cmds[0]); ci++) {
        if (strcmp(cmds[ci].w1, words[0]) != 0)
            continue;
        if (cmds[ci].w2 && (nwords < 2 || strcmp(cmds[ci].w2, words[1]) != 0))
            continue;
        break;
    }
    if (ci == sizeof(cmds) / sizeof(cmds[0])) {
        if (nwords >= 2 && (strcmp(words[0], "backend") == 0 || strcmp(words[0], "resource") == 0 ||
                            strcmp(words[0], "policy") == 0 || strcmp(words[0], "table") == 0))
            return err_set(e, FLOE_EBADINPUT, "unknown command '%s %s' (try --help)", words[0], words[1]);
        return err_set(e, FLOE_EBADINPUT, "unknown command '%s' (try --help)", words[0]);
    }
    int skip = cmds[ci].w2 ? 2 : 1;
    int npos = nwords - skip;
    if (npos != cmds[ci].nargs)
        return err_set(e, FLOE_EBADINPUT, "'%s%s%s' takes %d argument%s, got %d", cmds[ci].w1,
                       cmds[ci].w2 ? " " : "", cmds[ci].w2 ? cmds[ci].w2 : "", cmds[ci].nargs,
                       cmds[ci].nargs == 1 ? "" : "s", npos);
    for (int g = 0; g < ngiven; g++) {
        char pat[64];
        snprintf(pat, sizeof(pat), " %s ", given[g]);
        if (!strstr(cmds[ci].allowed, pat))
            return err_set(e, FLOE_EBADINPUT, "option '%s' does not apply to '%s%s%s'", given[g], cmds[ci].w1,
                           cmds[ci].w2 ? " " : "", cmds[ci].w2 ? cmds[ci].w2 : "");
    }
    if (nwhere_txt > 0 && cmds[ci].kind != CTL_SCAN)
        return err_set(e, FLOE_EBADINPUT, "option '--where' does not apply to '%s'", cmds[ci].w1);
    c->kind = cmds[ci].kind;
    const char *pos0 = npos > 0 ? words[skip] : NULL;
    switch (c->kind) {
    case CTL_BACKEND_DECOMMISSION:
        if ((r = parse_int("backend id", pos0, 1, INT64_MAX, &c->id, e)) < 0)
            return r;
        break;
    case CTL_RESOURCE_CREATE:
        c->name = pos0;
        if (!c->type)
            return err_set(e, FLOE_EBADINPUT, "resource create: --type s3|local is required");
        if (strcmp(c->type, "local") == 0) {
            if (!c->root)
                return err_set(e, FLOE_EBADINPUT, "resource create --type local: --root DIR is required");
        } else if (strcmp(c->type, "s3") == 0) {
            if (!c->endpoint || !c->region || !c->bucket)
                return err_set(e, FLOE_EBADINPUT,
                               "resource create --type s3: --endpoint, --region and --bucket are required");
            if ((c->access_key_env != NULL) != (c->secret_key_env != NULL))
                return err_set(e, FLOE_EBADINPUT, "--access-key-env and --secret-key-env go together");
            if ((c->credentials_file != NULL) != (c->profile != NULL))
                return err_set(e, FLOE_EBADINPUT, "--credentials-file and --profile go together");
            if (c->access_key_env && c->credentials_file)
                return err_set(e, FLOE_EBADINPUT,
                               "give either --access-key-env/--secret-key-env or --credentials-file/--profile");
        } else {
            return err_set(e, FLOE_EBADINPUT, "--type '%s': expected s3 or local", c->type);
        }
        break;
    case CTL_POLICY_CREATE:
        c->name = pos0;
        if (!c->resource)
            return err_set(e, FLOE_EBADINPUT, "policy create: --resource R is required");
        if ((ttl != NULL) == (dt != NULL))
            return err_set(e, FLOE_EBADINPUT, "policy create: give exactly one of --cooldown-ttl or "
                           "--cooldown-datetime");
        if (ttl && (r = ops_parse_duration_s(ttl, &c->ttl_s, e)) < 0)
            return r;
        if (dt && (r = ops_parse_datetime(dt, &c->datetime_s, e)) < 0)
            return r;
        break;
    case CTL_TABLE_CREATE: {
        c->name = pos0;
        if (!c->schema || !c->key)
            return err_set(e, FLOE_EBADINPUT, "table create: --schema and --key are required");
        int64_t v;
        if (buckets) {
            if ((r = parse_int("--buckets", buckets, 1, 65536, &v, e)) < 0)
                return r;
            c->buckets = (int32_t)v;
        }
        if (replicas) {
            if ((r = parse_int("--replicas", replicas, 1, 16, &v, e)) < 0)
                return r;
            c->replicas = (int32_t)v;
        }
        if (c->model && strcmp(c->model, "duplicate") != 0 && strcmp(c->model, "unique") != 0)
            return err_set(e, FLOE_EBADINPUT, "--model '%s': expected duplicate or unique", c->model);
        break;
    }
    case CTL_LOAD:
        c->name = pos0;
        c->file = words[skip + 1];
        if (c->label && (!*c->label || strlen(c->label) > 200))
            return err_set(e, FLOE_EBADINPUT, "--label: 1-200 characters");
        if (chunk_mb) {
            int64_t v;
            if ((r = parse_int("--chunk-mb", chunk_mb, 1, 64, &v, e)) < 0)
                return r;
            c->chunk_mb = (int32_t)v;
        }
        break;
    case CTL_SCAN:
        c->name = pos0;
        if (limit && (r = parse_int("--limit", limit, 0, INT64_MAX, &c->limit, e)) < 0)
            return r;
        if (format) {
            if (strcmp(format, "json") == 0)
                c->format_json = true;
            else if (strcmp(format, "csv") != 0)
                return err_set(e, FLOE_EBADINPUT, "--format '%s': expected csv or json", format);
        }
        if (c->columns && (!*c->columns || c->columns[0] == ',' || c->columns[strlen(c->columns) - 1] == ',' ||
                           strstr(c->columns, ",,")))
            return err_set(e, FLOE_EBADINPUT, "--columns '%s': expected a,b,c", c->columns);
        for (int i = 0; i < nwhere_txt; i++) {
            if ((r = ctlargs_parse_where(where_txt[i], &c->where[i], e)) < 0) {
                ctlargs_release(c);
                return r;
            }
            c->nwhere++;
        }
        break;
    default:
        c->name = pos0;
        break;
    }
    /* where the FE and the token come from: flags, --config, environment, default configs */
    char *cfg_fe = NULL;
    if (!config && env_config && *env_config)
        config = env_config;
    if (config && (!fe || !c->token_file)) {
        if ((r = ctlargs_read_config(config, &c->cfg_token, &cfg_fe, e)) < 0) {
            ctlargs_release(c);
            return r;
        }
        if (!fe)
            fe = cfg_fe;
        if (!c->token_file)
            c->token_file = c->cfg_token;
    }
    if (!fe && env_fe && *env_fe)
        fe = env_fe;
    if (!c->token_file && env_token && *env_token)
        c->token_file = env_token;
    for (int i = 0; !config && default_configs && default_configs[i] && (!fe || !c->token_file); i++) {
        if (access(default_configs[i], R_OK) != 0)
            continue;
        char *t = NULL, *f = NULL;
        if (ctlargs_read_config(default_configs[i], &t, &f, NULL) == 0) {
            if (!fe && f) {
                free(cfg_fe);
                cfg_fe = f;
                fe = cfg_fe;
                f = NULL;
            }
            if (!c->token_file && t) {
                free(c->cfg_token);
                c->cfg_token = t;
                c->token_file = t;
                t = NULL;
            }
        }
        free(t);
        free(f);
    }
    r = ctlargs_parse_addr(fe ? fe : "127.0.0.1:9020", &c->fe_host, &c->fe_port, e);
    free(cfg_fe);
    if (r < 0) {
        ctlargs_release(c);
        return r;
    }
    return 0;
}
