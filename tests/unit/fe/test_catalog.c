/* Unit tests for fe/catalog, fe/ops and fe/placement: schema text, input
 * validation, balanced placement, ids, master epochs, remote delete pending
 * entries of dropped tables. */
#include "coolconf.h"
#include "fe_fixture.h"
#include "placement.h"

static char *dir;

static void setup(void)
{
    dir = fx_tmpdir();
}

static void teardown(void)
{
    fx_teardown(NULL, dir);
}

START_TEST(schema_parse_good)
{
    struct fe_schema s;
    struct err e = { 0 };
    ck_assert_int_eq(catalog_schema_parse("k:int64,ts:timestamp,v:double,s:string?", "k,ts", &s, &e), 0);
    ck_assert_int_eq(s.ncols, 4);
    ck_assert_int_eq(s.nkeys, 2);
    ck_assert_int_eq(s.cols[2].type, FE_COL_DOUBLE);
    ck_assert(s.cols[3].nullable);
    ck_assert(!s.cols[0].nullable);
    struct buf b = BUF_INIT;
    catalog_schema_format(&s, &b);
    ck_assert_str_eq(buf_cstr(&b), "k:int64,ts:timestamp,v:double,s:string?");
    buf_release(&b);
    catalog_schema_release(&s);
}
END_TEST

START_TEST(schema_parse_bad)
{
    static const struct {
        const char *schema, *keys, *needle;
    } cases[] = {
        { "", "k", "empty" },
        { "k:int64", "", "no key" },
        { "k", "k", "expected name:type" },
        { "k:int128", "k", "unknown type 'int128'" },
        { "k:int64,k:int32", "k", "duplicate column 'k'" },
        { "1k:int64", "1k", "bad name" },
        { "k:int64,v:double", "v", "position 1" },
        { "k:int64", "x", "'x' is not in the schema" },
        { "k:int64?", "k", "cannot be nullable" },
        { "k:double", "k", "cannot be double" },
        { "k:int64,", "k", "expected name:type" },
        { "k:", "k", "missing or bad type" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fe_schema s = { 0, 0, NULL };
        struct err e = { 0 };
        int r = catalog_schema_parse(cases[i].schema, cases[i].keys, &s, &e);
        ck_assert_msg(r == FLOE_EBADINPUT, "case %zu: r=%d", i, r);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, e.msg,
                      cases[i].needle);
        ck_assert_ptr_null(s.cols);
    }
}
END_TEST

START_TEST(placement_balanced_and_distinct)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 4);
    struct fe_table *t = fx_table(m, "a", 12, 3, NULL);
    for (int b = 0; b < 12; b++) {
        struct fe_tablet *tb = fx_tablet(m, t, b);
        ck_assert_int_eq(tb->nreplicas, 3);
        for (int i = 0; i < 3; i++)
            for (int k = i + 1; k < 3; k++)
                ck_assert_int_ne(tb->replicas[i].backend_id, tb->replicas[k].backend_id);
    }
    /* 36 replicas over 4 backends: 9 each */
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key)
            ck_assert_int_eq(((struct fe_backend *)m->cat.backends.slots[i].val)->nreplicas, 9);
    meta_close(m);
}
END_TEST

START_TEST(placement_skips_dead_and_decommissioned)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 4);
    struct err e = { 0 };
    int64_t ids[4];
    int n = 0;
    for (size_t i = 0; i < m->cat.backends.cap; i++)
        if (m->cat.backends.slots[i].key)
            ids[n++] = m->cat.backends.slots[i].key;
    ck_assert_int_eq(ops_backend_decommission(m, ids[0], &e), 0);
    catalog_backend(&m->cat, ids[1])->last_hb_ms = FX_NOW - 60000;  /* dead */
    int64_t out[3];
    ck_assert_int_eq(placement_choose(&m->cat, FX_NOW, 3, NULL, NULL, 0, out, &e), FLOE_EUNAVAILABLE);
    ck_assert_msg(strstr(e.msg, "only 2 available") != NULL, "%s", e.msg);
    ck_assert_int_eq(placement_choose(&m->cat, FX_NOW, 2, NULL, NULL, 0, out, &e), 0);
    for (int i = 0; i < 2; i++)
        ck_assert(out[i] == ids[2] || out[i] == ids[3]);
    /* table create fails cleanly and changes nothing */
    int64_t seq = m->cat.last_seq;
    struct ops_table_args ta = { .name = "t", .schema = "k:int64", .keys = "k", .buckets = 2, .replicas = 3 };
    int64_t tid;
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &tid, &e), FLOE_EUNAVAILABLE);
    ck_assert_int_eq(m->cat.last_seq, seq);
    ck_assert_uint_eq(m->cat.tables.count, 0);
    meta_close(m);
}
END_TEST

