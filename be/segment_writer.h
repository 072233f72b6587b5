/*
 * segment_writer: writes one immutable segment file from column batches.
 *
 * Rows are buffered into blocks of about SEGMENT_PAGE_TARGET raw bytes per
 * column; every full block is encoded into one page per column. The file is
 * laid out column-major (all pages of column 0, then of column 1, ...), so
 * the pages of one column are one contiguous byte range: column 0's pages
 * go to the file as they come; the other columns' pages are kept in memory
 * up to SEGMENT_WRITER_MEM bytes in all, then moved to an unnamed spill
 * file next to the segment (O_TMPFILE, or a name unlinked at once), and
 * copied after column 0 at finish (copy_file_range). finish then writes the
 * footer and trailer and fsyncs the file (the caller fsyncs the directory
 * when it makes the file part of a rowset). A writer freed before finish
 * removes its partial file. Fault points: "segment.write" (each block),
 * "segment.finish" (before the other columns and the footer); switches
 * (FAULT_ON) "segment.no_tmpfile" and "segment.no_copy_range" take the
 * fallbacks for systems without O_TMPFILE or copy_file_range.
 */
#ifndef FLOE_BE_SEGMENT_WRITER_H
#define FLOE_BE_SEGMENT_WRITER_H

#include "column_batch.h"
#include "schema.h"

#include <stdbool.h>
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
/* Bound on the buffered pages of columns 1..C-1 (default SEGMENT_WRITER_MEM); for tests. */
void segment_writer_set_mem_limit(struct segment_writer *w, uint64_t bytes);
/* Whether pages went through the spill file; for tests. */
bool segment_writer_spilled(const struct segment_writer *w);
/* Flushes, writes footer + trailer, fsyncs and closes. */
int segment_writer_finish(struct segment_writer *w, struct segment_stats *ret, struct err *e);
/* Frees; unlinks the file unless finish succeeded. Accepts NULL. */
void segment_writer_free(struct segment_writer *w);

#endif
