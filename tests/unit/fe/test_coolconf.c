/* Unit tests for fe/coolconf: election on attach, each re-election reason,
 * most-caught-up choice, term+1 journaled before the push, re-push on a
 * stale report, retry of a failed push. */
#include "coolconf.h"
#include "fe_fixture.h"
#include "report.h"

static char *dir;
static struct fe_meta *m;

static void setup(void)
{
    m = fx_meta(&dir, 4, true);
}

static void teardown(void)
{
    fx_teardown(m, dir);
}

static struct fe_backend *be_of(struct fe_tablet *t, int64_t replica)
{
    return catalog_backend(&m->cat, catalog_replica(t, replica)->backend_id);
}

START_TEST(elect_on_attach)
{
    struct fe_table *t = fx_table(m, "a", 8, 3, "cool");
    struct fe_table *plain = fx_table(m, "b", 2, 3, NULL);
    for (int b = 0; b < 8; b++) {
        struct fe_tablet *tb = fx_tablet(m, t, b);
        ck_assert_int_eq(tb->cooldown_term, 1);
        ck_assert_ptr_nonnull(catalog_replica(tb, tb->cooldown_replica_id));
        ck_assert(tb->push_needed);
    }
    ck_assert_int_eq(fx_tablet(m, plain, 0)->cooldown_replica_id, 0);
    /* uploads spread within one pass: 8 uploaders over 4 backends, 2 each */
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key)
            ck_assert_int_eq(((struct fe_backend *)m->cat.backends.slots[i].val)->nuploaders, 2);
    /* a steady pass changes nothing */
    struct coolconf_stats st = { 0 };
    struct err e = { 0 };
    int64_t seq = m->cat.last_seq;
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, &st, &e), 0);
    ck_assert_int_eq(st.checked, 8);
    ck_assert_int_eq(m->cat.last_seq, seq);
    /* pushes go to every replica */
    struct coolconf_push_vec pv = { 0 };
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 24);
    ck_assert(!fx_tablet(m, t, 0)->push_needed);
    coolconf_push_vec_release(&pv);
}
END_TEST

START_TEST(timeout_reelects_most_caught_up)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    int64_t old = tb->cooldown_replica_id;
    /* the uploader's backend goes silent; others are alive */
    int64_t now = FX_NOW + 500000;
    fx_heartbeat_all(m, now);
    be_of(tb, old)->last_hb_ms = FX_NOW;
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, now), COOLCONF_KEEP);  /* dead but not past the timeout */
    now = FX_NOW + 600001;
    fx_heartbeat_all(m, now);
    be_of(tb, old)->last_hb_ms = FX_NOW;
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, now), COOLCONF_TIMEOUT);
    /* make one other replica more caught up */
    struct fe_replica *ahead = NULL;
    for (int i = 0; i < tb->nreplicas; i++)
        if (tb->replicas[i].id != old) {
            ahead = &tb->replicas[i];
            ahead->rep_version = 7;
            ahead->rep_ms = now;
            break;
        }
    int64_t ahead_id = ahead->id;
    int64_t seq = m->cat.last_seq;
    tb->push_needed = false;
    struct coolconf_stats st = { 0 };
    struct err e = { 0 };
    ck_assert_int_eq(coolconf_pass(m, 0, now, &st, &e), 1);
    ck_assert_int_eq(st.reelected, 1);
    ck_assert_int_eq(tb->cooldown_replica_id, ahead_id);
    ck_assert_int_eq(tb->cooldown_term, 2);
    ck_assert_int_eq(m->cat.last_seq, seq + 1);   /* journaled ... */
    ck_assert(tb->push_needed);                    /* ... before the push is collected */
}
END_TEST

START_TEST(bad_decommissioned_dropped_reelect)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    /* bad */
    struct fe_replica *cr = catalog_replica(tb, tb->cooldown_replica_id);
    cr->state = FE_REPLICA_BAD;
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, FX_NOW), COOLCONF_BAD);
    int64_t old = tb->cooldown_replica_id;
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), 1);
    ck_assert_int_ne(tb->cooldown_replica_id, old);
    ck_assert_int_eq(tb->cooldown_term, 2);
    /* decommissioned */
    ck_assert_int_eq(ops_backend_decommission(m, be_of(tb, tb->cooldown_replica_id)->id, &e), 0);
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, FX_NOW), COOLCONF_DECOMMISSIONED);
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), 1);
    ck_assert_int_eq(tb->cooldown_term, 3);
    /* dropped */
    old = tb->cooldown_replica_id;
    json_t *rec = json_pack("{s:s,s:I,s:I}", "op", "replica_drop", "tablet", (json_int_t)tb->id, "replica",
                            (json_int_t)old);
    ck_assert_int_eq(meta_commit(m, rec, &e), 0);
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, FX_NOW), COOLCONF_DROPPED);
    /* only the bad replica is left besides... none eligible: conf stays, counted */
    struct coolconf_stats st = { 0 };
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, &st, &e), 0);
    ck_assert_int_eq(st.no_candidate, 1);
    ck_assert_int_eq(tb->cooldown_term, 3);
}
END_TEST

