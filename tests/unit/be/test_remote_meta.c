/* Unit tests of remote_meta: round trip, strict validation, key helpers. */
#include "remote_meta.h"

#include "err.h"
#include "testutil.h"

#include <inttypes.h>

static struct rowset *mk_rowset(int64_t tablet, int64_t start, int64_t end, int nsegs)
{
    char id[UUID_STR_LEN];
    ck_assert_int_eq(uuid_new_str(id), 0);
    struct rowset_segment segs[4];
    for (int i = 0; i < nsegs; i++) {
        segs[i].size = 1000u + (uint64_t)i * 7u;
        segs[i].rows = 10u + (uint64_t)i;
    }
    return rowset_new(id, tablet, start, end, segs, nsegs, 1700000000000 + start, "res1", NULL);
}

static void mk_meta(struct remote_meta *m, int64_t tablet, int n)
{
    remote_meta_init(m);
    m->tablet_id = tablet;
    m->replica_id = 7;
    m->term = 3;
    ck_assert_int_eq(uuid_new_str(m->cooldown_meta_id), 0);
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        struct rowset *rs = mk_rowset(tablet, v, v + i, (i % 3) + 1);
        v += i + 1;
        remote_meta_add_rowset(m, rs);
        rowset_unref(rs);
    }
}

START_TEST(test_round_trip)
{
    struct remote_meta m, d;
    mk_meta(&m, 42, 4);
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    ck_assert_msg(remote_meta_encode(&m, &out, &e) == 0, "%s", err_msg(&e));
    ck_assert_msg(remote_meta_decode(out.data, out.len, "k", 42, "res9", &d, &e) == 0, "%s", err_msg(&e));
    ck_assert_int_eq(d.tablet_id, 42);
    ck_assert_int_eq(d.replica_id, 7);
    ck_assert_int_eq(d.term, 3);
    ck_assert_str_eq(d.cooldown_meta_id, m.cooldown_meta_id);
    ck_assert_int_eq(d.cooldowned_version, m.cooldowned_version);
    ck_assert_uint_eq(d.nrowsets, 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(d.rowsets[i]->id, m.rowsets[i]->id);
        ck_assert_int_eq(d.rowsets[i]->start, m.rowsets[i]->start);
        ck_assert_int_eq(d.rowsets[i]->end, m.rowsets[i]->end);
        ck_assert_int_eq(d.rowsets[i]->nsegs, m.rowsets[i]->nsegs);
        for (int s = 0; s < d.rowsets[i]->nsegs; s++)
            ck_assert_uint_eq(d.rowsets[i]->segs[s].size, m.rowsets[i]->segs[s].size);
        ck_assert_str_eq(d.rowsets[i]->resource_id, "res9");
        ck_assert(!rowset_is_local(d.rowsets[i]));
    }
    remote_meta_release(&d);
    /* empty meta: cooldowned_version -1 */
    remote_meta_release(&m);
    mk_meta(&m, 42, 0);
    buf_reset(&out);
    ck_assert_int_eq(remote_meta_encode(&m, &out, &e), 0);
    ck_assert_int_eq(remote_meta_decode(out.data, out.len, "k", 42, "r", &d, &e), 0);
    ck_assert_int_eq(d.cooldowned_version, -1);
    ck_assert_uint_eq(d.nrowsets, 0);
    remote_meta_release(&d);
    remote_meta_release(&m);
    buf_release(&out);
}
END_TEST

