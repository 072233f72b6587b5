/* Unit tests for fe/repair: clone sources, create for never-loaded tablets,
 * migration off decommissioned backends, then the drop. */
#include "fe_fixture.h"
#include "repair.h"

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

START_TEST(clone_from_cooldown_replica)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    int64_t txn;
    ck_assert_int_eq(ops_txn_begin(m, t->id, &txn, &e), 0);
    struct fe_replica *victim = NULL;
    for (int i = 0; i < 3; i++)
        if (tb->replicas[i].id != tb->cooldown_replica_id)
            victim = &tb->replicas[i];
    int64_t lag = victim->id;
    ck_assert_int_eq(ops_publish(m, t->id, txn, &tb->id, 1, &lag, 1, NULL, &e), 0);
    struct repair_task tasks[8];
    size_t n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    /* one version behind: the last publish is sent again first */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(tasks[0].kind, REPAIR_PUBLISH);
    ck_assert_int_eq(tasks[0].txn, txn);
    ck_assert_int_eq(tasks[0].version, 2);
    victim->republished_version = 2;   /* tried once for this version: clone now */
    n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(tasks[0].kind, REPAIR_CLONE);
    ck_assert_int_eq(tasks[0].replica_id, lag);
    ck_assert_int_eq(tasks[0].src_replica_id, tb->cooldown_replica_id);
    ck_assert_int_eq(tasks[0].version, 2);
    /* busy tablets are skipped */
    struct idmap busy = IDMAP_INIT;
    idmap_put(&busy, tb->id, tb);
    ck_assert_uint_eq(repair_plan(&m->cat, FX_NOW, &busy, tasks, 8), 0);
    idmap_release(&busy);
    /* a dead target waits */
    catalog_backend(&m->cat, victim->backend_id)->last_hb_ms = FX_NOW - 60000;
    ck_assert_uint_eq(repair_plan(&m->cat, FX_NOW, NULL, tasks, 8), 0);
}
END_TEST

START_TEST(create_when_never_loaded)
{
    struct fe_table *t = fx_table(m, "a", 1, 2, NULL);
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    tb->replicas[0].state = FE_REPLICA_BAD;
    tb->replicas[1].state = FE_REPLICA_BAD;
    struct repair_task tasks[8];
    size_t n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    ck_assert_uint_eq(n, 2);  /* both replicas in one round */
    ck_assert_int_eq(tasks[0].kind, REPAIR_CREATE);
    ck_assert_int_eq(tasks[1].kind, REPAIR_CREATE);
    /* with data and no healthy peer: nothing can be done */
    tb->version = 3;
    ck_assert_uint_eq(repair_plan(&m->cat, FX_NOW, NULL, tasks, 8), 0);
}
END_TEST

START_TEST(migrate_then_drop)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, NULL);
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    struct err e = { 0 };
    int64_t gone = tb->replicas[0].backend_id;
    ck_assert_int_eq(ops_backend_decommission(m, gone, &e), 0);
    struct repair_task tasks[8];
    size_t n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(tasks[0].kind, REPAIR_MIGRATE);
    ck_assert_int_eq(tasks[0].replica_id, tb->replicas[0].id);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ne(tasks[0].backend_id, tb->replicas[i].backend_id);
    /* the server adds the replica (cloning), the clone finishes, then the drop comes */
    int64_t newid = m->cat.next_id;
    json_t *rec = json_pack("{s:s,s:I,s:I,s:I}", "op", "replica_add", "tablet", (json_int_t)tb->id, "replica",
                            (json_int_t)newid, "backend", (json_int_t)tasks[0].backend_id);
    ck_assert_int_eq(meta_commit(m, rec, &e), 0);
    tb = fx_tablet(m, t, 0);
    n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(tasks[0].kind, REPAIR_CLONE);  /* a cloning replica left by a crash is resumed */
    ck_assert_int_eq(tasks[0].replica_id, newid);
    rec = json_pack("{s:s,s:I,s:I,s:i,s:I}", "op", "replica_state", "tablet", (json_int_t)tb->id, "replica",
                    (json_int_t)newid, "state", 0, "version", (json_int_t)1);
    ck_assert_int_eq(meta_commit(m, rec, &e), 0);
    n = repair_plan(&m->cat, FX_NOW, NULL, tasks, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(tasks[0].kind, REPAIR_DROP);
    ck_assert_int_eq(tasks[0].backend_id, gone);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_repair");
    TCase *tc = tcase_create("repair");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, clone_from_cooldown_replica);
    tcase_add_test(tc, create_when_never_loaded);
    tcase_add_test(tc, migrate_then_drop);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
