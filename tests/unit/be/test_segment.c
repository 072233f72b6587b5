/* Unit tests for be/segment_writer + be/segment_reader + be/io_source. */
#include "be_testutil.h"
#include "crc32c.h"
#include "fsutil.h"
#include "segment_reader.h"
#include "segment_writer.h"
#include "fault.h"

#include <fcntl.h>
#include <math.h>
#include <unistd.h>

/* mem_limit 0 = the writer's default; *ret_spilled (may be NULL) = whether it used its spill file */
static char *write_segment_as(const char *dir, const char *name, struct schema *s, int64_t nrows, uint64_t mem_limit,
                              uint64_t *ret_size, bool *ret_spilled)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct segment_writer *w;
    struct err e = { 0 };
    ck_assert_msg(segment_writer_open(path, s, &w, &e) == 0, "%s", err_msg(&e));
    if (mem_limit)
        segment_writer_set_mem_limit(w, mem_limit);
    /* add in uneven pieces to cross block boundaries at odd places */
    int64_t at = 0;
    while (at < nrows) {
        int64_t n = at % 3 == 0 ? 777 : 5000;
        if (at + n > nrows)
            n = nrows - at;
        struct column_batch b;
        bt_batch(&b, s, at, at + n, 1);
        ck_assert_msg(segment_writer_add(w, &b, 0, b.nrows, &e) == 0, "%s", err_msg(&e));
        column_batch_release(&b);
        at += n;
    }
    struct segment_stats st;
    ck_assert_msg(segment_writer_finish(w, &st, &e) == 0, "%s", err_msg(&e));
    if (ret_spilled)
        *ret_spilled = segment_writer_spilled(w);
    segment_writer_free(w);
    ck_assert_uint_eq(st.rows, (uint64_t)nrows);
    uint64_t sz;
    ck_assert_int_eq(fs_file_size(path, &sz), 0);
    ck_assert_uint_eq(sz, st.size);
    *ret_size = sz;
    return path;
}

static char *write_segment(const char *dir, struct schema *s, int64_t nrows, uint64_t *ret_size)
{
    return write_segment_as(dir, "seg.dat", s, nrows, 0, ret_size, NULL);
}

static int read_all(const char *path, uint64_t size, struct bt_rows *out, struct err *e)
{
    struct io_source *src;
    int r = io_source_open_file(path, size, &src, e);
    if (r < 0)
        return r;
    struct segment_reader *rd;
    if ((r = segment_reader_open(src, &rd, e)) < 0)
        return r;
    const struct schema *s = segment_reader_schema(rd);
    int cols[SCHEMA_MAX_COLS];
    for (int c = 0; c < s->ncols; c++)
        cols[c] = c;
    struct column_batch b;
    column_batch_init_schema(&b, s, NULL, 0);
    for (uint32_t k = 0; k < segment_reader_blocks(rd) && r == 0; k++) {
        r = segment_reader_read_block(rd, k, cols, s->ncols, &b, e);
        if (r == 0)
            bt_rows_add_batch(out, &b);
    }
    column_batch_release(&b);
    segment_reader_free(rd);
    bt_rows_sort(out);
    return r;
}

/* A reader over the whole file at path (size taken from the file). */
static struct segment_reader *open_reader(const char *path)
{
    struct io_source *src;
    struct segment_reader *rd;
    struct err e = { 0 };
    ck_assert_int_eq(io_source_open_file(path, 0, &src, &e), 0);
    ck_assert_int_eq(segment_reader_open(src, &rd, &e), 0);
    return rd;
}

