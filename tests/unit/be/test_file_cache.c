/* Unit tests of file_cache against the local objstore driver. */
#include "file_cache.h"

#include "buf.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
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
    read_check(c, 100, 5 * BS); /* blocks 0..5 cold: one GET of exactly those bytes */
    ck_assert_uint_eq(gets() - g0, 1);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.misses, 6);
    ck_assert_uint_eq(st.bytes_fetched, 5 * BS);
    ck_assert_uint_eq(st.nblocks, 6);
    ck_assert_uint_eq(st.used_bytes, 5 * BS);
    read_check(c, 200, 3 * BS); /* all cached */
    ck_assert_uint_eq(gets() - g0, 1);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.hits, 4);
    /* before block 0's extent: only the missing bytes are fetched */
    read_check(c, 7, 150);
    ck_assert_uint_eq(gets() - g0, 2);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.bytes_fetched, 5 * BS + 93);
    ck_assert_uint_eq(st.used_bytes, 5 * BS + 93);
    /* the tail block is short and the end of the object is exact */
    read_check(c, OBJ_SIZE - 100, 100);
    /* everything: the holes (block 0's head, block 5's tail, 6..9, block 10's head) in two GETs */
    read_check(c, 0, OBJ_SIZE);
    ck_assert_uint_eq(gets() - g0, 5);
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.bytes_fetched, OBJ_SIZE); /* no byte fetched twice */
    ck_assert_uint_eq(st.used_bytes, OBJ_SIZE);
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
    /*
     * only the wanted bytes (per block the hull of what is wanted of it):
     * block 0 [100, 110); blocks 1 [5, BS) and 2 [0, 50) touch: one GET;
     * block 3 [10, 110); block 8 [0, 10)
     */
    ck_assert_uint_eq(gets() - g0, 4);
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    ck_assert_uint_eq(st.nblocks, 5);
    ck_assert_uint_eq(st.bytes_fetched, 10 + (BS - 5) + 50 + 100 + 10);
    for (size_t i = 0; i < 5; i++)
        read_check(c, rs[i].off, rs[i].len);
    ck_assert_uint_eq(gets() - g0, 4);
    /* a prefetch of what is cached fetches nothing */
    ck_assert_int_eq(file_cache_prefetch(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, rs, 5, &e), 0);
    ck_assert_uint_eq(gets() - g0, 4);
    /* one range over partly cached blocks: one GET per run of missing bytes that continue each other */
    struct io_range all = { 0, 4 * BS };
    ck_assert_int_eq(file_cache_prefetch(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, &all, 1, &e), 0);
    file_cache_stats_get(c, &st);
    /*
     * blocks 1 and 2 fetch just their holes; blocks 0 and 3 are wanted on
     * both sides of their extent, so they are fetched whole (a block keeps
     * one extent): their 10 + 100 cached bytes come again. Block 8 keeps its 10.
     */
    ck_assert_uint_eq(st.bytes_fetched, 4 * BS + 10 + 110);
    ck_assert_uint_eq(st.used_bytes, 4 * BS + 10);
    ck_assert_uint_eq(gets() - g0, 6); /* [0, BS + 5) and [2 BS + 50, 4 BS) */
    for (uint64_t off = 0; off < 4 * BS; off += BS / 2)
        read_check(c, off, BS / 2);
    ck_assert_uint_eq(gets() - g0, 6);
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
        read_check(c, b * BS, BS);
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
    ck_assert_uint_eq(st.bytes_fetched, 150); /* only the bytes read */
    read_check(c, 3 * BS, BS);                /* the rest of the block */
    ck_assert_uint_eq(gets() - g0, 2);
    read_check(c, 3 * BS, BS);
    ck_assert_uint_eq(gets() - g0, 2);
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


static struct file_cache_stats stats(struct file_cache *c)
{
    struct file_cache_stats st;
    file_cache_stats_get(c, &st);
    return st;
}

static void flip_last_byte(const char *path)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t x;
    ck_assert_int_eq(pread(fd, &x, 1, end - 1), 1);
    x ^= 0x55;
    ck_assert_int_eq(pwrite(fd, &x, 1, end - 1), 1);
    close(fd);
}

