/*
 * be_testutil: shared helpers of the engine's unit runners: an all-types
 * schema, deterministic row generation, engine setup and scan collection.
 */
#ifndef FLOE_BE_TESTUTIL_H
#define FLOE_BE_TESTUTIL_H

#include "column_batch.h"
#include "engine.h"
#include "err.h"
#include "scan.h"
#include "schema.h"
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* k int64 key, i32, d, b, s, ts (all nullable except k) */
static inline struct schema *bt_schema(enum key_model model)
{
    struct column_def cols[] = {
        { "k", COL_INT64, false, true },  { "i32", COL_INT32, true, false },
        { "d", COL_DOUBLE, true, false }, { "b", COL_BOOL, true, false },
        { "s", COL_STRING, true, false }, { "ts", COL_TIMESTAMP, true, false },
    };
    struct schema *s;
    struct err e = { 0 };
    ck_assert_msg(schema_new(cols, 6, model, &s, &e) == 0, "%s", err_msg(&e));
    return s;
}

/* Row i of generation `gen`: values depend on both; nulls on fixed patterns. */
static inline void bt_put_row(struct column_batch *b, int64_t k, int gen)
{
    int64_t i = k;
    column_batch_put_i64(b, 0, k);
    if (i % 7 == 3) column_batch_put_null(b, 1); else column_batch_put_i32(b, 1, (int32_t)(i * 31 - 5000 + gen));
    if (i % 11 == 5) column_batch_put_null(b, 2); else column_batch_put_f64(b, 2, (double)i * 0.5 + gen);
    if (i % 13 == 1) column_batch_put_null(b, 3); else column_batch_put_bool(b, 3, (i + gen) % 2 == 0);
    if (i % 5 == 2) {
        column_batch_put_null(b, 4);
    } else {
        char tmp[64];
        int n = snprintf(tmp, sizeof(tmp), "s%" PRId64 "-g%d%s", i % 1000, gen, i % 17 == 0 ? "" : "-tail");
        column_batch_put_str(b, 4, i % 23 == 0 ? "" : tmp, i % 23 == 0 ? 0 : (size_t)n);
    }
    if (i % 9 == 4) column_batch_put_null(b, 5); else column_batch_put_i64(b, 5, 1700000000000000LL + i * 1000);
    column_batch_end_row(b);
}

static inline void bt_batch(struct column_batch *b, const struct schema *s, int64_t from, int64_t to, int gen)
{
    column_batch_init_schema(b, s, NULL, 0);
    for (int64_t k = from; k < to; k++)
        bt_put_row(b, k, gen);
}

/* One row as text, for comparing result sets independent of order. */
static inline char *bt_row_text(const struct column_batch *b, size_t r)
{
    struct buf o = BUF_INIT;
    for (int c = 0; c < b->ncols; c++) {
        const struct column_vec *v = &b->cols[c];
        if (c)
            buf_putc(&o, '|');
        if (column_vec_is_null(v, r)) {
            buf_puts(&o, "NULL");
            continue;
        }
        switch (v->type) {
        case COL_DOUBLE: buf_printf(&o, "%.17g", column_vec_f64(v, r)); break;
        case COL_STRING: {
            size_t n;
            const char *s = column_vec_str(v, r, &n);
            buf_putc(&o, '\'');
            buf_append(&o, s, n);
            buf_putc(&o, '\'');
            break;
        }
        default: buf_printf(&o, "%" PRId64, column_vec_int(v, r)); break;
        }
    }
    return buf_detach(&o, NULL);
}

static int bt_strcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct bt_rows {
    char **v;
    size_t n;
};

static inline void bt_rows_add_batch(struct bt_rows *rs, const struct column_batch *b)
{
    rs->v = xrealloc(rs->v, (rs->n + b->nrows + 1) * sizeof(char *));
    for (size_t r = 0; r < b->nrows; r++)
        rs->v[rs->n++] = bt_row_text(b, r);
}

static inline void bt_rows_sort(struct bt_rows *rs)
{
    if (rs->n)
        qsort(rs->v, rs->n, sizeof(char *), bt_strcmp);
}

static inline void bt_rows_free(struct bt_rows *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i]);
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

static inline void bt_rows_assert_equal(struct bt_rows *a, struct bt_rows *b)
{
    ck_assert_uint_eq(a->n, b->n);
    /* no ck_assert per row: each passing check assertion is a write to the parent process */
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            ck_abort_msg("row %zu differs: %s vs %s", i, a->v[i], b->v[i]);
}

/* Scan a whole tablet (all columns) into sorted row texts; returns the scan rc. */
static inline int bt_scan_opts(struct engine *eng, int64_t tid, const struct scan_opts *o, struct bt_rows *out,
                               struct scan_stats *st, struct err *e)
{
    struct version *v;
    int r = engine_snapshot(eng, tid, &v, e);
    if (r < 0)
        return r;
    struct scan *sc;
    r = scan_open(v, o, &sc, e);
    version_unref(v);
    if (r < 0)
        return r;
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    while (!eof && r == 0) {
        r = scan_next(sc, &b, &eof, e);
        if (r == 0)
            bt_rows_add_batch(out, &b);
    }
    if (st)
        scan_get_stats(sc, st);
    column_batch_release(&b);
    scan_free(sc);
    bt_rows_sort(out);
    return r;
}

static inline void bt_scan_all(struct engine *eng, int64_t tid, int64_t version, struct bt_rows *out)
{
    struct scan_opts o = { .version = version, .limit = -1 };
    struct err e = { 0 };
    int r = bt_scan_opts(eng, tid, &o, out, NULL, &e);
    ck_assert_msg(r == 0, "scan: %s", err_msg(&e));
}

/* Expected rows: the text of generated rows */
static inline void bt_expect(struct bt_rows *out, const struct schema *s, int64_t from, int64_t to, int gen)
{
    struct column_batch b;
    bt_batch(&b, s, from, to, gen);
    bt_rows_add_batch(out, &b);
    column_batch_release(&b);
}

static inline struct engine *bt_engine(const char *root)
{
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = root;
    o.workers = 2;
    struct engine *eng;
    struct err e = { 0 };
    ck_assert_msg(engine_open(&o, &eng, &e) == 0, "engine_open: %s", err_msg(&e));
    return eng;
}

/* write + commit + publish one txn of rows [from,to) */
static inline void bt_load(struct engine *eng, int64_t tid, int64_t txn, int64_t version, const struct schema *s,
                           int64_t from, int64_t to, int gen)
{
    struct column_batch b;
    struct err e = { 0 };
    bt_batch(&b, s, from, to, gen);
    ck_assert_msg(engine_txn_write(eng, tid, txn, &b, &e) == 0, "write: %s", err_msg(&e));
    ck_assert_msg(engine_txn_commit(eng, tid, txn, &e) == 0, "commit: %s", err_msg(&e));
    ck_assert_msg(engine_txn_publish(eng, tid, txn, version, &e) == 0, "publish: %s", err_msg(&e));
    column_batch_release(&b);
}

static inline size_t bt_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static inline size_t bt_version_files(const struct version *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nrowsets; i++)
        if (rowset_is_local(v->rowsets[i]))
            n += (size_t)v->rowsets[i]->nsegs;
    return n;
}

#endif
