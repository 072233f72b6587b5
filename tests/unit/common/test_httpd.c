/* Unit tests for common/httpd: a real server on a loopback port, fetched with libcurl. */
#include "buf.h"
#include "err.h"
#include "httpd.h"
#include "metrics.h"
#include "testutil.h"

#include <curl/curl.h>
#include <errno.h>

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    buf_append(arg, data, size * n);
    return size * n;
}

/* GETs (or sends method to) http://127.0.0.1:port path; returns the HTTP
 * status, or -1 when no connection could be made. */
static long fetch(int port, const char *method, const char *path, struct buf *body, struct buf *ctype)
{
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    buf_reset(body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method && strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ctype) {
            buf_reset(ctype);
            buf_puts(ctype, ct ? ct : "");
        }
    } else {
        ck_assert_msg(rc == CURLE_COULDNT_CONNECT, "curl %s: %s", url, curl_easy_strerror(rc));
    }
    curl_easy_cleanup(c);
    return status;
}

static int status_cb(void *arg, const struct httpd_req *req, struct buf *out, struct err *e)
{
    const char *name = httpd_req_arg(req, "name");
    if (name && strcmp(name, "missing") == 0)
        return err_set(e, FLOE_ENOTFOUND, "tablet %s not found", name);
    if (name && strcmp(name, "bad") == 0)
        return err_set(e, FLOE_EBADINPUT, "bad \"name\"");
    if (name && strcmp(name, "boom") == 0)
        return err_set(e, FLOE_ECORRUPT, "broken");
    buf_printf(out, "{\"role\":\"%s\",\"path\":\"%s\",\"name\":\"%s\"}", (const char *)arg,
               httpd_req_path(req), name ? name : "");
    return 0;
}

START_TEST(serves_metrics_health_and_handlers)
{
    struct httpd *h = NULL;
    struct err e = { 0 };
    ck_assert_msg(httpd_start(0, "127.0.0.1", &h, &e) == 0, "%s", e.msg);
    int port = httpd_port(h);
    ck_assert_int_gt(port, 0);
    ck_assert_int_le(port, 65535);

    struct buf body = BUF_INIT, ct = BUF_INIT;
    ck_assert_int_eq(fetch(port, NULL, "/health", &body, &ct), 200);
    ck_assert_str_eq(buf_cstr(&body), "ok\n");

    struct metric *m = metrics_counter("floe_test_requests_total{kind=\"get\"}", "requests in the test");
    metrics_add(m, 41);
    metrics_inc(m);
    ck_assert_int_eq(fetch(port, NULL, "/metrics", &body, &ct), 200);
    ck_assert_ptr_nonnull(strstr(buf_cstr(&body), "# HELP floe_test_requests_total requests in the test\n"
                                                  "# TYPE floe_test_requests_total counter\n"
                                                  "floe_test_requests_total{kind=\"get\"} 42\n"));
    ck_assert_ptr_nonnull(strstr(buf_cstr(&ct), "text/plain"));

    /* handlers registered after start */
    ck_assert_int_eq(httpd_add_get(h, "/status", status_cb, "be", &e), 0);
    ck_assert_int_eq(httpd_add_get(h, "/tablets/*", status_cb, "prefix", &e), 0);
    ck_assert_int_eq(httpd_add_get(h, "/tablets/special", status_cb, "exact", &e), 0);
    ck_assert_int_eq(httpd_add_get(h, "/status", status_cb, "x", &e), FLOE_EEXIST);
    ck_assert_int_eq(httpd_add_get(h, "/metrics", status_cb, "x", &e), FLOE_EEXIST);
    ck_assert_int_eq(httpd_add_get(h, "status", status_cb, "x", &e), FLOE_EBADINPUT);

    ck_assert_int_eq(fetch(port, NULL, "/status?name=t%2012", &body, &ct), 200);
    ck_assert_str_eq(buf_cstr(&body), "{\"role\":\"be\",\"path\":\"/status\",\"name\":\"t 12\"}");
    ck_assert_str_eq(buf_cstr(&ct), "application/json");
    ck_assert_int_eq(fetch(port, NULL, "/tablets/12", &body, NULL), 200);
    ck_assert_str_eq(buf_cstr(&body), "{\"role\":\"prefix\",\"path\":\"/tablets/12\",\"name\":\"\"}");
    ck_assert_int_eq(fetch(port, NULL, "/tablets/special", &body, NULL), 200);
    ck_assert_ptr_nonnull(strstr(buf_cstr(&body), "\"exact\""));

    /* errors map to statuses with a JSON body */
    ck_assert_int_eq(fetch(port, NULL, "/status?name=missing", &body, &ct), 404);
    ck_assert_str_eq(buf_cstr(&body), "{\"error\":\"tablet missing not found\"}\n");
    ck_assert_str_eq(buf_cstr(&ct), "application/json");
    ck_assert_int_eq(fetch(port, NULL, "/status?name=bad", &body, NULL), 400);
    ck_assert_str_eq(buf_cstr(&body), "{\"error\":\"bad \\\"name\\\"\"}\n");
    ck_assert_int_eq(fetch(port, NULL, "/status?name=boom", &body, NULL), 500);
    ck_assert_int_eq(fetch(port, NULL, "/nope", &body, NULL), 404);
    ck_assert_str_eq(buf_cstr(&body), "{\"error\":\"no handler for /nope\"}\n");
    ck_assert_int_eq(fetch(port, "POST", "/health", &body, NULL), 405);
    ck_assert_int_eq(fetch(port, "HEAD", "/health", &body, NULL), 200);
    ck_assert_uint_eq(body.len, 0);

    httpd_stop(h);
    /* the port is closed once stopped */
    ck_assert_int_eq(fetch(port, NULL, "/health", &body, NULL), -1);
    httpd_stop(NULL);
    buf_release(&body);
    buf_release(&ct);
}
END_TEST

START_TEST(bind_errors)
{
    struct httpd *h = NULL, *h2 = NULL;
    struct err e = { 0 };
    ck_assert_int_eq(httpd_start(0, NULL, &h, &e), 0);
    int port = httpd_port(h);
    ck_assert_int_eq(httpd_start(port, "127.0.0.1", &h2, &e), -EADDRINUSE);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    ck_assert_ptr_nonnull(strstr(e.msg, want));
    ck_assert_ptr_null(h2);
    ck_assert_int_eq(httpd_start(0, "not-an-ip", &h2, &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "not-an-ip"));
    ck_assert_int_eq(httpd_start(70000, NULL, &h2, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(httpd_start(-1, NULL, &h2, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(httpd_start(0, "203.0.113.7", &h2, &e), -EADDRNOTAVAIL);
    ck_assert_ptr_null(h2);
    httpd_stop(h);
}
END_TEST

START_TEST(ipv6_loopback)
{
    struct httpd *h = NULL;
    struct err e = { 0 };
    int r = httpd_start(0, "::1", &h, &e);
    if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
        fprintf(stderr, "httpd: no IPv6 loopback here, skipped (%s)\n", e.msg);
        return;
    }
    ck_assert_msg(r == 0, "%s", e.msg);
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://[::1]:%d/health", httpd_port(h));
    struct buf body = BUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    ck_assert_str_eq(buf_cstr(&body), "ok\n");
    curl_easy_cleanup(c);
    buf_release(&body);
    httpd_stop(h);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("httpd");
    tcase_add_test(tc, serves_metrics_health_and_handlers);
    tcase_add_test(tc, bind_errors);
    tcase_add_test(tc, ipv6_loopback);
    suite_add_tcase(s, tc);
    int r = test_run_suite(s);
    curl_global_cleanup();
    return r;
}
