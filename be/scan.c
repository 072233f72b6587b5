/* scan: block iteration, zone-map pruning, predicate evaluation and unique-key merge. */
#include "scan.h"

#include "buf.h"
#include "err.h"
#include "segment_reader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct unit {
    struct rowset *rs;
    int seg;
};

/* A set of encoded keys: open addressing over indexes into an arena. */
struct keyset {
    int64_t *slots;      /* -1 empty, else entry index */
    size_t cap, n;
    uint64_t *hash;
    uint64_t *off;
    uint32_t *len;
    size_t ecap;
    struct buf arena;
};

struct scan {
    struct version *v;
    struct schema *schema;
    struct rowset **rowsets;
    size_t nrs;
    struct unit *units;
    size_t nunits, ui;
    struct segment_reader *rd;
    uint32_t nblocks, bi;
    uint8_t *mask;
    bool unique;
    int *proj, nproj;
    int *need, nneed;
    int *pos;                  /* schema column -> index in blk, or -1 */
    struct predicate *preds;
    int npreds;
    bool *prunable;
    int64_t limit, returned;
    size_t batch_rows;
    struct column_batch blk;
    uint8_t *sel;
    uint32_t *rows;
    size_t selcap;
    struct keyset ks;
    struct buf key;
    struct scan_stats st;
    size_t pend_pos, pend_n;   /* selected rows of blk not yet returned */
    bool pend_all;             /* they are rows 0..pend_n-1 in order */
    bool done;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *c = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, c, 8);
        h = (h ^ (k * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        c += 8;
        n -= 8;
    }
    uint64_t k = 0;
    memcpy(&k, c, n);
    h = (h ^ (k * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return h;
}

static void keyset_grow(struct keyset *ks)
{
    size_t ncap = ks->cap ? ks->cap * 2 : 1024;
    int64_t *ns = xmalloc(ncap * sizeof(*ns));
    for (size_t i = 0; i < ncap; i++)
        ns[i] = -1;
    for (size_t i = 0; i < ks->cap; i++) {
        if (ks->slots[i] < 0)
            continue;
        size_t j = ks->hash[ks->slots[i]] & (ncap - 1);
        while (ns[j] >= 0)
            j = (j + 1) & (ncap - 1);
        ns[j] = ks->slots[i];
    }
    free(ks->slots);
    ks->slots = ns;
    ks->cap = ncap;
}

/* Inserts the key; returns true if it was already present. */
static bool keyset_test_and_add(struct keyset *ks, const char *k, size_t n)
{
    if ((ks->n + 1) * 2 > ks->cap)
        keyset_grow(ks);
    uint64_t h = hash_bytes(k, n);
    size_t j = h & (ks->cap - 1);
    while (ks->slots[j] >= 0) {
        int64_t x = ks->slots[j];
        if (ks->hash[x] == h && ks->len[x] == n && memcmp(ks->arena.data + ks->off[x], k, n) == 0)
            return true;
        j = (j + 1) & (ks->cap - 1);
    }
    if (ks->n == ks->ecap) {
        ks->ecap = ks->ecap ? ks->ecap * 2 : 1024;
        ks->hash = xrealloc(ks->hash, ks->ecap * sizeof(*ks->hash));
        ks->off = xrealloc(ks->off, ks->ecap * sizeof(*ks->off));
        ks->len = xrealloc(ks->len, ks->ecap * sizeof(*ks->len));
    }
    ks->hash[ks->n] = h;
    ks->off[ks->n] = ks->arena.len;
    ks->len[ks->n] = (uint32_t)n;
    buf_append(&ks->arena, k, n);
    ks->slots[j] = (int64_t)ks->n++;
    return false;
}

static void keyset_release(struct keyset *ks)
{
    free(ks->slots);
    free(ks->hash);
    free(ks->off);
    free(ks->len);
    buf_release(&ks->arena);
}

static int cmp_str(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* -1/0/1 of (zone bound) vs literal, by type */
static int cmp_lit_min(const struct zone_map *z, enum col_type t, const struct scan_value *v)
{
    if (t == COL_STRING)
        return cmp_str(z->smin, z->sminlen, v->s, v->slen);
    if (t == COL_DOUBLE)
        return z->dmin < v->d ? -1 : z->dmin > v->d;
    return z->imin < v->i ? -1 : z->imin > v->i;
}
static int cmp_lit_max(const struct zone_map *z, enum col_type t, const struct scan_value *v)
{
    if (t == COL_STRING)
        return cmp_str(z->smax, z->smaxlen, v->s, v->slen);
    if (t == COL_DOUBLE)
        return z->dmax < v->d ? -1 : z->dmax > v->d;
    return z->imax < v->i ? -1 : z->imax > v->i;
}

static bool zone_may_match(const struct zone_map *z, enum col_type t, const struct predicate *p)
{
    if (p->op == PRED_IS_NULL)
        return z->null_count > 0;
    if (p->op == PRED_IS_NOT_NULL)
        return z->null_count < z->nrows;
    if (!z->has_minmax)
        return z->null_count < z->nrows; /* all null: no comparison matches; NaN: unknown */
    if (t == COL_DOUBLE && p->op != PRED_IN && isnan(p->v.d))
        return true;
    switch (p->op) {
    case PRED_EQ: return cmp_lit_min(z, t, &p->v) <= 0 && cmp_lit_max(z, t, &p->v) >= 0;
    case PRED_NE: return !(cmp_lit_min(z, t, &p->v) == 0 && cmp_lit_max(z, t, &p->v) == 0);
    case PRED_LT: return cmp_lit_min(z, t, &p->v) < 0;
    case PRED_LE: return cmp_lit_min(z, t, &p->v) <= 0;
    case PRED_GT: return cmp_lit_max(z, t, &p->v) > 0;
    case PRED_GE: return cmp_lit_max(z, t, &p->v) >= 0;
    case PRED_IN:
        for (size_t k = 0; k < p->nin; k++)
            if (cmp_lit_min(z, t, &p->in[k]) <= 0 && cmp_lit_max(z, t, &p->in[k]) >= 0)
                return true;
        return false;
    default: return true;
    }
}

#define CMP_LOOP(arr, x)                                                              \
    switch (p->op) {                                                                  \
    case PRED_EQ: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] == x; break;        \
    case PRED_NE: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] != x; break;        \
    case PRED_LT: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] < x; break;         \
    case PRED_LE: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] <= x; break;        \
    case PRED_GT: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] > x; break;         \
    case PRED_GE: for (size_t i = 0; i < n; i++) sel[i] &= arr[i] >= x; break;        \
    default: break;                                                                   \
    }

