/* Unit tests for the engine: txns, scans, unique merge, compaction, restart, bad metas. */
#include "be_testutil.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"

#include <pthread.h>
#include <unistd.h>

#define TID 42

/* An engine that keeps compacted-away rowsets keep_ms (0 = drops them at once, the old behaviour). */
static struct engine *engine_keep(const char *root, int64_t keep_ms)
{
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = root;
    o.workers = 2;
    o.stale_rowset_keep_ms = keep_ms;
    struct engine *eng;
    struct err e = { 0 };
    ck_assert_msg(engine_open(&o, &eng, &e) == 0, "engine_open: %s", err_msg(&e));
    return eng;
}

static size_t stale_files(const struct version *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nstale; i++)
        n += (size_t)v->stale[i]->nsegs;
    return n;
}

static struct engine *setup_keep(char **dir, struct schema **s, enum key_model m, int64_t keep_ms)
{
    *dir = test_tmpdir();
    *s = bt_schema(m);
    struct engine *eng = engine_keep(*dir, keep_ms);
    struct err e = { 0 };
    ck_assert_msg(engine_create_tablet(eng, TID, 7, *s, &e) == 0, "%s", err_msg(&e));
    return eng;
}

static struct engine *setup(char **dir, struct schema **s, enum key_model m)
{
    *dir = test_tmpdir();
    *s = bt_schema(m);
    struct engine *eng = bt_engine(*dir);
    struct err e = { 0 };
    ck_assert_msg(engine_create_tablet(eng, TID, 7, *s, &e) == 0, "%s", err_msg(&e));
    return eng;
}

static void teardown(struct engine *eng, char *dir, struct schema *s)
{
    engine_close(eng);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(dir);
}

START_TEST(load_publish_scan_versions)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    ck_assert_int_eq(engine_create_tablet(eng, TID, 7, s, &e), FLOE_EEXIST);
    bt_load(eng, TID, 1, 2, s, 0, 1000, 0);
    bt_load(eng, TID, 2, 3, s, 1000, 3000, 0);
    /* staged and committed but unpublished: invisible */
    struct column_batch b;
    bt_batch(&b, s, 3000, 3500, 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 3, &b, &e), 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 3, &b, &e), 0); /* two writes, two segments */
    ck_assert_int_eq(engine_txn_commit(eng, TID, 3, &e), 0);
    struct bt_rows got = { 0 }, want = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    bt_expect(&want, s, 0, 3000, 0);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    /* version gap refused */
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 5, &e), FLOE_EVERSION);
    ck_assert_ptr_nonnull(strstr(e.msg, "expected 4"));
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 4, &e), 0);
    /* idempotent publish; a different version is refused */
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 4, &e), 0);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 5, &e), FLOE_ETXN);
    ck_assert_int_eq(engine_txn_commit(eng, TID, 3, &e), 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 3, &b, &e), FLOE_ETXN);
    ck_assert_int_eq(engine_txn_abort(eng, TID, 3, &e), FLOE_ETXN);
    bt_expect(&want, s, 3000, 3500, 0);
    bt_expect(&want, s, 3000, 3500, 0);
    bt_rows_sort(&want);
    bt_scan_all(eng, TID, -1, &got);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
    /* older versions */
    bt_scan_all(eng, TID, 2, &got);
    ck_assert_uint_eq(got.n, 1000);
    bt_rows_free(&got);
    bt_scan_all(eng, TID, 1, &got);
    ck_assert_uint_eq(got.n, 0);
    bt_rows_free(&got);
    struct scan_opts o = { .version = 9, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), FLOE_EVERSION);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_int_eq(ti.max_version, 4);
    ck_assert_uint_eq(ti.num_rows, 4000);
    ck_assert_int_eq(ti.replica_id, 7);
    /* bad batch: wrong types, null in key */
    struct column_batch bad;
    enum col_type t1[] = { COL_STRING };
    column_batch_init(&bad, 1, t1);
    ck_assert_int_eq(engine_txn_write(eng, TID, 9, &bad, &e), FLOE_EBADINPUT);
    column_batch_release(&bad);
    column_batch_init_schema(&bad, s, NULL, 0);
    for (int c = 0; c < 6; c++)
        column_batch_put_null(&bad, c);
    column_batch_end_row(&bad);
    ck_assert_int_eq(engine_txn_write(eng, TID, 9, &bad, &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "non-nullable"));
    column_batch_release(&bad);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 12345, 5, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(engine_txn_write(eng, 999, 1, &b, &e), FLOE_ENOTFOUND);
    column_batch_release(&b);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(abort_removes_files)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    struct column_batch b;
    bt_batch(&b, s, 0, 100, 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 5, &b, &e), 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 6, &b, &e), 0);
    ck_assert_int_eq(engine_txn_commit(eng, TID, 6, &e), 0);
    ck_assert_uint_eq(bt_count_files(ddir), 2);
    ck_assert_int_eq(engine_txn_abort(eng, TID, 5, &e), 0);
    ck_assert_int_eq(engine_txn_abort(eng, TID, 6, &e), 0);
    ck_assert_int_eq(engine_txn_abort(eng, TID, 6, &e), 0); /* unknown: fine */
    ck_assert_uint_eq(bt_count_files(ddir), 0);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 6, 2, &e), FLOE_ENOTFOUND);
    /* the abort survives a restart: the meta no longer lists txn 6 */
    engine_close(eng);
    eng = bt_engine(dir);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 0);
    ck_assert_int_eq(ti.max_version, 1);
    column_batch_release(&b);
    free(ddir);
    teardown(eng, dir, s);
}
END_TEST

