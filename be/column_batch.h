/*
 * column_batch: rows in columnar form, the unit that loads write, segments
 * store and scans return.
 *
 * Fixed-width values live in one array per column (int32_t, int64_t, double,
 * uint8_t for bool, int64_t microseconds for timestamp); strings are an
 * offsets array (nrows + 1 entries) into one byte buffer. A column's nulls
 * array has one byte per row (1 = null) and stays NULL while the column has
 * no null; a null row's value slot holds zero (empty string).
 *
 * Building: push one value per column at row b->nrows with the
 * column_batch_put_* calls, then column_batch_end_row(). The batch owns all
 * of its memory; column_batch_release frees it.
 */
#ifndef FLOE_BE_COLUMN_BATCH_H
#define FLOE_BE_COLUMN_BATCH_H

#include "buf.h"
#include "schema.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct csv_batch;

struct column_vec {
    enum col_type type;
    uint8_t *nulls;     /* cap bytes, or NULL when no row is null */
    void *data;         /* cap values (fixed-width types) */
    uint32_t *offs;     /* strings: cap + 1 offsets into str */
    struct buf str;     /* strings: the bytes */
};

struct column_batch {
    int ncols;
    size_t nrows;
    size_t cap;
    struct column_vec *cols;
};

/* Empty batch with the given column types (copied). */
void column_batch_init(struct column_batch *b, int ncols, const enum col_type *types);
/* Empty batch with the schema's types, or only the listed columns (proj may be NULL = all). */
void column_batch_init_schema(struct column_batch *b, const struct schema *s, const int *proj, int nproj);
void column_batch_release(struct column_batch *b);
/* Drops the rows, keeps columns and memory. */
void column_batch_clear(struct column_batch *b);
void column_batch_reserve(struct column_batch *b, size_t rows);

void column_batch_put_null(struct column_batch *b, int col);
void column_batch_put_i32(struct column_batch *b, int col, int32_t v);
/* int64 and timestamp */
void column_batch_put_i64(struct column_batch *b, int col, int64_t v);
void column_batch_put_f64(struct column_batch *b, int col, double v);
void column_batch_put_bool(struct column_batch *b, int col, bool v);
void column_batch_put_str(struct column_batch *b, int col, const char *s, size_t len);
void column_batch_end_row(struct column_batch *b);

/* Appends row `row` of src (same column types, same order) to dst. */
void column_batch_append_row(struct column_batch *dst, const struct column_batch *src, size_t row);
/* Appends rows [from, from + n) of src, column by column. */
void column_batch_append_rows(struct column_batch *dst, const struct column_batch *src, size_t from, size_t n);

static inline bool column_vec_is_null(const struct column_vec *c, size_t row)
{
    return c->nulls && c->nulls[row];
}
static inline int32_t column_vec_i32(const struct column_vec *c, size_t row) { return ((const int32_t *)c->data)[row]; }
static inline int64_t column_vec_i64(const struct column_vec *c, size_t row) { return ((const int64_t *)c->data)[row]; }
static inline double column_vec_f64(const struct column_vec *c, size_t row) { return ((const double *)c->data)[row]; }
static inline bool column_vec_bool(const struct column_vec *c, size_t row) { return ((const uint8_t *)c->data)[row] != 0; }
static inline const char *column_vec_str(const struct column_vec *c, size_t row, size_t *ret_len)
{
    *ret_len = c->offs[row + 1] - c->offs[row];
    return buf_cstr(&c->str) + c->offs[row];
}
/* Integer view of int32/int64/bool/timestamp values (for comparisons). */
int64_t column_vec_int(const struct column_vec *c, size_t row);

/*
 * Checks a batch against a schema: column count and types, no null in a
 * non-nullable column. FLOE_EBADINPUT naming column and row otherwise.
 */
int column_batch_check(const struct column_batch *b, const struct schema *s, struct err *e);

/*
 * Moves the columns of a parsed CSV batch (common/csv.h) into b, which must
 * be released or fresh. The csv batch is left empty. Types map one to one.
 */
void column_batch_from_csv(struct column_batch *b, struct csv_batch *cb);



/*
 * Writes src values at rows[0..n) (rows NULL = rows 0..n-1) into column col
 * of dst at positions dst->nrows .. dst->nrows + n - 1. The caller reserved
 * room and bumps dst->nrows by n after gathering every column.
 */
void column_vec_gather(struct column_batch *dst, int col, const struct column_vec *src, const uint32_t *rows,
                       size_t n);
/* Same for the contiguous rows [from, from + n) of src. */
void column_vec_gather_range(struct column_batch *dst, int col, const struct column_vec *src, size_t from, size_t n);

#endif
