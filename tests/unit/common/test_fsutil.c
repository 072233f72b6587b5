/* Unit tests for common/fsutil: atomic replace under fault loops, path joins,
 * bounded reads, mkdir -p, remove_all and the full-transfer helpers. */
#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir;

static void setup(void)
{
    tmpdir = test_tmpdir();
    fault_clear();
}

static void teardown(void)
{
    fault_clear();
    fs_remove_all(tmpdir, NULL);
    free(tmpdir);
}

static char *path_in(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void assert_content(const char *path, const char *want)
{
    struct buf b = BUF_INIT;
    struct err e = { 0 };
    ck_assert_msg(fs_read_file(path, &b, 1 << 20, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(buf_cstr(&b), want);
    buf_release(&b);
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

START_TEST(atomic_basic)
{
    char *p = path_in("meta.json");
    struct err e = { 0 };
    ck_assert_int_eq(fs_write_atomic(p, "one", 3, &e), 0);
    assert_content(p, "one");
    ck_assert_int_eq(fs_write_atomic(p, "second", 6, &e), 0);
    assert_content(p, "second");
    ck_assert_int_eq(fs_write_atomic(p, "", 0, &e), 0);
    assert_content(p, "");
    ck_assert_int_eq(count_entries(tmpdir), 1);
    uint64_t sz = 99;
    ck_assert_int_eq(fs_file_size(p, &sz), 0);
    ck_assert_uint_eq(sz, 0);
    /* missing directory: a clear error naming the path */
    char *q = path_in("nodir/x");
    ck_assert_int_eq(fs_write_atomic(q, "x", 1, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.msg, q));
    ck_assert_int_eq(fs_write_atomic("", "x", 1, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fs_file_size(q, &sz), -ENOENT);
    free(q);
    free(p);
}
END_TEST

/* For each fault point: let k-1 writes succeed, fail the k-th, and check the
 * file still holds the (k-1)-th content and no temp file is left. */
START_TEST(atomic_fault_loop)
{
    if (!fault_compiled_in())
        return;
    static const char *points[] = { "fs.atomic.write", "fs.atomic.fsync", "fs.atomic.rename" };
    char *p = path_in("state");
    struct err e = { 0 };
    for (size_t pi = 0; pi < 3; pi++) {
        for (int k = 1; k <= 4; k++) {
            fault_clear();
            ck_assert_int_eq(fs_write_atomic(p, "old", 3, &e), 0);
            char spec[128];
            snprintf(spec, sizeof(spec), "%s=nth:%d", points[pi], k);
            ck_assert_int_eq(fault_set(spec, &e), 0);
            char want[32] = "old";
            for (int i = 1; i <= k; i++) {
                char content[32];
                snprintf(content, sizeof(content), "v%d-%s", i, points[pi]);
                int r = fs_write_atomic(p, content, strlen(content), &e);
                if (i < k) {
                    ck_assert_int_eq(r, 0);
                    snprintf(want, sizeof(want), "%s", content);
                } else {
                    ck_assert_int_eq(r, FLOE_EFAULT);
                    ck_assert_ptr_nonnull(strstr(e.msg, p));
                }
                assert_content(p, want);
                ck_assert_int_eq(count_entries(tmpdir), 1);
            }
            ck_assert_uint_eq(fault_hits(points[pi]), (uint64_t)k);
        }
    }
    /* the directory fsync fails after the rename: new content, error returned */
    fault_clear();
    ck_assert_int_eq(fault_set("fs.atomic.dirsync=once", &e), 0);
    ck_assert_int_eq(fs_write_atomic(p, "after", 5, &e), FLOE_EFAULT);
    ck_assert_ptr_nonnull(strstr(e.msg, "fsync directory"));
    assert_content(p, "after");
    ck_assert_int_eq(count_entries(tmpdir), 1);
    /* and the next write succeeds */
    ck_assert_int_eq(fs_write_atomic(p, "final", 5, &e), 0);
    assert_content(p, "final");
    free(p);
}
END_TEST

START_TEST(atomic_fault_first_write_creates_nothing)
{
    if (!fault_compiled_in())
        return;
    char *p = path_in("fresh");
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("fs.atomic.rename=error", &e), 0);
    ck_assert_int_eq(fs_write_atomic(p, "x", 1, &e), FLOE_EFAULT);
    ck_assert_int_eq(count_entries(tmpdir), 0);
    ck_assert_int_eq(access(p, F_OK), -1);
    free(p);
}
END_TEST

START_TEST(path_join)
{
    struct buf b = BUF_INIT;
    struct err e = { 0 };
    ck_assert_int_eq(fs_path_join(&b, "/data", "a/b.dat", &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "/data/a/b.dat");
    ck_assert_int_eq(fs_path_join(&b, "/data/", "x", &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "/data/x");
    ck_assert_int_eq(fs_path_join(&b, "rel", "..x/y..", &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "rel/..x/y..");
    ck_assert_int_eq(fs_path_join(&b, "/", "etc", &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "/etc");

    const char *bad[] = { "..", "../x", "a/../b", "a/..", "/etc/passwd", "", "a//b", "a/", "./a",
                          "a/./b", "/", "." };
    buf_reset(&b);
    buf_puts(&b, "keep");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        ck_assert_msg(fs_path_join(&b, "/data", bad[i], &e) == FLOE_EBADINPUT, "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(strstr(e.msg, "/data"));
        ck_assert_str_eq(buf_cstr(&b), "keep");
    }
    ck_assert_int_eq(fs_path_join(&b, "/data", "../x", &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "'..'"));
    ck_assert_int_eq(fs_path_join(&b, "/data", "/x", &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "absolute"));
    ck_assert_int_eq(fs_path_join(&b, "/data", NULL, &e), FLOE_EBADINPUT);
    ck_assert_int_eq(fs_path_join(&b, "", "x", &e), FLOE_EBADINPUT);
    /* an embedded NUL must not truncate the name into something else */
    ck_assert_int_eq(fs_path_join_n(&b, "/data", "ok\0/../../etc", 13, &e), FLOE_EBADINPUT);
    ck_assert_ptr_nonnull(strstr(e.msg, "NUL"));
    ck_assert_int_eq(fs_path_join_n(&b, "/data", "ab", 2, &e), 0);
    ck_assert_str_eq(buf_cstr(&b), "/data/ab");
    buf_release(&b);
}
END_TEST

START_TEST(read_file_limits)
{
    char *p = path_in("big");
    struct err e = { 0 };
    char data[5000];
    memset(data, 'z', sizeof(data));
    ck_assert_int_eq(fs_write_atomic(p, data, sizeof(data), &e), 0);
    struct buf b = BUF_INIT;
    buf_puts(&b, "pre");
    ck_assert_int_eq(fs_read_file(p, &b, 4999, &e), FLOE_ELIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, p));
    ck_assert_str_eq(buf_cstr(&b), "pre");
    ck_assert_int_eq(fs_read_file(p, &b, 5000, &e), 0);
    ck_assert_uint_eq(b.len, 5003);
    ck_assert_int_eq(memcmp(b.data + 3, data, 5000), 0);
    char *missing = path_in("missing");
    ck_assert_int_eq(fs_read_file(missing, &b, 10, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.msg, missing));
    ck_assert_int_eq(fs_read_file(tmpdir, &b, 10, &e), -EISDIR);
    ck_assert_uint_eq(b.len, 5003);
    buf_release(&b);
    free(missing);
    free(p);
}
END_TEST

START_TEST(mkdir_and_remove)
{
    struct err e = { 0 };
    char *deep = path_in("a/b/c/d");
    ck_assert_int_eq(fs_mkdir_p(deep, 0755, &e), 0);
    ck_assert_int_eq(fs_mkdir_p(deep, 0755, &e), 0);
    struct stat st;
    ck_assert_int_eq(stat(deep, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    char *f = path_in("a/b/file");
    ck_assert_int_eq(fs_write_atomic(f, "x", 1, &e), 0);
    char *under_file = path_in("a/b/file/sub");
    ck_assert_int_eq(fs_mkdir_p(under_file, 0755, &e), -ENOTDIR);
    ck_assert_int_eq(fs_mkdir_p(f, 0755, &e), -ENOTDIR);
    char *link = path_in("a/b/c/link");
    ck_assert_int_eq(symlink(tmpdir, link), 0);
    char *top = path_in("a");
    ck_assert_int_eq(fs_remove_all(top, &e), 0);
    ck_assert_int_eq(access(top, F_OK), -1);
    /* the symlink was removed, not followed */
    ck_assert_int_eq(access(tmpdir, F_OK), 0);
    ck_assert_int_eq(fs_remove_all(top, &e), 0);
    ck_assert_int_eq(fs_remove_all("", &e), FLOE_EBADINPUT);
    /* a single file */
    char *g = path_in("g");
    ck_assert_int_eq(fs_write_atomic(g, "x", 1, &e), 0);
    ck_assert_int_eq(fs_remove_all(g, &e), 0);
    ck_assert_int_eq(count_entries(tmpdir), 0);
    ck_assert_int_eq(fs_fsync_dir(tmpdir, &e), 0);
    ck_assert_int_eq(fs_fsync_dir(g, &e), -ENOENT);
    free(g);
    free(top);
    free(link);
    free(under_file);
    free(f);
    free(deep);
}
END_TEST

START_TEST(full_io)
{
    char *p = path_in("io");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fs_write_full(fd, "hello world", 11), 0);
    ck_assert_int_eq(fs_pwrite_full(fd, "W", 1, 6), 0);
    char got[11];
    ck_assert_int_eq(fs_pread_full(fd, got, 11, 0), 0);
    ck_assert_int_eq(memcmp(got, "hello World", 11), 0);
    ck_assert_int_eq(fs_pread_full(fd, got, 11, 1), FLOE_ECORRUPT);
    close(fd);
    ck_assert_int_eq(fs_write_full(-1, "x", 1), -EBADF);
    int64_t a = mono_now_ms(), b = mono_now_ms();
    ck_assert_int_le(a, b);
    ck_assert_int_gt(fs_now_ms(), 1600000000000LL);
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fsutil");
    TCase *tc = tcase_create("fsutil");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, atomic_basic);
    tcase_add_test(tc, atomic_fault_loop);
    tcase_add_test(tc, atomic_fault_first_write_creates_nothing);
    tcase_add_test(tc, path_join);
    tcase_add_test(tc, read_file_limits);
    tcase_add_test(tc, mkdir_and_remove);
    tcase_add_test(tc, full_io);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
