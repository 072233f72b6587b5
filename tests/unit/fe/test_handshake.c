/* Unit tests for fe/handshake: a confirmation and every refusal reason. */
#include "fe_fixture.h"
#include "handshake.h"
#include "fault.h"
#include "journal.h"
#include "report.h"

static char *dir;
static struct fe_meta *m;
static struct fe_tablet *tb;
static const char *META = "0d7c1b0e-8f7a-4c49-9d43-3f1f5e8e2a11";
static const int64_t DEL = 77001;

/* every replica reports the conf, META and cooldowned version 4 */
static void all_report(int64_t now)
{
    for (int i = 0; i < tb->nreplicas; i++) {
        struct fe_replica *r = &tb->replicas[i];
        r->rep_ms = now;
        r->rep_cooldown_replica_id = tb->cooldown_replica_id;
        r->rep_cooldown_term = tb->cooldown_term;
        r->rep_cooldowned_version = 4;
        snprintf(r->rep_meta_id, sizeof(r->rep_meta_id), "%s", META);
    }
}

static struct hs_request req(void)
{
    struct hs_request rq = { .tablet_id = tb->id, .replica_id = tb->cooldown_replica_id,
                             .term = tb->cooldown_term, .cooldowned_version = 4, .meta_id = META,
                             .delete_id = DEL };
    return rq;
}

static struct fe_replica *follower(void)
{
    for (int i = 0; i < tb->nreplicas; i++)
        if (tb->replicas[i].id != tb->cooldown_replica_id)
            return &tb->replicas[i];
    return NULL;
}

static void setup(void)
{
    m = fx_meta(&dir, 3, true);
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    tb = fx_tablet(m, t, 0);
    all_report(FX_NOW);
}

static void teardown(void)
{
    fx_teardown(m, dir);
}

START_TEST(confirm_is_journaled)
{
    struct hs_stats st = { 0 };
    struct hs_request rq = req();
    int64_t seq = m->cat.last_seq;
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_CONFIRMED);
    ck_assert_int_eq(st.confirmed, 1);
    ck_assert_int_eq(m->cat.last_seq, seq + 1);
    /* the record is in the journal and survives a restart */
    meta_close(m);
    char *jp = xasprintf("%s/journal.log", dir);
    struct buf b = BUF_INIT;
    struct err e = { 0 };
    ck_assert_int_eq(fs_read_file(jp, &b, 1 << 20, &e), 0);
    ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "\"op\":\"delete_confirm\""));
    ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "\"delete_id\":77001"));
    buf_release(&b);
    free(jp);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.last_seq, seq + 1);
}
END_TEST

static void expect(enum hs_reason want)
{
    struct hs_stats st = { 0 };
    struct hs_request rq = req();
    int64_t seq = m->cat.last_seq;
    enum hs_reason got = handshake_handle(m, &rq, FX_NOW, &st);
    ck_assert_msg(got == want, "got %s, want %s", handshake_reason_name(got), handshake_reason_name(want));
    ck_assert_int_eq(st.confirmed, 0);
    ck_assert_int_eq(st.refused[want], 1);
    ck_assert_int_eq(m->cat.last_seq, seq);  /* a refusal journals nothing */
}

START_TEST(refuse_not_master)
{
    meta_step_down(m);
    expect(HS_NOT_MASTER);
}
END_TEST

START_TEST(refuse_unknown_tablet)
{
    struct hs_request rq = req();
    rq.tablet_id = 424242;
    struct hs_stats st = { 0 };
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_UNKNOWN_TABLET);
    ck_assert_int_eq(st.refused[HS_UNKNOWN_TABLET], 1);
}
END_TEST

START_TEST(refuse_no_conf)
{
    struct fe_table *t = fx_table(m, "plain", 1, 3, NULL);
    struct hs_request rq = req();
    rq.tablet_id = t->tablet_ids[0];
    ck_assert_int_eq(handshake_check(m, &rq, FX_NOW), HS_NO_CONF);
}
END_TEST

START_TEST(refuse_not_cooldown_replica)
{
    struct hs_request rq = req();
    rq.replica_id = follower()->id;
    struct hs_stats st = { 0 };
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_NOT_COOLDOWN_REPLICA);
    ck_assert_int_eq(st.refused[HS_NOT_COOLDOWN_REPLICA], 1);
}
END_TEST

START_TEST(refuse_stale_term)
{
    /* a new term was elected after the reporter formed its candidate set */
    json_t *rec = json_pack("{s:s,s:[[I,I,I]]}", "op", "cooldown_conf", "confs", (json_int_t)tb->id,
                            (json_int_t)tb->cooldown_replica_id, (json_int_t)2);
    struct err e = { 0 };
    struct hs_request rq = req();  /* term 1 */
    ck_assert_int_eq(meta_commit(m, rec, &e), 0);
    ck_assert_int_eq(handshake_check(m, &rq, FX_NOW), HS_STALE_TERM);
    struct hs_stats st = { 0 };
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_STALE_TERM);
    ck_assert_int_eq(st.refused[HS_STALE_TERM], 1);
}
END_TEST

