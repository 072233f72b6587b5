/* column_batch: growable columnar rows. */
#include "column_batch.h"

#include "csv.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

void column_batch_init(struct column_batch *b, int ncols, const enum col_type *types)
{
    memset(b, 0, sizeof(*b));
    b->ncols = ncols;
    b->cols = xcalloc((size_t)(ncols > 0 ? ncols : 1), sizeof(*b->cols));
    for (int i = 0; i < ncols; i++) {
        b->cols[i].type = types[i];
        buf_init(&b->cols[i].str);
    }
    column_batch_reserve(b, 16);
}

void column_batch_init_schema(struct column_batch *b, const struct schema *s, const int *proj, int nproj)
{
    int n = proj ? nproj : s->ncols;
    enum col_type *types = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*types));
    for (int i = 0; i < n; i++)
        types[i] = s->cols[proj ? proj[i] : i].type;
    column_batch_init(b, n, types);
    free(types);
}

void column_batch_release(struct column_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncols && b->cols; i++) {
        free(b->cols[i].nulls);
        free(b->cols[i].data);
        free(b->cols[i].offs);
        buf_release(&b->cols[i].str);
    }
    free(b->cols);
    memset(b, 0, sizeof(*b));
}

void column_batch_clear(struct column_batch *b)
{
    for (int i = 0; i < b->ncols; i++) {
        struct column_vec *c = &b->cols[i];
        if (c->nulls)
            memset(c->nulls, 0, b->cap);
        buf_reset(&c->str);
    }
    b->nrows = 0;
}