/* Txns left unpublished: aborted once idle past the timeout, by engine_txn_expire and by the scheduler. */
START_TEST(txn_timeout_expires)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    bt_load(eng, TID, 1, 2, s, 0, 100, 0);
    struct column_batch b;
    bt_batch(&b, s, 100, 200, 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 5, &b, &e), 0);   /* staged */
    ck_assert_int_eq(engine_txn_write(eng, TID, 6, &b, &e), 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 6, &b, &e), 0);   /* two segments */
    ck_assert_int_eq(engine_txn_commit(eng, TID, 6, &e), 0);     /* committed, in the meta */
    ck_assert_uint_eq(bt_count_files(ddir), 4);
    size_t n = 99;
    /* not idle long enough yet: nothing goes */
    ck_assert_int_eq(engine_txn_expire(eng, TID, -1, 60000, &n, &e), 0);
    ck_assert_uint_eq(n, 0);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 2);
    /* two minutes later both are past a one-minute timeout */
    ck_assert_int_eq(engine_txn_expire(eng, TID, fs_now_ms() + 120000, 60000, &n, &e), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 0);
    ck_assert_int_eq(ti.max_version, 2);
    ck_assert_uint_eq(bt_count_files(ddir), 1);                   /* only the published rowset */
    ck_assert_int_eq(engine_txn_publish(eng, TID, 6, 3, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(engine_txn_expire(eng, 4242, -1, 0, &n, &e), FLOE_ENOTFOUND);
    /* the expiry of the committed txn is in the meta: a restart does not bring it back */
    engine_close(eng);
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = dir;
    o.workers = 2;
    o.compaction_interval_ms = 20;
    o.txn_timeout_ms = 100;   /* the scheduler checks every 25 ms */
    ck_assert_msg(engine_open(&o, &eng, &e) == 0, "engine_open: %s", err_msg(&e));
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 0);
    struct bt_rows got = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    ck_assert_uint_eq(got.n, 100);
    bt_rows_free(&got);
    /* the scheduler aborts a txn nobody finishes */
    ck_assert_int_eq(engine_txn_write(eng, TID, 7, &b, &e), 0);
    ck_assert_int_eq(engine_txn_commit(eng, TID, 7, &e), 0);
    int64_t deadline = fs_now_ms() + 20000;
    do {
        ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
        if (ti.ntxns == 0)
            break;
        usleep(10000);
    } while (fs_now_ms() < deadline);
    ck_assert_msg(ti.ntxns == 0, "the scheduler did not expire txn 7 within 20 s");
    ck_assert_uint_eq(bt_count_files(ddir), 1);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 7, 3, &e), FLOE_ENOTFOUND);
    column_batch_release(&b);
    free(ddir);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(unique_merge)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_UNIQUE);
    struct err e = { 0 };
    bt_load(eng, TID, 1, 2, s, 0, 20000, 1);
    bt_load(eng, TID, 2, 3, s, 10000, 30000, 2);
    /* one txn with the same key twice: the last row written wins */
    struct column_batch b;
    bt_batch(&b, s, 5, 6, 3);
    bt_put_row(&b, 5, 4);
    ck_assert_int_eq(engine_txn_write(eng, TID, 3, &b, &e), 0);
    ck_assert_int_eq(engine_txn_commit(eng, TID, 3, &e), 0);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 4, &e), 0);
    column_batch_release(&b);
    struct bt_rows got = { 0 }, want = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    bt_expect(&want, s, 0, 5, 1);
    bt_expect(&want, s, 5, 6, 4);
    bt_expect(&want, s, 6, 10000, 1);
    bt_expect(&want, s, 10000, 30000, 2);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    /* a value predicate must not resurrect an older row of a key whose newest row fails it:
     * b is true for odd keys in generation 1 and for even keys in generation 2 */
    struct predicate p = { .col = 3, .op = PRED_EQ, .v = { .i = 1 } };
    struct scan_opts o = { .version = -1, .preds = &p, .npreds = 1, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    size_t expect = 0;
    for (int64_t k = 0; k < 30000; k++) {
        int gen = k == 5 ? 4 : k < 10000 ? 1 : 2;
        if (k % 13 != 1 && (k + gen) % 2 == 0)
            expect++;
    }
    ck_assert_uint_eq(got.n, expect);
    bt_rows_free(&got);
    /* scan at version 2: only generation 1 */
    bt_scan_all(eng, TID, 2, &got);
    ck_assert_uint_eq(got.n, 20000);
    bt_rows_free(&got);
    bt_rows_free(&want);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(predicates_and_pruning)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    bt_load(eng, TID, 1, 2, s, 0, 100000, 0);
    struct bt_rows got = { 0 };
    struct scan_stats st;
    /* k >= 90000 AND k < 95000: most blocks pruned by zone maps */
    struct predicate p[2] = { { .col = 0, .op = PRED_GE, .v = { .i = 90000 } },
                              { .col = 0, .op = PRED_LT, .v = { .i = 95000 } } };
    struct scan_opts o = { .version = -1, .preds = p, .npreds = 2, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, &st, &e), 0);
    ck_assert_uint_eq(got.n, 5000);
    ck_assert_uint_gt(st.blocks_pruned, st.blocks_total * 8 / 10);
    ck_assert_uint_lt(st.rows_read, 20000);
    bt_rows_free(&got);
    /* IS NULL on i32: every 7th row with i%7==3 */
    struct predicate pn = { .col = 1, .op = PRED_IS_NULL };
    o.preds = &pn;
    o.npreds = 1;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    ck_assert_uint_eq(got.n, 100000 / 7 + (100000 % 7 > 3));
    bt_rows_free(&got);
    pn.op = PRED_IS_NOT_NULL;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    ck_assert_uint_eq(got.n, 100000 - (100000 / 7 + (100000 % 7 > 3)));
    bt_rows_free(&got);
    /* string equality and IN (!= and > on every column type: predicates_ne_gt) */
    struct scan_value in[3] = { { .s = "s7-g0-tail", .slen = 10 }, { .s = "nope", .slen = 4 },
                                { .s = "s8-g0-tail", .slen = 10 } };
    struct predicate ps = { .col = 4, .op = PRED_IN, .in = in, .nin = 3 };
    o.preds = &ps;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    size_t expect = 0;
    for (int64_t k = 0; k < 100000; k++)
        if ((k % 1000 == 7 || k % 1000 == 8) && k % 5 != 2 && k % 23 != 0 && k % 17 != 0)
            expect++;
    ck_assert_uint_eq(got.n, expect);
    bt_rows_free(&got);
    struct predicate pe = { .col = 4, .op = PRED_EQ, .v = { .s = "s7-g0-tail", .slen = 10 } };
    o.preds = &pe;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    size_t e7 = 0;
    for (int64_t k = 0; k < 100000; k++)
        if (k % 1000 == 7 && k % 5 != 2 && k % 23 != 0 && k % 17 != 0)
            e7++;
    ck_assert_uint_eq(got.n, e7);
    bt_rows_free(&got);
    /* bool = 1 and timestamp <= */
    struct predicate pb[2] = { { .col = 3, .op = PRED_EQ, .v = { .i = 1 } },
                               { .col = 5, .op = PRED_LE, .v = { .i = 1700000000000000LL + 999 * 1000 } } };
    o.preds = pb;
    o.npreds = 2;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    size_t eb = 0;
    for (int64_t k = 0; k < 1000; k++)
        if (k % 13 != 1 && k % 2 == 0 && k % 9 != 4)
            eb++;
    ck_assert_uint_eq(got.n, eb);
    bt_rows_free(&got);
    /* projection + limit + small batches */
    int proj[2] = { 4, 0 };
    struct scan_opts ol = { .version = -1, .proj = proj, .nproj = 2, .limit = 12345, .batch_rows = 1000 };
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    struct scan *sc;
    ck_assert_int_eq(scan_open(v, &ol, &sc, &e), 0);
    version_unref(v);
    struct column_batch b;
    scan_init_batch(sc, &b);
    ck_assert_int_eq(b.ncols, 2);
    ck_assert_int_eq(b.cols[0].type, COL_STRING);
    bool eof = false;
    size_t total = 0, batches = 0;
    int64_t next_k = 0;
    while (!eof) {
        ck_assert_int_eq(scan_next(sc, &b, &eof, &e), 0);
        for (size_t r = 0; r < b.nrows; r++)
            ck_assert_int_eq(column_vec_i64(&b.cols[1], r), next_k++);
        total += b.nrows;
        batches++;
    }
    ck_assert_uint_eq(total, 12345);
    ck_assert_uint_ge(batches, 2);
    column_batch_release(&b);
    scan_free(sc);
    /* bad column in a predicate */
    struct predicate bad = { .col = 17, .op = PRED_EQ };
    o.preds = &bad;
    o.npreds = 1;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), FLOE_EBADINPUT);
    bt_rows_free(&got);
    teardown(eng, dir, s);
}
END_TEST

