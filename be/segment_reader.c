/* segment_reader: trailer and footer validation, page reads and decoding. */
#include "segment_reader.h"

#include "buf.h"
#include "crc32c.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/*
 * The first read of a file's tail: the trailer and, when it is small, the
 * footer. Bytes before the footer are pages of the last column, fetched for
 * nothing when a scan does not read that column, so this stays small; a
 * bigger footer (about 700 K rows of 5 columns and up) takes one more read
 * (of a remote object: one more round trip, so not smaller either).
 */
#define TAIL_READ (32u << 10)

struct page_ref {
    uint64_t off;
    uint32_t clen, rlen, crc;
    uint8_t codec;
    struct zone_map zm;
};

struct segment_reader {
    struct io_source *src;
    struct schema *schema;
    uint64_t nrows;
    uint32_t nblocks;
    uint32_t *block_rows;
    struct page_ref *pages;     /* nblocks * ncols */
    struct buf footer;          /* zone-map strings point into it */
    struct buf cbuf, rbuf;
    ZSTD_DCtx *dctx;
};

struct cursor {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};

static bool need(struct cursor *c, size_t n)
{
    if (c->bad || c->len - c->pos < n) {
        c->bad = true;
        return false;
    }
    return true;
}
static uint8_t rd_u8(struct cursor *c) { return need(c, 1) ? c->p[c->pos++] : 0; }
static uint32_t rd_u32(struct cursor *c)
{
    if (!need(c, 4))
        return 0;
    uint32_t v = get_u32le(c->p + c->pos);
    c->pos += 4;
    return v;
}
static uint64_t rd_u64(struct cursor *c)
{
    if (!need(c, 8))
        return 0;
    uint64_t v = get_u64le(c->p + c->pos);
    c->pos += 8;
    return v;
}
static const char *rd_bytes(struct cursor *c, uint32_t n)
{
    if (!need(c, n))
        return NULL;
    const char *s = (const char *)c->p + c->pos;
    c->pos += n;
    return s;
}

static int parse_footer(struct segment_reader *r, uint64_t footer_off, struct err *e)
{
    const char *name = r->src->name;
    struct cursor c = { (const uint8_t *)r->footer.data, r->footer.len, 0, false };
    uint32_t ver = rd_u32(&c);
    uint8_t model = rd_u8(&c);
    uint32_t ncols = rd_u32(&c);
    if (c.bad || ver != SEGMENT_FORMAT_VERSION || model > KEY_UNIQUE || ncols < 1 || ncols > SCHEMA_MAX_COLS)
        return err_set(e, FLOE_ECORRUPT, "segment %s: footer: bad header (version %u, model %u, %u columns)",
                       name, ver, model, ncols);
    struct column_def *defs = xcalloc(ncols, sizeof(*defs));
    char **names = xcalloc(ncols, sizeof(*names));
    int rc = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        uint8_t t = rd_u8(&c), fl = rd_u8(&c);
        uint32_t nl = rd_u32(&c);
        const char *nm = nl <= SCHEMA_MAX_NAME ? rd_bytes(&c, nl) : NULL;
        if (c.bad || !nm || !col_type_valid(t) || fl > 3) {
            rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: bad column %u", name, i);
            goto out;
        }
        names[i] = xstrndup(nm, nl);
        defs[i].name = names[i];
        defs[i].type = (enum col_type)t;
        defs[i].nullable = fl & 1;
        defs[i].is_key = (fl & 2) != 0;
    }
    struct err se = { 0 };
    if (schema_new(defs, (int)ncols, (enum key_model)model, &r->schema, &se) < 0) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: %s", name, err_msg(&se));
        goto out;
    }
    r->nrows = rd_u64(&c);
    r->nblocks = rd_u32(&c);
    /* each block needs at least 4 + ncols * 26 bytes: bound before allocating */
    if (c.bad || (uint64_t)r->nblocks * (4 + 26ull * ncols) > c.len - c.pos) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: block count %u does not fit", name, r->nblocks);
        goto out;
    }
    r->block_rows = xcalloc(r->nblocks ? r->nblocks : 1, sizeof(uint32_t));
    r->pages = xcalloc((size_t)(r->nblocks ? r->nblocks : 1) * ncols, sizeof(struct page_ref));
    uint64_t total = 0;
    for (uint32_t b = 0; b < r->nblocks; b++) {
        uint32_t br = rd_u32(&c);
        if (c.bad || br == 0 || br > SEGMENT_MAX_BLOCK_ROWS) {
            rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: block %u has %u rows", name, b, br);
            goto out;
        }
        r->block_rows[b] = br;
        total += br;
        for (uint32_t k = 0; k < ncols; k++) {
            struct page_ref *p = &r->pages[(size_t)b * ncols + k];
            p->off = rd_u64(&c);
            p->clen = rd_u32(&c);
            p->rlen = rd_u32(&c);
            p->crc = rd_u32(&c);
            p->zm.null_count = rd_u32(&c);
            p->codec = rd_u8(&c);
            p->zm.nrows = br;
            p->zm.has_minmax = rd_u8(&c) != 0;
            if (p->zm.has_minmax) {
                if (defs[k].type == COL_STRING) {
                    p->zm.sminlen = rd_u32(&c);
                    p->zm.smin = rd_bytes(&c, p->zm.sminlen);
                    p->zm.smaxlen = rd_u32(&c);
                    p->zm.smax = rd_bytes(&c, p->zm.smaxlen);
                } else if (defs[k].type == COL_DOUBLE) {
                    uint64_t a = rd_u64(&c), bb = rd_u64(&c);
                    memcpy(&p->zm.dmin, &a, 8);
                    memcpy(&p->zm.dmax, &bb, 8);
                } else {
                    p->zm.imin = (int64_t)rd_u64(&c);
                    p->zm.imax = (int64_t)rd_u64(&c);
                }
            }
            if (c.bad || p->off > footer_off || p->clen > footer_off - p->off || p->rlen > SEGMENT_MAX_PAGE_RAW ||
                p->zm.null_count > br || (p->zm.null_count && !defs[k].nullable) || p->codec > SEGMENT_CODEC_ZSTD ||
                (p->codec == SEGMENT_CODEC_NONE && p->clen != p->rlen)) {
                rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: bad index entry for block %u column '%s'",
                             name, b, defs[k].name);
                goto out;
            }
        }
    }
    if (c.pos != c.len || total != r->nrows) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: %llu rows in blocks, %llu declared", name,
                     (unsigned long long)total, (unsigned long long)r->nrows);
        goto out;
    }
