/*
 * Unit tests of cooldown: two backends (uploader and follower) in one
 * process against the local object store driver.
 */
#include "cooldown_testutil.h"

#include "fault.h"
#include "metrics.h"

#include <pthread.h>
#include <unistd.h>

#define TID 10

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

static size_t local_files(struct ct_be *b)
{
    char *d = xasprintf("%s/data/%d", b->root, TID);
    size_t n = bt_count_files(d);
    free(d);
    return n;
}

START_TEST(test_conf_terms)
{
    ct_tablet(&A, TID, 2);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1001, 3, &e), 0);
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 3, &e), FLOE_ESTALE_TERM);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "term 3"));
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 2, &e), FLOE_ESTALE_TERM);
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 0, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(cooldown_push_conf(A.cd, 999, 1002, 5, &e), FLOE_ENOTFOUND);
    struct cooldown_report rep;
    ck_assert_int_eq(cooldown_tablet_report(A.cd, TID, &rep, &e), 0);
    ck_assert_int_eq(rep.cooldown_term, 3);
    ck_assert_int_eq(rep.cooldown_replica_id, 1001);
    ck_assert_str_eq(rep.storage_policy, "p1");
    /* persisted: survives a restart */
    ct_be_close(&A);
    ct_be_open(&A, tmp, "a", 1001, 0);
    ck_assert_int_eq(cooldown_tablet_report(A.cd, TID, &rep, &e), 0);
    ck_assert_int_eq(rep.cooldown_term, 3);
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 3, &e), FLOE_ESTALE_TERM);
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 4, &e), 0);
    /* bad policies */
    ck_assert_int_eq(cooldown_set_policy(A.cd, TID, "p", NULL, 0, 1, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(cooldown_set_policy(A.cd, TID, "p", "r", -1, 0, &e), FLOE_EBADINPUT);
}
END_TEST

START_TEST(test_upload_and_follow)
{
    ct_tablet(&A, TID, 4);
    ct_tablet(&B, TID, 4);
    push_both(1001, 1);
    ck_assert_uint_gt(local_files(&A), 0);
    /* the follower does nothing before the uploader published */
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ct_assert_rows(&A, TID, 4);
    ct_assert_remote_complete(&A, TID);
    char mida[UUID_STR_LEN], midb[UUID_STR_LEN];
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, mida), 4);
    ck_assert_uint_eq(local_files(&A), 0);
    struct objstore_info info;
    struct err e = { 0 };
    ck_assert_int_eq(objstore_head(A.os, "data/10/1001.1.meta", &info, &e), 0);
    struct objstore_stats sb0, sb1;
    objstore_stats_get(B.os, &sb0);
    size_t nobj = ct_count_objects(A.os, TID);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&B, TID, 4);
    ct_assert_remote_complete(&B, TID);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, midb), 4);
    ck_assert_str_eq(mida, midb);
    ck_assert_uint_eq(local_files(&B), 0);
    /* an idle follower costs one conditional request and writes nothing */
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_NONE);
    struct cooldown_stats cs;
    cooldown_stats_get(B.cd, &cs);
    ck_assert_uint_eq(cs.follows_not_modified, 1);
    ck_assert_uint_eq(cs.follows_adopted, 1);
    objstore_stats_get(B.os, &sb1);
    ck_assert_uint_eq(sb1.requests[OBJSTORE_OP_PUT], sb0.requests[OBJSTORE_OP_PUT]);
    ck_assert_uint_eq(sb1.requests[OBJSTORE_OP_DELETE], sb0.requests[OBJSTORE_OP_DELETE]);
    ck_assert_uint_eq(ct_count_objects(A.os, TID), nobj);
    /* a new version cools down on its own */
    struct schema *s = bt_schema(KEY_DUPLICATE);
    bt_load(A.eng, TID, 105, 5, s, 3000, 4000, 5);
    bt_load(B.eng, TID, 105, 5, s, 3000, 4000, 5);
    schema_unref(s);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 5);
    ct_assert_rows(&B, TID, 5);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, NULL), 5);
    /* reads go through the cache: a second scan fetches nothing */
    struct file_cache_stats f0, f1;
    file_cache_stats_get(B.cache, &f0);
    ct_assert_rows(&B, TID, 5);
    file_cache_stats_get(B.cache, &f1);
    ck_assert_uint_eq(f1.bytes_fetched, f0.bytes_fetched);
    ck_assert_uint_gt(f1.hits, f0.hits);
    /* and after a restart of the follower (cache and meta survive) */
    ct_be_close(&B);
    ct_be_open(&B, tmp, "b", 1002, 0);
    file_cache_stats_get(B.cache, &f0);
    ct_assert_rows(&B, TID, 5);
    file_cache_stats_get(B.cache, &f1);
    ck_assert_uint_eq(f1.bytes_fetched, 0);
    cooldown_stats_get(A.cd, &cs);
    ck_assert_uint_gt(cs.uploaded_objects, 0);
    ck_assert_uint_eq(cs.metas_written, 3);
}
END_TEST

