/*
 * Unit tests of the uploader's re-cut under a new term: a replica that
 * becomes the cooldown replica and cannot adopt the newest earlier-term
 * meta as is (its own compaction merged across the meta's last version, or
 * it holds remote rowsets beyond it) adopts the longest prefix of that meta
 * ending on one of its rowset boundaries, keeps its own rowsets above,
 * publishes and goes on uploading. A replica that lacks versions the meta
 * covers never cuts them: it waits. Followers of the new term follow the
 * re-cut meta; the earlier meta's rowsets above the cut go through GC.
 */
#include "cooldown_testutil.h"

#include "fault.h"

#include <unistd.h>

#define TID 30

static char *tmp;
static struct ct_be A, B;

static void setup(void)
{
    tmp = test_tmpdir();
    ct_be_open(&A, tmp, "a", 1001, 0);
    ct_be_open(&B, tmp, "b", 1002, 0);
}

static void teardown(void)
{
    fault_clear();
    ct_be_close(&A);
    ct_be_close(&B);
    struct err e = { 0 };
    fs_remove_all(tmp, &e);
    free(tmp);
}

static void push_both(int64_t replica, int64_t term)
{
    struct err e = { 0 };
    ck_assert_msg(cooldown_push_conf(A.cd, TID, replica, term, &e) == 0, "%s", err_msg(&e));
    ck_assert_msg(cooldown_push_conf(B.cd, TID, replica, term, &e) == 0, "%s", err_msg(&e));
}

static void load(struct ct_be *b, int v)
{
    struct schema *s = bt_schema(KEY_DUPLICATE);
    bt_load(b->eng, TID, 100 + v, v, s, (v - 2) * 1000, (v - 1) * 1000, v);
    schema_unref(s);
}

/* Index of the rowset of b that ends at version end (asserted to exist). */
static size_t rowset_ending(struct ct_be *b, int64_t end)
{
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(b->eng, TID, &v, &e), 0);
    ssize_t k = -1;
    for (size_t i = 0; i < v->nrowsets; i++)
        if (v->rowsets[i]->end == end)
            k = (ssize_t)i;
    version_unref(v);
    ck_assert_int_ge(k, 0);
    return (size_t)k;
}

/* b's local compaction of the rowsets covering versions [from, to] into one. */
static void compact(struct ct_be *b, int64_t from, int64_t to)
{
    struct err e = { 0 };
    size_t i = rowset_ending(b, from), j = rowset_ending(b, to);
    ck_assert_msg(engine_compact_range(b->eng, TID, i, j, &e) == 0, "%s", err_msg(&e));
}

static void read_meta(struct ct_be *b, const char *key, struct remote_meta *m)
{
    struct buf body = BUF_INIT;
    struct err e = { 0 };
    ck_assert_msg(objstore_get_buf(b->os, key, 0, OBJSTORE_TO_END, &body, &e) == 0, "%s: %s", key, err_msg(&e));
    ck_assert_msg(remote_meta_decode(body.data, body.len, key, TID, "res1", m, &e) == 0, "%s", err_msg(&e));
    buf_release(&body);
}

static bool exists(struct ct_be *b, const char *key)
{
    struct objstore_info info;
    struct err e = { 0 };
    return objstore_head(b->os, key, &info, &e) == 0;
}

static uint64_t recuts(struct ct_be *b)
{
    struct cooldown_stats cs;
    cooldown_stats_get(b->cd, &cs);
    return cs.recuts;
}

static int64_t cooled(struct ct_be *b)
{
    struct cooldown_report rep;
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_tablet_report(b->cd, TID, &rep, &e), 0);
    return rep.cooldowned_version;
}

/* One GC round on the uploader u, confirmed at once; returns how many objects went. */
static uint64_t gc_round(struct ct_be *u)
{
    int64_t did;
    size_t nc;
    bool acc;
    uint64_t ndel = 0;
    struct err e = { 0 };
    ck_assert_msg(cooldown_gc_prepare(u->cd, TID, &did, &nc, &e) == 0, "%s", err_msg(&e));
    if (nc == 0)
        return 0;
    ck_assert_msg(cooldown_delete(u->cd, TID, did, &acc, &ndel, &e) == 0, "%s", err_msg(&e));
    ck_assert(acc);
    return ndel;
}

/*
 * A uploads versions up to 6 under term 1 (B never follows). Version 7
 * arrives; B becomes the uploader under term 2 and compacts [5..7] before
 * its first step, across the old meta's last version 6. B re-cuts at 4,
 * keeps [5..7] local, publishes, uploads it; A (holding [5],[6] remotely)
 * follows the new meta; GC removes A's [5],[6] objects and the old meta.
 */