START_TEST(round_trip_all_types)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    uint64_t size;
    char *path = write_segment(dir, s, 50000, &size);
    struct bt_rows got = { 0 }, want = { 0 };
    struct err e = { 0 };
    ck_assert_msg(read_all(path, size, &got, &e) == 0, "%s", err_msg(&e));
    bt_expect(&want, s, 0, 50000, 1);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    /* the footer schema is the writer's */
    struct segment_reader *rd = open_reader(path);
    ck_assert(schema_equal(segment_reader_schema(rd), s));
    ck_assert_uint_eq(segment_reader_rows(rd), 50000);
    ck_assert_uint_gt(segment_reader_blocks(rd), 3);
    /* zone maps: k is increasing, so block ranges are disjoint and ordered */
    int64_t prev_max = -1;
    for (uint32_t k = 0; k < segment_reader_blocks(rd); k++) {
        const struct zone_map *z = segment_reader_zone(rd, k, 0);
        ck_assert(z->has_minmax);
        ck_assert_int_gt(z->imin, prev_max);
        ck_assert_int_ge(z->imax, z->imin);
        prev_max = z->imax;
        const struct zone_map *zs = segment_reader_zone(rd, k, 4);
        ck_assert_uint_gt(zs->null_count, 0);
        ck_assert(zs->has_minmax);
    }
    /* byte ranges: all pages of one column, coalesced, within the data area */
    struct io_range *rg;
    size_t nrg;
    int col = 2;
    ck_assert_int_eq(segment_reader_ranges(rd, &col, 1, NULL, &rg, &nrg), 0);
    ck_assert_uint_ge(nrg, 1);
    for (size_t i = 0; i < nrg; i++)
        ck_assert_uint_le(rg[i].off + rg[i].len, size);
    free(rg);
    int all[6] = { 0, 1, 2, 3, 4, 5 };
    ck_assert_int_eq(segment_reader_ranges(rd, all, 6, NULL, &rg, &nrg), 0);
    ck_assert_uint_eq(nrg, 1); /* every page: one contiguous range */
    free(rg);
    segment_reader_free(rd);
    bt_rows_free(&got);
    bt_rows_free(&want);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

START_TEST(empty_and_all_null)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    char *path = xasprintf("%s/e.dat", dir);
    struct segment_writer *w;
    struct err e = { 0 };
    ck_assert_int_eq(segment_writer_open(path, s, &w, &e), 0);
    struct column_batch b;
    column_batch_init_schema(&b, s, NULL, 0);
    for (int i = 0; i < 100; i++) {
        column_batch_put_i64(&b, 0, i);
        for (int c = 1; c < 6; c++)
            column_batch_put_null(&b, c);
        column_batch_end_row(&b);
    }
    ck_assert_int_eq(segment_writer_add(w, &b, 0, b.nrows, &e), 0);
    struct segment_stats st;
    ck_assert_int_eq(segment_writer_finish(w, &st, &e), 0);
    segment_writer_free(w);
    struct bt_rows got = { 0 }, want = { 0 };
    ck_assert_msg(read_all(path, st.size, &got, &e) == 0, "%s", err_msg(&e));
    bt_rows_add_batch(&want, &b);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    struct segment_reader *rd = open_reader(path);
    ck_assert(!segment_reader_zone(rd, 0, 4)->has_minmax);
    ck_assert_uint_eq(segment_reader_zone(rd, 0, 4)->null_count, 100);
    segment_reader_free(rd);
    /* a segment with no rows */
    char *p2 = xasprintf("%s/z.dat", dir);
    ck_assert_int_eq(segment_writer_open(p2, s, &w, &e), 0);
    ck_assert_int_eq(segment_writer_finish(w, &st, &e), 0);
    segment_writer_free(w);
    rd = open_reader(p2);
    ck_assert_uint_eq(segment_reader_rows(rd), 0);
    ck_assert_uint_eq(segment_reader_blocks(rd), 0);
    segment_reader_free(rd);
    /* an unfinished writer leaves no file */
    char *p3 = xasprintf("%s/u.dat", dir);
    ck_assert_int_eq(segment_writer_open(p3, s, &w, &e), 0);
    ck_assert_int_eq(segment_writer_add(w, &b, 0, b.nrows, &e), 0);
    segment_writer_free(w);
    ck_assert_int_ne(access(p3, F_OK), 0);
    column_batch_release(&b);
    bt_rows_free(&got);
    bt_rows_free(&want);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(p2);
    free(p3);
    free(dir);
}
END_TEST


