/* segment_writer: block buffering, page encoding, the column-major layout and the footer. */
#include "segment_writer.h"

#include "buf.h"
#include "crc32c.h"
#include "err.h"
#include "fault.h"
#include "fsutil.h"
#include "segment_format.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define WRITE_FLUSH (1u << 20)
#define ZSTD_LEVEL 1

/* A piece of a column's pages parked in the spill file. */
struct spill_chunk {
    uint64_t off, len;
};

/* The stored pages of one column (1..C-1) not yet in the segment file. */
struct col_pages {
    struct buf mem;                 /* pages since the last spill */
    struct spill_chunk *chunks;     /* earlier pages, in order, in the spill file */
    size_t nchunks, cap;
    uint64_t bytes;                 /* all pages of the column so far */
};

struct segment_writer {
    char *path;
    int fd;
    bool finished;
    struct schema *schema;
    struct column_batch cur;     /* the block being filled */
    uint64_t rows;
    uint64_t off;                /* file offset of out's first byte */
    struct buf out;              /* bytes not yet written (column 0's pages, then the rest at finish) */
    struct buf footer_blocks;    /* encoded block index so far */
    size_t *offpos;              /* per page (block-major): where its offset field is in footer_blocks */
    size_t noffpos, offcap;
    uint32_t nblocks;
    struct col_pages *cols;      /* [ncols]; cols[0] unused (column 0 streams to the file) */
    uint64_t buffered;           /* sum of cols[c].mem.len */
    uint64_t mem_limit;
    int spill_fd;                /* -1 until the first spill; unlinked */
    uint64_t spill_off;
    struct buf raw, comp;
    ZSTD_CCtx *cctx;
};

int segment_writer_open(const char *path, struct schema *s, struct segment_writer **ret, struct err *e)
{
    *ret = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_errno(e, errno, "create segment %s", path);
    struct segment_writer *w = xcalloc(1, sizeof(*w));
    w->path = xstrdup(path);
    w->fd = fd;
    w->spill_fd = -1;
    w->mem_limit = SEGMENT_WRITER_MEM;
    w->schema = schema_ref(s);
    w->cols = xcalloc((size_t)s->ncols, sizeof(*w->cols));
    column_batch_init_schema(&w->cur, s, NULL, 0);
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
        segment_writer_free(w);
        return err_set(e, FLOE_EINTERNAL, "segment %s: cannot create a zstd context", path);
    }
    *ret = w;
    return 0;
}

static int flush_out(struct segment_writer *w, struct err *e)
{
    if (w->out.len == 0)
        return 0;
    int r = fs_write_full(w->fd, w->out.data, w->out.len);
    if (r < 0)
        return err_errno(e, -r, "write segment %s", w->path);
    w->off += w->out.len;
    buf_reset(&w->out);
    return 0;
}

static const double pow10_tab[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };

static unsigned bit_width(uint64_t x)
{
    unsigned w = 0;
    while (x) {
        w++;
        x >>= 1;
    }
    return w;
}

/*
 * Frame-of-reference bit packing of a fixed-width page: integers as
 * (value - base) in w bits; doubles that are exact decimals with at most six
 * fractional digits as integers scaled by 10^exp. Writes the flag, header
 * and packed bits and returns true, or returns false to store plain values.
 */