START_TEST(refuse_replica_dead)
{
    catalog_backend(&m->cat, follower()->backend_id)->last_hb_ms = FX_NOW - 31000;
    expect(HS_REPLICA_DEAD);
}
END_TEST

START_TEST(refuse_replica_bad)
{
    follower()->state = FE_REPLICA_LAGGING;
    expect(HS_REPLICA_BAD);
}
END_TEST

START_TEST(refuse_replica_silent)
{
    follower()->rep_ms = 0;  /* not reported since the FE started */
    expect(HS_REPLICA_SILENT);
    follower()->rep_ms = FX_NOW - 31000;  /* too long ago */
    expect(HS_REPLICA_SILENT);
}
END_TEST

START_TEST(refuse_term_mismatch)
{
    follower()->rep_cooldown_term = 0;  /* has not taken the push yet */
    expect(HS_TERM_MISMATCH);
}
END_TEST

START_TEST(refuse_meta_mismatch)
{
    snprintf(follower()->rep_meta_id, UUID_STR_LEN, "%s", "11111111-2222-4333-8444-555555555555");
    expect(HS_META_MISMATCH);
}
END_TEST

START_TEST(refuse_version_mismatch)
{
    follower()->rep_cooldowned_version = 3;  /* still follows an older meta */
    expect(HS_VERSION_MISMATCH);
}
END_TEST

START_TEST(refuse_journal_failed)
{
    struct err e = { 0 };
    if (!fault_compiled_in())
        return;
    ck_assert_int_eq(fault_set("journal.write=once", &e), 0);
    struct hs_stats st = { 0 };
    struct hs_request rq = req();
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_JOURNAL_FAILED);
    ck_assert_int_eq(st.refused[HS_JOURNAL_FAILED], 1);
    ck_assert(!m->master);  /* and it will not confirm again */
    ck_assert_int_eq(handshake_handle(m, &rq, FX_NOW, &st), HS_NOT_MASTER);
    fault_clear();
}
END_TEST

START_TEST(report_runs_handshake)
{
    /* the cooldown replica reports a delete_id; all others already agree */
    struct fe_replica *cr = catalog_replica(tb, tb->cooldown_replica_id);
    struct report_tablet rt;
    memset(&rt, 0, sizeof(rt));
    rt.tablet_id = tb->id;
    rt.replica_id = cr->id;
    rt.version = 1;
    rt.cooldown_replica_id = cr->id;
    rt.cooldown_term = tb->cooldown_term;
    rt.cooldowned_version = 4;
    snprintf(rt.meta_id, sizeof(rt.meta_id), "%s", META);
    rt.delete_id = DEL;
    struct report_result res = { 0 };
    struct hs_stats st = { 0 };
    struct err e = { 0 };
    ck_assert_int_eq(report_process(m, cr->backend_id, &rt, 1, true, FX_NOW, &res, &st, &e), 0);
    ck_assert_uint_eq(res.ndeletes, 1);
    ck_assert_int_eq(res.deletes[0].delete_id, DEL);
    ck_assert_int_eq(res.deletes[0].term, tb->cooldown_term);
    ck_assert_int_eq(st.confirmed, 1);
    report_result_release(&res);
    /* a follower with a different meta: refused, nothing to send */
    snprintf(follower()->rep_meta_id, UUID_STR_LEN, "%s", "11111111-2222-4333-8444-555555555555");
    ck_assert_int_eq(report_process(m, cr->backend_id, &rt, 1, true, FX_NOW, &res, &st, &e), 0);
    ck_assert_uint_eq(res.ndeletes, 0);
    ck_assert_int_eq(st.refused[HS_META_MISMATCH], 1);
    report_result_release(&res);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_handshake");
    TCase *tc = tcase_create("handshake");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, confirm_is_journaled);
    tcase_add_test(tc, refuse_not_master);
    tcase_add_test(tc, refuse_unknown_tablet);
    tcase_add_test(tc, refuse_no_conf);
    tcase_add_test(tc, refuse_not_cooldown_replica);
    tcase_add_test(tc, refuse_stale_term);
    tcase_add_test(tc, refuse_replica_dead);
    tcase_add_test(tc, refuse_replica_bad);
    tcase_add_test(tc, refuse_replica_silent);
    tcase_add_test(tc, refuse_term_mismatch);
    tcase_add_test(tc, refuse_meta_mismatch);
    tcase_add_test(tc, refuse_version_mismatch);
    tcase_add_test(tc, refuse_journal_failed);
    tcase_add_test(tc, report_runs_handshake);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
