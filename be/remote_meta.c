/* remote_meta: JSON form of a tablet's remote meta, strict validation, remote key names. */
#include "remote_meta.h"

#include "err.h"
#include "jsonutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void remote_meta_init(struct remote_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->cooldowned_version = -1;
}

void remote_meta_release(struct remote_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nrowsets; i++)
        rowset_unref(m->rowsets[i]);
    free(m->rowsets);
    remote_meta_init(m);
}

void remote_meta_add_rowset(struct remote_meta *m, struct rowset *rs)
{
    m->rowsets = xrealloc(m->rowsets, (m->nrowsets + 1) * sizeof(*m->rowsets));
    m->rowsets[m->nrowsets++] = rowset_ref(rs);
    m->cooldowned_version = rs->end;
}

/* The rules shared by encode and decode. */
static int validate(const struct remote_meta *m, const char *ctx, struct err *e)
{
    if (m->tablet_id <= 0)
        return err_set(e, FLOE_ECORRUPT, "remote meta %s: tablet_id %" PRId64 " must be positive", ctx, m->tablet_id);
    if (m->replica_id < 0)
        return err_set(e, FLOE_ECORRUPT, "remote meta %s: replica_id %" PRId64 " is negative", ctx, m->replica_id);
    if (m->term < 1)
        return err_set(e, FLOE_ECORRUPT, "remote meta %s: term %" PRId64 " must be >= 1", ctx, m->term);
    if (!uuid_is_valid_str(m->cooldown_meta_id))
        return err_set(e, FLOE_ECORRUPT, "remote meta %s: cooldown_meta_id '%s' is not a uuid", ctx,
                       m->cooldown_meta_id);
    int64_t next = 0;
    for (size_t i = 0; i < m->nrowsets; i++) {
        const struct rowset *rs = m->rowsets[i];
        if (rs->start != next || rs->end < rs->start)
            return err_set(e, FLOE_ECORRUPT,
                           "remote meta %s: rowset %s covers [%" PRId64 ",%" PRId64 "], expected to start at %" PRId64,
                           ctx, rs->id, rs->start, rs->end, next);
        if (rs->tablet_id != m->tablet_id)
            return err_set(e, FLOE_ECORRUPT, "remote meta %s: rowset %s belongs to tablet %" PRId64, ctx, rs->id,
                           rs->tablet_id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->rowsets[j]->id, rs->id) == 0)
                return err_set(e, FLOE_ECORRUPT, "remote meta %s: rowset %s is listed twice", ctx, rs->id);
        next = rs->end + 1;
    }
    if (m->cooldowned_version != next - 1)
        return err_set(e, FLOE_ECORRUPT,
                       "remote meta %s: cooldowned_version %" PRId64 " but its rowsets end at %" PRId64, ctx,
                       m->cooldowned_version, next - 1);
    return 0;
}

int remote_meta_encode(const struct remote_meta *m, struct buf *out, struct err *e)
{
    char ctx[96];
    snprintf(ctx, sizeof(ctx), "of tablet %" PRId64, m->tablet_id);
    int r = validate(m, ctx, e);
    if (r < 0)
        return r;
    json_t *rows = json_array();
    for (size_t i = 0; i < m->nrowsets; i++) {
        json_t *j = rowset_to_json(m->rowsets[i]);
        json_object_set_new(j, "location", json_string("remote"));
        json_array_append_new(rows, j);
    }
    json_t *root = json_pack("{s:i, s:I, s:I, s:I, s:s, s:I, s:o}", "format", REMOTE_META_FORMAT, "tablet_id",
                             (json_int_t)m->tablet_id, "replica_id", (json_int_t)m->replica_id, "term",
                             (json_int_t)m->term, "cooldown_meta_id", m->cooldown_meta_id, "cooldowned_version",
                             (json_int_t)m->cooldowned_version, "rowsets", rows);
    r = json_dump_buf(root, out, e);
    json_decref(root);
    return r;
}

