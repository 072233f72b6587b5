/*
 * conf: the parser behind every floe config file and `--help-config`.
 *
 * A load never changes the target half-way: values are parsed into a staging
 * array (one slot per table entry) and copied into the target only when the
 * whole text parsed cleanly. Messages never contain the value of a string
 * entry or the text of an unparseable line, because those may be secrets.
 */
#include "conf.h"

#include "buf.h"
#include "err.h"
#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF_FILE_MAX (1u << 20)

struct staged {
    bool set;
    int line;        /* where it was set; 0 for conf_set */
    int64_t i;
    bool b;
    char *s;
};

static size_t table_len(const struct conf_entry *table)
{
    size_t n = 0;
    while (table[n].name)
        n++;
    return n;
}

static const char *type_str(enum conf_type t)
{
    switch (t) {
    case CONF_INT: return "int";
    case CONF_BOOL: return "bool";
    case CONF_STRING: return "string";
    case CONF_PORT: return "port";
    }
    return "?";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Effective inclusive range of a numeric entry. */
static void entry_range(const struct conf_entry *c, int64_t *lo, int64_t *hi)
{
    if (c->type == CONF_PORT) {
        *lo = c->min < 0 ? 0 : c->min;
        *hi = c->max <= 0 || c->max > 65535 ? 65535 : c->max;
    } else if (c->min == 0 && c->max == 0) {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
    } else {
        *lo = c->min;
        *hi = c->max;
    }
}

/* Unit of an entry in milliseconds (durations) or bytes (sizes); 0 = plain. */
enum unit_kind { UNIT_NONE, UNIT_DURATION, UNIT_SIZE };

static enum unit_kind entry_unit(const struct conf_entry *c, int64_t *ret_scale)
{
    if (c->type != CONF_INT)
        return UNIT_NONE;
    if (ends_with(c->name, "_ms")) {
        *ret_scale = 1;
        return UNIT_DURATION;
    }
    if (ends_with(c->name, "_s")) {
        *ret_scale = 1000;
        return UNIT_DURATION;
    }
    if (ends_with(c->name, "_bytes")) {
        *ret_scale = 1;
        return UNIT_SIZE;
    }
    return UNIT_NONE;
}

/* Parses an integer with an optional unit suffix. Fills msg on error. */
static int parse_int(const struct conf_entry *c, const char *v, int64_t *ret, struct buf *msg)
{
    if (!*v) {
        buf_printf(msg, "empty value, expected an integer");
        return -1;
    }
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || !(isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+')) {
        buf_printf(msg, "'%s' is not an integer", v);
        return -1;
    }
    if (errno == ERANGE) {
        buf_printf(msg, "'%s' does not fit in 64 bits", v);
        return -1;
    }
    int64_t scale = 1;
    enum unit_kind kind = entry_unit(c, &scale);
    if (*end) {
        int64_t mult = 0;
        if (kind == UNIT_DURATION) {
            static const struct { const char *s; int64_t ms; } units[] = {
                { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
            };
            for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcmp(end, units[i].s) == 0)
                    mult = units[i].ms;
            if (!mult) {
                buf_printf(msg, "'%s' has an unknown unit (ms, s, m, h, d)", v);
                return -1;
            }
        } else if (kind == UNIT_SIZE) {
            static const char units[] = "KMGT";
            const char *u = end[1] == '\0' ? strchr(units, toupper((unsigned char)end[0])) : NULL;
            if (!u || !*end) {
                buf_printf(msg, "'%s' has an unknown unit (K, M, G, T)", v);
                return -1;
            }
            mult = (int64_t)1 << (10 * (u - units + 1));
        } else {
            buf_printf(msg, "'%s' is not an integer", v);
            return -1;
        }
        int64_t total;
        if (__builtin_mul_overflow((int64_t)n, mult, &total)) {
            buf_printf(msg, "'%s' does not fit in 64 bits", v);
            return -1;
        }
        if (total % scale != 0) {
            buf_printf(msg, "'%s' is not a whole number of seconds", v);
            return -1;
        }
        n = total / scale;
    }
    int64_t lo, hi;
    entry_range(c, &lo, &hi);
    if (n < lo || n > hi) {
        buf_printf(msg, "%lld is out of range [%" PRId64 ", %" PRId64 "]", n, lo, hi);
        return -1;
    }
    *ret = n;
    return 0;
}

static int parse_bool(const char *v, bool *ret, struct buf *msg)
{
    static const char *yes[] = { "true", "yes", "on", "1" };
    static const char *no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    buf_printf(msg, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", v);
    return -1;
}

/* Parses v for entry c into slot s (freeing a string already staged there). */
static int parse_value(const struct conf_entry *c, const char *v, struct staged *s, struct buf *msg)
{
    switch (c->type) {
    case CONF_INT:
    case CONF_PORT:
        return parse_int(c, v, &s->i, msg);
    case CONF_BOOL:
        return parse_bool(v, &s->b, msg);
    case CONF_STRING:
        free(s->s);
        s->s = xstrdup(v);
        return 0;
    }
    buf_printf(msg, "entry has an unknown type %d", (int)c->type);
    return -1;
}

static void *field(const struct conf_entry *c, void *target)
{
    return (char *)target + c->offset;
}

/*
 * Copies every staged value into target, consuming staged strings. With
 * fresh, target may be uninitialised memory: plain stores, nothing is freed.
 */
static void commit(const struct conf_entry *table, size_t n, struct staged *st, void *target, bool fresh)
{
    for (size_t i = 0; i < n; i++) {
        if (!st[i].set)
            continue;
        const struct conf_entry *c = &table[i];
        switch (c->type) {
        case CONF_INT:
        case CONF_PORT:
            *(int64_t *)field(c, target) = st[i].i;
            break;
        case CONF_BOOL:
            *(bool *)field(c, target) = st[i].b;
            break;
        case CONF_STRING: {
            char **p = field(c, target);
            if (!fresh)
                free(*p);
            *p = st[i].s;
            st[i].s = NULL;
            break;
        }
        }
    }
}

static void staged_free(struct staged *st, size_t n)
{
    if (!st)
        return;
    for (size_t i = 0; i < n; i++)
        free(st[i].s);
    free(st);
}

static const struct conf_entry *find_entry(const struct conf_entry *table, const char *key, size_t *ret_idx)
{
    for (size_t i = 0; table[i].name; i++) {
        if (strcmp(table[i].name, key) == 0) {
            *ret_idx = i;
            return &table[i];
        }
    }
    return NULL;
}

int conf_defaults(const struct conf_entry *table, void *target, struct err *e)
{
    size_t n = table_len(table);
    struct staged *st = xcalloc(n ? n : 1, sizeof(*st));
    struct buf msg = BUF_INIT;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        const struct conf_entry *c = &table[i];
        st[i].set = true;
        if (!c->def)
            continue;
        if (parse_value(c, c->def, &st[i], &msg) < 0) {
            r = err_set(e, FLOE_ECONFIG, "key '%s': bad default: %s", c->name, buf_cstr(&msg));
            goto out;
        }
    }
    commit(table, n, st, target, true);
out:
    buf_release(&msg);
    staged_free(st, n);
    return r;
}

/* Trims spaces and tabs on both ends of [*b, *e). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/*
 * Extracts the value from [p, end) into val: a "double quoted" string with
 * \" \\ \n \t escapes, or bare text up to a '#' that follows whitespace.
 */
static int parse_raw_value(const char *p, const char *end, struct buf *val, struct buf *msg)
{
    buf_reset(val);
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p >= end) {
                buf_puts(msg, "unterminated quoted value");
                return -1;
            }
            char ch = *p++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (p >= end) {
                    buf_puts(msg, "unterminated quoted value");
                    return -1;
                }
                char x = *p++;
                switch (x) {
                case '"': ch = '"'; break;
                case '\\': ch = '\\'; break;
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                default:
                    buf_printf(msg, "unknown escape '\\%c' in quoted value", x);
                    return -1;
                }
            }
            buf_putc(val, ch);
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != '#') {
            buf_puts(msg, "unexpected text after the closing quote");
            return -1;
        }
        return 0;
    }
    const char *v_end = p;
    for (const char *q = p; q < end; q++) {
        if (*q == '#' && q > p && (q[-1] == ' ' || q[-1] == '\t'))
            break;
        v_end = q + 1;
    }
    trim(&p, &v_end);
    buf_append(val, p, (size_t)(v_end - p));
    return 0;
}