/* SQL truth of `column op literal` for row r: a NULL compared to anything is not true. Written
 * independently of be/scan.c, as the reference the scans are checked against. */
static bool ref_cmp_true(const struct column_vec *c, size_t r, const struct predicate *p)
{
    if (column_vec_is_null(c, r))
        return false;
    int cmp;
    if (c->type == COL_STRING) {
        size_t n;
        const char *s = column_vec_str(c, r, &n);
        size_t m = n < p->v.slen ? n : p->v.slen;
        cmp = m ? memcmp(s, p->v.s, m) : 0;
        if (cmp == 0)
            cmp = (n > p->v.slen) - (n < p->v.slen);
    } else if (c->type == COL_DOUBLE) {
        double d = column_vec_f64(c, r);
        cmp = (d > p->v.d) - (d < p->v.d);
    } else {
        int64_t x = column_vec_int(c, r);
        cmp = (x > p->v.i) - (x < p->v.i);
    }
    switch (p->op) {
    case PRED_NE: return cmp != 0;
    case PRED_GT: return cmp > 0;
    default: ck_abort_msg("reference: operator %d not modelled", (int)p->op); return false;
    }
}

/* Field `col` of a row text is NULL (bt_row_text: fields joined by '|'; the test data has no '|'). */
static bool text_field_null(const char *row, int col)
{
    for (int c = 0; c < col; c++) {
        row = strchr(row, '|');
        if (!row)
            ck_abort_msg("row text has no column %d", col);
        row++;
    }
    return strncmp(row, "NULL", 4) == 0 && (row[4] == '|' || row[4] == 0);
}

/*
 * Scans with the predicates and checks the result against the reference over `data` (row r holds key r):
 * every returned row satisfies each predicate by the reference (so none has NULL in a predicate column),
 * has the value the data holds for its key, comes once, and every data row the reference accepts is
 * returned. Keys and values are compared directly (no row texts, no sorting: fast under ASan). Returns the
 * row count; the scan stats go to st. If `seen` is given (N bytes), it receives the returned keys.
 */
static size_t check_preds(struct engine *eng, int64_t tid, const struct column_batch *data, const struct predicate *p,
                          int np, struct scan_stats *st, uint8_t *seen_out)
{
    size_t n = data->nrows;
    uint8_t *seen = xcalloc(n + 1, 1);
    struct scan_opts o = { .version = -1, .preds = p, .npreds = np, .limit = -1 };
    struct err e = { 0 };
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, tid, &v, &e), 0);
    struct scan *sc;
    ck_assert_msg(scan_open(v, &o, &sc, &e) == 0, "scan: %s", err_msg(&e));
    version_unref(v);
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    size_t got = 0;
    while (!eof) {
        ck_assert_msg(scan_next(sc, &b, &eof, &e) == 0, "scan: %s", err_msg(&e));
        for (size_t r = 0; r < b.nrows; r++) {
            int64_t k = column_vec_i64(&b.cols[0], r);
            if (k < 0 || (size_t)k >= n)
                ck_abort_msg("key %lld returned, not in the data", (long long)k);
            if (seen[k])
                ck_abort_msg("key %lld returned twice", (long long)k);
            seen[k] = 1;
            got++;
            for (int i = 0; i < np; i++) {
                const struct column_vec *c = &b.cols[p[i].col], *dc = &data->cols[p[i].col];
                if (column_vec_is_null(c, r))
                    ck_abort_msg("key %lld: NULL in column %d returned for op %d", (long long)k, p[i].col,
                                 (int)p[i].op);
                if (!ref_cmp_true(c, r, &p[i]))
                    ck_abort_msg("key %lld: column %d fails op %d", (long long)k, p[i].col, (int)p[i].op);
                bool same;
                if (column_vec_is_null(dc, (size_t)k)) {
                    same = false;
                } else if (c->type == COL_STRING) {
                    size_t l1, l2;
                    const char *s1 = column_vec_str(c, r, &l1), *s2 = column_vec_str(dc, (size_t)k, &l2);
                    same = l1 == l2 && (l1 == 0 || memcmp(s1, s2, l1) == 0);
                } else if (c->type == COL_DOUBLE) {
                    same = column_vec_f64(c, r) == column_vec_f64(dc, (size_t)k);
                } else {
                    same = column_vec_int(c, r) == column_vec_int(dc, (size_t)k);
                }
                if (!same)
                    ck_abort_msg("key %lld: column %d differs from the data", (long long)k, p[i].col);
            }
        }
    }
    if (st)
        scan_get_stats(sc, st);
    column_batch_release(&b);
    scan_free(sc);
    size_t want = 0;
    for (size_t r = 0; r < n; r++) {
        if (column_vec_i64(&data->cols[0], r) != (int64_t)r)
            ck_abort_msg("data row %zu does not hold key %zu", r, r);
        bool ok = true;
        for (int i = 0; i < np && ok; i++)
            ok = ref_cmp_true(&data->cols[p[i].col], r, &p[i]);
        if (seen[r] != ok)
            ck_abort_msg("predicate on column %d op %d: key %zu %s", p[0].col, (int)p[0].op, r,
                         ok ? "missing" : "returned but the reference rejects it");
        want += ok;
    }
    ck_assert_uint_eq(got, want);
    if (seen_out)
        memcpy(seen_out, seen, n);
    free(seen);
    return got;
}