out:
    for (uint32_t i = 0; i < ncols; i++)
        free(names[i]);
    free(names);
    free(defs);
    return rc;
}

int segment_reader_open(struct io_source *src, struct segment_reader **ret, struct err *e)
{
    *ret = NULL;
    struct segment_reader *r = xcalloc(1, sizeof(*r));
    r->src = src;
    int rc = 0;
    const char *name = src->name;
    if (src->size < SEGMENT_TRAILER_SIZE) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: %llu bytes, too short for a trailer", name,
                     (unsigned long long)src->size);
        goto out;
    }
    uint64_t tail = src->size < TAIL_READ ? src->size : TAIL_READ;
    struct buf tb = BUF_INIT;
    buf_grow(&tb, tail);
    if ((rc = io_source_read_at(src, src->size - tail, tail, tb.data, e)) < 0) {
        buf_release(&tb);
        goto out;
    }
    buf_setlen(&tb, tail);
    const uint8_t *t = (const uint8_t *)tb.data + tail - SEGMENT_TRAILER_SIZE;
    uint64_t footer_off = get_u64le(t);
    uint32_t footer_len = get_u32le(t + 8), fcrc = get_u32le(t + 12), ver = get_u32le(t + 16);
    uint32_t tcrc = get_u32le(t + 20);
    uint64_t magic = get_u64le(t + 24);
    if (magic != SEGMENT_MAGIC) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: trailer: bad magic (not a floe segment)", name);
    } else if (crc32c(crc32c(0, t, 20), t + 24, 8) != tcrc) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: trailer: checksum mismatch", name);
    } else if (ver != SEGMENT_FORMAT_VERSION) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: trailer: format version %u, this build reads %u", name, ver,
                     SEGMENT_FORMAT_VERSION);
    } else if (footer_len > SEGMENT_MAX_FOOTER || footer_off > src->size - SEGMENT_TRAILER_SIZE ||
               footer_len != src->size - SEGMENT_TRAILER_SIZE - footer_off) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: trailer: footer at %llu length %u does not fit the file",
                     name, (unsigned long long)footer_off, footer_len);
    }
    if (rc < 0) {
        buf_release(&tb);
        goto out;
    }
    if (footer_len + SEGMENT_TRAILER_SIZE <= tail) {
        buf_append(&r->footer, tb.data + tail - SEGMENT_TRAILER_SIZE - footer_len, footer_len);
        buf_release(&tb);
    } else {
        buf_release(&tb);
        buf_grow(&r->footer, footer_len);
        if ((rc = io_source_read_at(src, footer_off, footer_len, r->footer.data, e)) < 0)
            goto out;
        buf_setlen(&r->footer, footer_len);
    }
    if (crc32c(0, r->footer.data, r->footer.len) != fcrc) {
        rc = err_set(e, FLOE_ECORRUPT, "segment %s: footer: checksum mismatch", name);
        goto out;
    }
    if ((rc = parse_footer(r, footer_off, e)) < 0)
        goto out;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx)
        rc = err_set(e, FLOE_EINTERNAL, "segment %s: cannot create a zstd context", name);