static bool encode_for(const struct column_vec *v, size_t n, const struct zone_map *zm, struct buf *raw)
{
    if (!zm->has_minmax || v->type == COL_BOOL || n == 0)
        return false;
    unsigned exp = 0;
    int64_t base = zm->imin, top = zm->imax;
    if (v->type == COL_DOUBLE) {
        const double *d = v->data;
        if (!(fabs(zm->dmin) < 1e15 && fabs(zm->dmax) < 1e15))
            return false;
        bool found = false;
        for (exp = 0; exp < sizeof(pow10_tab) / sizeof(pow10_tab[0]) && !found; exp++) {
            double p = pow10_tab[exp];
            if (fabs(zm->dmin) * p >= 9e15 || fabs(zm->dmax) * p >= 9e15)
                break;
            found = true;
            base = INT64_MAX;
            top = INT64_MIN;
            for (size_t i = 0; i < n && found; i++) {
                if (column_vec_is_null(v, i))
                    continue;
                int64_t x = llround(d[i] * p);
                double back = (double)x / p;
                if (memcmp(&back, &d[i], 8) != 0)
                    found = false;
                base = x < base ? x : base;
                top = x > top ? x : top;
            }
            if (found)
                break;
        }
        if (!found)
            return false;
    }
    uint64_t range = (uint64_t)top - (uint64_t)base;
    unsigned w = bit_width(range);
    if (w > SEGMENT_FOR_MAX_WIDTH || w >= 8 * col_type_width(v->type))
        return false;
    raw->data[0] |= SEGMENT_PAGE_FOR;
    buf_putc(raw, (char)exp);
    buf_putc(raw, (char)w);
    buf_put_u64le(raw, (uint64_t)base);
    size_t nb = (n * w + 7) / 8;
    buf_grow(raw, nb + 8);
    uint8_t *out = (uint8_t *)raw->data + raw->len;
    memset(out, 0, nb + 8);
    double p = pow10_tab[exp];
    for (size_t i = 0; i < n && w; i++) {
        uint64_t delta = 0;
        if (!column_vec_is_null(v, i)) {
            int64_t x = v->type == COL_DOUBLE ? llround(((const double *)v->data)[i] * p) : column_vec_int(v, i);
            delta = (uint64_t)x - (uint64_t)base;
        }
        size_t bit = i * w;
        uint64_t word;
        memcpy(&word, out + (bit >> 3), 8);
        word |= delta << (bit & 7);
        memcpy(out + (bit >> 3), &word, 8);
    }
    buf_setlen(raw, raw->len + nb);
    return true;
}

/* Encodes column c of the current block into w->raw and its zone map. */
static void encode_page(struct segment_writer *w, int c, struct zone_map *zm)
{
    const struct column_vec *v = &w->cur.cols[c];
    size_t n = w->cur.nrows;
    struct buf *raw = &w->raw;
    buf_reset(raw);
    memset(zm, 0, sizeof(*zm));
    zm->nrows = (uint32_t)n;
    uint32_t nulls = 0;
    if (v->nulls)
        for (size_t i = 0; i < n; i++)
            nulls += v->nulls[i];
    zm->null_count = nulls;
    buf_putc(raw, nulls ? SEGMENT_PAGE_HAS_NULLS : 0);
    if (nulls) {
        size_t nb = (n + 7) / 8;
        buf_grow(raw, nb);
        uint8_t *bm = (uint8_t *)raw->data + raw->len;
        memset(bm, 0, nb);
        for (size_t i = 0; i < n; i++)
            if (v->nulls[i])
                bm[i >> 3] |= (uint8_t)(1u << (i & 7));
        buf_setlen(raw, raw->len + nb);
    }
    bool any = false, nan = false;
    if (v->type == COL_STRING) {
        buf_grow(raw, 4 * (n + 1));
        uint32_t base = v->offs[0];
        for (size_t i = 0; i <= n; i++)
            buf_put_u32le(raw, v->offs[i] - base);
        buf_append(raw, buf_cstr(&v->str) + base, v->offs[n] - base);
        for (size_t i = 0; i < n; i++) {
            if (column_vec_is_null(v, i))
                continue;
            size_t len;
            const char *s = column_vec_str(v, i, &len);
            if (!any) {
                zm->smin = zm->smax = s;
                zm->sminlen = zm->smaxlen = (uint32_t)len;
                any = true;
                continue;
            }
            size_t m = len < zm->sminlen ? len : zm->sminlen;
            int cmp = memcmp(s, zm->smin, m);
            if (cmp < 0 || (cmp == 0 && len < zm->sminlen)) {
                zm->smin = s;
                zm->sminlen = (uint32_t)len;
            }
            m = len < zm->smaxlen ? len : zm->smaxlen;
            cmp = memcmp(s, zm->smax, m);
            if (cmp > 0 || (cmp == 0 && len > zm->smaxlen)) {
                zm->smax = s;
                zm->smaxlen = (uint32_t)len;
            }
        }
        zm->has_minmax = any;
        return;
    }
    if (v->type == COL_DOUBLE) {
        const double *d = v->data;
        for (size_t i = 0; i < n; i++) {
            if (column_vec_is_null(v, i))
                continue;
            if (isnan(d[i])) {
                nan = true;
                continue;
            }
            if (!any) {
                zm->dmin = zm->dmax = d[i];
                any = true;
            } else {
                if (d[i] < zm->dmin) zm->dmin = d[i];
                if (d[i] > zm->dmax) zm->dmax = d[i];
            }
        }
    } else if (v->type == COL_INT64 || v->type == COL_TIMESTAMP) {
        const int64_t *d = v->data;
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            if (v->nulls && v->nulls[i])
                continue;
            mn = d[i] < mn ? d[i] : mn;
            mx = d[i] > mx ? d[i] : mx;
            any = true;
        }
        zm->imin = mn;
        zm->imax = mx;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (column_vec_is_null(v, i))
                continue;
            int64_t x = column_vec_int(v, i);
            if (!any) {
                zm->imin = zm->imax = x;
                any = true;
            } else {
                if (x < zm->imin) zm->imin = x;
                if (x > zm->imax) zm->imax = x;
            }
        }
    }
    zm->has_minmax = any && !nan;
    if (!encode_for(v, n, zm, raw))
        buf_append(raw, v->data, n * col_type_width(v->type));
}