int remote_meta_decode(const char *text, size_t len, const char *ctx, int64_t expect_tablet_id,
                       const char *resource_id, struct remote_meta *ret, struct err *e)
{
    remote_meta_init(ret);
    char jctx[512];
    snprintf(jctx, sizeof(jctx), "remote meta %s", ctx);
    json_t *root = NULL;
    struct remote_meta m;
    remote_meta_init(&m);
    int r;
    if (len > REMOTE_META_MAX_BYTES) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: %zu bytes, more than the limit %u", ctx, len,
                    REMOTE_META_MAX_BYTES);
        goto out;
    }
    if ((r = json_parse(text, len, &root, jctx, e)) < 0)
        goto out;
    if (!json_is_object(root)) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: not a JSON object", ctx);
        goto out;
    }
    int64_t format;
    const char *mid;
    json_t *rows;
    if ((r = json_get_i64(root, "format", &format, jctx, e)) < 0 ||
        (r = json_get_i64(root, "tablet_id", &m.tablet_id, jctx, e)) < 0 ||
        (r = json_get_i64(root, "replica_id", &m.replica_id, jctx, e)) < 0 ||
        (r = json_get_i64(root, "term", &m.term, jctx, e)) < 0 ||
        (r = json_get_str(root, "cooldown_meta_id", &mid, jctx, e)) < 0 ||
        (r = json_get_i64(root, "cooldowned_version", &m.cooldowned_version, jctx, e)) < 0 ||
        (r = json_get_array(root, "rowsets", &rows, jctx, e)) < 0)
        goto out;
    if (format != REMOTE_META_FORMAT) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: format %" PRId64 ", expected %d", ctx, format,
                    REMOTE_META_FORMAT);
        goto out;
    }
    if (m.tablet_id != expect_tablet_id) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: tablet_id %" PRId64 ", expected %" PRId64, ctx, m.tablet_id,
                    expect_tablet_id);
        goto out;
    }
    if (strlen(mid) >= UUID_STR_LEN) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: cooldown_meta_id is not a uuid", ctx);
        goto out;
    }
    memcpy(m.cooldown_meta_id, mid, strlen(mid) + 1);
    size_t n = json_array_size(rows);
    if (n > 1000000) {
        r = err_set(e, FLOE_ECORRUPT, "remote meta %s: %zu rowsets", ctx, n);
        goto out;
    }
    int64_t cv = m.cooldowned_version;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(rows, i);
        if (!json_is_object(j)) {
            r = err_set(e, FLOE_ECORRUPT, "remote meta %s: rowsets[%zu] is not an object", ctx, i);
            goto out;
        }
        const char *loc;
        if ((r = json_get_str(j, "location", &loc, jctx, e)) < 0)
            goto out;
        if (strcmp(loc, "remote") != 0) {
            r = err_set(e, FLOE_ECORRUPT, "remote meta %s: rowsets[%zu] location '%s', expected \"remote\"", ctx, i,
                        loc);
            goto out;
        }
        struct rowset *rs = NULL;
        if ((r = rowset_from_json(j, m.tablet_id, NULL, &rs, jctx, e)) < 0)
            goto out;
        struct rowset *rc = rowset_clone(rs, rs->start, rs->end, resource_id ? resource_id : "remote");
        rowset_unref(rs);
        remote_meta_add_rowset(&m, rc);
        rowset_unref(rc);
    }
    m.cooldowned_version = cv;
    if ((r = validate(&m, ctx, e)) < 0)
        goto out;
    *ret = m;
    remote_meta_init(&m);
out:
    remote_meta_release(&m);
    json_decref(root);
    return r;
}

char *remote_tablet_prefix(int64_t tablet_id) { return xasprintf("data/%" PRId64 "/", tablet_id); }

char *remote_meta_key(int64_t tablet_id, int64_t replica_id, int64_t term)
{
    return xasprintf("data/%" PRId64 "/%" PRId64 ".%" PRId64 ".meta", tablet_id, replica_id, term);
}

char *remote_segment_key(int64_t tablet_id, const char *rowset_id, int seg)
{
    return xasprintf("data/%" PRId64 "/%s_%d.dat", tablet_id, rowset_id, seg);
}

/* Strict decimal: digits only, no sign, no leading zeros (except "0"), fits int64. */
static bool parse_dec(const char *s, size_t n, int64_t *ret)
{
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

enum remote_key_kind remote_key_parse(const char *key, int64_t tablet_id, char rowset_id[UUID_STR_LEN],
                                      int *ret_seg, int64_t *ret_replica_id, int64_t *ret_term)
{
    char pre[48];
    int pn = snprintf(pre, sizeof(pre), "data/%" PRId64 "/", tablet_id);
    if (pn <= 0 || strncmp(key, pre, (size_t)pn) != 0)
        return REMOTE_KEY_OTHER;
    const char *name = key + pn;
    if (strchr(name, '/'))
        return REMOTE_KEY_OTHER;
    char id[UUID_STR_LEN];
    int seg;
    if (rowset_parse_segment_name(name, id, &seg)) {
        if (rowset_id)
            memcpy(rowset_id, id, UUID_STR_LEN);
        if (ret_seg)
            *ret_seg = seg;
        return REMOTE_KEY_SEGMENT;
    }
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 5, ".meta") != 0)
        return REMOTE_KEY_OTHER;
    const char *dot = memchr(name, '.', n - 5);
    if (!dot)
        return REMOTE_KEY_OTHER;
    int64_t rep, term;
    if (!parse_dec(name, (size_t)(dot - name), &rep) || !parse_dec(dot + 1, (size_t)(name + n - 5 - dot - 1), &term) ||
        term < 1)
        return REMOTE_KEY_OTHER;
    if (ret_replica_id)
        *ret_replica_id = rep;
    if (ret_term)
        *ret_term = term;
    return REMOTE_KEY_META;
}
