/* Unit tests for common/conf: syntax, types, units, every kind of bad input,
 * and that a failed load leaves the target unchanged. */
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "fsutil.h"
#include "testutil.h"

#include <errno.h>
#include <stddef.h>

struct tconf {
    int64_t port;
    int64_t http_port;
    int64_t workers;
    int64_t offset;
    bool verbose;
    char *root;
    char *secret;
    int64_t timeout_ms;
    int64_t interval_s;
    int64_t cache_bytes;
};

static const struct conf_entry table[] = {
    { "port", CONF_PORT, 1, 0, "9050", "TCP port to listen on", offsetof(struct tconf, port) },
    { "http_port", CONF_PORT, 0, 0, "0", "metrics port, 0 picks one", offsetof(struct tconf, http_port) },
    { "workers", CONF_INT, 1, 64, "4", "worker threads", offsetof(struct tconf, workers) },
    { "offset", CONF_INT, 0, 0, "-5", "any integer", offsetof(struct tconf, offset) },
    { "verbose", CONF_BOOL, 0, 0, "false", "log more", offsetof(struct tconf, verbose) },
    { "root", CONF_STRING, 0, 0, "/var/lib/floe", "data directory", offsetof(struct tconf, root) },
    { "secret", CONF_STRING, 0, 0, NULL, "cluster token", offsetof(struct tconf, secret) },
    { "timeout_ms", CONF_INT, 1, 3600000, "5s", "request timeout", offsetof(struct tconf, timeout_ms) },
    { "interval_s", CONF_INT, 1, 86400, "60", "cooldown scan interval", offsetof(struct tconf, interval_s) },
    { "cache_bytes", CONF_INT, 0, 0, "64M", "file cache size", offsetof(struct tconf, cache_bytes) },
    CONF_END,
};

static void defaults(struct tconf *c)
{
    struct err e = { 0 };
    memset(c, 0xA5, sizeof(*c)); /* uninitialised memory is fine */
    ck_assert_msg(conf_defaults(table, c, &e) == 0, "%s", e.msg);
}

START_TEST(defaults_and_parse)
{
    struct tconf c;
    defaults(&c);
    ck_assert_int_eq(c.port, 9050);
    ck_assert_int_eq(c.http_port, 0);
    ck_assert_int_eq(c.workers, 4);
    ck_assert_int_eq(c.offset, -5);
    ck_assert(!c.verbose);
    ck_assert_str_eq(c.root, "/var/lib/floe");
    ck_assert_ptr_null(c.secret);
    ck_assert_int_eq(c.timeout_ms, 5000);
    ck_assert_int_eq(c.interval_s, 60);
    ck_assert_int_eq(c.cache_bytes, 64LL << 20);
    struct err e = { 0 };
    ck_assert_int_eq(conf_check_required(table, &c, &e), FLOE_ECONFIG);
    ck_assert_str_eq(e.msg, "key 'secret': required, but not set");

    const char *text =
        "# a comment\n"
        "\n"
        "   port=9100\n"
        "workers = 8   # trailing comment\n"
        "verbose = yes\r\n"
        "root = \"/data/with # hash\"\n"
        "secret = ab#cd+/=\n"
        "\ttimeout_ms = 2m\n"
        "interval_s = 3000ms\n"
        "cache_bytes = 2g\n"
        "offset = -9223372036854775808\n"
        "http_port = 0";
    ck_assert_msg(conf_load_string(table, &c, "t.conf", text, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.port, 9100);
    ck_assert_int_eq(c.workers, 8);
    ck_assert(c.verbose);
    ck_assert_str_eq(c.root, "/data/with # hash");
    ck_assert_str_eq(c.secret, "ab#cd+/=");
    ck_assert_int_eq(c.timeout_ms, 120000);
    ck_assert_int_eq(c.interval_s, 3);
    ck_assert_int_eq(c.cache_bytes, 2LL << 30);
    ck_assert_int_eq(c.offset, INT64_MIN);
    ck_assert_int_eq(conf_check_required(table, &c, &e), 0);

    /* a second load only overrides what it names */
    ck_assert_int_eq(conf_load_string(table, &c, "u.conf", "root = \"\"\nverbose=off\n", &e), 0);
    ck_assert_str_eq(c.root, "");
    ck_assert(!c.verbose);
    ck_assert_int_eq(c.port, 9100);
    conf_release(table, &c);
    ck_assert_ptr_null(c.root);
    conf_release(table, &c);
}
END_TEST

START_TEST(escapes_and_bools)
{
    struct tconf c;
    defaults(&c);
    struct err e = { 0 };
    ck_assert_int_eq(conf_load_string(table, &c, "t", "root = \"a\\\"b\\\\c\\n\\td\"  # x\n", &e), 0);
    ck_assert_str_eq(c.root, "a\"b\\c\n\td");
    const char *yes[] = { "true", "TRUE", "yes", "on", "1" };
    const char *no[] = { "false", "No", "off", "0" };
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(conf_set(table, &c, "verbose", yes[i], &e), 0);
        ck_assert(c.verbose);
    }
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(conf_set(table, &c, "verbose", no[i], &e), 0);
        ck_assert(!c.verbose);
    }
    ck_assert_int_eq(conf_set(table, &c, "root", "/x", &e), 0);
    ck_assert_str_eq(c.root, "/x");
    ck_assert_int_eq(conf_set(table, &c, "timeout_ms", "1h", &e), 0);
    ck_assert_int_eq(c.timeout_ms, 3600000);
    ck_assert_int_eq(conf_set(table, &c, "cache_bytes", "512", &e), 0);
    ck_assert_int_eq(c.cache_bytes, 512);
    conf_release(table, &c);
}
END_TEST