START_TEST(test_follower_waits_and_refuses)
{
    ct_tablet(&A, TID, 4);
    ct_tablet(&B, TID, 3); /* lagging one version */
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_WAITING);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, NULL), 0);
    ct_assert_rows(&B, TID, 3);
    /* the meta is not fetched again (etag) but still adopted once B catches up */
    struct schema *s = bt_schema(KEY_DUPLICATE);
    bt_load(B.eng, TID, 104, 4, s, 2000, 3000, 4);
    schema_unref(s);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&B, TID, 4);
    /* a meta that would drop remote rowsets B holds is refused; nothing changes */
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(B.cd, TID, 1003, 2, &e), 0);
    struct remote_meta m;
    remote_meta_init(&m);
    m.tablet_id = TID;
    m.replica_id = 1003;
    m.term = 2;
    ck_assert_int_eq(uuid_new_str(m.cooldown_meta_id), 0);
    struct buf b = BUF_INIT;
    ck_assert_int_eq(remote_meta_encode(&m, &b, &e), 0);
    ck_assert_int_eq(objstore_put(B.os, "data/10/1003.2.meta", b.data, b.len, &e), 0);
    char before[UUID_STR_LEN], after[UUID_STR_LEN];
    ct_remote_rowsets(&B, TID, before);
    enum cooldown_action act;
    ck_assert_int_eq(cooldown_tablet_step(B.cd, TID, &act, &e), FLOE_EBADSTATE);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "refusing"));
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, after), 4);
    ck_assert_str_eq(before, after);
    struct cooldown_stats cs;
    cooldown_stats_get(B.cd, &cs);
    ck_assert_uint_eq(cs.follows_refused, 1);
    /* a corrupt meta: one clear error, nothing changed */
    ck_assert_int_eq(objstore_put(B.os, "data/10/1003.2.meta", "{\"format\":1", 11, &e), 0);
    ck_assert_int_eq(cooldown_tablet_step(B.cd, TID, &act, &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "data/10/1003.2.meta"));
    ct_remote_rowsets(&B, TID, after);
    ck_assert_str_eq(before, after);
    ct_assert_rows(&B, TID, 4);
    remote_meta_release(&m);
    buf_release(&b);
}
END_TEST

struct step_th {
    struct ct_be *b;
    int r;
    struct err e;
};

static void *step_main(void *arg)
{
    struct step_th *t = arg;
    enum cooldown_action a;
    t->r = cooldown_tablet_step(t->b->cd, TID, &a, &t->e);
    return NULL;
}