int conf_load_string(const struct conf_entry *table, void *target, const char *name,
                     const char *text, struct err *e)
{
    size_t n = table_len(table);
    struct staged *st = xcalloc(n ? n : 1, sizeof(*st));
    struct buf msg = BUF_INIT, val = BUF_INIT, key = BUF_INIT;
    int r = 0;
    int lineno = 0;
    const char *p = text ? text : "";
    if (!name)
        name = "config";
    while (*p) {
        lineno++;
        const char *nl = strchr(p, '\n');
        const char *lend = nl ? nl : p + strlen(p);
        const char *next = nl ? nl + 1 : lend;
        if (lend > p && lend[-1] == '\r')
            lend--;
        const char *b = p, *t = lend;
        trim(&b, &t);
        p = next;
        if (b == t || *b == '#')
            continue;
        const char *eq = memchr(b, '=', (size_t)(t - b));
        if (!eq) {
            /* name only the first word: the rest may be a secret */
            const char *w = b;
            while (w < t && *w != ' ' && *w != '\t')
                w++;
            r = err_set(e, FLOE_ECONFIG, "%s:%d: key '%.*s': missing '=' (expected key = value)",
                        name, lineno, (int)(w - b), b);
            goto out;
        }
        const char *kb = b, *ke = eq;
        trim(&kb, &ke);
        if (kb == ke) {
            r = err_set(e, FLOE_ECONFIG, "%s:%d: missing key before '='", name, lineno);
            goto out;
        }
        buf_reset(&key);
        buf_append(&key, kb, (size_t)(ke - kb));
        size_t idx;
        const struct conf_entry *c = find_entry(table, buf_cstr(&key), &idx);
        if (!c) {
            r = err_set(e, FLOE_ECONFIG, "%s:%d: key '%s': unknown key", name, lineno, buf_cstr(&key));
            goto out;
        }
        if (st[idx].set) {
            r = err_set(e, FLOE_ECONFIG, "%s:%d: key '%s': duplicate key (first set on line %d)", name,
                        lineno, c->name, st[idx].line);
            goto out;
        }
        const char *vb = eq + 1;
        while (vb < t && (*vb == ' ' || *vb == '\t'))
            vb++;
        buf_reset(&msg);
        if (parse_raw_value(vb, t, &val, &msg) < 0 || parse_value(c, buf_cstr(&val), &st[idx], &msg) < 0) {
            r = err_set(e, FLOE_ECONFIG, "%s:%d: key '%s': %s", name, lineno, c->name, buf_cstr(&msg));
            goto out;
        }
        st[idx].set = true;
        st[idx].line = lineno;
    }
    commit(table, n, st, target, false);
out:
    buf_release(&msg);
    buf_release(&val);
    buf_release(&key);
    staged_free(st, n);
    return r;
}