START_TEST(test_recut_own_compaction)
{
    ct_tablet(&A, TID, 6);
    ct_tablet(&B, TID, 6);
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE); /* nothing published yet; B knows its replica id */
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    struct remote_meta m1;
    remote_meta_init(&m1);
    read_meta(&A, "data/30/1001.1.meta", &m1);
    ck_assert_int_eq(m1.cooldowned_version, 6);
    load(&A, 7);
    load(&B, 7);
    push_both(1002, 2);
    compact(&B, 5, 7);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_uint_eq(recuts(&B), 1);
    ct_assert_rows(&B, TID, 7);
    ct_assert_remote_complete(&B, TID);
    ck_assert_int_eq(cooled(&B), 7);
    struct remote_meta m2;
    remote_meta_init(&m2);
    read_meta(&B, "data/30/1002.2.meta", &m2);
    ck_assert_int_eq(m2.cooldowned_version, 7);
    /* the prefix up to 4 is term 1's rowsets, [5..7] is one new rowset */
    size_t keep = 0;
    while (keep < m1.nrowsets && m1.rowsets[keep]->end <= 4)
        keep++;
    ck_assert_uint_eq(m2.nrowsets, keep + 1);
    for (size_t i = 0; i < keep; i++)
        ck_assert_str_eq(m2.rowsets[i]->id, m1.rowsets[i]->id);
    ck_assert_int_eq(m2.rowsets[keep]->start, 5);
    /* term 1's [5],[6] are not referenced by the new meta but still exist (A holds them) */
    for (size_t i = keep; i < m1.nrowsets; i++) {
        char *k = remote_segment_key(TID, m1.rowsets[i]->id, 0);
        ck_assert_msg(exists(&B, k), "%s deleted before the handshake", k);
        free(k);
    }
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 7);
    ct_assert_remote_complete(&A, TID);
    char ma[UUID_STR_LEN], mb[UUID_STR_LEN];
    ct_remote_rowsets(&A, TID, ma);
    ct_remote_rowsets(&B, TID, mb);
    ck_assert_str_eq(ma, mb);
    /* GC: term 1's [5],[6] objects and term 1's meta */
    ck_assert_uint_eq(gc_round(&B), m1.nrowsets - keep + 1);
    ck_assert(!exists(&B, "data/30/1001.1.meta"));
    ct_assert_remote_complete(&A, TID);
    ct_assert_remote_complete(&B, TID);
    ct_assert_rows(&A, TID, 7);
    ct_assert_rows(&B, TID, 7);
    ck_assert_uint_eq(gc_round(&B), 0);
    /* cooling continues */
    load(&A, 8);
    load(&B, 8);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 8);
    ck_assert_int_eq(cooled(&A), 8);
    remote_meta_release(&m1);
    remote_meta_release(&m2);
}
END_TEST

/*
 * The re-cut meta is first published behind what a follower holds remotely
 * (the upload after the re-cut fails): the follower refuses it and keeps
 * its rowsets; once the uploader covers them it follows.
 */