START_TEST(test_stale_term_cannot_publish)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    ct_tablet(&A, TID, 3);
    ct_tablet(&B, TID, 3);
    push_both(1001, 1);
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("cooldown.upload=delay:300", &e), 0);
    struct step_th th = { &A, 0, { 0 } };
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, step_main, &th), 0);
    int64_t deadline = mono_now_ms() + 20000;
    while (fault_hits("cooldown.upload") == 0 && mono_now_ms() < deadline)
        usleep(1000);
    ck_assert_uint_gt(fault_hits("cooldown.upload"), 0);
    /* a newer term arrives while the upload runs */
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1002, 2, &e), 0);
    pthread_join(tid, NULL);
    fault_clear();
    ck_assert_int_eq(th.r, FLOE_ESTALE_TERM);
    /* the term-1 meta lists nothing; the uploaded objects are gone; A keeps its local data */
    struct buf b = BUF_INIT;
    ck_assert_int_eq(objstore_get_buf(A.os, "data/10/1001.1.meta", 0, OBJSTORE_TO_END, &b, &e), 0);
    struct remote_meta m;
    ck_assert_int_eq(remote_meta_decode(b.data, b.len, "m", TID, "res1", &m, &e), 0);
    ck_assert_uint_eq(m.nrowsets, 0);
    remote_meta_release(&m);
    buf_release(&b);
    ck_assert_uint_eq(ct_count_objects(A.os, TID), 1);
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, NULL), 0);
    ct_assert_rows(&A, TID, 3);
    struct version *v;
    ck_assert_int_eq(engine_snapshot(A.eng, TID, &v, &e), 0);
    ck_assert_uint_eq(v->cd.n_upload_intents, 0);
    version_unref(v);
    /* the new uploader takes over */
    ck_assert_int_eq(cooldown_push_conf(B.cd, TID, 1002, 2, &e), 0);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_rows(&A, TID, 3);
    ct_assert_remote_complete(&A, TID);
}
END_TEST

START_TEST(test_new_term_adopts_and_gc)
{
    ct_tablet(&A, TID, 4);
    ct_tablet(&B, TID, 4);
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    /* B becomes the uploader under term 2: it adopts term 1's meta (already did) and publishes its own */
    push_both(1002, 2);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_PUBLISHED);
    struct objstore_info info;
    struct err e = { 0 };
    ck_assert_int_eq(objstore_head(B.os, "data/10/1002.2.meta", &info, &e), 0);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    char ma[UUID_STR_LEN], mb[UUID_STR_LEN];
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, ma), 4);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, mb), 4);
    ck_assert_str_eq(ma, mb);
    /* A is no longer the uploader: it cannot prepare GC */
    int64_t did;
    size_t nc;
    ck_assert_int_eq(cooldown_gc_prepare(A.cd, TID, &did, &nc, &e), FLOE_EBADSTATE);
    /* an orphan object (a failed upload) and the old-term meta become candidates */
    char oid[UUID_STR_LEN];
    ck_assert_int_eq(uuid_new_str(oid), 0);
    char *okey = remote_segment_key(TID, oid, 0);
    ck_assert_int_eq(objstore_put(B.os, okey, "x", 1, &e), 0);
    size_t before = ct_count_objects(B.os, TID);
    ck_assert_int_eq(cooldown_gc_prepare(B.cd, TID, &did, &nc, &e), 0);
    ck_assert_uint_eq(nc, 2);
    ck_assert_int_gt(did, 0);
    struct cooldown_report rep;
    ck_assert_int_eq(cooldown_tablet_report(B.cd, TID, &rep, &e), 0);
    ck_assert_int_eq(rep.delete_id, did);
    ck_assert_uint_eq(rep.delete_candidates, 2);
    ck_assert_int_eq(rep.cooldowned_version, 4);
    /* a wrong delete id deletes nothing */
    bool acc;
    uint64_t ndel;
    ck_assert_int_eq(cooldown_delete(B.cd, TID, did + 1, &acc, &ndel, &e), 0);
    ck_assert(!acc);
    ck_assert_uint_eq(ct_count_objects(B.os, TID), before);
    ck_assert_int_eq(cooldown_delete(B.cd, TID, did, &acc, &ndel, &e), 0);
    ck_assert(acc);
    ck_assert_uint_eq(ndel, 2);
    ck_assert_uint_eq(ct_count_objects(B.os, TID), before - 2);
    ck_assert_int_eq(objstore_head(B.os, okey, &info, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(objstore_head(B.os, "data/10/1001.1.meta", &info, &e), FLOE_ENOTFOUND);
    /* the same id again is not accepted */
    ck_assert_int_eq(cooldown_delete(B.cd, TID, did, &acc, &ndel, &e), 0);
    ck_assert(!acc);
    ct_assert_remote_complete(&A, TID);
    ct_assert_remote_complete(&B, TID);
    ct_assert_rows(&A, TID, 4);
    ct_assert_rows(&B, TID, 4);
    /* nothing left to collect */
    ck_assert_int_eq(cooldown_gc_prepare(B.cd, TID, &did, &nc, &e), 0);
    ck_assert_uint_eq(nc, 0);
    ck_assert_int_eq(did, 0);
    free(okey);
}
END_TEST

START_TEST(test_gc_grace_protects)
{
    ct_be_close(&A);
    ct_be_open(&A, tmp, "a", 1001, 3600 * 1000);
    ct_tablet(&A, TID, 3);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1001, 1, &e), 0);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    char oid[UUID_STR_LEN];
    ck_assert_int_eq(uuid_new_str(oid), 0);
    char *okey = remote_segment_key(TID, oid, 0);
    ck_assert_int_eq(objstore_put(A.os, okey, "x", 1, &e), 0);
    int64_t did;
    size_t nc;
    ck_assert_int_eq(cooldown_gc_prepare(A.cd, TID, &did, &nc, &e), 0);
    ck_assert_uint_eq(nc, 0);
    free(okey);
}
END_TEST