/* pages that take the bit-packed path and pages that cannot: values must come back bit for bit */
START_TEST(encodings_round_trip)
{
    char *dir = test_tmpdir();
    struct column_def cols[] = { { "k", COL_INT64, false, true }, { "d", COL_DOUBLE, true, false },
                                 { "i", COL_INT32, true, false }, { "t", COL_TIMESTAMP, true, false } };
    struct schema *s;
    struct err e = { 0 };
    ck_assert_int_eq(schema_new(cols, 4, KEY_DUPLICATE, &s, &e), 0);
    const double specials[] = { -0.0, 0.1 + 0.2, 1e300, -5.25, 123456.789, 1e-7, 3.0, NAN, -1e15 };
    struct column_batch b;
    column_batch_init_schema(&b, s, NULL, 0);
    for (int64_t i = 0; i < 30000; i++) {
        int64_t page = i / 8192;
        column_batch_put_i64(&b, 0, page == 1 ? (i % 2 ? INT64_MAX - i : INT64_MIN + i) : i * 3);
        if (i % 10 == 9)
            column_batch_put_null(&b, 1);
        else if (page == 0)
            column_batch_put_f64(&b, 1, (double)(i % 1000) / 100.0 - 3);
        else if (page == 2)
            column_batch_put_f64(&b, 1, specials[i % 9]);
        else
            column_batch_put_f64(&b, 1, (double)i / 7.0);
        if (i % 4 == 0)
            column_batch_put_null(&b, 2);
        else
            column_batch_put_i32(&b, 2, page == 3 ? (int32_t)(i * 2654435761u) : (int32_t)(i % 300) - 150);
        column_batch_put_i64(&b, 3, 1700000000000000LL + i * 997);
        column_batch_end_row(&b);
    }
    char *path = xasprintf("%s/enc.dat", dir);
    struct segment_writer *w;
    ck_assert_int_eq(segment_writer_open(path, s, &w, &e), 0);
    ck_assert_int_eq(segment_writer_add(w, &b, 0, b.nrows, &e), 0);
    struct segment_stats st;
    ck_assert_int_eq(segment_writer_finish(w, &st, &e), 0);
    segment_writer_free(w);
    struct io_source *src;
    struct segment_reader *rd;
    ck_assert_int_eq(io_source_open_file(path, st.size, &src, &e), 0);
    ck_assert_int_eq(segment_reader_open(src, &rd, &e), 0);
    int all[4] = { 0, 1, 2, 3 };
    struct column_batch got;
    column_batch_init_schema(&got, s, NULL, 0);
    size_t row = 0;
    for (uint32_t k = 0; k < segment_reader_blocks(rd); k++) {
        ck_assert_msg(segment_reader_read_block(rd, k, all, 4, &got, &e) == 0, "%s", err_msg(&e));
        for (size_t r = 0; r < got.nrows; r++, row++) {
            for (int c = 0; c < 4; c++) {
                ck_assert_int_eq(column_vec_is_null(&got.cols[c], r), column_vec_is_null(&b.cols[c], row));
                size_t wd = col_type_width(got.cols[c].type);
                if (!column_vec_is_null(&got.cols[c], r))
                    ck_assert_msg(memcmp((char *)got.cols[c].data + r * wd, (char *)b.cols[c].data + row * wd, wd) == 0,
                                  "row %zu column %d differs", row, c);
            }
        }
    }
    ck_assert_uint_eq(row, 30000);
    /* sequential keys bit-pack far below 8 bytes a value */
    ck_assert_uint_lt(st.size, 30000 * 8 * 3);
    column_batch_release(&got);
    column_batch_release(&b);
    segment_reader_free(rd);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

static void flip(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

/* Flip a byte at off in a fresh segment; reading everything must fail with ECORRUPT and a message containing want. */
static void corrupt_case(uint64_t (*where)(uint64_t size, const char *path), const char *want)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    uint64_t size;
    char *path = write_segment(dir, s, 30000, &size);
    flip(path, where(size, path));
    struct bt_rows got = { 0 };
    struct err e = { 0 };
    int r = read_all(path, size, &got, &e);
    ck_assert_msg(r == FLOE_ECORRUPT, "expected FLOE_ECORRUPT, got %d (%s)", r, err_msg(&e));
    ck_assert_msg(strstr(e.msg, path) != NULL, "message does not name the file: %s", e.msg);
    ck_assert_msg(strstr(e.msg, want) != NULL, "message lacks '%s': %s", want, e.msg);
    bt_rows_free(&got);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}

static uint64_t at_data(uint64_t size, const char *path) { (void)size; (void)path; return 20; }
static uint64_t at_trailer_magic(uint64_t size, const char *path) { (void)path; return size - 2; }
static uint64_t at_trailer_off(uint64_t size, const char *path) { (void)path; return size - 32 + 1; }
static uint64_t at_footer(uint64_t size, const char *path)
{
    int fd = open(path, O_RDONLY);
    unsigned char t[8];
    ck_assert_int_eq(pread(fd, t, 8, (off_t)(size - 32)), 8);
    close(fd);
    uint64_t off = get_u64le(t);
    return off + (size - 32 - off) / 2;
}

START_TEST(corrupt_data_page) { corrupt_case(at_data, "block 0 column 'k'"); }
END_TEST
START_TEST(corrupt_footer) { corrupt_case(at_footer, "footer"); }
END_TEST
START_TEST(corrupt_trailer_magic) { corrupt_case(at_trailer_magic, "trailer"); }
END_TEST
START_TEST(corrupt_trailer_offset) { corrupt_case(at_trailer_off, "trailer"); }
END_TEST

START_TEST(corrupt_every_data_byte_sampled)
{
    /* flip many data bytes: every read fails, never returns rows of a bad page */
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    uint64_t size;
    char *path = write_segment(dir, s, 20000, &size);
    struct buf orig = BUF_INIT;
    ck_assert_int_eq(fs_read_file(path, &orig, 1 << 30, NULL), 0);
    for (uint64_t off = 0; off < size; off += size / 97 + 1) {
        ck_assert_int_eq(fs_write_atomic(path, orig.data, orig.len, NULL), 0);
        flip(path, off);
        struct bt_rows got = { 0 };
        struct err e = { 0 };
        int r = read_all(path, size, &got, &e);
        ck_assert_msg(r == FLOE_ECORRUPT, "flip at %llu: rc %d", (unsigned long long)off, r);
        bt_rows_free(&got);
    }
    /* truncated file: the size from the meta catches it */
    ck_assert_int_eq(fs_write_atomic(path, orig.data, orig.len - 10, NULL), 0);
    struct io_source *src;
    struct err e = { 0 };
    ck_assert_int_eq(io_source_open_file(path, size, &src, &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "truncated"));
    buf_release(&orig);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

START_TEST(garbage_and_short_files)
{
    struct err e = { 0 };
    struct io_source *src;
    struct segment_reader *rd;
    io_source_open_mem("abc", 3, "mem:short", &src);
    ck_assert_int_eq(segment_reader_open(src, &rd, &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "mem:short"));
    char zeros[4096] = { 0 };
    io_source_open_mem(zeros, sizeof(zeros), "mem:zeros", &src);
    ck_assert_int_eq(segment_reader_open(src, &rd, &e), FLOE_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(e.msg, "magic"));
}
END_TEST

START_TEST(range_coalesce)
{
    struct io_range r[] = { { 100, 10 }, { 0, 10 }, { 10, 5 }, { 200, 1 }, { 105, 20 }, { 202, 3 } };
    size_t n = io_range_coalesce(r, 6, 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(r[0].off, 0);
    ck_assert_uint_eq(r[0].len, 15);
    ck_assert_uint_eq(r[1].off, 100);
    ck_assert_uint_eq(r[1].len, 25);
    ck_assert_uint_eq(r[2].off, 200);
    ck_assert_uint_eq(r[3].off, 202);
    struct io_range q[] = { { 200, 1 }, { 202, 3 } };
    ck_assert_uint_eq(io_range_coalesce(q, 2, 1), 1);
    ck_assert_uint_eq(q[0].len, 5);
}
END_TEST


/* The byte range of the page of column col in block b. */
static struct io_range page_range(struct segment_reader *rd, int col, uint32_t b)
{
    uint8_t *mask = xcalloc(segment_reader_blocks(rd), 1);
    mask[b] = 1;
    struct io_range *rg;
    size_t n;
    ck_assert_int_eq(segment_reader_ranges(rd, &col, 1, mask, &rg, &n), 0);
    ck_assert_uint_eq(n, 1);
    struct io_range r = rg[0];
    free(rg);
    free(mask);
    return r;
}

/* pages are column-major: each column's pages are one run, in block order, runs in column order */
START_TEST(column_major_layout)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    uint64_t size;
    char *path = write_segment(dir, s, 60000, &size);
    struct segment_reader *rd = open_reader(path);
    uint32_t nb = segment_reader_blocks(rd);
    ck_assert_uint_gt(nb, 3);
    uint64_t expect = 0;
    for (int c = 0; c < 6; c++) {
        struct io_range *rg;
        size_t n;
        ck_assert_int_eq(segment_reader_ranges(rd, &c, 1, NULL, &rg, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(rg[0].off, expect);
        for (uint32_t b = 0; b < nb; b++) {
            struct io_range p = page_range(rd, c, b);
            ck_assert_msg(p.off == expect, "column %d block %u at %llu, expected %llu", c, b,
                          (unsigned long long)p.off, (unsigned long long)expect);
            expect += p.len;
        }
        ck_assert_uint_eq(rg[0].off + rg[0].len, expect);
        free(rg);
    }
    /* the footer follows the last column */
    int fd = open(path, O_RDONLY);
    unsigned char t[8];
    ck_assert_int_eq(pread(fd, t, 8, (off_t)(size - 32)), 8);
    close(fd);
    ck_assert_uint_eq(get_u64le(t), expect);
    /* two columns: two ranges (adjacent columns: one) */
    int two[2] = { 4, 1 }, adj[2] = { 2, 3 };
    struct io_range *rg;
    size_t n;
    ck_assert_int_eq(segment_reader_ranges(rd, two, 2, NULL, &rg, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_lt(rg[0].off, rg[1].off);
    free(rg);
    ck_assert_int_eq(segment_reader_ranges(rd, adj, 2, NULL, &rg, &n), 0);
    ck_assert_uint_eq(n, 1);
    free(rg);
    segment_reader_free(rd);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

/* a writer over its memory bound spills to a temp file; the segment is byte for byte the same */
START_TEST(spill_same_bytes)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_UNIQUE);
    uint64_t sz0, sz1, sz2;
    bool sp0, sp1, sp2;
    char *p0 = write_segment_as(dir, "a.dat", s, 70000, 0, &sz0, &sp0);
    char *p1 = write_segment_as(dir, "b.dat", s, 70000, 1, &sz1, &sp1);
    char *p2 = write_segment_as(dir, "c.dat", s, 70000, 20000, &sz2, &sp2);
    ck_assert(!sp0);
    ck_assert(sp1);
    ck_assert(sp2);
    struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
    ck_assert_int_eq(fs_read_file(p0, &a, 1 << 30, NULL), 0);
    ck_assert_int_eq(fs_read_file(p1, &b, 1 << 30, NULL), 0);
    ck_assert_int_eq(fs_read_file(p2, &c, 1 << 30, NULL), 0);
    ck_assert_uint_eq(a.len, sz0);
    ck_assert_uint_eq(b.len, a.len);
    ck_assert_uint_eq(c.len, a.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    ck_assert(memcmp(a.data, c.data, a.len) == 0);
    struct bt_rows got = { 0 }, want = { 0 };
    struct err e = { 0 };
    ck_assert_msg(read_all(p1, sz1, &got, &e) == 0, "%s", err_msg(&e));
    bt_expect(&want, s, 0, 70000, 1);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    /* no spill file is left next to the segment */
    ck_assert_uint_eq(bt_count_files(dir), 3);
    /* the fallbacks (a named spill file unlinked at once, copying through memory) write the same bytes */
    if (fault_compiled_in()) {
        ck_assert_int_eq(fault_set("segment.no_tmpfile=on,segment.no_copy_range=on", &e), 0);
        uint64_t sz3;
        bool sp3;
        char *p4 = write_segment_as(dir, "d.dat", s, 70000, 5000, &sz3, &sp3);
        fault_clear();
        ck_assert(sp3);
        struct buf d = BUF_INIT;
        ck_assert_int_eq(fs_read_file(p4, &d, 1 << 30, NULL), 0);
        ck_assert_uint_eq(d.len, a.len);
        ck_assert(memcmp(a.data, d.data, a.len) == 0);
        ck_assert_uint_eq(bt_count_files(dir), 4);
        unlink(p4);
        buf_release(&d);
        free(p4);
    }
    /* an unfinished spilling writer leaves nothing either */
    char *p3 = xasprintf("%s/u.dat", dir);
    struct segment_writer *w;
    ck_assert_int_eq(segment_writer_open(p3, s, &w, &e), 0);
    segment_writer_set_mem_limit(w, 1);
    struct column_batch bb;
    bt_batch(&bb, s, 0, 30000, 1);
    ck_assert_int_eq(segment_writer_add(w, &bb, 0, bb.nrows, &e), 0);
    ck_assert(segment_writer_spilled(w));
    segment_writer_free(w);
    column_batch_release(&bb);
    ck_assert_uint_eq(bt_count_files(dir), 3);
    buf_release(&a);
    buf_release(&b);
    buf_release(&c);
    bt_rows_free(&got);
    bt_rows_free(&want);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(p0);
    free(p1);
    free(p2);
    free(p3);
    free(dir);
}
END_TEST

/*
 * Rewrites a column-major segment block-major (the layout of earlier
 * builds): pages reordered, footer offsets and crcs patched.
 */
static void rewrite_block_major(const char *path, uint64_t size)
{
    struct segment_reader *rd = open_reader(path);
    int nc = segment_reader_schema(rd)->ncols;
    uint32_t nb = segment_reader_blocks(rd);
    struct io_range *pg = xcalloc((size_t)nb * (size_t)nc, sizeof(*pg));
    for (uint32_t b = 0; b < nb; b++)
        for (int c = 0; c < nc; c++)
            pg[(size_t)b * (size_t)nc + (size_t)c] = page_range(rd, c, b);
    const struct schema *sc = segment_reader_schema(rd);
    enum col_type types[SCHEMA_MAX_COLS];
    for (int c = 0; c < nc; c++)
        types[c] = sc->cols[c].type;
    segment_reader_free(rd);
    struct buf f = BUF_INIT, out = BUF_INIT;
    ck_assert_int_eq(fs_read_file(path, &f, 1 << 30, NULL), 0);
    uint8_t *d = (uint8_t *)f.data;
    uint64_t foff = get_u64le(d + size - 32);
    uint64_t *newoff = xcalloc((size_t)nb * (size_t)nc, sizeof(*newoff));
    for (size_t i = 0; i < (size_t)nb * (size_t)nc; i++) {
        newoff[i] = out.len;
        buf_append(&out, d + pg[i].off, pg[i].len);
    }
    ck_assert_uint_eq(out.len, foff);
    /* walk the footer to each page entry's offset field */
    uint8_t *ft = d + foff;
    size_t pos = 4 + 1 + 4;
    for (int c = 0; c < nc; c++)
        pos += 1 + 1 + 4 + get_u32le(ft + pos + 2);
    pos += 8 + 4;
    for (uint32_t b = 0; b < nb; b++) {
        pos += 4;
        for (int c = 0; c < nc; c++) {
            ck_assert_uint_eq(get_u64le(ft + pos), pg[(size_t)b * (size_t)nc + (size_t)c].off);
            put_u64le(ft + pos, newoff[(size_t)b * (size_t)nc + (size_t)c]);
            pos += 8 + 4 + 4 + 4 + 4 + 1;
            bool mm = ft[pos++] != 0;
            if (mm && types[c] == COL_STRING) {
                pos += 4 + get_u32le(ft + pos);
                pos += 4 + get_u32le(ft + pos);
            } else if (mm) {
                pos += 16;
            }
        }
    }
    uint8_t *t = d + size - 32;
    ck_assert_uint_eq(foff + pos, size - 32);
    put_u32le(t + 12, crc32c(0, ft, pos));
    put_u32le(t + 20, crc32c(crc32c(0, t, 20), t + 24, 8));
    buf_append(&out, ft, size - foff);
    ck_assert_int_eq(fs_write_atomic(path, out.data, out.len, NULL), 0);
    buf_release(&f);
    buf_release(&out);
    free(pg);
    free(newoff);
}

/* segments in the block-major layout of earlier builds read the same */
START_TEST(block_major_still_read)
{
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    uint64_t size;
    char *path = write_segment(dir, s, 40000, &size);
    rewrite_block_major(path, size);
    struct segment_reader *rd = open_reader(path);
    /* now the pages of block 0 are adjacent: one range */
    int all[6] = { 0, 1, 2, 3, 4, 5 };
    uint8_t *mask = xcalloc(segment_reader_blocks(rd), 1);
    mask[0] = 1;
    struct io_range *rg;
    size_t n;
    ck_assert_int_eq(segment_reader_ranges(rd, all, 6, mask, &rg, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(rg[0].off, 0);
    free(rg);
    free(mask);
    segment_reader_free(rd);
    struct bt_rows got = { 0 }, want = { 0 };
    struct err e = { 0 };
    ck_assert_msg(read_all(path, size, &got, &e) == 0, "%s", err_msg(&e));
    bt_expect(&want, s, 0, 40000, 1);
    bt_rows_sort(&want);
    bt_rows_assert_equal(&got, &want);
    bt_rows_free(&got);
    bt_rows_free(&want);
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

START_TEST(writer_faults)
{
    if (!fault_compiled_in())
        return;
    char *dir = test_tmpdir();
    struct schema *s = bt_schema(KEY_DUPLICATE);
    char *path = xasprintf("%s/f.dat", dir);
    struct err e = { 0 };
    const char *specs[] = { "segment.write=error", "segment.finish=error" };
    for (int i = 0; i < 2; i++) {
        fault_clear();
        ck_assert_int_eq(fault_set(specs[i], &e), 0);
        struct segment_writer *w;
        ck_assert_int_eq(segment_writer_open(path, s, &w, &e), 0);
        struct column_batch b;
        bt_batch(&b, s, 0, 20000, 0);
        int r = segment_writer_add(w, &b, 0, b.nrows, &e);
        if (r == 0)
            r = segment_writer_finish(w, NULL, &e);
        ck_assert_int_eq(r, FLOE_EFAULT);
        segment_writer_free(w);
        column_batch_release(&b);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    fault_clear();
    schema_unref(s);
    fs_remove_all(dir, NULL);
    free(path);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("be_segment");
    TCase *tc = tcase_create("segment");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_all_types);
    tcase_add_test(tc, empty_and_all_null);
    tcase_add_test(tc, encodings_round_trip);
    tcase_add_test(tc, corrupt_data_page);
    tcase_add_test(tc, corrupt_footer);
    tcase_add_test(tc, corrupt_trailer_magic);
    tcase_add_test(tc, corrupt_trailer_offset);
    tcase_add_test(tc, corrupt_every_data_byte_sampled);
    tcase_add_test(tc, garbage_and_short_files);
    tcase_add_test(tc, range_coalesce);
    tcase_add_test(tc, writer_faults);
    tcase_add_test(tc, column_major_layout);
    tcase_add_test(tc, spill_same_bytes);
    tcase_add_test(tc, block_major_still_read);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