START_TEST(dead_backend_not_elected)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    int64_t now = FX_NOW + 600001;
    fx_heartbeat_all(m, now);
    be_of(tb, tb->cooldown_replica_id)->last_hb_ms = FX_NOW;
    /* a second replica's backend is dead (past backend_dead_after) but not past the timeout */
    struct fe_replica *other = NULL;
    for (int i = 0; i < tb->nreplicas; i++)
        if (tb->replicas[i].id != tb->cooldown_replica_id && !other) {
            other = &tb->replicas[i];
            other->rep_version = 100;  /* most caught up, but dead */
            catalog_backend(&m->cat, other->backend_id)->last_hb_ms = now - 31000;
        }
    struct err e = { 0 };
    ck_assert_int_eq(coolconf_pass(m, 0, now, NULL, &e), 1);
    ck_assert_int_ne(tb->cooldown_replica_id, other->id);
    ck_assert(coolconf_eligible(&m->cat, catalog_replica(tb, tb->cooldown_replica_id), now));
}
END_TEST

START_TEST(stale_report_repushes_and_higher_term_lifts)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    struct report_tablet rt[1];
    struct fe_replica *r0 = &tb->replicas[0];
    memset(rt, 0, sizeof(rt));
    rt[0].tablet_id = tb->id;
    rt[0].replica_id = r0->id;
    rt[0].version = 1;
    rt[0].cooldown_replica_id = 0;  /* never got the push */
    rt[0].cooldown_term = 0;
    struct report_result res = { 0 };
    ck_assert_int_eq(report_process(m, r0->backend_id, rt, 1, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.pushes.n, 1);
    ck_assert_int_eq(res.pushes.v[0].term, 1);
    ck_assert_int_eq(res.pushes.v[0].cooldown_replica_id, tb->cooldown_replica_id);
    ck_assert_int_eq(res.pushes.v[0].backend_id, r0->backend_id);
    report_result_release(&res);
    /* up to date: no push */
    rt[0].cooldown_replica_id = tb->cooldown_replica_id;
    rt[0].cooldown_term = 1;
    ck_assert_int_eq(report_process(m, r0->backend_id, rt, 1, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.pushes.n, 0);
    report_result_release(&res);
    /* a replica claims term 5 (the FE lost state?): the next pass goes above it */
    rt[0].cooldown_term = 5;
    ck_assert_int_eq(report_process(m, r0->backend_id, rt, 1, true, FX_NOW, &res, NULL, &e), 0);
    ck_assert_int_eq(res.term_behind, 1);
    report_result_release(&res);
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, FX_NOW), COOLCONF_TERM_BEHIND);
    int64_t cr = tb->cooldown_replica_id;
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), 1);
    ck_assert_int_eq(tb->cooldown_term, 6);
    ck_assert_int_eq(tb->cooldown_replica_id, cr);  /* same uploader, higher term */
}
END_TEST

/* A replica that missed two term changes (its BE was down) reports its old
 * conf: the FE answers with the current (replica, term); a push that failed
 * is sent again, to that replica only, by the next collect. */
