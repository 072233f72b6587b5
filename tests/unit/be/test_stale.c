/*
 * Unit tests for stale rowsets: compacted-away local rowsets kept for
 * stale_rowset_keep so scans at older versions keep working; expiry,
 * snapshots holding files, keep 0, restart, the background expiry.
 */
#include "be_testutil.h"
#include "fsutil.h"
#include "log.h"

#include <unistd.h>

#define TID 42
#define NLOADS 12

static struct engine *open_keep(const char *root, int64_t keep_ms, bool sched)
{
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = root;
    o.workers = 2;
    o.stale_rowset_keep_ms = keep_ms;
    if (sched)
        o.compaction_interval_ms = 20;
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

struct fixture {
    char *dir, *ddir;
    struct schema *s;
    struct engine *eng;
    struct bt_rows at[NLOADS + 2]; /* rows of versions 1..NLOADS+1 before any compaction */
};

/* NLOADS overlapping loads (versions 2..NLOADS+1; unique keys overwritten by later loads), every version recorded */
static void fx_setup(struct fixture *f, enum key_model m, int64_t keep_ms, bool sched)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    f->ddir = xasprintf("%s/data/%d", f->dir, TID);
    f->s = bt_schema(m);
    f->eng = open_keep(f->dir, keep_ms, sched);
    struct err e = { 0 };
    ck_assert_msg(engine_create_tablet(f->eng, TID, 7, f->s, &e) == 0, "%s", err_msg(&e));
    for (int i = 0; i < NLOADS; i++)
        bt_load(f->eng, TID, 100 + i, 2 + i, f->s, i * 300, i * 300 + 700, i);
    for (int64_t v = 1; v <= NLOADS + 1; v++)
        bt_scan_all(f->eng, TID, v, &f->at[v]);
}

static void fx_teardown(struct fixture *f)
{
    for (int v = 0; v < NLOADS + 2; v++)
        bt_rows_free(&f->at[v]);
    engine_close(f->eng);
    schema_unref(f->s);
    fs_remove_all(f->dir, NULL);
    free(f->dir);
    free(f->ddir);
}

/* cumulative then base: two levels of merges, so older versions need stale rowsets of both */
static void fx_compact(struct fixture *f)
{
    struct err e = { 0 };
    bool done = false;
    ck_assert_msg(engine_compact_range(f->eng, TID, 3, 7, &e) == 0, "%s", err_msg(&e));
    ck_assert_msg(engine_compact(f->eng, TID, COMPACTION_BASE, &done, &e) == 0, "%s", err_msg(&e));
    ck_assert(done);
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(f->eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nrowsets, 1);
}

static void assert_version_rows(struct fixture *f, int64_t v)
{
    struct bt_rows got = { 0 };
    struct scan_opts o = { .version = v, .limit = -1 };
    struct err e = { 0 };
    ck_assert_msg(bt_scan_opts(f->eng, TID, &o, &got, NULL, &e) == 0, "version %lld: %s", (long long)v, err_msg(&e));
    bt_rows_assert_equal(&got, &f->at[v]);
    bt_rows_free(&got);
}

