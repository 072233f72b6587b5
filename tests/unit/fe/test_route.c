/* Unit tests for fe/route: qualifying replicas, sticky routing for cooled
 * tablets, rotation for the rest. */
#include "fe_fixture.h"
#include "route.h"

static char *dir;
static struct fe_meta *m;

static void setup(void)
{
    m = fx_meta(&dir, 3, true);
}

static void teardown(void)
{
    fx_teardown(m, dir);
}

START_TEST(plain_rotates_over_qualifying)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, NULL);
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    int64_t seen[3] = { 0 };
    for (uint64_t s = 0; s < 3; s++) {
        const struct fe_replica *r = route_pick(&m->cat, tb, 1, FX_NOW, s);
        ck_assert_ptr_nonnull(r);
        seen[s] = r->id;
    }
    ck_assert(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
    /* lagging, bad and dead replicas never serve */
    tb->replicas[0].state = FE_REPLICA_LAGGING;
    tb->replicas[1].state = FE_REPLICA_BAD;
    for (uint64_t s = 0; s < 5; s++)
        ck_assert_int_eq(route_pick(&m->cat, tb, 1, FX_NOW, s)->id, tb->replicas[2].id);
    catalog_backend(&m->cat, tb->replicas[2].backend_id)->last_hb_ms = FX_NOW - 31000;
    ck_assert_ptr_null(route_pick(&m->cat, tb, 1, FX_NOW, 0));
}
END_TEST

START_TEST(version_must_be_visible)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, NULL);
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    tb->replicas[0].version = 5;
    for (uint64_t s = 0; s < 5; s++)
        ck_assert_int_eq(route_pick(&m->cat, tb, 5, FX_NOW, s)->id, tb->replicas[0].id);
    ck_assert_ptr_null(route_pick(&m->cat, tb, 6, FX_NOW, 0));
}
END_TEST

START_TEST(cooled_goes_to_cooldown_replica)
{
    struct fe_table *t = fx_table(m, "a", 4, 3, "cool");
    for (int b = 0; b < 4; b++) {
        struct fe_tablet *tb = fx_tablet(m, t, b);
        for (uint64_t s = 0; s < 6; s++)
            ck_assert_int_eq(route_pick(&m->cat, tb, 1, FX_NOW, s)->id, tb->cooldown_replica_id);
    }
}
END_TEST

START_TEST(cooled_sticky_when_uploader_down)
{
    struct fe_table *t = fx_table(m, "a", 1, 3, "cool");
    struct fe_tablet *tb = fx_tablet(m, t, 0);
    catalog_backend(&m->cat, catalog_replica(tb, tb->cooldown_replica_id)->backend_id)->last_hb_ms =
        FX_NOW - 31000;
    const struct fe_replica *first = route_pick(&m->cat, tb, 1, FX_NOW, 0);
    ck_assert_ptr_nonnull(first);
    ck_assert_int_ne(first->id, tb->cooldown_replica_id);
    for (uint64_t s = 1; s < 10; s++)
        ck_assert_int_eq(route_pick(&m->cat, tb, 1, FX_NOW, s)->id, first->id);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fe_route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_rotates_over_qualifying);
    tcase_add_test(tc, version_must_be_visible);
    tcase_add_test(tc, cooled_goes_to_cooldown_replica);
    tcase_add_test(tc, cooled_sticky_when_uploader_down);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