START_TEST(test_cold_compaction)
{
    ct_tablet(&A, TID, 6);
    ct_tablet(&B, TID, 6);
    push_both(1001, 1);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, NULL), 6);
    struct err e = { 0 };
    bool done;
    /* followers never cold-compact */
    ck_assert_int_eq(cooldown_cold_compact(B.cd, TID, 3, &done, &e), FLOE_EBADSTATE);
    ck_assert_int_eq(cooldown_cold_compact(A.cd, TID, 10, &done, &e), 0);
    ck_assert(!done);
    /* hold a snapshot across the compaction: GC must keep its objects */
    struct version *held;
    ck_assert_int_eq(engine_snapshot(A.eng, TID, &held, &e), 0);
    ck_assert_int_eq(cooldown_cold_compact(A.cd, TID, 3, &done, &e), 0);
    ck_assert(done);
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, NULL), 1);
    ct_assert_rows(&A, TID, 6);
    ct_assert_remote_complete(&A, TID);
    ck_assert_uint_eq(local_files(&A), 0);
    ck_assert_int_eq(ct_step(&B, TID), COOLDOWN_ADOPTED);
    ck_assert_uint_eq(ct_remote_rowsets(&B, TID, NULL), 1);
    ct_assert_rows(&B, TID, 6);
    int64_t did;
    size_t nc;
    ck_assert_int_eq(cooldown_gc_prepare(A.cd, TID, &did, &nc, &e), 0);
    ck_assert_uint_eq(nc, 0); /* the old objects are held by the snapshot */
    version_unref(held);
    ck_assert_int_eq(cooldown_gc_prepare(A.cd, TID, &did, &nc, &e), 0);
    ck_assert_uint_gt(nc, 0);
    bool acc;
    uint64_t ndel;
    ck_assert_int_eq(cooldown_delete(A.cd, TID, did, &acc, &ndel, &e), 0);
    ck_assert(acc);
    ct_assert_remote_complete(&A, TID);
    ct_assert_remote_complete(&B, TID);
    ct_assert_rows(&B, TID, 6);
}
END_TEST

START_TEST(test_follower_keeps_cold_rowsets)
{
    ct_tablet(&B, TID, 8);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(B.cd, TID, 1001, 1, &e), 0);
    bool done = true;
    ck_assert_int_eq(engine_compact(B.eng, TID, COMPACTION_CUMULATIVE, &done, &e), 0);
    ck_assert(!done);
    ck_assert_int_eq(engine_compact(B.eng, TID, COMPACTION_BASE, &done, &e), 0);
    ck_assert(!done);
}
END_TEST

