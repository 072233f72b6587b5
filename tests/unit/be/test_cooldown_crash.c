/*
 * Crash tests of cooldown: a forked child runs one cooldown step (upload,
 * follow, adopt under a new term, cold compaction, GC) with a fault point
 * armed to _exit() the process; the parent then reopens both backends,
 * lets them recover, and checks the invariants: every object a meta
 * references exists, no row is lost or duplicated, no intent is left, and
 * a GC round after recovery deletes nothing that is referenced.
 *
 * Besides the named cooldown points, loops crash at the Nth object put
 * (after it landed), the Nth tablet meta save and the Nth atomic rename,
 * for every N until the step completes without reaching N.
 */
#include "cooldown_testutil.h"

#include "fault.h"

#include <sys/wait.h>
#include <unistd.h>

#define TID 20

/* SC_RECUT: the new uploader compacted across the old meta's last version and re-cuts it */
enum scenario { SC_UPLOAD, SC_FOLLOW, SC_ADOPT, SC_COLD, SC_GC, SC_RECUT };

static int nver_of(enum scenario sc)
{
    return sc == SC_COLD ? 6 : sc == SC_RECUT ? 5 : 4;
}

static char *tmp;

static void open_both(struct ct_be *a, struct ct_be *b)
{
    ct_be_open(a, tmp, "a", 1001, 0);
    ct_be_open(b, tmp, "b", 1002, 0);
}

static void close_both(struct ct_be *a, struct ct_be *b)
{
    ct_be_close(a);
    ct_be_close(b);
}

/* Builds the state before the step under test. */
static void prepare(enum scenario sc)
{
    struct err e = { 0 };
    fs_remove_all(tmp, &e);
    ck_assert_int_eq(fs_mkdir_p(tmp, 0755, &e), 0);
    struct ct_be a, b;
    open_both(&a, &b);
    int nver = sc == SC_RECUT ? 4 : nver_of(sc);
    ct_tablet(&a, TID, nver);
    ct_tablet(&b, TID, nver);
    ck_assert_int_eq(cooldown_push_conf(a.cd, TID, 1001, 1, &e), 0);
    ck_assert_int_eq(cooldown_push_conf(b.cd, TID, 1001, 1, &e), 0);
    if (sc == SC_RECUT)
        ck_assert_int_eq(ct_step(&b, TID), COOLDOWN_NONE); /* b learns its replica id */
    if (sc != SC_UPLOAD)
        ck_assert_int_eq(ct_step(&a, TID), COOLDOWN_UPLOADED);
    if (sc == SC_COLD || sc == SC_GC)
        ck_assert_int_eq(ct_step(&b, TID), COOLDOWN_ADOPTED);
    if (sc == SC_RECUT) {
        struct schema *s = bt_schema(KEY_DUPLICATE);
        bt_load(a.eng, TID, 105, 5, s, 3000, 4000, 5);
        bt_load(b.eng, TID, 105, 5, s, 3000, 4000, 5);
        schema_unref(s);
    }
    if (sc == SC_ADOPT || sc == SC_RECUT) {
        ck_assert_int_eq(cooldown_push_conf(a.cd, TID, 1002, 2, &e), 0);
        ck_assert_int_eq(cooldown_push_conf(b.cd, TID, 1002, 2, &e), 0);
    }
    if (sc == SC_RECUT) {
        /* b, now the uploader, merges [4] and [5]: the term-1 meta ends at 4, inside */
        struct version *v;
        ck_assert_int_eq(engine_snapshot(b.eng, TID, &v, &e), 0);
        size_t n = v->nrowsets;
        ck_assert_int_eq(v->rowsets[n - 1]->end, 5);
        version_unref(v);
        ck_assert_msg(engine_compact_range(b.eng, TID, n - 2, n - 1, &e) == 0, "%s", err_msg(&e));
    }
    if (sc == SC_GC) {
        char oid[UUID_STR_LEN];
        ck_assert_int_eq(uuid_new_str(oid), 0);
        char *k = remote_segment_key(TID, oid, 0);
        ck_assert_int_eq(objstore_put(a.os, k, "orphan", 6, &e), 0);
        free(k);
    }
    close_both(&a, &b);
}