/* An unnamed file next to the segment (nothing to clean up after a crash). */
static int open_spill(struct segment_writer *w, struct err *e)
{
    const char *slash = strrchr(w->path, '/');
    char *dir = slash ? xstrndup(w->path, (size_t)(slash - w->path + (slash == w->path))) : xstrdup(".");
    int fd = FAULT_ON("segment.no_tmpfile") ? -1 : open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    free(dir);
    if (fd < 0) {
        /* no O_TMPFILE here: a named file, unlinked at once */
        char *p = xasprintf("%s.spill", w->path);
        fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            unlink(p);
        free(p);
        if (fd < 0)
            return err_errno(e, errno, "segment %s: create spill file", w->path);
    }
    w->spill_fd = fd;
    return 0;
}

/* Moves the buffered pages of columns 1..C-1 to the spill file. */
static int spill(struct segment_writer *w, struct err *e)
{
    if (w->spill_fd < 0) {
        int r = open_spill(w, e);
        if (r < 0)
            return r;
    }
    for (int c = 1; c < w->schema->ncols; c++) {
        struct col_pages *cp = &w->cols[c];
        if (cp->mem.len == 0)
            continue;
        int r = fs_pwrite_full(w->spill_fd, cp->mem.data, cp->mem.len, (off_t)w->spill_off);
        if (r < 0)
            return err_errno(e, -r, "segment %s: write spill file", w->path);
        if (cp->nchunks == cp->cap) {
            cp->cap = cp->cap ? 2 * cp->cap : 8;
            cp->chunks = xrealloc(cp->chunks, cp->cap * sizeof(*cp->chunks));
        }
        cp->chunks[cp->nchunks++] = (struct spill_chunk){ w->spill_off, cp->mem.len };
        w->spill_off += cp->mem.len;
        buf_reset(&cp->mem);
    }
    w->buffered = 0;
    return 0;
}

/* Appends bytes [off, off + len) of the spill file to the segment (out must be flushed). */
static int copy_spill(struct segment_writer *w, uint64_t off, uint64_t len, struct err *e)
{
    loff_t in = (loff_t)off;
    while (len > 0 && !FAULT_ON("segment.no_copy_range")) {
        ssize_t n = copy_file_range(w->spill_fd, &in, w->fd, NULL, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                return err_errno(e, errno, "segment %s: copy from spill file", w->path);
            break; /* not supported here (or short): copy through memory */
        }
        len -= (uint64_t)n;
        w->off += (uint64_t)n;
    }
    while (len > 0) {
        size_t k = len < WRITE_FLUSH ? (size_t)len : WRITE_FLUSH;
        buf_reset(&w->raw);
        buf_grow(&w->raw, k);
        int r = fs_pread_full(w->spill_fd, w->raw.data, k, (off_t)in);
        if (r < 0)
            return r == FLOE_ECORRUPT ? err_set(e, r, "segment %s: spill file is short", w->path)
                                      : err_errno(e, -r, "segment %s: read spill file", w->path);
        if ((r = fs_write_full(w->fd, w->raw.data, k)) < 0)
            return err_errno(e, -r, "write segment %s", w->path);
        in += (loff_t)k;
        len -= k;
        w->off += k;
    }
    return 0;
}

/*
 * Writes the pages of columns 1..C-1 after column 0's, one column at a
 * time, and turns the footer's page offsets from column-relative into file
 * offsets.
 */
