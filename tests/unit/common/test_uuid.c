/* Unit tests for common/uuid: v4 bits, format/parse round trip, bad strings. */
#include "err.h"
#include "uuid.h"
#include "testutil.h"

START_TEST(v4_bits_and_uniqueness)
{
    struct uuid a, b;
    ck_assert_int_eq(uuid_v4(&a), 0);
    ck_assert_int_eq(uuid_v4(&b), 0);
    ck_assert(memcmp(a.b, b.b, 16) != 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(uuid_v4(&a), 0);
        ck_assert_uint_eq(a.b[6] >> 4, 4);
        ck_assert_uint_eq(a.b[8] >> 6, 2);
        char s[UUID_STR_LEN];
        uuid_format(&a, s);
        ck_assert_uint_eq(strlen(s), 36);
        ck_assert_int_eq(s[14], '4');
        ck_assert(strchr("89ab", s[19]) != NULL);
    }
}
END_TEST

START_TEST(round_trip)
{
    for (int i = 0; i < 200; i++) {
        struct uuid u, v;
        char s[UUID_STR_LEN], t[UUID_STR_LEN];
        ck_assert_int_eq(uuid_v4(&u), 0);
        uuid_format(&u, s);
        ck_assert(uuid_is_valid_str(s));
        ck_assert_int_eq(uuid_parse(s, &v), 0);
        ck_assert(memcmp(u.b, v.b, 16) == 0);
        uuid_format(&v, t);
        ck_assert_str_eq(s, t);
    }
    struct uuid u;
    ck_assert_int_eq(uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", &u), 0);
    char s[UUID_STR_LEN];
    uuid_format(&u, s);
    ck_assert_str_eq(s, "00112233-4455-6677-8899-aabbccddeeff");
    ck_assert_uint_eq(u.b[0], 0x00);
    ck_assert_uint_eq(u.b[15], 0xff);
    char n[UUID_STR_LEN];
    ck_assert_int_eq(uuid_new_str(n), 0);
    ck_assert(uuid_is_valid_str(n));
}
END_TEST

START_TEST(bad_strings)
{
    const char *bad[] = {
        "",
        "0",
        "00112233-4455-6677-8899-aabbccddeef",    /* too short */
        "00112233-4455-6677-8899-aabbccddeeff0",  /* too long */
        "00112233445566778899aabbccddeeff",       /* no dashes */
        "00112233-4455-6677-8899_aabbccddeeff",   /* wrong separator */
        "0011223-34455-6677-8899-aabbccddeeff",   /* dash misplaced */
        "g0112233-4455-6677-8899-aabbccddeeff",   /* not hex */
        " 0112233-4455-6677-8899-aabbccddeeff",
        "00112233-4455-6677-8899-aabbccddeef ",
        "{00112233-4455-6677-8899-aabbccddeeff}",
        "00112233-4455-6677-8899-aabbccddee\n",
    };
    struct uuid u;
    memset(&u, 0x77, sizeof(u));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(uuid_parse(bad[i], &u) == FLOE_EBADINPUT, "accepted '%s'", bad[i]);
        ck_assert(!uuid_is_valid_str(bad[i]));
    }
    ck_assert_int_eq(uuid_parse(NULL, &u), FLOE_EBADINPUT);
    ck_assert(!uuid_is_valid_str(NULL));
    /* a refused string leaves the output untouched */
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(u.b[i], 0x77);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("uuid");
    TCase *tc = tcase_create("uuid");
    tcase_add_test(tc, v4_bits_and_uniqueness);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, bad_strings);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