static bool str_in(const char *s, size_t n, const struct predicate *p)
{
    for (size_t k = 0; k < p->nin; k++)
        if (p->in[k].slen == n && memcmp(p->in[k].s, s, n) == 0)
            return true;
    return false;
}

static void eval_pred(const struct predicate *p, const struct column_vec *c, uint8_t *sel, size_t n)
{
    if (p->op == PRED_IS_NULL) {
        for (size_t i = 0; i < n; i++)
            sel[i] &= column_vec_is_null(c, i);
        return;
    }
    if (p->op == PRED_IS_NOT_NULL) {
        for (size_t i = 0; i < n; i++)
            sel[i] &= !column_vec_is_null(c, i);
        return;
    }
    if (p->op == PRED_IN) {
        for (size_t i = 0; i < n; i++) {
            if (!sel[i])
                continue;
            bool hit = false;
            if (c->type == COL_STRING) {
                size_t len;
                const char *s = column_vec_str(c, i, &len);
                hit = str_in(s, len, p);
            } else if (c->type == COL_DOUBLE) {
                double d = column_vec_f64(c, i);
                for (size_t k = 0; k < p->nin && !hit; k++)
                    hit = d == p->in[k].d;
            } else {
                int64_t x = column_vec_int(c, i);
                for (size_t k = 0; k < p->nin && !hit; k++)
                    hit = x == p->in[k].i;
            }
            sel[i] = hit;
        }
    } else {
        switch (c->type) {
        case COL_INT64:
        case COL_TIMESTAMP: {
            const int64_t *a = c->data;
            int64_t x = p->v.i;
            CMP_LOOP(a, x);
            break;
        }
        case COL_INT32: {
            const int32_t *a = c->data;
            int64_t x = p->v.i;
            CMP_LOOP((int64_t)a, x);
            break;
        }
        case COL_BOOL: {
            const uint8_t *a = c->data;
            int64_t x = p->v.i;
            CMP_LOOP((int64_t)a, x);
            break;
        }
        case COL_DOUBLE: {
            const double *a = c->data;
            double x = p->v.d;
            CMP_LOOP(a, x);
            break;
        }
        case COL_STRING:
            for (size_t i = 0; i < n; i++) {
                if (!sel[i])
                    continue;
                size_t len;
                const char *s = column_vec_str(c, i, &len);
                int r = cmp_str(s, len, p->v.s, p->v.slen);
                switch (p->op) {
                case PRED_EQ: sel[i] = r == 0; break;
                case PRED_NE: sel[i] = r != 0; break;
                case PRED_LT: sel[i] = r < 0; break;
                case PRED_LE: sel[i] = r <= 0; break;
                case PRED_GT: sel[i] = r > 0; break;
                case PRED_GE: sel[i] = r >= 0; break;
                default: break;
                }
            }
            break;
        }
    }
    if (c->nulls)
        for (size_t i = 0; i < n; i++)
            sel[i] &= !c->nulls[i];
}

