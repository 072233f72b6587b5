/* Unit tests for common/csv (the CSV -> column batch converter the loads use). */
#include "column_batch.h"
#include "csv.h"
#include "err.h"
#include "testutil.h"

static const int types6[] = { CSV_INT64, CSV_INT32, CSV_DOUBLE, CSV_BOOL, CSV_STRING, CSV_TIMESTAMP };
static const bool nullable6[] = { false, true, true, true, true, true };
static const char *const names6[] = { "k", "i32", "d", "b", "s", "ts" };

START_TEST(parse_values)
{
    const char *text = "k,i32,d,b,s,ts\n"
                       "1,-5,2.5,true,hello,2024-01-02 03:04:05.123456\n"
                       "2,,,,,\n"
                       "3,\\N,1e3,F,\"quo\"\"ted, with comma\nand newline\",1970-01-01T00:00:01Z\r\n"
                       "-9223372036854775808,2147483647,-0.0,1,\"\",86400000000\n"
                       "\n";
    struct csv_options o = { 0, true, names6 };
    struct csv_batch cb;
    struct err e = { 0 };
    ck_assert_msg(csv_parse(text, strlen(text), 6, types6, nullable6, &o, &cb, &e) == 0, "%s", err_msg(&e));
    ck_assert_uint_eq(cb.nrows, 4);
    struct column_batch b;
    column_batch_from_csv(&b, &cb);
    ck_assert_int_eq(column_vec_i64(&b.cols[0], 0), 1);
    ck_assert_int_eq(column_vec_i32(&b.cols[1], 0), -5);
    ck_assert(column_vec_f64(&b.cols[2], 0) == 2.5);
    ck_assert(column_vec_bool(&b.cols[3], 0));
    size_t n;
    const char *s = column_vec_str(&b.cols[4], 0, &n);
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(s, "hello", 5) == 0);
    ck_assert_int_eq(column_vec_i64(&b.cols[5], 0), 1704164645123456LL);
    for (int c = 1; c < 6; c++)
        ck_assert(column_vec_is_null(&b.cols[c], 1));
    ck_assert(column_vec_is_null(&b.cols[1], 2));
    ck_assert(!column_vec_bool(&b.cols[3], 2));
    s = column_vec_str(&b.cols[4], 2, &n);
    ck_assert_uint_eq(n, strlen("quo\"ted, with comma\nand newline"));
    ck_assert(memcmp(s, "quo\"ted, with comma\nand newline", n) == 0);
    ck_assert_int_eq(column_vec_i64(&b.cols[5], 2), 1000000);
    ck_assert_int_eq(column_vec_i64(&b.cols[0], 3), INT64_MIN);
    ck_assert(!column_vec_is_null(&b.cols[4], 3));
    column_vec_str(&b.cols[4], 3, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(column_vec_i64(&b.cols[5], 3), 86400000000LL);
    column_batch_release(&b);
}
END_TEST

static void bad(const char *text, const char *want)
{
    struct csv_options o = { 0, false, names6 };
    struct csv_batch cb;
    struct err e = { 0 };
    ck_assert_int_eq(csv_parse(text, strlen(text), 6, types6, nullable6, &o, &cb, &e), FLOE_EBADINPUT);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in '%s'", want, e.msg);
    ck_assert_uint_eq(cb.nrows, 0);
    ck_assert_ptr_null(cb.cols);
}

START_TEST(errors_name_line_and_column)
{
    bad("1,2,3,t,x,0\n2,x,3,t,x,0\n", "line 2 column 2 ('i32'): bad int32 value 'x'");
    bad("1,2,3,t,x,0\n2,2,3,t,x,0\n3,99999999999,3,t,x,0\n", "line 3 column 2");
    bad(",2,3,t,x,0\n", "line 1 column 1 ('k'): NULL in a non-nullable column");
    bad("1,2,abc,t,x,0\n", "bad double value 'abc'");
    bad("1,2,3,maybe,x,0\n", "bad bool value");
    bad("1,2,3,t,x,2024-02-30\n", "bad timestamp value");
    bad("1,2,3,t,x\n", "line 1: 5 fields, expected 6");
    bad("1,2,3,t,x,0,7\n", "more than 6 fields");
    bad("1,2,3,t,\"open,0\n", "unterminated quoted field");
    bad("1,2,3,t,\"a\"b,0\n", "after closing quote");
    bad("1,2,3,t,a\"b,0\n", "quote inside an unquoted field");
    bad("9223372036854775808,2,3,t,x,0\n", "bad int64");
}
END_TEST

START_TEST(timestamps)
{
    int64_t us;
    ck_assert_int_eq(csv_parse_timestamp("2000-02-29", 10, &us), 0);
    char out[40];
    csv_format_timestamp(us, out);
    ck_assert_str_eq(out, "2000-02-29 00:00:00.000000");
    ck_assert_int_eq(csv_parse_timestamp("1969-12-31 23:59:59.5", 21, &us), 0);
    ck_assert_int_eq(us, -500000);
    csv_format_timestamp(us, out);
    ck_assert_str_eq(out, "1969-12-31 23:59:59.500000");
    ck_assert_int_eq(csv_parse_timestamp("1900-02-29", 10, &us), FLOE_EBADINPUT);
    ck_assert_int_eq(csv_parse_timestamp("2024-13-01", 10, &us), FLOE_EBADINPUT);
    ck_assert_int_eq(csv_parse_timestamp("2024-01-01 24:00:00", 19, &us), FLOE_EBADINPUT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("be_csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, parse_values);
    tcase_add_test(tc, errors_name_line_and_column);
    tcase_add_test(tc, timestamps);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
