/* tablet_meta: JSON encoding, validation and atomic save of tablet metas. */
#include "tablet_meta.h"

#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "jsonutil.h"

#include <stdlib.h>
#include <string.h>

int tablet_meta_encode(const struct tablet_meta *m, struct buf *out, struct err *e)
{
    json_t *rowsets = json_array(), *txns = json_array(), *pubs = json_array();
    for (size_t i = 0; i < m->v->nrowsets; i++)
        json_array_append_new(rowsets, rowset_to_json(m->v->rowsets[i]));
    for (size_t i = 0; i < m->ntxns; i++)
        json_array_append_new(txns, json_pack("{s:I, s:o}", "txn_id", (json_int_t)m->txns[i].txn_id, "rowset",
                                              rowset_to_json(m->txns[i].rs)));
    for (size_t i = 0; i < m->npubs; i++)
        json_array_append_new(pubs, json_pack("[I,I]", (json_int_t)m->pubs[i].txn_id, (json_int_t)m->pubs[i].version));
    json_t *j = json_pack("{s:i, s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:o}", "format", TABLET_META_FORMAT,
                          "tablet_id", (json_int_t)m->tablet_id, "replica_id", (json_int_t)m->replica_id,
                          "schema", schema_to_json(m->v->schema), "max_version", (json_int_t)m->v->max_version,
                          "rowsets", rowsets, "cooldown", cooldown_state_to_json(&m->v->cd), "txns", txns,
                          "published", pubs);
    if (!j)
        return err_set(e, FLOE_EINTERNAL, "tablet %lld: cannot build meta JSON", (long long)m->tablet_id);
    int r = json_dump_buf(j, out, e);
    json_decref(j);
    return r;
}

int tablet_meta_save(const char *path, const struct tablet_meta *m, struct err *e)
{
    int r = FAULT_POINT("meta.save");
    if (r < 0)
        return err_set(e, r, "tablet meta %s: injected save fault", path);
    struct buf b = BUF_INIT;
    if ((r = tablet_meta_encode(m, &b, e)) == 0)
        r = fs_write_atomic(path, b.data, b.len, e);
    buf_release(&b);
    return r;
}

void tablet_meta_release(struct tablet_meta *m)
{
    if (!m)
        return;
    version_unref(m->v);
    for (size_t i = 0; i < m->ntxns; i++)
        rowset_unref(m->txns[i].rs);
    free(m->txns);
    free(m->pubs);
    memset(m, 0, sizeof(*m));
}

int tablet_meta_decode(const char *text, size_t len, const char *ctx, int64_t expect_id, const char *local_dir,
                       struct tablet_meta *m, struct err *e)
{
    memset(m, 0, sizeof(*m));
    json_t *j = NULL, *js, *rowsets, *cd, *txns, *pubs;
    int64_t fmt, tid, rid, maxv;
    struct schema *schema = NULL;
    int r = json_parse(text, len, &j, ctx, e);
    if (r < 0)
        return r;
    if ((r = json_get_i64(j, "format", &fmt, ctx, e)) < 0 || (r = json_get_i64(j, "tablet_id", &tid, ctx, e)) < 0 ||
        (r = json_get_i64(j, "replica_id", &rid, ctx, e)) < 0 || (r = json_get_object(j, "schema", &js, ctx, e)) < 0 ||
        (r = json_get_i64(j, "max_version", &maxv, ctx, e)) < 0 ||
        (r = json_get_array(j, "rowsets", &rowsets, ctx, e)) < 0 ||
        (r = json_get_object(j, "cooldown", &cd, ctx, e)) < 0 || (r = json_get_array(j, "txns", &txns, ctx, e)) < 0 ||
        (r = json_get_array(j, "published", &pubs, ctx, e)) < 0)
        goto out;
    if (fmt != TABLET_META_FORMAT) {
        r = err_set(e, FLOE_ECORRUPT, "%s: format %lld, this build reads %d", ctx, (long long)fmt, TABLET_META_FORMAT);
        goto out;
    }
    if (tid != expect_id) {
        r = err_set(e, FLOE_ECORRUPT, "%s: holds tablet %lld, expected %lld", ctx, (long long)tid, (long long)expect_id);
        goto out;
    }
    if ((r = schema_from_json(js, &schema, ctx, e)) < 0)
        goto out;
    m->tablet_id = tid;
    m->replica_id = rid;
    m->v = version_new(tid, schema, maxv);
    cooldown_state_release(&m->v->cd);
    if ((r = cooldown_state_from_json(cd, &m->v->cd, ctx, e)) < 0)
        goto out;
    for (size_t i = 0; i < json_array_size(rowsets); i++) {
        struct rowset *rs;
        if ((r = rowset_from_json(json_array_get(rowsets, i), tid, local_dir, &rs, ctx, e)) < 0)
            goto out;
        version_add_rowset(m->v, rs);
        rowset_unref(rs);
    }
    if ((r = version_check(m->v, e)) < 0) {
        err_prefix(e, "%s", ctx);
        goto out;
    }
    m->txns = xcalloc(json_array_size(txns) + 1, sizeof(*m->txns));
    for (size_t i = 0; i < json_array_size(txns); i++) {
        json_t *t = json_array_get(txns, i), *jr;
        int64_t txn_id;
        if ((r = json_get_i64(t, "txn_id", &txn_id, ctx, e)) < 0 || (r = json_get_object(t, "rowset", &jr, ctx, e)) < 0 ||
            (r = rowset_from_json(jr, tid, local_dir, &m->txns[i].rs, ctx, e)) < 0)
            goto out;
        m->txns[i].txn_id = txn_id;
        m->ntxns = i + 1;
    }
    m->pubs = xcalloc(json_array_size(pubs) + 1, sizeof(*m->pubs));
    for (size_t i = 0; i < json_array_size(pubs); i++) {
        json_t *p = json_array_get(pubs, i);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(json_array_get(p, 0)) ||
            !json_is_integer(json_array_get(p, 1))) {
            r = err_set(e, FLOE_ECORRUPT, "%s: published[%zu] is not [txn_id, version]", ctx, i);
            goto out;
        }
        m->pubs[i].txn_id = json_integer_value(json_array_get(p, 0));
        m->pubs[i].version = json_integer_value(json_array_get(p, 1));
        m->npubs = i + 1;
    }
out:
    schema_unref(schema);
    json_decref(j);
    if (r < 0)
        tablet_meta_release(m);
    return r;
}

int tablet_meta_load(const char *path, int64_t expect_id, const char *local_dir, struct tablet_meta *m,
                     struct err *e)
{
    memset(m, 0, sizeof(*m));
    struct buf b = BUF_INIT;
    int r = fs_read_file(path, &b, TABLET_META_MAX_BYTES, e);
    if (r == 0) {
        char *ctx = xasprintf("tablet meta %s", path);
        r = tablet_meta_decode(b.data ? b.data : "", b.len, ctx, expect_id, local_dir, m, e);
        free(ctx);
    }
    buf_release(&b);
    return r;
}