static size_t count_nulls(const struct column_batch *b, int col)
{
    size_t n = 0;
    for (size_t r = 0; r < b->nrows; r++)
        n += column_vec_is_null(&b->cols[col], r);
    return n;
}

/* k int64, i32 (NULL when null_i32), every other column NULL */
static void put_k_i32(struct column_batch *b, int64_t k, int32_t i32, bool null_i32)
{
    column_batch_put_i64(b, 0, k);
    if (null_i32)
        column_batch_put_null(b, 1);
    else
        column_batch_put_i32(b, 1, i32);
    for (int c = 2; c < 6; c++)
        column_batch_put_null(b, c);
    column_batch_end_row(b);
}

static void load_batch(struct engine *eng, int64_t tid, int64_t txn, int64_t version, const struct column_batch *b)
{
    struct err e = { 0 };
    ck_assert_msg(engine_txn_write(eng, tid, txn, b, &e) == 0, "write: %s", err_msg(&e));
    ck_assert_msg(engine_txn_commit(eng, tid, txn, &e) == 0, "commit: %s", err_msg(&e));
    ck_assert_msg(engine_txn_publish(eng, tid, txn, version, &e) == 0, "publish: %s", err_msg(&e));
}

/* != and > on the key and on nullable columns: exact rows, NULLs never match, zone-map pruning */
START_TEST(predicates_ne_gt)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    enum { N = 100000 };
    bt_load(eng, TID, 1, 2, s, 0, N / 2, 0);
    bt_load(eng, TID, 2, 3, s, N / 2, N, 0);
    struct column_batch all;
    bt_batch(&all, s, 0, N, 0);
    struct scan_stats st;

    /* k != 500: every row but one; key 500 is absent; != on a key cannot prune a block */
    struct predicate kne = { .col = 0, .op = PRED_NE, .v = { .i = 500 } };
    uint8_t *seen = xcalloc(N, 1);
    ck_assert_uint_eq(check_preds(eng, TID, &all, &kne, 1, &st, seen), N - 1);
    ck_assert_msg(!seen[500] && seen[499] && seen[501], "k != 500: keys 499/500/501 returned: %d %d %d", seen[499],
                  seen[500], seen[501]);
    free(seen);
    ck_assert_uint_eq(st.blocks_pruned, 0);
    ck_assert_uint_eq(st.rows_read, N);
    /* and the full rows of k != 500 are exactly the data's rows but key 500's */
    struct bt_rows got = { 0 }, want = { 0 };
    struct scan_opts o = { .version = -1, .preds = &kne, .npreds = 1, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &got, NULL, &e), 0);
    bt_expect(&want, s, 0, 500, 0);
    bt_expect(&want, s, 501, N, 0);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
    /* a key that does not exist: nothing excluded */
    kne.v.i = N + 7;
    ck_assert_uint_eq(check_preds(eng, TID, &all, &kne, 1, &st, NULL), N);

    /* k > 95000: 95001..99999, most blocks pruned by zone maps, the first rowset entirely */
    struct predicate kgt = { .col = 0, .op = PRED_GT, .v = { .i = 95000 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &kgt, 1, &st, NULL), N - 95000 - 1);
    ck_assert_uint_eq(st.segments, 2);
    ck_assert_uint_gt(st.blocks_pruned, st.blocks_total * 8 / 10);
    ck_assert_uint_lt(st.rows_read, 20000);
    /* boundary: k > max key reads no block at all */
    kgt.v.i = N - 1;
    ck_assert_uint_eq(check_preds(eng, TID, &all, &kgt, 1, &st, NULL), 0);
    ck_assert_uint_gt(st.blocks_total, 0);
    ck_assert_uint_eq(st.blocks_pruned, st.blocks_total);
    ck_assert_uint_eq(st.rows_read, 0);
    kgt.v.i = N - 2;
    ck_assert_uint_eq(check_preds(eng, TID, &all, &kgt, 1, &st, NULL), 1);

    /* nullable columns: NULLs are stored as zero / "" / false, so each literal below is chosen so that a
     * NULL row would pass the comparison if the null mask were ignored */
    size_t n_i32 = count_nulls(&all, 1), n_d = count_nulls(&all, 2), n_b = count_nulls(&all, 3);
    size_t n_s = count_nulls(&all, 4), n_ts = count_nulls(&all, 5);
    ck_assert_uint_gt(n_i32, 0);
    /* i32 != 26000 (key 1000's value, not null) */
    struct predicate p = { .col = 1, .op = PRED_NE, .v = { .i = 1000 * 31 - 5000 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_i32 - 1);
    /* i32 > -10000: every non-null value */
    p = (struct predicate){ .col = 1, .op = PRED_GT, .v = { .i = -10000 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_i32);
    /* d != 1.0 (key 2) and d > -1.0 */
    p = (struct predicate){ .col = 2, .op = PRED_NE, .v = { .d = 1.0 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_d - 1);
    p = (struct predicate){ .col = 2, .op = PRED_GT, .v = { .d = -1.0 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_d);
    /* d > 49000.0: keys above 98000 that are not null, with pruning on a nullable column */
    p = (struct predicate){ .col = 2, .op = PRED_GT, .v = { .d = 49000.0 } };
    size_t dn = 0;
    for (int64_t k = 98001; k < N; k++)
        dn += k % 11 != 5;
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, &st, NULL), dn);
    ck_assert_uint_gt(st.blocks_pruned, st.blocks_total * 8 / 10);
    /* b != true and b > false */
    size_t bfalse = 0;
    for (int64_t k = 0; k < N; k++)
        bfalse += k % 13 != 1 && k % 2 != 0;
    p = (struct predicate){ .col = 3, .op = PRED_NE, .v = { .i = 1 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), bfalse);
    p = (struct predicate){ .col = 3, .op = PRED_GT, .v = { .i = 0 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_b - bfalse);
    /* s != 's7-g0-tail': non-null rows, the empty strings included */
    p = (struct predicate){ .col = 4, .op = PRED_NE, .v = { .s = "s7-g0-tail", .slen = 10 } };
    size_t s7 = 0, sempty = 0;
    for (int64_t k = 0; k < N; k++) {
        s7 += k % 1000 == 7 && k % 5 != 2 && k % 23 != 0 && k % 17 != 0;
        sempty += k % 5 != 2 && k % 23 == 0;
    }
    ck_assert_uint_gt(sempty, 0);
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_s - s7);
    p = (struct predicate){ .col = 4, .op = PRED_GT, .v = { .s = "", .slen = 0 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_s - sempty);
    /* ts > -1, ts > the value of key 97000 (pruned), ANDed with i32 != ... */
    p = (struct predicate){ .col = 5, .op = PRED_GT, .v = { .i = -1 } };
    ck_assert_uint_eq(check_preds(eng, TID, &all, &p, 1, NULL, NULL), N - n_ts);
    struct predicate p2[2] = { { .col = 5, .op = PRED_GT, .v = { .i = 1700000000000000LL + 97000 * 1000LL } },
                               { .col = 1, .op = PRED_NE, .v = { .i = 98000 * 31 - 5000 } } };
    size_t tn = 0;
    for (int64_t k = 97001; k < N; k++)
        tn += k % 9 != 4 && k % 7 != 3 && k != 98000;
    ck_assert_uint_eq(check_preds(eng, TID, &all, p2, 2, &st, NULL), tn);
    ck_assert_uint_gt(st.blocks_pruned, st.blocks_total * 8 / 10);
    column_batch_release(&all);

    /* zone maps: a block whose values all equal the literal, or that is all NULL, is pruned by != and >.
     * Tablet TID+1: [0,40000) i32 = 7, [40000,60000) i32 NULL, [60000,100000) i32 = k or NULL (k % 3 == 0),
     * one load (one segment) each, so block boundaries do not matter. */
    ck_assert_int_eq(engine_create_tablet(eng, TID + 1, 8, s, &e), 0);
    struct column_batch parts[3], z;
    column_batch_init_schema(&z, s, NULL, 0);
    for (int i = 0; i < 3; i++)
        column_batch_init_schema(&parts[i], s, NULL, 0);
    for (int64_t k = 0; k < N; k++) {
        int i = k < 40000 ? 0 : k < 60000 ? 1 : 2;
        bool null = i == 1 || (i == 2 && k % 3 == 0);
        put_k_i32(&parts[i], k, i == 0 ? 7 : (int32_t)k, null);
        put_k_i32(&z, k, i == 0 ? 7 : (int32_t)k, null);
    }
    for (int i = 0; i < 3; i++) {
        load_batch(eng, TID + 1, 10 + i, 2 + i, &parts[i]);
        column_batch_release(&parts[i]);
    }
    size_t tail = 0;
    for (int64_t k = 60000; k < N; k++)
        tail += k % 3 != 0;
    p = (struct predicate){ .col = 1, .op = PRED_NE, .v = { .i = 7 } };
    ck_assert_uint_eq(check_preds(eng, TID + 1, &z, &p, 1, &st, NULL), tail);
    ck_assert_uint_eq(st.rows_read, 40000); /* only the third load's blocks */
    ck_assert_uint_gt(st.blocks_pruned, 0);
    p = (struct predicate){ .col = 1, .op = PRED_GT, .v = { .i = 5 } };
    ck_assert_uint_eq(check_preds(eng, TID + 1, &z, &p, 1, &st, NULL), 40000 + tail);
    ck_assert_uint_eq(st.rows_read, 80000); /* the all-NULL load is pruned */
    p = (struct predicate){ .col = 1, .op = PRED_GT, .v = { .i = 7 } };
    ck_assert_uint_eq(check_preds(eng, TID + 1, &z, &p, 1, &st, NULL), tail);
    ck_assert_uint_eq(st.rows_read, 40000);
    column_batch_release(&z);

    /* unique model: a key whose newest row has i32 NULL fails != and >, and its older non-null row must
     * not come back. Tablet TID+2: keys [0,1000) i32 = k, then keys [0,500) i32 NULL. */
    struct schema *us = bt_schema(KEY_UNIQUE);
    ck_assert_int_eq(engine_create_tablet(eng, TID + 2, 9, us, &e), 0);
    struct column_batch u1, u2;
    column_batch_init_schema(&u1, us, NULL, 0);
    column_batch_init_schema(&u2, us, NULL, 0);
    for (int64_t k = 0; k < 1000; k++)
        put_k_i32(&u1, k, (int32_t)k, false);
    for (int64_t k = 0; k < 500; k++)
        put_k_i32(&u2, k, 0, true);
    load_batch(eng, TID + 2, 20, 2, &u1);
    load_batch(eng, TID + 2, 21, 3, &u2);
    struct predicate up[2] = { { .col = 1, .op = PRED_NE, .v = { .i = -1 } },
                               { .col = 1, .op = PRED_GT, .v = { .i = -1 } } };
    for (int i = 0; i < 2; i++) {
        struct scan_opts uo = { .version = -1, .preds = &up[i], .npreds = 1, .limit = -1 };
        ck_assert_int_eq(bt_scan_opts(eng, TID + 2, &uo, &got, NULL, &e), 0);
        ck_assert_uint_eq(got.n, 500);
        for (size_t r = 0; r < got.n; r++)
            if (text_field_null(got.v[r], 1) || strtoll(got.v[r], NULL, 10) < 500)
                ck_abort_msg("unique key with a NULL newest row returned: %s", got.v[r]);
        bt_rows_free(&got);
    }
    /* at version 2 (before the NULLs) every key matches */
    struct scan_opts uo2 = { .version = 2, .preds = &up[0], .npreds = 1, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(eng, TID + 2, &uo2, &got, NULL, &e), 0);
    ck_assert_uint_eq(got.n, 1000);
    bt_rows_free(&got);
    column_batch_release(&u1);
    column_batch_release(&u2);
    schema_unref(us);
    teardown(eng, dir, s);
}
END_TEST

static void compaction_case(enum key_model m)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup_keep(&dir, &s, m, 0); /* stale_rowset_keep 0: the inputs go at once */
    struct err e = { 0 };
    for (int i = 0; i < 10; i++)
        bt_load(eng, TID, 100 + i, 2 + i, s, i * 700, i * 700 + 1500, i);
    struct bt_rows before = { 0 }, after = { 0 }, held = { 0 };
    bt_scan_all(eng, TID, -1, &before);
    struct version *old;
    ck_assert_int_eq(engine_snapshot(eng, TID, &old, &e), 0);
    bool done = false;
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(done);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_lt(ti.nrowsets, 11);
    bt_scan_all(eng, TID, -1, &after);
    bt_rows_assert_equal(&before, &after);
    bt_rows_free(&after);
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_BASE, &done, &e), 0);
    ck_assert(done);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nrowsets, 1);
    bt_scan_all(eng, TID, -1, &after);
    bt_rows_assert_equal(&before, &after);
    /* the snapshot taken before still reads its (now retired) files */
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    ck_assert_uint_gt(bt_count_files(ddir), 1);
    struct scan *sc;
    struct scan_opts o = { .version = -1, .limit = -1 };
    ck_assert_int_eq(scan_open(old, &o, &sc, &e), 0);
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    while (!eof) {
        ck_assert_int_eq(scan_next(sc, &b, &eof, &e), 0);
        bt_rows_add_batch(&held, &b);
    }
    column_batch_release(&b);
    scan_free(sc);
    bt_rows_sort(&held);
    bt_rows_assert_equal(&before, &held);
    version_unref(old);
    /* released: only the merged rowset's files remain */
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_uint_eq(bt_count_files(ddir), bt_version_files(v));
    version_unref(v);
    /* with no stale rowsets kept, versions inside the merged range can no longer be read */
    struct bt_rows x = { 0 };
    o.version = 5;
    ck_assert_int_eq(bt_scan_opts(eng, TID, &o, &x, NULL, &e), FLOE_EVERSION);
    bt_rows_free(&x);
    /* and after a restart the same rows */
    engine_close(eng);
    eng = bt_engine(dir);
    bt_rows_free(&after);
    bt_scan_all(eng, TID, -1, &after);
    bt_rows_assert_equal(&before, &after);
    bt_rows_free(&before);
    bt_rows_free(&after);
    bt_rows_free(&held);
    free(ddir);
    teardown(eng, dir, s);
}