static void encode_key(struct scan *s, size_t row, struct buf *k)
{
    buf_reset(k);
    for (int c = 0; c < s->schema->nkeys; c++) {
        const struct column_vec *v = &s->blk.cols[s->pos[c]];
        if (v->type == COL_STRING) {
            size_t len;
            const char *p = column_vec_str(v, row, &len);
            buf_put_u32le(k, (uint32_t)len);
            buf_append(k, p, len);
        } else if (v->type == COL_DOUBLE) {
            double d = column_vec_f64(v, row);
            if (d == 0)
                d = 0; /* -0.0 and 0.0 are one key */
            buf_append(k, &d, 8);
        } else {
            buf_put_u64le(k, (uint64_t)column_vec_int(v, row));
        }
    }
}

void scan_free(struct scan *s)
{
    if (!s)
        return;
    segment_reader_free(s->rd);
    version_unref(s->v);
    for (size_t i = 0; i < s->nrs; i++)
        rowset_unref(s->rowsets[i]);
    free(s->rowsets);
    schema_unref(s->schema);
    free(s->units);
    free(s->mask);
    free(s->proj);
    free(s->need);
    free(s->pos);
    free(s->preds);
    free(s->prunable);
    column_batch_release(&s->blk);
    free(s->sel);
    free(s->rows);
    keyset_release(&s->ks);
    buf_release(&s->key);
    free(s);
}

static int scan_setup(struct scan *s, const struct scan_opts *o, struct err *e)
{
    const struct schema *sc = s->schema;
    s->unique = sc->model == KEY_UNIQUE;
    s->limit = o->limit;
    s->batch_rows = o->batch_rows ? o->batch_rows : 4096;
    s->nproj = o->proj ? o->nproj : sc->ncols;
    if (s->nproj < 0 || s->nproj > SCHEMA_MAX_COLS)
        return err_set(e, FLOE_EBADINPUT, "scan: %d projected columns", s->nproj);
    s->proj = xcalloc((size_t)s->nproj + 1, sizeof(int));
    for (int i = 0; i < s->nproj; i++) {
        int c = o->proj ? o->proj[i] : i;
        if (c < 0 || c >= sc->ncols)
            return err_set(e, FLOE_EBADINPUT, "scan: projected column %d does not exist (tablet has %d columns)", c,
                           sc->ncols);
        s->proj[i] = c;
    }
    if (o->npreds < 0 || (o->npreds > 0 && !o->preds))
        return err_set(e, FLOE_EBADINPUT, "scan: bad predicate list");
    s->npreds = o->npreds;
    s->preds = xcalloc((size_t)s->npreds + 1, sizeof(*s->preds));
    s->prunable = xcalloc((size_t)s->npreds + 1, sizeof(bool));
    bool *needed = xcalloc((size_t)sc->ncols, sizeof(bool));
    for (int i = 0; i < s->npreds; i++) {
        const struct predicate *p = &o->preds[i];
        if (p->col < 0 || p->col >= sc->ncols || (int)p->op < PRED_EQ || p->op > PRED_IN ||
            (p->op == PRED_IN && p->nin > 0 && !p->in)) {
            free(needed);
            return err_set(e, FLOE_EBADINPUT, "scan: predicate %d: bad column %d or operator %d", i, p->col, (int)p->op);
        }
        if (sc->cols[p->col].type == COL_STRING && p->op <= PRED_GE && !p->v.s && p->v.slen) {
            free(needed);
            return err_set(e, FLOE_EBADINPUT, "scan: predicate %d: string literal missing", i);
        }
        s->preds[i] = *p;
        s->prunable[i] = !s->unique || p->col < sc->nkeys;
        needed[p->col] = true;
    }
    for (int i = 0; i < s->nproj; i++)
        needed[s->proj[i]] = true;
    if (s->unique)
        for (int c = 0; c < sc->nkeys; c++)
            needed[c] = true;
    s->need = xcalloc((size_t)sc->ncols, sizeof(int));
    s->pos = xcalloc((size_t)sc->ncols, sizeof(int));
    for (int c = 0; c < sc->ncols; c++) {
        s->pos[c] = -1;
        if (needed[c]) {
            s->pos[c] = s->nneed;
            s->need[s->nneed++] = c;
        }
    }
    free(needed);
    column_batch_init_schema(&s->blk, sc, s->need, s->nneed);
    /* units: oldest first, or newest first for the unique merge */
    size_t nu = 0;
    for (size_t i = 0; i < s->nrs; i++)
        nu += (size_t)s->rowsets[i]->nsegs;
    s->units = xcalloc(nu + 1, sizeof(*s->units));
    for (size_t i = 0; i < s->nrs; i++)
        for (int k = 0; k < s->rowsets[i]->nsegs; k++)
            s->units[s->nunits++] = (struct unit){ s->rowsets[i], k };
    if (s->unique)
        for (size_t i = 0; i < s->nunits / 2; i++) {
            struct unit t = s->units[i];
            s->units[i] = s->units[s->nunits - 1 - i];
            s->units[s->nunits - 1 - i] = t;
        }
    if (s->limit == 0)
        s->done = true;
    return 0;
}

