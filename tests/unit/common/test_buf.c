/* Unit tests for common/buf. */
#include "buf.h"
#include "testutil.h"

START_TEST(append_printf_detach)
{
    struct buf b = BUF_INIT;
    ck_assert_str_eq(buf_cstr(&b), "");
    buf_puts(&b, "hello");
    buf_putc(&b, ' ');
    buf_printf(&b, "%d-%s", 42, "x");
    ck_assert_str_eq(buf_cstr(&b), "hello 42-x");
    ck_assert_uint_eq(b.len, 10);
    /* growth past the first allocation */
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    ck_assert_uint_eq(b.len, 4010);
    ck_assert_int_eq(memcmp(b.data + 4006, "0999", 4), 0);
    buf_consume(&b, 6);
    ck_assert_int_eq(memcmp(b.data, "42-x0000", 8), 0);
    size_t len;
    char *p = buf_detach(&b, &len);
    ck_assert_uint_eq(len, 4004);
    ck_assert_ptr_null(b.data);
    free(p);
    p = buf_detach(&b, &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(p, "");
    free(p);
    buf_release(&b);
    buf_release(NULL);
}
END_TEST

START_TEST(little_endian)
{
    struct buf b = BUF_INIT;
    buf_put_u32le(&b, 0x01020304u);
    buf_put_u64le(&b, 0x1122334455667788ull);
    ck_assert_uint_eq(b.len, 12);
    ck_assert_uint_eq((uint8_t)b.data[0], 4);
    ck_assert_uint_eq(get_u32le(b.data), 0x01020304u);
    ck_assert_uint_eq(get_u64le(b.data + 4), 0x1122334455667788ull);
    buf_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, append_printf_detach);
    tcase_add_test(tc, little_endian);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