/* partial blocks: only the bytes read are fetched, later reads extend the extent, a restart keeps it */
START_TEST(test_partial_blocks)
{
    struct file_cache *c = open_cache(100);
    uint64_t g0 = gets();
    read_check(c, 2 * BS + 1000, 3000);        /* block 2 [1000, 4000) */
    struct file_cache_stats st = stats(c);
    ck_assert_uint_eq(st.bytes_fetched, 3000);
    ck_assert_uint_eq(st.used_bytes, 3000);
    read_check(c, 2 * BS + 1500, 2000);        /* inside: no GET */
    ck_assert_uint_eq(gets() - g0, 1);
    read_check(c, 2 * BS + 3000, 5000);        /* past the end: [4000, 8000) */
    ck_assert_uint_eq(gets() - g0, 2);
    read_check(c, 2 * BS + 20000, 100);        /* a gap: [8000, 20100) */
    ck_assert_uint_eq(gets() - g0, 3);
    read_check(c, 2 * BS + 10, 20);            /* before, with a gap: [10, 1000) */
    ck_assert_uint_eq(gets() - g0, 4);
    st = stats(c);
    ck_assert_uint_eq(st.bytes_fetched, 20100 - 10);
    ck_assert_uint_eq(st.used_bytes, 20100 - 10);
    ck_assert_uint_eq(st.nblocks, 1);
    /* the block file holds the extent and its crcs, nothing more */
    char *p2 = file_cache_block_path(c, "r/data/1/x_0.dat", 2);
    uint64_t fsz;
    ck_assert_int_eq(fs_file_size(p2, &fsz), 0);
    ck_assert_uint_lt(fsz, 20100 - 10 + 200);
    /* wanted on both sides of the extent: block 2 is fetched whole (one extent a block), then block 3 */
    read_check(c, 2 * BS, 2 * BS);
    ck_assert_uint_eq(gets() - g0, 5);
    ck_assert_uint_eq(stats(c).bytes_fetched, 2 * BS + 20100 - 10);
    ck_assert_uint_eq(stats(c).used_bytes, 2 * BS);
    file_cache_close(c);
    /* restart: extents survive */
    c = open_cache(100);
    read_check(c, 5 * BS + 300, 700);          /* block 5 [300, 1000) */
    read_check(c, 7 * BS + BS - 10, 20);       /* block 7 [BS-10, BS), block 8 [0, 10): one GET */
    file_cache_close(c);
    c = open_cache(100);
    st = stats(c);
    ck_assert_uint_eq(st.nblocks, 5);          /* 2, 3, 5, 7, 8 */
    ck_assert_uint_eq(st.used_bytes, 2 * BS + 700 + 20);
    g0 = gets();
    read_check(c, 2 * BS, 2 * BS);
    read_check(c, 5 * BS + 300, 700);
    read_check(c, 7 * BS + BS - 10, 20);
    ck_assert_uint_eq(gets() - g0, 0);
    read_check(c, 5 * BS + 200, 200);          /* extends a block rebuilt at open */
    ck_assert_uint_eq(gets() - g0, 1);
    ck_assert_uint_eq(stats(c).bytes_fetched, 100);
    file_cache_close(c);
    free(p2);
}
END_TEST

