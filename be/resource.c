/* resource: named object-store handles and storage policies, reference counted, behind one mutex. */
#define LOG_MODULE "resource"
#include "resource.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "objstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct resource_registry {
    pthread_mutex_t mu;
    struct resource **res;
    size_t nres;
    struct storage_policy *pol;
    size_t npol;
};

struct resource_registry *resource_registry_new(void)
{
    struct resource_registry *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void resource_registry_free(struct resource_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nres; i++)
        resource_unref(r->res[i]);
    free(r->res);
    free(r->pol);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

struct resource *resource_ref(struct resource *res)
{
    if (res)
        __atomic_add_fetch(&res->refs, 1, __ATOMIC_RELAXED);
    return res;
}

void resource_unref(struct resource *res)
{
    if (!res || __atomic_sub_fetch(&res->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    objstore_close(res->os);
    free(res->exported);
    free(res->name);
    free(res);
}

static bool name_ok(const char *name)
{
    if (!name || !*name || strlen(name) >= 128)
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == '/' || *p == 0x7f)
            return false;
    return true;
}

void resource_put_handle(struct resource_registry *r, const char *name, struct objstore *os)
{
    struct resource *res = xcalloc(1, sizeof(*res));
    res->refs = 1;
    res->name = xstrdup(name);
    res->os = os;
    pthread_mutex_lock(&r->mu);
    size_t i;
    for (i = 0; i < r->nres; i++)
        if (strcmp(r->res[i]->name, name) == 0)
            break;
    struct resource *old = NULL;
    if (i < r->nres) {
        old = r->res[i];
        r->res[i] = res;
    } else {
        r->res = xrealloc(r->res, (r->nres + 1) * sizeof(*r->res));
        r->res[r->nres++] = res;
    }
    pthread_mutex_unlock(&r->mu);
    resource_unref(old);
    log_info("resource %s: %s object store", name, objstore_type_name(os));
}

int resource_put(struct resource_registry *r, const char *name, const struct objstore_conf *conf, struct err *e)
{
    if (!name_ok(name))
        return err_set(e, FLOE_EBADINPUT, "resource name '%s': expected 1..127 printable characters without '/'",
                       name ? name : "");
    struct objstore *os;
    int rc = objstore_open(conf, &os, e);
    if (rc < 0) {
        err_prefix(e, "resource %s", name);
        return rc;
    }
    resource_put_handle(r, name, os);
    return 0;
}

struct resource *resource_get(struct resource_registry *r, const char *name, struct err *e)
{
    struct resource *res = NULL;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nres; i++)
        if (strcmp(r->res[i]->name, name) == 0)
            res = resource_ref(r->res[i]);
    pthread_mutex_unlock(&r->mu);
    if (!res)
        err_set(e, FLOE_ENOTFOUND, "resource %s is not known on this backend (not pushed yet)", name);
    return res;
}

int resource_put_policy(struct resource_registry *r, const struct storage_policy *p, struct err *e)
{
    if (!name_ok(p->name))
        return err_set(e, FLOE_EBADINPUT, "storage policy name '%s': expected 1..127 printable characters", p->name);
    if (!name_ok(p->resource))
        return err_set(e, FLOE_EBADINPUT, "storage policy %s: resource name '%s' is not valid", p->name, p->resource);
    if (p->cooldown_ttl_s < 0 || p->cooldown_datetime_s < 0)
        return err_set(e, FLOE_EBADINPUT, "storage policy %s: cooldown_ttl_s and cooldown_datetime_s must be >= 0",
                       p->name);
    pthread_mutex_lock(&r->mu);
    size_t i;
    for (i = 0; i < r->npol; i++)
        if (strcmp(r->pol[i].name, p->name) == 0)
            break;
    if (i == r->npol)
        r->pol = xrealloc(r->pol, (++r->npol) * sizeof(*r->pol));
    r->pol[i] = *p;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int resource_get_policy(struct resource_registry *r, const char *name, struct storage_policy *ret, struct err *e)
{
    int rc = FLOE_ENOTFOUND;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npol; i++)
        if (strcmp(r->pol[i].name, name) == 0) {
            *ret = r->pol[i];
            rc = 0;
        }
    pthread_mutex_unlock(&r->mu);
    if (rc < 0)
        err_set(e, rc, "storage policy %s is not known on this backend", name);
    return rc;
}

static void add_series(const char *family, const char *help, const char *res, const char *lk, const char *lv,
                       uint64_t now, uint64_t before)
{
    if (now <= before)
        return;
    struct buf n = BUF_INIT;
    buf_printf(&n, "%s{", family);
    metrics_label(&n, "resource", res);
    buf_putc(&n, ',');
    metrics_label(&n, lk, lv);
    buf_putc(&n, '}');
    metrics_add(metrics_counter(buf_cstr(&n), help), (int64_t)(now - before));
    buf_release(&n);
}

void resource_export_metrics(struct resource_registry *r)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nres; i++) {
        struct resource *res = r->res[i];
        struct objstore_stats now, *last = res->exported;
        if (!last)
            last = res->exported = xcalloc(1, sizeof(*last));
        objstore_stats_get(res->os, &now);
        for (int k = 0; k < OBJSTORE_OP_N; k++) {
            const char *kind = objstore_op_name((enum objstore_op)k);
            add_series("floe_objstore_requests_total", "Object store requests by resource and kind", res->name,
                       "kind", kind, now.requests[k], last->requests[k]);
            add_series("floe_objstore_errors_total", "Failed object store requests by resource and kind",
                       res->name, "kind", kind, now.errors[k], last->errors[k]);
            add_series("floe_objstore_retries_total", "Object store requests retried by resource and kind",
                       res->name, "kind", kind, now.retries[k], last->retries[k]);
        }
        add_series("floe_objstore_bytes_total", "Object store body bytes by resource and direction", res->name, "dir",
                   "up", now.bytes_up, last->bytes_up);
        add_series("floe_objstore_bytes_total", "Object store body bytes by resource and direction", res->name, "dir",
                   "down", now.bytes_down, last->bytes_down);
        *last = now;
    }
    pthread_mutex_unlock(&r->mu);
}

bool storage_policy_is_cold(int64_t ttl_s, int64_t datetime_s, int64_t newest_write_ms, int64_t now_ms)
{
    if (ttl_s > 0 && newest_write_ms + ttl_s * 1000 <= now_ms)
        return true;
    if (datetime_s > 0 && datetime_s * 1000 <= now_ms)
        return true;
    return false;
}

int resource_delete_prefix(struct objstore *os, const char *prefix, int64_t *ret_deleted, struct err *e)
{
    *ret_deleted = 0;
    if (!prefix || !*prefix)
        return err_set(e, FLOE_EBADINPUT, "delete prefix: an empty prefix would name every object");
    struct objstore_list l = { 0 };
    int r = objstore_list(os, prefix, &l, e);
    if (r == 0 && l.n > 0) {
        const char **keys = xcalloc(l.n, sizeof(char *));
        for (size_t i = 0; i < l.n; i++)
            keys[i] = l.entries[i].key;
        r = objstore_delete_many(os, keys, l.n, NULL, e);
        free(keys);
        if (r == 0)
            *ret_deleted = (int64_t)l.n;
    }
    objstore_list_release(&l);
    return r;
}
