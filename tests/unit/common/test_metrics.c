/* Unit tests for common/metrics: registration, exposition text, bad names, concurrency. */
#include "buf.h"
#include "metrics.h"
#include "testutil.h"

#include <pthread.h>

START_TEST(render_families)
{
    struct metric *get = metrics_counter("floe_s3_requests_total{kind=\"get\"}", "S3 requests by kind");
    struct metric *put = metrics_counter("floe_s3_requests_total{kind=\"put\"}", "ignored: first help wins");
    struct metric *q = metrics_gauge("floe_cooldown_queue", "tablets waiting to cool down");
    struct metric *a = metrics_counter("a_first_total", "multi\nline \\ help");
    ck_assert_ptr_eq(metrics_counter("floe_s3_requests_total{kind=\"get\"}", "x"), get);
    metrics_add(get, 3);
    metrics_inc(get);
    metrics_add(put, 2);
    metrics_set(q, 7);
    metrics_add(q, -10);
    ck_assert_int_eq(metrics_get(get), 4);
    ck_assert_int_eq(metrics_get(q), -3);
    struct buf b = BUF_INIT;
    buf_puts(&b, "pre\n");
    metrics_render(&b);
    (void)a;
    ck_assert_str_eq(buf_cstr(&b),
                     "pre\n"
                     "# HELP a_first_total multi\\nline \\\\ help\n"
                     "# TYPE a_first_total counter\n"
                     "a_first_total 0\n"
                     "# HELP floe_cooldown_queue tablets waiting to cool down\n"
                     "# TYPE floe_cooldown_queue gauge\n"
                     "floe_cooldown_queue -3\n"
                     "# HELP floe_s3_requests_total S3 requests by kind\n"
                     "# TYPE floe_s3_requests_total counter\n"
                     "floe_s3_requests_total{kind=\"get\"} 4\n"
                     "floe_s3_requests_total{kind=\"put\"} 2\n");
    buf_release(&b);
}
END_TEST

START_TEST(bad_names_are_sinks)
{
    const char *bad[] = {
        "", "9lives", "has space", "x{", "x{}}", "x{k=v}", "x{k=\"v}", "x{k=\"v\",}", "x{9=\"v\"}",
        "x{k=\"a\\q\"}", "x{k=\"v\"}y", "x-y", "x{k:z=\"v\"}",
    };
    /* compare renders before and after, so the test also holds with CK_FORK=no */
    struct buf before = BUF_INIT, b = BUF_INIT;
    metrics_render(&before);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct metric *m = metrics_counter(bad[i], "h");
        ck_assert_ptr_nonnull(m);
        metrics_add(m, 5);  /* works, just not exported */
        ck_assert_int_eq(metrics_get(m), 5);
    }
    ck_assert_ptr_nonnull(metrics_counter(NULL, "h"));
    metrics_render(&b);
    ck_assert_str_eq(buf_cstr(&b), buf_cstr(&before));
    /* good label forms */
    metrics_counter("ok_total{}", "h");
    metrics_counter("ok_total{a=\"1\",b_c=\"x\\\"y\\\\z\\n\"}", "h");
    metrics_gauge("ns:sub_bytes", "h");
    /* counter/gauge clash in a family */
    struct metric *c = metrics_counter("clash{a=\"1\"}", "h");
    struct metric *g = metrics_gauge("clash{a=\"2\"}", "h");
    struct metric *g2 = metrics_gauge("clash{a=\"1\"}", "h");
    ck_assert_ptr_ne(c, g2);
    metrics_set(g, 9);
    metrics_set(g2, 9);
    buf_reset(&b);
    metrics_render(&b);
    const char *want[] = {
        "# HELP clash h\n# TYPE clash counter\nclash{a=\"1\"} 0\n#",
        "# HELP ns:sub_bytes h\n# TYPE ns:sub_bytes gauge\nns:sub_bytes 0\n",
        "# HELP ok_total h\n# TYPE ok_total counter\nok_total{} 0\n"
        "ok_total{a=\"1\",b_c=\"x\\\"y\\\\z\\n\"} 0\n",
    };
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(strstr(buf_cstr(&b), want[i]) != NULL, "missing %s in %s", want[i], buf_cstr(&b));
    ck_assert_ptr_null(strstr(buf_cstr(&b), "clash{a=\"2\"}"));
    buf_release(&b);
    buf_release(&before);
}
END_TEST

START_TEST(label_escaping)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "floe_bucket_bytes{");
    metrics_label(&b, "bucket", "we\"ird\\na\nme");
    buf_puts(&b, ",");
    metrics_label(&b, "empty", NULL);
    buf_puts(&b, "}");
    ck_assert_str_eq(buf_cstr(&b), "floe_bucket_bytes{bucket=\"we\\\"ird\\\\na\\nme\",empty=\"\"}");
    struct metric *m = metrics_gauge(buf_cstr(&b), "bytes per bucket");
    metrics_set(m, 1);
    struct buf out = BUF_INIT;
    metrics_render(&out);
    ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "\nfloe_bucket_bytes{bucket=\"we\\\"ird\\\\na\\nme\",empty=\"\"} 1\n"));
    buf_release(&out);
    buf_release(&b);
}
END_TEST

#define NTHREADS 4
#define PER_THREAD 200000

static void *hammer(void *arg)
{
    (void)arg;
    struct metric *m = metrics_counter("hammer_total", "h");
    for (int i = 0; i < PER_THREAD; i++)
        metrics_inc(m);
    /* registration races: everyone gets the same series */
    char name[64];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "race_total{i=\"%d\"}", i);
        metrics_add(metrics_counter(name, "h"), 1);
    }
    return NULL;
}

START_TEST(concurrent_updates)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(metrics_get(metrics_counter("hammer_total", "h")), NTHREADS * PER_THREAD);
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof(name), "race_total{i=\"%d\"}", i);
        ck_assert_int_eq(metrics_get(metrics_counter(name, "h")), NTHREADS);
    }
    struct buf b = BUF_INIT;
    metrics_render(&b);
    const char *p = buf_cstr(&b);
    int help_lines = 0;
    while ((p = strstr(p, "# HELP race_total")) != NULL) {
        help_lines++;
        p++;
    }
    ck_assert_int_eq(help_lines, 1);
    buf_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, render_families);
    tcase_add_test(tc, bad_names_are_sinks);
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, concurrent_updates);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
