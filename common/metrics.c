/*
 * metrics: the registry behind metrics.h. Families live in a list, each
 * with its series in registration order; a hash of full series names makes
 * lookups cheap. Nothing is ever freed, which is what makes the returned
 * pointers stable; the memory stays reachable from the globals.
 */
#define LOG_MODULE "metrics"
#include "metrics.h"

#include "buf.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

struct metric_family;

struct metric {
    _Atomic int64_t value;
    char *name;                    /* full series name, labels included */
    struct metric_family *family;  /* NULL for sink series */
    struct metric *next_in_family;
    struct metric *next_in_bucket;
};

struct metric_family {
    char *name;
    char *help;
    enum metric_kind kind;
    struct metric *first, *last;
    struct metric_family *next;
};

#define METRIC_BUCKETS 1024

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *buckets[METRIC_BUCKETS];
static struct metric_family *families;
static size_t nfamilies;
static struct metric *sinks;  /* kept reachable so leak checkers see them owned */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Checks NAME or NAME{k="v",...}; returns the family name length, or 0 when malformed. */
static size_t check_name(const char *s)
{
    size_t i = 0;
    if (!s || !name_char(s[0], true))
        return 0;
    while (name_char(s[i], i == 0))
        i++;
    size_t flen = i;
    if (s[i] == '\0')
        return flen;
    if (s[i] != '{')
        return 0;
    i++;
    if (s[i] == '}')
        return s[i + 1] == '\0' ? flen : 0;
    for (;;) {
        if (!name_char(s[i], true) || s[i] == ':')
            return 0;
        while (name_char(s[i], false) && s[i] != ':')
            i++;
        if (s[i++] != '=' || s[i++] != '"')
            return 0;
        while (s[i] != '"') {
            if (s[i] == '\0' || s[i] == '\n')
                return 0;
            if (s[i] == '\\') {
                if (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n')
                    return 0;
                i++;
            }
            i++;
        }
        i++;
        if (s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] == '}' && s[i + 1] == '\0')
            return flen;
        return 0;
    }
}

static struct metric *sink(const char *name, const char *why)
{
    log_error("metric '%s': %s; updates to it are not exported", name ? name : "(null)", why);
    struct metric *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(name ? name : "");
    pthread_mutex_lock(&metrics_lock);
    m->next_in_bucket = sinks;
    sinks = m;
    pthread_mutex_unlock(&metrics_lock);
    return m;
}

static struct metric *get_or_create(const char *name, const char *help, enum metric_kind kind)
{
    size_t flen = check_name(name);
    if (flen == 0)
        return sink(name, "malformed name");
    uint32_t b = hash_str(name) % METRIC_BUCKETS;
    pthread_mutex_lock(&metrics_lock);
    struct metric *m;
    for (m = buckets[b]; m; m = m->next_in_bucket)
        if (strcmp(m->name, name) == 0)
            break;
    if (m) {
        bool clash = m->family->kind != kind;
        pthread_mutex_unlock(&metrics_lock);
        return clash ? sink(name, "registered as both counter and gauge") : m;
    }
    struct metric_family *f;
    for (f = families; f; f = f->next)
        if (strlen(f->name) == flen && strncmp(f->name, name, flen) == 0)
            break;
    if (f && f->kind != kind) {
        pthread_mutex_unlock(&metrics_lock);
        return sink(name, "family registered as both counter and gauge");
    }
    if (!f) {
        f = xcalloc(1, sizeof(*f));
        f->name = xstrndup(name, flen);
        f->help = xstrdup(help ? help : "");
        f->kind = kind;
        f->next = families;
        families = f;
        nfamilies++;
    }
    m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(name);
    m->family = f;
    if (f->last)
        f->last->next_in_family = m;
    else
        f->first = m;
    f->last = m;
    m->next_in_bucket = buckets[b];
    buckets[b] = m;
    pthread_mutex_unlock(&metrics_lock);
    return m;
}

struct metric *metrics_counter(const char *name, const char *help)
{
    return get_or_create(name, help, METRIC_COUNTER);
}

struct metric *metrics_gauge(const char *name, const char *help)
{
    return get_or_create(name, help, METRIC_GAUGE);
}

void metrics_add(struct metric *m, int64_t delta)
{
    atomic_fetch_add_explicit(&m->value, delta, memory_order_relaxed);
}

void metrics_set(struct metric *m, int64_t value)
{
    atomic_store_explicit(&m->value, value, memory_order_relaxed);
}

int64_t metrics_get(const struct metric *m)
{
    return atomic_load_explicit(&((struct metric *)m)->value, memory_order_relaxed);
}

void metrics_label(struct buf *out, const char *key, const char *value)
{
    buf_puts(out, key);
    buf_puts(out, "=\"");
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            buf_puts(out, "\\\\");
        else if (*p == '"')
            buf_puts(out, "\\\"");
        else if (*p == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *p);
    }
    buf_putc(out, '"');
}

static int cmp_family(const void *a, const void *b)
{
    const struct metric_family *x = *(struct metric_family *const *)a;
    const struct metric_family *y = *(struct metric_family *const *)b;
    return strcmp(x->name, y->name);
}

void metrics_render(struct buf *out)
{
    pthread_mutex_lock(&metrics_lock);
    size_t n = nfamilies;
    struct metric_family **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
    size_t i = 0;
    for (struct metric_family *f = families; f; f = f->next)
        sorted[i++] = f;
    qsort(sorted, n, sizeof(*sorted), cmp_family);
    for (i = 0; i < n; i++) {
        struct metric_family *f = sorted[i];
        buf_printf(out, "# HELP %s ", f->name);
        for (const char *p = f->help; *p; p++) {
            if (*p == '\\')
                buf_puts(out, "\\\\");
            else if (*p == '\n')
                buf_puts(out, "\\n");
            else
                buf_putc(out, *p);
        }
        buf_printf(out, "\n# TYPE %s %s\n", f->name, f->kind == METRIC_COUNTER ? "counter" : "gauge");
        for (struct metric *m = f->first; m; m = m->next_in_family)
            buf_printf(out, "%s %lld\n", m->name, (long long)metrics_get(m));
    }
    pthread_mutex_unlock(&metrics_lock);
    free(sorted);
}