START_TEST(compaction_duplicate) { compaction_case(KEY_DUPLICATE); }
END_TEST
START_TEST(compaction_unique) { compaction_case(KEY_UNIQUE); }
END_TEST

static bool deny_all(void *ctx, const struct version *v, const struct rowset *rs)
{
    (void)v;
    (void)rs;
    (*(int *)ctx)++;
    return false;
}

START_TEST(compaction_filter_and_auto)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    for (int i = 0; i < 8; i++)
        bt_load(eng, TID, 100 + i, 2 + i, s, i * 10, i * 10 + 10, 0);
    int calls = 0;
    engine_set_compaction_filter(eng, deny_all, &calls);
    bool done = true;
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(!done);
    ck_assert_int_gt(calls, 0);
    ck_assert_int_eq(engine_compact_range(eng, TID, 1, 3, &e), FLOE_EBUSY);
    engine_set_compaction_filter(eng, NULL, NULL);
    engine_close(eng);
    /* the background scheduler compacts on its own */
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = dir;
    o.auto_compaction = true;
    o.compaction_interval_ms = 20;
    ck_assert_int_eq(engine_open(&o, &eng, &e), 0);
    int64_t deadline = mono_now_ms() + 20000;
    struct tablet_info ti;
    do {
        ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
        if (ti.nrowsets <= 2)
            break;
        usleep(10000);
    } while (mono_now_ms() < deadline);
    ck_assert_uint_le(ti.nrowsets, 2);
    ck_assert_uint_eq(ti.num_rows, 80);
    teardown(eng, dir, s);
}
END_TEST

