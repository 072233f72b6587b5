/*
 * segment_format: constants and the zone map shared by the segment writer
 * and reader. The byte layout is documented in docs/segment-format.md.
 *
 *   [column 0's pages]...[column C-1's pages] [footer] [trailer: 32 bytes]
 *
 * Rows are cut into blocks (every column of a block holds the same rows);
 * each column of a block is one page: zstd-compressed, crc32c over the
 * stored bytes, row count, null bitmap, min/max in the footer. The footer
 * gives every page's offset, so readers do not depend on the order of the
 * pages (files written block-major by earlier builds read the same).
 */
#ifndef FLOE_BE_SEGMENT_FORMAT_H
#define FLOE_BE_SEGMENT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#define SEGMENT_MAGIC 0x314745534f454c46ull   /* the bytes "FLOESEG1" */
#define SEGMENT_FORMAT_VERSION 1u
#define SEGMENT_TRAILER_SIZE 32u
#define SEGMENT_PAGE_TARGET (64u << 10)        /* raw bytes per page, about */
#define SEGMENT_MAX_BLOCK_ROWS 65536u
#define SEGMENT_MAX_PAGE_RAW (256u << 20)      /* refuse pages claiming more */
#define SEGMENT_MAX_FOOTER (256u << 20)
#define SEGMENT_WRITER_MEM (16u << 20)         /* pages a writer buffers before spilling */

/* page content flags (first byte of a decoded page) */
#define SEGMENT_PAGE_HAS_NULLS 0x01
#define SEGMENT_PAGE_FOR 0x02        /* values frame-of-reference bit-packed */
#define SEGMENT_FOR_MAX_WIDTH 56

/* how a page's bytes are stored (page index) */
#define SEGMENT_CODEC_NONE 0
#define SEGMENT_CODEC_ZSTD 1

/*
 * Min/max of the non-null values of a page. Integer-like types (int32,
 * int64, bool, timestamp) use i, double uses d, strings use s/slen (borrowed
 * from the reader's footer, valid while the reader is open).
 * has_minmax is false when the page has no non-null value or a NaN.
 */
struct zone_map {
    bool has_minmax;
    uint32_t null_count;
    uint32_t nrows;
    int64_t imin, imax;
    double dmin, dmax;
    const char *smin, *smax;
    uint32_t sminlen, smaxlen;
};

#endif