void column_batch_reserve(struct column_batch *b, size_t rows)
{
    if (rows <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 16;
    while (ncap < rows)
        ncap *= 2;
    for (int i = 0; i < b->ncols; i++) {
        struct column_vec *c = &b->cols[i];
        if (c->type == COL_STRING) {
            c->offs = xrealloc(c->offs, (ncap + 1) * sizeof(uint32_t));
            if (b->cap == 0)
                c->offs[0] = 0;
        } else {
            c->data = xrealloc(c->data, ncap * col_type_width(c->type));
        }
        if (c->nulls) {
            c->nulls = xrealloc(c->nulls, ncap);
            memset(c->nulls + b->cap, 0, ncap - b->cap);
        }
    }
    b->cap = ncap;
}

static void ensure_row(struct column_batch *b)
{
    if (b->nrows >= b->cap)
        column_batch_reserve(b, b->nrows + 1);
}

void column_batch_put_null(struct column_batch *b, int col)
{
    ensure_row(b);
    struct column_vec *c = &b->cols[col];
    if (!c->nulls)
        c->nulls = xcalloc(b->cap, 1);
    c->nulls[b->nrows] = 1;
    if (c->type == COL_STRING)
        c->offs[b->nrows + 1] = (uint32_t)c->str.len;
    else
        memset((char *)c->data + b->nrows * col_type_width(c->type), 0, col_type_width(c->type));
}

void column_batch_put_i32(struct column_batch *b, int col, int32_t v)
{
    ensure_row(b);
    ((int32_t *)b->cols[col].data)[b->nrows] = v;
}

void column_batch_put_i64(struct column_batch *b, int col, int64_t v)
{
    ensure_row(b);
    ((int64_t *)b->cols[col].data)[b->nrows] = v;
}

void column_batch_put_f64(struct column_batch *b, int col, double v)
{
    ensure_row(b);
    ((double *)b->cols[col].data)[b->nrows] = v;
}

void column_batch_put_bool(struct column_batch *b, int col, bool v)
{
    ensure_row(b);
    ((uint8_t *)b->cols[col].data)[b->nrows] = v ? 1 : 0;
}

void column_batch_put_str(struct column_batch *b, int col, const char *s, size_t len)
{
    ensure_row(b);
    struct column_vec *c = &b->cols[col];
    buf_append(&c->str, s, len);
    c->offs[b->nrows + 1] = (uint32_t)c->str.len;
}

void column_batch_end_row(struct column_batch *b)
{
    ensure_row(b);
    b->nrows++;
}

void column_batch_append_rows(struct column_batch *dst, const struct column_batch *src, size_t from, size_t n)
{
    if (n == 0)
        return;
    column_batch_reserve(dst, dst->nrows + n);
    for (int i = 0; i < dst->ncols; i++) {
        struct column_vec *d = &dst->cols[i];
        const struct column_vec *s = &src->cols[i];
        if (s->nulls) {
            if (!d->nulls)
                d->nulls = xcalloc(dst->cap, 1);
            memcpy(d->nulls + dst->nrows, s->nulls + from, n);
        }
        if (d->type == COL_STRING) {
            uint32_t base = s->offs[from];
            uint32_t dbase = (uint32_t)d->str.len;
            buf_append(&d->str, buf_cstr(&s->str) + base, s->offs[from + n] - base);
            for (size_t k = 0; k < n; k++)
                d->offs[dst->nrows + k + 1] = dbase + (s->offs[from + k + 1] - base);
        } else {
            size_t w = col_type_width(d->type);
            memcpy((char *)d->data + dst->nrows * w, (const char *)s->data + from * w, n * w);
        }
    }
    dst->nrows += n;
}

void column_batch_append_row(struct column_batch *dst, const struct column_batch *src, size_t row)
{
    column_batch_append_rows(dst, src, row, 1);
}

int64_t column_vec_int(const struct column_vec *c, size_t row)
{
    switch (c->type) {
    case COL_INT32: return ((const int32_t *)c->data)[row];
    case COL_BOOL: return ((const uint8_t *)c->data)[row];
    default: return ((const int64_t *)c->data)[row];
    }
}

int column_batch_check(const struct column_batch *b, const struct schema *s, struct err *e)
{
    if (b->ncols != s->ncols)
        return err_set(e, FLOE_EBADINPUT, "batch has %d columns, the tablet schema has %d", b->ncols, s->ncols);
    for (int i = 0; i < s->ncols; i++) {
        const struct column_vec *c = &b->cols[i];
        if (c->type != s->cols[i].type)
            return err_set(e, FLOE_EBADINPUT, "column '%s': batch type %s, schema type %s", s->cols[i].name,
                           col_type_name(c->type), col_type_name(s->cols[i].type));
        if (!s->cols[i].nullable && c->nulls) {
            for (size_t r = 0; r < b->nrows; r++)
                if (c->nulls[r])
                    return err_set(e, FLOE_EBADINPUT, "column '%s' row %zu: null in a non-nullable column",
                                   s->cols[i].name, r);
        }
        if (c->type == COL_BOOL) {
            for (size_t r = 0; r < b->nrows; r++)
                if (((const uint8_t *)c->data)[r] > 1)
                    return err_set(e, FLOE_EBADINPUT, "column '%s' row %zu: bool value is not 0 or 1",
                                   s->cols[i].name, r);
        }
    }
    return 0;
}

void column_batch_from_csv(struct column_batch *b, struct csv_batch *cb)
{
    memset(b, 0, sizeof(*b));
    b->ncols = cb->ncols;
    b->nrows = cb->nrows;
    b->cap = cb->cap;
    b->cols = xcalloc((size_t)(cb->ncols > 0 ? cb->ncols : 1), sizeof(*b->cols));
    for (int i = 0; i < cb->ncols; i++) {
        struct csv_column *s = &cb->cols[i];
        struct column_vec *d = &b->cols[i];
        d->type = (enum col_type)s->type;
        d->nulls = s->nulls;
        d->data = s->data;
        d->offs = s->offs;
        d->str = s->str;
        s->nulls = NULL;
        s->data = NULL;
        s->offs = NULL;
        buf_init(&s->str);
    }
    csv_batch_release(cb);
}

void column_vec_gather(struct column_batch *dst, int col, const struct column_vec *src, const uint32_t *rows,
                       size_t n)
{
    struct column_vec *d = &dst->cols[col];
    size_t at = dst->nrows;
    if (src->nulls) {
        if (!d->nulls)
            d->nulls = xcalloc(dst->cap, 1);
        if (rows)
            for (size_t k = 0; k < n; k++)
                d->nulls[at + k] = src->nulls[rows[k]];
        else
            memcpy(d->nulls + at, src->nulls, n);
    } else if (d->nulls) {
        memset(d->nulls + at, 0, n);
    }
    switch (d->type) {
    case COL_STRING: {
        uint32_t off = d->offs[at];
        for (size_t k = 0; k < n; k++) {
            size_t r = rows ? rows[k] : k;
            uint32_t a = src->offs[r], b = src->offs[r + 1];
            buf_append(&d->str, buf_cstr(&src->str) + a, b - a);
            off += b - a;
            d->offs[at + k + 1] = off;
        }
        break;
    }
    case COL_INT32: {
        int32_t *o = (int32_t *)d->data + at;
        const int32_t *s = src->data;
        if (rows)
            for (size_t k = 0; k < n; k++)
                o[k] = s[rows[k]];
        else
            memcpy(o, s, n * 4);
        break;
    }
    case COL_BOOL: {
        uint8_t *o = (uint8_t *)d->data + at;
        const uint8_t *s = src->data;
        if (rows)
            for (size_t k = 0; k < n; k++)
                o[k] = s[rows[k]];
        else
            memcpy(o, s, n);
        break;
    }
    default: {
        uint64_t *o = (uint64_t *)d->data + at;
        const uint64_t *s = src->data;
        if (rows)
            for (size_t k = 0; k < n; k++)
                o[k] = s[rows[k]];
        else
            memcpy(o, s, n * 8);
        break;
    }
    }
}

void column_vec_gather_range(struct column_batch *dst, int col, const struct column_vec *src, size_t from, size_t n)
{
    struct column_vec *d = &dst->cols[col];
    size_t at = dst->nrows;
    if (src->nulls) {
        if (!d->nulls)
            d->nulls = xcalloc(dst->cap, 1);
        memcpy(d->nulls + at, src->nulls + from, n);
    } else if (d->nulls) {
        memset(d->nulls + at, 0, n);
    }
    if (d->type == COL_STRING) {
        uint32_t a = src->offs[from], b = src->offs[from + n];
        uint32_t base = d->offs[at];
        buf_append(&d->str, buf_cstr(&src->str) + a, b - a);
        for (size_t k = 1; k <= n; k++)
            d->offs[at + k] = base + (src->offs[from + k] - a);
    } else {
        size_t w = col_type_width(d->type);
        memcpy((char *)d->data + at * w, (const char *)src->data + from * w, n * w);
    }
}