START_TEST(test_drop_last_replica)
{
    ct_tablet(&A, TID, 3);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1001, 1, &e), 0);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    ck_assert_uint_gt(ct_count_objects(A.os, TID), 1);
    /* object store requests by kind reach the metrics */
    resource_export_metrics(A.reg);
    struct metric *puts = metrics_counter("floe_objstore_requests_total{resource=\"res1\",kind=\"put\"}", "x");
    int64_t p0 = metrics_get(puts);
    ck_assert_int_gt(p0, 0);
    resource_export_metrics(A.reg);
    ck_assert_int_eq(metrics_get(puts), p0);
    ck_assert_int_eq(cooldown_drop_tablet(A.cd, TID, true, &e), 0);
    ck_assert_uint_eq(ct_count_objects(A.os, TID), 0);
    ck_assert_int_eq(cooldown_drop_tablet(A.cd, TID, true, &e), FLOE_ENOTFOUND);
}
END_TEST

/* A report dropped the replica locally before the FE's drop of the last replica arrived: the prefix still goes. */
START_TEST(test_drop_last_replica_already_dropped)
{
    ct_tablet(&A, TID, 3);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1001, 1, &e), 0);
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_UPLOADED);
    size_t n = ct_count_objects(A.os, TID);
    ck_assert_uint_gt(n, 1);
    ck_assert_int_eq(cooldown_drop_tablet(A.cd, TID, false, &e), 0);
    ck_assert_uint_eq(ct_count_objects(A.os, TID), n);
    ck_assert_int_eq(cooldown_drop_tablet(A.cd, TID, true, &e), FLOE_ENOTFOUND);
    ck_assert_uint_eq(ct_count_objects(A.os, TID), 0);
    /* a tablet this backend never held: nothing to delete, still not found */
    ck_assert_int_eq(cooldown_drop_tablet(A.cd, TID + 1, true, &e), FLOE_ENOTFOUND);
}
END_TEST

START_TEST(test_upload_failure_cleans_up)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    ct_tablet(&A, TID, 4);
    struct err e = { 0 };
    ck_assert_int_eq(cooldown_push_conf(A.cd, TID, 1001, 1, &e), 0);
    const char *points[] = { "cooldown.upload=nth:2", "cooldown.after_upload=once", "cooldown.intent=once",
                             "cooldown.meta_write=once", "cooldown.local_swap=once" };
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        fault_clear();
        ck_assert_int_eq(fault_set(points[i], &e), 0);
        enum cooldown_action a;
        int r = cooldown_tablet_step(A.cd, TID, &a, &e);
        ck_assert_msg(r == FLOE_EFAULT, "%s: r=%d %s", points[i], r, err_msg(&e));
        fault_clear();
        /* state valid after each failure: rows intact, nothing referenced is missing */
        ct_assert_rows(&A, TID, 4);
        if (strstr(points[i], "local_swap") == NULL && strstr(points[i], "meta_write") == NULL)
            ct_assert_remote_complete(&A, TID);
        if (i + 1 < sizeof(points) / sizeof(points[0]))
            ck_assert_uint_eq(ct_remote_rowsets(&A, TID, NULL), 0);
    }
    /* the next step recovers: it adopts the meta written before the failed swap */
    ck_assert_int_eq(ct_step(&A, TID), COOLDOWN_ADOPTED);
    ct_assert_remote_complete(&A, TID);
    ct_assert_rows(&A, TID, 4);
    ck_assert_uint_eq(ct_remote_rowsets(&A, TID, NULL), 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cooldown");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_conf_terms);
    tcase_add_test(tc, test_upload_and_follow);
    tcase_add_test(tc, test_follower_waits_and_refuses);
    tcase_add_test(tc, test_stale_term_cannot_publish);
    tcase_add_test(tc, test_new_term_adopts_and_gc);
    tcase_add_test(tc, test_gc_grace_protects);
    tcase_add_test(tc, test_cold_compaction);
    tcase_add_test(tc, test_follower_keeps_cold_rowsets);
    tcase_add_test(tc, test_drop_last_replica);
    tcase_add_test(tc, test_drop_last_replica_already_dropped);
    tcase_add_test(tc, test_upload_failure_cleans_up);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