/* replaces the tablet's rowsets by n empty ones ([0,1], then one per version) with the given newest write times */
struct fake_arg {
    const int64_t *write_ms;
    size_t n;
};

static int install_fake(struct tablet *t, void *arg, struct err *e)
{
    struct fake_arg *a = arg;
    struct version *nv = version_copy(tablet_current(t));
    nv->max_version = (int64_t)a->n;
    struct rowset **rs = xcalloc(a->n, sizeof(*rs));
    for (size_t i = 0; i < a->n; i++) {
        char id[UUID_STR_LEN];
        ck_assert_int_eq(uuid_new_str(id), 0);
        rs[i] = rowset_new(id, tablet_id(t), i == 0 ? 0 : (int64_t)i + 1, (int64_t)i + 1, NULL, 0,
                           a->write_ms[i], NULL, tablet_data_dir(t));
    }
    version_replace_rowsets(nv, 0, nv->nrowsets, rs, a->n);
    for (size_t i = 0; i < a->n; i++)
        rowset_unref(rs[i]);
    free(rs);
    return tablet_install(t, nv, e);
}

static void assert_ranges(struct engine *eng, const char *want)
{
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    char got[512] = "";
    for (size_t i = 0; i < v->nrowsets; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s[%lld,%lld]", i ? " " : "",
                 (long long)v->rowsets[i]->start, (long long)v->rowsets[i]->end);
    version_unref(v);
    ck_assert_str_eq(got, want);
}

