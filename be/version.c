/* version: snapshots and the cooldown state they carry. */
#include "version.h"

#include "buf.h"
#include "err.h"
#include "jsonutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void cooldown_state_init(struct cooldown_state *cd)
{
    memset(cd, 0, sizeof(*cd));
    cd->cooldown_replica_id = -1;
    cd->cooldowned_version = -1;
    cd->extra = json_object();
}

void cooldown_state_release(struct cooldown_state *cd)
{
    if (!cd)
        return;
    free(cd->storage_policy);
    free(cd->resource_id);
    for (size_t i = 0; i < cd->n_upload_intents; i++)
        free(cd->upload_intents[i]);
    free(cd->upload_intents);
    json_decref(cd->extra);
    memset(cd, 0, sizeof(*cd));
}

void cooldown_state_set_intents(struct cooldown_state *cd, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < cd->n_upload_intents; i++)
        free(cd->upload_intents[i]);
    free(cd->upload_intents);
    cd->upload_intents = n ? xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        cd->upload_intents[i] = xstrdup(ids[i]);
    cd->n_upload_intents = n;
}

void cooldown_state_copy(struct cooldown_state *dst, const struct cooldown_state *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->storage_policy = src->storage_policy ? xstrdup(src->storage_policy) : NULL;
    dst->resource_id = src->resource_id ? xstrdup(src->resource_id) : NULL;
    dst->cooldown_replica_id = src->cooldown_replica_id;
    dst->cooldown_term = src->cooldown_term;
    memcpy(dst->cooldown_meta_id, src->cooldown_meta_id, sizeof(dst->cooldown_meta_id));
    dst->cooldowned_version = src->cooldowned_version;
    cooldown_state_set_intents(dst, (const char *const *)src->upload_intents, src->n_upload_intents);
    dst->extra = json_deep_copy(src->extra ? src->extra : json_object());
    if (!dst->extra)
        dst->extra = json_object();
}

json_t *cooldown_state_to_json(const struct cooldown_state *cd)
{
    json_t *intents = json_array();
    for (size_t i = 0; i < cd->n_upload_intents; i++)
        json_array_append_new(intents, json_string(cd->upload_intents[i]));
    json_t *j = json_pack("{s:I, s:I, s:s, s:I, s:o, s:O}", "cooldown_replica_id",
                          (json_int_t)cd->cooldown_replica_id, "cooldown_term", (json_int_t)cd->cooldown_term,
                          "cooldown_meta_id", cd->cooldown_meta_id, "cooldowned_version",
                          (json_int_t)cd->cooldowned_version, "upload_intents", intents, "extra", cd->extra);
    if (cd->storage_policy)
        json_object_set_new(j, "storage_policy", json_string(cd->storage_policy));
    if (cd->resource_id)
        json_object_set_new(j, "resource_id", json_string(cd->resource_id));
    return j;
}

int cooldown_state_from_json(const json_t *j, struct cooldown_state *cd, const char *ctx, struct err *e)
{
    cooldown_state_init(cd);
    const char *pol, *res, *mid;
    json_t *intents, *extra;
    int r;
    if ((r = json_get_i64(j, "cooldown_replica_id", &cd->cooldown_replica_id, ctx, e)) < 0 ||
        (r = json_get_i64(j, "cooldown_term", &cd->cooldown_term, ctx, e)) < 0 ||
        (r = json_get_str(j, "cooldown_meta_id", &mid, ctx, e)) < 0 ||
        (r = json_get_i64(j, "cooldowned_version", &cd->cooldowned_version, ctx, e)) < 0 ||
        (r = json_get_array(j, "upload_intents", &intents, ctx, e)) < 0 ||
        (r = json_get_object(j, "extra", &extra, ctx, e)) < 0 ||
        (r = json_opt_str(j, "storage_policy", NULL, &pol, ctx, e)) < 0 ||
        (r = json_opt_str(j, "resource_id", NULL, &res, ctx, e)) < 0)
        goto fail;
    if (*mid && !uuid_is_valid_str(mid)) {
        r = err_set(e, FLOE_ECORRUPT, "%s: cooldown_meta_id '%s' is not a uuid", ctx, mid);
        goto fail;
    }
    snprintf(cd->cooldown_meta_id, sizeof(cd->cooldown_meta_id), "%s", mid);
    cd->storage_policy = pol ? xstrdup(pol) : NULL;
    cd->resource_id = res ? xstrdup(res) : NULL;
    size_t n = json_array_size(intents);
    cd->upload_intents = n ? xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(intents, i));
        if (!s) {
            r = err_set(e, FLOE_ECORRUPT, "%s: upload_intents[%zu] is not a string", ctx, i);
            goto fail;
        }
        cd->upload_intents[i] = xstrdup(s);
        cd->n_upload_intents = i + 1;
    }
    json_decref(cd->extra);
    cd->extra = json_deep_copy(extra);
    return 0;