int scan_open_rowsets(struct schema *schema, struct rowset *const *rs, size_t n, const struct scan_opts *o,
                      struct scan **ret, struct err *e)
{
    *ret = NULL;
    struct scan *s = xcalloc(1, sizeof(*s));
    s->schema = schema_ref(schema);
    s->rowsets = xcalloc(n + 1, sizeof(*s->rowsets));
    for (size_t i = 0; i < n; i++)
        s->rowsets[s->nrs++] = rowset_ref(rs[i]);
    int r = scan_setup(s, o, e);
    if (r < 0) {
        scan_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

int scan_open(struct version *v, const struct scan_opts *o, struct scan **ret, struct err *e)
{
    *ret = NULL;
    int64_t at = o->version < 0 ? v->max_version : o->version;
    int r;
    if (at == v->max_version) {
        r = scan_open_rowsets(v->schema, v->rowsets, v->nrowsets, o, ret, e);
    } else {
        /* an older version: current rowsets up to it, or stale ones compaction merged away */
        struct rowset **rs;
        size_t n;
        if ((r = version_pick_rowsets(v, at, &rs, &n, e)) < 0)
            return r;
        r = scan_open_rowsets(v->schema, rs, n, o, ret, e);
        free(rs);
    }
    if (r == 0)
        (*ret)->v = version_ref(v);
    return r;
}

void scan_init_batch(const struct scan *s, struct column_batch *out)
{
    column_batch_init_schema(out, s->schema, s->proj, s->nproj);
}

void scan_get_stats(const struct scan *s, struct scan_stats *ret) { *ret = s->st; }

static int open_unit(struct scan *s, struct err *e)
{
    const struct unit *u = &s->units[s->ui];
    struct io_source *src;
    int r = rowset_open_segment(u->rs, u->seg, &src, e);
    if (r < 0)
        return r;
    if ((r = segment_reader_open(src, &s->rd, e)) < 0)
        return r;
    const struct schema *fs = segment_reader_schema(s->rd);
    if (fs->ncols != s->schema->ncols)
        return err_set(e, FLOE_ECORRUPT, "segment %d of rowset %s: %d columns, the tablet has %d", u->seg, u->rs->id,
                       fs->ncols, s->schema->ncols);
    for (int c = 0; c < fs->ncols; c++)
        if (fs->cols[c].type != s->schema->cols[c].type)
            return err_set(e, FLOE_ECORRUPT, "segment %d of rowset %s: column %d has type %s, expected %s", u->seg,
                           u->rs->id, c, col_type_name(fs->cols[c].type), col_type_name(s->schema->cols[c].type));
    s->st.segments++;
    s->nblocks = segment_reader_blocks(s->rd);
    s->bi = 0;
    free(s->mask);
    s->mask = xcalloc(s->nblocks + 1, 1);
    for (uint32_t b = 0; b < s->nblocks; b++) {
        bool ok = true;
        for (int i = 0; i < s->npreds && ok; i++) {
            if (!s->prunable[i])
                continue;
            const struct predicate *p = &s->preds[i];
            ok = zone_may_match(segment_reader_zone(s->rd, b, p->col), s->schema->cols[p->col].type, p);
        }
        s->mask[b] = ok;
        s->st.blocks_total++;
        s->st.blocks_pruned += !ok;
    }
    return segment_reader_prefetch(s->rd, s->need, s->nneed, s->mask, e);
}

static void ensure_sel(struct scan *s, size_t n)
{
    if (n <= s->selcap)
        return;
    s->selcap = n;
    s->sel = xrealloc(s->sel, n);
    s->rows = xrealloc(s->rows, n * sizeof(uint32_t));
}

/* Moves up to batch_rows - out->nrows pending rows of the current block into out. */
static void emit_pending(struct scan *s, struct column_batch *out)
{
    size_t k = s->pend_n - s->pend_pos;
    size_t room = s->batch_rows > out->nrows ? s->batch_rows - out->nrows : 0;
    if (k > room)
        k = room;
    if (k == 0)
        return;
    column_batch_reserve(out, out->nrows + k);
    for (int j = 0; j < s->nproj; j++) {
        const struct column_vec *src = &s->blk.cols[s->pos[s->proj[j]]];
        if (s->pend_all)
            column_vec_gather_range(out, j, src, s->pend_pos, k);
        else
            column_vec_gather(out, j, src, s->rows + s->pend_pos, k);
    }
    out->nrows += k;
    s->pend_pos += k;
    s->returned += (int64_t)k;
    s->st.rows_returned += k;
}

int scan_next(struct scan *s, struct column_batch *out, bool *ret_eof, struct err *e)
{
    column_batch_clear(out);
    *ret_eof = false;
    int r;
    for (;;) {
        emit_pending(s, out);
        if (s->pend_pos < s->pend_n || s->done || out->nrows >= s->batch_rows)
            break;
        if (s->limit >= 0 && s->returned >= s->limit) {
            s->done = true;
            break;
        }
        if (!s->rd) {
            if (s->ui >= s->nunits) {
                s->done = true;
                break;
            }
            if ((r = open_unit(s, e)) < 0)
                return r;
        }
        if (s->bi >= s->nblocks) {
            segment_reader_free(s->rd);
            s->rd = NULL;
            s->ui++;
            continue;
        }
        uint32_t b = s->unique ? s->nblocks - 1 - s->bi : s->bi;
        s->bi++;
        if (!s->mask[b])
            continue;
        if ((r = segment_reader_read_block(s->rd, b, s->need, s->nneed, &s->blk, e)) < 0)
            return r;
        size_t n = s->blk.nrows;
        s->st.rows_read += n;
        if (!s->unique && s->npreds == 0) {
            /* every row of the block qualifies: no selection vector */
            size_t room = s->limit >= 0 ? (size_t)(s->limit - s->returned) : n;
            s->pend_pos = 0;
            s->pend_n = n < room ? n : room;
            s->pend_all = true;
            continue;
        }
        ensure_sel(s, n);
        memset(s->sel, 1, n);
        for (int i = 0; i < s->npreds; i++)
            eval_pred(&s->preds[i], &s->blk.cols[s->pos[s->preds[i].col]], s->sel, n);
        size_t k = 0;
        size_t room = s->limit >= 0 ? (size_t)(s->limit - s->returned) : n;
        if (s->unique) {
            for (size_t i = n; i-- > 0 && k < room;) {
                encode_key(s, i, &s->key);
                if (keyset_test_and_add(&s->ks, s->key.data, s->key.len))
                    continue;
                if (s->sel[i])
                    s->rows[k++] = (uint32_t)i;
            }
        } else {
            for (size_t i = 0; i < n && k < room; i++)
                if (s->sel[i])
                    s->rows[k++] = (uint32_t)i;
        }
        s->pend_pos = 0;
        s->pend_n = k;
        s->pend_all = !s->unique && k == n;
    }
    *ret_eof = s->done && s->pend_pos >= s->pend_n;
    return 0;
}