/* with a cooldown ttl, compaction merges only rowsets whose writes span at most the ttl */
START_TEST(compaction_cooldown_span)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    struct engine *eng = bt_engine(dir);
    struct err e = { 0 };
    struct cooldown_state cd;
    cooldown_state_init(&cd);
    cd.storage_policy = xstrdup("p10s");
    cd.resource_id = xstrdup("r");
    json_object_set_new(cd.extra, "cooldown_ttl_s", json_integer(10));
    ck_assert_int_eq(engine_create_tablet_ex(eng, TID, 7, s, 1, &cd, &e), 0);
    ck_assert_int_eq(engine_create_tablet(eng, TID + 1, 7, s, &e), 0); /* no policy: no limit */
    /* [0,1] and versions 2..11, written at these times (ms) */
    int64_t ms[] = { 100, 1000, 2000, 3000, 12000, 13000, 14000, 15000, 16000, 25000, 26000 };
    struct fake_arg fa = { ms, 11 };
    ck_assert_int_eq(engine_tablet_exec(eng, TID, install_fake, &fa, &e), 0);
    ck_assert_int_eq(engine_tablet_exec(eng, TID + 1, install_fake, &fa, &e), 0);
    assert_ranges(eng, "[0,1] [2,2] [3,3] [4,4] [5,5] [6,6] [7,7] [8,8] [9,9] [10,10] [11,11]");
    bool done = false;
    /* cumulative: no five rowsets after the base fit in 10 s before version 5; 5..9 do */
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(done);
    assert_ranges(eng, "[0,1] [2,2] [3,3] [4,4] [5,9] [10,10] [11,11]");
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_int_eq(v->rowsets[4]->oldest_write_ms, 12000);
    ck_assert_int_eq(v->rowsets[4]->newest_write_ms, 16000);
    version_unref(v);
    /* the merged rowset does not grow with later writes: [5,9] + [10] would span 13 s */
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(!done);
    /* base: only what fits in the span with the base */
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_BASE, &done, &e), 0);
    ck_assert(done);
    assert_ranges(eng, "[0,4] [5,9] [10,10] [11,11]");
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_BASE, &done, &e), 0);
    ck_assert(!done);
    /* the write times survive a restart (tablet meta) */
    engine_close(eng);
    eng = bt_engine(dir);
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_int_eq(v->rowsets[0]->oldest_write_ms, 100);
    ck_assert_int_eq(v->rowsets[0]->newest_write_ms, 3000);
    ck_assert_int_eq(v->rowsets[1]->oldest_write_ms, 12000);
    version_unref(v);
    ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_BASE, &done, &e), 0);
    ck_assert(!done);
    /* without a policy everything after the base merges at once */
    ck_assert_int_eq(engine_compact(eng, TID + 1, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(done);
    ck_assert_int_eq(engine_compact(eng, TID + 1, COMPACTION_BASE, &done, &e), 0);
    ck_assert(done);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID + 1, &ti, &e), 0);
    ck_assert_uint_eq(ti.nrowsets, 1);
    cooldown_state_release(&cd);
    engine_close(eng);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(dir);
}
END_TEST

START_TEST(restart_sweeps_and_keeps_committed)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    bt_load(eng, TID, 1, 2, s, 0, 500, 0);
    struct column_batch b;
    bt_batch(&b, s, 500, 600, 0);
    ck_assert_int_eq(engine_txn_write(eng, TID, 2, &b, &e), 0); /* staged only */
    ck_assert_int_eq(engine_txn_write(eng, TID, 3, &b, &e), 0);
    ck_assert_int_eq(engine_txn_commit(eng, TID, 3, &e), 0); /* committed */
    column_batch_release(&b);
    engine_close(eng);
    /* litter: a stray file, a dir of an unknown tablet, a temp meta */
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    char *stray = xasprintf("%s/stray.tmp", ddir);
    ck_assert_int_eq(fs_write_atomic(stray, "x", 1, NULL), 0);
    char *odir = xasprintf("%s/data/777", dir);
    ck_assert_int_eq(fs_mkdir_p(odir, 0755, NULL), 0);
    char *tmpm = xasprintf("%s/meta/%d.json.tmp.1.1", dir, TID);
    ck_assert_int_eq(fs_write_atomic(tmpm, "{", 1, NULL), 0);
    ck_assert_uint_eq(bt_count_files(ddir), 4);
    eng = bt_engine(dir);
    ck_assert_uint_eq(bt_count_files(ddir), 2); /* published + committed */
    ck_assert_int_ne(access(odir, F_OK), 0);
    ck_assert_int_ne(access(tmpm, F_OK), 0);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 2, 3, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 3, 3, &e), 0);
    struct bt_rows got = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    ck_assert_uint_eq(got.n, 600);
    bt_rows_free(&got);
    free(ddir);
    free(stray);
    free(odir);
    free(tmpm);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(bad_meta_marks_tablet_bad)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    ck_assert_int_eq(engine_create_tablet(eng, 43, 8, s, &e), 0);
    bt_load(eng, 43, 1, 2, s, 0, 100, 0);
    bt_load(eng, TID, 1, 2, s, 0, 100, 0);
    engine_close(eng);
    char *mp = xasprintf("%s/meta/%d.json", dir, TID);
    ck_assert_int_eq(fs_write_atomic(mp, "{\"format\":1,", 12, NULL), 0);
    eng = bt_engine(dir);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert(ti.bad);
    ck_assert_ptr_nonnull(strstr(ti.reason, mp));
    ck_assert_int_eq(engine_tablet_info(eng, 43, &ti, &e), 0);
    ck_assert(!ti.bad);
    ck_assert_uint_eq(ti.num_rows, 100);
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), FLOE_EBADSTATE);
    /* the bad tablet's files are kept (someone may repair the meta) */
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    ck_assert_uint_eq(bt_count_files(ddir), 1);
    /* a meta naming a different tablet, or a version hole, is bad too */
    engine_close(eng);
    struct buf good = BUF_INIT;
    char *mp43 = xasprintf("%s/meta/43.json", dir);
    ck_assert_int_eq(fs_read_file(mp43, &good, 1 << 20, NULL), 0);
    ck_assert_int_eq(fs_write_atomic(mp, good.data, good.len, NULL), 0);
    eng = bt_engine(dir);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert(ti.bad);
    ck_assert_ptr_nonnull(strstr(ti.reason, "holds tablet 43"));
    /* dropping the bad tablet removes it */
    ck_assert_int_eq(engine_drop_tablet(eng, TID, &e), 0);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), FLOE_ENOTFOUND);
    ck_assert_int_ne(access(ddir, F_OK), 0);
    buf_release(&good);
    free(mp);
    free(mp43);
    free(ddir);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(drop_waits_for_snapshots)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    bt_load(eng, TID, 1, 2, s, 0, 1000, 0);
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_int_eq(engine_drop_tablet(eng, TID, &e), 0);
    ck_assert_int_eq(engine_drop_tablet(eng, TID, &e), FLOE_ENOTFOUND);
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    ck_assert_uint_eq(bt_count_files(ddir), 1);
    struct scan *sc;
    struct scan_opts o = { .version = -1, .limit = -1 };
    ck_assert_int_eq(scan_open(v, &o, &sc, &e), 0);
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    size_t n = 0;
    while (!eof) {
        ck_assert_int_eq(scan_next(sc, &b, &eof, &e), 0);
        n += b.nrows;
    }
    ck_assert_uint_eq(n, 1000);
    column_batch_release(&b);
    scan_free(sc);
    version_unref(v);
    ck_assert_uint_eq(bt_count_files(ddir), 0);
    engine_close(eng);
    eng = bt_engine(dir);
    ck_assert_int_ne(access(ddir, F_OK), 0);
    free(ddir);
    teardown(eng, dir, s);
}
END_TEST