/* a damaged partial block is refetched (when read, and when an extension finds its old bytes bad) */
START_TEST(test_partial_corrupt)
{
    struct file_cache *c = open_cache(100);
    read_check(c, 4 * BS + 5000, 30000);       /* block 4 [5000, 35000) */
    read_check(c, 6 * BS + 100, 100);          /* block 6 [100, 200) */
    char *p4 = file_cache_block_path(c, "r/data/1/x_0.dat", 4);
    char *p6 = file_cache_block_path(c, "r/data/1/x_0.dat", 6);
    file_cache_close(c);
    flip_last_byte(p4);
    flip_last_byte(p6);
    c = open_cache(100);
    ck_assert_uint_eq(stats(c).nblocks, 2);    /* data damage is found when read, not at open */
    uint64_t g0 = gets();
    read_check(c, 4 * BS + 34000, 1000);       /* the damaged chunk: dropped and fetched again */
    struct file_cache_stats st = stats(c);
    ck_assert_uint_eq(st.corrupt, 1);
    ck_assert_uint_eq(gets() - g0, 1);
    ck_assert_uint_eq(st.bytes_fetched, 1000);
    read_check(c, 4 * BS + 5000, 30000);       /* the rest was dropped with it */
    ck_assert_uint_eq(gets() - g0, 2);
    /* block 6: an extension checks the old bytes before keeping them */
    read_check(c, 6 * BS + 200, 100);
    st = stats(c);
    ck_assert_uint_eq(st.corrupt, 2);
    ck_assert_uint_eq(st.used_bytes, 30000 + 100); /* block 6 keeps only [200, 300) */
    read_check(c, 6 * BS + 100, 200);
    file_cache_close(c);
    /* a block file whose extent lies past the object's end is dropped at open */
    char *p9 = file_cache_block_path(c = open_cache(100), "r/data/1/x_0.dat", 9);
    file_cache_close(c);
    char *p99 = xasprintf("%.*s_99.blk", (int)(strrchr(p9, '_') - p9), p9);
    ck_assert_int_eq(rename(p4, p99), 0);
    /* and one with a header that does not check */
    int fd = open(p6, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t v = 0x7f;
    ck_assert_int_eq(pwrite(fd, &v, 1, 9), 1);  /* extent start */
    close(fd);
    c = open_cache(100);
    ck_assert_uint_eq(stats(c).nblocks, 0);
    ck_assert_int_ne(access(p99, F_OK), 0);
    ck_assert_int_ne(access(p6, F_OK), 0);
    read_check(c, 0, OBJ_SIZE);
    file_cache_close(c);
    free(p4);
    free(p6);
    free(p9);
    free(p99);
}
END_TEST

/* the capacity bounds the valid bytes of partial blocks too */
START_TEST(test_partial_capacity)
{
    struct file_cache *c = open_cache(2);      /* 2 * BS bytes */
    for (uint64_t b = 0; b < 10; b++)
        read_check(c, b * BS + 100, BS / 3);   /* 10 thirds: at most 6 fit */
    struct file_cache_stats st = stats(c);
    ck_assert_uint_eq(st.nblocks, 6);
    ck_assert_uint_eq(st.used_bytes, 6 * (BS / 3));
    ck_assert_uint_eq(st.evictions, 4);
    /* growing the newest block to a whole one evicts the oldest others, not it */
    read_check(c, 9 * BS, BS);
    st = stats(c);
    ck_assert_uint_le(st.used_bytes, 2 * BS);
    ck_assert_uint_eq(st.evictions, 4 + 2);
    char *p9 = file_cache_block_path(c, "r/data/1/x_0.dat", 9);
    char *p4 = file_cache_block_path(c, "r/data/1/x_0.dat", 4);
    ck_assert_int_eq(access(p9, F_OK), 0);
    ck_assert_int_ne(access(p4, F_OK), 0);
    free(p9);
    free(p4);
    file_cache_close(c);
    /* the bound holds after a restart with a smaller capacity */
    c = open_cache(1);
    ck_assert_uint_le(stats(c).used_bytes, BS);
    file_cache_close(c);
}
END_TEST

static void *ext_reader(void *arg)
{
    struct th *t = arg;
    uint8_t *b = xmalloc(BS);
    struct err e = { 0 };
    pthread_barrier_wait(t->bar);
    int r = file_cache_read(t->c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, 2 * BS + 100, 9000, b, &e);
    t->ok = r == 0 && memcmp(b, obj + 2 * BS + 100, 9000) == 0;
    free(b);
    return NULL;
}

/* one fetch extends a block however many readers want the missing part; the old extent stays readable */
START_TEST(test_partial_single_flight)
{
    if (!fault_compiled_in())
        return; /* needs fault points (-Dfaults=true) */
    struct file_cache *c = open_cache(100);
    read_check(c, 2 * BS + 100, 1000);
    struct err e = { 0 };
    ck_assert_int_eq(fault_set("objstore.get=delay:400", &e), 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 6);
    pthread_t tids[6];
    struct th ts[6];
    uint64_t g0 = gets();
    for (int i = 0; i < 6; i++) {
        ts[i] = (struct th){ c, &bar, 0 };
        ck_assert_int_eq(pthread_create(&tids[i], NULL, ext_reader, &ts[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(tids[i], NULL);
        ck_assert(ts[i].ok);
    }
    fault_clear();
    ck_assert_uint_eq(gets() - g0, 1);
    ck_assert_uint_eq(stats(c).bytes_fetched, 9000);
    pthread_barrier_destroy(&bar);
    /* a failed extension leaves the old extent in place */
    ck_assert_int_eq(fault_set("file_cache.fetch=once", &e), 0);
    uint8_t b[100];
    ck_assert_int_eq(file_cache_read(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, 2 * BS + 20000, 100, b, &e),
                     FLOE_EFAULT);
    fault_clear();
    ck_assert_uint_eq(stats(c).used_bytes, 9000);
    g0 = gets();
    read_check(c, 2 * BS + 100, 9000);
    ck_assert_uint_eq(gets() - g0, 0);
    /* a block file that cannot be written: the read is still served, nothing is cached */
    ck_assert_int_eq(fault_set("file_cache.write=error", &e), 0);
    read_check(c, 2 * BS + 20000, 100);
    read_check(c, 3 * BS, 100);
    fault_clear();
    ck_assert_uint_eq(stats(c).used_bytes, 9000);
    ck_assert_uint_eq(stats(c).nblocks, 1);
    file_cache_close(c);
}
END_TEST

/* an io_source over the cache reading many blocks in turn (more than it keeps open) */
START_TEST(test_source_many_blocks)
{
    struct file_cache *c = open_cache(100);
    struct io_source *src;
    struct err e = { 0 };
    ck_assert_int_eq(file_cache_open_source(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, &src, &e), 0);
    uint8_t b[300];
    for (int round = 0; round < 3; round++)
        for (uint64_t i = 0; i < 40; i++) {
            uint64_t off = (i % 11) * BS + (i * 977) % (BS - 300);
            if (off + 300 > OBJ_SIZE)
                off = OBJ_SIZE - 300;
            ck_assert_int_eq(io_source_read_at(src, off, 300, b, &e), 0);
            ck_assert(memcmp(b, obj + off, 300) == 0);
        }
    io_source_close(src);
    file_cache_close(c);
}
END_TEST

/* A source told its bytes are damaged drops the object's cached blocks: a repaired object is read afresh. */
START_TEST(test_damaged_forgets_object)
{
    struct file_cache *c = open_cache(100);
    struct io_source *src;
    struct err e = { 0 };
    ck_assert_int_eq(file_cache_open_source(c, os, "r/data/1/x_0.dat", "data/1/x_0.dat", OBJ_SIZE, &src, &e), 0);
    uint8_t b[1000];
    ck_assert_int_eq(io_source_read_at(src, 2 * BS + 10, sizeof(b), b, &e), 0);
    ck_assert_int_eq(io_source_read_at(src, 7 * BS, sizeof(b), b, &e), 0);
    ck_assert_uint_eq(stats(c).nblocks, 2);
    /* the object is replaced behind the cache (a repair): cached bytes are still served */
    for (uint64_t i = 0; i < OBJ_SIZE; i++)
        obj[i] ^= 0x5a;
    ck_assert_int_eq(objstore_put(os, "data/1/x_0.dat", obj, OBJ_SIZE, &e), 0);
    ck_assert_int_eq(io_source_read_at(src, 2 * BS + 10, sizeof(b), b, &e), 0);
    ck_assert(memcmp(b, obj + 2 * BS + 10, sizeof(b)) != 0);
    uint64_t g0 = gets();
    io_source_damaged(src);
    ck_assert_uint_eq(stats(c).nblocks, 0);
    ck_assert_uint_eq(stats(c).used_bytes, 0);
    ck_assert_int_eq(io_source_read_at(src, 2 * BS + 10, sizeof(b), b, &e), 0);
    ck_assert(memcmp(b, obj + 2 * BS + 10, sizeof(b)) == 0);
    ck_assert_uint_eq(gets() - g0, 1);
    /* another object's blocks are kept */
    ck_assert_uint_eq(file_cache_forget(c, "r/data/1/other_0.dat", OBJ_SIZE), 0);
    ck_assert_uint_eq(stats(c).nblocks, 1);
    ck_assert_uint_eq(file_cache_forget(c, "r/data/1/x_0.dat", OBJ_SIZE), 1);
    io_source_close(src);
    file_cache_close(c);
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
    tcase_add_test(tc, test_partial_blocks);
    tcase_add_test(tc, test_partial_corrupt);
    tcase_add_test(tc, test_partial_capacity);
    tcase_add_test(tc, test_partial_single_flight);
    tcase_add_test(tc, test_source_many_blocks);
    tcase_add_test(tc, test_damaged_forgets_object);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
