/* Unit tests for common/objstore: the local driver (including the whole
 * conformance suite), configuration parsing and credential resolution. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conformance.h"
#include "err.h"
#include "fault.h"
#include "objstore.h"
#include "testutil.h"

static struct objstore *open_local(const char *root, const char *prefix)
{
    struct objstore_conf conf;
    struct err e;
    struct objstore *os = NULL;
    objstore_conf_init(&conf);
    ck_assert_int_eq(objstore_conf_set(&conf, "type", "local", &e), 0);
    ck_assert_int_eq(objstore_conf_set(&conf, "root", root, &e), 0);
    if (prefix)
        ck_assert_int_eq(objstore_conf_set(&conf, "prefix", prefix, &e), 0);
    int r = objstore_open(&conf, &os, &e);
    ck_assert_msg(r == 0, "open: %s", err_msg(&e));
    objstore_conf_release(&conf);
    return os;
}

START_TEST(local_conformance)
{
    char *dir = test_tmpdir();
    struct objstore_conf conf;
    objstore_conf_init(&conf);
    conf.type = OBJSTORE_LOCAL;
    conf.root = xasprintf("%s/store", dir);
    conf.prefix = xstrdup("res1");
    conf.multipart_threshold = 5u << 20;
    conf.part_size = 5u << 20;
    struct conformance_opts opts = {.label = "local"};
    int failed = conformance_run(&conf, &opts, stdout);
    ck_assert_int_eq(failed, 0);
    objstore_conf_release(&conf);
    fs_remove_all(dir, NULL);
    free(dir);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

START_TEST(local_keys_stay_inside_root)
{
    char *dir = test_tmpdir();
    char *root = xasprintf("%s/root", dir);
    struct objstore *os = open_local(root, NULL);
    struct err e;
    const char *keys[] = {"..", ".", "up/../x", "a/../../b", "/abs", "c//d", "a/", "%", "%2E%2E", NULL};
    for (const char **k = keys; *k; k++) {
        int r = objstore_put(os, *k, *k, strlen(*k), &e);
        ck_assert_msg(r == 0, "put '%s': %s", *k, err_msg(&e));
    }
    /* nothing was written next to the root */
    ck_assert_int_eq(count_entries(dir), 1);
    struct objstore_list l;
    ck_assert_int_eq(objstore_list(os, "", &l, &e), 0);
    ck_assert_uint_eq(l.n, 9);
    for (const char **k = keys; *k; k++) {
        struct buf b = BUF_INIT;
        ck_assert_int_eq(objstore_get_buf(os, *k, 0, OBJSTORE_TO_END, &b, &e), 0);
        ck_assert_str_eq(buf_cstr(&b), *k);
        buf_release(&b);
    }
    objstore_list_release(&l);
    /* a key that is also a "directory" of other keys cannot exist here */
    int r = objstore_put(os, "a", "x", 1, &e);
    ck_assert_int_eq(r, FLOE_EBADREQ);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "'a'"));
    /* leftover temp files are not objects */
    char *tmp = xasprintf("%s/%%tmp.leftover", root);
    int fd = open(tmp, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(objstore_list(os, "", &l, &e), 0);
    ck_assert_uint_eq(l.n, 9);
    objstore_list_release(&l);
    /* delete removes emptied directories */
    const char *all[] = {"..", ".", "up/../x", "a/../../b", "/abs", "c//d", "a/", "%", "%2E%2E"};
    ck_assert_int_eq(objstore_delete_many(os, all, 9, NULL, &e), 0);
    ck_assert_int_eq(count_entries(root), 1); /* the temp file */
    objstore_close(os);
    fs_remove_all(dir, NULL);
    free(tmp);
    free(root);
    free(dir);
}
END_TEST