int conf_load_file(const struct conf_entry *table, void *target, const char *path, struct err *e)
{
    struct buf text = BUF_INIT;
    int r = fs_read_file(path, &text, CONF_FILE_MAX, e);
    if (r < 0) {
        err_prefix(e, "config");
        goto out;
    }
    if (memchr(buf_cstr(&text), '\0', text.len)) {
        r = err_set(e, FLOE_ECONFIG, "%s: contains a NUL byte, not a text file", path);
        goto out;
    }
    r = conf_load_string(table, target, path, buf_cstr(&text), e);
out:
    buf_release(&text);
    return r;
}

int conf_set(const struct conf_entry *table, void *target, const char *key, const char *value,
             struct err *e)
{
    size_t idx;
    const struct conf_entry *c = key ? find_entry(table, key, &idx) : NULL;
    if (!c)
        return err_set(e, FLOE_ECONFIG, "key '%s': unknown key", key ? key : "");
    struct staged s = { 0 };
    struct buf msg = BUF_INIT;
    int r = 0;
    if (parse_value(c, value ? value : "", &s, &msg) < 0) {
        r = err_set(e, FLOE_ECONFIG, "key '%s': %s", c->name, buf_cstr(&msg));
        goto out;
    }
    s.set = true;
    /* commit() indexes by table position; stage a one-entry view */
    commit(c, 1, &s, target, false);
out:
    free(s.s);
    buf_release(&msg);
    return r;
}

