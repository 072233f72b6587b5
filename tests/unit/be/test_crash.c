/*
 * Crash tests: a child process runs a load (write, commit, publish) and a
 * compaction with one fault point armed to _exit() in the middle; the
 * parent reopens the engine and checks the tablet is at the last published
 * version with exactly that version's rows, no file is left unreferenced,
 * and the tablet keeps working. Failure modes (error instead of crash) are
 * covered by the fault loops in test_engine.c.
 */
#include "be_testutil.h"
#include "fault.h"
#include "fsutil.h"
#include "log.h"

#include <sys/wait.h>
#include <unistd.h>

#define TID 9

/* versions 2..4 hold rows [0,3000); the child's txn adds [3000,4000) as version 5 */
static void prepare(const char *dir, struct schema *s)
{
    struct engine *eng = bt_engine(dir);
    struct err e = { 0 };
    ck_assert_int_eq(engine_create_tablet(eng, TID, 1, s, &e), 0);
    for (int i = 0; i < 3; i++)
        bt_load(eng, TID, 10 + i, 2 + i, s, i * 1000, i * 1000 + 1000, 0);
    engine_close(eng);
}

/* In a forked child: arms the fault spec and opens the engine, or exits 3 / 4. */
static struct engine *child_engine(const char *dir, const char *spec)
{
    struct err e = { 0 };
    if (fault_set(spec, &e) < 0)
        _exit(3);
    struct engine_opts o;
    engine_opts_default(&o);
    o.root = dir;
    o.workers = 2;
    struct engine *eng;
    if (engine_open(&o, &eng, &e) < 0)
        _exit(4);
    return eng;
}

static void child(const char *dir, struct schema *s, const char *spec)
{
    struct err e = { 0 };
    struct engine *eng = child_engine(dir, spec);
    struct column_batch b;
    bt_batch(&b, s, 3000, 4000, 0);
    if (engine_txn_write(eng, TID, 99, &b, &e) < 0 || engine_txn_commit(eng, TID, 99, &e) < 0 ||
        engine_txn_publish(eng, TID, 99, 5, &e) < 0)
        _exit(5);
    if (engine_compact_range(eng, TID, 1, 4, &e) < 0)
        _exit(6);
    if (engine_drop_tablet(eng, TID, &e) < 0)
        _exit(7);
    _exit(0);
}

static void crash_case(const char *spec)
{
    if (!fault_compiled_in())
        return;
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    prepare(dir, s);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        child(dir, s, spec);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == FAULT_CRASH_STATUS, "%s: child exit status %d", spec,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
    struct engine *eng = bt_engine(dir);
    struct err e = { 0 };
    struct tablet_info ti;
    int r = engine_tablet_info(eng, TID, &ti, &e);
    if (r == FLOE_ENOTFOUND) {
        /* the crash came after the drop's meta removal: the drop is done; the files went with the sweep */
        char *ddir = xasprintf("%s/data/%d", dir, TID);
        ck_assert_int_ne(access(ddir, F_OK), 0);
        free(ddir);
    } else {
        ck_assert_int_eq(r, 0);
        ck_assert(!ti.bad);
        ck_assert_msg(ti.max_version == 4 || ti.max_version == 5, "%s: version %lld", spec, (long long)ti.max_version);
        if (ti.max_version == 4 && ti.ntxns == 1) {
            /* committed before the crash: the publish can be retried */
            ck_assert_int_eq(engine_txn_publish(eng, TID, 99, 5, &e), 0);
        } else if (ti.max_version == 4) {
            /* lost before commit: the FE retries the whole load */
            ck_assert_int_eq(engine_txn_publish(eng, TID, 99, 5, &e), FLOE_ENOTFOUND);
            bt_load(eng, TID, 100, 5, s, 3000, 4000, 0);
        }
        /* publishing again is idempotent, whichever path we took */
        struct bt_rows got = { 0 }, want = { 0 };
        bt_scan_all(eng, TID, -1, &got);
        bt_expect(&want, s, 0, 4000, 0);
        bt_rows_sort(&want);
        bt_rows_assert_equal(&got, &want);
        bt_rows_free(&got);
        bt_rows_free(&want);
        /* no unreferenced file survived the restart sweep */
        engine_close(eng);
        eng = bt_engine(dir);
        struct version *v;
        ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
        char *ddir = xasprintf("%s/data/%d", dir, TID);
        ck_assert_uint_eq(bt_count_files(ddir), bt_version_files(v));
        version_unref(v);
        free(ddir);
        /* and it keeps working */
        bt_load(eng, TID, 101, 6, s, 4000, 4100, 0);
        bool done;
        ck_assert_int_eq(engine_compact(eng, TID, COMPACTION_BASE, &done, &e), 0);
        bt_scan_all(eng, TID, -1, &got);
        ck_assert_uint_eq(got.n, 4100);
        bt_rows_free(&got);
    }
    engine_close(eng);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(dir);
}

