/* Unit tests for fe/report: unknown replicas are dropped, missing ones
 * become bad after two reports, bad flags are journaled. */
#include "fe_fixture.h"
#include "report.h"

static char *dir;
static struct fe_meta *m;

static void setup(void)
{
    m = fx_meta(&dir, 3, false);
}

static void teardown(void)
{
    fx_teardown(m, dir);
}

/* a report of every replica the FE placed on backend be */
static size_t build(int64_t be, struct report_tablet *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cat.tablets.cap; i++) {
        struct fe_tablet *t = m->cat.tablets.slots[i].val;
        if (!m->cat.tablets.slots[i].key)
            continue;
        for (int k = 0; k < t->nreplicas && n < max; k++)
            if (t->replicas[k].backend_id == be) {
                memset(&out[n], 0, sizeof(out[n]));
                out[n].tablet_id = t->id;
                out[n].replica_id = t->replicas[k].id;
                out[n].version = 1;
                n++;
            }
    }
    return n;
}

START_TEST(unknown_dropped_missing_bad)
{
    struct fe_table *t = fx_table(m, "a", 4, 3, NULL);
    int64_t be = fx_tablet(m, t, 0)->replicas[0].backend_id;
    struct report_tablet rt[16];
    size_t n = build(be, rt, 16);
    ck_assert_uint_eq(n, 4);
    /* the backend still has a replica of a dropped table */
    memset(&rt[n], 0, sizeof(rt[n]));
    rt[n].tablet_id = 99999;
    rt[n].replica_id = 100000;
    /* and lost the first tablet */
    struct report_tablet lost = rt[0];
    rt[0] = rt[n];
    struct report_result res = { 0 };
    struct err e = { 0 };
    ck_assert_int_eq(report_process(m, be, rt, n, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.ndrops, 1);
    ck_assert_int_eq(res.drops[0].tablet_id, 99999);
    ck_assert_int_eq(res.marked_bad, 0);  /* one miss is not enough */
    report_result_release(&res);
    int64_t seq = m->cat.last_seq;
    ck_assert_int_eq(report_process(m, be, rt, n, true, FX_NOW + 10, &res, NULL, &e), 0);
    ck_assert_int_eq(res.marked_bad, 1);
    ck_assert_int_eq(m->cat.last_seq, seq + 1);
    struct fe_tablet *tb = catalog_tablet(&m->cat, lost.tablet_id);
    ck_assert_int_eq(catalog_replica(tb, lost.replica_id)->state, FE_REPLICA_BAD);
    report_result_release(&res);
    /* survives restart */
    meta_close(m);
    m = fx_open(dir);
    tb = catalog_tablet(&m->cat, lost.tablet_id);
    ck_assert_int_eq(catalog_replica(tb, lost.replica_id)->state, FE_REPLICA_BAD);
}
END_TEST

START_TEST(lost_publish_marks_lagging)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, NULL);
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    int64_t txn;
    ck_assert_int_eq(ops_txn_begin(m, t->id, &txn, &e), 0);
    ck_assert_int_eq(ops_publish(m, t->id, txn, &tb->id, 1, NULL, 0, NULL, &e), 0);
    int64_t be = tb->replicas[0].backend_id;
    struct report_tablet rt[4];
    size_t n = build(be, rt, 4);   /* reports version 1: the publish never reached it */
    struct report_result res = { 0 };
    tb->publish_ms = FX_NOW;       /* just published: maybe still in flight */
    ck_assert_int_eq(report_process(m, be, rt, n, true, FX_NOW + 1000, &res, NULL, &e), 0);
    ck_assert_int_eq(res.marked_lagging, 0);
    report_result_release(&res);
    ck_assert_int_eq(report_process(m, be, rt, n, true, FX_NOW + REPORT_PUBLISH_GRACE_MS + 1, &res, NULL, &e), 0);
    ck_assert_int_eq(res.marked_lagging, 1);
    ck_assert_int_eq(tb->replicas[0].state, FE_REPLICA_LAGGING);
    ck_assert_int_eq(tb->replicas[0].version, 1);
    ck_assert_int_eq(tb->last_txn, txn);
    report_result_release(&res);
    /* the last txn survives a restart (journal) and a checkpoint (image) */
    int64_t id = tb->id;
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_int_eq(catalog_tablet(&m->cat, id)->last_txn, txn);
}
END_TEST

START_TEST(bad_flag_and_sizes)
{
    struct fe_table *t = fx_table(m, "a", 2, 3, NULL);
    int64_t be = fx_tablet(m, t, 0)->replicas[0].backend_id;
    struct report_tablet rt[8];
    size_t n = build(be, rt, 8);
    rt[0].bad = true;
    rt[1].local_bytes = 12345;
    rt[1].remote_bytes = 777;
    rt[1].version = 3;
    struct report_result res = { 0 };
    struct err e = { 0 };
    ck_assert_int_eq(report_process(m, be, rt, n, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_int_eq(res.marked_bad, 1);
    struct fe_tablet *t1 = catalog_tablet(&m->cat, rt[1].tablet_id);
    struct fe_replica *r1 = catalog_replica(t1, rt[1].replica_id);
    ck_assert_int_eq(r1->local_bytes, 12345);
    ck_assert_int_eq(r1->remote_bytes, 777);
    ck_assert_int_eq(r1->rep_version, 3);
    ck_assert_int_eq(r1->rep_ms, FX_NOW);
    report_result_release(&res);
    /* unknown backend */
    ck_assert_int_eq(report_process(m, 4242, rt, n, true, FX_NOW, &res, NULL, &e), FLOE_ENOTFOUND);
    /* a replica reported by the wrong backend is told to drop it */
    int64_t other = fx_tablet(m, t, 0)->replicas[1].backend_id;
    ck_assert_int_eq(report_process(m, other, rt, 1, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.ndrops, 1);
    report_result_release(&res);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_report");
    TCase *tc = tcase_create("report");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, unknown_dropped_missing_bad);
    tcase_add_test(tc, bad_flag_and_sizes);
    tcase_add_test(tc, lost_publish_marks_lagging);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