int conf_check_required(const struct conf_entry *table, const void *target, struct err *e)
{
    for (size_t i = 0; table[i].name; i++) {
        const struct conf_entry *c = &table[i];
        if (c->type == CONF_STRING && !c->def &&
            *(char *const *)((const char *)target + c->offset) == NULL)
            return err_set(e, FLOE_ECONFIG, "key '%s': required, but not set", c->name);
    }
    return 0;
}

void conf_release(const struct conf_entry *table, void *target)
{
    if (!table || !target)
        return;
    for (size_t i = 0; table[i].name; i++) {
        if (table[i].type != CONF_STRING)
            continue;
        char **p = field(&table[i], target);
        free(*p);
        *p = NULL;
    }
}

static void describe_range(const struct conf_entry *c, struct buf *out)
{
    int64_t scale;
    enum unit_kind kind = entry_unit(c, &scale);
    if (c->type == CONF_INT || c->type == CONF_PORT) {
        int64_t lo, hi;
        entry_range(c, &lo, &hi);
        if (lo == INT64_MIN && hi == INT64_MAX)
            buf_puts(out, "any");
        else
            buf_printf(out, "%" PRId64 "..%" PRId64, lo, hi);
    }
    if (kind == UNIT_DURATION)
        buf_printf(out, ", %s (or ms, s, m, h, d)", scale == 1 ? "milliseconds" : "seconds");
    else if (kind == UNIT_SIZE)
        buf_puts(out, ", bytes (or K, M, G, T)");
}

void conf_print_help(const struct conf_entry *table, FILE *out)
{
    struct buf line = BUF_INIT;
    for (size_t i = 0; table[i].name; i++) {
        const struct conf_entry *c = &table[i];
        buf_reset(&line);
        buf_printf(&line, "%s = %s", c->name, c->def ? c->def : "(required)");
        if (c->type == CONF_STRING && c->def && !*c->def)
            buf_puts(&line, "\"\"");
        buf_printf(&line, "    [%s", type_str(c->type));
        if (c->type == CONF_INT || c->type == CONF_PORT) {
            buf_puts(&line, ", ");
            describe_range(c, &line);
        }
        buf_puts(&line, "]");
        fprintf(out, "%s\n    %s\n", buf_cstr(&line), c->help ? c->help : "");
    }
    buf_release(&line);
}

void conf_print_markdown(const struct conf_entry *table, FILE *out)
{
    struct buf range = BUF_INIT;
    fprintf(out, "| key | type | range | default | description |\n");
    fprintf(out, "|-----|------|-------|---------|-------------|\n");
    for (size_t i = 0; table[i].name; i++) {
        const struct conf_entry *c = &table[i];
        buf_reset(&range);
        describe_range(c, &range);
        fprintf(out, "| `%s` | %s | %s | %s%s%s | %s |\n", c->name, type_str(c->type), buf_cstr(&range),
                c->def ? "`" : "", c->def ? c->def : "required", c->def ? "`" : "",
                c->help ? c->help : "");
    }
    buf_release(&range);
}
