/* Unit tests for common/jsonutil: typed getters, error messages, parse errors. */
#include "buf.h"
#include "err.h"
#include "jsonutil.h"
#include "testutil.h"

static const char *doc =
    "{\"id\": 12, \"name\": \"t12\", \"ok\": true, \"ratio\": 0.5, \"n\": 3,\n"
    " \"rowsets\": [1, 2], \"sub\": {\"a\": 1}, \"nul\": null, \"big\": 9007199254740993}";

static json_t *load(void)
{
    json_t *j = NULL;
    struct err e = { 0 };
    ck_assert_msg(json_parse(doc, strlen(doc), &j, "tablet meta t.json", &e) == 0, "%s", e.msg);
    return j;
}

START_TEST(getters)
{
    json_t *j = load();
    struct err e = { 0 };
    int64_t i;
    bool b;
    double d;
    const char *s;
    json_t *a, *o;
    ck_assert_int_eq(json_get_i64(j, "id", &i, "ctx", &e), 0);
    ck_assert_int_eq(i, 12);
    ck_assert_int_eq(json_get_i64(j, "big", &i, "ctx", &e), 0);
    ck_assert_int_eq(i, 9007199254740993LL);
    ck_assert_int_eq(json_get_bool(j, "ok", &b, "ctx", &e), 0);
    ck_assert(b);
    ck_assert_int_eq(json_get_double(j, "ratio", &d, "ctx", &e), 0);
    ck_assert(d == 0.5);
    ck_assert_int_eq(json_get_double(j, "n", &d, "ctx", &e), 0);
    ck_assert(d == 3.0);
    ck_assert_int_eq(json_get_str(j, "name", &s, "ctx", &e), 0);
    ck_assert_str_eq(s, "t12");
    ck_assert_int_eq(json_get_array(j, "rowsets", &a, "ctx", &e), 0);
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_int_eq(json_get_object(j, "sub", &o, "ctx", &e), 0);
    ck_assert_int_eq(json_get_i64(o, "a", &i, "ctx", &e), 0);
    ck_assert_int_eq(i, 1);
    ck_assert_int_eq(json_opt_i64(j, "absent", 77, &i, "ctx", &e), 0);
    ck_assert_int_eq(i, 77);
    ck_assert_int_eq(json_opt_i64(j, "id", 77, &i, "ctx", &e), 0);
    ck_assert_int_eq(i, 12);
    ck_assert_int_eq(json_opt_str(j, "absent", "dflt", &s, "ctx", &e), 0);
    ck_assert_str_eq(s, "dflt");
    ck_assert_int_eq(json_opt_str(j, "absent", NULL, &s, "ctx", &e), 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(json_opt_str(j, "name", NULL, &s, "ctx", &e), 0);
    ck_assert_str_eq(s, "t12");
    json_decref(j);
}
END_TEST

START_TEST(errors_name_ctx_and_key)
{
    json_t *j = load();
    struct err e = { 0 };
    int64_t i = 5;
    bool b;
    double d;
    const char *s;
    json_t *x;
    ck_assert_int_eq(json_get_i64(j, "missing", &i, "tablet meta /x/12.json", &e), FLOE_ECORRUPT);
    ck_assert_str_eq(e.msg, "tablet meta /x/12.json: field 'missing' is missing");
    ck_assert_int_eq(i, 5);
    ck_assert_int_eq(json_get_i64(j, "name", &i, "tablet meta /x/12.json", &e), FLOE_ECORRUPT);
    ck_assert_str_eq(e.msg, "tablet meta /x/12.json: field 'name' should be an integer, got a string");
    ck_assert_int_eq(json_get_i64(j, "ratio", &i, "m", &e), FLOE_ECORRUPT);
    ck_assert_int_eq(json_get_bool(j, "id", &b, "m", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "'id' should be a boolean"));
    ck_assert_int_eq(json_get_double(j, "name", &d, "m", &e), FLOE_ECORRUPT);
    ck_assert_int_eq(json_get_str(j, "nul", &s, "m", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "got null"));
    ck_assert_int_eq(json_get_array(j, "sub", &x, "m", &e), FLOE_ECORRUPT);
    ck_assert_int_eq(json_get_object(j, "rowsets", &x, "m", &e), FLOE_ECORRUPT);
    ck_assert_int_eq(json_opt_i64(j, "name", 1, &i, "m", &e), FLOE_ECORRUPT);
    ck_assert_int_eq(json_opt_str(j, "id", "d", &s, "m", &e), FLOE_ECORRUPT);
    /* the container itself is the wrong type */
    json_t *arr = json_array();
    ck_assert_int_eq(json_get_i64(arr, "id", &i, "journal line 3", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "journal line 3: expected an object"));
    ck_assert_int_eq(json_opt_i64(NULL, "id", 0, &i, "m", &e), FLOE_ECORRUPT);
    json_decref(arr);
    json_decref(j);
}
END_TEST

START_TEST(parse_errors)
{
    struct err e = { 0 };
    json_t *j = (json_t *)0x1;
    const char *bad = "{\"a\": 1,\n \"b\": }";
    ck_assert_int_eq(json_parse(bad, strlen(bad), &j, "remote meta 7", &e), FLOE_ECORRUPT);
    ck_assert_ptr_eq(j, (json_t *)0x1);
    ck_assert_ptr_nonnull(strstr(e.msg, "remote meta 7: invalid JSON at line 2 column"));
    ck_assert_int_eq(json_parse("", 0, &j, "empty", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty: invalid JSON at line"));
    const char *dup = "{\"a\": 1, \"a\": 2}";
    ck_assert_int_eq(json_parse(dup, strlen(dup), &j, "dup", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "dup"));
    /* len bounds the text: a valid prefix with trailing garbage cut off parses */
    const char *pre = "{\"a\": 1}garbage";
    ck_assert_int_eq(json_parse(pre, 8, &j, "p", &e), 0);
    json_decref(j);
    ck_assert_int_eq(json_parse(pre, strlen(pre), &j, "p", &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "line 1 column"));
}
END_TEST

START_TEST(dump_sorted_compact)
{
    json_t *j = json_pack("{s:i, s:s, s:[i,i], s:b}", "z", 1, "a", "x\"y", "m", 1, 2, "b", 0);
    ck_assert_ptr_nonnull(j);
    struct buf b = BUF_INIT;
    buf_puts(&b, ">");
    struct err e = { 0 };
    ck_assert_int_eq(json_dump_buf(j, &b, &e), 0);
    ck_assert_str_eq(buf_cstr(&b), ">{\"a\":\"x\\\"y\",\"b\":false,\"m\":[1,2],\"z\":1}");
    /* round trip */
    json_t *k;
    ck_assert_int_eq(json_parse(b.data + 1, b.len - 1, &k, "rt", &e), 0);
    ck_assert(json_equal(j, k));
    json_decref(k);
    json_t *n = json_integer(-3);
    buf_reset(&b);
    ck_assert_int_eq(json_dump_buf(n, &b, &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "-3");
    json_decref(n);
    buf_release(&b);
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonutil");
    TCase *tc = tcase_create("jsonutil");
    tcase_add_test(tc, getters);
    tcase_add_test(tc, errors_name_ctx_and_key);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, dump_sorted_compact);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