out:
    if (rc < 0) {
        if (rc == FLOE_ECORRUPT)
            io_source_damaged(src);
        segment_reader_free(r);
        return rc;
    }
    *ret = r;
    return 0;
}

void segment_reader_free(struct segment_reader *r)
{
    if (!r)
        return;
    io_source_close(r->src);
    schema_unref(r->schema);
    free(r->block_rows);
    free(r->pages);
    buf_release(&r->footer);
    buf_release(&r->cbuf);
    buf_release(&r->rbuf);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

const struct schema *segment_reader_schema(const struct segment_reader *r) { return r->schema; }
uint64_t segment_reader_rows(const struct segment_reader *r) { return r->nrows; }
uint32_t segment_reader_blocks(const struct segment_reader *r) { return r->nblocks; }
uint32_t segment_reader_block_rows(const struct segment_reader *r, uint32_t b) { return r->block_rows[b]; }

const struct zone_map *segment_reader_zone(const struct segment_reader *r, uint32_t block, int col)
{
    return &r->pages[(size_t)block * (size_t)r->schema->ncols + (size_t)col].zm;
}

static int decode_page(struct segment_reader *r, uint32_t block, int col, const uint8_t *raw, size_t rlen,
                       struct column_batch *out, int oc, struct err *e)
{
    const char *cname = r->schema->cols[col].name;
    size_t n = r->block_rows[block];
    struct column_vec *v = &out->cols[oc];
    size_t pos = 1;
    if (rlen < 1)
        goto bad;
    uint8_t flags = raw[0];
    if (flags & ~(SEGMENT_PAGE_HAS_NULLS | SEGMENT_PAGE_FOR))
        goto bad;
    if (flags & SEGMENT_PAGE_HAS_NULLS) {
        size_t nb = (n + 7) / 8;
        if (rlen < pos + nb)
            goto bad;
        if (!v->nulls)
            v->nulls = xcalloc(out->cap, 1);
        for (size_t i = 0; i < n; i++)
            v->nulls[i] = (raw[pos + (i >> 3)] >> (i & 7)) & 1;
        pos += nb;
    } else if (v->nulls) {
        memset(v->nulls, 0, n);
    }
    if (v->type == COL_STRING) {
        if (rlen - pos < 4 * (n + 1))
            goto bad;
        const uint8_t *offs = raw + pos;
        pos += 4 * (n + 1);
        uint32_t prev = 0;
        if (get_u32le(offs) != 0)
            goto bad;
        for (size_t i = 1; i <= n; i++) {
            uint32_t o = get_u32le(offs + 4 * i);
            if (o < prev)
                goto bad;
            v->offs[i] = o;
            prev = o;
        }
        if (rlen - pos != prev)
            goto bad;
        buf_reset(&v->str);
        buf_append(&v->str, raw + pos, prev);
    } else if (flags & SEGMENT_PAGE_FOR) {
        if (v->type == COL_BOOL || rlen - pos < 10)
            goto bad;
        unsigned exp = raw[pos], w = raw[pos + 1];
        uint64_t base = get_u64le(raw + pos + 2);
        pos += 10;
        if (w > SEGMENT_FOR_MAX_WIDTH || exp > 6 || (exp && v->type != COL_DOUBLE) || rlen - pos != (n * w + 7) / 8)
            goto bad;
        const uint8_t *in = raw + pos; /* the caller guarantees 8 readable bytes past rlen */
        uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
        static const double p10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
        double p = p10[exp];
        for (size_t i = 0; i < n; i++) {
            size_t bit = i * w;
            uint64_t word;
            memcpy(&word, in + (bit >> 3), 8);
            uint64_t x = base + ((word >> (bit & 7)) & mask);
            switch (v->type) {
            case COL_INT32: ((int32_t *)v->data)[i] = (int32_t)(int64_t)x; break;
            case COL_DOUBLE: ((double *)v->data)[i] = (double)(int64_t)x / p; break;
            default: ((int64_t *)v->data)[i] = (int64_t)x; break;
            }
        }
        if (flags & SEGMENT_PAGE_HAS_NULLS) {
            size_t wd = col_type_width(v->type);
            for (size_t i = 0; i < n; i++)
                if (v->nulls[i])
                    memset((char *)v->data + i * wd, 0, wd);
        }
    } else {
        size_t w = col_type_width(v->type);
        if (rlen - pos != n * w)
            goto bad;
        memcpy(v->data, raw + pos, n * w);
        if (v->type == COL_BOOL)
            for (size_t i = 0; i < n; i++)
                if (((uint8_t *)v->data)[i] > 1)
                    goto bad;
    }
    return 0;
bad:
    return err_set(e, FLOE_ECORRUPT, "segment %s: page of block %u column '%s': malformed content",
                   r->src->name, block, cname);
}

static int read_block(struct segment_reader *r, uint32_t block, const int *cols, int ncols,
                      struct column_batch *out, struct err *e);

int segment_reader_read_block(struct segment_reader *r, uint32_t block, const int *cols, int ncols,
                              struct column_batch *out, struct err *e)
{
    int rc = read_block(r, block, cols, ncols, out, e);
    if (rc == FLOE_ECORRUPT)
        io_source_damaged(r->src);
    return rc;
}

static int read_block(struct segment_reader *r, uint32_t block, const int *cols, int ncols,
                      struct column_batch *out, struct err *e)
{
    if (block >= r->nblocks)
        return err_set(e, FLOE_EINTERNAL, "segment %s: block %u of %u", r->src->name, block, r->nblocks);
    column_batch_clear(out);
    size_t n = r->block_rows[block];
    column_batch_reserve(out, n);
    for (int i = 0; i < ncols; i++) {
        int col = cols[i];
        if (col < 0 || col >= r->schema->ncols || out->cols[i].type != r->schema->cols[col].type)
            return err_set(e, FLOE_EINTERNAL, "segment %s: column %d requested with the wrong type", r->src->name, col);
        const struct page_ref *p = &r->pages[(size_t)block * (size_t)r->schema->ncols + (size_t)col];
        const char *cname = r->schema->cols[col].name;
        buf_reset(&r->cbuf);
        buf_grow(&r->cbuf, (size_t)p->clen + 8);
        memset(r->cbuf.data + p->clen, 0, 8); /* bit unpacking reads up to 8 bytes past the end */
        int rc = io_source_read_at(r->src, p->off, p->clen, r->cbuf.data, e);
        if (rc < 0)
            return rc;
        if (crc32c(0, r->cbuf.data, p->clen) != p->crc)
            return err_set(e, FLOE_ECORRUPT, "segment %s: page of block %u column '%s' at offset %llu: checksum mismatch",
                           r->src->name, block, cname, (unsigned long long)p->off);
        const char *raw = r->cbuf.data;
        if (p->codec == SEGMENT_CODEC_ZSTD) {
            buf_reset(&r->rbuf);
            buf_grow(&r->rbuf, (size_t)p->rlen + 8);
            size_t got = ZSTD_decompressDCtx(r->dctx, r->rbuf.data, p->rlen, r->cbuf.data, p->clen);
            if (ZSTD_isError(got) || got != p->rlen)
                return err_set(e, FLOE_ECORRUPT, "segment %s: page of block %u column '%s': decompression failed",
                               r->src->name, block, cname);
            memset(r->rbuf.data + p->rlen, 0, 8);
            raw = r->rbuf.data;
        }
        if ((rc = decode_page(r, block, col, (const uint8_t *)raw, p->rlen, out, i, e)) < 0)
            return rc;
    }
    out->nrows = n;
    return 0;
}

int segment_reader_ranges(const struct segment_reader *r, const int *cols, int ncols, const uint8_t *mask,
                          struct io_range **ret, size_t *ret_n)
{
    size_t cap = (size_t)r->nblocks * (size_t)(ncols > 0 ? ncols : 1) + 1, n = 0;
    struct io_range *v = xcalloc(cap, sizeof(*v));
    for (uint32_t b = 0; b < r->nblocks; b++) {
        if (mask && !mask[b])
            continue;
        for (int i = 0; i < ncols; i++) {
            const struct page_ref *p = &r->pages[(size_t)b * (size_t)r->schema->ncols + (size_t)cols[i]];
            v[n].off = p->off;
            v[n].len = p->clen;
            n++;
        }
    }
    *ret_n = io_range_coalesce(v, n, 0);
    *ret = v;
    return 0;
}

int segment_reader_prefetch(struct segment_reader *r, const int *cols, int ncols, const uint8_t *mask,
                            struct err *e)
{
    if (!r->src->ops->prefetch)
        return 0;
    struct io_range *v;
    size_t n;
    segment_reader_ranges(r, cols, ncols, mask, &v, &n);
    int rc = io_source_prefetch(r->src, v, n, e);
    free(v);
    return rc;
}