START_TEST(test_recut_follower_behind_then_follows)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    /* C: a plain follower that adopted all of term 1's meta */
    struct ct_be C;
    ct_be_open(&C, tmp, "c", 1003, 0);
    ct_tablet(&A, TID, 6);
    ct_tablet(&B, TID, 6);
    ct_tablet(&C, TID, 6);
    struct err ce = { 0 };
    push_both(1001, 1);
    ck_assert_int_eq(cooldown_push_conf(C.cd, TID, 1001, 1, &ce), 0);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE); /* nothing published yet; B knows its replica id */
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&C, TID), COOLDOWN_ADOPTED);
    ck_assert_int_eq(cooled(&C), 6);
    load(&A, 7);
    load(&B, 7);
    load(&C, 7);
    push_both(1002, 2);
    ck_assert_int_eq(cooldown_push_conf(C.cd, TID, 1002, 2, &ce), 0);
    compact(&B, 5, 7);
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("cooldown.upload=error", &e), 0);
    enum cooldown_action act;
    ck_assert_int_eq(cooldown_tablet_step(B.cd, TID, &act, &e), FLOE_EFAULT);
    fault_clear();
    ck_assert_uint_eq(recuts(&B), 1);
    ck_assert_int_eq(cooled(&B), 4);
    ct_assert_rows(&B, TID, 7);
    ct_assert_remote_complete(&B, TID);
    /* A holds term 1's [5],[6]: the meta ending at 4 is behind, refused, nothing changes */
    ck_assert_int_eq(cooldown_tablet_step(A.cd, TID, &act, &e), FLOE_EBADSTATE);
    ck_assert_int_eq(cooled(&A), 6);
    ct_assert_rows(&A, TID, 7);
    ct_assert_remote_complete(&A, TID);
    ck_assert_int_eq(cooldown_tablet_step(C.cd, TID, &act, &e), FLOE_EBADSTATE);
    ck_assert_int_eq(cooled(&C), 6);
    ct_assert_rows(&C, TID, 7);
    /* the uploader covers [5..7] again under a new rowset id: both follow, nothing lost */
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ck_assert_int_eq(ct_step(&C, TID), COOLDOWN_ADOPTED);
    char mb[UUID_STR_LEN], mc[UUID_STR_LEN];
    ct_remote_rowsets(&B, TID, mb);
    ct_remote_rowsets(&C, TID, mc);
    ck_assert_str_eq(mb, mc);
    for (int i = 0; i < 2; i++) {
        struct ct_be *x = i ? &C : &A;
        ct_assert_rows(x, TID, 7);
        ct_assert_remote_complete(x, TID);
        ck_assert_int_eq(cooled(x), 7);
    }
    /* every replica on the new meta: GC removes term 1's [5],[6] and meta, nothing referenced */
    ck_assert_uint_gt(gc_round(&B), 0);
    for (int i = 0; i < 3; i++) {
        struct ct_be *x = i == 0 ? &A : i == 1 ? &B : &C;
        ct_assert_rows(x, TID, 7);
        ct_assert_remote_complete(x, TID);
    }
    ct_be_close(&C);
}
END_TEST

/*
 * A replica that lacks versions the earlier meta covers never cuts them:
 * misaligned (its compaction) and lagging, it waits and changes nothing;
 * once it has the versions it adopts the meta in full.
 */
START_TEST(test_lagging_replica_waits_then_adopts)
{
    ct_tablet(&A, TID, 6);
    ct_tablet(&B, TID, 5); /* lacks version 6 */
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE); /* nothing published yet; B knows its replica id */
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    push_both(1002, 2);
    compact(&B, 4, 5);
    size_t nobj = ct_count_objects(B.os, TID);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_WAITING);
    ck_assert_uint_eq(recuts(&B), 0);
    ck_assert(!exists(&B, "data/30/1002.2.meta"));
    ck_assert_uint_eq(ct_count_objects(B.os, TID), nobj);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, NULL), 0);
    ct_assert_rows(&B, TID, 5);
    /* GC does not run on a replica that has not published */
    int64_t did;
    size_t nc;
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_gc_prepare(B.cd, TID, &did, &nc, &e), FLOE_EBADSTATE);
    /* version 6 arrives: the meta lines up at 6 and is adopted in full */
    load(&B, 6);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_PUBLISHED);
    ck_assert_uint_eq(recuts(&B), 0);
    ck_assert_int_eq(cooled(&B), 6);
    ct_assert_rows(&B, TID, 6);
    ct_assert_remote_complete(&B, TID);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 6);
}
END_TEST

/*
 * B followed term 1 only up to version 4 (lagging behind A's newest meta,
 * which reaches 6), then becomes the uploader and compacts [5..7]: it
 * re-cuts at its own remote boundary 4 and goes on.
 */
START_TEST(test_meta_lagging_and_misaligned)
{
    ct_tablet(&A, TID, 4);
    ct_tablet(&B, TID, 4);
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE); /* nothing published yet; B knows its replica id */
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    for (int v = 5; v <= 6; v++) {
        load(&A, v);
        load(&B, v);
    }
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    load(&A, 7);
    load(&B, 7);
    push_both(1002, 2);
    compact(&B, 5, 7);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_uint_eq(recuts(&B), 1);
    ct_assert_rows(&B, TID, 7);
    ct_assert_remote_complete(&B, TID);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 7);
    ct_assert_remote_complete(&A, TID);
    ck_assert_uint_gt(gc_round(&B), 0);
    ct_assert_remote_complete(&A, TID);
    ct_assert_remote_complete(&B, TID);
    ct_assert_rows(&A, TID, 7);
    ct_assert_rows(&B, TID, 7);
}
END_TEST

/*
 * B holds remote rowsets beyond the newest earlier meta (it uploaded them
 * under term 1; A re-cut them away under term 2 without B following): as
 * the uploader of term 3 it keeps them (they exist) instead of refusing.
 * With one of their objects gone it reports that and publishes nothing.
 */