struct bad_case {
    const char *text;
    const char *want;  /* exact message */
};

START_TEST(bad_inputs_change_nothing)
{
    static const struct bad_case cases[] = {
        { "port = 80\nbogus = 1\n", "b.conf:2: key 'bogus': unknown key" },
        { "workers = 2\n\nworkers = 3\n", "b.conf:3: key 'workers': duplicate key (first set on line 1)" },
        { "workers = many\n", "b.conf:1: key 'workers': 'many' is not an integer" },
        { "workers = 12x\n", "b.conf:1: key 'workers': '12x' is not an integer" },
        { "workers =\n", "b.conf:1: key 'workers': empty value, expected an integer" },
        { "workers = 65\n", "b.conf:1: key 'workers': 65 is out of range [1, 64]" },
        { "workers = 0\n", "b.conf:1: key 'workers': 0 is out of range [1, 64]" },
        { "port = 0\n", "b.conf:1: key 'port': 0 is out of range [1, 65535]" },
        { "port = 65536\n", "b.conf:1: key 'port': 65536 is out of range [1, 65535]" },
        { "http_port = -1\n", "b.conf:1: key 'http_port': -1 is out of range [0, 65535]" },
        { "offset = 99999999999999999999\n", "b.conf:1: key 'offset': '99999999999999999999' does not fit in 64 bits" },
        { "verbose = maybe\n", "b.conf:1: key 'verbose': 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)" },
        { "verbose = \n", "b.conf:1: key 'verbose': '' is not a boolean (true/false, yes/no, on/off, 1/0)" },
        { "port 80\n", "b.conf:1: key 'port': missing '=' (expected key = value)" },
        { "secret hunter2 more\n", "b.conf:1: key 'secret': missing '=' (expected key = value)" },
        { "= 5\n", "b.conf:1: missing key before '='" },
        { "root = \"abc\n", "b.conf:1: key 'root': unterminated quoted value" },
        { "root = \"abc\" def\n", "b.conf:1: key 'root': unexpected text after the closing quote" },
        { "root = \"a\\qb\"\n", "b.conf:1: key 'root': unknown escape '\\q' in quoted value" },
        { "timeout_ms = 5 fortnights\n", "b.conf:1: key 'timeout_ms': '5 fortnights' has an unknown unit (ms, s, m, h, d)" },
        { "timeout_ms = 2d\n", "b.conf:1: key 'timeout_ms': 172800000 is out of range [1, 3600000]" },
        { "interval_s = 1500ms\n", "b.conf:1: key 'interval_s': '1500ms' is not a whole number of seconds" },
        { "cache_bytes = 3X\n", "b.conf:1: key 'cache_bytes': '3X' has an unknown unit (K, M, G, T)" },
        { "cache_bytes = 9999999T\n", "b.conf:1: key 'cache_bytes': '9999999T' does not fit in 64 bits" },
        { "workers = 5s\n", "b.conf:1: key 'workers': '5s' is not an integer" },
        { "Port = 1\n", "b.conf:1: key 'Port': unknown key" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tconf c, before;
        defaults(&c);
        c.secret = xstrdup("s3cr3t");
        memcpy(&before, &c, sizeof(c));
        struct err e = { 0 };
        /* good lines before the bad one must not be applied either */
        struct buf text = BUF_INIT;
        buf_puts(&text, cases[i].text);
        ck_assert_int_eq(conf_load_string(table, &c, "b.conf", buf_cstr(&text), &e), FLOE_ECONFIG);
        ck_assert_str_eq(e.msg, cases[i].want);
        ck_assert_ptr_null(strstr(e.msg, "hunter2"));
        ck_assert(memcmp(&c, &before, sizeof(c)) == 0);
        ck_assert_str_eq(c.root, "/var/lib/floe");
        buf_release(&text);
        conf_release(table, &c);
    }
}
END_TEST

START_TEST(set_errors)
{
    struct tconf c;
    defaults(&c);
    struct tconf before;
    memcpy(&before, &c, sizeof(c));
    struct err e = { 0 };
    ck_assert_int_eq(conf_set(table, &c, "nope", "1", &e), FLOE_ECONFIG);
    ck_assert_str_eq(e.msg, "key 'nope': unknown key");
    ck_assert_int_eq(conf_set(table, &c, "workers", "100", &e), FLOE_ECONFIG);
    ck_assert_str_eq(e.msg, "key 'workers': 100 is out of range [1, 64]");
    ck_assert_int_eq(conf_set(table, &c, "verbose", "2", &e), FLOE_ECONFIG);
    ck_assert(memcmp(&c, &before, sizeof(c)) == 0);
    conf_release(table, &c);
}
END_TEST

START_TEST(files)
{
    char *dir = test_tmpdir();
    char *p = xasprintf("%s/floe.conf", dir);
    struct err e = { 0 };
    const char *text = "port = 7000\nworkers = 99\n";
    ck_assert_int_eq(fs_write_atomic(p, text, strlen(text), &e), 0);
    struct tconf c;
    defaults(&c);
    ck_assert_int_eq(conf_load_file(table, &c, p, &e), FLOE_ECONFIG);
    char *want = xasprintf("%s:2: key 'workers': 99 is out of range [1, 64]", p);
    ck_assert_str_eq(e.msg, want);
    ck_assert_int_eq(c.port, 9050);
    ck_assert_int_eq(fs_write_atomic(p, "port = 7000\n", 12, &e), 0);
    ck_assert_int_eq(conf_load_file(table, &c, p, &e), 0);
    ck_assert_int_eq(c.port, 7000);
    ck_assert_int_eq(fs_write_atomic(p, "port = 7001\0junk", 16, &e), 0);
    ck_assert_int_eq(conf_load_file(table, &c, p, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "NUL"));
    ck_assert_int_eq(c.port, 7000);
    char *missing = xasprintf("%s/none.conf", dir);
    ck_assert_int_eq(conf_load_file(table, &c, missing, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.msg, missing));
    conf_release(table, &c);
    fs_remove_all(dir, NULL);
    free(missing);
    free(want);
    free(p);
    free(dir);
}
END_TEST

START_TEST(bad_default_and_help)
{
    struct tconf c;
    static const struct conf_entry broken[] = {
        { "workers", CONF_INT, 1, 64, "0", "x", offsetof(struct tconf, workers) },
        CONF_END,
    };
    struct err e = { 0 };
    ck_assert_int_eq(conf_defaults(broken, &c, &e), FLOE_ECONFIG);
    ck_assert_str_eq(e.msg, "key 'workers': bad default: 0 is out of range [1, 64]");

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    conf_print_help(table, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "port = 9050    [port, 1..65535]\n    TCP port to listen on\n"));
    ck_assert_ptr_nonnull(strstr(out, "workers = 4    [int, 1..64]\n"));
    ck_assert_ptr_nonnull(strstr(out, "secret = (required)    [string]\n    cluster token\n"));
    ck_assert_ptr_nonnull(strstr(out, "timeout_ms = 5s    [int, 1..3600000, milliseconds (or ms, s, m, h, d)]"));
    ck_assert_ptr_nonnull(strstr(out, "cache_bytes = 64M    [int, any, bytes (or K, M, G, T)]"));
    free(out);
    f = open_memstream(&out, &len);
    conf_print_markdown(table, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "| `workers` | int | 1..64 | `4` | worker threads |\n"));
    ck_assert_ptr_nonnull(strstr(out, "| `secret` | string |  | required | cluster token |\n"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, defaults_and_parse);
    tcase_add_test(tc, escapes_and_bools);
    tcase_add_test(tc, bad_inputs_change_nothing);
    tcase_add_test(tc, set_errors);
    tcase_add_test(tc, files);
    tcase_add_test(tc, bad_default_and_help);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