/* hit counts per run: segment.write 1 (load) + n (compaction); meta.save 1 commit, 2 publish, 3 compaction */
static const char *const specs[] = {
    "segment.write=crash",
    "segment.write=crash-nth:2",
    "segment.finish=crash",
    "segment.finish=crash-nth:2",
    "txn.commit=crash",
    "meta.save=crash",
    "meta.save=crash-nth:2",
    "meta.save=crash-nth:3",
    "fs.atomic.write=crash-nth:2",
    "fs.atomic.fsync=crash-nth:2",
    "fs.atomic.rename=crash",
    "fs.atomic.rename=crash-nth:2",
    "fs.atomic.rename=crash-nth:3",
    "fs.atomic.dirsync=crash-nth:2",
    "txn.publish=crash",
    "txn.publish.after_save=crash",
    "compaction.swap=crash",
    "compaction.swap.after_save=crash",
    "file.delete=crash",
    "tablet.drop=crash",
};

START_TEST(crash_at_point) { crash_case(specs[_i]); }
END_TEST

/*
 * Abort crashes: the child writes txn 99 ([3000,4000) in two writes, so two segment files), commits it
 * (or leaves it staged) and aborts it with one point armed to crash. An abort of a committed txn saves
 * the meta without the txn, then deletes the files (each deletion hits file.delete).
 */
struct abort_spec {
    const char *spec;
    bool commit;       /* commit before the abort (else the txn is only staged) */
    bool txn_survives; /* after the restart the txn is still committed (the crash came before the meta save) */
    size_t files_left; /* segment files of the txn on disk when the child died */
};

static const struct abort_spec abort_specs[] = {
    /* meta.save / fs.atomic.*: hit 1 is the commit's save, hit 2 the abort's */
    { "txn.abort=crash", true, true, 2 },
    { "txn.abort=crash", false, false, 2 },
    { "meta.save=crash-nth:2", true, true, 2 },
    { "fs.atomic.write=crash-nth:2", true, true, 2 },
    { "fs.atomic.fsync=crash-nth:2", true, true, 2 },
    { "fs.atomic.rename=crash-nth:2", true, true, 2 },
    { "fs.atomic.dirsync=crash-nth:2", true, false, 2 },
    { "file.delete=crash", true, false, 2 },
    { "file.delete=crash-nth:2", true, false, 1 },
    { "file.delete=crash-nth:2", false, false, 1 },
};

static void abort_child(const char *dir, struct schema *s, const struct abort_spec *a)
{
    struct err e = { 0 };
    struct engine *eng = child_engine(dir, a->spec);
    struct column_batch b1, b2;
    bt_batch(&b1, s, 3000, 3500, 0);
    bt_batch(&b2, s, 3500, 4000, 0);
    if (engine_txn_write(eng, TID, 99, &b1, &e) < 0 || engine_txn_write(eng, TID, 99, &b2, &e) < 0)
        _exit(5);
    if (a->commit && engine_txn_commit(eng, TID, 99, &e) < 0)
        _exit(6);
    if (engine_txn_abort(eng, TID, 99, &e) < 0)
        _exit(7);
    _exit(0);
}

/* The names in dir, sorted. */
static void list_dir(const char *dir, struct bt_rows *out)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        out->v = xrealloc(out->v, (out->n + 1) * sizeof(char *));
        out->v[out->n++] = xstrdup(de->d_name);
    }
    closedir(d);
    bt_rows_sort(out);
}

static bool has_name(const struct bt_rows *names, const char *n)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->v[i], n) == 0)
            return true;
    return false;
}

static void assert_exact_rows(struct engine *eng, struct schema *s, int64_t to)
{
    struct bt_rows got = { 0 }, want = { 0 };
    bt_scan_all(eng, TID, -1, &got);
    bt_expect(&want, s, 0, to, 0);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
}

/* no file of the data dir is unreferenced, no temp meta is left, and none of the txn's files exist */
static void assert_no_strays(struct engine *eng, const char *dir, const struct bt_rows *txn_files)
{
    struct err e = { 0 };
    struct version *v;
    ck_assert_int_eq(engine_snapshot(eng, TID, &v, &e), 0);
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    char *mdir = xasprintf("%s/meta", dir);
    ck_assert_uint_eq(bt_count_files(ddir), bt_version_files(v));
    ck_assert_uint_eq(bt_count_files(mdir), 1);
    for (size_t i = 0; i < txn_files->n; i++) {
        char *p = xasprintf("%s/%s", ddir, txn_files->v[i]);
        ck_assert_msg(access(p, F_OK) != 0, "segment %s of the aborted txn survived", p);
        free(p);
    }
    version_unref(v);
    free(ddir);
    free(mdir);
}