START_TEST(missed_terms_repush_and_failed_push_retries)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    struct coolconf_push_vec pv = { 0 };
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 3);
    coolconf_push_vec_release(&pv);
    int64_t first = tb->cooldown_replica_id;
    /* two re-elections while one replica's backend hears nothing */
    for (int64_t term = 2; term <= 3; term++) {
        catalog_replica(tb, tb->cooldown_replica_id)->state = FE_REPLICA_BAD;
        ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), 1);
        ck_assert_int_eq(tb->cooldown_term, term);
    }
    for (int k = 0; k < tb->nreplicas; k++)
        tb->replicas[k].state = FE_REPLICA_NORMAL;
    ck_assert_int_ne(tb->cooldown_replica_id, first);
    /* every push of term 3 failed except the one to the new uploader's backend */
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 3);
    int failed = 0;
    for (size_t i = 0; i < pv.n; i++) {
        ck_assert_int_eq(pv.v[i].term, 3);
        if (pv.v[i].backend_id != be_of(tb, tb->cooldown_replica_id)->id)
            failed += coolconf_push_failed(&m->cat, &pv.v[i]);
    }
    ck_assert_int_eq(failed, 2);
    coolconf_push_vec_release(&pv);
    ck_assert(!tb->push_needed);
    /* the next pass elects nothing but sends the two failed pushes again */
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), 0);
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 2);
    for (size_t i = 0; i < pv.n; i++) {
        ck_assert_int_ne(pv.v[i].backend_id, be_of(tb, tb->cooldown_replica_id)->id);
        ck_assert_int_eq(pv.v[i].term, 3);
        ck_assert_int_eq(pv.v[i].cooldown_replica_id, tb->cooldown_replica_id);
    }
    /* delivered this time: nothing left */
    coolconf_push_vec_release(&pv);
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 0);
    /* a failure of a push of an older conf marks nothing (a newer one is on its way) */
    struct coolconf_push old = { .backend_id = be_of(tb, first)->id, .tablet_id = tb->id,
                                 .cooldown_replica_id = first, .term = 1 };
    ck_assert_int_eq(coolconf_push_failed(&m->cat, &old), 0);
    coolconf_collect_pushes(&m->cat, &pv);
    ck_assert_uint_eq(pv.n, 0);
    /* the replica still at term 1 reports: the reply carries the FE's conf */
    struct fe_replica *stale = catalog_replica(tb, first);
    struct report_tablet rt[1];
    memset(rt, 0, sizeof(rt));
    rt[0].tablet_id = tb->id;
    rt[0].replica_id = stale->id;
    rt[0].version = 1;
    rt[0].cooldown_replica_id = first;
    rt[0].cooldown_term = 1;
    struct report_result res = { 0 };
    ck_assert_int_eq(report_process(m, stale->backend_id, rt, 1, false, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.pushes.n, 1);
    ck_assert_int_eq(res.pushes.v[0].backend_id, stale->backend_id);
    ck_assert_int_eq(res.pushes.v[0].cooldown_replica_id, tb->cooldown_replica_id);
    ck_assert_int_eq(res.pushes.v[0].term, 3);
    ck_assert_int_eq(res.term_behind, 0);
    report_result_release(&res);
    /* a lower term with the right replica id is stale too */
    rt[0].cooldown_replica_id = tb->cooldown_replica_id;
    rt[0].cooldown_term = 2;
    ck_assert_int_eq(report_process(m, stale->backend_id, rt, 1, false, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.pushes.n, 1);
    ck_assert_int_eq(res.pushes.v[0].term, 3);
    report_result_release(&res);
    /* once it reports term 3 nothing more is sent and no election follows */
    rt[0].cooldown_term = 3;
    ck_assert_int_eq(report_process(m, stale->backend_id, rt, 1, false, FX_NOW, &res, NULL, &e), 0);
    ck_assert_uint_eq(res.pushes.n, 0);
    report_result_release(&res);
    ck_assert_int_eq(coolconf_decide(&m->cat, tb, FX_NOW), COOLCONF_KEEP);
}
END_TEST

START_TEST(failed_journal_means_no_election)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    catalog_replica(tb, tb->cooldown_replica_id)->state = FE_REPLICA_BAD;
    meta_step_down(m);
    struct err e = { 0 };
    int64_t cr = tb->cooldown_replica_id;
    tb->push_needed = false;
    ck_assert_int_eq(coolconf_pass(m, 0, FX_NOW, NULL, &e), FLOE_ENOTMASTER);
    ck_assert_int_eq(tb->cooldown_replica_id, cr);
    ck_assert_int_eq(tb->cooldown_term, 1);
    ck_assert(!tb->push_needed);  /* nothing to push: the term was not journaled */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_coolconf");
    TCase *tc = tcase_create("coolconf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, elect_on_attach);
    tcase_add_test(tc, timeout_reelects_most_caught_up);
    tcase_add_test(tc, bad_decommissioned_dropped_reelect);
    tcase_add_test(tc, dead_backend_not_elected);
    tcase_add_test(tc, stale_report_repushes_and_higher_term_lifts);
    tcase_add_test(tc, missed_terms_repush_and_failed_push_retries);
    tcase_add_test(tc, failed_journal_means_no_election);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
