/* rowset: immutable rowset descriptors, their JSON form and local file lifetime. */
#define LOG_MODULE "rowset"
#include "rowset.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "jsonutil.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rowset_remote_open_cb remote_cb;
static void *remote_ctx;

struct rowset *rowset_new(const char *id, int64_t tablet_id, int64_t start, int64_t end,
                          const struct rowset_segment *segs, int nsegs, int64_t newest_write_ms,
                          const char *resource_id, const char *local_dir)
{
    struct rowset *rs = xcalloc(1, sizeof(*rs));
    rs->refs = 1;
    snprintf(rs->id, sizeof(rs->id), "%s", id);
    rs->tablet_id = tablet_id;
    rs->start = start;
    rs->end = end;
    rs->nsegs = nsegs;
    rs->segs = xcalloc((size_t)(nsegs > 0 ? nsegs : 1), sizeof(*rs->segs));
    for (int i = 0; i < nsegs; i++) {
        rs->segs[i] = segs[i];
        rs->num_rows += segs[i].rows;
        rs->data_size += segs[i].size;
    }
    rs->newest_write_ms = newest_write_ms;
    rs->oldest_write_ms = newest_write_ms;
    rs->resource_id = resource_id ? xstrdup(resource_id) : NULL;
    rs->local_dir = local_dir ? xstrdup(local_dir) : NULL;
    return rs;
}

struct rowset *rowset_clone(const struct rowset *rs, int64_t start, int64_t end, const char *resource_id)
{
    struct rowset *c = rowset_new(rs->id, rs->tablet_id, start, end, rs->segs, rs->nsegs, rs->newest_write_ms,
                                  resource_id, rs->local_dir);
    c->oldest_write_ms = rs->oldest_write_ms;
    return c;
}

struct rowset *rowset_ref(struct rowset *rs)
{
    if (rs)
        __atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
    return rs;
}

char *rowset_segment_name(const char *rowset_id, int seg) { return xasprintf("%s_%d.dat", rowset_id, seg); }

char *rowset_segment_path(const struct rowset *rs, int seg)
{
    return xasprintf("%s/%s_%d.dat", rs->local_dir ? rs->local_dir : ".", rs->id, seg);
}

bool rowset_parse_segment_name(const char *name, char id[UUID_STR_LEN], int *ret_seg)
{
    size_t n = strlen(name);
    if (n < 36 + 2 + 4 || name[36] != '_' || strcmp(name + n - 4, ".dat") != 0)
        return false;
    char tmp[UUID_STR_LEN];
    memcpy(tmp, name, 36);
    tmp[36] = 0;
    if (!uuid_is_valid_str(tmp))
        return false;
    int seg = 0;
    for (size_t i = 37; i < n - 4; i++) {
        if (name[i] < '0' || name[i] > '9' || seg > 100000000)
            return false;
        seg = seg * 10 + (name[i] - '0');
    }
    if (n - 4 == 37)
        return false;
    memcpy(id, tmp, UUID_STR_LEN);
    *ret_seg = seg;
    return true;
}

void rowset_delete_local_files(const char *dir, const char *rowset_id, int nsegs)
{
    for (int i = 0; i < nsegs; i++) {
        char *p = xasprintf("%s/%s_%d.dat", dir, rowset_id, i);
        int r = FAULT_POINT("file.delete");
        if (r < 0)
            log_warn("delete %s: injected fault, left for the restart sweep", p);
        else if (unlink(p) < 0 && errno != ENOENT)
            log_warn("delete %s: %s", p, strerror(errno));
        free(p);
    }
}

void rowset_retire(struct rowset *rs) { __atomic_store_n(&rs->retired, 1, __ATOMIC_RELEASE); }

