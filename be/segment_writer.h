/*
 * segment_writer: writes one immutable segment file from column batches.
 *
 * Rows are buffered into blocks of about SEGMENT_PAGE_TARGET raw bytes per
 * column; every full block is compressed and appended. finish writes the
 * footer and trailer and fsyncs the file (the caller fsyncs the directory
 * when it makes the file part of a rowset). A writer freed before finish
 * removes its partial file. Fault points: "segment.write" (each block),
 * "segment.finish" (before the footer).
 */
#ifndef FLOE_BE_SEGMENT_WRITER_H
#define FLOE_BE_SEGMENT_WRITER_H

#include "column_batch.h"
#include "schema.h"

#include <stdint.h>

struct err;
struct segment_writer;

struct segment_stats {
    uint64_t size;      /* file bytes */
    uint64_t rows;
};

/* Creates path (must not exist). The schema is referenced, not copied. */
int segment_writer_open(const char *path, struct schema *s, struct segment_writer **ret, struct err *e);
/* Appends rows [from, from + n) of b; b must match the schema (column_batch_check). */
int segment_writer_add(struct segment_writer *w, const struct column_batch *b, size_t from, size_t n,
                       struct err *e);
/* Rows added so far. */
uint64_t segment_writer_rows(const struct segment_writer *w);
/* Flushes, writes footer + trailer, fsyncs and closes. */
int segment_writer_finish(struct segment_writer *w, struct segment_stats *ret, struct err *e);
/* Frees; unlinks the file unless finish succeeded. Accepts NULL. */
void segment_writer_free(struct segment_writer *w);

#endif
