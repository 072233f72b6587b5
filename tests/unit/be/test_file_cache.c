/* Unit tests of file_cache against the local objstore driver. */
#include "file_cache.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "objstore.h"
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#define BS (64u * 1024u)

static char *tmp;
static struct objstore *os;
static uint8_t *obj;
static const uint64_t OBJ_SIZE = 10 * BS + 12345;

static void setup(void)
{
    tmp = test_tmpdir();
    struct objstore_conf conf;
    objstore_conf_init(&conf);
    struct err e = { 0 };
    char *root = xasprintf("%s/store", tmp);
    ck_assert_int_eq(objstore_conf_set(&conf, "type", "local", &e), 0);
    ck_assert_int_eq(objstore_conf_set(&conf, "root", root, &e), 0);
    ck_assert_msg(objstore_open(&conf, &os, &e) == 0, "%s", err_msg(&e));
    objstore_conf_release(&conf);
    free(root);
    obj = xmalloc(OBJ_SIZE);
    for (uint64_t i = 0; i < OBJ_SIZE; i++)
        obj[i] = (uint8_t)(i * 7 + i / 251);
    ck_assert_int_eq(objstore_put(os, "data/1/x_0.dat", obj, OBJ_SIZE, &e), 0);
}

static void teardown(void)
{
    objstore_close(os);
    struct err e = { 0 };
    fs_remove_all(tmp, &e);
    free(tmp);
    free(obj);
}

static struct file_cache *open_cache(uint64_t cap_blocks)
{
    char *dir = xasprintf("%s/cache", tmp);
    struct file_cache_opts o = { .dir = dir, .capacity_bytes = cap_blocks * BS, .block_size = BS };
    struct file_cache *c;
    struct err e = { 0 };
    ck_assert_msg(file_cache_open(&o, &c, &e) == 0, "%s", err_msg(&e));
    free(dir);
    return c;
}

static uint64_t gets(void)
{
    struct objstore_stats st;
    objstore_stats_get(os, &st);
    return st.requests[OBJSTORE_OP_GET];
}

static void read_check(struct file_cache *c, uint64_t off, size_t len)
{
    uint8_t *b = xmalloc(len ? len : 1);
    struct err e = { 0 };
    int r = file_cache_read(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, off, len, b, &e);
    ck_assert_msg(r == 0, "read %llu+%zu: %s", (unsigned long long)off, len, err_msg(&e));
    ck_assert_msg(memcmp(b, obj + off, len) == 0, "bytes differ at %llu+%zu", (unsigned long long)off, len);
    free(b);
}

START_TEST(test_read_hits_and_coalescing)
{
    struct file_cache *c = open_cache(100);
    uint64_t g0 = gets();
    read_check(c, 100, 5 * BS); /* blocks 0..5 cold: one GET */
    ck_assert_uint_eq(gets() - g0, 1);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.misses, 6);
    ck_assert_uint_eq(st.bytes_fetched, 6 * BS);
    ck_assert_uint_eq(st.nblocks, 6);
    read_check(c, 7, 3 * BS); /* all cached */
    ck_assert_uint_eq(gets() - g0, 1);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.hits, 4);
    /* the tail block is short and the end of the object is exact */
    read_check(c, OBJ_SIZE - 100, 100);
    read_check(c, 0, OBJ_SIZE);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.bytes_fetched, OBJ_SIZE);
    /* many small random reads */
    for (int i = 0; i < 200; i++) {
        uint64_t off = ((uint64_t)i * 7919u * 131u) % OBJ_SIZE;
        size_t len = (size_t)((i * 4099u) % (OBJ_SIZE - off) % (3 * BS));
        read_check(c, off, len);
    }
    /* past the end */
    uint8_t b[16];
    struct err e = { 0 };
    ck_assert_int_eq(file_cache_read(c, os, "r/x", "data/1/x_0.dat", OBJ_SIZE, OBJ_SIZE - 4, 8, b, &e), FLOE_ECORRUPT);
    file_cache_close(c);
}
END_TEST

START_TEST(test_prefetch_coalesces)
{
    struct file_cache *c = open_cache(100);
    uint64_t g0 = gets();
    struct io_range rs[] = { { 3 * BS + 10, 100 }, { 100, 10 }, { BS + 5, BS }, { 2 * BS, 50 }, { 8 * BS, 10 } };
    struct err e = { 0 };
    ck_assert_int_eq(file_cache_prefetch(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, rs, 5, &e), 0);
    /* blocks 0..3 in one GET, block 8 in another */
    ck_assert_uint_eq(gets() - g0, 2);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.nblocks, 5);
    for (size_t i = 0; i < 5; i++)
        read_check(c, rs[i].off, rs[i].len);
    ck_assert_uint_eq(gets() - g0, 2);
    /* the io_source reads the same bytes */
    struct io_source *src;
    ck_assert_int_eq(file_cache_open_source(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, &src, &e), 0);
    uint8_t *b = xmalloc(BS * 2);
    ck_assert_int_eq(io_source_read_at(src, 9 * BS, BS * 2 > OBJ_SIZE - 9 * BS ? OBJ_SIZE - 9 * BS : BS * 2, b, &e), 0);
    ck_assert(memcmp(b, obj + 9 * BS, OBJ_SIZE - 9 * BS) == 0);
    ck_assert_int_eq(io_source_read_at(src, OBJ_SIZE - 1, 2, b, &e), FLOE_ECORRUPT);
    free(b);
    io_source_close(src);
    file_cache_close(c);
}
END_TEST

