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

static void child(const char *dir, struct schema *s, const char *spec)
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

int main(void)
{
    log_set_level(LOG_ERROR);
    Suite *s = suite_create("be_crash");
    TCase *tc = tcase_create("crash");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, crash_at_point, 0, (int)(sizeof(specs) / sizeof(specs[0])));
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