static void prepare_own_remote_beyond(void)
{
    ct_tablet(&A, TID, 6);
    ct_tablet(&B, TID, 6);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(B.cd, TID, 1002, 1, &e), 0);
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 1, &e), 0);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_NONE);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED); /* B: [..6] remote */
    load(&A, 7);
    load(&B, 7);
    push_both(1001, 2);
    compact(&A, 5, 7);
    ck_assert_int_eq(fault_set("cooldown.upload=error", &e), 0);
    enum cooldown_action act;
    ck_assert_int_eq(cooldown_tablet_step(A.cd, TID, &act, &e), FLOE_EFAULT);
    fault_clear();
    ck_assert_int_eq(cooled(&A), 4); /* A's term-2 meta ends at 4 */
    push_both(1002, 3);
}

START_TEST(test_recut_keeps_own_remote)
{
    if (!fault_compiled_in())
        return;
    prepare_own_remote_beyond();
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_uint_eq(recuts(&B), 1);
    ck_assert_int_eq(cooled(&B), 7);
    ct_assert_rows(&B, TID, 7);
    ct_assert_remote_complete(&B, TID);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 7);
    ct_assert_remote_complete(&A, TID);
    gc_round(&B);
    ct_assert_remote_complete(&A, TID);
    ct_assert_remote_complete(&B, TID);
    ct_assert_rows(&A, TID, 7);
}
END_TEST

START_TEST(test_recut_refuses_missing_object)
{
    if (!fault_compiled_in())
        return;
    prepare_own_remote_beyond();
    struct version *v;
    struct err e = { 0 };
    ck_assert_int_eq(engine_snapshot(B.eng, TID, &v, &e), 0);
    char *gone = remote_segment_key(TID, v->rowsets[rowset_ending(&B, 6)]->id, 0);
    version_unref(v);
    ck_assert_int_eq(objstore_delete(B.os, gone, &e), 0);
    char before[UUID_STR_LEN], after[UUID_STR_LEN];
    ct_remote_rowsets(&B, TID, before);
    enum cooldown_action act;
    ck_assert_int_eq(cooldown_tablet_step(B.cd, TID, &act, &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), gone));
    ck_assert(!exists(&B, "data/30/1002.3.meta"));
    ct_remote_rowsets(&B, TID, after);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(recuts(&B), 0);
    free(gone);
}
END_TEST

/*
 * Fault loop over the re-cut's steps: after each failure (and a restart of
 * the new uploader) the state is valid; the next step completes the re-cut.
 */
START_TEST(test_recut_faults)
{
    if (!fault_compiled_in())
        return;
    const char *points[] = { "cooldown.recut=once", "cooldown.recut.after_meta_write=once", "cooldown.meta_write=once" };
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        teardown();
        setup();
        ct_tablet(&A, TID, 6);
        ct_tablet(&B, TID, 6);
        push_both(1001, 1);
        ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE);
        ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
        load(&A, 7);
        load(&B, 7);
        push_both(1002, 2);
        compact(&B, 5, 7);
        struct err e = { 0 };
        ck_assert_int_eq(fault_set(points[i], &e), 0);
        enum cooldown_action act;
        int r = cooldown_tablet_step(B.cd, TID, &act, &e);
        ck_assert_msg(r == FLOE_EFAULT, "%s: r=%d %s", points[i], r, err_msg(&e));
        fault_clear();
        ct_assert_rows(&B, TID, 7);
        ct_assert_remote_complete(&B, TID);
        ct_assert_remote_complete(&A, TID);
        ct_be_close(&B);
        ct_be_open(&B, tmp, "b", 1002, 0);
        ct_assert_rows(&B, TID, 7);
        ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
        ct_assert_rows(&B, TID, 7);
        ct_assert_remote_complete(&B, TID);
        ck_assert_int_eq(cooled(&B), 7);
        ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
        ct_assert_rows(&A, TID, 7);
        gc_round(&B);
        ct_assert_remote_complete(&A, TID);
        ct_assert_remote_complete(&B, TID);
        ct_assert_rows(&A, TID, 7);
        ct_assert_rows(&B, TID, 7);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cooldown_recut");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_recut_own_compaction);
    tcase_add_test(tc, test_recut_follower_behind_then_follows);
    tcase_add_test(tc, test_lagging_replica_waits_then_adopts);
    tcase_add_test(tc, test_meta_lagging_and_misaligned);
    tcase_add_test(tc, test_recut_keeps_own_remote);
    tcase_add_test(tc, test_recut_refuses_missing_object);
    tcase_add_test(tc, test_recut_faults);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
