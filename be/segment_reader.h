/*
 * segment_reader: reads a segment through an io_source.
 *
 * open reads the trailer and footer (one read of the file's tail when the
 * footer is small), checks magic, format version and both checksums, and
 * rebuilds the schema and page index. Then pages are read one column of
 * one block at a time; each page's crc32c and decompressed size are
 * verified before any value is used. Every inconsistency is FLOE_ECORRUPT
 * naming the source and the page; nothing corrupt is ever returned.
 *
 * Remote sources: segment_reader_ranges lists the byte ranges a read of
 * some columns and blocks will touch, coalesced, so a cache can fetch them
 * in few requests; segment_reader_prefetch hands them to the source.
 *
 * Not thread-safe: one reader per scan.
 */
#ifndef FLOE_BE_SEGMENT_READER_H
#define FLOE_BE_SEGMENT_READER_H

#include "column_batch.h"
#include "io_source.h"
#include "schema.h"
#include "segment_format.h"

#include <stdint.h>

struct err;
struct segment_reader;

/* Takes ownership of src (closed by segment_reader_free, also on failure). */
int segment_reader_open(struct io_source *src, struct segment_reader **ret, struct err *e);
void segment_reader_free(struct segment_reader *r);

/* The schema stored in the footer; valid while the reader lives. */
const struct schema *segment_reader_schema(const struct segment_reader *r);
uint64_t segment_reader_rows(const struct segment_reader *r);
uint32_t segment_reader_blocks(const struct segment_reader *r);
uint32_t segment_reader_block_rows(const struct segment_reader *r, uint32_t block);
/* Zone map of one column in one block; valid while the reader lives. */
const struct zone_map *segment_reader_zone(const struct segment_reader *r, uint32_t block, int col);

/*
 * Reads columns cols[0..ncols) of a block into out (cleared first; out's
 * columns must have those columns' types, in that order).
 */
int segment_reader_read_block(struct segment_reader *r, uint32_t block, const int *cols, int ncols,
                              struct column_batch *out, struct err *e);

/*
 * Byte ranges of the pages of cols in the blocks whose mask byte is
 * non-zero (mask NULL = all blocks), sorted and coalesced. *ret is malloc'd.
 */
int segment_reader_ranges(const struct segment_reader *r, const int *cols, int ncols, const uint8_t *mask,
                          struct io_range **ret, size_t *ret_n);
int segment_reader_prefetch(struct segment_reader *r, const int *cols, int ncols, const uint8_t *mask,
                            struct err *e);

#endif