void rowset_unref(struct rowset *rs)
{
    if (!rs || __atomic_sub_fetch(&rs->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (__atomic_load_n(&rs->retired, __ATOMIC_ACQUIRE) && rowset_is_local(rs) && rs->local_dir)
        rowset_delete_local_files(rs->local_dir, rs->id, rs->nsegs);
    free(rs->segs);
    free(rs->resource_id);
    free(rs->local_dir);
    free(rs);
}

void rowset_set_remote_opener(rowset_remote_open_cb cb, void *ctx)
{
    remote_cb = cb;
    remote_ctx = ctx;
}

int rowset_open_segment(const struct rowset *rs, int seg, struct io_source **ret, struct err *e)
{
    if (seg < 0 || seg >= rs->nsegs)
        return err_set(e, FLOE_EINTERNAL, "rowset %s: no segment %d", rs->id, seg);
    if (!rowset_is_local(rs)) {
        if (!remote_cb)
            return err_set(e, FLOE_EUNSUPPORTED, "rowset %s lives on resource %s and no remote reader is set up",
                           rs->id, rs->resource_id);
        return remote_cb(remote_ctx, rs, seg, ret, e);
    }
    char *p = rowset_segment_path(rs, seg);
    int r = io_source_open_file(p, rs->segs[seg].size, ret, e);
    free(p);
    return r;
}

json_t *rowset_to_json(const struct rowset *rs)
{
    json_t *segs = json_array();
    for (int i = 0; i < rs->nsegs; i++)
        json_array_append_new(segs, json_pack("{s:I, s:I}", "size", (json_int_t)rs->segs[i].size,
                                              "rows", (json_int_t)rs->segs[i].rows));
    json_t *j = json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I}", "id", rs->id, "start", (json_int_t)rs->start,
                          "end", (json_int_t)rs->end, "segments", segs, "num_rows", (json_int_t)rs->num_rows,
                          "data_size", (json_int_t)rs->data_size, "newest_write_ms",
                          (json_int_t)rs->newest_write_ms);
    json_object_set_new(j, "location", json_string(rs->resource_id ? rs->resource_id : "local"));
    if (rs->oldest_write_ms != rs->newest_write_ms)
        json_object_set_new(j, "oldest_write_ms", json_integer((json_int_t)rs->oldest_write_ms));
    return j;
}

int rowset_from_json(const json_t *j, int64_t tablet_id, const char *local_dir, struct rowset **ret,
                     const char *ctx, struct err *e)
{
    *ret = NULL;
    const char *id, *loc;
    int64_t start, end, wms, oms, nrows, dsize;
    json_t *segs;
    int r;
    if ((r = json_get_str(j, "id", &id, ctx, e)) < 0 || (r = json_get_i64(j, "start", &start, ctx, e)) < 0 ||
        (r = json_get_i64(j, "end", &end, ctx, e)) < 0 || (r = json_get_array(j, "segments", &segs, ctx, e)) < 0 ||
        (r = json_get_i64(j, "newest_write_ms", &wms, ctx, e)) < 0 ||
        (r = json_get_i64(j, "num_rows", &nrows, ctx, e)) < 0 ||
        (r = json_get_i64(j, "data_size", &dsize, ctx, e)) < 0 ||
        (r = json_get_str(j, "location", &loc, ctx, e)) < 0 ||
        (r = json_opt_i64(j, "oldest_write_ms", INT64_MIN, &oms, ctx, e)) < 0)
        return r;
    if (oms != INT64_MIN && oms > wms)
        return err_set(e, FLOE_ECORRUPT, "%s: rowset %s: oldest_write_ms %lld is after newest_write_ms %lld", ctx, id,
                       (long long)oms, (long long)wms);
    if (!uuid_is_valid_str(id))
        return err_set(e, FLOE_ECORRUPT, "%s: rowset id '%s' is not a uuid", ctx, id);
    if (start < -1 || end < start)
        return err_set(e, FLOE_ECORRUPT, "%s: rowset %s: bad version range [%lld,%lld]", ctx, id,
                       (long long)start, (long long)end);
    size_t n = json_array_size(segs);
    if (n > 1000000)
        return err_set(e, FLOE_ECORRUPT, "%s: rowset %s: %zu segments", ctx, id, n);
    struct rowset_segment *sv = xcalloc(n ? n : 1, sizeof(*sv));
    uint64_t tr = 0, ts = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t size, rows;
        json_t *s = json_array_get(segs, i);
        if ((r = json_get_i64(s, "size", &size, ctx, e)) < 0 || (r = json_get_i64(s, "rows", &rows, ctx, e)) < 0) {
            free(sv);
            return r;
        }
        if (size < 0 || rows < 0) {
            free(sv);
            return err_set(e, FLOE_ECORRUPT, "%s: rowset %s segment %zu: negative size", ctx, id, i);
        }
        sv[i].size = (uint64_t)size;
        sv[i].rows = (uint64_t)rows;
        tr += sv[i].rows;
        ts += sv[i].size;
    }
    if (tr != (uint64_t)nrows || ts != (uint64_t)dsize) {
        free(sv);
        return err_set(e, FLOE_ECORRUPT, "%s: rowset %s: num_rows/data_size disagree with its segments", ctx, id);
    }
    bool local = strcmp(loc, "local") == 0;
    *ret = rowset_new(id, tablet_id, start, end, sv, (int)n, wms, local ? NULL : loc, local_dir);
    if (oms != INT64_MIN)
        (*ret)->oldest_write_ms = oms;
    free(sv);
    return 0;
}