static void abort_crash_case(const struct abort_spec *a)
{
    if (!fault_compiled_in())
        return;
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    prepare(dir, s);
    char *ddir = xasprintf("%s/data/%d", dir, TID);
    struct bt_rows before = { 0 }, after = { 0 }, txn_files = { 0 };
    list_dir(ddir, &before);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        abort_child(dir, s, a);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == FAULT_CRASH_STATUS, "%s: child exit status %d", a->spec,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
    /* what the child left: only segments of the txn's rowset, as many as the crash point allows */
    list_dir(ddir, &after);
    for (size_t i = 0; i < after.n; i++)
        if (!has_name(&before, after.v[i])) {
            txn_files.v = xrealloc(txn_files.v, (txn_files.n + 1) * sizeof(char *));
            txn_files.v[txn_files.n++] = xstrdup(after.v[i]);
        }
    for (size_t i = 0; i < before.n; i++)
        ck_assert_msg(has_name(&after, before.v[i]), "%s: published segment %s is gone", a->spec, before.v[i]);
    ck_assert_msg(txn_files.n == a->files_left, "%s: %zu txn files left, expected %zu", a->spec, txn_files.n,
                  a->files_left);
    for (size_t i = 1; i < txn_files.n; i++)
        ck_assert_int_eq(strncmp(txn_files.v[i], txn_files.v[0], 36), 0);
    char rsid[37];
    snprintf(rsid, sizeof(rsid), "%s", txn_files.v[0]);

    struct engine *eng = bt_engine(dir);
    struct err e = { 0 };
    struct tablet_info ti;
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert(!ti.bad);
    ck_assert_int_eq(ti.max_version, 4);
    ck_assert_uint_eq(ti.num_rows, 3000);
    ck_assert_msg(ti.ntxns == (a->txn_survives ? 1u : 0u), "%s: %zu txns after the restart", a->spec,
                  (size_t)ti.ntxns);
    assert_exact_rows(eng, s, 3000);
    bool existed = false;
    if (a->txn_survives) {
        /* the abort did not reach the meta: the txn is committed as before (the meta names its rowset),
         * its files kept by the sweep */
        char *mp = xasprintf("%s/meta/%d.json", dir, TID);
        struct buf m = BUF_INIT;
        ck_assert_int_eq(fs_read_file(mp, &m, 1 << 20, NULL), 0);
        ck_assert_msg(strstr(buf_cstr(&m), rsid) != NULL, "%s: meta does not name rowset %s", a->spec, rsid);
        buf_release(&m);
        free(mp);
        for (size_t i = 0; i < txn_files.n; i++) {
            char *p = xasprintf("%s/%s", ddir, txn_files.v[i]);
            ck_assert_int_eq(access(p, F_OK), 0);
            free(p);
        }
        /* a txn reloaded from the meta answers like one committed in this process (the per-write
         * flags are rebuilt at load), and a retried commit is a no-op */
        uint64_t rows = 0;
        struct rowset *rs = NULL;
        ck_assert_int_eq(engine_txn_info(eng, TID, 99, &rows, &rs, &e), 0);
        ck_assert_uint_eq(rows, 1000);
        ck_assert_ptr_nonnull(rs);
        ck_assert_str_eq(rs->id, rsid);
        ck_assert_int_eq(rs->nsegs, 2);
        rowset_unref(rs);
        ck_assert_int_eq(engine_txn_commit(eng, TID, 99, &e), 0);
        /* the FE's abort is retried and completes */
        ck_assert_int_eq(engine_txn_abort_ex(eng, TID, 99, &existed, &e), 0);
        ck_assert(existed);
    } else {
        ck_assert_int_eq(engine_txn_info(eng, TID, 99, NULL, NULL, &e), FLOE_ENOTFOUND);
    }
    /* aborting again is idempotent: nothing to drop */
    ck_assert_int_eq(engine_txn_abort_ex(eng, TID, 99, &existed, &e), 0);
    ck_assert(!existed);
    ck_assert_int_eq(engine_txn_publish(eng, TID, 99, 5, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 0);
    assert_no_strays(eng, dir, &txn_files);
    assert_exact_rows(eng, s, 3000);
    /* the abort is durable, and after another restart nothing is left either */
    engine_close(eng);
    eng = bt_engine(dir);
    ck_assert_int_eq(engine_tablet_info(eng, TID, &ti, &e), 0);
    ck_assert_uint_eq(ti.ntxns, 0);
    ck_assert_int_eq(ti.max_version, 4);
    assert_no_strays(eng, dir, &txn_files);
    /* and the tablet keeps working: the FE's retried load lands as version 5 */
    bt_load(eng, TID, 100, 5, s, 3000, 4000, 0);
    assert_exact_rows(eng, s, 4000);
    engine_close(eng);
    bt_rows_free(&before);
    bt_rows_free(&after);
    bt_rows_free(&txn_files);
    free(ddir);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(dir);
}

START_TEST(abort_crash_at_point) { abort_crash_case(&abort_specs[_i]); }
END_TEST

int main(void)
{
    log_set_level(LOG_ERROR);
    Suite *s = suite_create("be_crash");
    TCase *tc = tcase_create("crash");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, crash_at_point, 0, (int)(sizeof(specs) / sizeof(specs[0])));
    tcase_add_loop_test(tc, abort_crash_at_point, 0, (int)(sizeof(abort_specs) / sizeof(abort_specs[0])));
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
