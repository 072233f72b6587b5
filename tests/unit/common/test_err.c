/* Unit tests for common/err. */
#include "err.h"
#include "testutil.h"

#include <errno.h>

START_TEST(names_and_strings)
{
    ck_assert_str_eq(err_name(FLOE_ECORRUPT), "FLOE_ECORRUPT");
    ck_assert_str_eq(err_str(FLOE_ECORRUPT), "data is corrupt");
    ck_assert_str_eq(err_name(-ENOENT), "ENOENT");
    ck_assert_str_eq(err_name(0), "OK");
    ck_assert_str_eq(err_name(-10998), "E?");
    ck_assert_str_eq(err_str(-10998), "unknown error");
    ck_assert(FLOE_EUNAVAILABLE > FLOE_ERR_MIN && FLOE_EINTERNAL <= FLOE_ERR_MAX);
}
END_TEST

START_TEST(set_and_prefix)
{
    struct err e = { 0 };
    int r = err_set(&e, FLOE_ECORRUPT, "segment %s page %u: bad crc", "a.dat", 3u);
    ck_assert_int_eq(r, FLOE_ECORRUPT);
    ck_assert_int_eq(e.code, FLOE_ECORRUPT);
    ck_assert_str_eq(e.msg, "segment a.dat page 3: bad crc");
    ck_assert_ptr_nonnull(strstr(e.file, "test_err.c"));
    ck_assert_int_gt(e.line, 0);
    err_prefix(&e, "tablet %d", 7);
    ck_assert_str_eq(err_msg(&e), "tablet 7: segment a.dat page 3: bad crc");
    err_clear(&e);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(err_msg(&e), "success");
    /* NULL is accepted everywhere */
    ck_assert_int_eq(err_set(NULL, FLOE_EAUTH, "x"), FLOE_EAUTH);
    err_prefix(NULL, "y");
    err_clear(NULL);
}
END_TEST

START_TEST(errno_messages)
{
    struct err e = { 0 };
    int r = err_errno(&e, ENOENT, "open %s", "/nope");
    ck_assert_int_eq(r, -ENOENT);
    ck_assert_str_eq(e.msg, "open /nope: No such file or directory");
    /* an over-long message is truncated, never overflows */
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(&e, FLOE_EBADINPUT, "%s", big);
    ck_assert_uint_eq(strlen(e.msg), ERR_MSG_MAX - 1);
    err_prefix(&e, "%s", big);
    ck_assert_uint_eq(strlen(e.msg), ERR_MSG_MAX - 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, names_and_strings);
    tcase_add_test(tc, set_and_prefix);
    tcase_add_test(tc, errno_messages);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