static int write_columns(struct segment_writer *w, struct err *e)
{
    int nc = w->schema->ncols;
    uint64_t *start = xcalloc((size_t)nc, sizeof(*start));
    int r = flush_out(w, e);
    for (int c = 1; c < nc && r == 0; c++) {
        struct col_pages *cp = &w->cols[c];
        start[c] = w->off;
        for (size_t i = 0; i < cp->nchunks && r == 0; i++)
            r = copy_spill(w, cp->chunks[i].off, cp->chunks[i].len, e);
        if (r == 0 && cp->mem.len) {
            if ((r = fs_write_full(w->fd, cp->mem.data, cp->mem.len)) < 0) {
                r = err_errno(e, -r, "write segment %s", w->path);
                break;
            }
            w->off += cp->mem.len;
        }
        if (r == 0 && w->off - start[c] != cp->bytes)
            r = err_set(e, FLOE_EINTERNAL, "segment %s: column %d: %llu bytes written, %llu expected", w->path, c,
                        (unsigned long long)(w->off - start[c]), (unsigned long long)cp->bytes);
    }
    if (r == 0)
        for (size_t i = 0; i < w->noffpos; i++) {
            uint8_t *p = (uint8_t *)w->footer_blocks.data + w->offpos[i];
            put_u64le(p, get_u64le(p) + start[i % (size_t)nc]);
        }
    free(start);
    return r;
}

static int flush_block(struct segment_writer *w, struct err *e)
{
    if (w->cur.nrows == 0)
        return 0;
    int r = FAULT_POINT("segment.write");
    if (r < 0)
        return err_set(e, r, "segment %s: injected write fault", w->path);
    struct buf *fb = &w->footer_blocks;
    buf_put_u32le(fb, (uint32_t)w->cur.nrows);
    for (int c = 0; c < w->schema->ncols; c++) {
        struct zone_map zm;
        encode_page(w, c, &zm);
        size_t bound = ZSTD_compressBound(w->raw.len);
        buf_reset(&w->comp);
        buf_grow(&w->comp, bound);
        size_t clen = ZSTD_compressCCtx(w->cctx, w->comp.data, bound, w->raw.data, w->raw.len, ZSTD_LEVEL);
        if (ZSTD_isError(clen))
            return err_set(e, FLOE_EINTERNAL, "segment %s: zstd: %s", w->path, ZSTD_getErrorName(clen));
        /* keep zstd only when it saves at least an eighth: decoding plain bytes is far cheaper */
        const char *stored = w->comp.data;
        uint8_t codec = SEGMENT_CODEC_ZSTD;
        if (clen >= w->raw.len - w->raw.len / 8) {
            stored = w->raw.data;
            clen = w->raw.len;
            codec = SEGMENT_CODEC_NONE;
        }
        uint32_t crc = crc32c(0, stored, clen);
        /* the offset within the column's run of pages; finish adds where the run starts */
        struct col_pages *cp = &w->cols[c];
        if (w->noffpos == w->offcap) {
            w->offcap = w->offcap ? 2 * w->offcap : 64;
            w->offpos = xrealloc(w->offpos, w->offcap * sizeof(*w->offpos));
        }
        w->offpos[w->noffpos++] = fb->len;
        buf_put_u64le(fb, cp->bytes);
        buf_put_u32le(fb, (uint32_t)clen);
        buf_put_u32le(fb, (uint32_t)w->raw.len);
        buf_put_u32le(fb, crc);
        buf_put_u32le(fb, zm.null_count);
        buf_putc(fb, (char)codec);
        buf_putc(fb, zm.has_minmax ? 1 : 0);
        if (zm.has_minmax) {
            if (w->schema->cols[c].type == COL_STRING) {
                buf_put_u32le(fb, zm.sminlen);
                buf_append(fb, zm.smin, zm.sminlen);
                buf_put_u32le(fb, zm.smaxlen);
                buf_append(fb, zm.smax, zm.smaxlen);
            } else if (w->schema->cols[c].type == COL_DOUBLE) {
                uint64_t a, b;
                memcpy(&a, &zm.dmin, 8);
                memcpy(&b, &zm.dmax, 8);
                buf_put_u64le(fb, a);
                buf_put_u64le(fb, b);
            } else {
                buf_put_u64le(fb, (uint64_t)zm.imin);
                buf_put_u64le(fb, (uint64_t)zm.imax);
            }
        }
        if (c == 0) {
            buf_append(&w->out, stored, clen);
        } else {
            buf_append(&cp->mem, stored, clen);
            w->buffered += clen;
        }
        cp->bytes += clen;
    }
    w->nblocks++;
    column_batch_clear(&w->cur);
    if (w->buffered > w->mem_limit && (r = spill(w, e)) < 0)
        return r;
    if (w->out.len >= WRITE_FLUSH)
        return flush_out(w, e);
    return 0;
}

static size_t block_raw_max(const struct column_batch *b)
{
    size_t mx = 0;
    for (int c = 0; c < b->ncols; c++) {
        const struct column_vec *v = &b->cols[c];
        size_t sz = v->type == COL_STRING ? v->str.len + 4 * b->nrows : b->nrows * col_type_width(v->type);
        if (sz > mx)
            mx = sz;
    }
    return mx;
}