fail:
    cooldown_state_release(cd);
    cooldown_state_init(cd);
    return r;
}

struct version *version_new(int64_t tablet_id, struct schema *schema, int64_t max_version)
{
    struct version *v = xcalloc(1, sizeof(*v));
    v->refs = 1;
    v->tablet_id = tablet_id;
    v->schema = schema_ref(schema);
    v->max_version = max_version;
    cooldown_state_init(&v->cd);
    return v;
}

struct version *version_copy(const struct version *src)
{
    struct version *v = xcalloc(1, sizeof(*v));
    v->refs = 1;
    v->tablet_id = src->tablet_id;
    v->schema = schema_ref(src->schema);
    v->max_version = src->max_version;
    v->nrowsets = src->nrowsets;
    v->rowsets = xcalloc(src->nrowsets ? src->nrowsets : 1, sizeof(*v->rowsets));
    for (size_t i = 0; i < src->nrowsets; i++)
        v->rowsets[i] = rowset_ref(src->rowsets[i]);
    cooldown_state_copy(&v->cd, &src->cd);
    for (size_t i = 0; i < src->nstale; i++)
        version_add_stale(v, src->stale[i], src->stale_expire_ms[i]);
    return v;
}

struct version *version_ref(struct version *v)
{
    if (v)
        __atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
    return v;
}

void version_unref(struct version *v)
{
    if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < v->nrowsets; i++)
        rowset_unref(v->rowsets[i]);
    free(v->rowsets);
    for (size_t i = 0; i < v->nstale; i++)
        rowset_unref(v->stale[i]);
    free(v->stale);
    free(v->stale_expire_ms);
    schema_unref(v->schema);
    cooldown_state_release(&v->cd);
    free(v);
}

void version_add_rowset(struct version *v, struct rowset *rs)
{
    v->rowsets = xrealloc(v->rowsets, (v->nrowsets + 1) * sizeof(*v->rowsets));
    v->rowsets[v->nrowsets++] = rowset_ref(rs);
}

void version_replace_rowsets(struct version *v, size_t from, size_t count, struct rowset *const *with, size_t nwith)
{
    size_t n = v->nrowsets - count + nwith;
    struct rowset **nv = xcalloc(n ? n : 1, sizeof(*nv));
    size_t k = 0;
    for (size_t i = 0; i < from; i++)
        nv[k++] = v->rowsets[i];
    for (size_t i = 0; i < nwith; i++)
        nv[k++] = rowset_ref(with[i]);
    for (size_t i = from + count; i < v->nrowsets; i++)
        nv[k++] = v->rowsets[i];
    for (size_t i = from; i < from + count; i++)
        rowset_unref(v->rowsets[i]);
    free(v->rowsets);
    v->rowsets = nv;
    v->nrowsets = n;
}

void version_add_stale(struct version *v, struct rowset *rs, int64_t expire_ms)
{
    v->stale = xrealloc(v->stale, (v->nstale + 1) * sizeof(*v->stale));
    v->stale_expire_ms = xrealloc(v->stale_expire_ms, (v->nstale + 1) * sizeof(*v->stale_expire_ms));
    v->stale[v->nstale] = rowset_ref(rs);
    v->stale_expire_ms[v->nstale] = expire_ms;
    v->nstale++;
}