static void older_versions_case(enum key_model m)
{
    struct fixture f;
    fx_setup(&f, m, 300000, false);
    fx_compact(&f);
    struct err e = { 0 };
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(f.eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nstale, 5 + 9); /* the 5 cumulative inputs, then the 9 the base merged */
    ck_assert_uint_gt(ti.stale_size, 0);
    /* every version reads exactly its rows, also those inside both merged ranges */
    for (int64_t v = 1; v <= NLOADS + 1; v++)
        assert_version_rows(&f, v);
    /* a scan asks for at most max_version */
    struct bt_rows x = { 0 };
    struct scan_opts o = { .version = NLOADS + 2, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(f.eng, TID, &o, &x, NULL, &e), FLOE_EVERSION);
    bt_rows_free(&x);
    /* newer loads and compactions keep the old stale rowsets */
    bt_load(f.eng, TID, 500, NLOADS + 2, f.s, 0, 10, NLOADS);
    assert_version_rows(&f, 5);
    /* stale rowsets are never compacted again: a merge of the current rowsets does not touch them */
    ck_assert_int_eq(engine_compact_range(f.eng, TID, 0, 1, &e), 0);
    ck_assert_int_eq(engine_tablet_info(f.eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nrowsets, 1);
    ck_assert_uint_eq(ti.nstale, 14 + 2);
    assert_version_rows(&f, 5);
    assert_version_rows(&f, NLOADS + 1);
    fx_teardown(&f);
}

START_TEST(older_version_after_compaction_duplicate) { older_versions_case(KEY_DUPLICATE); }
END_TEST
START_TEST(older_version_after_compaction_unique) { older_versions_case(KEY_UNIQUE); }
END_TEST

START_TEST(expiry_deletes_files)
{
    struct fixture f;
    fx_setup(&f, KEY_DUPLICATE, 60000, false);
    int64_t before = fs_now_ms();
    fx_compact(&f);
    int64_t after = fs_now_ms();
    struct err e = { 0 };
    struct version *v;
    ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
    size_t cur = bt_version_files(v), st = stale_files(v);
    ck_assert_uint_gt(st, 0);
    ck_assert_uint_eq(bt_count_files(f.ddir), cur + st);
    version_unref(v);
    /* not yet due: nothing changes */
    size_t n = 99;
    ck_assert_int_eq(engine_expire_stale(f.eng, TID, before + 60000 - 1, &n, &e), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(bt_count_files(f.ddir), cur + st);
    assert_version_rows(&f, 4);
    /* due: forgotten, their files deleted, the versions inside the merged ranges are gone */
    ck_assert_int_eq(engine_expire_stale(f.eng, TID, after + 60000, &n, &e), 0);
    ck_assert_uint_eq(n, 14);
    ck_assert_uint_eq(bt_count_files(f.ddir), cur);
    struct bt_rows x = { 0 };
    struct scan_opts o = { .version = 4, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(f.eng, TID, &o, &x, NULL, &e), FLOE_EVERSION);
    ck_assert_ptr_nonnull(strstr(e.msg, "was merged into rowset [0,"));
    bt_rows_free(&x);
    assert_version_rows(&f, NLOADS + 1);
    /* unknown tablet */
    ck_assert_int_eq(engine_expire_stale(f.eng, 999, -1, NULL, &e), FLOE_ENOTFOUND);
    fx_teardown(&f);
}
END_TEST

START_TEST(scan_holds_stale_files)
{
    struct fixture f;
    fx_setup(&f, KEY_UNIQUE, 60000, false);
    fx_compact(&f);
    struct err e = { 0 };
    struct version *v;
    ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
    size_t cur = bt_version_files(v);
    struct scan *sc;
    struct scan_opts o = { .version = 6, .limit = -1, .batch_rows = 100 };
    ck_assert_int_eq(scan_open(v, &o, &sc, &e), 0);
    version_unref(v);
    struct column_batch b;
    scan_init_batch(sc, &b);
    bool eof = false;
    struct bt_rows got = { 0 };
    ck_assert_int_eq(scan_next(sc, &b, &eof, &e), 0);
    bt_rows_add_batch(&got, &b);
    /* expired while the scan runs: the tablet forgets them, the files stay until the scan ends */
    size_t n = 0;
    ck_assert_int_eq(engine_expire_stale(f.eng, TID, INT64_MAX, &n, &e), 0);
    ck_assert_uint_eq(n, 14);
    ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
    ck_assert_uint_eq(v->nstale, 0);
    version_unref(v);
    ck_assert_uint_gt(bt_count_files(f.ddir), cur);
    while (!eof) {
        ck_assert_msg(scan_next(sc, &b, &eof, &e) == 0, "%s", err_msg(&e));
        bt_rows_add_batch(&got, &b);
    }
    bt_rows_sort(&got);
    bt_rows_assert_equal(&got, &f.at[6]);
    bt_rows_free(&got);
    column_batch_release(&b);
    ck_assert_uint_gt(bt_count_files(f.ddir), cur);
    scan_free(sc);
    ck_assert_uint_eq(bt_count_files(f.ddir), cur);
    fx_teardown(&f);
}
END_TEST

START_TEST(keep_zero_is_old_behaviour)
{
    struct fixture f;
    fx_setup(&f, KEY_DUPLICATE, 0, false);
    fx_compact(&f);
    struct err e = { 0 };
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(f.eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nstale, 0);
    ck_assert_uint_eq(ti.stale_size, 0);
    struct version *v;
    ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
    ck_assert_uint_eq(bt_count_files(f.ddir), bt_version_files(v));
    version_unref(v);
    struct bt_rows x = { 0 };
    struct scan_opts o = { .version = 5, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(f.eng, TID, &o, &x, NULL, &e), FLOE_EVERSION);
    ck_assert_ptr_nonnull(strstr(e.msg, "version 5 was merged into rowset [0,13]"));
    bt_rows_free(&x);
    assert_version_rows(&f, NLOADS + 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(restart_forgets_stale)
{
    struct fixture f;
    fx_setup(&f, KEY_UNIQUE, 300000, false);
    fx_compact(&f);
    struct err e = { 0 };
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(f.eng, TID, &ti, &e), 0);
    ck_assert_uint_gt(ti.nstale, 0);
    engine_close(f.eng);
    f.eng = open_keep(f.dir, 300000, false);
    ck_assert_int_eq(engine_tablet_info(f.eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.nstale, 0);
    struct version *v;
    ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
    ck_assert_uint_eq(bt_count_files(f.ddir), bt_version_files(v)); /* the restart sweep removed their files */
    version_unref(v);
    struct bt_rows x = { 0 };
    struct scan_opts o = { .version = 5, .limit = -1 };
    ck_assert_int_eq(bt_scan_opts(f.eng, TID, &o, &x, NULL, &e), FLOE_EVERSION);
    bt_rows_free(&x);
    assert_version_rows(&f, NLOADS + 1);
    fx_teardown(&f);
}
END_TEST

START_TEST(scheduler_expires)
{
    struct fixture f;
    fx_setup(&f, KEY_DUPLICATE, 300, true); /* auto compaction off: the scheduler runs for expiry alone */
    fx_compact(&f);
    struct err e = { 0 };
    /* the swap is visible a moment before the released rowsets' files are gone: poll for both */
    size_t nstale = 1, files = 0, want = 0;
    int64_t deadline = mono_now_ms() + 30000;
    do {
        struct version *v;
        ck_assert_int_eq(engine_snapshot(f.eng, TID, &v, &e), 0);
        nstale = v->nstale;
        want = bt_version_files(v);
        version_unref(v);
        files = bt_count_files(f.ddir);
        if (nstale == 0 && files == want)
            break;
        usleep(10000);
    } while (mono_now_ms() < deadline);
    ck_assert_uint_eq(nstale, 0);
    ck_assert_uint_eq(files, want);
    fx_teardown(&f);
}
END_TEST

START_TEST(drop_removes_stale_files)
{
    struct fixture f;
    fx_setup(&f, KEY_DUPLICATE, 300000, false);
    fx_compact(&f);
    struct err e = { 0 };
    ck_assert_uint_gt(bt_count_files(f.ddir), 1);
    ck_assert_int_eq(engine_drop_tablet(f.eng, TID, &e), 0);
    ck_assert_int_ne(access(f.ddir, F_OK), 0);
    fx_teardown(&f);
}
END_TEST

/* the oldest write time round-trips through the rowset JSON; one after the newest is refused */
START_TEST(rowset_oldest_write_json)
{
    struct rowset_segment seg = { 100, 10 };
    struct rowset *rs = rowset_new("0b0f3c1e-8c8f-4a53-9d55-6a4f3a0d2e11", TID, 2, 3, &seg, 1, 5000, NULL, "/x");
    ck_assert_int_eq(rs->oldest_write_ms, 5000);
    rs->oldest_write_ms = 1000;
    json_t *j = rowset_to_json(rs);
    struct rowset *back;
    struct err e = { 0 };
    ck_assert_int_eq(rowset_from_json(j, TID, "/x", &back, "t", &e), 0);
    ck_assert_int_eq(back->oldest_write_ms, 1000);
    ck_assert_int_eq(back->newest_write_ms, 5000);
    struct rowset *c = rowset_clone(back, 4, 4, NULL);
    ck_assert_int_eq(c->oldest_write_ms, 1000);
    rowset_unref(c);
    rowset_unref(back);
    /* absent (metas written before): the newest */
    json_object_del(j, "oldest_write_ms");
    ck_assert_int_eq(rowset_from_json(j, TID, "/x", &back, "t", &e), 0);
    ck_assert_int_eq(back->oldest_write_ms, 5000);
    rowset_unref(back);
    json_object_set_new(j, "oldest_write_ms", json_integer(6000));
    ck_assert_int_eq(rowset_from_json(j, TID, "/x", &back, "t", &e), FLOE_ECORRUPT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(e.msg, "oldest_write_ms 6000 is after newest_write_ms 5000"));
    json_object_set_new(j, "oldest_write_ms", json_string("x"));
    ck_assert_int_lt(rowset_from_json(j, TID, "/x", &back, "t", &e), 0);
    json_decref(j);
    rowset_unref(rs);
}
END_TEST

int main(void)
{
    log_set_level(LOG_WARN);
    Suite *s = suite_create("be_stale");
    TCase *tc = tcase_create("stale");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, older_version_after_compaction_duplicate);
    tcase_add_test(tc, older_version_after_compaction_unique);
    tcase_add_test(tc, expiry_deletes_files);
    tcase_add_test(tc, scan_holds_stale_files);
    tcase_add_test(tc, keep_zero_is_old_behaviour);
    tcase_add_test(tc, restart_forgets_stale);
    tcase_add_test(tc, scheduler_expires);
    tcase_add_test(tc, drop_removes_stale_files);
    tcase_add_test(tc, rowset_oldest_write_json);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
