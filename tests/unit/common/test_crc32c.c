/* Unit tests for common/crc32c: known vectors, piecewise extension, hw == sw. */
#include "crc32c.h"
#include "testutil.h"

#include <stdint.h>

START_TEST(vectors)
{
    ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t z[32] = { 0 };
    ck_assert_uint_eq(crc32c(0, z, sizeof(z)), 0x8A9136AAu);
    ck_assert_uint_eq(crc32c_sw(0, z, sizeof(z)), 0x8A9136AAu);
    uint8_t ff[32];
    memset(ff, 0xff, sizeof(ff));
    ck_assert_uint_eq(crc32c(0, ff, sizeof(ff)), 0x62A8AB43u);
    uint8_t inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    ck_assert_uint_eq(crc32c(0, inc, sizeof(inc)), 0x46DD794Eu);
    ck_assert_uint_eq(crc32c_sw(0, inc, sizeof(inc)), 0x46DD794Eu);
    /* empty input leaves the crc unchanged */
    ck_assert_uint_eq(crc32c(0, "", 0), 0);
    ck_assert_uint_eq(crc32c(0x12345678u, NULL, 0), 0x12345678u);
}
END_TEST

START_TEST(extend_in_pieces)
{
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = crc32c(0, data, sizeof(data));
    ck_assert_uint_eq(whole, crc32c_sw(0, data, sizeof(data)));
    for (size_t cut = 0; cut <= sizeof(data); cut += 37) {
        uint32_t c = crc32c(0, data, cut);
        c = crc32c(c, data + cut, sizeof(data) - cut);
        ck_assert_uint_eq(c, whole);
        uint32_t s = crc32c_sw(0, data, cut);
        s = crc32c_sw(s, data + cut, sizeof(data) - cut);
        ck_assert_uint_eq(s, whole);
    }
    /* byte at a time */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        c = crc32c(c, data + i, 1);
    ck_assert_uint_eq(c, whole);
}
END_TEST

START_TEST(hw_equals_sw)
{
    if (!crc32c_hw_available())
        fprintf(stderr, "crc32c: no SSE4.2 on this CPU, hw path not exercised\n");
    uint8_t *data = malloc(70000);
    ck_assert_ptr_nonnull(data);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < 70000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    for (int round = 0; round < 2000; round++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t off = x % 64;
        size_t len = (x >> 8) % (round < 1000 ? 100 : 65536);
        uint32_t seed = (uint32_t)(x >> 32);
        ck_assert_uint_eq(crc32c(seed, data + off, len), crc32c_sw(seed, data + off, len));
    }
    free(data);
}
END_TEST

START_TEST(detects_single_bit_flip)
{
    uint8_t data[4096];
    memset(data, 0x5a, sizeof(data));
    uint32_t base = crc32c(0, data, sizeof(data));
    for (size_t bit = 0; bit < sizeof(data) * 8; bit += 97) {
        data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_uint_ne(crc32c(0, data, sizeof(data)), base);
        data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("crc32c");
    tcase_add_test(tc, vectors);
    tcase_add_test(tc, extend_in_pieces);
    tcase_add_test(tc, hw_equals_sw);
    tcase_add_test(tc, detects_single_bit_flip);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