START_TEST(meta_save_fault_loop)
{
    if (!fault_compiled_in())
        return;
    /* fail the Nth meta save of a commit+publish until it succeeds; state stays valid */
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct err e = { 0 };
    struct column_batch b;
    bt_batch(&b, s, 0, 100, 0);
    const char *points[] = { "meta.save", "fs.atomic.write", "fs.atomic.fsync", "fs.atomic.rename", "fs.atomic.dirsync" };
    int64_t txn = 1, version = 2;
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
        for (int nth = 1;; nth++) {
            char spec[64];
            snprintf(spec, sizeof(spec), "%s=nth:%d", points[p], nth);
            fault_clear();
            ck_assert_int_eq(fault_set(spec, &e), 0);
            int r = engine_txn_write(eng, TID, txn, &b, &e);
            if (r == 0)
                r = engine_txn_commit(eng, TID, txn, &e);
            if (r == 0)
                r = engine_txn_publish(eng, TID, txn, version, &e);
            fault_clear();
            struct tablet_info ti;
            ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
            if (r == 0) {
                ck_assert_int_eq(ti.max_version, version);
                version++;
                txn++;
                break;
            }
            ck_assert_int_eq(ti.max_version, version - 1);
            ck_assert_int_eq(engine_txn_abort(eng, TID, txn, &e), 0);
            txn++;
        }
    }
    struct bt_rows got = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    ck_assert_uint_eq(got.n, 100 * (size_t)(version - 2));
    bt_rows_free(&got);
    engine_close(eng);
    eng = bt_engine(dir);
    bt_scan_all(eng, TID, -1, &got);
    ck_assert_uint_eq(got.n, 100 * (size_t)(version - 2));
    bt_rows_free(&got);
    column_batch_release(&b);
    teardown(eng, dir, s);
}
END_TEST


struct race {
    struct engine *eng;
    struct schema *s;
    int loads;
    int stop;
    int bad;
};

static void *race_loader(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < r->loads; i++)
        bt_load(r->eng, TID, 1000 + i, 2 + i, r->s, i * 100, i * 100 + 100, 0);
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *race_compactor(void *arg)
{
    struct race *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        struct err e = { 0 };
        bool done;
        int rc = engine_compact(r->eng, TID, COMPACTION_CUMULATIVE, &done, &e);
        if (rc < 0 && rc != FLOE_EBUSY)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
        rc = engine_compact(r->eng, TID, COMPACTION_BASE, &done, &e);
        if (rc < 0 && rc != FLOE_EBUSY)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* loads, compactions and scans at once: every scan sees exactly its snapshot's rows */
START_TEST(concurrent_load_compact_scan)
{
    char *dir;
    struct schema *s;
    struct engine *eng = setup(&dir, &s, KEY_DUPLICATE);
    struct race r = { .eng = eng, .s = s, .loads = 60 };
    pthread_t a, b;
    pthread_create(&a, NULL, race_loader, &r);
    pthread_create(&b, NULL, race_compactor, &r);
    size_t scans = 0;
    while (!__atomic_load_n(&r.stop, __ATOMIC_ACQUIRE) || scans < 5) {
        struct err e = { 0 };
        struct version *v;
        ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
        int64_t maxv = v->max_version;
        struct scan *sc;
        struct scan_opts o = { .version = -1, .limit = -1 };
        ck_assert_int_eq(scan_open(v, &o, &sc, &e), 0);
        version_unref(v);
        struct column_batch b2;
        scan_init_batch(sc, &b2);
        bool eof = false;
        size_t n = 0;
        while (!eof) {
            ck_assert_msg(scan_next(sc, &b2, &eof, &e) == 0, "%s", err_msg(&e));
            n += b2.nrows;
        }
        ck_assert_uint_eq(n, (size_t)(maxv - 1) * 100);
        column_batch_release(&b2);
        scan_free(sc);
        /* an older version, usually inside a range compacted meanwhile: its stale rowsets serve it */
        if (maxv > 2) {
            int64_t at = 1 + (int64_t)(scans % (size_t)(maxv - 1));
            struct bt_rows old = { 0 };
            struct scan_opts oo = { .version = at, .limit = -1 };
            ck_assert_msg(bt_scan_opts(eng, TID, &oo, &old, NULL, &e) == 0, "version %lld of %lld: %s",
                          (long long)at, (long long)maxv, err_msg(&e));
            ck_assert_uint_eq(old.n, (size_t)(at - 1) * 100);
            bt_rows_free(&old);
        }
        scans++;
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ck_assert_int_eq(r.bad, 0);
    struct bt_rows got = { 0 }, want = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    bt_expect(&want, s, 0, 6000, 0);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
    /* nothing unreferenced is left once the snapshots are gone: the version's and the stale rowsets' files */
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_uint_gt(v->nstale, 0);
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    ck_assert_uint_eq(bt_count_files(ddir), bt_version_files(v) + stale_files(v));
    version_unref(v);
    /* once expired, only the version's */
    ck_assert_int_eq(engine_expire_stale(eng, TID, INT64_MAX, NULL, &e), 0);
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    ck_assert_uint_eq(v->nstale, 0);
    ck_assert_uint_eq(bt_count_files(ddir), bt_version_files(v));
    version_unref(v);
    free(ddir);
    teardown(eng, dir, s);
}
END_TEST

int main(void)
{
    log_set_level(LOG_WARN);
    Suite *s = suite_create("be_engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, load_publish_scan_versions);
    tcase_add_test(tc, abort_removes_files);
    tcase_add_test(tc, txn_timeout_expires);
    tcase_add_test(tc, unique_merge);
    tcase_add_test(tc, predicates_and_pruning);
    tcase_add_test(tc, predicates_ne_gt);
    tcase_add_test(tc, compaction_duplicate);
    tcase_add_test(tc, compaction_unique);
    tcase_add_test(tc, compaction_filter_and_auto);
    tcase_add_test(tc, compaction_cooldown_span);
    tcase_add_test(tc, restart_sweeps_and_keeps_committed);
    tcase_add_test(tc, bad_meta_marks_tablet_bad);
    tcase_add_test(tc, drop_waits_for_snapshots);
    tcase_add_test(tc, meta_save_fault_loop);
    tcase_add_test(tc, concurrent_load_compact_scan);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