START_TEST(test_capacity_lru)
{
    struct file_cache *c = open_cache(4);
    read_check(c, 0, BS);            /* block 0 */
    for (uint64_t b = 1; b < 10; b++) {
        read_check(c, b * BS, 10);
        read_check(c, 0, 10);        /* keep block 0 hot */
    }
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_le(st.used_bytes, 4 * BS);
    ck_assert_uint_eq(st.nblocks, 4);
    ck_assert_uint_eq(st.evictions, 6);
    /* block 0 survived (recently used), block 1 was evicted */
    char *p0 = file_cache_block_path(c, "r/data/1/x_0.dat", 0);
    char *p1 = file_cache_block_path(c, "r/data/1/x_0.dat", 1);
    ck_assert_int_eq(access(p0, F_OK), 0);
    ck_assert_int_ne(access(p1, F_OK), 0);
    free(p0);
    free(p1);
    /* a read bigger than the whole cache still returns the right bytes */
    read_check(c, 0, OBJ_SIZE);
    file_cache_stats_get(c, &st);
    ck_assert_uint_le(st.used_bytes, 4 * BS);
    file_cache_close(c);
}
END_TEST

START_TEST(test_restart_and_corruption)
{
    struct file_cache *c = open_cache(100);
    read_check(c, 0, OBJ_SIZE);
    file_cache_close(c);
    /* a leftover temp file and a garbage file are removed at open */
    char *p3 = NULL;
    {
        struct file_cache *c2 = open_cache(100);
        p3 = file_cache_block_path(c2, "r/data/1/x_0.dat", 3);
        file_cache_close(c2);
    }
    char *junk = xasprintf("%s.tmp.1.1", p3);
    int fd = open(junk, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    c = open_cache(100);
    ck_assert_int_ne(access(junk, F_OK), 0);
    free(junk);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.nblocks, 11);
    ck_assert_uint_eq(st.used_bytes, OBJ_SIZE);
    uint64_t g0 = gets();
    read_check(c, 0, OBJ_SIZE);
    ck_assert_uint_eq(gets() - g0, 0);
    /* flip one data byte of block 3 (while the cache is down): detected, refetched, right bytes served */
    file_cache_close(c);
    fd = open(p3, O_RDWR);
    ck_assert_int_ge(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t x;
    ck_assert_int_eq(pread(fd, &x, 1, end - 100), 1);
    x ^= 0x55;
    ck_assert_int_eq(pwrite(fd, &x, 1, end - 100), 1);
    close(fd);
    c = open_cache(100);
    g0 = gets();
    read_check(c, 3 * BS + BS - 200, 150);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.corrupt, 1);
    ck_assert_uint_eq(gets() - g0, 1);
    read_check(c, 3 * BS, BS);
    ck_assert_uint_eq(gets() - g0, 1);
    file_cache_close(c);
    /* a truncated block file is dropped at open */
    ck_assert_int_eq(truncate(p3, 40), 0);
    c = open_cache(100);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.nblocks, 10);
    read_check(c, 3 * BS, BS);
    file_cache_close(c);
    free(p3);
}
END_TEST

struct th {
    struct file_cache *c;
    pthread_barrier_t *bar;
    int ok;
};

static void *reader(void *arg)
{
    struct th *t = arg;
    uint8_t *b = xmalloc(BS);
    struct err e = { 0 };
    pthread_barrier_wait(t->bar);
    int r = file_cache_read(t->c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, 2 * BS, BS, b, &e);
    t->ok = r == 0 && memcmp(b, obj + 2 * BS, BS) == 0;
    free(b);
    return NULL;
}

START_TEST(test_single_flight)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    struct file_cache *c = open_cache(100);
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("objstore.get=delay:400", &e), 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 8);
    pthread_t tids[8];
    struct th ts[8];
    uint64_t g0 = gets();
    for (int i = 0; i < 8; i++) {
        ts[i] = (struct th){ c, &bar, 0 };
        ck_assert_int_eq(pthread_create(&tids[i], NULL, reader, &ts[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(tids[i], NULL);
        ck_assert(ts[i].ok);
    }
    fault_clear();
    ck_assert_uint_eq(gets() - g0, 1);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.hits + st.misses, 8);
    pthread_barrier_destroy(&bar);
    file_cache_close(c);
}
END_TEST

START_TEST(test_fetch_failure_and_config)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    struct file_cache *c = open_cache(100);
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("file_cache.fetch=once", &e), 0);
    uint8_t b[100];
    ck_assert_int_eq(file_cache_read(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, 0, 100, b, &e),
                     FLOE_EFAULT);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.nblocks, 0);
    read_check(c, 0, 100);
    fault_clear();
    /* missing object */
    ck_assert_int_eq(file_cache_read(c, os, "r/nope", "data/1/nope", 1000, 0, 10, b, &e), FLOE_ENOTFOUND);
    file_cache_close(c);
    /* bad config: one line naming the option */
    struct file_cache_opts o = { .dir = tmp, .capacity_bytes = 1 << 20, .block_size = 1000 };
    ck_assert_int_eq(file_cache_open(&o, &c, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "file_cache_block_kb"));
    o.block_size = BS;
    o.capacity_bytes = 10;
    ck_assert_int_eq(file_cache_open(&o, &c, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "file_cache_capacity_mb"));
    o.dir = "";
    o.capacity_bytes = 1 << 20;
    ck_assert_int_eq(file_cache_open(&o, &c, &e), FLOE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err_msg(&e), "file_cache_dir"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("file_cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_hits_and_coalescing);
    tcase_add_test(tc, test_prefetch_coalesces);
    tcase_add_test(tc, test_capacity_lru);
    tcase_add_test(tc, test_restart_and_corruption);
    tcase_add_test(tc, test_single_flight);
    tcase_add_test(tc, test_fetch_failure_and_config);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
