/*
 * schema: a tablet's columns and key model.
 *
 * Columns are int32, int64, double, bool, string or timestamp (microseconds
 * since the epoch, UTC), each nullable or not; key columns come first. The
 * duplicate model keeps every row; the unique model keeps, per key, the row
 * of the newest version (and within one rowset the last row written).
 * A schema is immutable once built and reference counted, so versions and
 * scans share it.
 */
#ifndef FLOE_BE_SCHEMA_H
#define FLOE_BE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

enum col_type {
    COL_INT32 = 1,
    COL_INT64 = 2,
    COL_DOUBLE = 3,
    COL_BOOL = 4,
    COL_STRING = 5,
    COL_TIMESTAMP = 6,
};

enum key_model { KEY_DUPLICATE = 0, KEY_UNIQUE = 1 };

#define SCHEMA_MAX_COLS 1024
#define SCHEMA_MAX_NAME 128

struct column_def {
    char *name;
    enum col_type type;
    bool nullable;
    bool is_key;
};

struct schema {
    int refs;            /* atomic */
    int ncols;
    int nkeys;           /* columns [0, nkeys) are the key */
    enum key_model model;
    struct column_def *cols;
};

/* "int32", ... Static string; "?" for an unknown value. */
const char *col_type_name(enum col_type t);
/* 0, or FLOE_EBADINPUT for an unknown name. */
int col_type_parse(const char *s, enum col_type *ret);
/* Bytes per value in memory and on disk for fixed-width types, 0 for string. */
size_t col_type_width(enum col_type t);
bool col_type_valid(int t);

/*
 * Builds a schema (refs = 1) from column definitions, which are copied.
 * Checks: 1..SCHEMA_MAX_COLS columns, unique non-empty names, known types,
 * key columns first and not nullable, at least one key column for the
 * unique model. FLOE_EBADINPUT naming the column otherwise.
 */
int schema_new(const struct column_def *cols, int ncols, enum key_model model,
               struct schema **ret, struct err *e);
struct schema *schema_ref(struct schema *s);
void schema_unref(struct schema *s);
/* Index of a column by name, or -1. */
int schema_find(const struct schema *s, const char *name);
bool schema_equal(const struct schema *a, const struct schema *b);

/* {"model":"unique","columns":[{"name":..,"type":..,"nullable":..,"key":..}]} (new reference) */
json_t *schema_to_json(const struct schema *s);
/* FLOE_ECORRUPT naming ctx on a malformed object. */
int schema_from_json(const json_t *j, struct schema **ret, const char *ctx, struct err *e);

#endif