/* In the child: the step under test. Returns its result. */
static int run_step(enum scenario sc)
{
    struct ct_be a, b;
    open_both(&a, &b);
    struct err e = { 0 };
    enum cooldown_action act;
    bool done;
    int r = 0;
    switch (sc) {
    case SC_UPLOAD: r = cooldown_tablet_step(a.cd, TID, &act, &e); break;
    case SC_FOLLOW: r = cooldown_tablet_step(b.cd, TID, &act, &e); break;
    case SC_ADOPT:
    case SC_RECUT: r = cooldown_tablet_step(b.cd, TID, &act, &e); break;
    case SC_COLD: r = cooldown_cold_compact(a.cd, TID, 3, &done, &e); break;
    case SC_GC: {
        int64_t did;
        size_t nc;
        bool acc;
        uint64_t nd;
        r = cooldown_gc_prepare(a.cd, TID, &did, &nc, &e);
        if (r == 0)
            r = cooldown_delete(a.cd, TID, did, &acc, &nd, &e);
        break;
    }
    }
    close_both(&a, &b);
    return r;
}

/* Forks a child that arms spec and runs the step; returns its exit status (86 = crashed). */
static int crash_child(enum scenario sc, const char *spec)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct err e = { 0 };
        if (fault_set(spec, &e) < 0)
            _exit(2);
        int r = run_step(sc);
        _exit(r == 0 ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "child for %s died by a signal", spec);
    return WEXITSTATUS(st);
}

/* After a crash: recover, then check the invariants on both replicas. */
static void recover_and_check(enum scenario sc, const char *spec)
{
    struct ct_be a, b;
    open_both(&a, &b);
    int nver = nver_of(sc);
    bool b_up = sc == SC_ADOPT || sc == SC_RECUT;
    struct ct_be *up = b_up ? &b : &a, *fo = b_up ? &a : &b;
    /* nothing referenced may be missing even before any recovery step */
    ct_assert_rows(&a, TID, nver);
    ct_assert_rows(&b, TID, nver);
    for (int round = 0; round < 3; round++) {
        struct err e = { 0 };
        enum cooldown_action act;
        int r = cooldown_tablet_step(up->cd, TID, &act, &e);
        ck_assert_msg(r == 0, "%s: uploader recovery step: %s", spec, err_msg(&e));
        r = cooldown_tablet_step(fo->cd, TID, &act, &e);
        ck_assert_msg(r == 0, "%s: follower step: %s", spec, err_msg(&e));
    }
    for (int i = 0; i < 2; i++) {
        struct ct_be *x = i ? &b : &a;
        ct_assert_rows(x, TID, nver);
        ct_assert_remote_complete(x, TID);
    }
    char ma[UUID_STR_LEN], mb[UUID_STR_LEN];
    size_t ra = ct_remote_rowsets(&a, TID, ma), rb = ct_remote_rowsets(&b, TID, mb);
    ck_assert_msg(strcmp(ma, mb) == 0, "%s: replicas follow different metas", spec);
    ck_assert_uint_eq(ra, rb);
    ck_assert_uint_gt(ra, 0);
    /* a GC round (grace 0) after recovery deletes only unreferenced objects */
    struct err e = { 0 };
    int64_t did;
    size_t nc;
    ck_assert_msg(cooldown_gc_prepare(up->cd, TID, &did, &nc, &e) == 0, "%s: gc: %s", spec, err_msg(&e));
    if (did) {
        bool acc;
        uint64_t nd;
        ck_assert_int_eq(cooldown_delete(up->cd, TID, did, &acc, &nd, &e), 0);
        ck_assert(acc);
    }
    for (int i = 0; i < 2; i++) {
        struct ct_be *x = i ? &b : &a;
        ct_assert_remote_complete(x, TID);
        ct_assert_rows(x, TID, nver);
    }
    /* every object left is referenced: nothing leaks past a GC round */
    ck_assert_int_eq(cooldown_gc_prepare(up->cd, TID, &did, &nc, &e), 0);
    ck_assert_msg(nc == 0, "%s: %zu objects left unreferenced after gc", spec, nc);
    close_both(&a, &b);
}