/* Replaces the first occurrence of from by to in text. */
static char *subst(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    ck_assert_msg(p != NULL, "'%s' not in %s", from, text);
    return xasprintf("%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
}

START_TEST(test_bad_metas)
{
    struct remote_meta m, d;
    mk_meta(&m, 42, 3);
    struct buf out = BUF_INIT;
    struct err e = { 0 };
    ck_assert_int_eq(remote_meta_encode(&m, &out, &e), 0);
    const char *good = out.data;
    char idq[64];
    snprintf(idq, sizeof(idq), "\"%s\"", m.rowsets[1]->id);
    char id0q[64];
    snprintf(id0q, sizeof(id0q), "\"%s\"", m.rowsets[0]->id);
    struct {
        const char *from, *to;
    } cases[] = {
        { "\"tablet_id\":42", "\"tablet_id\":43" },
        { "\"tablet_id\":42", "\"tablet_id\":\"42\"" },
        { "\"term\":3", "\"term\":0" },
        { "\"replica_id\":7", "\"replica_id\":-1" },
        { "\"format\":1", "\"format\":2" },
        { "\"cooldowned_version\"", "\"cooldowned_versionX\"" },
        { "\"cooldown_meta_id\":\"", "\"cooldown_meta_id\":\"x" },
        { "\"location\":\"remote\"", "\"location\":\"local\"" },
        { "\"start\":1", "\"start\":2" },
        { idq, id0q },
        { "\"size\":1000", "\"size\":-1" },
        { "\"size\":1000", "\"size\":1001" },   /* data_size disagrees */
        { "{", "[" },
        { "\"rowsets\":[", "\"rowsets\":[1," },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *bad = subst(good, cases[i].from, cases[i].to);
        err_clear(&e);
        int r = remote_meta_decode(bad, strlen(bad), "data/42/7.3.meta", 42, "r", &d, &e);
        ck_assert_msg(r == FLOE_ECORRUPT, "case %zu (%s): r=%d", i, cases[i].to, r);
        ck_assert_msg(strstr(err_msg(&e), "data/42/7.3.meta") != NULL, "case %zu: %s", i, err_msg(&e));
        ck_assert_msg(strchr(err_msg(&e), '\n') == NULL, "case %zu: multi-line", i);
        ck_assert_uint_eq(d.nrowsets, 0);
        ck_assert_ptr_null(d.rowsets);
        free(bad);
    }
    /* cooldowned_version that disagrees */
    char cv[64], cv2[64];
    snprintf(cv, sizeof(cv), "\"cooldowned_version\":%" PRId64, m.cooldowned_version);
    snprintf(cv2, sizeof(cv2), "\"cooldowned_version\":%" PRId64, m.cooldowned_version + 1);
    char *bad = subst(good, cv, cv2);
    ck_assert_int_eq(remote_meta_decode(bad, strlen(bad), "x", 42, "r", &d, &e), FLOE_ECORRUPT);
    free(bad);
    /* truncations of every length are all rejected */
    for (size_t n = 0; n < out.len; n += 7)
        ck_assert_int_eq(remote_meta_decode(good, n, "x", 42, "r", &d, &e), FLOE_ECORRUPT);
    /* encode refuses invalid metas */
    m.term = 0;
    size_t before = out.len;
    ck_assert_int_eq(remote_meta_encode(&m, &out, &e), FLOE_ECORRUPT);
    ck_assert_uint_eq(out.len, before);
    remote_meta_release(&m);
    buf_release(&out);
}
END_TEST

START_TEST(test_keys)
{
    char *k = remote_meta_key(12, 3, 45);
    ck_assert_str_eq(k, "data/12/3.45.meta");
    int64_t rep = -1, term = -1;
    ck_assert_int_eq(remote_key_parse(k, 12, NULL, NULL, &rep, &term), REMOTE_KEY_META);
    ck_assert_int_eq(rep, 3);
    ck_assert_int_eq(term, 45);
    ck_assert_int_eq(remote_key_parse(k, 1, NULL, NULL, &rep, &term), REMOTE_KEY_OTHER);
    free(k);
    char id[UUID_STR_LEN], got[UUID_STR_LEN];
    ck_assert_int_eq(uuid_new_str(id), 0);
    k = remote_segment_key(12, id, 4);
    int seg = -1;
    ck_assert_int_eq(remote_key_parse(k, 12, got, &seg, NULL, NULL), REMOTE_KEY_SEGMENT);
    ck_assert_str_eq(got, id);
    ck_assert_int_eq(seg, 4);
    free(k);
    k = remote_tablet_prefix(12);
    ck_assert_str_eq(k, "data/12/");
    free(k);
    const char *others[] = { "data/12/x.meta", "data/12/3..meta", "data/12/03.4.meta", "data/12/3.0.meta",
                             "data/12/-3.4.meta", "data/12/a/3.4.meta", "data/123/3.4.meta", "data/12/3.4.met",
                             "data/12/.4.meta" };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        ck_assert_msg(remote_key_parse(others[i], 12, NULL, NULL, NULL, NULL) == REMOTE_KEY_OTHER, "%s", others[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("remote_meta");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_bad_metas);
    tcase_add_test(tc, test_keys);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