int segment_writer_add(struct segment_writer *w, const struct column_batch *b, size_t from, size_t n,
                       struct err *e)
{
    if (w->finished)
        return err_set(e, FLOE_EINTERNAL, "segment %s: add after finish", w->path);
    while (n > 0) {
        size_t chunk = n < 1024 ? n : 1024;
        if (w->cur.nrows + chunk > SEGMENT_MAX_BLOCK_ROWS)
            chunk = SEGMENT_MAX_BLOCK_ROWS - w->cur.nrows;
        column_batch_append_rows(&w->cur, b, from, chunk);
        from += chunk;
        n -= chunk;
        w->rows += chunk;
        if (w->cur.nrows >= SEGMENT_MAX_BLOCK_ROWS || block_raw_max(&w->cur) >= SEGMENT_PAGE_TARGET) {
            int r = flush_block(w, e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

uint64_t segment_writer_rows(const struct segment_writer *w) { return w->rows; }

void segment_writer_set_mem_limit(struct segment_writer *w, uint64_t bytes) { w->mem_limit = bytes; }

bool segment_writer_spilled(const struct segment_writer *w) { return w->spill_fd >= 0 || w->spill_off > 0; }

int segment_writer_finish(struct segment_writer *w, struct segment_stats *ret, struct err *e)
{
    int r = flush_block(w, e);
    if (r < 0)
        return r;
    if ((r = FAULT_POINT("segment.finish")) < 0)
        return err_set(e, r, "segment %s: injected finish fault", w->path);
    if ((r = write_columns(w, e)) < 0)
        return r;
    /* footer */
    uint64_t footer_off = w->off + w->out.len;
    struct buf f = BUF_INIT;
    const struct schema *s = w->schema;
    buf_put_u32le(&f, SEGMENT_FORMAT_VERSION);
    buf_putc(&f, (char)s->model);
    buf_put_u32le(&f, (uint32_t)s->ncols);
    for (int c = 0; c < s->ncols; c++) {
        const struct column_def *cd = &s->cols[c];
        buf_putc(&f, (char)cd->type);
        buf_putc(&f, (char)((cd->nullable ? 1 : 0) | (cd->is_key ? 2 : 0)));
        uint32_t nl = (uint32_t)strlen(cd->name);
        buf_put_u32le(&f, nl);
        buf_append(&f, cd->name, nl);
    }
    buf_put_u64le(&f, w->rows);
    buf_put_u32le(&f, w->nblocks);
    buf_append(&f, w->footer_blocks.data, w->footer_blocks.len);
    uint32_t fcrc = crc32c(0, f.data, f.len);
    uint8_t t[SEGMENT_TRAILER_SIZE];
    put_u64le(t, footer_off);
    put_u32le(t + 8, (uint32_t)f.len);
    put_u32le(t + 12, fcrc);
    put_u32le(t + 16, SEGMENT_FORMAT_VERSION);
    put_u64le(t + 24, SEGMENT_MAGIC);
    uint32_t tcrc = crc32c(crc32c(0, t, 20), t + 24, 8);
    put_u32le(t + 20, tcrc);
    buf_append(&w->out, f.data, f.len);
    buf_append(&w->out, t, sizeof(t));
    buf_release(&f);
    if ((r = flush_out(w, e)) < 0)
        return r;
    if (fsync(w->fd) < 0)
        return err_errno(e, errno, "fsync segment %s", w->path);
    if (w->spill_fd >= 0) {
        close(w->spill_fd);
        w->spill_fd = -1;
    }
    if (close(w->fd) < 0) {
        w->fd = -1;
        return err_errno(e, errno, "close segment %s", w->path);
    }
    w->fd = -1;
    w->finished = true;
    if (ret) {
        ret->size = w->off;
        ret->rows = w->rows;
    }
    return 0;
}

void segment_writer_free(struct segment_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->spill_fd >= 0)
        close(w->spill_fd);
    for (int c = 0; w->cols && c < w->schema->ncols; c++) {
        buf_release(&w->cols[c].mem);
        free(w->cols[c].chunks);
    }
    free(w->cols);
    free(w->offpos);
    if (!w->finished && w->path)
        unlink(w->path);
    free(w->path);
    schema_unref(w->schema);
    column_batch_release(&w->cur);
    buf_release(&w->out);
    buf_release(&w->footer_blocks);
    buf_release(&w->raw);
    buf_release(&w->comp);
    ZSTD_freeCCtx(w->cctx);
    free(w);
}
