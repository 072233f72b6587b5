/*
 * csv: CSV text → typed column batch, used by floectl for loads and by the
 * engine benchmark.
 *
 * Syntax (RFC 4180 with the usual relaxations): fields separated by a
 * delimiter (default ','), records by LF or CRLF; a field may be "quoted",
 * with "" standing for one quote and newlines allowed inside. An unquoted
 * empty field or an unquoted \N is NULL; a quoted empty field is the empty
 * string. Values: int32/int64 decimal with optional sign; double as strtod
 * reads it; bool true/false/t/f/1/0 (any case); timestamp as
 * YYYY-MM-DD[ HH:MM:SS[.ffffff]] (also with 'T', optional trailing 'Z', UTC)
 * or a bare integer of microseconds since the epoch.
 *
 * On any bad input nothing is returned: the batch stays empty and the error
 * names line:column (1-based, line of the record's start) and the column name.
 *
 * Memory layout of the result matches be/column_batch.h, so the engine can
 * take the arrays over without copying: per column one byte per row in nulls
 * (NULL when no null), fixed-width values in data, strings as nrows + 1
 * offsets into str.
 */
#ifndef FLOE_CSV_H
#define FLOE_CSV_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/* Same numbering as the engine's column types. */
enum csv_type {
    CSV_INT32 = 1,
    CSV_INT64 = 2,
    CSV_DOUBLE = 3,
    CSV_BOOL = 4,
    CSV_STRING = 5,
    CSV_TIMESTAMP = 6,
};

struct csv_column {
    int type;           /* enum csv_type */
    uint8_t *nulls;
    void *data;
    uint32_t *offs;
    struct buf str;
};

struct csv_batch {
    int ncols;
    size_t nrows;
    size_t cap;
    struct csv_column *cols;
};

struct csv_options {
    char delim;                 /* 0 = ',' */
    bool header;                /* skip the first record */
    const char *const *names;   /* column names for messages, or NULL */
};

/*
 * Parses len bytes of data into ret (initialised here; release with
 * csv_batch_release). types/nullable have ncols entries. A NULL in a column
 * whose nullable entry is false is an error. 0, or FLOE_EBADINPUT.
 */
int csv_parse(const char *data, size_t len, int ncols, const int *types, const bool *nullable,
              const struct csv_options *opts, struct csv_batch *ret, struct err *e);
void csv_batch_release(struct csv_batch *b);

/* Timestamp text (formats above) → microseconds since the epoch. 0 or FLOE_EBADINPUT. */
int csv_parse_timestamp(const char *s, size_t len, int64_t *ret_us);
/* "YYYY-MM-DD HH:MM:SS.ffffff" (UTC) into out. */
void csv_format_timestamp(int64_t us, char out[40]);

#endif