static void crash_point(enum scenario sc, const char *spec)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    prepare(sc);
    int st = crash_child(sc, spec);
    ck_assert_msg(st == FAULT_CRASH_STATUS, "%s: the child did not crash (status %d)", spec, st);
    recover_and_check(sc, spec);
}

/* Crash at the Nth hit of point for N = 1.. until the step completes without reaching it. */
static void crash_loop(enum scenario sc, const char *point)
{
    if (!fault_compiled_in())
        return;
    for (int n = 1; n < 200; n++) {
        char spec[128];
        snprintf(spec, sizeof(spec), "%s=crash-nth:%d", point, n);
        prepare(sc);
        int st = crash_child(sc, spec);
        if (st == 0) {
            ck_assert_msg(n > 1, "%s: never hit", point);
            return;
        }
        ck_assert_msg(st == FAULT_CRASH_STATUS, "%s: status %d", spec, st);
        recover_and_check(sc, spec);
    }
    ck_abort_msg("%s: still crashing after 200 hits", point);
}

static void setup(void)
{
    char *t = test_tmpdir();
    tmp = xasprintf("%s/w", t);
    free(t);
}

static void teardown(void)
{
    struct err e = { 0 };
    char *parent = xstrndup(tmp, strlen(tmp) - 2);
    fs_remove_all(parent, &e);
    free(parent);
    free(tmp);
}

START_TEST(test_crash_upload_points)
{
    const char *specs[] = { "cooldown.intent=crash",          "cooldown.upload=crash",
                            "cooldown.after_upload=crash",    "cooldown.meta_write=crash",
                            "cooldown.meta_write=crash-nth:2", "cooldown.after_meta_write=crash",
                            "cooldown.local_swap=crash",      "cooldown.local_swap=crash-nth:2",
                            "cooldown.after_swap=crash",      "file.delete=crash" };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        crash_point(SC_UPLOAD, specs[i]);
}
END_TEST

START_TEST(test_crash_follow_adopt_points)
{
    crash_point(SC_FOLLOW, "cooldown.follow=crash");
    crash_point(SC_FOLLOW, "cooldown.follow.after_swap=crash");
    crash_point(SC_FOLLOW, "file.delete=crash");
    crash_point(SC_ADOPT, "cooldown.adopt=crash");
    crash_point(SC_ADOPT, "cooldown.meta_write=crash");
}
END_TEST

START_TEST(test_crash_cold_and_gc_points)
{
    crash_point(SC_COLD, "cooldown.cold_compaction.after_upload=crash");
    crash_point(SC_COLD, "cooldown.cold_compaction.meta_write=crash");
    crash_point(SC_COLD, "cooldown.local_swap=crash");
    crash_point(SC_GC, "cooldown.gc.delete=crash");
    crash_point(SC_GC, "cooldown.gc.after_delete=crash");
}
END_TEST

START_TEST(test_crash_recut_points)
{
    crash_point(SC_RECUT, "cooldown.recut=crash");
    crash_point(SC_RECUT, "cooldown.meta_write=crash");
    crash_point(SC_RECUT, "cooldown.recut.after_meta_write=crash");
    crash_loop(SC_RECUT, "meta.save");
    crash_loop(SC_RECUT, "objstore.put.after");
}
END_TEST

START_TEST(test_crash_every_put)
{
    crash_loop(SC_UPLOAD, "objstore.put.after");
    crash_loop(SC_COLD, "objstore.put.after");
}
END_TEST

START_TEST(test_crash_every_meta_save)
{
    crash_loop(SC_UPLOAD, "meta.save");
    crash_loop(SC_FOLLOW, "fs.atomic.rename");
    crash_loop(SC_ADOPT, "meta.save");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cooldown_crash");
    TCase *tc = tcase_create("crash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_crash_upload_points);
    tcase_add_test(tc, test_crash_follow_adopt_points);
    tcase_add_test(tc, test_crash_cold_and_gc_points);
    tcase_add_test(tc, test_crash_recut_points);
    tcase_add_test(tc, test_crash_every_put);
    tcase_add_test(tc, test_crash_every_meta_save);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