size_t version_drop_expired_stale(struct version *v, int64_t now_ms)
{
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < v->nstale; i++) {
        if (v->stale_expire_ms[i] <= now_ms) {
            rowset_unref(v->stale[i]);
            dropped++;
            continue;
        }
        v->stale[k] = v->stale[i];
        v->stale_expire_ms[k] = v->stale_expire_ms[i];
        k++;
    }
    v->nstale = k;
    if (k == 0) {
        free(v->stale);
        free(v->stale_expire_ms);
        v->stale = NULL;
        v->stale_expire_ms = NULL;
    }
    return dropped;
}

bool version_has_stale(const struct version *v, const char *rowset_id)
{
    for (size_t i = 0; i < v->nstale; i++)
        if (strcmp(v->stale[i]->id, rowset_id) == 0)
            return true;
    return false;
}

int version_pick_rowsets(const struct version *v, int64_t at, struct rowset ***ret, size_t *ret_n, struct err *e)
{
    *ret = NULL;
    *ret_n = 0;
    if (at > v->max_version)
        return err_set(e, FLOE_EVERSION, "tablet %lld: version %lld is not published yet (max %lld)",
                       (long long)v->tablet_id, (long long)at, (long long)v->max_version);
    struct rowset **out = xcalloc(v->nrowsets + v->nstale + 1, sizeof(*out));
    size_t n = 0;
    int64_t next = 0;
    while (next <= at) {
        struct rowset *best = NULL;
        /* current rowsets first: on a tie (same range) they win over stale ones */
        for (size_t i = 0; i < v->nrowsets; i++) {
            struct rowset *rs = v->rowsets[i];
            if (rs->start == next && rs->end <= at && (!best || rs->end > best->end))
                best = rs;
        }
        for (size_t i = 0; i < v->nstale; i++) {
            struct rowset *rs = v->stale[i];
            if (rs->start == next && rs->end <= at && (!best || rs->end > best->end))
                best = rs;
        }
        if (!best || n >= v->nrowsets + v->nstale) {
            for (size_t i = 0; i < v->nrowsets; i++) {
                const struct rowset *rs = v->rowsets[i];
                if (rs->start <= at && rs->end > at) {
                    free(out);
                    return err_set(e, FLOE_EVERSION, "tablet %lld: version %lld was merged into rowset [%lld,%lld]",
                                   (long long)v->tablet_id, (long long)at, (long long)rs->start, (long long)rs->end);
                }
            }
            free(out);
            return err_set(e, FLOE_EVERSION, "tablet %lld: no rowsets cover versions [%lld,%lld]",
                           (long long)v->tablet_id, (long long)next, (long long)at);
        }
        out[n++] = best;
        next = best->end + 1;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

void cooldown_state_policy_times(const struct cooldown_state *cd, int64_t *ret_ttl_s, int64_t *ret_datetime_s)
{
    json_t *p = json_object_get(cd->extra, "policy");
    const json_t *src = json_object_get(cd->extra, "cooldown_ttl_s") || !json_is_object(p) ? cd->extra : p;
    json_t *t = json_object_get(src, "cooldown_ttl_s"), *d = json_object_get(src, "cooldown_datetime_s");
    *ret_ttl_s = json_is_integer(t) ? (int64_t)json_integer_value(t) : 0;
    *ret_datetime_s = json_is_integer(d) ? (int64_t)json_integer_value(d) : 0;
}

ssize_t version_find_rowset(const struct version *v, const char *id)
{
    for (size_t i = 0; i < v->nrowsets; i++)
        if (strcmp(v->rowsets[i]->id, id) == 0)
            return (ssize_t)i;
    return -1;
}

int version_check(const struct version *v, struct err *e)
{
    int64_t next = 0;
    for (size_t i = 0; i < v->nrowsets; i++) {
        const struct rowset *rs = v->rowsets[i];
        if (rs->start != next || rs->end < rs->start)
            return err_set(e, FLOE_ECORRUPT, "tablet %lld: rowset %s covers [%lld,%lld], expected to start at %lld",
                           (long long)v->tablet_id, rs->id, (long long)rs->start, (long long)rs->end, (long long)next);
        next = rs->end + 1;
    }
    if (next != v->max_version + 1)
        return err_set(e, FLOE_ECORRUPT, "tablet %lld: rowsets end at %lld, max version is %lld",
                       (long long)v->tablet_id, (long long)(next - 1), (long long)v->max_version);
    return 0;
}