START_TEST(ops_reject_bad_input)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_policy(m);
    fx_table(m, "a", 2, 3, NULL);
    int64_t seq = m->cat.last_seq, id;
    struct err e = { 0 };
    struct ops_table_args ta = { .name = "a", .schema = "k:int64", .keys = "k", .buckets = 1, .replicas = 1 };
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &id, &e), FLOE_EEXIST);
    ta.name = "bad name";
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &id, &e), FLOE_EBADINPUT);
    ta.name = "b";
    ta.buckets = 0;
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &id, &e), FLOE_EBADINPUT);
    ta.buckets = 1;
    ta.model = "weird";
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &id, &e), FLOE_EBADINPUT);
    ta.model = NULL;
    ta.policy = "nope";
    ck_assert_int_eq(ops_table_create(m, &ta, FX_NOW, &id, &e), FLOE_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "policy 'nope'") != NULL, "%s", e.msg);
    ck_assert_int_eq(ops_table_drop(m, "zzz", &e), FLOE_ENOTFOUND);
    struct ops_resource_args ra = { .name = "s3", .type = "s3", .endpoint = "ftp://x", .region = "r",
                                    .bucket = "bkt" };
    ck_assert_int_eq(ops_resource_create(m, &ra, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, "--endpoint") != NULL, "%s", e.msg);
    ra.endpoint = "http://127.0.0.1:9000";
    ra.access_key_env = "AK";
    ra.credentials_file = "/etc/creds";
    ck_assert_int_eq(ops_resource_create(m, &ra, &e), FLOE_EBADINPUT);
    ra.credentials_file = NULL;
    ra.secret_key_env = "bad-env";
    ck_assert_int_eq(ops_resource_create(m, &ra, &e), FLOE_EBADINPUT);
    ra.type = "ftp";
    ck_assert_int_eq(ops_resource_create(m, &ra, &e), FLOE_EBADINPUT);
    struct ops_resource_args la = { .name = "loc", .type = "local", .root = "relative/dir" };
    ck_assert_int_eq(ops_resource_create(m, &la, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(ops_policy_create(m, "p2", "store", 10, 100, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(ops_policy_create(m, "p2", "nostore", 10, 0, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(ops_policy_create(m, "cool", "store", 10, 0, &e), FLOE_EEXIST);
    ck_assert_int_eq(ops_backend_register(m, 999, "h", 1, 0, FX_NOW, &id, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(ops_backend_register(m, 0, "", 1, 0, FX_NOW, &id, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(ops_backend_register(m, 0, "h", 70000, 0, FX_NOW, &id, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(m->cat.last_seq, seq);  /* nothing journaled */
    /* a good s3 resource keeps only references to credentials */
    ra.type = "s3";
    ra.secret_key_env = "SK";
    ck_assert_int_eq(ops_resource_create(m, &ra, &e), 0);
    struct fe_resource *res = catalog_resource_by_name(&m->cat, "s3");
    ck_assert_str_eq(res->access_key_env, "AK");
    meta_close(m);
}
END_TEST

START_TEST(register_keeps_ids)
{
    struct fe_meta *m = fx_open(dir);
    struct err e = { 0 };
    int64_t a, b, c2;
    ck_assert_int_eq(ops_backend_register(m, 0, "10.0.0.1", 9000, 8000, FX_NOW, &a, &e), 0);
    ck_assert_int_eq(ops_backend_register(m, 0, "10.0.0.2", 9000, 8000, FX_NOW, &b, &e), 0);
    ck_assert_int_ne(a, b);
    int64_t seq = m->cat.last_seq;
    /* same address again: same id, nothing journaled */
    ck_assert_int_eq(ops_backend_register(m, 0, "10.0.0.1", 9000, 8000, FX_NOW, &c2, &e), 0);
    ck_assert_int_eq(c2, a);
    ck_assert_int_eq(m->cat.last_seq, seq);
    /* known id from a new address: address updated */
    ck_assert_int_eq(ops_backend_register(m, a, "10.0.0.9", 9001, 8000, FX_NOW, &c2, &e), 0);
    ck_assert_int_eq(c2, a);
    ck_assert_str_eq(catalog_backend(&m->cat, a)->host, "10.0.0.9");
    /* taking another backend's address is refused */
    ck_assert_int_eq(ops_backend_register(m, a, "10.0.0.2", 9000, 8000, FX_NOW, &c2, &e), FLOE_EEXIST);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_str_eq(catalog_backend(&m->cat, a)->host, "10.0.0.9");
    meta_close(m);
}
END_TEST

START_TEST(durations_and_datetimes)
{
    int64_t s;
    struct err e = { 0 };
    ck_assert_int_eq(ops_parse_duration_s("30s", &s, &e), 0);
    ck_assert_int_eq(s, 30);
    ck_assert_int_eq(ops_parse_duration_s("10m", &s, &e), 0);
    ck_assert_int_eq(s, 600);
    ck_assert_int_eq(ops_parse_duration_s("1h", &s, &e), 0);
    ck_assert_int_eq(s, 3600);
    ck_assert_int_eq(ops_parse_duration_s("7d", &s, &e), 0);
    ck_assert_int_eq(s, 604800);
    ck_assert_int_eq(ops_parse_duration_s("5", &s, &e), 0);
    ck_assert_int_eq(s, 5);
    const char *bad[] = { "", "0s", "-1s", "10x", "s", "1.5h", "99999999999999999999d" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ops_parse_duration_s(bad[i], &s, &e) == FLOE_EBADINPUT, "'%s'", bad[i]);
    ck_assert_int_eq(ops_parse_datetime("2026-12-01T00:00:00Z", &s, &e), 0);
    ck_assert_int_eq(s, 1796083200);
    const char *badt[] = { "2026-12-01", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                           "2026-12-01T00:00:00", "2026-12-01T00:00:00Zx" };
    for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++)
        ck_assert_msg(ops_parse_datetime(badt[i], &s, &e) == FLOE_EBADINPUT, "'%s'", badt[i]);
}
END_TEST

START_TEST(publish_versions_and_laggards)
{
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    struct fe_table *t = fx_table(m, "a", 2, 3, NULL);
    struct fe_tablet *t0 = fx_tablet(m, t, 0), *t1 = fx_tablet(m, t, 1);
    struct err e = { 0 };
    int64_t txn, txn2;
    ck_assert_int_eq(ops_txn_begin(m, t->id, &txn, &e), 0);
    ck_assert_int_eq(ops_txn_begin(m, t->id, &txn2, &e), 0);
    ck_assert_int_gt(txn2, txn);
    int64_t lag = t0->replicas[2].id, v[1];
    ck_assert_int_eq(ops_publish(m, t->id, txn, &t0->id, 1, &lag, 1, v, &e), 0);
    ck_assert_int_eq(v[0], 2);
    ck_assert_int_eq(t0->version, 2);
    ck_assert_int_eq(t1->version, 1);  /* no rows for it: untouched */
    ck_assert_int_eq(t0->replicas[0].version, 2);
    ck_assert_int_eq(t0->replicas[2].version, 1);
    ck_assert_int_eq(t0->replicas[2].state, FE_REPLICA_LAGGING);
    ck_assert_int_eq(t->version, 2);
    /* a tablet of another table is refused, nothing journaled */
    struct fe_table *o = fx_table(m, "b", 1, 3, NULL);
    int64_t seq = m->cat.last_seq;
    ck_assert_int_eq(ops_publish(m, t->id, txn2, &o->tablet_ids[0], 1, NULL, 0, NULL, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(m->cat.last_seq, seq);
    /* a labeled publish is remembered, across restarts and checkpoints */
    int64_t txn3;
    ck_assert_int_eq(ops_txn_begin(m, t->id, &txn3, &e), 0);
    ck_assert_int_eq(ops_publish_labeled(m, t->id, txn3, &t1->id, 1, NULL, 0, "day-1", 42, NULL, &e), 0);
    const struct fe_label *l = catalog_label(&m->cat, t->id, "day-1");
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(l->txn, txn3);
    ck_assert_int_eq(l->rows, 42);
    ck_assert_int_eq(l->version, t->version);
    ck_assert_ptr_null(catalog_label(&m->cat, t->id, "day-2"));
    ck_assert_ptr_null(catalog_label(&m->cat, o->id, "day-1"));
    int64_t tid = t->id;
    int64_t id0 = t0->id;
    meta_close(m);
    m = fx_open(dir);
    struct fe_tablet *r0 = catalog_tablet(&m->cat, id0);
    ck_assert_int_eq(r0->version, 2);
    ck_assert_int_eq(r0->replicas[2].state, FE_REPLICA_LAGGING);
    ck_assert_int_gt(m->cat.next_txn, txn2);  /* txn ids are never reused */
    ck_assert_ptr_nonnull(catalog_label(&m->cat, tid, "day-1"));
    /* same after a checkpoint */
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    meta_close(m);
    m = fx_open(dir);
    r0 = catalog_tablet(&m->cat, id0);
    ck_assert_int_eq(r0->version, 2);
    ck_assert_int_eq(r0->replicas[0].version, 2);
    ck_assert_int_gt(m->cat.next_txn, txn2);
    ck_assert_int_eq(catalog_label(&m->cat, tid, "day-1")->rows, 42);
    meta_close(m);
}
END_TEST

START_TEST(idmap_many)
{
    struct idmap m = IDMAP_INIT;
    for (int64_t i = 1; i <= 100000; i++)
        idmap_put(&m, i * 7, (void *)(intptr_t)i);
    for (int64_t i = 1; i <= 100000; i += 2)
        ck_assert_ptr_eq(idmap_del(&m, i * 7), (void *)(intptr_t)i);
    ck_assert_uint_eq(m.count, 50000);
    for (int64_t i = 1; i <= 100000; i++)
        ck_assert_ptr_eq(idmap_get(&m, i * 7), (i % 2) ? NULL : (void *)(intptr_t)i);
    ck_assert_ptr_null(idmap_del(&m, 3));
    idmap_release(&m);
}
END_TEST

/* A record at the next seq, applied straight to the catalog (meta_commit
 * would step down on a record that does not apply). */
static int apply_raw(struct fe_meta *m, json_t *rec, struct err *e)
{
    json_object_set_new(rec, "seq", json_integer(m->cat.last_seq + 1));
    int r = catalog_apply(&m->cat, rec, e);
    json_decref(rec);
    return r;
}

START_TEST(master_epoch_and_remote_drops)
{
    struct err e = { 0 };
    struct fe_meta *m = fx_open(dir);
    fx_backends(m, 3);
    fx_policy(m);
    struct fe_table *t = fx_table(m, "cold", 2, 3, "cool");
    int64_t tid0 = t->tablet_ids[0], tid1 = t->tablet_ids[1];
    int64_t res = catalog_resource_by_name(&m->cat, "store")->id;
    fx_table(m, "hot", 1, 3, NULL);
    struct coolconf_stats st = { 0 };
    ck_assert_int_ge(coolconf_pass(m, 0, FX_NOW, &st, &e), 0);
    ck_assert_int_eq(catalog_tablet(&m->cat, tid0)->cooldown_term, 1);

    /* the epoch only grows */
    ck_assert_int_eq(m->cat.master_epoch, 0);
    ck_assert_int_eq(meta_commit(m, json_pack("{s:s,s:I}", "op", "master_epoch", "epoch", (json_int_t)1), &e), 0);
    ck_assert_int_eq(apply_raw(m, json_pack("{s:s,s:I}", "op", "master_epoch", "epoch", (json_int_t)1), &e),
                     FLOE_ECORRUPT);
    ck_assert_int_eq(apply_raw(m, json_pack("{s:s}", "op", "master_epoch"), &e), FLOE_ECORRUPT);
    ck_assert_int_eq(m->cat.master_epoch, 1);

    /* dropping a cooled table opens one entry per tablet; a table without a policy none */
    ck_assert_int_eq(ops_table_drop(m, "hot", &e), 0);
    ck_assert_uint_eq(m->cat.rdrops.count, 0);
    ck_assert_int_eq(ops_table_drop(m, "cold", &e), 0);
    ck_assert_uint_eq(m->cat.rdrops.count, 2);
    const struct fe_rdrop *d = catalog_rdrop(&m->cat, tid0);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->nreplicas, 3);
    ck_assert_int_eq(d->resource_id, res);
    ck_assert_int_ne(d->backend_ids[0], d->backend_ids[1]);

    /* its resource cannot go while an entry names it */
    int64_t pol = catalog_policy_by_name(&m->cat, "cool")->id;
    ck_assert_int_eq(meta_commit(m, json_pack("{s:s,s:I}", "op", "policy_drop", "id", (json_int_t)pol), &e), 0);
    ck_assert_int_eq(apply_raw(m, json_pack("{s:s,s:I}", "op", "resource_drop", "id", (json_int_t)res), &e),
                     FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "still has the remote data"));

    ck_assert_int_eq(meta_commit(m, json_pack("{s:s,s:I}", "op", "remote_deleted", "tablet", (json_int_t)tid0), &e), 0);
    ck_assert_ptr_null(catalog_rdrop(&m->cat, tid0));
    ck_assert_int_eq(apply_raw(m, json_pack("{s:s,s:I}", "op", "remote_deleted", "tablet", (json_int_t)tid0), &e),
                     FLOE_ECORRUPT);

    /* both survive a checkpoint image, and a journal replay after it */
    ck_assert_int_eq(meta_checkpoint(m, &e), 0);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.master_epoch, 1);
    ck_assert_uint_eq(m->cat.rdrops.count, 1);
    d = catalog_rdrop(&m->cat, tid1);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->nreplicas, 3);
    ck_assert_int_eq(d->resource_id, res);
    ck_assert_int_eq(meta_commit(m, json_pack("{s:s,s:I}", "op", "master_epoch", "epoch", (json_int_t)2), &e), 0);
    meta_close(m);
    m = fx_open(dir);
    ck_assert_int_eq(m->cat.master_epoch, 2);
    ck_assert_ptr_nonnull(catalog_rdrop(&m->cat, tid1));
    ck_assert_int_eq(meta_commit(m, json_pack("{s:s,s:I}", "op", "remote_deleted", "tablet", (json_int_t)tid1), &e), 0);
    ck_assert_uint_eq(m->cat.rdrops.count, 0);
    fx_teardown(m, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_catalog");
    TCase *tc = tcase_create("catalog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schema_parse_good);
    tcase_add_test(tc, schema_parse_bad);
    tcase_add_test(tc, placement_balanced_and_distinct);
    tcase_add_test(tc, placement_skips_dead_and_decommissioned);
    tcase_add_test(tc, ops_reject_bad_input);
    tcase_add_test(tc, register_keeps_ids);
    tcase_add_test(tc, durations_and_datetimes);
    tcase_add_test(tc, publish_versions_and_laggards);
    tcase_add_test(tc, idmap_many);
    tcase_add_test(tc, master_epoch_and_remote_drops);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