START_TEST(local_etag_changes_and_stats)
{
    char *dir = test_tmpdir();
    struct objstore *os = open_local(dir, "p/q");
    struct err e;
    struct objstore_info a, b;
    ck_assert_int_eq(objstore_put(os, "k", "same", 4, &e), 0);
    ck_assert_int_eq(objstore_head(os, "k", &a, &e), 0);
    ck_assert_int_eq(objstore_put(os, "k", "same", 4, &e), 0);
    ck_assert_int_eq(objstore_head(os, "k", &b, &e), 0);
    ck_assert_str_ne(a.etag, b.etag);
    struct stat st;
    char *path = xasprintf("%s/p/q/k", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    struct objstore_stats s;
    objstore_stats_get(os, &s);
    ck_assert_uint_eq(s.requests[OBJSTORE_OP_PUT], 2);
    ck_assert_uint_eq(s.requests[OBJSTORE_OP_HEAD], 2);
    ck_assert_uint_eq(s.bytes_up, 8);
    ck_assert_str_eq(objstore_op_name(OBJSTORE_OP_LIST), "list");
    ck_assert_str_eq(objstore_type_name(os), "local");
    objstore_close(os);
    objstore_close(NULL);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

START_TEST(conf_errors)
{
    struct objstore_conf conf;
    struct err e;
    objstore_conf_init(&conf);
    ck_assert_int_eq(objstore_conf_set(&conf, "type", "ftp", &e), FLOE_ECONFIG);
    ck_assert_int_eq(objstore_conf_set(&conf, "bogus", "1", &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "bogus"));
    ck_assert_int_eq(objstore_conf_set(&conf, "parallelism", "0", &e), FLOE_ECONFIG);
    ck_assert_int_eq(objstore_conf_set(&conf, "parallelism", "12x", &e), FLOE_ECONFIG);
    ck_assert_int_eq(objstore_conf_set(&conf, "part_size", "8M", &e), 0);
    ck_assert_uint_eq(conf.part_size, 8u << 20);
    ck_assert_int_eq(objstore_conf_set(&conf, "path_style", "maybe", &e), FLOE_ECONFIG);
    struct objstore *os = NULL;
    /* local without root */
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    ck_assert_ptr_null(os);
    /* s3 without endpoint, bad endpoint, bad bucket */
    ck_assert_int_eq(objstore_conf_set(&conf, "type", "s3", &e), 0);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "endpoint"));
    objstore_conf_set(&conf, "endpoint", "ftp://x", &e);
    objstore_conf_set(&conf, "bucket", "b", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    objstore_conf_set(&conf, "endpoint", "http://127.0.0.1:1/path", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    objstore_conf_set(&conf, "endpoint", "http://127.0.0.1:1", &e);
    objstore_conf_set(&conf, "bucket", "bad bucket", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    objstore_conf_set(&conf, "bucket", "b", &e);
    objstore_conf_set(&conf, "credentials", "explicit", &e);
    objstore_conf_set(&conf, "access_key", "AK", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    objstore_conf_set(&conf, "secret_key", "S3CR3T-VALUE", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), 0);
    ck_assert_str_eq(objstore_type_name(os), "s3");
    /* nothing listens on port 1: transient, and the secret is never in the message */
    objstore_close(os);
    objstore_conf_set(&conf, "retry_max_attempts", "2", &e);
    objstore_conf_set(&conf, "retry_base_ms", "1", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), 0);
    int r = objstore_put(os, "k", "v", 1, &e);
    ck_assert_int_eq(r, FLOE_ETRANSIENT);
    ck_assert_ptr_null(strstr(err_msg(&e), "S3CR3T"));
    struct objstore_stats st;
    objstore_stats_get(os, &st);
    ck_assert_uint_eq(st.requests[OBJSTORE_OP_PUT], 2);
    ck_assert_uint_eq(st.retries[OBJSTORE_OP_PUT], 1);
    ck_assert_uint_eq(st.errors[OBJSTORE_OP_PUT], 2);
    objstore_close(os);
    objstore_conf_release(&conf);
    objstore_conf_release(NULL);
}
END_TEST

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * retry_total_ms bounds a request's retries in time: nothing listens on
 * 127.0.0.1:1 (each attempt fails at once), 100 attempts are allowed and a
 * backoff grows from 10 ms to at most 500 ms (the attempts alone would take
 * about 35 s), but the request gives up after about 500 ms, transient, well
 * short of the attempt bound.
 */
START_TEST(retry_total_bound)
{
    struct objstore_conf conf;
    struct err e;
    objstore_conf_init(&conf);
    const char *kv[][2] = {
        {"type", "s3"}, {"endpoint", "http://127.0.0.1:1"}, {"bucket", "b"},
        {"credentials", "explicit"}, {"access_key", "AK"}, {"secret_key", "SK"},
        {"retry_max_attempts", "100"}, {"retry_base_ms", "10"},
        {"retry_max_backoff_ms", "500"}, {"retry_total_ms", "500"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        ck_assert_msg(objstore_conf_set(&conf, kv[i][0], kv[i][1], &e) == 0, "%s: %s", kv[i][0],
                      err_msg(&e));
    struct objstore *os = NULL;
    ck_assert_int_eq(objstore_open(&conf, &os, &e), 0);
    objstore_conf_release(&conf);
    int64_t t0 = mono_ms();
    int r = objstore_put(os, "k", "v", 1, &e);
    int64_t elapsed = mono_ms() - t0;
    ck_assert_msg(r == FLOE_ETRANSIENT, "put to a closed port: %s: %s", err_name(r), err_msg(&e));
    struct objstore_stats st;
    objstore_stats_get(os, &st);
    uint64_t n = st.requests[OBJSTORE_OP_PUT];
    printf("# retry_total_bound: %" PRIu64 " attempts in %" PRId64 " ms: %s\n", n, elapsed,
           err_msg(&e));
    /* generous: a loaded machine may stretch one attempt, not a minute's worth */
    ck_assert_msg(elapsed < 5000, "gave up after %" PRId64 " ms (total bound 500 ms)", elapsed);
    ck_assert_msg(n >= 2 && n < 100, "%" PRIu64 " attempts (bound 100): the time bound did not stop them", n);
    ck_assert_uint_eq(st.retries[OBJSTORE_OP_PUT], n - 1);
    ck_assert_msg(strstr(err_msg(&e), "attempts in") != NULL, "not stopped by the time bound: %s", err_msg(&e));
    /* the same bound applies to reads */
    t0 = mono_ms();
    r = objstore_head(os, "k", NULL, &e);
    elapsed = mono_ms() - t0;
    ck_assert_int_eq(r, FLOE_ETRANSIENT);
    ck_assert_msg(elapsed < 5000, "head gave up after %" PRId64 " ms", elapsed);
    objstore_close(os);
}
END_TEST

START_TEST(credentials_file_and_env)
{
    char *dir = test_tmpdir();
    char *path = xasprintf("%s/credentials", dir);
    const char *text = "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n"
                       "# comment\n[profile p2]\naws_access_key_id=P2\naws_secret_access_key = P2SECRET\n"
                       "[half]\naws_access_key_id = H\n";
    struct err e;
    ck_assert_int_eq(fs_write_atomic(path, text, strlen(text), &e), 0);
    struct objstore_conf conf;
    objstore_conf_init(&conf);
    objstore_conf_set(&conf, "type", "s3", &e);
    objstore_conf_set(&conf, "endpoint", "http://127.0.0.1:1", &e);
    objstore_conf_set(&conf, "bucket", "b", &e);
    objstore_conf_set(&conf, "credentials", "file", &e);
    objstore_conf_set(&conf, "credentials_file", path, &e);
    objstore_conf_set(&conf, "profile", "p2", &e);
    struct objstore *os = NULL;
    ck_assert_int_eq(objstore_open(&conf, &os, &e), 0);
    objstore_close(os);
    objstore_conf_set(&conf, "profile", "half", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    ck_assert_ptr_null(strstr(err_msg(&e), "SECRET"));
    objstore_conf_set(&conf, "profile", "nope", &e);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "nope"));
    objstore_conf_set(&conf, "credentials_file", "/nonexistent/creds", &e);
    ck_assert_int_lt(objstore_open(&conf, &os, &e), 0);
    /* env */
    objstore_conf_set(&conf, "credentials", "env", &e);
    unsetenv("AWS_ACCESS_KEY_ID");
    ck_assert_int_eq(objstore_open(&conf, &os, &e), FLOE_ECONFIG);
    setenv("AWS_ACCESS_KEY_ID", "EK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ES", 1);
    ck_assert_int_eq(objstore_open(&conf, &os, &e), 0);
    objstore_close(os);
    objstore_conf_release(&conf);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

START_TEST(fault_points)
{
    if (!fault_compiled_in())
        return;
    char *dir = test_tmpdir();
    struct objstore *os = open_local(dir, NULL);
    struct err e;
    ck_assert_int_eq(fault_set("objstore.put=once", &e), 0);
    ck_assert_int_eq(objstore_put(os, "k", "v", 1, &e), FLOE_EFAULT);
    ck_assert_int_eq(objstore_head(os, "k", NULL, &e), FLOE_ENOTFOUND);
    ck_assert_int_eq(objstore_put(os, "k", "v", 1, &e), 0);
    ck_assert_int_eq(fault_set("objstore.put.after=once", &e), 0);
    ck_assert_int_eq(objstore_put(os, "k2", "v", 1, &e), FLOE_EFAULT);
    ck_assert_int_eq(objstore_head(os, "k2", NULL, &e), 0);
    fault_clear();
    objstore_close(os);
    fs_remove_all(dir, NULL);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("objstore");
    TCase *tc = tcase_create("objstore");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, local_conformance);
    tcase_add_test(tc, local_keys_stay_inside_root);
    tcase_add_test(tc, local_etag_changes_and_stats);
    tcase_add_test(tc, conf_errors);
    tcase_add_test(tc, retry_total_bound);
    tcase_add_test(tc, credentials_file_and_env);
    tcase_add_test(tc, fault_points);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
