/* Unit tests for common/log: line format, one line per event, level checks
 * before argument evaluation, level names, log files. */
#define LOG_MODULE "logtest"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static char *path;

static void setup(void)
{
    dir = test_tmpdir();
    path = xasprintf("%s/floe.log", dir);
    log_set_role("test");
    log_set_level(LOG_INFO);
    ck_assert_int_eq(log_set_file(path), 0);
}

static void teardown(void)
{
    log_set_file(NULL);
    log_set_level(LOG_INFO);
    log_set_role(NULL);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

static char *read_log(size_t *ret_len)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    struct buf b = BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    size_t len = b.len;
    char *s = buf_detach(&b, NULL);
    if (ret_len)
        *ret_len = len;
    return s ? s : xstrdup("");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* time: 2026-12-05T12:17:02.123Z, level padded to 5, role, module */
#define LINE_RE \
    "^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\\.[0-9]{3}Z " \
    "(DEBUG|INFO |WARN |ERROR) test logtest (tablet=[0-9]+ )?(.*)$"

static void assert_line(const char *line, const char *level, const char *tablet, const char *msg)
{
    static regex_t re;
    static int compiled;
    if (!compiled) {
        ck_assert_int_eq(regcomp(&re, LINE_RE, REG_EXTENDED), 0);
        compiled = 1;
    }
    regmatch_t m[10];
    int r = regexec(&re, line, 10, m, 0);
    ck_assert_msg(r == 0, "line does not match the log format: '%s'", line);
    char lv[8];
    snprintf(lv, sizeof(lv), "%.*s", (int)(m[7].rm_eo - m[7].rm_so), line + m[7].rm_so);
    ck_assert_str_eq(lv, level);
    if (tablet) {
        ck_assert_msg(m[8].rm_so >= 0, "no tablet= in '%s'", line);
        char tb[64];
        snprintf(tb, sizeof(tb), "%.*s", (int)(m[8].rm_eo - m[8].rm_so), line + m[8].rm_so);
        ck_assert_str_eq(tb, tablet);
    } else {
        ck_assert_msg(m[8].rm_so < 0, "unexpected tablet= in '%s'", line);
    }
    ck_assert_str_eq(line + m[9].rm_so, msg);
    /* the time is UTC and now (within a generous minute) */
    struct tm tm = { 0 };
    tm.tm_year = atoi(line) - 1900;
    tm.tm_mon = atoi(line + 5) - 1;
    tm.tm_mday = atoi(line + 8);
    tm.tm_hour = atoi(line + 11);
    tm.tm_min = atoi(line + 14);
    tm.tm_sec = atoi(line + 17);
    time_t t = timegm(&tm);
    time_t now = time(NULL);
    ck_assert_msg(t <= now && now - t < 60, "log time '%.24s' is not now (%lld)", line,
                  (long long)now);
}

/* Splits the log into lines (modifies s); returns the count. */
static int split_lines(char *s, char **lines, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(s, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

START_TEST(line_format)
{
    log_info("hello %s %d", "world", 42);
    log_warn("careful");
    log_error("broken: %s", "disk");
    tlog_info(1234567890123LL, "tablet message");
    tlog_warn(7, "x=%d", 1);
    tlog_info(0, "no tablet id");   /* 0 is "no tablet" */
    log_debug("not at info level");
    size_t len;
    char *s = read_log(&len);
    ck_assert_uint_eq(strlen(s), len);
    ck_assert_int_eq(count_lines(s), 6);
    ck_assert_int_eq(s[len - 1], '\n');
    char *lines[16];
    ck_assert_int_eq(split_lines(s, lines, 16), 6);
    assert_line(lines[0], "INFO ", NULL, "hello world 42");
    assert_line(lines[1], "WARN ", NULL, "careful");
    assert_line(lines[2], "ERROR", NULL, "broken: disk");
    assert_line(lines[3], "INFO ", "tablet=1234567890123 ", "tablet message");
    assert_line(lines[4], "WARN ", "tablet=7 ", "x=1");
    assert_line(lines[5], "INFO ", NULL, "no tablet id");
    free(s);

    /* role and module are the ones set */
    log_set_level(LOG_DEBUG);
    log_debug("dbg");
    log_set_role("fe");
    log_info("as fe");
    s = read_log(NULL);
    ck_assert_ptr_nonnull(strstr(s, " DEBUG test logtest dbg\n"));
    ck_assert_ptr_nonnull(strstr(s, " INFO  fe logtest as fe\n"));
    free(s);
}
END_TEST

START_TEST(one_line_per_event)
{
    log_info("first\nsecond\r\nthird");
    tlog_warn(9, "%s", "multi\nline\nvalue\n");
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '\n';
    big[4000] = '\n';
    log_info("%s", big);   /* longer than a log line: cut, still one line */
    log_info("after");
    char *s = read_log(NULL);
    ck_assert_int_eq(count_lines(s), 4);
    ck_assert_ptr_null(strchr(s, '\r'));
    char *lines[8];
    ck_assert_int_eq(split_lines(s, lines, 8), 4);
    assert_line(lines[0], "INFO ", NULL, "first second  third");
    assert_line(lines[1], "WARN ", "tablet=9 ", "multi line value ");
    ck_assert_uint_lt(strlen(lines[2]), 2048);
    ck_assert_uint_gt(strlen(lines[2]), 1900);
    ck_assert_ptr_nonnull(strstr(lines[2], " INFO  test logtest xxx"));
    assert_line(lines[3], "INFO ", NULL, "after");
    free(s);
}
END_TEST

static int evaluated, tablet_evaluated;

static int side_effect(void)
{
    return ++evaluated;
}

static int64_t tablet_side_effect(void)
{
    tablet_evaluated++;
    return 5;
}

START_TEST(below_level_not_evaluated)
{
    evaluated = tablet_evaluated = 0;
    log_set_level(LOG_WARN);
    log_debug("%d", side_effect());
    log_info("%d", side_effect());
    tlog_info(tablet_side_effect(), "%d", side_effect());
    ck_assert_int_eq(evaluated, 0);
    ck_assert_int_eq(tablet_evaluated, 0);
    log_warn("warn %d", side_effect());   /* at the level: evaluated exactly once */
    ck_assert_int_eq(evaluated, 1);
    tlog_error(tablet_side_effect(), "error %d", side_effect());
    ck_assert_int_eq(evaluated, 2);
    ck_assert_int_eq(tablet_evaluated, 1);
    log_set_level(LOG_OFF);
    log_error("%d", side_effect());
    tlog_error(tablet_side_effect(), "%d", side_effect());
    ck_assert_int_eq(evaluated, 2);
    ck_assert_int_eq(tablet_evaluated, 1);
    char *s = read_log(NULL);
    ck_assert_int_eq(count_lines(s), 2);
    char *lines[4];
    ck_assert_int_eq(split_lines(s, lines, 4), 2);
    assert_line(lines[0], "WARN ", NULL, "warn 1");
    assert_line(lines[1], "ERROR", "tablet=5 ", "error 2");
    free(s);
}
END_TEST

START_TEST(parse_level)
{
    enum log_level lv = LOG_ERROR;
    ck_assert_int_eq(log_parse_level("debug", &lv), 0);
    ck_assert_int_eq(lv, LOG_DEBUG);
    ck_assert_int_eq(log_parse_level("INFO", &lv), 0);
    ck_assert_int_eq(lv, LOG_INFO);
    ck_assert_int_eq(log_parse_level("Warn", &lv), 0);
    ck_assert_int_eq(lv, LOG_WARN);
    ck_assert_int_eq(log_parse_level("warning", &lv), 0);
    ck_assert_int_eq(lv, LOG_WARN);
    ck_assert_int_eq(log_parse_level("error", &lv), 0);
    ck_assert_int_eq(lv, LOG_ERROR);
    ck_assert_int_eq(log_parse_level("off", &lv), 0);
    ck_assert_int_eq(lv, LOG_OFF);
    /* bad names fail with FLOE_EBADINPUT and leave the result alone */
    const char *bad[] = { "", "verbose", "inf", "infos", "info ", " info", "3", "trace" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lv = LOG_ERROR;
        ck_assert_msg(log_parse_level(bad[i], &lv) == FLOE_EBADINPUT, "'%s' accepted", bad[i]);
        ck_assert_int_eq(lv, LOG_ERROR);
    }
}
END_TEST

START_TEST(bad_file_fails_cleanly)
{
    char *missing = xasprintf("%s/no/such/dir/floe.log", dir);
    ck_assert_int_eq(log_set_file(missing), -ENOENT);
    ck_assert_int_eq(log_set_file(dir), -EISDIR);
    /* the current file stays in use */
    log_info("still here");
    char *s = read_log(NULL);
    ck_assert_int_eq(count_lines(s), 1);
    ck_assert_ptr_nonnull(strstr(s, " INFO  test logtest still here\n"));
    free(s);
    ck_assert_int_eq(access(missing, F_OK), -1);
    free(missing);

    /* a second file takes over; appending keeps what was there */
    char *other = xasprintf("%s/other.log", dir);
    ck_assert_int_eq(log_set_file(other), 0);
    log_info("to other");
    ck_assert_int_eq(log_set_file(path), 0);
    log_info("back");
    s = read_log(NULL);
    ck_assert_int_eq(count_lines(s), 2);
    ck_assert_ptr_null(strstr(s, "to other"));
    ck_assert_ptr_nonnull(strstr(s, "still here\n"));
    ck_assert_ptr_nonnull(strstr(s, "back\n"));
    free(s);
    unlink(other);
    free(other);
}
END_TEST

#define THREADS 4
#define PER_THREAD 300

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        tlog_info(id + 1, "thread %d line %d %s", id, i, "padding-padding-padding-padding");
    return NULL;
}

START_TEST(threads_never_interleave)
{
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    char *s = read_log(NULL);
    ck_assert_int_eq(count_lines(s), THREADS * PER_THREAD);
    char **lines = xmalloc(sizeof(char *) * THREADS * PER_THREAD);
    ck_assert_int_eq(split_lines(s, lines, THREADS * PER_THREAD), THREADS * PER_THREAD);
    int next[THREADS] = { 0 };
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        const char *m = strstr(lines[i], "thread ");
        ck_assert_msg(m, "bad line '%s'", lines[i]);
        int id = atoi(m + 7);
        ck_assert(id >= 0 && id < THREADS);
        char want[128], tb[32];
        snprintf(want, sizeof(want), "thread %d line %d padding-padding-padding-padding", id,
                 next[id]++);
        snprintf(tb, sizeof(tb), "tablet=%d ", id + 1);
        assert_line(lines[i], "INFO ", tb, want);
    }
    free(lines);
    free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, line_format);
    tcase_add_test(tc, one_line_per_event);
    tcase_add_test(tc, below_level_not_evaluated);
    tcase_add_test(tc, parse_level);
    tcase_add_test(tc, bad_file_fails_cleanly);
    tcase_add_test(tc, threads_never_interleave);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
